//! The Lambda functions' handlers, over ports: what the telemetry-processor and the
//! race-control function do with a Kinesis batch, and what the appsync-writer does with
//! a writer API request, independent of AWS's SDK.
//!
//! # Layout
//!
//! - [`ports`]: the stream handlers' traits (car store, race store, predictor, publisher,
//!   quarantine) and the items kept between invocations.
//! - [`item`]: a car item as stored (the blob) and the size it is charged at.
//! - [`race`]: a race as stored (events, car summaries) and the per-car fold.
//! - [`handler`]: what both stream handlers share: their configuration, a batch's records
//!   and what became of each (failed, quarantined), the counters they start at zero.
//! - `commit`: committing one car (fold, conditional write, re-read on a conflict) and
//!   its race-level summary.
//! - [`processor`]: the telemetry batch, in five named steps (a module folder).
//! - [`control`]: the race-control batch.
//! - [`breaker`]: the predictor's circuit breaker.
//! - `writer` (feature `writer`): the appsync-writer's handler, its validation and its
//!   port (AppSync).
//! - `memory` (feature `testkit`): in-memory adapters of every port (tests, benchmarks).
//!
//! The Lambda plumbing (clock, deadlines, the Kinesis batch's shapes, the runtime) is
//! `burnbar-lambda`'s; the AWS adapters live in `burnbar-aws`; the functions' `main`s in
//! `functions/`.
//!
//! # Features
//!
//! - `writer`: the appsync-writer's handler. It needs API Gateway's event types and the
//!   writer API's wire shapes and AppSync client (`burnbar-publish`); without it the
//!   stream functions, the pipeline's tests and its bench build without them.
//! - `testkit`: the in-memory adapters.

pub mod breaker;
mod commit;
pub mod control;
pub mod handler;
pub mod item;
#[cfg(feature = "testkit")]
pub mod memory;
pub mod ports;
pub mod processor;
pub mod race;
#[cfg(feature = "writer")]
pub mod writer;

pub use burnbar_lambda::{InRecord, Outcome};
pub use control::Control;
pub use handler::ProcessorConfig;
pub use ports::{CarItem, PortError, Quarantined};
pub use processor::Processor;
