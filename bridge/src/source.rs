//! Where messages come from: a core NATS queue group or a JetStream durable pull consumer.
//!
//! Both become one stream of [`Incoming`] messages; a JetStream message carries its
//! acknowledgement handle, which the writer uses once Kinesis accepted the record (or
//! the ingest loop, to terminate a malformed message so it is not redelivered forever).

use std::pin::Pin;

use async_nats::jetstream::consumer::{AckPolicy, pull};
use async_nats::jetstream::message::Acker;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use crate::config::{Config, Mode};

/// One message as received.
pub struct Incoming {
    pub payload: Bytes,
    /// `Some` in JetStream mode.
    pub ack: Option<Acker>,
}

/// The messages of all subjects, or an error of the consumer (logged, not fatal).
pub type Messages = Pin<Box<dyn Stream<Item = Result<Incoming, String>> + Send>>;

/// Subscribes as the configuration says.
pub async fn subscribe(client: &async_nats::Client, cfg: &Config) -> Result<Messages, String> {
    match cfg.mode {
        Mode::Core => {
            let mut subs = Vec::new();
            for subject in &cfg.subjects {
                let sub = client
                    .queue_subscribe(subject.clone(), cfg.queue_group.clone())
                    .await
                    .map_err(|e| format!("subscribing to `{subject}`: {e}"))?;
                subs.push(sub.map(|m| {
                    Ok(Incoming {
                        payload: m.payload,
                        ack: None,
                    })
                }));
            }
            Ok(Box::pin(futures_util::stream::select_all(subs)))
        }
        Mode::JetStream => {
            let js = async_nats::jetstream::new(client.clone());
            let stream = js
                .get_stream(&cfg.js_stream)
                .await
                .map_err(|e| format!("JetStream stream `{}`: {e}", cfg.js_stream))?;
            // The consumer reads the whole stream: the platform decides what the stream
            // holds, and a filter the stream does not match would wait forever silently
            // (multi-subject filters also need nats-server 2.10).
            let consumer = stream
                .get_or_create_consumer(
                    &cfg.js_consumer,
                    pull::Config {
                        durable_name: Some(cfg.js_consumer.clone()),
                        ack_policy: AckPolicy::Explicit,
                        ack_wait: cfg.js_ack_wait,
                        max_ack_pending: cfg.js_max_ack_pending,
                        ..Default::default()
                    },
                )
                .await
                .map_err(|e| format!("JetStream consumer `{}`: {e}", cfg.js_consumer))?;
            let messages = consumer
                .stream()
                .max_messages_per_batch(500)
                .messages()
                .await
                .map_err(|e| format!("JetStream consumer `{}`: {e}", cfg.js_consumer))?;
            Ok(Box::pin(messages.map(|m| match m {
                Ok(m) => {
                    let (msg, acker) = m.split();
                    Ok(Incoming {
                        payload: msg.payload,
                        ack: Some(acker),
                    })
                }
                Err(e) => Err(format!("JetStream: {e}")),
            })))
        }
    }
}
