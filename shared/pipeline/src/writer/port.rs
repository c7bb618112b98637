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
