//! Step 4: every car folded for real and committed with its conditional write, race by
//! race: first the batch's cars, then the race's silent cars.
//!
//! The cars of a race are committed [`ProcessorConfig::write_concurrency`] at a time, so
//! that a full field costs a few round trips, not one per car. Their folds still read
//! the race as a one-by-one commit would: a car's fold sees the summaries of the cars
//! before it (in car order) as their folds leave them, from a fold on a copy made first
//! (the chain below); so what is published does not depend on which write answers
//! first. Only when a car meets a conflict (re-read and folded again) or cannot be
//! committed do the later cars' folds read its summary as the first fold left it, as a
//! car of another shard reads a summary that is one batch old.
//!
//! [`ProcessorConfig::write_concurrency`]: crate::handler::ProcessorConfig::write_concurrency

use burnbar_core::car::WindowCorrection;
use burnbar_core::race::Newest;
use burnbar_core::{CarId, FuelUpdate, RaceState};
use burnbar_lambda::deadline::call_deadline;
use burnbar_metrics::MetricSet;
use futures_util::stream::{self, StreamExt};
use tokio::time::Instant;

use super::Processor;
use super::batch::Batch;
use super::correction::Factors;
use super::read::RaceWork;
use crate::commit::{Commit, Failure, changed_summary, commit_car, race_state, store_error};
use crate::ports::{CarItem, CarStore, CarSummary, Predictor, Publisher, Quarantine, RaceStore};
use crate::race::{CarSample, FoldReport, StoredRace, fold_car, summary_of};

/// A car with updates to publish: acknowledged once they are out.
pub(super) struct ToAck {
    pub race: String,
    pub car: CarId,
    /// The batch's records that fed it (none for a silent car).
    pub records: Vec<usize>,
    /// The newest `seq` in its outbox.
    pub newest: i64,
}

/// What the commits leave for the publish.
#[derive(Default)]
pub(super) struct Committed {
    /// Every committed update not yet acknowledged.
    pub updates: Vec<FuelUpdate>,
    /// The state of every race read.
    pub states: Vec<RaceState>,
    pub to_ack: Vec<ToAck>,
    /// Silent cars committed, with their race (index in the races read): their
    /// summaries are written after the publish.
    pub swept: Vec<(usize, CarItem)>,
    /// When each window closed in this invocation was being closed (the start of its
    /// car's commit), one per new update: `window_close_to_ack_ms` runs from here to
    /// the writer's acknowledgement. Updates carried over in an outbox from an earlier
    /// invocation are not timed (their close happened in another process).
    pub closed_at: Vec<Instant>,
}

/// Notes the close time of every update of `outbox` newer than `before` (the newest
/// `seq` the stored outbox held): the windows this commit closed.
fn note_closed(out: &mut Committed, outbox: &[FuelUpdate], before: Option<i64>, at: Instant) {
    let new = outbox
        .iter()
        .filter(|u| before.is_none_or(|b| u.seq > b))
        .count();
    out.closed_at.extend(std::iter::repeat_n(at, new));
}

/// The newest `seq` in a stored car's outbox.
fn newest_stored(stored: Option<&CarItem>) -> Option<i64> {
    stored.and_then(|s| s.outbox.iter().map(|u| u.seq).max())
}

