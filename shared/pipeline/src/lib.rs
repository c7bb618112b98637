//! The Lambda functions' logic, over ports: what the telemetry-processor and the
//! race-control function do with a Kinesis batch, independent of AWS.
//!
//! # Layout
//!
//! - [`ports`]: the traits (car store, race store, predictor, publisher, quarantine) and
//!   the items kept between invocations.
//! - [`item`]: a car item as stored (the blob) and the size it is charged at.
//! - [`race`]: a race as stored (events, car summaries) and the per-car fold.
//! - [`processor`]: the telemetry batch.
//! - [`control`]: the race-control batch.
//! - [`breaker`]: the predictor's circuit breaker.
//! - [`memory`]: in-memory adapters (tests, benchmarks).
//! - [`response`]: the Lambda response for Kinesis partial batch failures.
//!
//! The AWS adapters live in `burnbar-aws`; the functions in `functions/`.

pub mod breaker;
mod commit;
pub mod control;
pub mod item;
pub mod memory;
pub mod ports;
pub mod processor;
pub mod race;
pub mod response;

pub use control::Control;
pub use ports::{CarItem, PortError, Quarantined};
pub use processor::{InRecord, Outcome, Processor, ProcessorConfig};
