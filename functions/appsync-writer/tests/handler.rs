//! The handler with the in-memory AppSync: the sample events, every kind of bad input,
//! and AppSync failures, with the exact responses.

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::encodings::Body;
use burnbar_lambda::deadline::deadline_from;
use burnbar_metrics::MetricSet;
use burnbar_pipeline::memory::{MemoryAppSync, Mutation};
use burnbar_pipeline::writer::{ANSWER_MARGIN, handle};
use burnbar_publish::PublishError;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::time::Instant;

const GOOD: &str = include_str!("../../../events/appsync-writer.json");
const BAD: &str = include_str!("../../../events/appsync-writer-bad.json");

/// The function's metric set (namespace, dimension), as its invocations get it.
fn metric_set() -> MetricSet {
    burnbar_lambda::invocation::metric_set("appsync-writer")
}

fn event(text: &str) -> ApiGatewayProxyRequest {
    serde_json::from_str(text).unwrap()
}

fn good_body() -> Value {
    serde_json::from_str(event(GOOD).body.as_deref().unwrap()).unwrap()
}

fn with_body(body: &Value) -> ApiGatewayProxyRequest {
    let mut e = event(GOOD);
    e.body = Some(body.to_string());
    e
}

async fn run(
    port: &MemoryAppSync,
    req: &ApiGatewayProxyRequest,
) -> (i64, Value, ApiGatewayProxyResponse) {
    let mut m = metric_set();
    let deadline = Instant::now() + Duration::from_secs(5);
    let r = handle(port, req, deadline, "req-1", &mut m).await;
    let body = match &r.body {
        Some(Body::Text(t)) => serde_json::from_str(t).unwrap(),
        other => panic!("body {other:?}"),
    };
    (r.status_code, body, r)
}

#[tokio::test]
async fn the_sample_batch_becomes_one_mutation_per_race_and_one_per_state() {
    let port = MemoryAppSync::new();
    let mut m = metric_set();
    let r = handle(
        &port,
        &event(GOOD),
        Instant::now() + Duration::from_secs(5),
        "req-1",
        &mut m,
    )
    .await;
    assert_eq!(r.status_code, 200);
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(
        r.body,
        Some(Body::Text(
            r#"{"updates_published":4,"race_states_published":1,"races":2,"mutations":3}"#
                .to_owned()
        ))
    );
    let body = good_body();
    let updates = body["updates"].as_array().unwrap();
    let got = port.mutations();
    assert_eq!(got.len(), 3);
    let as_json = |m: &Mutation| match m {
        Mutation::Updates { race_id, updates } => json!({"race_id": race_id, "updates": updates}),
        Mutation::RaceState(s) => json!({"state": s}),
    };
    assert_eq!(
        as_json(&got[0]),
        json!({"race_id": "michigan-2026", "updates": [updates[3]]})
    );
    assert_eq!(
        as_json(&got[1]),
        json!({"race_id": "pocono-2026", "updates": [updates[0], updates[1], updates[2]]})
    );
    assert_eq!(as_json(&got[2]), json!({"state": body["race_states"][0]}));
    assert_eq!(m.get("updates_published_total"), Some(4.0));
    assert_eq!(m.get("race_states_published_total"), Some(1.0));
    assert_eq!(m.get("mutations_sent_total"), Some(3.0));
    assert_eq!(m.get("publish_failures_total"), Some(0.0));
    assert_eq!(m.get("requests_rejected_total"), Some(0.0));
}

