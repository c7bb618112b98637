//! The answer to a Kinesis invocation with `ReportBatchItemFailures`.
//!
//! Lambda resumes the shard at the lowest sequence number reported, so one identifier
//! (the first failed record) says all; an empty list means the whole batch succeeded.
//! An empty or null `itemIdentifier` would fail the whole batch, so none is ever written.

use serde::{Deserialize, Serialize};

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
