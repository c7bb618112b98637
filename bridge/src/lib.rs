//! The ingest bridge: NATS into Kinesis, bounded, sampled when it must be, honest about drops.
//!
//! The series' data platform publishes telemetry and race control on NATS; the Lambda
//! functions read Kinesis. The bridge subscribes (a core NATS queue group, or a JetStream
//! durable pull consumer acknowledged only after Kinesis accepted the record), decodes
//! each message with the core's decoder to learn its kind and key, thins high-rate
//! samples when the backlog grows, packs each car's samples into NDJSON records and puts
//! them in `PutRecords` batches, retrying only the entries that failed.
//!
//! # Layout
//!
//! - [`config`]: every environment variable, its default and why.
//! - [`route`]: sample or event, partition key, channel group (via `burnbar_core`).
//! - [`sampler`]: adaptive per-car, per-channel-group rate caps.
//! - [`queue`]: the byte-bounded queue, packing into records and batches.
//! - [`kinesis`]: the writer, its retry loop and what is retryable.
//! - [`nats`]: servers, credentials and TLS towards NATS, secrets redacted.
//! - [`source`]: core NATS or JetStream, as one stream of messages.
//! - [`feed`]: the official-feed source (off by default): polls NASCAR's live feed and
//!   converts it into race-control events.
//! - [`stats`]: counters, EMF metrics and JSON logs off the hot path.
//! - [`health`]: `GET /healthz`.
//! - [`pipeline`]: all of it wired, with graceful shutdown.

pub mod config;
pub mod feed;
pub mod health;
pub mod kinesis;
pub mod nats;
pub mod pipeline;
pub mod queue;
pub mod route;
pub mod sampler;
pub mod source;
pub mod stats;

pub use config::{Config, Mode};
pub use pipeline::run;
