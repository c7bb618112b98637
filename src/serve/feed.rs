//! The pipeline at broadcast pace: lines go through the real [`Engine`] at `--speed` ×
//! event time, and every batch of windows that closes is published to the [`Hub`] at
//! once, with the race's state.
//!
//! Time comes from tokio's clock and shutdown from a watch channel, both passed in, so
//! that tests run a race on a paused clock and check when each batch went out exactly.

use std::collections::HashMap;
use std::time::Duration;

use burnbar_core::{Engine, FuelUpdate, RaceState};
use indicatif::ProgressBar;
use tokio::sync::watch;
use tokio::time::Instant;

use super::{Hub, viewers, wall_ms};

/// One input line and its event time, when it has one.
#[derive(Debug, Clone)]
pub struct FeedLine {
    pub ts: Option<i64>,
    pub line: Vec<u8>,
}

impl FeedLine {
    /// A line from a file: its `ts` read without decoding the rest (the engine decodes
    /// and validates it properly; a line without a readable `ts` is not waited for).
    pub fn from_bytes(line: Vec<u8>) -> FeedLine {
        #[derive(serde::Deserialize)]
        struct Ts {
            ts: Option<i64>,
        }
        let ts = serde_json::from_slice::<Ts>(&line).ok().and_then(|t| t.ts);
        FeedLine { ts, line }
    }
}

/// A jump in event time larger than this (forwards or backwards) starts a new pace
/// instead of being waited out: the next race of a replay, or a feed that stopped for
/// a long red flag, shows at once.
pub const MAX_GAP_MS: i64 = 60_000;

/// Maps event time to the instant it is due: `speed` × real time from an anchor.
#[derive(Debug, Clone)]
pub struct Pacer {
    speed: f64,
    anchor: Option<(i64, Instant)>,
    last_ts: Option<i64>,
}

impl Pacer {
    /// A pacer at `speed` (must be positive and finite).
    pub fn new(speed: f64) -> Pacer {
        assert!(speed.is_finite() && speed > 0.0, "speed must be positive");
        Pacer {
            speed,
            anchor: None,
            last_ts: None,
        }
    }

    /// When the line of event time `ts` is due; the first line (and one after a jump of
    /// more than [`MAX_GAP_MS`]) is due `now`.
    pub fn due(&mut self, ts: i64, now: Instant) -> Instant {
        let jump = self
            .last_ts
            .is_some_and(|last| (ts - last).abs() > MAX_GAP_MS);
        if self.anchor.is_none() || jump {
            self.anchor = Some((ts, now));
        }
        self.last_ts = Some(ts);
        let (t0, i0) = self.anchor.expect("anchored above");
        if ts <= t0 {
            return i0;
        }
        i0 + Duration::from_secs_f64((ts - t0) as f64 / 1000.0 / self.speed)
    }
}

/// How a feed ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedEnd {
    /// Every line was read and the last windows published.
    Finished,
    /// Shutdown was asked for first.
    Stopped,
}

/// What went out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedStats {
    pub lines: u64,
    pub rejected: u64,
    pub batches: u64,
    pub updates: u64,
    pub states: u64,
}

/// The part of a race state whose change is news on its own (the leader's lap moves
/// every sample; it goes out with the next batch).
fn state_key(s: &RaceState) -> StateKey {
    (
        format!("{:?}", s.flag),
        s.stage,
        s.scheduled_laps,
        s.cars_running,
        s.drivers.len(),
    )
}

/// What a race state last published showed ([`state_key`]).
type StateKey = (String, u32, Option<u32>, u32, usize);

/// The engine at work on a feed: the updates its windows closed and not yet published,
/// when the first of them closed, what each race's last published state showed, and
/// what went out.
struct Feed<'f> {
    engine: &'f mut Engine,
    hub: &'f Hub,
    pending: Vec<FuelUpdate>,
    closed_at: Option<f64>,
    published: HashMap<String, StateKey>,
    stats: FeedStats,
}

impl<'f> Feed<'f> {
    fn new(engine: &'f mut Engine, hub: &'f Hub) -> Self {
        Feed {
            engine,
            hub,
            pending: Vec::new(),
            closed_at: None,
            published: HashMap::new(),
            stats: FeedStats::default(),
        }
    }

    /// One line through the engine; the wall time of the first window it closes is
    /// kept for the batch.
    fn push(&mut self, line: &[u8]) {
        let before = self.pending.len();
        if self.engine.push_line(line, &mut self.pending).is_err() {
            self.stats.rejected += 1;
        }
        self.stats.lines += 1;
        if self.pending.len() > before && self.closed_at.is_none() {
            self.closed_at = Some(wall_ms());
        }
    }

