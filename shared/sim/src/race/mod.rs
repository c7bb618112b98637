//! The race, one tick at a time: the [`Simulation`].
//!
//! Each tick (every `1/hz` s of event time) race control acts on the state at that
//! instant, its events are written, then every car's sample, then the cars move to the
//! next tick in steps of at most 100 ms, split at every truth-window edge so the truth is
//! exact there (the splits happen whether or not truth is recorded, so recording it never
//! changes the race).
//!
//! # Layout
//!
//! - `flags`: race control's flags: cautions, stage ends, white and checkered, driven by
//!   the leader's laps.
//! - `incidents`: incidents and debris under green.
//! - `schedule`: what race control does a moment after its cause (a yellow, a `car_out`).
//! - `strategy`: what each team knows of its fuel, and its calls under green.
//! - `pit`: pit stops as race control and the teams see them: planned, called under
//!   caution, ended with `pit_out`.
//! - `motion`: who is around each car, and the cars moved between ticks.
//! - `records`: the lines written: `race_start`, race-control events, samples.
//!
//! This file holds the [`Simulation`] itself: setting up the field, the order of a tick,
//! the end of the race, and the lines handed out.

mod flags;
mod incidents;
mod motion;
mod pit;
mod records;
mod schedule;
mod strategy;

use crate::SimSummary;
use crate::car::{Car, CarNotice, Phase, Surroundings, solo_lap};
use crate::config::{SimConfig, SimError};
use crate::faults::Faults;
use crate::field;
use crate::output::{self, LineSink};
use crate::track::TrackCtx;
use crate::truth::Truth;
use flags::{Caution, TrackFlag, stage_laps};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use records::Announcement;
use schedule::Scheduled;
use strategy::Team;

/// Event time of the race start (2025-06-22 12:00 UTC), the same for every race so
/// outputs compare byte for byte.
pub const START_TS: i64 = 1_750_593_600_000;
/// Longest physics step, ms.
const MAX_STEP_MS: i64 = 100;

/// Random streams: the race's choices, the sensor and engine noise, and the faults are
/// independent, so faults (or truth) never change the race. The crews' tyre speed has a
/// stream of its own, so that drawing it left the rest of the field as it was.
mod stream {
    pub const SETUP: u64 = 0;
    pub const RACE: u64 = 1;
    pub const NOISE: u64 = 2;
    pub const FAULTS: u64 = 3;
    pub const CREWS: u64 = 4;
}

fn rng_for(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(stream);
    r
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    rng.sample::<f64, _>(StandardNormal)
}

/// A simulated race, as the NDJSON lines it writes: an iterator of `(ts, line)` (no
/// newline), for a live demo that paces them. [`crate::simulate`] streams the same lines.
///
/// Truth is off unless [`Simulation::record_truth`] is called before the first line;
/// then [`Simulation::take_truth`] hands out its lines as they are ready (the window lines
/// as the race goes, the stint lines once it is over).
#[derive(Debug)]
pub struct Simulation {
    cfg: SimConfig,
    race_id: String,
    ctx: TrackCtx,
    laps: u32,
    cars: Vec<Car>,
    teams: Vec<Team>,
    prefixes: Vec<Vec<u8>>,
    race_rng: ChaCha8Rng,
    noise_rng: ChaCha8Rng,
    faults: Faults,
    truth: Option<Truth>,
    tick: u64,
    ts: i64,
    next_window_end: i64,
    flag: TrackFlag,
    caution: Option<Caution>,
    cautions: u32,
    stage_laps: Vec<u32>,
    next_stage: usize,
    leader_lap: u32,
    restart_lap: u32,
    checkered_ts: Option<i64>,
    scheduled: Vec<(i64, Scheduled)>,
    announcements: Vec<Announcement>,
    surroundings: Vec<Surroundings>,
    leader: Option<usize>,
    sink: LineSink,
    cursor: usize,
    summary: SimSummary,
    started: bool,
    done: bool,
}

