//! burnbar's pure core: contracts, decoding, event-time windows, the fuel model and the
//! per-car state machine. It does no I/O, needs no async runtime and knows nothing of AWS:
//! the Lambda functions and the local `burnbar` command run exactly this code.
//!
//! # Layout
//!
//! - [`contract`]: the input records (`telemetry-v1`) and why one is rejected.
//! - [`decode`]: one NDJSON line to a record, every rejection rule of the spec.
//! - [`model`]: the physics fuel model and the parameters calibration fits.
//! - [`pits`]: what a pit stop's time says of its fuel (the fuel or the tyres timed it).
//! - [`car`]: one car's state and the flow of closing its windows; one file per job:
//!   the open-window buffer, race-control events, the sweep that integrates a window,
//!   the fuel cell, laps and green-lap figures, and what a closed window becomes (its
//!   features and its `FuelUpdate`).
//! - `stats`: normal-distribution maths of the fuel band (distribution function, Mills
//!   ratio, the squared shortfall of a level read as full).
//! - [`race`]: a race's own rules, once for the engine and the functions: `race_start`,
//!   flags, stages, cars out, events applied, `ts_in_future`, the silent-car boundary,
//!   what an event does to a car, and the `RaceState`.
//! - [`event_key`]: the stable key of a race-control event (a persisted format).
//! - [`batch`]: lines decoded on one thread and applied by the engine on another, in
//!   order, through a bounded queue of reused batches.
//! - [`engine`]: the local pipeline: routes records to races and cars in memory, closes
//!   windows by watermark, counts everything it drops.
//! - [`update`]: the output records (`fuel-update-v1`).
//! - [`tracks`]: the track table.
//! - [`calibrate`]: measured stints from weighed fills, and the fit of the model to them.
//! - [`correction`]: the learned correction of each window's burn, and its training.

pub mod batch;
pub mod calibrate;
pub mod car;
pub mod contract;
pub mod correction;
pub mod decode;
pub mod engine;
pub mod event_key;
mod fast;
pub mod model;
pub mod pits;
pub mod race;
mod stats;
pub mod tracks;
pub mod update;

pub use contract::{CarId, Flag, Record, Reject, RejectCode};
pub use engine::{Counters, Engine, EngineConfig};
pub use model::ModelParams;
pub use update::{FuelUpdate, RaceState};
