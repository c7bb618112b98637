//! The telemetry-processor's work on one Kinesis batch.
//!
//! 1. Decode every line of every record; a bad line is quarantined with its reason and
//!    counted, and the rest go on.
//! 2. Group samples by race and car; read each race (events, figures) and its cars'
//!    items, one round trip each.
//! 3. With a predictor: fold every car on a copy to learn which windows this batch closes
//!    and their features, and ask for all their factors in one call (the breaker and the
//!    physics fallback decide what happens when it fails).
//! 4. Fold each car for real (the factors decide each window's burn as it closes) and
//!    write it back with one conditional write; a conflict re-reads and re-applies.
//!    The decided updates are committed in the car's outbox with the state that counts
//!    them, so a window's burn is decided once, before it is published.
//! 5. Publish every committed update (and the race states) in one call; the outbox makes
//!    a failed publish a retry, never a loss.
//!
//! The silent-car rule spans shards: a car whose telemetry stopped gets no invocation of
//! its own, so any invocation of its race closes its windows once the race's newest
//! sample (from the cars' summaries) is `silent_ms` past them and the car's summary has
//! gone unwritten for `silent_quiet`. It is read with the batch's cars, folded like
//! them (the correction included), committed with the same conditional write (a
//! concurrent writer, the car's own shard or another sweep, makes it read again and
//! find the windows closed), and its summary is written after the publish.
//!
//! A record is reported failed (Lambda resumes the shard at the first one) when a car it
//! feeds could not be committed or published in time. Redelivery is harmless: a sample
//! already counted is a duplicate in an open window or late in a closed one.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use burnbar_core::car::{WindowCorrection, WindowFeatures};
use burnbar_core::contract::Record;
use burnbar_core::decode::decode_line;
use burnbar_core::race::{Newest, UNKNOWN_RACE};
use burnbar_core::{CarId, EngineConfig, FuelUpdate, ModelParams, Reject};
use burnbar_metrics::{MetricSet, log};
use serde_json::json;
use tokio::time::Instant;

use crate::breaker::{Breaker, Fallback};
use crate::commit::{Commit, call_deadline, commit_car, now_ms, store_error, update_summary};
use crate::ports::{
    CarItem, CarStore, PortError, Predictor, Publisher, Quarantine, Quarantined, RaceStore,
};
use crate::race::{CarSample, StoredRace, close_silent, fold_car};

/// One Kinesis record: its sequence number and its data (one or more NDJSON lines).
#[derive(Debug, Clone, Copy)]
pub struct InRecord<'a> {
    pub sequence_number: &'a str,
    pub data: &'a [u8],
}

/// How the processor behaves.
#[derive(Debug, Clone)]
pub struct ProcessorConfig {
    /// Windows, lateness and limits: the same as `burnbar replay`.
    pub engine: EngineConfig,
    /// The physics model (the calibration).
    pub params: ModelParams,
    /// Re-reads after a conditional-write conflict before the car's records are failed.
    /// 3: conflicts come from race control closing a car out, which happens once.
    pub save_attempts: u32,
    /// Updates a car keeps for republishing while the writer is down. 720: an hour of
    /// 5 s windows; older ones are dropped and counted (`updates_dropped_total`).
    pub outbox_max: usize,
    /// Time kept back from the deadline to report what could not finish. 500 ms: a
    /// response and the metrics line, with room for a slow last write.
    pub reserve: Duration,
    /// Wall time a car's race-level summary must have gone unwritten before another
    /// shard's invocation closes its windows by the silent-car rule. 60 s: a car on a
    /// shard that is only behind still commits (its summary stays fresh) and keeps its
    /// windows open for its own late samples; a car gone silent, or on a shard that has
    /// stopped, has them closed.
    pub silent_quiet: Duration,
}

impl Default for ProcessorConfig {
    fn default() -> Self {
        ProcessorConfig {
            engine: EngineConfig::default(),
            params: ModelParams::default(),
            save_attempts: 3,
            outbox_max: 720,
            reserve: Duration::from_millis(500),
            silent_quiet: Duration::from_secs(60),
        }
    }
}