impl Simulation {
    /// Sets up the race (field, profiles, grid); fails on a bad config.
    pub fn new(cfg: &SimConfig) -> Result<Self, SimError> {
        let (track, laps) = cfg.validate()?;
        let ctx = TrackCtx::new(track);
        let race_id = format!("sim-{}-{}", track.key, cfg.seed);
        let nominal = solo_lap(&ctx, 0.0, false).0;
        let cars = grid(&ctx, cfg);
        let teams = cars
            .iter()
            .map(|c| Team::new(nominal * c.p.fuel_mult))
            .collect();
        let prefixes = cars
            .iter()
            .map(|c| output::sample_prefix(&race_id, &c.p.number))
            .collect();
        let n = cars.len();
        let summary = SimSummary {
            race_id: race_id.clone(),
            track: track.key.to_string(),
            ..SimSummary::default()
        };
        Ok(Simulation {
            cfg: cfg.clone(),
            race_id,
            stage_laps: stage_laps(track, laps),
            ctx,
            laps,
            cars,
            teams,
            prefixes,
            race_rng: rng_for(cfg.seed, stream::RACE),
            noise_rng: rng_for(cfg.seed, stream::NOISE),
            faults: Faults::new(cfg.faults, rng_for(cfg.seed, stream::FAULTS)),
            truth: None,
            tick: 0,
            ts: START_TS,
            next_window_end: START_TS - START_TS.rem_euclid(cfg.window_ms) + cfg.window_ms,
            flag: TrackFlag::Green,
            caution: None,
            cautions: 0,
            next_stage: 0,
            leader_lap: 0,
            restart_lap: 0,
            checkered_ts: None,
            scheduled: Vec::new(),
            announcements: Vec::new(),
            surroundings: vec![Surroundings::alone(false, false, false); n],
            leader: None,
            sink: LineSink::default(),
            cursor: 0,
            summary,
            started: false,
            done: false,
        })
    }

    /// Records the ground truth (call before the first line).
    pub fn record_truth(&mut self) {
        if self.truth.is_none() && !self.started {
            let names: Vec<String> = self.cars.iter().map(|c| c.p.number.clone()).collect();
            self.truth = Some(Truth::new(self.cfg.window_ms, START_TS, &names));
        }
    }

    /// Truth lines ready so far (without newlines), in order.
    pub fn take_truth(&mut self) -> Vec<String> {
        self.truth
            .as_mut()
            .map(|t| std::mem::take(&mut t.pending))
            .unwrap_or_default()
    }

    /// The race's `race_id` (`sim-<track>-<seed>`).
    pub fn race_id(&self) -> &str {
        &self.race_id
    }

    /// The race is over (every line has been produced).
    pub fn is_done(&self) -> bool {
        self.done && self.cursor >= self.sink.lines.len()
    }

    /// What has been written so far (all of it once the race is over).
    pub fn summary(&self) -> SimSummary {
        let mut s = self.summary.clone();
        s.faults = self.faults.counts;
        s
    }

    /// Produces the next tick into the sink; `false` once the race is over.
    pub(crate) fn advance(&mut self) -> bool {
        if self.done {
            return false;
        }
        let ts = self.ts;
        if !self.started {
            self.started = true;
            self.write_race_start(ts);
            self.announce(Announcement::Flag {
                flag: TrackFlag::Green,
                lap: 0,
            });
        }
        self.race_control(ts);
        self.write_announcements(ts);
        self.faults.release(ts, &mut self.sink);
        self.compute_surroundings();
        let next_ts = START_TS + ((self.tick + 1) as i64 * 1_000) / self.cfg.hz as i64;
        let n_steps = (next_ts - ts + MAX_STEP_MS - 1) / MAX_STEP_MS;
        let first_dt = ((next_ts - ts) / n_steps).min(self.next_window_end - ts) as f64 / 1_000.0;
        self.write_samples(ts, first_dt);
        if self.race_over() {
            self.finish();
            return true;
        }
        self.integrate(ts, next_ts);
        self.tick += 1;
        self.ts = next_ts;
        true
    }

