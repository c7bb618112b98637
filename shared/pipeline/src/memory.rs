//! In-memory adapters (feature `testkit`): the same ports as DynamoDB, the writer API,
//! SQS and AppSync, for handler tests and benchmarks. The store keeps versions and
//! answers a stale write with a conflict as DynamoDB's conditional write does; faults
//! can be switched on to exercise the handlers' failure paths.

#[cfg(feature = "writer")]
mod appsync;
#[cfg(feature = "writer")]
pub use appsync::{MemoryAppSync, Mutation};

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use burnbar_core::car::WindowFeatures;
use burnbar_core::{CarId, FuelUpdate, RaceState};
use tokio::time::Instant;

use serde::{Deserialize, Serialize};

use crate::item::{
    DYNAMO_ITEM_MAX_BYTES, blob_len, car_item_bytes, decode_blob, encode_blob, write_units,
};
use crate::ports::{
    CarItem, CarRead, CarStore, CarSummary, PortError, Predictor, Publisher, Quarantine,
    Quarantined, RaceStore, RaceView, Saved, StoredEvent,
};

#[derive(Debug, Default, Clone)]
struct Inner {
    cars: BTreeMap<(String, CarId), CarItem>,
    /// Car items stored as raw blobs with their version ([`MemoryStore::put_blob`]):
    /// decoded on every read as the DynamoDB adapter decodes its items, so that a blob
    /// this build cannot read answers that car's read with its permanent error.
    blobs: BTreeMap<(String, CarId), (u64, Vec<u8>)>,
    starts: BTreeMap<String, StoredEvent>,
    events: BTreeMap<String, BTreeMap<String, StoredEvent>>,
    summaries: BTreeMap<String, BTreeMap<CarId, CarSummary>>,
    current: Option<String>,
    /// `ts` of the current race's `race_start`: as in DynamoDB, the pointer only moves
    /// forward in time.
    current_ts: Option<i64>,
}

/// Car and race state in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    /// Saves of these cars fail with the error (once each).
    fail_saves: Mutex<HashMap<CarId, PortError>>,
    /// The next event put fails with this error (once).
    fail_event: Mutex<Option<PortError>>,
    /// Saves of these cars meet a concurrent writer first (a conflict), once each.
    conflict_saves: Mutex<HashMap<CarId, u32>>,
    /// Counts of calls, for assertions on round trips (and `load_cars_keys`, the keys
    /// asked for; `save_car_in_flight_max`, the most saves in flight at once).
    pub calls: Mutex<BTreeMap<&'static str, u64>>,
    /// Saves in flight now.
    saves_in_flight: Mutex<u64>,
}

/// A future that is pending once (waking itself): a store call that lets the caller's
/// other calls start before it answers, as a network round trip does.
struct YieldOnce(bool);

impl std::future::Future for YieldOnce {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// A copy of the stored items (no faults armed, no calls counted): a benchmark's
    /// starting point, restored for every round.
    pub fn snapshot(&self) -> MemoryStore {
        MemoryStore {
            inner: Mutex::new(self.inner.lock().unwrap().clone()),
            ..MemoryStore::default()
        }
    }

    /// Replaces this store's items with `other`'s.
    pub fn restore_from(&self, other: &MemoryStore) {
        let items = other.inner.lock().unwrap().clone();
        *self.inner.lock().unwrap() = items;
    }

    /// Everything the store holds, with each car item as the blob the DynamoDB adapter
    /// writes: a fixture of one version's stored items, for a later version to read
    /// (a deploy in the middle of a race).
    pub fn dump(&self) -> Result<StoreDump, PortError> {
        let inner = self.inner.lock().unwrap();
        let mut cars = inner
            .cars
            .iter()
            .map(|((race, car), item)| {
                Ok(DumpedCar {
                    race: race.clone(),
                    car: *car,
                    version: item.version,
                    blob: hex(&encode_blob(item)?),
                })
            })
            .collect::<Result<Vec<_>, PortError>>()?;
        cars.extend(
            inner
                .blobs
                .iter()
                .map(|((race, car), (version, blob))| DumpedCar {
                    race: race.clone(),
                    car: *car,
                    version: *version,
                    blob: hex(blob),
                }),
        );
        Ok(StoreDump {
            cars,
            starts: inner.starts.clone(),
            events: inner
                .events
                .iter()
                .map(|(r, m)| (r.clone(), m.values().cloned().collect()))
                .collect(),
            summaries: inner.summaries.clone(),
            current: inner.current.clone(),
        })
    }

