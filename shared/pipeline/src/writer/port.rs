//! [`AppSyncPort`]: the two mutations the writer's handler needs, implemented by the
//! real [`AppSyncClient`] and by `memory::MemoryAppSync` (feature `testkit`: handler
//! tests).

use std::future::Future;

use burnbar_core::{FuelUpdate, RaceState};
use burnbar_publish::{AppSyncClient, PublishError};
use tokio::time::Instant;

/// Publishing to AppSync. `Ok` carries the attempts made (1 when no retry was needed).
pub trait AppSyncPort: Send + Sync {
    /// `publishUpdates` for one race (at most `MAX_UPDATES_PER_MUTATION` updates).
    fn publish_updates(
        &self,
        race_id: &str,
        updates: &[FuelUpdate],
        deadline: Instant,
    ) -> impl Future<Output = Result<u32, PublishError>> + Send;

    /// `publishRaceState` for one state.
    fn publish_race_state(
        &self,
        state: &RaceState,
        deadline: Instant,
    ) -> impl Future<Output = Result<u32, PublishError>> + Send;
}

impl AppSyncPort for AppSyncClient {
    async fn publish_updates(
        &self,
        race_id: &str,
        updates: &[FuelUpdate],
        deadline: Instant,
    ) -> Result<u32, PublishError> {
        AppSyncClient::publish_updates(self, race_id, updates, deadline)
            .await
            .map(|r| r.attempts)
    }

    async fn publish_race_state(
        &self,
        state: &RaceState,
        deadline: Instant,
    ) -> Result<u32, PublishError> {
        AppSyncClient::publish_race_state(self, state, deadline)
            .await
            .map(|r| r.attempts)
    }
}

/// Issue 16 item 4: where published FuelUpdates also go, for consumers that are not
/// browsers (graphics vendors, archives): a Kinesis stream keyed by car, implemented by
/// `burnbar_aws::kinesis::KinesisDownstream`.
///
/// The writer puts them, not the processor: the writer is where a publish is
/// acknowledged, so one 200 covers both AppSync and the stream, and a failure of either
/// makes the caller (the processor, or race control) deliver the batch again from its
/// outbox; every published update passes through the writer whichever function decided
/// it; and the processor keeps one outbound call, one IAM grant less.
pub trait Downstream: Send + Sync {
    /// Puts `updates` (one record each, keyed by car). `Err` when any was not taken:
    /// the whole request is answered as failed and delivered again (at-least-once; a
    /// consumer drops an update whose car and `seq` it has seen).
    fn put_updates(
        &self,
        updates: &[FuelUpdate],
        deadline: Instant,
    ) -> impl Future<Output = Result<(), crate::ports::PortError>> + Send;
}

/// AppSync and, when configured, the downstream stream: a chunk of updates counts as
/// published once both took it. AppSync goes first (the viewers' latency); a stream
/// that then fails makes the chunk fail (retryable: 503, the caller sends it again, and
/// subscribers drop the `seq`s they have), a stream that refuses for good (no such
/// stream, access denied) answers 502 as a refused mutation does.
pub struct Publishing<A, D> {
    pub appsync: A,
    pub downstream: Option<D>,
}

impl<A: AppSyncPort, D: Downstream> AppSyncPort for Publishing<A, D> {
    async fn publish_updates(
        &self,
        race_id: &str,
        updates: &[FuelUpdate],
        deadline: Instant,
    ) -> Result<u32, PublishError> {
        let attempts = self
            .appsync
            .publish_updates(race_id, updates, deadline)
            .await?;
        if let Some(d) = &self.downstream {
            d.put_updates(updates, deadline)
                .await
                .map_err(|e| match e {
                    crate::ports::PortError::Retryable(m) => {
                        PublishError::Transport(format!("downstream stream: {m}"))
                    }
                    crate::ports::PortError::Permanent(m) => {
                        PublishError::Invalid(format!("downstream stream: {m}"))
                    }
                })?;
        }
        Ok(attempts)
    }

    async fn publish_race_state(
        &self,
        state: &RaceState,
        deadline: Instant,
    ) -> Result<u32, PublishError> {
        self.appsync.publish_race_state(state, deadline).await
    }
}
