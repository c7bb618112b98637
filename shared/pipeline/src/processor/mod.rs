//! The telemetry-processor's work on one Kinesis batch, in five steps, one file each
//! ([`Processor::handle`] runs them in order):
//!
//! 1. `batch`: every line of every record decoded; a bad line is quarantined with its
//!    reason and counted, and the rest go on. Samples without a `race_id` join the
//!    current race.
//! 2. `read`: group samples by race and car; read each race (events, figures) and its
//!    cars' items, one round trip each, with the race's silent cars.
//! 3. `correction`: with a predictor, fold every car on a copy to learn which windows
//!    this batch closes and their features, and ask for all their factors in one call
//!    (the breaker and the physics fallback decide what happens when it fails).
//! 4. `commit`: fold each car for real (the factors decide each window's burn as it
//!    closes) and write it back with one conditional write; a conflict re-reads and
//!    re-applies. The decided updates are committed in the car's outbox with the state
//!    that counts them, so a window's burn is decided once, before it is published.
//! 5. `publish`: every committed update (and the race states) in one call; the outbox
//!    makes a failed publish a retry, never a loss.
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

mod batch;
mod commit;
mod correction;
mod publish;
mod read;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use burnbar_core::CarId;
use burnbar_lambda::deadline::call_deadline;
use burnbar_lambda::{BatchHandler, InRecord, Outcome};
use burnbar_metrics::MetricSet;
use tokio::time::Instant;

use crate::breaker::Breaker;
use crate::handler::{PROCESSOR_COUNTERS, ProcessorConfig, zero_counters};
use crate::ports::{CarStore, PortError, Predictor, Publisher, Quarantine, RaceStore};

use batch::Batch;

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
        zero_counters(m, PROCESSOR_COUNTERS);
        m.count("kinesis_records_total", records.len() as u64);
        let mut batch = Batch::decode(records, (self.cfg.clock)(), m);
        self.name_current_race(&mut batch, deadline, m).await;
        let mut races = self.read(&mut batch, deadline, m).await;
        let factors = self.correction(&batch, &races, deadline, m).await;
        let committed = self
            .commit(&mut batch, &mut races, factors.as_ref(), deadline, m)
            .await;
        let published = self
            .publish(&mut batch, &mut races, committed, deadline, m)
            .await;
        let dl = call_deadline(deadline, self.cfg.reserve);
        batch.records.send_to(&self.quarantine, dl, m).await;
        batch.records.outcome(published)
    }

    /// The newest `seq` the writer acknowledged for the car, as this instance knows.
    fn acked_seq(&self, race_id: &str, car: CarId) -> Option<i64> {
        self.acked
            .lock()
            .expect("acked lock")
            .get(&(race_id.to_owned(), car))
            .copied()
    }

    /// Remembers the newest `seq` the writer acknowledged for each car.
    fn acknowledge<'c>(&self, cars: impl Iterator<Item = (&'c str, CarId, i64)>) {
        let mut acked = self.acked.lock().expect("acked lock");
        if acked.len() > ACKED_MAX {
            acked.clear();
        }
        for (race, car, newest) in cars {
            acked.insert((race.to_owned(), car), newest);
        }
    }

    /// The race of the latest `race_start`, cached for [`CURRENT_TTL`].
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

impl<S, P, W, Q> BatchHandler for Processor<S, P, W, Q>
where
    S: CarStore + RaceStore,
    P: Predictor,
    W: Publisher,
    Q: Quarantine,
{
    fn handle_batch<'a>(
        &'a self,
        records: &'a [InRecord<'a>],
        deadline: Instant,
        m: &'a mut MetricSet,
    ) -> impl Future<Output = Outcome> + 'a {
        self.handle(records, deadline, m)
    }
}
