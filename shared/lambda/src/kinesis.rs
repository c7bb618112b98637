//! A Kinesis batch as the stream functions' handlers see it, and the answer Lambda gets.
//!
//! The answer follows `ReportBatchItemFailures`: Lambda resumes the shard at the lowest
//! sequence number reported, so one identifier (the first failed record) says all; an
//! empty list means the whole batch succeeded. An empty or null `itemIdentifier` would
//! fail the whole batch, so none is ever written.

use std::future::Future;

use burnbar_metrics::MetricSet;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// One Kinesis record: its sequence number and its data (one or more NDJSON lines).
#[derive(Debug, Clone, Copy)]
pub struct InRecord<'a> {
    pub sequence_number: &'a str,
    pub data: &'a [u8],
    /// Set when the record's data could not be decoded from the event (not base64):
    /// `data` is then empty, and the handlers quarantine the record with this reason.
    pub undecodable: Option<Undecodable<'a>>,
}

impl<'a> InRecord<'a> {
    /// A record whose data was decoded.
    pub fn new(sequence_number: &'a str, data: &'a [u8]) -> Self {
        InRecord {
            sequence_number,
            data,
            undecodable: None,
        }
    }
}

/// Why a record's data could not be decoded, and its text as the event carried it.
#[derive(Debug, Clone, Copy)]
pub struct Undecodable<'a> {
    pub reason: &'a str,
    pub text: &'a [u8],
}

/// What is left to do after an invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The first record to deliver again (Lambda checkpoints there), if any.
    pub first_failed: Option<String>,
    /// Updates published by this invocation.
    pub published: usize,
}

/// A handler of Kinesis batches (the telemetry-processor's, race control's).
pub trait BatchHandler {
    fn handle_batch<'a>(
        &'a self,
        records: &'a [InRecord<'a>],
        deadline: Instant,
        m: &'a mut MetricSet,
    ) -> impl Future<Output = Outcome> + 'a;
}

/// `{"batchItemFailures": [{"itemIdentifier": "<sequence number>"}]}`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResponse {
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<ItemFailure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

impl BatchResponse {
    /// The response for a batch whose first failed record is `first_failed`.
    pub fn from_first_failed(first_failed: Option<String>) -> BatchResponse {
        BatchResponse {
            batch_item_failures: first_failed
                .filter(|s| !s.is_empty())
                .map(|s| ItemFailure { item_identifier: s })
                .into_iter()
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_json() {
        let ok = BatchResponse::from_first_failed(None);
        assert_eq!(
            serde_json::to_string(&ok).unwrap(),
            r#"{"batchItemFailures":[]}"#
        );
        let f = BatchResponse::from_first_failed(Some("4959".into()));
        assert_eq!(
            serde_json::to_string(&f).unwrap(),
            r#"{"batchItemFailures":[{"itemIdentifier":"4959"}]}"#
        );
        assert_eq!(BatchResponse::from_first_failed(Some(String::new())), ok);
    }
}