impl<S, P, W, Q> Processor<S, P, W, Q>
where
    S: CarStore + RaceStore,
    P: Predictor,
    W: Publisher,
    Q: Quarantine,
{
    /// Commits every race's cars; a car that cannot be committed fails its records.
    pub(super) async fn commit(
        &self,
        batch: &mut Batch<'_, '_>,
        races: &mut [RaceWork],
        factors: Option<&Factors>,
        deadline: Instant,
        m: &mut MetricSet,
    ) -> Committed {
        let correction = factors.map(|f| f as &dyn WindowCorrection);
        let mut out = Committed::default();
        for (wi, w) in races.iter_mut().enumerate() {
            self.commit_cars(batch, w, correction, deadline, m, &mut out)
                .await;
            self.sweep_silent(wi, w, correction, deadline, m, &mut out)
                .await;
            out.states.push(race_state(&w.race, &self.cfg, m));
        }
        out
    }

    /// The batch's cars of one race: folded, committed (a few at a time), their
    /// summaries written; the samples the race's rules reject are quarantined.
    async fn commit_cars(
        &self,
        batch: &mut Batch<'_, '_>,
        w: &mut RaceWork,
        correction: Option<&dyn WindowCorrection>,
        deadline: Instant,
        m: &mut MetricSet,
        out: &mut Committed,
    ) {
        let cfg = &self.cfg;
        // Each car with what its fold reads: the race and its newest ts as the cars
        // before it leave them (the chain), made as the commits are started.
        let mut chain = Chain {
            race: Some(w.race.clone()),
            newest: w.newest,
            left: w.cars.len(),
        };
        let jobs: Vec<(CarId, Vec<CarSample>, Option<CarItem>)> = w
            .cars
            .iter()
            .map(|(car, idxs)| (*car, batch.car_samples(idxs), w.items.remove(car)))
            .collect();
        let race_id = w.id.as_str();
        type Done = Result<(CarItem, FoldReport, Newest), Failure>;
        let results: Vec<(Done, Option<i64>, Instant)> = stream::iter(jobs)
            .map(|(car, samples, stored)| {
                let (race, mut newest) =
                    chain.next(cfg, car, &samples, stored.as_ref(), correction);
                let acked = self.acked_seq(race_id, car);
                let before = newest_stored(stored.as_ref());
                async move {
                    // The car's windows close as its commit starts.
                    let closing = Instant::now();
                    let mut cm = MetricSet::new("", &[]);
                    let commit = Commit {
                        race: &race,
                        race_id,
                        car,
                        stored,
                        acked,
                        samples: &samples,
                        cfg,
                        correction,
                        deadline,
                        sweep: None,
                    };
                    let done = commit_car(&self.store, commit, &mut newest, &mut cm).await;
                    let done = done.map(|(item, rep)| (item, rep, newest));
                    (done, before, closing, cm)
                }
            })
            .buffered(cfg.write_concurrency.max(1))
            .map(|(done, before, closing, cm)| {
                m.merge(&cm);
                (done, before, closing)
            })
            .collect()
            .await;
        let mut committed = Vec::with_capacity(results.len());
        for ((car, idxs), (done, before, closing)) in w.cars.iter().zip(results) {
            let (item, rep, newest) = match done {
                Ok(done) => done,
                Err(Failure::Retry) => {
                    batch.fail_samples(idxs);
                    continue;
                }
                // Isolated: the car's samples go to the quarantine with the reason; the
                // records are not failed (no retry gets past it) and the other cars go on.
                Err(Failure::Refused { code, detail }) => {
                    for &i in idxs {
                        let p = &batch.samples[i];
                        let (rec, line_no) = (p.rec, p.line_no);
                        let data = batch.records.records[rec].data;
                        let line = crate::handler::lines(data).nth(line_no).unwrap_or(b"");
                        batch
                            .records
                            .quarantine(rec, line_no, line, code, None, &detail);
                    }
                    continue;
                }
            };
            if let Some(ts) = newest.get() {
                w.newest.see(ts);
            }
            for (si, rej) in &rep.rejected {
                batch.reject_sample(idxs[*si], rej.code.as_str(), rej.field, &rej.detail);
            }
            committed.push((*car, item, before, closing));
        }
        self.put_summaries(
            &mut w.race,
            &w.id,
            committed.iter().map(|(_, i, _, _)| i),
            deadline,
            m,
        )
        .await;
        for (car, item, before, closing) in committed {
            if let Some(newest) = item.outbox.iter().map(|u| u.seq).max() {
                note_closed(out, &item.outbox, before, closing);
                out.to_ack.push(ToAck {
                    race: w.id.clone(),
                    car,
                    records: w.cars[&car].iter().map(|&i| batch.samples[i].rec).collect(),
                    newest,
                });
                out.updates.extend(item.outbox);
            }
        }
    }

    /// The race's silent cars: no records of their own, committed a few at a time (a
    /// silent car's fold moves nothing the others read: no samples, and its summary is
    /// written later). Their summaries are written after the publish, so that a failed
    /// publish leaves them open and the next invocation of the race publishes their
    /// outbox again.
    async fn sweep_silent(
        &self,
        wi: usize,
        w: &mut RaceWork,
        correction: Option<&dyn WindowCorrection>,
        deadline: Instant,
        m: &mut MetricSet,
        out: &mut Committed,
    ) {
        let Some((boundary, cars)) = &w.silent else {
            return;
        };
        let boundary = *boundary;
        let jobs: Vec<(CarId, Option<CarItem>)> =
            cars.iter().map(|c| (*c, w.items.remove(c))).collect();
        let (race, race_id, newest) = (&w.race, w.id.as_str(), w.newest);
        let results: Vec<(CarId, Option<CarItem>, Option<i64>, Instant)> = stream::iter(jobs)
            .map(|(car, stored)| {
                let acked = self.acked_seq(race_id, car);
                let before = newest_stored(stored.as_ref());
                async move {
                    let closing = Instant::now();
                    let mut cm = MetricSet::new("", &[]);
                    let mut newest = newest;
                    let commit = Commit {
                        race,
                        race_id,
                        car,
                        stored,
                        acked,
                        samples: &[],
                        cfg: &self.cfg,
                        correction,
                        deadline,
                        sweep: Some(boundary),
                    };
                    let done = commit_car(&self.store, commit, &mut newest, &mut cm).await;
                    (car, done.ok().map(|(item, _)| item), before, closing, cm)
                }
            })
            .buffered(self.cfg.write_concurrency.max(1))
            .map(|(car, done, before, closing, cm)| {
                m.merge(&cm);
                (car, done, before, closing)
            })
            .collect()
            .await;
        for (car, done, before, closing) in results {
            let Some(mut item) = done else {
                continue;
            };
            m.count("cars_swept_total", 1);
            if let Some(newest) = item.outbox.iter().map(|u| u.seq).max() {
                note_closed(out, &item.outbox, before, closing);
                out.updates.append(&mut item.outbox);
                out.to_ack.push(ToAck {
                    race: w.id.clone(),
                    car,
                    records: Vec::new(),
                    newest,
                });
            }
            out.swept.push((wi, item));
        }
    }

    /// Writes the cars' changed summaries, a few at a time, and sets them in the race
    /// (in the cars' order). A failed write is counted, not fatal: the car's next batch
    /// finds the stored summary stale and writes it again.
    pub(super) async fn put_summaries<'i>(
        &self,
        race: &mut StoredRace,
        race_id: &str,
        items: impl Iterator<Item = &'i CarItem>,
        deadline: Instant,
        m: &mut MetricSet,
    ) {
        let now = (self.cfg.clock)();
        let changed: Vec<(CarId, CarSummary)> = items
            .filter_map(|i| changed_summary(race, i, now).map(|s| (i.state.car, s)))
            .collect();
        if changed.is_empty() {
            return;
        }
        let dl = call_deadline(deadline, self.cfg.reserve);
        let results: Vec<_> = stream::iter(&changed)
            .map(|(car, s)| self.store.put_summary(race_id, *car, s, dl))
            .buffered(self.cfg.write_concurrency.max(1))
            .collect()
            .await;
        for ((car, s), r) in changed.into_iter().zip(results) {
            if let Err(e) = r {
                store_error(m, "put summary", &e);
                m.count("summary_write_failures_total", 1);
            }
            race.set_summary(car, s);
        }
    }
}