#[tokio::test]
async fn a_large_race_is_published_in_mutations_of_at_most_100() {
    let mut body = good_body();
    let one = body["updates"][0].clone();
    body["updates"] = Value::Array(
        (0..250)
            .map(|k| {
                let mut u = one.clone();
                u["seq"] = json!(one["seq"].as_i64().unwrap() + k);
                u
            })
            .collect(),
    );
    body["race_states"] = json!([]);
    let port = MemoryAppSync::new();
    let (status, resp, _) = run(&port, &with_body(&body)).await;
    assert_eq!(status, 200);
    assert_eq!(
        resp,
        json!({"updates_published": 250, "race_states_published": 0, "races": 1, "mutations": 3})
    );
    let sizes: Vec<usize> = port
        .mutations()
        .iter()
        .map(|m| match m {
            Mutation::Updates { updates, .. } => updates.len(),
            Mutation::RaceState(_) => 0,
        })
        .collect();
    assert_eq!(sizes, [100, 100, 50]);
    let seqs: Vec<i64> = port
        .mutations()
        .iter()
        .flat_map(|m| match m {
            Mutation::Updates { updates, .. } => updates.iter().map(|u| u.seq).collect(),
            Mutation::RaceState(_) => Vec::new(),
        })
        .collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "order kept");
}

#[tokio::test]
async fn the_bad_sample_event_is_a_400_naming_the_field() {
    let port = MemoryAppSync::new();
    let (status, body, r) = run(&port, &event(BAD)).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error": "bad_request", "reason": "updates[1].remaining_gal: 120.5 is above 100",
               "retryable": false, "updates_published": 0, "race_states_published": 0})
    );
    assert!(r.headers.get("retry-after").is_none());
    assert!(
        port.mutations().is_empty(),
        "nothing of a bad batch is published"
    );
}

