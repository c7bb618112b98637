//! The Kinesis writer: one `PutRecords` batch at a time, only failed entries retried.
//!
//! # One retry stack
//!
//! The SDK's own retries are turned off (see `main`): a partially failed `PutRecords`
//! is a success to the SDK, so its retries could not cover the common case, and two
//! stacks would multiply. Here, one loop with one jittered exponential backoff (`backon`)
//! and one deadline covers both a failed call (every entry again) and failed entries
//! (only those again). Whether an error is retryable ([`retryable_code`]) is decided
//! apart from how long to wait.
//!
//! # Order
//!
//! Entries that failed are sent after the ones accepted with them, so a car's records can
//! land out of order, by at most the retry deadline (2.5 s by default, inside the
//! processor's 5 s lateness); the processor merges by event time.

use std::time::{Duration, Instant};

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use backon::{BackoffBuilder, ExponentialBuilder};
use serde_json::json;

use crate::queue::Entry;
use crate::stats::{Log, Stats};
use std::sync::Arc;

/// Retry settings of one writer.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub min_delay: Duration,
    pub max_delay: Duration,
    pub deadline: Duration,
}

/// What became of a batch.
#[derive(Debug, Default)]
pub struct Outcome {
    pub accepted: Vec<Entry>,
    /// Entries given up on, with the reason (an error code, or `retry_deadline`).
    pub failed: Vec<(Entry, String)>,
}

/// Error codes worth another attempt: throttling and the service's own transient
/// failures. Anything else (a missing stream, denied access, a bad argument) will fail
/// the same way again.
pub fn retryable_code(code: &str) -> bool {
    matches!(
        code,
        "ProvisionedThroughputExceededException"
            | "KMSThrottlingException"
            | "LimitExceededException"
            | "ThrottlingException"
            | "InternalFailure"
            | "InternalFailureException"
            | "ServiceUnavailable"
            | "ServiceUnavailableException"
    )
}

fn is_throttle(code: &str) -> bool {
    matches!(
        code,
        "ProvisionedThroughputExceededException"
            | "KMSThrottlingException"
            | "LimitExceededException"
            | "ThrottlingException"
    )
}

/// Writes batches to one stream.
#[derive(Debug, Clone)]
pub struct Writer {
    client: Client,
    stream: String,
    retry: RetryPolicy,
    stats: Arc<Stats>,
    log: Log,
}

impl Writer {
    pub fn new(
        client: Client,
        stream: String,
        retry: RetryPolicy,
        stats: Arc<Stats>,
        log: Log,
    ) -> Writer {
        Writer {
            client,
            stream,
            retry,
            stats,
            log,
        }
    }

