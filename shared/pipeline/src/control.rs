//! The race-control function's work on one Kinesis batch: store each event once, take
//! cars out, and publish the race state when it changed.
//!
//! Events are stored under an id made of their time and content (`burnbar_core::event_key`), with
//! a write that succeeds only for a new id: the same event twice changes nothing. The
//! telemetry-processor reads them with each car's batch and applies each to a car once.
//! A `car_out` is applied here at once (the car's last windows close and it leaves the
//! field), because a car that is out sends no more telemetry to trigger it.

use std::collections::BTreeSet;
use std::future::Future;

use burnbar_core::contract::{Event, EventKind, Record};
use burnbar_core::decode::decode_line;
use burnbar_core::race::{self, UNKNOWN_RACE};
use burnbar_core::{CarId, FuelUpdate, RaceState};
use burnbar_lambda::deadline::call_deadline;
use burnbar_lambda::{BatchHandler, InRecord, Outcome};
use burnbar_metrics::{MetricSet, log};
use serde_json::json;
use tokio::time::Instant;

use crate::commit::{Commit, Failure, commit_car, race_state, store_error, update_summary};
use crate::handler::{CONTROL_COUNTERS, ProcessorConfig, Records, is_blank, lines, zero_counters};
use crate::ports::{CarStore, PortError, Publisher, Quarantine, RaceStore};
use crate::race::{STORED_LINE_MAX, StoredRace, race_of, stored};

/// The race-control function over its ports.
pub struct Control<S, W, Q> {
    pub store: S,
    pub publisher: W,
    pub quarantine: Q,
    pub cfg: ProcessorConfig,
}

/// What the batch's events changed.
#[derive(Default)]
struct Changes {
    /// Races whose state changed.
    races: BTreeSet<String>,
    /// Cars taken out, with the record that did it.
    outs: Vec<(String, CarId, usize)>,
    /// Every stored event's race and record.
    records: Vec<(String, usize)>,
    /// The current race, once read (`Some(None)`: there is none).
    current: Option<Option<String>>,
}

impl Changes {
    /// Fails the records of the events stored for `race_id`.
    fn fail_race(&self, race_id: &str, recs: &mut Records<'_, '_>) {
        for (r, ri) in &self.records {
            if r == race_id {
                recs.fail(*ri);
            }
        }
    }
}

