//! [`AppSyncClient`]: the writer's GraphQL mutations (`publishUpdates`, `publishRaceState`
//! of `schema.graphql`), signed for service `appsync`, with AppSync's error conventions:
//! an HTTP 200 can still carry an `errors` array, which decides retry or not.

use burnbar_core::{FuelUpdate, RaceState};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::retry::{PublishError, RetryPolicy, status_is_retryable};
use crate::signer::{ConfigError, Signer};
use crate::writer::check_url;
use crate::{post_signed, snippet};

/// At most 100 updates per `publishUpdates`: AppSync delivers a mutation's result to each
/// subscriber as one message of at most 240 KB, and 100 updates of about 700 bytes (plus
/// the message envelope) stay well under it.
pub const MAX_UPDATES_PER_MUTATION: usize = 100;

/// Every field of `FuelUpdate` in `schema.graphql`. AppSync sends subscribers only the
/// fields the mutation selected, so the mutation selects them all.
pub const FUEL_UPDATE_FIELDS: &[&str] = &[
    "v",
    "race_id",
    "car",
    "seq",
    "window_start",
    "window_end",
    "lap",
    "flag",
    "in_pit",
    "samples",
    "miles",
    "burn_gal",
    "burn_rate_gph",
    "mpg_window",
    "mpg_lap",
    "mpg_stint",
    "used_stint_gal",
    "used_race_gal",
    "remaining_gal",
    "remaining_low_gal",
    "remaining_high_gal",
    "laps_to_empty",
    "save_needed_pct",
    "burn_index",
    "mode",
    "model",
];

/// Every field of `RaceState` in `schema.graphql`.
pub const RACE_STATE_FIELDS: &[&str] = &[
    "v",
    "race_id",
    "track",
    "ts",
    "flag",
    "stage",
    "leader_lap",
    "scheduled_laps",
    "laps_to_go",
    "fuel_window_lap",
    "cant_make_it_pct",
    "cars_running",
    "drivers",
];

/// The `publishUpdates` mutation document.
pub fn publish_updates_mutation() -> String {
    format!(
        "mutation PublishUpdates($race_id: ID!, $updates: [FuelUpdateInput!]!) {{ \
         publishUpdates(race_id: $race_id, updates: $updates) {{ race_id updates {{ {} }} }} }}",
        FUEL_UPDATE_FIELDS.join(" ")
    )
}

/// The `publishRaceState` mutation document.
pub fn publish_race_state_mutation() -> String {
    format!(
        "mutation PublishRaceState($state: RaceStateInput!) {{ \
         publishRaceState(state: $state) {{ {} }} }}",
        RACE_STATE_FIELDS.join(" ")
    )
}

/// `state` as a `RaceStateInput`: `drivers` is `AWSJSON`, which AppSync takes as a string
/// holding JSON.
pub fn race_state_input(state: &RaceState) -> Result<Value, PublishError> {
    let mut v = serde_json::to_value(state)
        .map_err(|e| PublishError::Invalid(format!("cannot serialize race state: {e}")))?;
    let drivers = serde_json::to_string(&state.drivers)
        .map_err(|e| PublishError::Invalid(format!("cannot serialize drivers: {e}")))?;
    v["drivers"] = Value::String(drivers);
    Ok(v)
}

/// What one mutation took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MutationReport {
    /// Attempts made, the successful one included.
    pub attempts: u32,
}

/// The AppSync GraphQL client. Build it once per function instance and share it.
#[derive(Debug, Clone)]
pub struct AppSyncClient {
    http: reqwest::Client,
    signer: Signer,
    url: String,
    policy: RetryPolicy,
}

impl AppSyncClient {
    /// A client for the GraphQL endpoint `url` (`https://....appsync-api.REGION.amazonaws.com/graphql`).
    /// `signer` must be for service `appsync`.
    pub fn new(http: reqwest::Client, signer: Signer, url: &str) -> Result<Self, ConfigError> {
        check_url(url)?;
        Ok(AppSyncClient {
            http,
            signer,
            url: url.to_owned(),
            policy: RetryPolicy::default(),
        })
    }

    /// Replaces the retry policy.
    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// `publishUpdates` for one race. The caller keeps `updates` within
    /// [`MAX_UPDATES_PER_MUTATION`] and of race `race_id`.
    pub async fn publish_updates(
        &self,
        race_id: &str,
        updates: &[FuelUpdate],
        deadline: Instant,
    ) -> Result<MutationReport, PublishError> {
        let variables = json!({ "race_id": race_id, "updates": updates });
        let (data, attempts) = self
            .mutate(
                &publish_updates_mutation(),
                variables,
                "publishUpdates",
                deadline,
            )
            .await?;
        let echoed = data["updates"].as_array().map(Vec::len);
        if echoed != Some(updates.len()) {
            return Err(PublishError::Invalid(format!(
                "publishUpdates returned {echoed:?} updates for {} sent",
                updates.len()
            )));
        }
        Ok(MutationReport { attempts })
    }

    /// `publishRaceState` for one race state.
    pub async fn publish_race_state(
        &self,
        state: &RaceState,
        deadline: Instant,
    ) -> Result<MutationReport, PublishError> {
        let variables = json!({ "state": race_state_input(state)? });
        let (_, attempts) = self
            .mutate(
                &publish_race_state_mutation(),
                variables,
                "publishRaceState",
                deadline,
            )
            .await?;
        Ok(MutationReport { attempts })
    }

