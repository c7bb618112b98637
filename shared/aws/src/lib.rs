//! AWS adapters of the pipeline's ports.
//!
//! # Layout
//!
//! - [`dynamo`]: car state and race state in one DynamoDB table (conditional writes,
//!   TTL honoured on read, compact items).
//! - [`sagemaker`]: the learned correction through the SageMaker runtime.
//! - [`sqs`]: the quarantine of rejected records.
//! - `kinesis` (feature `downstream`): the writer's downstream stream of published
//!   FuelUpdates.
//! - `put_records` (feature `put-records`, on with `downstream`): `PutRecords` with
//!   retries by a policy, shared by the downstream stream and the rehearse and redrive
//!   tools.
//! - [`errors`]: which SDK errors are worth retrying, and deadlines on every call.
//! - [`function`]: what the two stream functions build the same way: their
//!   configuration from the environment, these adapters from it, and the writer API as
//!   publisher. The Lambda plumbing around them (deadline, clock, the runtime) is
//!   `burnbar-lambda`'s.
//!
//! Clients are built once per process by [`sdk_config`] (through
//! [`function::StreamAdapters`], in the functions' `main`): the
//! standard retry policy (jittered exponential backoff on throttling, 5xx and timeouts)
//! and timeouts per attempt, so that a call never outlives the invocation.

pub mod dynamo;
pub mod errors;
pub mod function;
#[cfg(feature = "downstream")]
pub mod kinesis;
#[cfg(feature = "put-records")]
pub mod put_records;
pub mod sagemaker;
pub mod sqs;
#[cfg(feature = "testkit")]
pub mod testkit;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

/// The SDK configuration every client of a function shares: region, credentials and
/// endpoint from the environment (`AWS_ENDPOINT_URL` points the tests at moto), the
/// standard retry mode with 3 attempts (the SDK's jittered backoff; throttling and 5xx
/// are retried, validation errors are not) and a 2 s limit per attempt (a DynamoDB call
/// answers in milliseconds; two seconds is a call that is not coming back).
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .operation_attempt_timeout(Duration::from_secs(2))
                .build(),
        )
        .load()
        .await
}
