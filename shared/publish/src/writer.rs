//! [`WriterClient`]: sends `FuelUpdate`s and `RaceState`s to the writer API (API Gateway,
//! IAM auth) in requests within the [`crate::wire`] limits, each signed for `execute-api`
//! and retried on its own while the caller's deadline allows.

use burnbar_core::{FuelUpdate, RaceState};
use tokio::time::Instant;

use crate::retry::{PublishError, RetryPolicy};
use crate::signer::{ConfigError, Signer};
use crate::wire::{self, WriteResponse};
use crate::{post_signed, snippet};

/// What a publish delivered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublishReport {
    /// Updates the writer acknowledged.
    pub updates: usize,
    /// Race states the writer acknowledged.
    pub race_states: usize,
    /// Requests that succeeded (one per split of the batch).
    pub requests: usize,
    /// Attempts beyond the first, over all requests: retried and then delivered is not a
    /// drop, so it is counted here and nowhere else.
    pub retries: usize,
}

/// A publish that did not deliver everything: the error of the request that failed, and
/// what earlier requests of the same call delivered (sending those again is harmless).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{error} (delivered first: {} updates, {} race states)", delivered.updates, delivered.race_states)]
pub struct PublishFailure {
    pub error: PublishError,
    pub delivered: PublishReport,
}

impl PublishFailure {
    /// Whether the same call may succeed later.
    pub fn is_retryable(&self) -> bool {
        self.error.is_retryable()
    }
}

/// The client of the writer API. Build it once per function instance and share it.
#[derive(Debug, Clone)]
pub struct WriterClient {
    http: reqwest::Client,
    signer: Signer,
    url: String,
    policy: RetryPolicy,
    max_updates: usize,
    max_states: usize,
    max_body: usize,
}

impl WriterClient {
    /// A client for the writer API at `url` (the stage's invoke URL and resource path).
    /// `signer` must be for service `execute-api`.
    pub fn new(http: reqwest::Client, signer: Signer, url: &str) -> Result<Self, ConfigError> {
        check_url(url)?;
        Ok(WriterClient {
            http,
            signer,
            url: url.to_owned(),
            policy: RetryPolicy::default(),
            max_updates: wire::MAX_UPDATES_PER_REQUEST,
            max_states: wire::MAX_STATES_PER_REQUEST,
            max_body: wire::MAX_BODY_BYTES,
        })
    }

