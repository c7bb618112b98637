//! The race-control function's work on one Kinesis batch: store each event once, take
//! cars out, and publish the race state when it changed.
//!
//! Events are stored under an id made of their time and content (`burnbar_core::event_key`), with
//! a write that succeeds only for a new id: the same event twice changes nothing. The
//! telemetry-processor reads them with each car's batch and applies each to a car once.
//! A `car_out` is applied here at once (the car's last windows close and it leaves the
//! field), because a car that is out sends no more telemetry to trigger it.

use std::collections::BTreeSet;

use burnbar_core::contract::{EventKind, Record};
use burnbar_core::decode::decode_line;
use burnbar_core::race::UNKNOWN_RACE;
use burnbar_core::{CarId, FuelUpdate};
use burnbar_metrics::{MetricSet, log};
use serde_json::json;
use tokio::time::Instant;

use crate::commit::{Commit, call_deadline, commit_car, store_error, update_summary};
use crate::ports::{CarStore, Publisher, Quarantine, Quarantined, RaceStore};
use crate::processor::{InRecord, Outcome, ProcessorConfig};
use crate::race::{StoredRace, race_of, stored};

/// The race-control function over its ports.
pub struct Control<S, W, Q> {
    pub store: S,
    pub publisher: W,
    pub quarantine: Q,
    pub cfg: ProcessorConfig,
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
        let cfg = &self.cfg;
        let dl = call_deadline(deadline, cfg.reserve);
        let mut failed = vec![false; records.len()];
        let mut quarantined: Vec<(usize, Quarantined)> = Vec::new();
        for name in [
            "events_in_total",
            "events_new_total",
            "events_duplicate_total",
            "records_rejected_total",
            "publish_failures_total",
        ] {
            m.count(name, 0);
        }
        // Races whose state changed, and cars taken out (with the record that did it).
        let mut changed: BTreeSet<String> = BTreeSet::new();
        let mut outs: Vec<(String, CarId, usize)> = Vec::new();
        let mut race_records: Vec<(String, usize)> = Vec::new();
        let mut current: Option<Option<String>> = None;
        for (ri, r) in records.iter().enumerate() {
            for (li, line) in r.data.split(|&b| b == b'\n').enumerate() {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let e = match decode_line(line) {
                    Ok(Record::Event(e)) => e,
                    Ok(Record::Sample(_)) => {
                        quarantined.push((
                            ri,
                            crate::processor::quarantine_entry(
                                r,
                                li,
                                line,
                                "wrong_stream",
                                Some("kind"),
                                "a telemetry sample on the race-control stream: send it to the telemetry stream",
                            ),
                        ));
                        continue;
                    }
                    Err(rej) => {
                        quarantined.push((ri, crate::processor::reject_entry(r, li, line, &rej)));
                        continue;
                    }
                };
                m.count("events_in_total", 1);
                let is_start = matches!(e.kind, EventKind::RaceStart(_));
                let race_id = match race_of(&e) {
                    Some(id) => id.to_owned(),
                    None => {
                        if current.is_none() {
                            match self.store.current_race(dl).await {
                                Ok(c) => current = Some(c),
                                Err(err) => {
                                    store_error(m, "current race", &err);
                                    failed[ri] = true;
                                    continue;
                                }
                            }
                        }
                        current
                            .clone()
                            .flatten()
                            .unwrap_or_else(|| UNKNOWN_RACE.to_owned())
                    }
                };
                match self
                    .store
                    .put_event(&race_id, &stored(&e, line), is_start, dl)
                    .await
                {
                    Ok(new) => {
                        m.count(
                            if new {
                                "events_new_total"
                            } else {
                                "events_duplicate_total"
                            },
                            1,
                        );
                        if is_start {
                            current = Some(Some(race_id.clone()));
                        }
                        // A re-delivered event publishes again (harmless: the same state),
                        // so a publish that failed the first time is not lost.
                        match &e.kind {
                            EventKind::RaceStart(_)
                            | EventKind::Flag { .. }
                            | EventKind::StageEnd { .. } => {
                                changed.insert(race_id.clone());
                            }
                            EventKind::CarOut { car, .. } => {
                                changed.insert(race_id.clone());
                                outs.push((race_id.clone(), *car, ri));
                            }
                            _ => {}
                        }
                        race_records.push((race_id, ri));
                    }
                    Err(err) => {
                        store_error(m, "put event", &err);
                        failed[ri] = true;
                    }
                }
            }
        }

        // Take cars out and build each changed race's state.
        let mut updates: Vec<FuelUpdate> = Vec::new();
        let mut states = Vec::new();
        for race_id in &changed {
            let mut race = match self.store.load_race(race_id, dl).await {
                Ok(v) => StoredRace::from_view(&v),
                Err(err) => {
                    store_error(m, "load race", &err);
                    for (r, ri) in &race_records {
                        if r == race_id {
                            failed[*ri] = true;
                        }
                    }
                    continue;
                }
            };
            for (_, car, ri) in outs.iter().filter(|(r, _, _)| r == race_id) {
                let stored = match self.store.load_cars(race_id, &[*car], dl).await {
                    Ok(mut items) => items.remove(car),
                    Err(err) => {
                        store_error(m, "load car", &err);
                        failed[*ri] = true;
                        continue;
                    }
                };
                let mut newest = race.race.newest;
                let committed = commit_car(
                    &self.store,
                    Commit {
                        race: &race,
                        race_id,
                        car: *car,
                        stored,
                        acked: None,
                        samples: &[],
                        cfg,
                        correction: None,
                        deadline,
                        sweep: None,
                    },
                    &mut newest,
                    m,
                )
                .await;
                match committed {
                    Some((item, _)) => {
                        updates.extend(item.outbox.iter().cloned());
                        update_summary(&self.store, &mut race, race_id, &item, deadline, cfg, m)
                            .await;
                    }
                    None => failed[*ri] = true,
                }
            }
            states.push(race.state(cfg.engine.cant_make_it_pct));
        }
        if !states.is_empty() || !updates.is_empty() {
            updates.sort_by_key(|u| (u.window_end, u.car));
            match self.publisher.publish(&updates, &states, dl).await {
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
                    for (r, ri) in &race_records {
                        if changed.contains(r) {
                            failed[*ri] = true;
                        }
                    }
                }
            }
        }
        crate::processor::quarantine_all(&self.quarantine, &quarantined, &mut failed, dl, m).await;
        Outcome {
            first_failed: failed
                .iter()
                .position(|&f| f)
                .map(|i| records[i].sequence_number.to_owned()),
            published: updates.len(),
        }
    }
}
