//! Step 2: each race the batch names, read with its cars in two round trips: the race
//! (events, summaries) and the items of the batch's cars and of the race's silent cars.
//!
//! Bounded whatever the batch holds: the cars read are those the race already knows plus
//! at most as many new ones as the race can still take ([`MAX_CARS`]; the rest are
//! refused as `too_many_cars` without a read), and the silent cars swept are at most
//! [`ProcessorConfig::sweep_max`] per race and invocation (the longest quiet first; the
//! others are left for the next invocation). A car whose stored item does not decode is
//! isolated: its samples are quarantined as `car_state_undecodable` and the race's other
//! cars go on.
//!
//! [`ProcessorConfig::sweep_max`]: crate::handler::ProcessorConfig::sweep_max

use std::collections::{BTreeMap, BTreeSet};

use burnbar_core::CarId;
use burnbar_core::race::{MAX_CARS, Newest};
use burnbar_metrics::{MetricSet, log};
use serde_json::json;
use tokio::time::Instant;

use super::Processor;
use super::batch::Batch;
use crate::commit::store_error;
use crate::ports::{
    CarItem, CarRead, CarStore, PortError, Predictor, Publisher, Quarantine, RaceStore,
};
use crate::race::StoredRace;

/// One race of the batch, as read.
pub(super) struct RaceWork {
    pub id: String,
    pub race: StoredRace,
    /// The stored items of the batch's cars and of the silent cars (a car never stored
    /// is missing).
    pub items: BTreeMap<CarId, CarItem>,
    /// The batch's cars: their samples' indices.
    pub cars: BTreeMap<CarId, Vec<usize>>,
    /// The race's newest `ts`, moved by the samples as they are folded.
    pub newest: Newest,
    /// Silent cars of the race to close up to the boundary.
    pub silent: Option<(i64, Vec<CarId>)>,
}

/// The silent cars' boundary and the cars to close up to it.
type Silent = Option<(i64, Vec<CarId>)>;

/// The quarantine's code for the samples of a car whose stored item does not decode.
pub const CAR_STATE_UNDECODABLE: &str = "car_state_undecodable";

/// A race as read: the race, its cars' items (decoded or not) and its silent cars.
type ReadRace = (StoredRace, BTreeMap<CarId, CarRead>, Silent);

impl RaceWork {
    fn new(
        id: String,
        race: StoredRace,
        items: BTreeMap<CarId, CarItem>,
        cars: BTreeMap<CarId, Vec<usize>>,
        silent: Silent,
        m: &mut MetricSet,
    ) -> RaceWork {
        m.count("stored_events_undecodable_total", race.undecodable as u64);
        // A silent car read as absent (expired) has nothing to close.
        let silent = silent.map(|(b, cs)| {
            (
                b,
                cs.into_iter().filter(|c| items.contains_key(c)).collect(),
            )
        });
        // The race's newest ts: its events, every car's summary, and the batch's cars
        // as stored (their summaries may lag a failed write).
        let mut newest = race.race.newest;
        for ts in items.values().filter_map(|i| i.state.max_ts) {
            newest.see(ts);
        }
        RaceWork {
            id,
            race,
            items,
            cars,
            newest,
            silent,
        }
    }
}

impl<S, P, W, Q> Processor<S, P, W, Q>
where
    S: CarStore + RaceStore,
    P: Predictor,
    W: Publisher,
    Q: Quarantine,
{
    /// Reads every race of the batch; a race that cannot be read fails its records.
    pub(super) async fn read(
        &self,
        batch: &mut Batch<'_, '_>,
        deadline: Instant,
        m: &mut MetricSet,
    ) -> Vec<RaceWork> {
        let mut work = Vec::new();
        for (id, cars) in batch.group() {
            match self.read_race(&id, &cars, deadline, m).await {
                Ok((race, reads, silent)) => {
                    let (items, cars) = isolate_undecodable(batch, &id, reads, cars, m);
                    let cars = refuse_cars(batch, &race, cars, &items);
                    work.push(RaceWork::new(id, race, items, cars, silent, m));
                }
                Err(e) => {
                    store_error(m, "load race", &e);
                    batch.fail_samples(cars.values().flatten());
                }
            }
        }
        work
    }

    /// The race, its silent cars (at most `sweep_max`), and the items of the batch's
    /// cars the race can take and of the silent cars.
    async fn read_race(
        &self,
        id: &str,
        cars: &BTreeMap<CarId, Vec<usize>>,
        deadline: Instant,
        m: &mut MetricSet,
    ) -> Result<ReadRace, PortError> {
        let cfg = &self.cfg;
        let quiet_ms = cfg.silent_quiet.as_millis() as i64;
        let view = self.store.load_race(id, deadline).await?;
        let race = StoredRace::from_view(&view);
        let silent = race.silent_cars(&cfg.engine, (cfg.clock)(), quiet_ms, cars);
        let silent = bound_sweep(&race, silent, cfg.sweep_max, m);
        let mut keys = cars_to_read(&race, cars);
        keys.extend(silent.iter().flat_map(|(_, c)| c));
        let items = self.store.load_cars_each(id, &keys, deadline).await?;
        Ok((race, items, silent))
    }
}

