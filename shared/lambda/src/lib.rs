//! The Lambda plumbing the three functions share, in one place.
//!
//! # Layout
//!
//! - [`clock`]: the wall clock (epoch milliseconds and seconds): EMF timestamps, when a
//!   car's summary was written, items' time to live.
//! - [`deadline`]: the invocation's deadline from the runtime's header (Lambda's epoch
//!   time, or the timeout under `cargo lambda watch`), and each call's within it.
//! - [`kinesis`]: a Kinesis batch as the handlers see it ([`InRecord`]), what a handler
//!   leaves to do ([`Outcome`]), the partial-batch answer ([`BatchResponse`]) and the
//!   [`BatchHandler`] trait the two stream functions' handlers implement.
//! - `event` (feature `kinesis-event`): a Kinesis event as the Runtime API delivers it,
//!   decoded into one reused buffer, accepting exactly what `aws_lambda_events` accepts;
//!   a record whose data is not base64 is kept with its reason, for the quarantine.
//! - [`invocation`]: the EMF line of one invocation: the metric set with the function's
//!   dimension and the request id, written once at the end.
//! - `runtime` (feature `runtime`): a function binary's `main`: configuration that fails
//!   the init phase with one log line, and the Lambda runtime serving a Kinesis handler
//!   (feature `kinesis`) or an API Gateway one (feature `apigw`): deadline, metrics,
//!   answer.
//!
//! Without the features the crate needs no Lambda runtime: the handlers in
//! `burnbar-pipeline` use it, and their tests and bench build without the runtime's
//! HTTP stack; each function builds only its own event source's types.

pub mod clock;
pub mod deadline;
#[cfg(feature = "kinesis-event")]
pub mod event;
pub mod invocation;
pub mod kinesis;
#[cfg(feature = "runtime")]
pub mod runtime;

pub use kinesis::{BatchHandler, BatchResponse, InRecord, Outcome, Undecodable};
