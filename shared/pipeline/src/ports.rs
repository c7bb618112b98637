//! What the pipeline needs from the world (split by capability), and the items it keeps.
//!
//! Every method takes a `deadline`: the adapter must give up (a retryable error) before
//! it, so that the invocation can still report what it could not finish.

use std::collections::BTreeMap;
use std::future::Future;

use burnbar_core::car::{CarState, WindowFeatures};
use burnbar_core::{CarId, FuelUpdate, RaceState};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// Why a call to the outside failed, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PortError {
    /// Throttling, a 5xx, a timeout, a connection error: the same call may succeed later.
    #[error("retryable: {0}")]
    Retryable(String),
    /// Bad request, access denied, an item too large: trying again changes nothing.
    #[error("permanent: {0}")]
    Permanent(String),
}

impl PortError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, PortError::Retryable(_))
    }
}

/// One car's state as the store keeps it between invocations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CarItem {
    /// The core's state: open windows, fuel, laps, watermark.
    pub state: CarState,
    /// Ids of the race-control events already applied to this car (sorted), so that an
    /// event seen again (the race item is re-read every invocation) acts once; the
    /// newest [`crate::race::APPLIED_MAX`] of them, the older ones summed up by `floor`.
    pub applied: Vec<String>,
    /// Where `applied` was pruned: every event at or before it counts as applied.
    #[serde(default)]
    pub floor: Option<AppliedFloor>,
    /// Updates decided and committed but not yet acknowledged by the writer: published
    /// again after a failed publish (subscribers drop an update whose `seq` they have).
    pub outbox: Vec<FuelUpdate>,
    /// Optimistic-concurrency version: 0 for a car never stored.
    pub version: u64,
}

/// The low end of a car's pruned applied ids ([`crate::race::prune_applied`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedFloor {
    /// The newest id pruned: the car applied every one of its events up to it that the
    /// race held when it was pruned.
    pub id: String,
    /// How many of the car's events at or before `id` the race held when the car last
    /// looked: one that appears later arrived after the prune, and is counted, not
    /// applied.
    pub below: u32,
}

impl CarItem {
    pub fn new(state: CarState) -> CarItem {
        CarItem {
            state,
            applied: Vec::new(),
            floor: None,
            outbox: Vec::new(),
            version: 0,
        }
    }
}

/// What a save did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Saved {
    /// Written; the item's size and the write units it cost (for cost reports).
    Ok { item_bytes: usize, write_units: f64 },
    /// Someone else wrote the car since it was read: re-read and re-apply.
    Conflict,
}

/// A race-control event as stored: its id (stable, from time and content) and the
/// record's line as received, decoded again by whoever reads it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StoredEvent {
    pub ts: i64,
    pub id: String,
    pub line: String,
}

/// What each car tells the rest of the race: the figures behind other shards'
/// `burn_index`, and what the RaceState needs (leader lap, cars running).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CarSummary {
    /// Recent green-lap figures `(lap end ts, gal per mile)`.
    pub figures: Vec<(i64, f64)>,
    /// Largest `lap + lap_frac` seen.
    pub pos: f64,
    /// The car's fuel per green lap (the field's median of it places the RaceState's
    /// fuel window).
    #[serde(default)]
    pub fuel_per_green_lap: Option<f64>,
    pub retired: bool,
    /// The car's newest sample `ts`: with the race's events, the race-wide reference of
    /// `ts_in_future` for every shard (a car's first samples are judged against the
    /// whole race, not only the cars in their invocation).
    #[serde(default)]
    pub last_ts: Option<i64>,
    /// Whether the car holds samples in open windows: a car gone silent has them closed
    /// by any invocation of the race (the silent-car rule).
    #[serde(default)]
    pub open: bool,
    /// When the summary was last written (epoch ms, wall clock; 0: unknown). A car whose
    /// shard is merely behind still commits and keeps this fresh, so only a car whose
    /// summary has not been written for a while is taken for silent.
    #[serde(default)]
    pub written_ms: i64,
}

/// Everything race-level, read in one round trip.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RaceView {
    pub race_id: String,
    /// The `race_start` (if race control has seen it).
    pub start: Option<StoredEvent>,
    /// Every other race-control event, by `(ts, id)`.
    pub events: Vec<StoredEvent>,
    pub summaries: BTreeMap<CarId, CarSummary>,
}

/// One car's stored item as read: decoded, or why it does not decode (its blob is of a
/// format this build does not read, or corrupted). That is a permanent error of that car
/// alone: the other cars read with it are unaffected.
pub type CarRead = Result<CarItem, PortError>;

/// Car states, one item per car and race.
pub trait CarStore: Sync {
    /// Loads the cars' items in one round trip, each car's decoded on its own: an absent
    /// (or expired) car is missing from the map, an undecodable one is there as its
    /// (permanent) error. The call's own error is the round trip's (throttling, a
    /// timeout, access denied).
    fn load_cars_each(
        &self,
        race_id: &str,
        cars: &[CarId],
        deadline: Instant,
    ) -> impl Future<Output = Result<BTreeMap<CarId, CarRead>, PortError>> + Send;

