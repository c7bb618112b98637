//! The quarantine: rejected records, with their reasons, in an SQS queue an operator
//! reads (and redrives after a fix).

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use burnbar_pipeline::Quarantined;
use burnbar_pipeline::ports::{PortError, Quarantine};
use futures_util::stream::{self, StreamExt};
use tokio::time::Instant;

use crate::errors::{classify, within};

/// Messages per `SendMessageBatch`, and bytes per batch (the service's limits).
const BATCH_MAX: usize = 10;
const BATCH_BYTES_MAX: usize = 256 * 1024;

/// An SQS queue as the quarantine.
#[derive(Debug, Clone)]
pub struct SqsQuarantine {
    client: Client,
    queue_url: String,
}

impl SqsQuarantine {
    pub fn new(client: Client, queue_url: impl Into<String>) -> SqsQuarantine {
        SqsQuarantine {
            client,
            queue_url: queue_url.into(),
        }
    }
}

/// `SendMessageBatch` calls in flight at once. 8: a quarantine of hundreds of entries
/// goes out in a few round trips, while a queue's throughput (thousands of calls a
/// second) is far from full.
pub const SEND_CONCURRENCY: usize = 8;

/// The message bodies grouped into batches: at most [`BATCH_MAX`] messages and
/// [`BATCH_BYTES_MAX`] bytes each, in order.
fn plan_batches(bodies: &[String]) -> Vec<Vec<&String>> {
    let mut batches: Vec<Vec<&String>> = Vec::new();
    let mut bytes = 0;
    for b in bodies {
        match batches.last_mut() {
            Some(cur) if cur.len() < BATCH_MAX && bytes + b.len() <= BATCH_BYTES_MAX => {
                cur.push(b);
                bytes += b.len();
            }
            _ => {
                batches.push(vec![b]);
                bytes = b.len();
            }
        }
    }
    batches
}

/// The error a call's outcome stands for, when some of the batch was not sent.
fn batch_error(
    sent: Result<aws_sdk_sqs::operation::send_message_batch::SendMessageBatchOutput, PortError>,
) -> Option<PortError> {
    match sent {
        Err(e) => Some(e),
        Ok(resp) => resp.failed().first().map(|f| {
            let msg = format!(
                "quarantine refused {} messages: {} {}",
                resp.failed().len(),
                f.code(),
                f.message().unwrap_or("")
            );
            if f.sender_fault() {
                PortError::Permanent(msg)
            } else {
                PortError::Retryable(msg)
            }
        }),
    }
}

/// The error to report of several: a retryable one wins (the records come again), else
/// the first.
fn worst(errors: impl IntoIterator<Item = PortError>) -> Option<PortError> {
    let mut first: Option<PortError> = None;
    for e in errors {
        if first
            .as_ref()
            .is_none_or(|f| e.is_retryable() && !f.is_retryable())
        {
            first = Some(e);
        }
    }
    first
}

impl SqsQuarantine {
    /// Sends one batch: the error it met, if some of it was not sent.
    async fn send_batch(&self, batch: Vec<&String>, deadline: Instant) -> Option<PortError> {
        let entries: Vec<SendMessageBatchRequestEntry> = match batch
            .iter()
            .enumerate()
            .map(|(i, body)| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body.as_str())
                    .build()
                    .map_err(|e| PortError::Permanent(e.to_string()))
            })
            .collect::<Result<_, _>>()
        {
            Ok(e) => e,
            Err(e) => return Some(e),
        };
        let sent = within(deadline, "quarantine", async {
            self.client
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| classify("SendMessageBatch", e))
        })
        .await;
        batch_error(sent)
    }
}

impl Quarantine for SqsQuarantine {
    async fn put(&self, items: &[Quarantined], deadline: Instant) -> Result<(), PortError> {
        // Bodies, each under the per-batch size (a quarantined line is at most 64 KiB as
        // the message carries it, JSON-escaped: `burnbar_pipeline` cuts it).
        let bodies: Vec<String> = items
            .iter()
            .map(|q| serde_json::to_string(q).unwrap_or_default())
            .collect();
        // Every batch is sent even when one is refused: one refusal must not cost the
        // reasons of the others. The batches go [`SEND_CONCURRENCY`] at a time.
        let sends: Vec<_> = plan_batches(&bodies)
            .into_iter()
            .map(|batch| self.send_batch(batch, deadline))
            .collect();
        let errors: Vec<Option<PortError>> = stream::iter(sends)
            .buffer_unordered(SEND_CONCURRENCY)
            .collect()
            .await;
        worst(errors.into_iter().flatten()).map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_hold_ten_messages_or_256_kib_and_a_retryable_error_wins() {
        let bodies: Vec<String> = (0..21).map(|i| format!("{{\"n\":{i}}}")).collect();
        let b = plan_batches(&bodies);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 1]);
        let big: Vec<String> = (0..5).map(|_| "x".repeat(100 * 1024)).collect();
        assert_eq!(
            plan_batches(&big).iter().map(Vec::len).collect::<Vec<_>>(),
            [2, 2, 1]
        );
        let p = || PortError::Permanent("p".into());
        let r = || PortError::Retryable("r".into());
        assert_eq!(worst([p(), r(), p()]), Some(r()));
        assert_eq!(worst([p()]), Some(p()));
        assert_eq!(worst([]), None);
    }
}
