//! Step 2: each race the batch names, read with its cars in two round trips: the race
//! (events, summaries) and the items of the batch's cars and of the race's silent cars.

use std::collections::BTreeMap;

use burnbar_core::CarId;
use burnbar_core::race::Newest;
use burnbar_lambda::clock::now_ms;
use burnbar_metrics::MetricSet;
use tokio::time::Instant;

use super::Processor;
use super::batch::Batch;
use crate::commit::store_error;
use crate::handler::lines;
use crate::ports::{CarItem, CarStore, PortError, Predictor, Publisher, Quarantine, RaceStore};
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
            match self.read_race(&id, &cars, deadline).await {
                Ok((race, items, silent)) => {
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

    /// The race, its silent cars, and the items of `cars` and of the silent cars.
    async fn read_race(
        &self,
        id: &str,
        cars: &BTreeMap<CarId, Vec<usize>>,
        deadline: Instant,
    ) -> Result<(StoredRace, BTreeMap<CarId, CarItem>, Silent), PortError> {
        let cfg = &self.cfg;
        let quiet_ms = cfg.silent_quiet.as_millis() as i64;
        let view = self.store.load_race(id, deadline).await?;
        let race = StoredRace::from_view(&view);
        let silent = race.silent_cars(&cfg.engine, now_ms(), quiet_ms, cars);
        let mut keys: Vec<CarId> = cars.keys().copied().collect();
        keys.extend(silent.iter().flat_map(|(_, c)| c));
        let items = self.store.load_cars(id, &keys, deadline).await?;
        Ok((race, items, silent))
    }
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
            let (rec, line_no) = (batch.samples[i].rec, batch.samples[i].line_no);
            let line = lines(batch.records.records[rec].data)
                .nth(line_no)
                .unwrap_or(b"");
            batch.records.reject(rec, line_no, line, &rej);
        }
    }
    cars
}