    /// [`CarStore::load_cars_each`] for callers that need every car: an undecodable car
    /// fails the call with its permanent error.
    fn load_cars(
        &self,
        race_id: &str,
        cars: &[CarId],
        deadline: Instant,
    ) -> impl Future<Output = Result<BTreeMap<CarId, CarItem>, PortError>> + Send {
        async move {
            self.load_cars_each(race_id, cars, deadline)
                .await?
                .into_iter()
                .map(|(c, r)| r.map(|i| (c, i)))
                .collect()
        }
    }

    /// Writes the item if the stored version is still `item.version` (absent for 0);
    /// the stored item gets `item.version + 1`.
    fn save_car(
        &self,
        race_id: &str,
        item: &CarItem,
        deadline: Instant,
    ) -> impl Future<Output = Result<Saved, PortError>> + Send;
}

/// The race-level items: race-control events and car summaries.
pub trait RaceStore: Sync {
    /// The race of the latest `race_start` (for records without a `race_id`).
    fn current_race(
        &self,
        deadline: Instant,
    ) -> impl Future<Output = Result<Option<String>, PortError>> + Send;

    /// The race's events and car summaries.
    fn load_race(
        &self,
        race_id: &str,
        deadline: Instant,
    ) -> impl Future<Output = Result<RaceView, PortError>> + Send;

    /// Stores an event; `Ok(false)` when it was already stored (nothing changes). A
    /// `race_start` also becomes the current race.
    fn put_event(
        &self,
        race_id: &str,
        event: &StoredEvent,
        is_start: bool,
        deadline: Instant,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;

    /// Stores a car's summary (only the car's own shard writes it: last write wins).
    fn put_summary(
        &self,
        race_id: &str,
        car: CarId,
        summary: &CarSummary,
        deadline: Instant,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// The learned correction: a factor per window, all windows of an invocation in one call;
/// `None` for a window the model leaves to physics, outside what it was trained on
/// (published as `physics` and counted in `windows_outside_domain_total`).
pub trait Predictor: Sync {
    fn predict(
        &self,
        windows: &[WindowFeatures],
        deadline: Instant,
    ) -> impl Future<Output = Result<Vec<Option<f64>>, PortError>> + Send;
}

/// Where updates and race states go (the writer API in AWS).
pub trait Publisher: Sync {
    fn publish(
        &self,
        updates: &[FuelUpdate],
        states: &[RaceState],
        deadline: Instant,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// A record that could not be used, kept where an operator can read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quarantined {
    /// The Kinesis sequence number of the record it came in.
    pub sequence_number: String,
    /// Which line of the record (NDJSON), from 0.
    pub line_no: usize,
    /// The reason: the contract's code, the field, a sentence.
    pub code: String,
    pub field: Option<String>,
    pub detail: String,
    /// The line as received (lossy UTF-8), cut to 64 KiB once JSON-escaped.
    pub line: String,
}

/// The quarantine (an SQS queue in AWS).
pub trait Quarantine: Sync {
    fn put(
        &self,
        items: &[Quarantined],
        deadline: Instant,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

// A borrowed adapter is an adapter: one store can serve two handlers (tests, the local
// pipeline) without reference counting.
impl<T: CarStore> CarStore for &T {
    fn load_cars_each(
        &self,
        race_id: &str,
        cars: &[CarId],
        deadline: Instant,
    ) -> impl Future<Output = Result<BTreeMap<CarId, CarRead>, PortError>> + Send {
        (**self).load_cars_each(race_id, cars, deadline)
    }
    fn save_car(
        &self,
        race_id: &str,
        item: &CarItem,
        deadline: Instant,
    ) -> impl Future<Output = Result<Saved, PortError>> + Send {
        (**self).save_car(race_id, item, deadline)
    }
}

impl<T: RaceStore> RaceStore for &T {
    fn current_race(
        &self,
        deadline: Instant,
    ) -> impl Future<Output = Result<Option<String>, PortError>> + Send {
        (**self).current_race(deadline)
    }
    fn load_race(
        &self,
        race_id: &str,
        deadline: Instant,
    ) -> impl Future<Output = Result<RaceView, PortError>> + Send {
        (**self).load_race(race_id, deadline)
    }
    fn put_event(
        &self,
        race_id: &str,
        event: &StoredEvent,
        is_start: bool,
        deadline: Instant,
    ) -> impl Future<Output = Result<bool, PortError>> + Send {
        (**self).put_event(race_id, event, is_start, deadline)
    }
    fn put_summary(
        &self,
        race_id: &str,
        car: CarId,
        summary: &CarSummary,
        deadline: Instant,
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        (**self).put_summary(race_id, car, summary, deadline)
    }
}

impl<T: Publisher> Publisher for &T {
    fn publish(
        &self,
        updates: &[FuelUpdate],
        states: &[RaceState],
        deadline: Instant,
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        (**self).publish(updates, states, deadline)
    }
}

impl<T: Quarantine> Quarantine for &T {
    fn put(
        &self,
        items: &[Quarantined],
        deadline: Instant,
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        (**self).put(items, deadline)
    }
}