    /// Publishes what is pending: one batch of updates per race, then the state of every
    /// race that had a batch or whose state changed.
    fn flush(&mut self) {
        let with_batch = self.publish_updates();
        let ids: Vec<String> = self.engine.race_ids().map(str::to_owned).collect();
        for id in ids {
            let Some(state) = self.engine.race_state(&id) else {
                continue;
            };
            let key = state_key(&state);
            if with_batch.contains(&id) || self.published.get(&id) != Some(&key) {
                self.hub.publish_race_state(&state);
                self.stats.states += 1;
                self.published.insert(id, key);
            }
        }
        let engine = &*self.engine;
        self.published
            .retain(|id, _| engine.race_ids().any(|r| r == id));
    }

    /// The pending updates, one batch per race: the races that had one.
    fn publish_updates(&mut self) -> Vec<String> {
        let mut with_batch: Vec<String> = Vec::new();
        if self.pending.is_empty() {
            return with_batch;
        }
        let at = self.closed_at.take().unwrap_or_else(wall_ms);
        // Updates of one step are in (window_end, car) order; group by race, keeping it.
        let mut races: Vec<&str> = self.pending.iter().map(|u| u.race_id.as_str()).collect();
        races.dedup();
        races.sort_unstable();
        races.dedup();
        for race in races {
            let batch: Vec<FuelUpdate> = self
                .pending
                .iter()
                .filter(|u| u.race_id == race)
                .cloned()
                .collect();
            self.hub.publish_updates(race, &batch, at);
            self.stats.batches += 1;
            self.stats.updates += batch.len() as u64;
            with_batch.push(race.to_owned());
        }
        self.pending.clear();
        with_batch
    }

    /// The engine's last windows, published.
    fn finish(mut self, progress: &ProgressBar) -> (FeedEnd, FeedStats) {
        self.engine.finish(&mut self.pending);
        self.flush();
        show_progress(self.engine, self.hub, &self.stats, progress);
        (FeedEnd::Finished, self.stats)
    }
}

/// Runs `lines` through `engine` at `speed` × event time, publishing to `hub` as
/// windows close, until the lines end (the last windows are then flushed) or
/// `shutdown` turns true.
pub async fn run(
    lines: impl Iterator<Item = FeedLine>,
    engine: &mut Engine,
    hub: &Hub,
    speed: f64,
    mut shutdown: watch::Receiver<bool>,
    progress: &ProgressBar,
) -> (FeedEnd, FeedStats) {
    let mut feed = Feed::new(engine, hub);
    let mut pacer = Pacer::new(speed);
    let mut since_yield = 0u32;
    let mut last_ts: Option<i64> = None;
    let mut last_progress = Instant::now();
    for l in lines {
        if *shutdown.borrow() {
            return (FeedEnd::Stopped, feed.stats);
        }
        if let Some(ts) = l.ts {
            // A new instant: what the last one closed goes out now, even when the feed
            // runs behind and does not sleep (a batch must not wait for the next one).
            if last_ts != Some(ts) {
                last_ts = Some(ts);
                if !feed.pending.is_empty() {
                    feed.flush();
                }
            }
            let due = pacer.due(ts, Instant::now());
            if due > Instant::now() {
                feed.flush();
                if last_progress.elapsed() >= Duration::from_millis(250) {
                    last_progress = Instant::now();
                    show_progress(feed.engine, hub, &feed.stats, progress);
                }
                if !sleep_or_stop(due, &mut shutdown).await {
                    return (FeedEnd::Stopped, feed.stats);
                }
                since_yield = 0;
            }
        }
        feed.push(&l.line);
        // Running behind (or at a speed no sleep separates): let the server's tasks in.
        since_yield += 1;
        if since_yield >= 2048 {
            since_yield = 0;
            feed.flush();
            tokio::task::yield_now().await;
        }
    }
    feed.finish(progress)
}

/// Sleeps until `due`; `false` when shutdown came first.
async fn sleep_or_stop(due: Instant, shutdown: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep_until(due) => true,
        _ = shutdown.wait_for(|s| *s) => false,
    }
}

