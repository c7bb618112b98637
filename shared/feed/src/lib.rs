//! `burnbar-feed`: NASCAR's official live feed as `telemetry-v1` race control, and the
//! simulator's races as that feed.
//!
//! While a race runs, NASCAR's live feed publishes JSON snapshots of it (the lap, the
//! flag state, every car's laps, status and pit stops), a pit file timing each stop
//! (seconds in the box, tyres changed) and a flag file (each flag change with its race
//! time). [`Converter`] turns them into the race-control events burnbar reads:
//! `race_start`, `flag`, `pit_in`/`pit_out` (with `tires` and `box_s` from the pit data),
//! `stage_end` and `car_out`. It is pure: bytes and a clock in, events out; the caller
//! reads files or polls URLs ([`crate::convert`] says how every event is timed and why
//! none is emitted twice).
//!
//! # Layout
//!
//! - [`wire`]: the feed's files, the fields read and written, and telling them apart.
//! - [`codes`]: flag-state and running-status codes, from what the archived files show.
//! - [`event`]: the events emitted, and their NDJSON lines.
//! - [`convert`]: the [`Converter`]: one race's state, flags and stages, stops and
//!   retirements, a file each.
//! - [`record`]: the other way: a race's `telemetry-v1` lines (the simulator's) written as
//!   the feed's snapshots, pit data and flag data.

pub mod codes;
pub mod convert;
pub mod event;
pub mod record;
pub mod wire;

pub use convert::{Converter, FeedConfig, FeedCounters};
pub use event::{Kind, RcEvent};
pub use wire::{FeedFile, Malformed};
