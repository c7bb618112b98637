//! AppSync in memory, for the writer's handler tests.

use std::collections::BTreeMap;
use std::sync::Mutex;

use burnbar_core::{FuelUpdate, RaceState};
use burnbar_publish::PublishError;
use tokio::time::Instant;

use crate::writer::AppSyncPort;

/// A mutation as the in-memory AppSync received it.
#[derive(Debug, Clone, PartialEq)]
pub enum Mutation {
    Updates {
        race_id: String,
        updates: Vec<FuelUpdate>,
    },
    RaceState(RaceState),
}

/// AppSync in memory: records every mutation it accepts; a race can be made to fail with
/// a given error (every mutation for it fails, and is not recorded).
#[derive(Debug, Default)]
pub struct MemoryAppSync {
    accepted: Mutex<Vec<Mutation>>,
    failing: Mutex<BTreeMap<String, PublishError>>,
}

impl MemoryAppSync {
    pub fn new() -> Self {
        Self::default()
    }

    /// From now on, mutations for `race_id` fail with `error`.
    pub fn fail_race(&self, race_id: &str, error: PublishError) {
        lock(&self.failing).insert(race_id.to_owned(), error);
    }

    /// The mutations accepted so far, in order.
    pub fn mutations(&self) -> Vec<Mutation> {
        lock(&self.accepted).clone()
    }

    fn accept(&self, race_id: &str, m: Mutation) -> Result<u32, PublishError> {
        if let Some(e) = lock(&self.failing).get(race_id) {
            return Err(e.clone());
        }
        lock(&self.accepted).push(m);
        Ok(1)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl AppSyncPort for MemoryAppSync {
    async fn publish_updates(
        &self,
        race_id: &str,
        updates: &[FuelUpdate],
        _deadline: Instant,
    ) -> Result<u32, PublishError> {
        let m = Mutation::Updates {
            race_id: race_id.to_owned(),
            updates: updates.to_vec(),
        };
        self.accept(race_id, m)
    }

    async fn publish_race_state(
        &self,
        state: &RaceState,
        _deadline: Instant,
    ) -> Result<u32, PublishError> {
        self.accept(&state.race_id, Mutation::RaceState(state.clone()))
    }
}