    /// Replaces the retry policy.
    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Lowers the per-request limits (never above the [`crate::wire`] ones, which the writer
    /// enforces): useful to keep requests small, and to test splitting.
    pub fn with_limits(mut self, max_updates: usize, max_states: usize, max_body: usize) -> Self {
        self.max_updates = max_updates.clamp(1, wire::MAX_UPDATES_PER_REQUEST);
        self.max_states = max_states.clamp(1, wire::MAX_STATES_PER_REQUEST);
        self.max_body = max_body.clamp(1024, wire::MAX_BODY_BYTES);
        self
    }

    /// Publishes `updates` and `states`, split into as many requests as the limits need
    /// (in order), each retried on throttling, 5xx, timeouts and broken connections while
    /// `deadline` allows. Stops at the first request that fails; nothing is sent for an
    /// empty call.
    pub async fn publish(
        &self,
        updates: &[FuelUpdate],
        states: &[RaceState],
        deadline: Instant,
    ) -> Result<PublishReport, PublishFailure> {
        let mut report = PublishReport::default();
        let fail = |error, delivered| PublishFailure { error, delivered };
        let bodies = self.split(updates, states).map_err(|e| fail(e, report))?;
        for chunk in bodies {
            let (ack, attempts) = self
                .policy
                .run(deadline, |_| self.send(&chunk.body))
                .await
                .map_err(|e| fail(e, report))?;
            if ack.updates_published != chunk.updates || ack.race_states_published != chunk.states {
                let e = PublishError::Invalid(format!(
                    "the writer acknowledged {} updates and {} race states of {} and {}",
                    ack.updates_published, ack.race_states_published, chunk.updates, chunk.states
                ));
                return Err(fail(e, report));
            }
            report.updates += chunk.updates;
            report.race_states += chunk.states;
            report.requests += 1;
            report.retries += attempts as usize - 1;
        }
        Ok(report)
    }

    async fn send(&self, body: &[u8]) -> Result<WriteResponse, PublishError> {
        let (status, bytes) = post_signed(&self.http, &self.signer, &self.url, body).await?;
        if status != 200 {
            return Err(PublishError::Status {
                status,
                body: snippet(&bytes),
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            PublishError::Invalid(format!("writer answered 200 with {}: {e}", snippet(&bytes)))
        })
    }

    /// Packs the serialized items greedily, in order, into bodies within the limits.
    fn split(
        &self,
        updates: &[FuelUpdate],
        states: &[RaceState],
    ) -> Result<Vec<Chunk>, PublishError> {
        let ser = |r: Result<Vec<u8>, serde_json::Error>| {
            r.map_err(|e| PublishError::Invalid(format!("cannot serialize: {e}")))
        };
        let mut items = Vec::with_capacity(updates.len() + states.len());
        for u in updates {
            items.push((false, ser(serde_json::to_vec(u))?));
        }
        for s in states {
            items.push((true, ser(serde_json::to_vec(s))?));
        }
        let mut chunks = Vec::new();
        let mut open = Builder::default();
        for (is_state, item) in items {
            let full = if is_state {
                open.states.len() >= self.max_states
            } else {
                open.updates.len() >= self.max_updates
            };
            if full || open.size_with(&item) > self.max_body {
                if !open.is_empty() {
                    chunks.push(std::mem::take(&mut open).finish());
                }
                if open.size_with(&item) > self.max_body {
                    return Err(PublishError::Invalid(format!(
                        "one item of {} bytes exceeds the request limit of {} bytes",
                        item.len(),
                        self.max_body
                    )));
                }
            }
            if is_state {
                open.states.push(item);
            } else {
                open.updates.push(item);
            }
        }
        if !open.is_empty() {
            chunks.push(open.finish());
        }
        Ok(chunks)
    }
}

/// One request body and what it carries.
struct Chunk {
    body: Vec<u8>,
    updates: usize,
    states: usize,
}

#[derive(Default)]
struct Builder {
    updates: Vec<Vec<u8>>,
    states: Vec<Vec<u8>>,
}

impl Builder {
    const ENVELOPE: usize = r#"{"updates":[],"race_states":[]}"#.len();

    fn is_empty(&self) -> bool {
        self.updates.is_empty() && self.states.is_empty()
    }

    /// The body's size with `item` added (one comma per item bounds the separators).
    fn size_with(&self, item: &[u8]) -> usize {
        let items: usize = self
            .updates
            .iter()
            .chain(&self.states)
            .map(|i| i.len() + 1)
            .sum();
        Self::ENVELOPE + items + item.len() + 1
    }

    fn finish(self) -> Chunk {
        let mut body = Vec::with_capacity(Self::ENVELOPE + 1024);
        let join = |body: &mut Vec<u8>, items: &[Vec<u8>]| {
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    body.push(b',');
                }
                body.extend_from_slice(it);
            }
        };
        body.extend_from_slice(br#"{"updates":["#);
        join(&mut body, &self.updates);
        body.extend_from_slice(br#"],"race_states":["#);
        join(&mut body, &self.states);
        body.extend_from_slice(b"]}");
        Chunk {
            body,
            updates: self.updates.len(),
            states: self.states.len(),
        }
    }
}

pub(crate) fn check_url(url: &str) -> Result<(), ConfigError> {
    let u = reqwest::Url::parse(url).map_err(|e| ConfigError(format!("URL {url:?}: {e}")))?;
    if !matches!(u.scheme(), "https" | "http") || u.host_str().is_none() {
        return Err(ConfigError(format!(
            "URL {url:?} is not an http(s) URL with a host"
        )));
    }
    Ok(())
}