/// What is left to do after an invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The first record to deliver again (Lambda checkpoints there), if any.
    pub first_failed: Option<String>,
    /// Updates published by this invocation.
    pub published: usize,
}

struct Pending {
    rec: usize,
    line_no: usize,
    /// Index of the race in the batch's list of race ids (few distinct ones per batch:
    /// one string each, not one per sample).
    race: usize,
    car: CarId,
    sample: CarSample,
}

/// The race ids a batch names, each once; `None` stands for the current race.
#[derive(Default)]
struct RaceIds {
    ids: Vec<Option<String>>,
    index: HashMap<Option<String>, usize>,
    last: Option<usize>,
}

impl RaceIds {
    fn index_of(&mut self, id: Option<&str>) -> usize {
        if let Some(i) = self.last
            && self.ids[i].as_deref() == id
        {
            return i;
        }
        let key = id.map(str::to_owned);
        let i = match self.index.get(&key) {
            Some(&i) => i,
            None => {
                self.ids.push(key.clone());
                self.index.insert(key, self.ids.len() - 1);
                self.ids.len() - 1
            }
        };
        self.last = Some(i);
        i
    }
}

/// The lines of a record: split at every `\n` as `<[u8]>::split` splits (a trailing
/// empty line included), with a vectorised search.
fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(data);
    std::iter::from_fn(move || {
        let d = rest?;
        match memchr::memchr(b'\n', d) {
            Some(i) => {
                rest = Some(&d[i + 1..]);
                Some(&d[..i])
            }
            None => {
                rest = None;
                Some(d)
            }
        }
    })
}

struct Factors(HashMap<(CarId, i64), f64>);

impl WindowCorrection for Factors {
    fn factor(&self, car: CarId, window_start: i64) -> Option<f64> {
        self.0.get(&(car, window_start)).copied()
    }
}

/// The telemetry-processor over its ports.
pub struct Processor<S, P, W, Q> {
    pub store: S,
    pub predictor: Option<Breaker<P>>,
    pub publisher: W,
    pub quarantine: Q,
    pub cfg: ProcessorConfig,
    /// The newest `seq` the writer acknowledged per car: outbox entries at or below it
    /// are not published again (an optimisation: a warm instance keeps its shard).
    acked: Mutex<HashMap<(String, CarId), i64>>,
    /// The current race, cached for a few seconds (records without a `race_id`).
    current: Mutex<Option<(Option<String>, Instant)>>,
}

/// How long the current race is cached: a `race_start` is seen within a window.
const CURRENT_TTL: Duration = Duration::from_secs(5);
/// Acknowledged seqs remembered at most (cars × races of a busy day).
const ACKED_MAX: usize = 10_000;
/// Lines of a record kept in the quarantine at most.
const QUARANTINE_LINE_MAX: usize = 64 * 1024;

