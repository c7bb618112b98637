//! The quarantine: rejected records, with their reasons, in an SQS queue an operator
//! reads (and redrives after a fix).

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use burnbar_pipeline::Quarantined;
use burnbar_pipeline::ports::{PortError, Quarantine};
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

impl Quarantine for SqsQuarantine {
    async fn put(&self, items: &[Quarantined], deadline: Instant) -> Result<(), PortError> {
        // Bodies, each under the per-batch size (a quarantined line is at most 64 KiB as
        // the message carries it, JSON-escaped: `burnbar_pipeline` cuts it).
        let bodies: Vec<String> = items
            .iter()
            .map(|q| serde_json::to_string(q).unwrap_or_default())
            .collect();
        let mut batches: Vec<Vec<&String>> = Vec::new();
        let mut bytes = 0;
        for b in &bodies {
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
        // Every batch is sent even when one is refused: one refusal must not cost the
        // reasons of the others. A retryable failure wins (the records come again).
        let mut first_err: Option<PortError> = None;
        for batch in batches {
            let entries: Vec<SendMessageBatchRequestEntry> = batch
                .iter()
                .enumerate()
                .map(|(i, body)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body.as_str())
                        .build()
                        .map_err(|e| PortError::Permanent(e.to_string()))
                })
                .collect::<Result<_, _>>()?;
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
            let err = match sent {
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
            };
            if let Some(e) = err {
                let retryable = e.is_retryable();
                if first_err
                    .as_ref()
                    .is_none_or(|f| retryable && !f.is_retryable())
                {
                    first_err = Some(e);
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}
