//! The writer API's wire format: what the telemetry-processor POSTs to API Gateway and
//! what the appsync-writer answers, with the limits both sides enforce.
//!
//! Request (`POST`, `content-type: application/json`, SigV4 for `execute-api`):
//!
//! ```json
//! {"updates": [FuelUpdate, ...], "race_states": [RaceState, ...]}
//! ```
//!
//! Both arrays may be empty or absent; each element follows `fuel-update-v1`. Responses are
//! JSON: 200 [`WriteResponse`], 400 [`ErrorResponse`] (bad input: the reason names the
//! field; never retried), 502/503 [`ErrorResponse`] (AppSync failed: retry later).

use burnbar_core::{FuelUpdate, RaceState};
use serde::{Deserialize, Serialize};

/// At most 500 updates per request: a full 40-car field closing about 12 windows. It keeps
/// one request's AppSync work (about 5 mutations at [`crate::appsync::MAX_UPDATES_PER_MUTATION`])
/// far inside API Gateway's 29 s integration timeout.
pub const MAX_UPDATES_PER_REQUEST: usize = 500;

/// At most 100 race states per request (one per race and batch is the normal case).
pub const MAX_STATES_PER_REQUEST: usize = 100;

/// At most 1 MiB of body. An update is about 700 bytes, so 500 of them fit with room to
/// spare; the cap sits far below Lambda's 6 MB synchronous payload and API Gateway's 10 MB,
/// so neither ever cuts a request the writer would have accepted.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// The body the writer API accepts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WriteRequest {
    #[serde(default)]
    pub updates: Vec<FuelUpdate>,
    #[serde(default)]
    pub race_states: Vec<RaceState>,
}

/// The writer's answer when everything was published (200).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteResponse {
    /// Updates published to AppSync.
    pub updates_published: usize,
    /// Race states published to AppSync.
    pub race_states_published: usize,
    /// Distinct races among the updates and states.
    pub races: usize,
    /// GraphQL mutations made.
    pub mutations: usize,
}

/// The writer's answer to a request it did not (fully) publish (400, 502, 503).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// `bad_request`, `appsync_rejected` or `appsync_unavailable`.
    pub error: String,
    /// Why, naming the field for bad input (`updates[3].car: ...`).
    pub reason: String,
    /// Whether sending the same request again may succeed.
    pub retryable: bool,
    /// Updates that did reach AppSync before the failure (re-publishing them is harmless:
    /// subscribers drop an update whose `seq` is not above the last they showed).
    #[serde(default)]
    pub updates_published: usize,
    /// Race states that did reach AppSync before the failure.
    #[serde(default)]
    pub race_states_published: usize,
}
