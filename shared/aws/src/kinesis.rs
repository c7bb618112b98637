//! The downstream stream (issue 16 item 4): published FuelUpdates on a Kinesis stream for
//! consumers that are not browsers, one record per update keyed by car, put by the
//! writer once AppSync took them ([`burnbar_pipeline::writer::Publishing`]).
//!
//! Delivery is at-least-once, as for the viewers: a request the writer answers as failed
//! is sent again by its caller, so a consumer sees an update again and drops it by car
//! and `seq` (fuel-update-v1). Entries Kinesis refuses for throughput are put again
//! (only those, within the deadline); order within a car is by `seq`, not by arrival.

use std::sync::Mutex;

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use burnbar_core::FuelUpdate;
use burnbar_metrics::MetricSet;
use burnbar_pipeline::ports::PortError;
use burnbar_pipeline::writer::Downstream;
use tokio::time::Instant;

use crate::errors::within;

/// `PutRecords` entries per call (the service's limit; a writer chunk is at most 100
/// updates of about 1 KB, far under the 5 MiB per call).
pub const PUT_MAX_RECORDS: usize = 500;
/// Attempts of the entries Kinesis refuses for throughput before the chunk fails (and
/// its caller sends it again).
pub const PUT_ATTEMPTS: u32 = 4;

/// Throughput and service errors an entry may report; anything else is permanent.
fn retryable_entry(code: &str) -> bool {
    matches!(
        code,
        "ProvisionedThroughputExceededException"
            | "KMSThrottlingException"
            | "ThrottlingException"
            | "InternalFailure"
            | "ServiceUnavailable"
    )
}

/// What was put since the last [`KinesisDownstream::drain_metrics`].
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    records: u64,
    retried: u64,
    failures: u64,
}

/// A Kinesis stream as the writer's downstream.
#[derive(Debug)]
pub struct KinesisDownstream {
    client: Client,
    stream: String,
    counts: Mutex<Counts>,
}

impl KinesisDownstream {
    /// `stream`: a name or an ARN.
    pub fn new(client: Client, stream: impl Into<String>) -> KinesisDownstream {
        KinesisDownstream {
            client,
            stream: stream.into(),
            counts: Mutex::new(Counts::default()),
        }
    }

    /// Adds what was put since the last call to `m`: `downstream_records_total`,
    /// `downstream_entries_retried_total`, `downstream_failures_total`.
    pub fn drain_metrics(&self, m: &mut MetricSet) {
        let c = std::mem::take(&mut *self.counts.lock().unwrap_or_else(|e| e.into_inner()));
        m.count("downstream_records_total", c.records);
        m.count("downstream_entries_retried_total", c.retried);
        m.count("downstream_failures_total", c.failures);
    }

    fn counted(&self, f: impl FnOnce(&mut Counts)) {
        f(&mut self.counts.lock().unwrap_or_else(|e| e.into_inner()));
    }

    async fn put_chunk(&self, updates: &[&FuelUpdate], deadline: Instant) -> Result<(), PortError> {
        let mut pending: Vec<&FuelUpdate> = updates.to_vec();
        for attempt in 1..=PUT_ATTEMPTS {
            let entries = pending
                .iter()
                .map(|u| {
                    let data = serde_json::to_vec(u)
                        .map_err(|e| PortError::Permanent(format!("update as JSON: {e}")))?;
                    PutRecordsRequestEntry::builder()
                        .partition_key(u.car.as_str())
                        .data(Blob::new(data))
                        .build()
                        .map_err(|e| PortError::Permanent(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let req = self.client.put_records().set_records(Some(entries));
            let req = if self.stream.starts_with("arn:") {
                req.stream_arn(&self.stream)
            } else {
                req.stream_name(&self.stream)
            };
            let what = format!("PutRecords {}", self.stream);
            let out = within(deadline, &what, async {
                req.send()
                    .await
                    .map_err(|e| crate::errors::classify(&what, e))
            })
            .await?;
            let mut again = Vec::new();
            let mut permanent = None;
            for (u, r) in pending.iter().zip(out.records) {
                match r.error_code.as_deref() {
                    None => self.counted(|c| c.records += 1),
                    Some(code) if retryable_entry(code) => again.push(*u),
                    Some(code) => {
                        permanent = Some(format!(
                            "{what}: car {} seq {}: {code}: {}",
                            u.car.as_str(),
                            u.seq,
                            r.error_message.unwrap_or_default()
                        ));
                    }
                }
            }
            if let Some(p) = permanent {
                return Err(PortError::Permanent(p));
            }
            if again.is_empty() {
                return Ok(());
            }
            self.counted(|c| c.retried += again.len() as u64);
            if attempt < PUT_ATTEMPTS {
                let wait = std::time::Duration::from_millis(50 << attempt);
                if Instant::now() + wait >= deadline {
                    break;
                }
                tokio::time::sleep(wait).await;
            }
            pending = again;
        }
        Err(PortError::Retryable(format!(
            "PutRecords {}: {} records refused for throughput",
            self.stream,
            pending.len()
        )))
    }
}

impl Downstream for KinesisDownstream {
    async fn put_updates(
        &self,
        updates: &[FuelUpdate],
        deadline: Instant,
    ) -> Result<(), PortError> {
        let all: Vec<&FuelUpdate> = updates.iter().collect();
        for chunk in all.chunks(PUT_MAX_RECORDS) {
            if let Err(e) = self.put_chunk(chunk, deadline).await {
                self.counted(|c| c.failures += 1);
                return Err(e);
            }
        }
        Ok(())
    }
}