    /// A store holding a dump's items, each car blob decoded as this build reads it.
    pub fn from_dump(d: &StoreDump) -> Result<MemoryStore, PortError> {
        let mut inner = Inner {
            starts: d.starts.clone(),
            summaries: d.summaries.clone(),
            current: d.current.clone(),
            current_ts: d
                .current
                .as_ref()
                .and_then(|r| d.starts.get(r))
                .map(|s| s.ts),
            ..Inner::default()
        };
        for c in &d.cars {
            let blob = unhex(&c.blob)
                .ok_or_else(|| PortError::Permanent(format!("car {}: blob is not hex", c.car)))?;
            inner
                .cars
                .insert((c.race.clone(), c.car), decode_blob(&blob, c.version)?);
        }
        for (race, evs) in &d.events {
            inner.events.insert(
                race.clone(),
                evs.iter().map(|e| (e.id.clone(), e.clone())).collect(),
            );
        }
        Ok(MemoryStore {
            inner: Mutex::new(inner),
            ..MemoryStore::default()
        })
    }

    /// Stores `car`'s item as a raw blob at `version` (another build's format, corrupted
    /// bytes, or a repair): every read decodes it with [`decode_blob`]; a save that
    /// matches its version replaces it.
    pub fn put_blob(&self, race: &str, car: CarId, version: u64, blob: Vec<u8>) {
        let mut inner = self.inner.lock().unwrap();
        let key = (race.to_owned(), car);
        inner.cars.remove(&key);
        inner.blobs.insert(key, (version, blob));
    }

    /// The next save of `car` fails with `e`.
    pub fn fail_next_save(&self, car: CarId, e: PortError) {
        self.fail_saves.lock().unwrap().insert(car, e);
    }

    /// The next event put fails with `e`.
    pub fn fail_next_event(&self, e: PortError) {
        *self.fail_event.lock().unwrap() = Some(e);
    }

    /// The next `n` saves of `car` find that someone else wrote it since it was read
    /// (the stored version moves on, as a concurrent writer's would).
    pub fn conflict_next_saves(&self, car: CarId, n: u32) {
        self.conflict_saves.lock().unwrap().insert(car, n);
    }

    /// A car's stored item.
    pub fn car(&self, race: &str, car: CarId) -> Option<CarItem> {
        self.inner
            .lock()
            .unwrap()
            .cars
            .get(&(race.to_owned(), car))
            .cloned()
    }

    /// Every stored car item, by race and car.
    pub fn cars(&self) -> BTreeMap<(String, CarId), CarItem> {
        self.inner.lock().unwrap().cars.clone()
    }

    /// Stored events of a race.
    pub fn events(&self, race: &str) -> Vec<StoredEvent> {
        self.inner
            .lock()
            .unwrap()
            .events
            .get(race)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    fn call(&self, name: &'static str) {
        *self.calls.lock().unwrap().entry(name).or_default() += 1;
    }
}

/// A store's items as written ([`MemoryStore::dump`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreDump {
    pub cars: Vec<DumpedCar>,
    pub starts: BTreeMap<String, StoredEvent>,
    pub events: BTreeMap<String, Vec<StoredEvent>>,
    pub summaries: BTreeMap<String, BTreeMap<CarId, CarSummary>>,
    pub current: Option<String>,
}

/// One car item as written: its key, version and blob (hex).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DumpedCar {
    pub race: String,
    pub car: CarId,
    pub version: u64,
    pub blob: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