fn show_progress(engine: &Engine, hub: &Hub, stats: &FeedStats, progress: &ProgressBar) {
    if progress.is_hidden() {
        return;
    }
    let race = engine
        .race_ids()
        .last()
        .and_then(|id| engine.race_state(id));
    let lap = race.as_ref().map_or(String::from("-"), |s| {
        format!(
            "lap {:.1}/{} {:?} stage {}",
            s.leader_lap,
            s.scheduled_laps.map_or("?".into(), |l| l.to_string()),
            s.flag,
            s.stage
        )
    });
    let dropped = hub
        .pushes_dropped
        .load(std::sync::atomic::Ordering::Relaxed);
    progress.set_message(format!(
        "{lap} · {} updates in {} batches · {} viewer(s){}",
        stats.updates,
        stats.batches,
        viewers(hub),
        if dropped > 0 {
            format!(" · {dropped} pushes dropped for slow viewers")
        } else {
            String::new()
        }
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use burnbar_core::{EngineConfig, ModelParams};
    use burnbar_sim::{SimConfig, Simulation};
    use std::sync::Arc;

    #[test]
    fn the_pacer_maps_event_time_to_speed_times_real_time() {
        let t0 = Instant::now();
        let mut p = Pacer::new(10.0);
        assert_eq!(p.due(1_000_000, t0), t0);
        assert_eq!(p.due(1_005_000, t0), t0 + Duration::from_millis(500));
        // Reordered a little: due at once (never before the anchor).
        assert_eq!(p.due(999_000, t0), t0);
        // A jump of more than a minute starts a new pace from `now`.
        let later = t0 + Duration::from_secs(3);
        assert_eq!(p.due(2_000_000, later), later);
        assert_eq!(p.due(2_001_000, later), later + Duration::from_millis(100));
    }

    fn small_race() -> Simulation {
        let cfg = SimConfig {
            track: "iowa".into(),
            laps: Some(10),
            cars: 4,
            hz: 2,
            ..SimConfig::default()
        };
        Simulation::new(&cfg).unwrap()
    }

    /// On a paused clock each batch goes out exactly when the sample that closes its
    /// windows is due: `(window_end + lateness − first ts) / speed` after the start.
    #[tokio::test(start_paused = true)]
    async fn batches_go_out_when_their_windows_close_at_speed() {
        let speed = 20.0;
        let hub = Arc::new(Hub::new("k").unwrap());
        let mut rx = hub.subscribe();
        let (_tx, shutdown) = watch::channel(false);
        let mut sim = small_race();
        let first = sim.next().unwrap();
        let t0 = first.0;
        let lines = std::iter::once(first)
            .chain(sim)
            .map(|(ts, line)| FeedLine {
                ts: Some(ts),
                line: line.into_bytes(),
            });
        let start = Instant::now();
        let hub2 = hub.clone();
        let recorder = tokio::spawn(async move {
            let mut seen = Vec::new();
            while let Ok(p) = rx.recv().await {
                if p.field == "onUpdates" {
                    let ends: Vec<i64> = p.value["updates"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|u| u["window_end"].as_i64().unwrap())
                        .collect();
                    seen.push((Instant::now() - start, ends));
                }
                if seen.len() >= 20 {
                    break;
                }
            }
            drop(hub2);
            seen
        });
        let mut engine = Engine::new(EngineConfig::default(), ModelParams::default());
        let (end, stats) = run(
            lines,
            &mut engine,
            &hub,
            speed,
            shutdown,
            &ProgressBar::hidden(),
        )
        .await;
        assert_eq!(end, FeedEnd::Finished);
        assert!(stats.updates > 0 && stats.states > 0);
        let seen = recorder.await.unwrap();
        assert_eq!(seen.len(), 20);
        let lateness = EngineConfig::default().lateness_ms;
        for (at, ends) in &seen {
            // One step closes one window per car, all with the same end.
            let end = ends[0];
            assert!(ends.iter().all(|&e| e == end), "{ends:?}");
            let due = Duration::from_secs_f64((end + lateness - t0) as f64 / 1000.0 / speed);
            let diff = at.as_secs_f64() - due.as_secs_f64();
            assert!(diff.abs() < 1e-3, "batch of {end} at {at:?}, due {due:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_stops_the_feed_mid_race() {
        let hub = Hub::new("k").unwrap();
        let (tx, shutdown) = watch::channel(false);
        let lines = small_race().map(|(ts, line)| FeedLine {
            ts: Some(ts),
            line: line.into_bytes(),
        });
        let mut engine = Engine::new(EngineConfig::default(), ModelParams::default());
        let stopper = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            tx.send(true).unwrap();
        });
        let started = Instant::now();
        let (end, stats) = run(
            lines,
            &mut engine,
            &hub,
            1.0,
            shutdown,
            &ProgressBar::hidden(),
        )
        .await;
        stopper.await.unwrap();
        assert_eq!(end, FeedEnd::Stopped);
        // At real time, 2 s of a race at 2 Hz and 4 cars is about 4 ticks of lines.
        let took = Instant::now() - started;
        assert!(
            took >= Duration::from_secs(2) && took < Duration::from_millis(2001),
            "{took:?}"
        );
        assert!(stats.lines > 0 && stats.lines < 100, "{stats:?}");
    }

    #[test]
    fn a_file_lines_ts_is_read_without_decoding_it() {
        assert_eq!(
            FeedLine::from_bytes(br#"{"v":1,"car":"1","ts":42,"rpm":1}"#.to_vec()).ts,
            Some(42)
        );
        assert_eq!(FeedLine::from_bytes(b"not json".to_vec()).ts, None);
    }
}