// Over 80 lines: a table of cases, one input and its reason a line.
#[tokio::test]
async fn every_kind_of_bad_input_is_a_400_with_its_reason() {
    let b = good_body();
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut v = b.clone();
        f(&mut v);
        with_body(&v)
    };
    let raw = |s: &str| {
        let mut e = event(GOOD);
        e.body = Some(s.to_owned());
        e
    };
    let big = format!(r#"{{"updates":[],"pad":"{}"}}"#, "x".repeat(1 << 20));
    let many = edit(&|v| v["updates"] = Value::Array(vec![v["updates"][0].clone(); 501]));
    let cases: Vec<(ApiGatewayProxyRequest, &str)> = vec![
        (raw("{\"updates\": ["), "body: not valid JSON"),
        (raw("[]"), "body: must be a JSON object"),
        (
            raw(&big),
            "body: 1048599 bytes is over the limit of 1048576 bytes",
        ),
        (edit(&|v| v["extra"] = json!(1)), "extra: unknown field"),
        (
            edit(&|v| v["updates"] = json!({})),
            "updates: must be an array",
        ),
        (many, "updates: 501 items is over the limit of 500"),
        (
            edit(&|v| v["updates"][0] = json!(3)),
            "updates[0]: must be an object",
        ),
        (
            edit(&|v| {
                v["updates"][2].as_object_mut().unwrap().remove("burn_gal");
            }),
            "updates[2].burn_gal: missing",
        ),
        (
            edit(&|v| v["updates"][0]["lap"] = json!("x")),
            "updates[0].lap: expected a number, got \"x\"",
        ),
        (
            edit(&|v| v["updates"][0]["v"] = json!(2)),
            "updates[0].v: must be 1, got 2",
        ),
        (
            edit(&|v| v["updates"][0]["race_id"] = json!("")),
            "updates[0].race_id: must not be empty",
        ),
        (
            edit(&|v| v["updates"][0]["car"] = json!("12345")),
            "updates[0].car: must be 1-4 characters",
        ),
        (
            edit(&|v| v["updates"][0]["car"] = json!("1-2")),
            "updates[0].car: must be letters and digits only",
        ),
        (
            edit(&|v| v["updates"][0]["flag"] = json!("blue")),
            "updates[0].flag: expected one of green, yellow, red, white, checkered, got \"blue\"",
        ),
        (
            edit(&|v| v["updates"][0]["model"] = json!("ml")),
            "updates[0].model: expected one of physics, physics+ml",
        ),
        (
            edit(&|v| v["updates"][0]["samples"] = json!(0)),
            "updates[0].samples: 0 is below 1",
        ),
        (
            edit(&|v| v["updates"][0]["seq"] = json!(1.5)),
            "updates[0].seq: expected an integer, got 1.5",
        ),
        (
            edit(&|v| v["updates"][0]["burn_gal"] = json!(-0.1)),
            "updates[0].burn_gal: -0.1 is below 0",
        ),
        (
            edit(&|v| v["updates"][0]["mpg_lap"] = json!(-1)),
            "updates[0].mpg_lap: -1 is below 0",
        ),
        (
            edit(&|v| v["updates"][0]["in_pit"] = json!("no")),
            "updates[0].in_pit: expected true or false",
        ),
        (
            edit(&|v| v["updates"][0]["window_end"] = v["updates"][0]["window_start"].clone()),
            "updates[0].window_end: must be after window_start",
        ),
        (
            edit(&|v| v["race_states"] = json!("x")),
            "race_states: must be an array",
        ),
        (
            edit(&|v| v["race_states"][0]["stage"] = json!(0)),
            "race_states[0].stage: 0 is below 1",
        ),
        (
            edit(&|v| v["race_states"][0]["scheduled_laps"] = json!(0)),
            "race_states[0].scheduled_laps: 0 is below 1",
        ),
        (
            edit(&|v| v["race_states"][0]["drivers"]["5"] = json!(7)),
            "race_states[0].drivers: driver of car \"5\": expected a string, got 7",
        ),
        (
            edit(&|v| {
                v["race_states"][0].as_object_mut().unwrap().remove("track");
            }),
            "race_states[0].track: missing",
        ),
        (
            edit(&|v| v["race_states"][0]["fuel_window_lap"] = json!(-0.5)),
            "race_states[0].fuel_window_lap: -0.5 is below 0",
        ),
        (
            edit(&|v| v["race_states"][0]["fuel_window_lap"] = json!("lap 124")),
            "race_states[0].fuel_window_lap: expected a number, got \"lap 124\"",
        ),
        (
            edit(&|v| {
                v["race_states"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("fuel_window_lap");
            }),
            "race_states[0].fuel_window_lap: missing",
        ),
        (
            edit(&|v| v["race_states"][0]["cant_make_it_pct"] = json!(4.9)),
            "race_states[0].cant_make_it_pct: 4.9 is below 5",
        ),
        (
            edit(&|v| v["race_states"][0]["cant_make_it_pct"] = json!(50.5)),
            "race_states[0].cant_make_it_pct: 50.5 is above 50",
        ),
        (
            edit(&|v| v["race_states"][0]["cant_make_it_pct"] = Value::Null),
            "race_states[0].cant_make_it_pct: expected a number, got null",
        ),
        (
            edit(&|v| {
                v["race_states"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("cant_make_it_pct");
            }),
            "race_states[0].cant_make_it_pct: missing",
        ),
    ];
    for (req, want) in cases {
        let port = MemoryAppSync::new();
        let (status, body, _) = run(&port, &req).await;
        assert_eq!(status, 400, "{want}: {body}");
        assert_eq!(body["error"], "bad_request");
        assert_eq!(body["retryable"], false);
        let reason = body["reason"].as_str().unwrap();
        assert!(
            reason.starts_with(want),
            "expected {want:?}, got {reason:?}"
        );
        assert!(port.mutations().is_empty());
    }

    let mut get = event(GOOD);
    get.http_method = aws_lambda_events::http::Method::GET;
    let mut empty = event(GOOD);
    empty.body = None;
    for (req, want) in [(get, "method GET is not allowed"), (empty, "body: missing")] {
        let (status, body, _) = run(&MemoryAppSync::new(), &req).await;
        assert_eq!(
            (status, body["reason"].as_str().unwrap().starts_with(want)),
            (400, true),
            "{body}"
        );
    }
}

/// RaceState's `fuel_window_lap` (null until the field has fuel figures) and
/// `cant_make_it_pct` (5 to 50) pass as the contract allows and reach AppSync unchanged.
#[tokio::test]
async fn the_fuel_window_and_the_call_threshold_reach_appsync() {
    for (window, pct) in [
        (json!(null), json!(15.0)),
        (json!(0.0), json!(5.0)),
        (json!(123.8), json!(50.0)),
        (json!(41.25), json!(12.5)),
    ] {
        let mut body = good_body();
        body["race_states"][0]["fuel_window_lap"] = window.clone();
        body["race_states"][0]["cant_make_it_pct"] = pct.clone();
        let port = MemoryAppSync::new();
        let (status, resp, _) = run(&port, &with_body(&body)).await;
        assert_eq!(status, 200, "{window} {pct}: {resp}");
        let got = port.mutations();
        let Some(Mutation::RaceState(s)) = got.last() else {
            panic!("no publishRaceState: {got:?}");
        };
        let sent = serde_json::to_value(s).unwrap();
        assert_eq!(sent["fuel_window_lap"], window);
        assert_eq!(sent["cant_make_it_pct"], pct);
        assert_eq!(sent, body["race_states"][0]);
    }
}

#[tokio::test]
async fn a_base64_body_is_decoded() {
    use base64::Engine as _;
    let mut e = event(GOOD);
    e.body = Some(base64::engine::general_purpose::STANDARD.encode(e.body.unwrap()));
    e.is_base64_encoded = true;
    let port = MemoryAppSync::new();
    assert_eq!(run(&port, &e).await.0, 200);
    assert_eq!(port.mutations().len(), 3);
}

#[tokio::test]
async fn appsync_throttling_is_a_503_and_a_refusal_a_502() {
    let port = MemoryAppSync::new();
    port.fail_race(
        "pocono-2026",
        PublishError::GraphQl {
            error_type: "Throttling".into(),
            message: "Rate exceeded".into(),
            retryable: true,
        },
    );
    let mut m = metric_set();
    let r = handle(
        &port,
        &event(GOOD),
        Instant::now() + Duration::from_secs(5),
        "req-2",
        &mut m,
    )
    .await;
    assert_eq!(r.status_code, 503);
    assert_eq!(r.headers["retry-after"], "1");
    let body: Value = match &r.body {
        Some(Body::Text(t)) => serde_json::from_str(t).unwrap(),
        _ => unreachable!(),
    };
    assert_eq!(
        body,
        json!({
            "error": "appsync_unavailable",
            "reason": "publishUpdates race \"pocono-2026\": GraphQL Throttling: Rate exceeded; \
                       publishRaceState race \"pocono-2026\": GraphQL Throttling: Rate exceeded",
            "retryable": true, "updates_published": 1, "race_states_published": 0
        })
    );
    assert_eq!(port.mutations().len(), 1, "the other race still went out");
    assert_eq!(m.get("publish_failures_total"), Some(2.0));
    assert_eq!(m.get("updates_published_total"), Some(1.0));

    let port = MemoryAppSync::new();
    port.fail_race(
        "michigan-2026",
        PublishError::GraphQl {
            error_type: "Unauthorized".into(),
            message: "Not Authorized".into(),
            retryable: false,
        },
    );
    let (status, body, _) = run(&port, &event(GOOD)).await;
    assert_eq!(status, 502);
    assert_eq!(body["error"], "appsync_rejected");
    assert_eq!(body["retryable"], false);
    assert_eq!(body["updates_published"], 3);
    assert_eq!(body["race_states_published"], 1);
}

#[tokio::test(start_paused = true)]
async fn the_deadline_is_lambdas_less_the_answer_margin() {
    // Lambda: milliseconds since the epoch.
    let now_ms = 1_795_924_646_000u64;
    let now = std::time::UNIX_EPOCH + Duration::from_millis(now_ms);
    let d = deadline_from(now_ms + 6_000, now, ANSWER_MARGIN);
    assert_eq!(
        d,
        Instant::now() + Duration::from_millis(6000) - ANSWER_MARGIN
    );
    assert_eq!(
        deadline_from(now_ms - 1_000, now, ANSWER_MARGIN),
        Instant::now()
    );
    // `cargo lambda watch`: the function's timeout.
    assert_eq!(
        deadline_from(600_000, now, ANSWER_MARGIN),
        Instant::now() + Duration::from_millis(600_000) - ANSWER_MARGIN
    );
}