impl CarStore for MemoryStore {
    async fn load_cars_each(
        &self,
        race_id: &str,
        cars: &[CarId],
        _: Instant,
    ) -> Result<BTreeMap<CarId, CarRead>, PortError> {
        self.call("load_cars");
        *self
            .calls
            .lock()
            .unwrap()
            .entry("load_cars_keys")
            .or_default() += cars.len() as u64;
        let inner = self.inner.lock().unwrap();
        Ok(cars
            .iter()
            .filter_map(|c| {
                let key = (race_id.to_owned(), *c);
                if let Some((version, blob)) = inner.blobs.get(&key) {
                    return Some((*c, decode_blob(blob, *version)));
                }
                inner.cars.get(&key).map(|i| (*c, Ok(i.clone())))
            })
            .collect())
    }

    async fn save_car(
        &self,
        race_id: &str,
        item: &CarItem,
        _: Instant,
    ) -> Result<Saved, PortError> {
        self.call("save_car");
        {
            let mut n = self.saves_in_flight.lock().unwrap();
            *n += 1;
            let mut calls = self.calls.lock().unwrap();
            let max = calls.entry("save_car_in_flight_max").or_default();
            *max = (*max).max(*n);
        }
        YieldOnce(false).await;
        *self.saves_in_flight.lock().unwrap() -= 1;
        let car = item.state.car;
        if let Some(e) = self.fail_saves.lock().unwrap().remove(&car) {
            return Err(e);
        }
        let mut inner = self.inner.lock().unwrap();
        let key = (race_id.to_owned(), car);
        {
            let mut conflicts = self.conflict_saves.lock().unwrap();
            if let Some(n) = conflicts.get_mut(&car)
                && *n > 0
            {
                *n -= 1;
                // The concurrent writer: the stored item moves to a newer version.
                let stored = inner
                    .cars
                    .entry(key.clone())
                    .or_insert_with(|| CarItem::new(item.state.clone()));
                stored.version += 1;
                return Ok(Saved::Conflict);
            }
        }
        let stored_version = match inner.blobs.get(&key) {
            Some((v, _)) => *v,
            None => inner.cars.get(&key).map_or(0, |i| i.version),
        };
        if stored_version != item.version {
            return Ok(Saved::Conflict);
        }
        // Measured as the DynamoDB adapter writes it (the blob's length, counted without
        // encoding it, plus the key, version and TTL attributes); refused past
        // DynamoDB's item limit, as DynamoDB refuses it (a ValidationException).
        let bytes = car_item_bytes(race_id, item, blob_len(item)?);
        if bytes > DYNAMO_ITEM_MAX_BYTES {
            return Err(too_large("car", bytes));
        }
        let mut next = item.clone();
        next.version += 1;
        inner.blobs.remove(&key);
        inner.cars.insert(key, next);
        Ok(Saved::Ok {
            item_bytes: bytes,
            write_units: write_units(bytes),
        })
    }
}

impl RaceStore for MemoryStore {
    async fn current_race(&self, _: Instant) -> Result<Option<String>, PortError> {
        self.call("current_race");
        Ok(self.inner.lock().unwrap().current.clone())
    }

    async fn load_race(&self, race_id: &str, _: Instant) -> Result<RaceView, PortError> {
        self.call("load_race");
        let inner = self.inner.lock().unwrap();
        Ok(RaceView {
            race_id: race_id.to_owned(),
            start: inner.starts.get(race_id).cloned(),
            events: inner
                .events
                .get(race_id)
                .map(|m| m.values().cloned().collect())
                .unwrap_or_default(),
            summaries: inner.summaries.get(race_id).cloned().unwrap_or_default(),
        })
    }