/// The race as the cars committed so far leave it, by a fold of each on a copy of its
/// item: what the next car's fold reads.
struct Chain {
    /// `None` once the last car has taken it.
    race: Option<StoredRace>,
    newest: Newest,
    /// Cars still to come.
    left: usize,
}

impl Chain {
    /// What `car`'s fold reads (the race and its newest ts now), and then the chain
    /// moved past the car: its summary and newest ts as its fold leaves them.
    fn next(
        &mut self,
        cfg: &crate::handler::ProcessorConfig,
        car: CarId,
        samples: &[CarSample],
        stored: Option<&CarItem>,
        correction: Option<&dyn WindowCorrection>,
    ) -> (StoredRace, Newest) {
        self.left -= 1;
        if self.left == 0 {
            // The last car: nothing reads what its fold leaves.
            return (self.race.take().expect("one race per car"), self.newest);
        }
        let race = self.race.as_mut().expect("one race per car");
        let before = (race.clone(), self.newest);
        let mut item = stored.cloned().unwrap_or_else(|| race.new_car(car));
        let mut sink: Vec<FuelUpdate> = Vec::new();
        let ctx = race
            .race
            .ctx(cfg.engine.window_ms, &cfg.params, correction, None, None);
        fold_car(
            race,
            &mut item,
            samples,
            &ctx,
            &cfg.engine,
            &mut self.newest,
            &mut sink,
        );
        let summary = summary_of(&item.state);
        race.set_summary(car, summary);
        before
    }
}