impl<S, P, W, Q> Processor<S, P, W, Q>
where
    S: CarStore + RaceStore,
    P: Predictor,
    W: Publisher,
    Q: Quarantine,
{
    pub fn new(
        store: S,
        predictor: Option<P>,
        publisher: W,
        quarantine: Q,
        cfg: ProcessorConfig,
    ) -> Self {
        Processor {
            store,
            predictor: predictor.map(Breaker::new),
            publisher,
            quarantine,
            cfg,
            acked: Mutex::new(HashMap::new()),
            current: Mutex::new(None),
        }
    }

    /// Processes one batch; metrics go to `m`.
    pub async fn handle(
        &self,
        records: &[InRecord<'_>],
        deadline: Instant,
        m: &mut MetricSet,
    ) -> Outcome {
        let cfg = &self.cfg;
        let mut failed = vec![false; records.len()];
        let mut quarantined: Vec<(usize, Quarantined)> = Vec::new();
        let mut pending: Vec<Pending> = Vec::new();
        for name in [
            "records_in_total",
            "records_rejected_total",
            "samples_duplicate_total",
            "samples_late_total",
            "windows_closed_total",
            "updates_published_total",
            "predictor_fallbacks_total",
            "conditional_write_retries_total",
            "publish_failures_total",
            "cars_swept_total",
        ] {
            m.count(name, 0);
        }
        m.count("kinesis_records_total", records.len() as u64);

        // 1. Decode.
        let mut race_ids = RaceIds::default();
        let mut lines_in = 0;
        for (ri, r) in records.iter().enumerate() {
            for (li, line) in lines(r.data).enumerate() {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                lines_in += 1;
                match decode_line(line) {
                    Ok(Record::Sample(s)) => pending.push(Pending {
                        rec: ri,
                        line_no: li,
                        race: race_ids.index_of(s.race_id.as_deref()),
                        car: s.car,
                        sample: CarSample { ts: s.ts, ch: s.ch },
                    }),
                    Ok(Record::Event(e)) => quarantined.push((
                        ri,
                        quarantine_entry(
                            r,
                            li,
                            line,
                            "wrong_stream",
                            Some("kind"),
                            &format!(
                                "a race-control event ({}) on the telemetry stream: send it to the race-control stream",
                                e.kind.name()
                            ),
                        ),
                    )),
                    Err(rej) => quarantined.push((ri, reject_entry(r, li, line, &rej))),
                }
            }
        }

        m.count("records_in_total", lines_in);

        // Records without a race_id belong to the current race.
        let mut names = race_ids.ids;
        if let Some(cur_at) = names.iter().position(Option::is_none) {
            match self.current_race(deadline).await {
                Ok(cur) => names[cur_at] = Some(cur.unwrap_or_else(|| UNKNOWN_RACE.to_owned())),
                Err(e) => {
                    store_error(m, "current race", &e);
                    for p in pending.iter().filter(|p| p.race == cur_at) {
                        failed[p.rec] = true;
                    }
                    pending.retain(|p| p.race != cur_at);
                }
            }
        }

        // 2. Group (by race name, then car; each car's samples in arrival order), read
        // races and cars.
        let mut groups: BTreeMap<String, BTreeMap<CarId, Vec<usize>>> = names
            .iter()
            .flatten()
            .map(|n| (n.clone(), BTreeMap::new()))
            .collect();
        // Each race index's group, in the map's order (the current race may also be
        // named by some records: both are one group).
        let group_of: Vec<Option<usize>> = names
            .iter()
            .map(|n| n.as_ref().map(|n| groups.range::<String, _>(..n).count()))
            .collect();
        {
            let mut slots: Vec<&mut BTreeMap<CarId, Vec<usize>>> = groups.values_mut().collect();
            for (i, p) in pending.iter().enumerate() {
                let g = group_of[p.race].expect("race resolved");
                slots[g].entry(p.car).or_default().push(i);
            }
        }
        struct RaceWork {
            id: String,
            race: StoredRace,
            items: BTreeMap<CarId, CarItem>,
            cars: BTreeMap<CarId, Vec<usize>>,
            newest: Newest,
            /// Silent cars of the race to close up to the boundary (read with the
            /// batch's cars, in the same round trip).
            silent: Option<(i64, Vec<CarId>)>,
        }
        let mut work = Vec::new();
        let quiet_ms = cfg.silent_quiet.as_millis() as i64;
        for (id, cars) in groups {
            let mut keys: Vec<CarId> = cars.keys().copied().collect();
            let loaded = match self.store.load_race(&id, deadline).await {
                Ok(view) => {
                    let race = StoredRace::from_view(&view);
                    let silent = race.silent_cars(&cfg.engine, now_ms(), quiet_ms, &cars);
                    keys.extend(silent.iter().flat_map(|(_, c)| c));
                    match self.store.load_cars(&id, &keys, deadline).await {
                        Ok(items) => Ok((race, items, silent)),
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e),
            };
            match loaded {
                Ok((race, items, silent)) => {
                    m.count("stored_events_undecodable_total", race.undecodable as u64);
                    // Cars beyond the race's limit: their samples are rejected.
                    let mut cars = cars;
                    for (car, rej) in race.refused_cars(cars.keys().copied(), &items) {
                        for i in cars.remove(&car).unwrap_or_default() {
                            let p = &pending[i];
                            let r = &records[p.rec];
                            let line = lines(r.data).nth(p.line_no).unwrap_or(b"");
                            quarantined.push((p.rec, reject_entry(r, p.line_no, line, &rej)));
                        }
                    }
                    // A silent car read as absent (expired) has nothing to close.
                    let silent = silent.map(|(b, cs)| {
                        (
                            b,
                            cs.into_iter().filter(|c| items.contains_key(c)).collect(),
                        )
                    });
                    // The race's newest ts: its events, every car's summary, and the
                    // batch's cars as stored (their summaries may lag a failed write).
                    let mut newest = race.race.newest;
                    for ts in items.values().filter_map(|i| i.state.max_ts) {
                        newest.see(ts);
                    }
                    work.push(RaceWork {
                        id,
                        race,
                        items,
                        cars,
                        newest,
                        silent,
                    });
                }
                Err(e) => {
                    store_error(m, "load race", &e);
                    for idx in cars.values().flatten() {
                        failed[pending[*idx].rec] = true;
                    }
                }
            }
        }

        // 3. The learned correction, for every window this batch closes, in one call.
        let factors = match &self.predictor {
            None => None,
            Some(breaker) => {
                let feats: RefCell<Vec<WindowFeatures>> = RefCell::new(Vec::new());
                for w in &work {
                    let ctx = w.race.race.ctx(
                        cfg.engine.window_ms,
                        &cfg.params,
                        None,
                        Some(&feats),
                        None,
                    );
                    let mut rr = w.newest;
                    let mut sink = Vec::new();
                    for (car, idxs) in &w.cars {
                        let mut item = w
                            .items
                            .get(car)
                            .cloned()
                            .unwrap_or_else(|| w.race.new_car(*car));
                        let samples: Vec<CarSample> =
                            idxs.iter().map(|&i| pending[i].sample).collect();
                        fold_car(
                            &w.race,
                            &mut item,
                            &samples,
                            &ctx,
                            &cfg.engine,
                            &mut rr,
                            &mut sink,
                        );
                    }
                    if let Some((boundary, cars)) = &w.silent {
                        for car in cars {
                            let Some(stored) = w.items.get(car) else {
                                continue;
                            };
                            let mut item = stored.clone();
                            fold_car(
                                &w.race,
                                &mut item,
                                &[],
                                &ctx,
                                &cfg.engine,
                                &mut rr,
                                &mut sink,
                            );
                            close_silent(&w.race, &mut item, *boundary, &ctx, &mut sink);
                        }
                    }
                }
                let feats = feats.into_inner();
                if feats.is_empty() {
                    None
                } else {
                    m.count("predictor_windows_total", feats.len() as u64);
                    match breaker
                        .predict(&feats, call_deadline(deadline, cfg.reserve))
                        .await
                    {
                        Ok(f) => Some(Factors(
                            feats
                                .iter()
                                .zip(f)
                                .map(|(w, f)| ((w.car, w.window_start), f))
                                .collect(),
                        )),
                        Err(fb) => {
                            m.count("predictor_fallbacks_total", 1);
                            match fb {
                                Fallback::Open => m.count("predictor_skipped_open_total", 1),
                                Fallback::Failed(e) => {
                                    m.count("predictor_failures_total", 1);
                                    log(
                                        "warn",
                                        "predictor failed: physics alone",
                                        None,
                                        &[("error", json!(e.to_string()))],
                                    );
                                }
                            }
                            None
                        }
                    }
                }
            }
        };
        let correction = factors.as_ref().map(|f| f as &dyn WindowCorrection);

        // 4. Fold for real and commit, car by car.
        let mut to_publish: Vec<FuelUpdate> = Vec::new();
        let mut states = Vec::new();
        // Per car with updates to publish: its race, its records, its newest seq.
        let mut publishing: Vec<(String, CarId, Vec<usize>, i64)> = Vec::new();
        // Silent cars committed, by race (index in `work`).
        let mut swept: Vec<(usize, CarItem)> = Vec::new();
        for (wi, w) in work.iter_mut().enumerate() {
            for (car, idxs) in &w.cars {
                let samples: Vec<CarSample> = idxs.iter().map(|&i| pending[i].sample).collect();
                // Taken, not cloned: nothing reads the batch's items after its commit.
                let stored = w.items.remove(car);
                let acked = self.acked_seq(&w.id, *car);
                let committed = commit_car(
                    &self.store,
                    Commit {
                        race: &w.race,
                        race_id: &w.id,
                        car: *car,
                        stored,
                        acked,
                        samples: &samples,
                        cfg,
                        correction,
                        deadline,
                        sweep: None,
                    },
                    &mut w.newest,
                    m,
                )
                .await;
                let committed = committed.map(|(item, rep)| {
                    for (si, rej) in &rep.rejected {
                        let p = &pending[idxs[*si]];
                        let r = &records[p.rec];
                        let line = lines(r.data).nth(p.line_no).unwrap_or(b"");
                        quarantined.push((p.rec, reject_entry(r, p.line_no, line, rej)));
                    }
                    item
                });
                let Some(item) = committed else {
                    for &i in idxs {
                        failed[pending[i].rec] = true;
                    }
                    continue;
                };
                update_summary(&self.store, &mut w.race, &w.id, &item, deadline, cfg, m).await;
                if let Some(newest) = item.outbox.iter().map(|u| u.seq).max() {
                    to_publish.extend(item.outbox);
                    let recs = idxs.iter().map(|&i| pending[i].rec).collect();
                    publishing.push((w.id.clone(), *car, recs, newest));
                }
            }
            // Silent cars: no records of their own. Their summaries are written after
            // the publish, so that a failed publish leaves them open and the next
            // invocation of the race publishes their outbox again.
            if let Some((boundary, cars)) = &w.silent {
                for car in cars {
                    let stored = w.items.remove(car);
                    let acked = self.acked_seq(&w.id, *car);
                    let committed = commit_car(
                        &self.store,
                        Commit {
                            race: &w.race,
                            race_id: &w.id,
                            car: *car,
                            stored,
                            acked,
                            samples: &[],
                            cfg,
                            correction,
                            deadline,
                            sweep: Some(*boundary),
                        },
                        &mut w.newest,
                        m,
                    )
                    .await;
                    let Some((mut item, _)) = committed else {
                        continue;
                    };
                    m.count("cars_swept_total", 1);
                    if let Some(newest) = item.outbox.iter().map(|u| u.seq).max() {
                        to_publish.append(&mut item.outbox);
                        publishing.push((w.id.clone(), *car, Vec::new(), newest));
                    }
                    swept.push((wi, item));
                }
            }
            states.push(w.race.state(cfg.engine.cant_make_it_pct));
        }

        // 5. Publish.
        let mut published = 0;
        let mut publish_ok = true;
        if !to_publish.is_empty() {
            to_publish.sort_by_key(|u| (u.window_end, u.car));
            match self
                .publisher
                .publish(&to_publish, &states, call_deadline(deadline, cfg.reserve))
                .await
            {
                Ok(()) => {
                    published = to_publish.len();
                    m.count("updates_published_total", published as u64);
                    let mut acked = self.acked.lock().expect("acked lock");
                    if acked.len() > ACKED_MAX {
                        acked.clear();
                    }
                    for (race, car, _, newest) in &publishing {
                        acked.insert((race.clone(), *car), *newest);
                    }
                }
                Err(e) => {
                    publish_ok = false;
                    m.count("publish_failures_total", 1);
                    log(
                        "error",
                        "publish failed: records will be delivered again",
                        None,
                        &[("error", json!(e.to_string()))],
                    );
                    for (_, _, recs, _) in &publishing {
                        for &r in recs {
                            failed[r] = true;
                        }
                    }
                }
            }
        }

        // The silent cars' summaries, once their updates are out.
        if publish_ok {
            for (wi, item) in &swept {
                let w = &mut work[*wi];
                update_summary(&self.store, &mut w.race, &w.id, item, deadline, cfg, m).await;
            }
        }

        // Quarantine what was rejected (its reason, its line).
        quarantine_all(
            &self.quarantine,
            &quarantined,
            &mut failed,
            call_deadline(deadline, cfg.reserve),
            m,
        )
        .await;

        Outcome {
            first_failed: failed
                .iter()
                .position(|&f| f)
                .map(|i| records[i].sequence_number.to_owned()),
            published,
        }
    }

    /// The newest `seq` the writer acknowledged for the car, as this instance knows.
    fn acked_seq(&self, race_id: &str, car: CarId) -> Option<i64> {
        self.acked
            .lock()
            .expect("acked lock")
            .get(&(race_id.to_owned(), car))
            .copied()
    }

    async fn current_race(&self, deadline: Instant) -> Result<Option<String>, PortError> {
        if let Some((race, at)) = self.current.lock().expect("current lock").clone()
            && at.elapsed() < CURRENT_TTL
        {
            return Ok(race);
        }
        let race = self
            .store
            .current_race(call_deadline(deadline, self.cfg.reserve))
            .await?;
        *self.current.lock().expect("current lock") = Some((race.clone(), Instant::now()));
        Ok(race)
    }
}

pub(crate) fn quarantine_entry(
    r: &InRecord<'_>,
    line_no: usize,
    line: &[u8],
    code: &str,
    field: Option<&str>,
    detail: &str,
) -> Quarantined {
    let keep = &line[..line.len().min(QUARANTINE_LINE_MAX)];
    Quarantined {
        sequence_number: r.sequence_number.to_owned(),
        line_no,
        code: code.to_owned(),
        field: field.map(str::to_owned),
        detail: detail.to_owned(),
        line: String::from_utf8_lossy(keep).into_owned(),
    }
}

pub(crate) fn reject_entry(
    r: &InRecord<'_>,
    line_no: usize,
    line: &[u8],
    rej: &Reject,
) -> Quarantined {
    quarantine_entry(r, line_no, line, rej.code.as_str(), rej.field, &rej.detail)
}

/// Sends the rejected lines to the quarantine. A retryable failure fails their records
/// (delivered again, they are rejected again and quarantined then); a permanent one
/// writes them to the log, so the reasons are never lost.
pub(crate) async fn quarantine_all<Q: Quarantine>(
    quarantine: &Q,
    quarantined: &[(usize, Quarantined)],
    failed: &mut [bool],
    deadline: Instant,
    m: &mut MetricSet,
) {
    if quarantined.is_empty() {
        return;
    }
    for (_, q) in quarantined {
        m.count("records_rejected_total", 1);
        m.count(&format!("records_rejected_{}_total", q.code), 1);
    }
    let items: Vec<Quarantined> = quarantined.iter().map(|(_, q)| q.clone()).collect();
    match quarantine.put(&items, deadline).await {
        Ok(()) => m.count("records_quarantined_total", items.len() as u64),
        Err(e) if e.is_retryable() => {
            m.count("quarantine_failures_total", 1);
            for (ri, _) in quarantined {
                failed[*ri] = true;
            }
        }
        Err(e) => {
            m.count("quarantine_failures_total", 1);
            log(
                "error",
                "quarantine refused records: their reasons are in this log",
                None,
                &[("error", json!(e.to_string())), ("records", json!(items))],
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_as_the_slice_split_does() {
        for data in [
            &b""[..],
            b"\n",
            b"a",
            b"a\n",
            b"a\nb",
            b"\n\na\n\nbc\n",
            b"{\"v\":1}\r\n{\"v\":2}",
        ] {
            let want: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
            assert_eq!(lines(data).collect::<Vec<_>>(), want, "{data:?}");
        }
    }

    #[test]
    fn race_ids_are_kept_once_each() {
        let mut ids = RaceIds::default();
        let seq = [
            Some("a"),
            Some("a"),
            None,
            Some("b"),
            Some("a"),
            None,
            Some("b"),
        ];
        let got: Vec<usize> = seq.iter().map(|id| ids.index_of(*id)).collect();
        assert_eq!(got, [0, 0, 1, 2, 0, 1, 2]);
        assert_eq!(ids.ids, [Some("a".into()), None, Some("b".into())]);
    }
}