    /// Fails unless the stream exists and is usable, naming it: a bridge pointed at a
    /// wrong stream should not report healthy.
    pub async fn check(&self) -> Result<(), String> {
        let out = self
            .client
            .describe_stream_summary()
            .stream_name(&self.stream)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "Kinesis stream `{}` is not usable: {}",
                    self.stream,
                    error_text(&e)
                )
            })?;
        let status = out
            .stream_description_summary()
            .map(|s| s.stream_status().as_str().to_owned())
            .unwrap_or_default();
        match status.as_str() {
            "ACTIVE" | "UPDATING" => Ok(()),
            other => Err(format!(
                "Kinesis stream `{}` is {other}, not ACTIVE",
                self.stream
            )),
        }
    }

    /// Puts one batch (within the service limits), retrying failed entries until the
    /// deadline.
    pub async fn put(&self, batch: Vec<Entry>) -> Outcome {
        let mut out = Outcome::default();
        let started = Instant::now();
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(self.retry.min_delay)
            .with_max_delay(self.retry.max_delay)
            .with_jitter()
            .without_max_times()
            .build();
        let mut pending = batch;
        let mut attempt = 0u32;
        while !pending.is_empty() {
            if attempt > 0 {
                Stats::add(&self.stats.entries_retried, pending.len() as u64);
            }
            attempt += 1;
            let (retry, failed) = self.attempt(pending, &mut out).await;
            out.failed.extend(failed);
            pending = retry;
            if pending.is_empty() {
                break;
            }
            let delay = backoff.next().unwrap_or(self.retry.max_delay);
            if started.elapsed() + delay > self.retry.deadline {
                self.log.warn(
                    "PutRecords retries exhausted",
                    &[
                        ("stream", json!(self.stream)),
                        ("entries", json!(pending.len())),
                        ("attempts", json!(attempt)),
                    ],
                );
                out.failed
                    .extend(pending.drain(..).map(|e| (e, "retry_deadline".to_owned())));
                break;
            }
            tokio::time::sleep(delay).await;
        }
        out
    }

    /// One call. Returns the entries to retry and those failed for good; accepted ones
    /// go to `out`.
    async fn attempt(
        &self,
        pending: Vec<Entry>,
        out: &mut Outcome,
    ) -> (Vec<Entry>, Vec<(Entry, String)>) {
        let mut records = Vec::with_capacity(pending.len());
        for e in &pending {
            match PutRecordsRequestEntry::builder()
                .data(Blob::new(e.data.clone()))
                .partition_key(&e.key)
                .build()
            {
                Ok(r) => records.push(r),
                // Unreachable: both required fields are set above.
                Err(err) => {
                    let reason = format!("request entry: {err}");
                    return (
                        Vec::new(),
                        pending.into_iter().map(|e| (e, reason.clone())).collect(),
                    );
                }
            }
        }
        Stats::inc(&self.stats.putrecords_calls);
        let t = Instant::now();
        let res = self
            .client
            .put_records()
            .stream_name(&self.stream)
            .set_records(Some(records))
            .send()
            .await;
        self.stats.putrecords_latency(t.elapsed());
        match res {
            Ok(resp) => {
                let results = resp.records();
                if results.len() != pending.len() {
                    // A response that does not answer each entry cannot say which
                    // landed: retry all (duplicates are absorbed downstream by
                    // `(car, ts)`; a loss would not be).
                    Stats::inc(&self.stats.putrecords_errors);
                    return (pending, Vec::new());
                }
                let mut retry = Vec::new();
                let mut failed = Vec::new();
                let codes: Vec<Option<String>> = results
                    .iter()
                    .map(|r| r.error_code().map(str::to_owned))
                    .collect();
                for (e, code) in pending.into_iter().zip(codes) {
                    match code {
                        None => {
                            Stats::inc(&self.stats.records_put);
                            out.accepted.push(e);
                        }
                        Some(code) => {
                            if is_throttle(&code) {
                                Stats::inc(&self.stats.entries_throttled);
                            }
                            if retryable_code(&code) {
                                retry.push(e);
                            } else {
                                failed.push((e, code));
                            }
                        }
                    }
                }
                (retry, failed)
            }
            Err(err) => {
                Stats::inc(&self.stats.putrecords_errors);
                let code = err.code().unwrap_or("").to_owned();
                if is_throttle(&code) {
                    Stats::add(&self.stats.entries_throttled, pending.len() as u64);
                }
                let transport = matches!(
                    err,
                    SdkError::TimeoutError(_) | SdkError::DispatchFailure(_)
                ) || matches!(&err, SdkError::ResponseError(_))
                    || err
                        .raw_response()
                        .is_some_and(|r| r.status().as_u16() >= 500);
                if transport || retryable_code(&code) {
                    self.log.warn(
                        "PutRecords failed, retrying",
                        &[
                            ("stream", json!(self.stream)),
                            ("error", json!(error_text(&err))),
                        ],
                    );
                    (pending, Vec::new())
                } else {
                    let reason = if code.is_empty() {
                        error_text(&err)
                    } else {
                        code
                    };
                    self.log.info(
                        "error",
                        "PutRecords refused",
                        &[
                            ("stream", json!(self.stream)),
                            ("error", json!(error_text(&err))),
                        ],
                    );
                    (
                        Vec::new(),
                        pending.into_iter().map(|e| (e, reason.clone())).collect(),
                    )
                }
            }
        }
    }
}

/// An SDK error with its code and message, or its source chain.
fn error_text<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match (err.code(), err.message()) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.to_owned(),
        _ => {
            let mut s = err.to_string();
            let mut src = std::error::Error::source(err);
            while let Some(e) = src {
                s.push_str(": ");
                s.push_str(&e.to_string());
                src = e.source();
            }
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_and_internal_failures_are_retryable_the_rest_is_not() {
        assert!(retryable_code("ProvisionedThroughputExceededException"));
        assert!(retryable_code("InternalFailure"));
        assert!(retryable_code("KMSThrottlingException"));
        assert!(!retryable_code("ResourceNotFoundException"));
        assert!(!retryable_code("AccessDeniedException"));
        assert!(!retryable_code("KMSAccessDeniedException"));
        assert!(!retryable_code("ValidationException"));
    }
}
