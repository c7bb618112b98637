//! Step 4: every car folded for real and committed with its conditional write, race by
//! race: first the batch's cars, then the race's silent cars.

use burnbar_core::car::WindowCorrection;
use burnbar_core::{CarId, FuelUpdate, RaceState};
use burnbar_metrics::MetricSet;
use tokio::time::Instant;

use super::Processor;
use super::batch::Batch;
use super::correction::Factors;
use super::read::RaceWork;
use crate::commit::{Commit, Failure, commit_car, race_state, update_summary};
use crate::ports::{CarItem, CarStore, Predictor, Publisher, Quarantine, RaceStore};

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

    /// The batch's cars of one race: folded, committed, their summaries written; the
    /// samples the race's rules reject are quarantined.
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
        for (car, idxs) in &w.cars {
            let samples = batch.car_samples(idxs);
            // Taken, not cloned: nothing reads the batch's items after its commit.
            let stored = w.items.remove(car);
            let before = newest_stored(stored.as_ref());
            let closing = Instant::now();
            let acked = self.acked_seq(&w.id, *car);
            let commit = Commit {
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
            };
            let (item, rep) = match commit_car(&self.store, commit, &mut w.newest, m).await {
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
            for (si, rej) in &rep.rejected {
                let p = &batch.samples[idxs[*si]];
                let (rec, line_no) = (p.rec, p.line_no);
                let data = batch.records.records[rec].data;
                let line = crate::handler::lines(data).nth(line_no).unwrap_or(b"");
                batch.records.reject(rec, line_no, line, rej);
            }
            update_summary(&self.store, &mut w.race, &w.id, &item, deadline, cfg, m).await;
            if let Some(newest) = item.outbox.iter().map(|u| u.seq).max() {
                note_closed(out, &item.outbox, before, closing);
                out.updates.extend(item.outbox);
                out.to_ack.push(ToAck {
                    race: w.id.clone(),
                    car: *car,
                    records: idxs.iter().map(|&i| batch.samples[i].rec).collect(),
                    newest,
                });
            }
        }
    }

    /// The race's silent cars: no records of their own. Their summaries are written
    /// after the publish, so that a failed publish leaves them open and the next
    /// invocation of the race publishes their outbox again.
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
        for car in cars {
            let stored = w.items.remove(car);
            let before = newest_stored(stored.as_ref());
            let closing = Instant::now();
            let acked = self.acked_seq(&w.id, *car);
            let commit = Commit {
                race: &w.race,
                race_id: &w.id,
                car: *car,
                stored,
                acked,
                samples: &[],
                cfg: &self.cfg,
                correction,
                deadline,
                sweep: Some(*boundary),
            };
            let Ok((mut item, _)) = commit_car(&self.store, commit, &mut w.newest, m).await else {
                continue;
            };
            m.count("cars_swept_total", 1);
            if let Some(newest) = item.outbox.iter().map(|u| u.seq).max() {
                note_closed(out, &item.outbox, before, closing);
                out.updates.append(&mut item.outbox);
                out.to_ack.push(ToAck {
                    race: w.id.clone(),
                    car: *car,
                    records: Vec::new(),
                    newest,
                });
            }
            out.swept.push((wi, item));
        }
    }
}