    /// Race control's business at a tick, in order: what the cars tell it, the leader's
    /// laps and the flags they bring, each car's line crossing, what falls due, new
    /// hazards, the pit calls under caution, and the end of the race.
    fn race_control(&mut self, ts: i64) {
        self.car_notices(ts);
        self.leader_laps(ts);
        for i in 0..self.cars.len() {
            let lap = self.cars[i].lap();
            if self.cars[i].running() && lap > self.teams[i].lap_seen {
                self.teams[i].lap_seen = lap;
                self.car_lap(i, ts);
            }
        }
        self.run_due(ts);
        self.hazard(ts);
        self.caution_pit_calls();
        self.end_guards(ts);
    }

    /// What the cars did since the last tick: pit road, running dry, stopping.
    fn car_notices(&mut self, ts: i64) {
        for i in 0..self.cars.len() {
            let notices = std::mem::take(&mut self.cars[i].notices);
            for notice in notices {
                let lap = self.cars[i].lap();
                match notice {
                    CarNotice::PitIn => self.announce(Announcement::PitIn { car: i, lap }),
                    CarNotice::PitOut(report) => {
                        self.pit_out(i, ts, report);
                        if self.teams[i].took_checkered {
                            self.cars[i].phase = Phase::Finished(ts);
                        }
                    }
                    CarNotice::RanDry => self.ran_dry(i),
                    CarNotice::Stopped => self.car_stopped(i, ts),
                }
            }
        }
    }

    fn race_over(&self) -> bool {
        self.checkered_ts.is_some()
            && self.scheduled.is_empty()
            && !self.cars.iter().any(|c| {
                matches!(
                    c.phase,
                    Phase::Track | Phase::PitRoad(_) | Phase::Crashed | Phase::Parked
                )
            })
    }

    fn finish(&mut self) {
        self.done = true;
        self.faults.flush_all(&mut self.sink);
        self.summary.laps = self.leader_lap;
        self.summary.end_ts = self.ts;
        self.summary.cautions = self.cautions;
        if let Some(t) = self.truth.as_mut() {
            let cars = &self.cars;
            // The last window, open at the end, closes with the race.
            t.close_window(|i| (cars[i].fuel, cars[i].d));
            let teams = &self.teams;
            t.finish(|i| teams[i].last_ts);
        }
    }

    /// The lines produced and not yet taken (for [`crate::simulate`]).
    pub(crate) fn take_bytes(&mut self) -> &mut LineSink {
        &mut self.sink
    }

    /// Counts `n` lines written by [`crate::simulate`].
    pub(crate) fn count_records(&mut self, n: u64) {
        self.summary.records += n;
    }
}

/// The field on its grid: drawn from the seed's setup stream, double file, pole ahead.
fn grid(ctx: &TrackCtx, cfg: &SimConfig) -> Vec<Car> {
    let mut setup = rng_for(cfg.seed, stream::SETUP);
    let mut crews = rng_for(cfg.seed, stream::CREWS);
    let numbers = field::car_numbers(cfg.cars as usize);
    let mut params = field::draw(ctx, &numbers, &mut setup, &mut crews);
    // Output order: car numbers in byte order (as the truth and the pipeline sort).
    params.sort_by(|a, b| a.number.as_bytes().cmp(b.number.as_bytes()));
    let rows = params.len().div_ceil(2);
    params
        .into_iter()
        .map(|p| {
            // Double file, pole ahead; the outside car of a row a little behind.
            let (row, col) = (p.grid / 2, p.grid % 2);
            let pos = (rows - 1 - row) as f64 * 10.0 + if col == 0 { 2.0 } else { 0.0 };
            Car::new(ctx, p, pos / ctx.len_m, ctx.pace)
        })
        .collect()
}

impl Iterator for Simulation {
    type Item = (i64, String);

