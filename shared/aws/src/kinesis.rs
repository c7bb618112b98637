//! The downstream stream (issue 16 item 4): published FuelUpdates on a Kinesis stream for
//! consumers that are not browsers, one record per update keyed by car, put by the
//! writer once AppSync took them ([`burnbar_pipeline::writer::Publishing`]).
//!
//! Delivery is at-least-once, as for the viewers: a request the writer answers as failed
//! is sent again by its caller, so a consumer sees an update again and drops it by car
//! and `seq` (fuel-update-v1). Entries Kinesis refuses for throughput are put again
//! (only those, within the deadline: [`crate::put_records`], the loop the tools share);
//! an entry refused for good fails the request as permanent once the others were put.
//! Order within a car is by `seq`, not by arrival.

use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_kinesis::Client;
use burnbar_core::FuelUpdate;
use burnbar_metrics::MetricSet;
use burnbar_pipeline::ports::PortError;
use burnbar_pipeline::writer::Downstream;
use tokio::time::Instant;

use crate::put_records::{
    CallRetry, PutEntry, PutPolicy, RetryCodes, Stopped, THROUGHPUT_CODES, put_records,
};

/// Attempts of the entries Kinesis refuses for throughput before the request fails (and
/// its caller sends it again).
pub const PUT_ATTEMPTS: u32 = 4;

/// How the writer puts: only throughput refusals again, 100 → 200 → 400 ms apart, never
/// past the invocation's deadline. A failed call is not sent again here: the SDK's
/// standard retries already ran, and [`crate::errors::classify`] says whether the
/// writer's caller should.
fn policy(deadline: Instant) -> PutPolicy {
    PutPolicy {
        codes: RetryCodes::Only(THROUGHPUT_CODES),
        calls: CallRetry::Never,
        max_attempts: PUT_ATTEMPTS,
        first_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(400),
        deadline: Some(deadline),
    }
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
}

impl Downstream for KinesisDownstream {
    async fn put_updates(
        &self,
        updates: &[FuelUpdate],
        deadline: Instant,
    ) -> Result<(), PortError> {
        let what = format!("PutRecords {}", self.stream);
        let data = updates
            .iter()
            .map(serde_json::to_vec)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| PortError::Permanent(format!("update as JSON: {e}")))?;
        let entries: Vec<PutEntry> = updates
            .iter()
            .zip(&data)
            .map(|(u, d)| PutEntry {
                key: u.car.as_str(),
                data: d,
            })
            .collect();
        let o = put_records(&self.client, &self.stream, &entries, &policy(deadline)).await;
        self.counted(|c| {
            c.records += o.put.len() as u64;
            c.retried += o.entries_retried;
        });
        let err = if let Some(r) = o.refused.first() {
            let u = &updates[r.index];
            Some(PortError::Permanent(format!(
                "{what}: car {} seq {}: {}: {}",
                u.car.as_str(),
                u.seq,
                r.code,
                r.message
            )))
        } else {
            o.stopped.map(|s| match s {
                Stopped::Call(e) => crate::errors::classify(&what, *e),
                Stopped::Request(e) => PortError::Permanent(format!("{what}: {e}")),
                Stopped::Deadline => PortError::Retryable(format!(
                    "{what}: {} records not put before the invocation's deadline",
                    o.unput.len()
                )),
                s @ Stopped::Attempts { .. } => PortError::Retryable(format!("{what}: {s}")),
            })
        };
        match err {
            Some(e) => {
                self.counted(|c| c.failures += 1);
                Err(e)
            }
            None => Ok(()),
        }
    }
}
