//! Step 5: every committed update and the races' states in one call to the publisher;
//! then the silent cars' summaries, once their updates are out.

use burnbar_lambda::deadline::call_deadline;
use burnbar_metrics::{MetricSet, Unit, log};
use serde_json::json;
use tokio::time::Instant;

use super::Processor;
use super::batch::Batch;
use super::commit::Committed;
use super::read::RaceWork;
use crate::ports::{CarStore, Predictor, Publisher, Quarantine, RaceStore};

impl<S, P, W, Q> Processor<S, P, W, Q>
where
    S: CarStore + RaceStore,
    P: Predictor,
    W: Publisher,
    Q: Quarantine,
{
    /// Publishes what was committed (nothing to publish: no call) and returns how many
    /// updates went out. A failed publish fails the records of every car in it: their
    /// outboxes keep the updates for the redelivery.
    pub(super) async fn publish(
        &self,
        batch: &mut Batch<'_, '_>,
        races: &mut [RaceWork],
        mut c: Committed,
        deadline: Instant,
        m: &mut MetricSet,
    ) -> usize {
        let mut published = 0;
        let mut publish_ok = true;
        if !c.updates.is_empty() {
            c.updates.sort_by_key(|u| (u.window_end, u.car));
            match self
                .publisher
                .publish(
                    &c.updates,
                    &c.states,
                    call_deadline(deadline, self.cfg.reserve),
                )
                .await
            {
                Ok(()) => {
                    published = c.updates.len();
                    m.count("updates_published_total", published as u64);
                    // The writer answered 200 once AppSync took every mutation: that
                    // answer is the acknowledgement each closed window waited for.
                    let acked = Instant::now();
                    for at in &c.closed_at {
                        m.sample(
                            "window_close_to_ack_ms",
                            Unit::Milliseconds,
                            acked.saturating_duration_since(*at).as_secs_f64() * 1000.0,
                        );
                    }
                    self.acknowledge(c.to_ack.iter().map(|a| (a.race.as_str(), a.car, a.newest)));
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
                    for a in &c.to_ack {
                        for &r in &a.records {
                            batch.records.fail(r);
                        }
                    }
                }
            }
        }
        if publish_ok {
            for (wi, w) in races.iter_mut().enumerate() {
                let swept = c
                    .swept
                    .iter()
                    .filter(|(i, _)| *i == wi)
                    .map(|(_, item)| item);
                self.put_summaries(&mut w.race, &w.id, swept, deadline, m)
                    .await;
            }
        }
        published
    }
}