/// The batch's cars whose items are worth reading: every car the race knows (by its
/// `race_start` or a summary), and of the others, in car order, as many as the race can
/// still take. A car past that is refused as `too_many_cars` whatever its item holds, so
/// 100,000 made-up car ids cost no more reads than 200 (a car stored without a summary,
/// whose summary write failed, is read while the race has room for it).
fn cars_to_read(race: &StoredRace, cars: &BTreeMap<CarId, Vec<usize>>) -> Vec<CarId> {
    let mut known: BTreeSet<CarId> = race.summaries.keys().copied().collect();
    known.extend(race.race.start_cars.iter().copied());
    let mut room = MAX_CARS.saturating_sub(known.len());
    cars.keys()
        .copied()
        .filter(|c| {
            if known.contains(c) {
                return true;
            }
            let take = room > 0;
            room = room.saturating_sub(1);
            take
        })
        .collect()
}

/// At most `max` silent cars, those whose summaries have gone unwritten the longest
/// first: a sweep writes each one's summary (no longer open), so the next invocation of
/// the race takes the next ones. The others are counted (`cars_sweep_deferred_total`).
fn bound_sweep(race: &StoredRace, silent: Silent, max: usize, m: &mut MetricSet) -> Silent {
    let (boundary, mut cars) = silent?;
    if cars.len() > max {
        cars.sort_by_key(|c| (race.summaries.get(c).map_or(0, |s| s.written_ms), *c));
        m.count("cars_sweep_deferred_total", (cars.len() - max) as u64);
        cars.truncate(max);
        cars.sort();
    }
    (!cars.is_empty()).then_some((boundary, cars))
}

/// The cars' items as read, less those that do not decode: a permanent error of that
/// car alone. Its samples in the batch are quarantined with the reason (the item is left
/// as it is: a state this build cannot read is never overwritten, so rolling the deploy
/// back or repairing the item brings the car back with its real state, and the
/// quarantined samples can be redriven then); a silent car of that kind is not swept.
/// Each such car is counted (`cars_undecodable_total`) and logged.
fn isolate_undecodable(
    batch: &mut Batch<'_, '_>,
    race_id: &str,
    reads: BTreeMap<CarId, CarRead>,
    mut cars: BTreeMap<CarId, Vec<usize>>,
    m: &mut MetricSet,
) -> (BTreeMap<CarId, CarItem>, BTreeMap<CarId, Vec<usize>>) {
    let mut items = BTreeMap::new();
    for (car, read) in reads {
        let e = match read {
            Ok(item) => {
                items.insert(car, item);
                continue;
            }
            Err(e) => e,
        };
        m.count("cars_undecodable_total", 1);
        log(
            "error",
            "a car's stored state does not decode: its samples are quarantined until it is readable",
            None,
            &[
                ("race_id", json!(race_id)),
                ("car", json!(car.as_str())),
                ("error", json!(e.to_string())),
            ],
        );
        let detail = format!(
            "the stored state of car {car} in race {race_id} does not decode ({e}): the \
             sample is kept here; redrive it once a build that reads the item is deployed or \
             the item is repaired"
        );
        for i in cars.remove(&car).unwrap_or_default() {
            batch.reject_sample(i, CAR_STATE_UNDECODABLE, None, &detail);
        }
    }
    (items, cars)
}

/// The batch's cars less those the race cannot take ([`StoredRace::refused_cars`]):
/// their samples are rejected with the reason.
fn refuse_cars(
    batch: &mut Batch<'_, '_>,
    race: &StoredRace,
    mut cars: BTreeMap<CarId, Vec<usize>>,
    items: &BTreeMap<CarId, CarItem>,
) -> BTreeMap<CarId, Vec<usize>> {
    for (car, rej) in race.refused_cars(cars.keys().copied(), items) {
        for i in cars.remove(&car).unwrap_or_default() {
            batch.reject_sample(i, rej.code.as_str(), rej.field, &rej.detail);
        }
    }
    cars
}