impl<S, W, Q> Control<S, W, Q>
where
    S: CarStore + RaceStore,
    W: Publisher,
    Q: Quarantine,
{
    pub fn new(store: S, publisher: W, quarantine: Q, cfg: ProcessorConfig) -> Self {
        Control {
            store,
            publisher,
            quarantine,
            cfg,
        }
    }

    /// Processes one batch; metrics go to `m`.
    pub async fn handle(
        &self,
        records: &[InRecord<'_>],
        deadline: Instant,
        m: &mut MetricSet,
    ) -> Outcome {
        let dl = call_deadline(deadline, self.cfg.reserve);
        let mut recs = Records::new(records);
        zero_counters(m, CONTROL_COUNTERS);
        let changes = self.store_events(&mut recs, dl, m).await;
        let (mut updates, states) = self
            .take_cars_out(&mut recs, &changes, deadline, dl, m)
            .await;
        if !states.is_empty() || !updates.is_empty() {
            updates.sort_by_key(|u| (u.window_end, u.car));
            self.publish(&mut recs, &changes, &updates, &states, dl, m)
                .await;
        }
        recs.send_to(&self.quarantine, dl, m).await;
        recs.outcome(updates.len())
    }

    /// Decodes every line and stores each event once; a sample or a bad line is
    /// quarantined, an event that cannot be stored fails its record.
    async fn store_events(
        &self,
        recs: &mut Records<'_, '_>,
        dl: Instant,
        m: &mut MetricSet,
    ) -> Changes {
        let mut changes = Changes::default();
        let now = (self.cfg.clock)();
        for (ri, r) in recs.records.iter().enumerate() {
            for (li, line) in lines(r.data).enumerate() {
                if is_blank(line) {
                    continue;
                }
                match decode_line(line) {
                    Ok(Record::Event(e)) => {
                        m.count("events_in_total", 1);
                        // Far ahead of the wall clock, it would become the race's newest
                        // change (the RaceState `ts`) or, a `race_start`, the current race
                        // (the pointer only moves forward).
                        if let Err(rej) = race::admit_by_clock(e.ts, now) {
                            recs.reject(ri, li, line, &rej);
                            continue;
                        }
                        match self.store_event(&e, line, ri, &mut changes, dl, m).await {
                            Ok(()) => {}
                            Err(err) if err.is_retryable() => recs.fail(ri),
                            // No retry stores it: the line is set aside with the reason, and
                            // the shard goes on.
                            Err(err) => recs.quarantine(
                                ri,
                                li,
                                line,
                                "store_refused",
                                None,
                                &err.to_string(),
                            ),
                        }
                    }
                    Ok(Record::Sample(_)) => recs.quarantine(
                        ri,
                        li,
                        line,
                        "wrong_stream",
                        Some("kind"),
                        "a telemetry sample on the race-control stream: send it to the telemetry stream",
                    ),
                    Err(rej) => recs.reject(ri, li, line, &rej),
                }
            }
        }
        changes
    }

    /// Stores one event in its race (the current race when it names none) and notes
    /// what it changed; the error when its race or the write failed.
    async fn store_event(
        &self,
        e: &Event,
        line: &[u8],
        ri: usize,
        changes: &mut Changes,
        dl: Instant,
        m: &mut MetricSet,
    ) -> Result<(), PortError> {
        let is_start = matches!(e.kind, EventKind::RaceStart(_));
        let race_id = match race_of(e) {
            Some(id) => id.to_owned(),
            None => {
                if changes.current.is_none() {
                    match self.store.current_race(dl).await {
                        Ok(c) => changes.current = Some(c),
                        Err(err) => {
                            store_error(m, "current race", &err);
                            return Err(err);
                        }
                    }
                }
                changes
                    .current
                    .clone()
                    .flatten()
                    .unwrap_or_else(|| UNKNOWN_RACE.to_owned())
            }
        };
        let row = stored(e, line);
        if line.trim_ascii().len() > STORED_LINE_MAX {
            m.count("events_stored_canonical_total", 1);
        }
        let new = match self.store.put_event(&race_id, &row, is_start, dl).await {
            Ok(new) => new,
            Err(err) => {
                store_error(m, "put event", &err);
                return Err(err);
            }
        };
        m.count(
            if new {
                "events_new_total"
            } else {
                "events_duplicate_total"
            },
            1,
        );
        if is_start {
            changes.current = Some(Some(race_id.clone()));
        }
        // A re-delivered event publishes again (harmless: the same state), so a publish
        // that failed the first time is not lost.
        match &e.kind {
            EventKind::RaceStart(_) | EventKind::Flag { .. } | EventKind::StageEnd { .. } => {
                changes.races.insert(race_id.clone());
            }
            EventKind::CarOut { car, .. } => {
                changes.races.insert(race_id.clone());
                changes.outs.push((race_id.clone(), *car, ri));
            }
            _ => {}
        }
        changes.records.push((race_id, ri));
        Ok(())
    }

    /// Takes the cars out (their last windows close) and builds each changed race's
    /// state: the updates and states to publish.
    async fn take_cars_out(
        &self,
        recs: &mut Records<'_, '_>,
        changes: &Changes,
        deadline: Instant,
        dl: Instant,
        m: &mut MetricSet,
    ) -> (Vec<FuelUpdate>, Vec<RaceState>) {
        let mut updates: Vec<FuelUpdate> = Vec::new();
        let mut states = Vec::new();
        for race_id in &changes.races {
            let mut race = match self.store.load_race(race_id, dl).await {
                Ok(v) => StoredRace::from_view(&v),
                Err(err) => {
                    store_error(m, "load race", &err);
                    changes.fail_race(race_id, recs);
                    continue;
                }
            };
            for (_, car, ri) in changes.outs.iter().filter(|(r, _, _)| r == race_id) {
                match self
                    .take_out(&mut race, race_id, *car, deadline, dl, m)
                    .await
                {
                    Ok(outbox) => updates.extend(outbox),
                    Err(Failure::Retry) => recs.fail(*ri),
                    // The event is stored; the car's state cannot be written (counted and
                    // logged where it was refused): no retry of the record changes that.
                    Err(Failure::Refused { .. }) => {}
                }
            }
            states.push(race_state(&race, &self.cfg, m));
        }
        (updates, states)
    }

    /// Closes a car's last windows and retires it, committed with its conditional
    /// write: its outbox (the updates to publish), or why it could not be read or
    /// written. `deadline` is the invocation's, `dl` the one for reading the car.
    async fn take_out(
        &self,
        race: &mut StoredRace,
        race_id: &str,
        car: CarId,
        deadline: Instant,
        dl: Instant,
        m: &mut MetricSet,
    ) -> Result<Vec<FuelUpdate>, Failure> {
        let cfg = &self.cfg;
        let stored = match self.store.load_cars(race_id, &[car], dl).await {
            Ok(mut items) => items.remove(&car),
            // The car's item does not decode: retrying cannot help, and the event is
            // stored, so the car's own fold applies it once the item reads again. The
            // record goes on (failing it would hold the shard's later events).
            Err(err) if !err.is_retryable() => {
                store_error(m, "load car", &err);
                m.count("cars_undecodable_total", 1);
                return Ok(Vec::new());
            }
            Err(err) => {
                store_error(m, "load car", &err);
                return Err(Failure::Retry);
            }
        };
        let mut newest = race.race.newest;
        let commit = Commit {
            race,
            race_id,
            car,
            stored,
            acked: None,
            samples: &[],
            cfg,
            correction: None,
            deadline,
            sweep: None,
        };
        let (item, _) = commit_car(&self.store, commit, &mut newest, m).await?;
        update_summary(&self.store, race, race_id, &item, deadline, cfg, m).await;
        Ok(item.outbox)
    }

    /// Publishes the updates and states; a failure fails the records of every changed
    /// race's events (delivered again, they publish again).
    async fn publish(
        &self,
        recs: &mut Records<'_, '_>,
        changes: &Changes,
        updates: &[FuelUpdate],
        states: &[RaceState],
        dl: Instant,
        m: &mut MetricSet,
    ) {
        match self.publisher.publish(updates, states, dl).await {
            Ok(()) => {
                m.count("race_states_published_total", states.len() as u64);
                m.count("updates_published_total", updates.len() as u64);
            }
            Err(err) => {
                m.count("publish_failures_total", 1);
                log(
                    "error",
                    "publish failed: events will be delivered again",
                    None,
                    &[("error", json!(err.to_string()))],
                );
                for (r, ri) in &changes.records {
                    if changes.races.contains(r) {
                        recs.fail(*ri);
                    }
                }
            }
        }
    }
}

impl<S, W, Q> BatchHandler for Control<S, W, Q>
where
    S: CarStore + RaceStore,
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
