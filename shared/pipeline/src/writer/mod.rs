//! The appsync-writer's handler: a writer API request (API Gateway's REST API proxy
//! event) in, AppSync mutations out, and the answer.
//!
//! - [`validate`]: the request body against `fuel-update-v1`, with reasons naming fields.
//! - [`port`]: [`AppSyncPort`], what the handler needs from AppSync, implemented by the
//!   real client (the in-memory one is `memory::MemoryAppSync`, feature `testkit`).
//! - this file: [`handle`]: validate, group by race, publish, answer; metrics and logs.
//!
//! # Event and answers
//!
//! The event is API Gateway's REST API proxy event (payload format 1.0:
//! `httpMethod`, `body`, `isBase64Encoded`, `requestContext.identity.userArn` of the IAM
//! caller). The answer is a proxy response with a JSON body: 200
//! [`burnbar_publish::wire::WriteResponse`]; 400 (bad input, the reason names the field),
//! 502 (AppSync refused the mutation: authorization, schema) or 503 (AppSync throttled,
//! failed or too slow), each an [`burnbar_publish::wire::ErrorResponse`].

pub mod port;
pub mod validate;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderMap, HeaderValue};
use base64::Engine as _;
use burnbar_core::FuelUpdate;
use burnbar_metrics::{MetricSet, Unit, log};
use burnbar_publish::PublishError;
use burnbar_publish::appsync::MAX_UPDATES_PER_MUTATION;
use burnbar_publish::wire::{ErrorResponse, WriteRequest, WriteResponse};
use serde_json::json;
use tokio::time::Instant;

pub use port::{AppSyncPort, Downstream, Publishing};

/// Time kept back from the invocation's deadline to answer: an answer after the deadline
/// is no answer, and API Gateway would tell the caller 502 with nothing in it.
pub const ANSWER_MARGIN: Duration = Duration::from_millis(300);

/// Validates the request, publishes it and says how it went. Never fails: every outcome
/// is an HTTP answer the caller understands.
pub async fn handle<P: AppSyncPort>(
    port: &P,
    req: &ApiGatewayProxyRequest,
    deadline: Instant,
    request_id: &str,
    metrics: &mut MetricSet,
) -> ApiGatewayProxyResponse {
    let caller = req.request_context.identity.user_arn.clone();
    let batch = match body_bytes(req).and_then(|b| validate::parse_batch(&b)) {
        Ok(b) => b,
        Err(reason) => {
            metrics.count("requests_rejected_total", 1);
            log(
                "warn",
                "request rejected",
                Some(request_id),
                &[("reason", json!(reason)), ("caller", json!(caller))],
            );
            return error_response(400, "bad_request", reason, false, 0, 0);
        }
    };
    metrics.count("requests_rejected_total", 0);
    metrics.count("updates_received_total", batch.updates.len() as u64);
    metrics.count("race_states_received_total", batch.race_states.len() as u64);
    let (published, failures) = publish(port, &batch, deadline, metrics).await;
    answer(published, &failures, request_id, caller.as_deref())
}

/// A mutation that failed: which one, and why.
type Failure = (String, PublishError);

/// Publishes the batch: each race's updates in mutations of at most
/// [`MAX_UPDATES_PER_MUTATION`] (AppSync's subscription message limit), keeping each
/// race's order, then each race state. What went out, and the mutations that failed.
async fn publish<P: AppSyncPort>(
    port: &P,
    batch: &WriteRequest,
    deadline: Instant,
    metrics: &mut MetricSet,
) -> (WriteResponse, Vec<Failure>) {
    let mut by_race: BTreeMap<&str, Vec<&FuelUpdate>> = BTreeMap::new();
    for u in &batch.updates {
        by_race.entry(u.race_id.as_str()).or_default().push(u);
    }
    let mut races: BTreeSet<&str> = by_race.keys().copied().collect();
    races.extend(batch.race_states.iter().map(|s| s.race_id.as_str()));

    let appsync_started = Instant::now();
    let mut published = WriteResponse {
        races: races.len(),
        ..WriteResponse::default()
    };
    let mut failures: Vec<Failure> = Vec::new();
    for (race, updates) in &by_race {
        for chunk in updates.chunks(MAX_UPDATES_PER_MUTATION) {
            let chunk: Vec<FuelUpdate> = chunk.iter().map(|u| (*u).clone()).collect();
            let r = port.publish_updates(race, &chunk, deadline).await;
            let what = format!("publishUpdates race {race:?}");
            if note(what, r, metrics, &mut failures) {
                published.updates_published += chunk.len();
            }
            published.mutations += 1;
        }
    }
    for state in &batch.race_states {
        let r = port.publish_race_state(state, deadline).await;
        let what = format!("publishRaceState race {:?}", state.race_id);
        if note(what, r, metrics, &mut failures) {
            published.race_states_published += 1;
        }
        published.mutations += 1;
    }
    metrics.set(
        "appsync_latency_ms",
        Unit::Milliseconds,
        appsync_started.elapsed().as_secs_f64() * 1000.0,
    );
    metrics.count(
        "updates_published_total",
        published.updates_published as u64,
    );
    metrics.count(
        "race_states_published_total",
        published.race_states_published as u64,
    );
    metrics.count("publish_failures_total", 0);
    (published, failures)
}