    async fn put_event(
        &self,
        race_id: &str,
        event: &StoredEvent,
        is_start: bool,
        _: Instant,
    ) -> Result<bool, PortError> {
        self.call("put_event");
        if let Some(e) = self.fail_event.lock().unwrap().take() {
            return Err(e);
        }
        // The line item: `pk`, `sk`, `ts`, `line`, `expires_at` (as the DynamoDB adapter
        // writes it), refused past DynamoDB's item limit.
        let bytes = "pkskts".len()
            + "race#".len()
            + race_id.len()
            + "ev#".len()
            + event.id.len()
            + "line".len()
            + event.line.len()
            + "expires_at".len()
            + 2 * 11;
        if bytes > DYNAMO_ITEM_MAX_BYTES {
            return Err(too_large("event", bytes));
        }
        let mut inner = self.inner.lock().unwrap();
        if is_start {
            // Also for a start stored before (a redelivery), as DynamoDB's adapter does;
            // only forward in time.
            if inner.current_ts.is_none_or(|t| t <= event.ts) {
                inner.current = Some(race_id.to_owned());
                inner.current_ts = Some(event.ts);
            }
            if inner.starts.contains_key(race_id) {
                return Ok(false);
            }
            inner.starts.insert(race_id.to_owned(), event.clone());
            return Ok(true);
        }
        let evs = inner.events.entry(race_id.to_owned()).or_default();
        if evs.contains_key(&event.id) {
            return Ok(false);
        }
        evs.insert(event.id.clone(), event.clone());
        Ok(true)
    }

    async fn put_summary(
        &self,
        race_id: &str,
        car: CarId,
        summary: &CarSummary,
        _: Instant,
    ) -> Result<(), PortError> {
        self.call("put_summary");
        self.inner
            .lock()
            .unwrap()
            .summaries
            .entry(race_id.to_owned())
            .or_default()
            .insert(car, summary.clone());
        Ok(())
    }
}

/// DynamoDB's answer to an item over its limit.
fn too_large(what: &str, bytes: usize) -> PortError {
    PortError::Permanent(format!(
        "ValidationException: {what} item of {bytes} bytes has exceeded the maximum allowed size ({DYNAMO_ITEM_MAX_BYTES})"
    ))
}

/// Collects what is published; can be told to fail.
#[derive(Debug, Default)]
pub struct MemoryPublisher {
    pub updates: Mutex<Vec<FuelUpdate>>,
    pub states: Mutex<Vec<RaceState>>,
    /// The next publishes fail with this error while it is set.
    pub fail_with: Mutex<Option<PortError>>,
}

impl Publisher for MemoryPublisher {
    async fn publish(
        &self,
        updates: &[FuelUpdate],
        states: &[RaceState],
        _: Instant,
    ) -> Result<(), PortError> {
        if let Some(e) = self.fail_with.lock().unwrap().clone() {
            return Err(e);
        }
        self.updates.lock().unwrap().extend_from_slice(updates);
        self.states.lock().unwrap().extend_from_slice(states);
        Ok(())
    }
}

/// Collects quarantined records.
#[derive(Debug, Default)]
pub struct MemoryQuarantine {
    pub items: Mutex<Vec<Quarantined>>,
}

impl Quarantine for MemoryQuarantine {
    async fn put(&self, items: &[Quarantined], _: Instant) -> Result<(), PortError> {
        self.items.lock().unwrap().extend_from_slice(items);
        Ok(())
    }
}

/// No predictor: physics alone (the type parameter of a processor without one).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoPredictor;

impl Predictor for NoPredictor {
    async fn predict(
        &self,
        _: &[WindowFeatures],
        _: Instant,
    ) -> Result<Vec<Option<f64>>, PortError> {
        Err(PortError::Permanent("no predictor configured".into()))
    }
}

/// The processor on the in-memory adapters, with a predictor of type `P` (none by
/// default): what the tests and the handler bench drive.
pub type MemoryProcessor<P = NoPredictor> =
    crate::Processor<MemoryStore, P, MemoryPublisher, MemoryQuarantine>;

impl<P: Predictor> MemoryProcessor<P> {
    /// A processor on `store` with `predictor` and `cfg`, a new publisher and quarantine.
    pub fn in_memory(
        store: MemoryStore,
        predictor: Option<P>,
        cfg: crate::ProcessorConfig,
    ) -> Self {
        crate::Processor::new(
            store,
            predictor,
            MemoryPublisher::default(),
            MemoryQuarantine::default(),
            cfg,
        )
    }
}