    fn next(&mut self) -> Option<(i64, String)> {
        loop {
            if self.cursor < self.sink.lines.len() {
                let start = if self.cursor == 0 {
                    0
                } else {
                    self.sink.lines[self.cursor - 1].1
                };
                let (ts, end) = self.sink.lines[self.cursor];
                self.cursor += 1;
                self.summary.records += 1;
                let line = String::from_utf8_lossy(&self.sink.buf[start..end - 1]).into_owned();
                return Some((ts, line));
            }
            self.sink.clear();
            self.cursor = 0;
            if !self.advance() {
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `sim` to the end; the lines written from now on.
    fn rest(sim: &mut Simulation) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        for (_, line) in sim.by_ref() {
            out.push(serde_json::from_str(&line).unwrap());
        }
        out
    }

    /// A race whose car 0 is about to run dry at `lap`, far from pit road or near it.
    fn nearly_dry(track: &str, frac: f64) -> (Simulation, Vec<serde_json::Value>) {
        let cfg = SimConfig {
            track: track.into(),
            laps: Some(8),
            cars: 3,
            hz: 2,
            seed: 1,
            ..SimConfig::default()
        };
        let mut sim = Simulation::new(&cfg).unwrap();
        sim.record_truth();
        while sim.cars[0].d < 2.0 + frac {
            sim.next().unwrap();
        }
        sim.cars[0].fuel = 0.003;
        let lines = rest(&mut sim);
        (sim, lines)
    }

    #[test]
    fn a_car_out_of_fuel_coasts_to_pit_road_and_is_filled() {
        // Dry just after the line at Martinsville: it coasts most of a lap to pit road.
        let (mut sim, lines) = nearly_dry("martinsville", 0.05);
        let car = sim.cars[0].p.number.clone();
        assert_eq!(sim.summary().ran_dry, vec![car.clone()]);
        let mine = |kind: &str| {
            lines
                .iter()
                .find(|l| l["kind"] == kind && l["car"] == car.as_str())
                .cloned()
        };
        let pit_in = mine("pit_in").expect("it reaches pit road");
        let pit_out = mine("pit_out").expect("and leaves it");
        assert!(pit_out["fuel_added_gal"].as_f64().unwrap() > 19.0);
        assert_eq!(pit_out["full"], true);
        // From the moment it runs dry to pit road the engine is dead: no rpm, no
        // throttle, the car slowing.
        let dead: Vec<&serde_json::Value> = lines
            .iter()
            .filter(|l| l.get("kind").is_none() && l["car"] == car.as_str())
            .skip_while(|l| l["rpm"] != 0)
            .take_while(|l| l["ts"].as_i64() < pit_in["ts"].as_i64())
            .collect();
        assert!(dead.len() > 10, "{}", dead.len());
        for w in dead.windows(2) {
            assert_eq!(w[1]["rpm"], 0);
            assert_eq!(w[1]["throttle_pct"], 0.0);
            assert!(w[1]["speed_mph"].as_f64() <= w[0]["speed_mph"].as_f64());
        }
        let truth = sim.take_truth();
        assert!(
            truth
                .iter()
                .any(|t| t.contains(&format!("\"car\":\"{car}\""))
                    && t.contains("\"remaining_gal\":0.0000"))
        );
    }

    #[test]
    fn a_car_out_of_fuel_far_from_pit_road_retires() {
        // Dry just past pit road at Pocono: a whole lap (2.5 miles) to coast; it stops.
        let (sim, lines) = nearly_dry("pocono", 0.95);
        let car = sim.cars[0].p.number.clone();
        assert_eq!(sim.summary().ran_dry, vec![car.clone()]);
        let out = lines
            .iter()
            .find(|l| l["kind"] == "car_out" && l["car"] == car.as_str());
        assert_eq!(out.expect("it retires")["reason"], "out of fuel");
        assert!(
            !lines
                .iter()
                .any(|l| l["kind"] == "pit_in" && l["car"] == car.as_str())
        );
        assert!(sim.cars[0].fuel >= 0.0);
    }
}