/// Counts one mutation and its retries; a failure joins `failures`. Whether it went out.
fn note(
    what: String,
    r: Result<u32, PublishError>,
    metrics: &mut MetricSet,
    failures: &mut Vec<Failure>,
) -> bool {
    metrics.count("mutations_sent_total", 1);
    match r {
        Ok(attempts) => {
            metrics.count(
                "mutation_retries_total",
                u64::from(attempts.saturating_sub(1)),
            );
            true
        }
        Err(e) => {
            metrics.count("publish_failures_total", 1);
            failures.push((what, e));
            false
        }
    }
}

/// The answer: 200 with what was published, or the failures. Retrying helps if any
/// failure was transient (503); if every one was a refusal (502), AppSync needs fixing
/// (permissions, schema) before the same request can pass.
fn answer(
    published: WriteResponse,
    failures: &[Failure],
    request_id: &str,
    caller: Option<&str>,
) -> ApiGatewayProxyResponse {
    if failures.is_empty() {
        log(
            "info",
            "published",
            Some(request_id),
            &[
                ("updates", json!(published.updates_published)),
                ("race_states", json!(published.race_states_published)),
                ("races", json!(published.races)),
                ("mutations", json!(published.mutations)),
                ("caller", json!(caller)),
            ],
        );
        return json_response(200, &published, HeaderMap::new());
    }
    let retryable = failures.iter().any(|(_, e)| e.is_retryable());
    let reason = failures
        .iter()
        .map(|(what, e)| format!("{what}: {e}"))
        .collect::<Vec<_>>()
        .join("; ");
    log(
        "error",
        "publish failed",
        Some(request_id),
        &[
            ("reason", json!(reason)),
            ("retryable", json!(retryable)),
            ("failed_mutations", json!(failures.len())),
            ("updates_published", json!(published.updates_published)),
        ],
    );
    let (status, code) = if retryable {
        (503, "appsync_unavailable")
    } else {
        (502, "appsync_rejected")
    };
    error_response(
        status,
        code,
        reason,
        retryable,
        published.updates_published,
        published.race_states_published,
    )
}

/// The body as bytes: API Gateway base64-encodes it only for binary media types.
fn body_bytes(req: &ApiGatewayProxyRequest) -> Result<Vec<u8>, String> {
    if req.http_method != aws_lambda_events::http::Method::POST {
        return Err(format!(
            "method {} is not allowed: POST a batch",
            req.http_method
        ));
    }
    let body = req.body.as_deref().unwrap_or("");
    if body.is_empty() {
        return Err("body: missing (POST a JSON batch)".to_owned());
    }
    if req.is_base64_encoded {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| format!("body: isBase64Encoded but not base64: {e}"))
    } else {
        Ok(body.as_bytes().to_vec())
    }
}

fn error_response(
    status: i64,
    error: &str,
    reason: String,
    retryable: bool,
    updates_published: usize,
    race_states_published: usize,
) -> ApiGatewayProxyResponse {
    let body = ErrorResponse {
        error: error.to_owned(),
        reason,
        retryable,
        updates_published,
        race_states_published,
    };
    let mut headers = HeaderMap::new();
    if status == 503 {
        headers.insert("retry-after", HeaderValue::from_static("1"));
    }
    json_response(status, &body, headers)
}

fn json_response(
    status: i64,
    body: &impl serde::Serialize,
    mut headers: HeaderMap,
) -> ApiGatewayProxyResponse {
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    let mut r = ApiGatewayProxyResponse::default();
    r.status_code = status;
    r.headers = headers;
    r.body = Some(Body::Text(
        serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned()),
    ));
    r
}