    /// Runs one mutation and returns `data.<field>` (which must not be null) and the
    /// attempts made.
    pub async fn mutate(
        &self,
        query: &str,
        variables: Value,
        field: &str,
        deadline: Instant,
    ) -> Result<(Value, u32), PublishError> {
        let body = serde_json::to_vec(&json!({ "query": query, "variables": variables }))
            .map_err(|e| PublishError::Invalid(format!("cannot serialize mutation: {e}")))?;
        self.policy
            .run(deadline, |_| async {
                let (status, bytes) =
                    post_signed(&self.http, &self.signer, &self.url, &body).await?;
                read_response(status, &bytes, field)
            })
            .await
    }
}

/// Turns AppSync's answer into the field's data or a classified error.
pub fn read_response(status: u16, body: &[u8], field: &str) -> Result<Value, PublishError> {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let errors = parsed
        .as_ref()
        .and_then(|v| v.get("errors"))
        .and_then(Value::as_array)
        .filter(|e| !e.is_empty());
    if status != 200 {
        if let (false, Some(errors)) = (status_is_retryable(status), errors) {
            let mut e = graphql_error(errors);
            if let PublishError::GraphQl { message, .. } = &mut e {
                *message = format!("{message} (HTTP {status})");
            }
            if let PublishError::GraphQl { retryable, .. } = &mut e {
                *retryable = false;
            }
            return Err(e);
        }
        return Err(PublishError::Status {
            status,
            body: snippet(body),
        });
    }
    if let Some(errors) = errors {
        return Err(graphql_error(errors));
    }
    let data = parsed
        .as_ref()
        .and_then(|v| v.get("data"))
        .and_then(|d| d.get(field))
        .filter(|d| !d.is_null())
        .cloned();
    data.ok_or_else(|| {
        PublishError::Invalid(format!(
            "AppSync answered 200 without data.{field}: {}",
            snippet(body)
        ))
    })
}

/// The first GraphQL error, classified by its `errorType` (and message): throttling and
/// AppSync-side failures are retryable; authorization, validation and mapping errors are
/// not (the same request would fail the same way).
fn graphql_error(errors: &[Value]) -> PublishError {
    let e = &errors[0];
    let error_type = e
        .get("errorType")
        .or_else(|| e.pointer("/extensions/errorType"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let message = e
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let text = format!("{error_type} {message}").to_ascii_lowercase();
    const RETRYABLE: &[&str] = &[
        "throttl",
        "limitexceeded",
        "toomanyrequests",
        "rate exceeded",
        "serviceunavailable",
        "service unavailable",
        "internalfailure",
        "internal error",
        "timeout",
        "timed out",
    ];
    let retryable = RETRYABLE.iter().any(|k| text.contains(k));
    PublishError::GraphQl {
        error_type: if error_type.is_empty() {
            "Unknown".to_owned()
        } else {
            error_type
        },
        message,
        retryable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appsync_answers_are_classified() {
        let ok = br#"{"data":{"publishRaceState":{"race_id":"r"}}}"#;
        assert_eq!(
            read_response(200, ok, "publishRaceState").unwrap()["race_id"],
            "r"
        );

        let unauthorized = br#"{"data":{"publishRaceState":null},"errors":[{"errorType":"Unauthorized","message":"Not Authorized to access publishRaceState on type Mutation"}]}"#;
        let e = read_response(200, unauthorized, "publishRaceState").unwrap_err();
        assert!(
            matches!(&e, PublishError::GraphQl { error_type, .. } if error_type == "Unauthorized")
        );
        assert!(!e.is_retryable());

        let validation = br#"{"errors":[{"errorType":"ValidationError","message":"Validation error of type WrongType"}]}"#;
        assert!(
            !read_response(200, validation, "x")
                .unwrap_err()
                .is_retryable()
        );

        let throttled =
            br#"{"data":null,"errors":[{"errorType":"Throttling","message":"Rate exceeded"}]}"#;
        assert!(
            read_response(200, throttled, "x")
                .unwrap_err()
                .is_retryable()
        );

        let bad_sig = br#"{"errors":[{"errorType":"UnauthorizedException","message":"The security token included in the request is invalid."}]}"#;
        let e = read_response(401, bad_sig, "x").unwrap_err();
        assert!(!e.is_retryable(), "{e:?}");

        assert!(
            read_response(503, b"<html>", "x")
                .unwrap_err()
                .is_retryable()
        );
        assert!(read_response(429, b"{}", "x").unwrap_err().is_retryable());
        assert!(
            !read_response(200, b"{\"data\":{}}", "x")
                .unwrap_err()
                .is_retryable()
        );
        assert!(!read_response(400, b"nope", "x").unwrap_err().is_retryable());
    }

    #[test]
    fn race_state_drivers_travel_as_awsjson_text() {
        let s: RaceState = serde_json::from_value(json!({
            "v": 1, "race_id": "r", "track": "pocono", "ts": 5, "flag": "green", "stage": 1,
            "leader_lap": 3.5, "scheduled_laps": 160, "laps_to_go": 156.5, "fuel_window_lap": null,
            "cant_make_it_pct": 15, "cars_running": 2, "drivers": {"1": "A", "2": "B"}
        }))
        .unwrap();
        let v = race_state_input(&s).unwrap();
        assert_eq!(v["drivers"], r#"{"1":"A","2":"B"}"#);
        assert_eq!(v["leader_lap"], 3.5);
    }
}
