//! Both clients against the SigV4-verifying stand-ins on loopback: signatures, the
//! mutations against `schema.graphql`, GraphQL errors, batching, retries and deadlines.

use std::time::{Duration, SystemTime};

use burnbar_core::{FuelUpdate, RaceState};
use burnbar_publish::testkit::{Kind, Reply, StandIn, TEST_REGION, test_credentials};
use burnbar_publish::{
    AppSyncClient, Credentials, PublishError, Signer, WriterClient, http_client,
};
use serde_json::{Value, json};
use tokio::time::Instant;

const SCHEMA: &str = include_str!("../../../schema.graphql");

fn update(race: &str, car: &str, k: i64) -> FuelUpdate {
    let ws = 1_782_136_800_000 + k * 5000;
    serde_json::from_value(json!({
        "v": 1, "race_id": race, "car": car, "seq": ws / 5000, "window_start": ws,
        "window_end": ws + 5000, "lap": 12.5, "flag": "green", "in_pit": false, "samples": 50,
        "miles": 0.2031, "burn_gal": 0.0412, "burn_rate_gph": 29.664, "mpg_window": 4.9296,
        "mpg_lap": null, "mpg_stint": 4.9107, "used_stint_gal": 4.1187, "used_race_gal": 4.1187,
        "remaining_gal": 13.8813, "remaining_low_gal": 13.5021, "remaining_high_gal": 14.2605,
        "laps_to_empty": 21.35, "save_needed_pct": null, "burn_index": 1.0123, "mode": "normal",
        "model": "physics+ml"
    }))
    .unwrap()
}

fn state(race: &str) -> RaceState {
    serde_json::from_value(json!({
        "v": 1, "race_id": race, "track": "pocono", "ts": 1_782_136_804_870i64, "flag": "yellow",
        "stage": 2, "leader_lap": 61.2, "scheduled_laps": 160, "laps_to_go": 98.8,
        "fuel_window_lap": 118.4, "cant_make_it_pct": 15, "cars_running": 3, "drivers": {"5": "Kyle Larson", "24": "William Byron"}
    }))
    .unwrap()
}

fn far() -> Instant {
    Instant::now() + Duration::from_secs(20)
}

fn appsync_client(url: &str, creds: Credentials) -> AppSyncClient {
    AppSyncClient::new(
        http_client().unwrap(),
        Signer::new(creds, TEST_REGION, "appsync"),
        url,
    )
    .unwrap()
}

fn writer_client(url: &str) -> WriterClient {
    let s = Signer::new(test_credentials(), TEST_REGION, "execute-api");
    WriterClient::new(http_client().unwrap(), s, url).unwrap()
}

async fn appsync() -> StandIn {
    StandIn::start(Kind::AppSync {
        schema: SCHEMA.to_owned(),
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn appsync_mutations_are_signed_and_match_the_schema() {
    let stand_in = appsync().await;
    let client = appsync_client(&stand_in.url, test_credentials());
    let updates: Vec<FuelUpdate> = ["5", "24", "48"]
        .iter()
        .map(|c| update("pocono", c, 1))
        .collect();
    let r = client
        .publish_updates("pocono", &updates, far())
        .await
        .unwrap();
    assert_eq!(r.attempts, 1);
    client
        .publish_race_state(&state("pocono"), far())
        .await
        .unwrap();

    let seen = stand_in.requests();
    assert_eq!(seen.len(), 2);
    for r in &seen {
        assert_eq!(r.signature, Ok(()), "{r:?}");
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!(r.status, Some(200));
    }
    let vars = &seen[0].body["variables"];
    assert_eq!(vars["race_id"], "pocono");
    assert_eq!(vars["updates"], serde_json::to_value(&updates).unwrap());
    assert_eq!(
        seen[1].body["variables"]["state"]["drivers"],
        r#"{"24":"William Byron","5":"Kyle Larson"}"#
    );
}

#[tokio::test]
async fn the_stand_in_refuses_a_wrong_key_a_tampered_body_and_an_off_schema_mutation() {
    let stand_in = appsync().await;
    // Wrong secret: AppSync answers 401/403 UnauthorizedException, which is permanent.
    let wrong = Credentials::new(
        "AKIDBURNBARTEST",
        "not-the-secret",
        Some("burnbar-test-session-token".into()),
        None,
        "t",
    );
    let e = appsync_client(&stand_in.url, wrong)
        .publish_race_state(&state("pocono"), far())
        .await
        .unwrap_err();
    assert!(!e.is_retryable(), "{e:?}");
    assert!(
        matches!(&e, PublishError::GraphQl { error_type, .. } if error_type == "UnauthorizedException")
    );

    // A body changed after signing.
    let signer = Signer::new(test_credentials(), TEST_REGION, "appsync");
    let signed_body = br#"{"query":"mutation { x }"}"#;
    let headers = signer
        .sign(
            "POST",
            &stand_in.url,
            &[("content-type", "application/json")],
            signed_body,
            SystemTime::now(),
        )
        .unwrap();
    let mut req = http_client()
        .unwrap()
        .post(&stand_in.url)
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let resp = req
        .body(r#"{"query":"mutation { y }"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);

    // Signed right, but the mutation leaves out a field subscribers need.
    let client = appsync_client(&stand_in.url, test_credentials());
    let query =
        "mutation P($state: RaceStateInput!) { publishRaceState(state: $state) { race_id flag } }";
    let input = burnbar_publish::appsync::race_state_input(&state("pocono")).unwrap();
    let e = client
        .mutate(query, json!({ "state": input }), "publishRaceState", far())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, PublishError::GraphQl { error_type, message, .. }
        if error_type == "ValidationError" && message.contains("does not select RaceState.drivers")),
        "{e:?}"
    );

    let seen = stand_in.requests();
    assert_eq!(seen.len(), 3);
    assert!(
        seen[0]
            .signature
            .as_ref()
            .unwrap_err()
            .contains("signature mismatch")
    );
    assert!(seen[1].signature.is_err());
    assert_eq!(seen[2].signature, Ok(()));
}

#[tokio::test]
async fn graphql_errors_in_a_200_are_errors_and_throttling_is_retried() {
    let stand_in = appsync().await;
    let client = appsync_client(&stand_in.url, test_credentials());
    let unauthorized = json!({"data": {"publishRaceState": null}, "errors": [{
        "errorType": "Unauthorized", "message": "Not Authorized to access publishRaceState on type Mutation"}]});
    stand_in.script([Reply::Status(200, unauthorized.to_string())]);
    let e = client
        .publish_race_state(&state("r"), far())
        .await
        .unwrap_err();
    assert!(!e.is_retryable());
    assert_eq!(
        stand_in.requests().len(),
        1,
        "a permanent error is not retried"
    );

    let throttled =
        json!({"data": null, "errors": [{"errorType": "Throttling", "message": "Rate exceeded"}]});
    stand_in.script([
        Reply::Status(200, throttled.to_string()),
        Reply::Status(429, "{}".into()),
    ]);
    let r = client
        .publish_updates("r", &[update("r", "9", 0)], far())
        .await
        .unwrap();
    assert_eq!(r.attempts, 3);
    let seen = stand_in.requests();
    assert_eq!(seen.len(), 4);
    assert!(
        seen.iter()
            .all(|r| r.signature.is_ok() && r.problems.is_empty())
    );
}

#[tokio::test]
async fn the_writer_client_splits_by_count_and_by_bytes_in_order() {
    let stand_in = StandIn::start(Kind::Writer).await.unwrap();
    let updates: Vec<FuelUpdate> = (0..25).map(|k| update("pocono", "5", k)).collect();
    let states = [state("pocono"), state("michigan")];
    let client = writer_client(&stand_in.url).with_limits(10, 1, 1 << 20);
    let report = client.publish(&updates, &states, far()).await.unwrap();
    assert_eq!(
        (
            report.updates,
            report.race_states,
            report.requests,
            report.retries
        ),
        (25, 2, 4, 0)
    );
    let seen = stand_in.requests();
    let sizes: Vec<(usize, usize)> = seen
        .iter()
        .map(|r| {
            (
                r.body["updates"].as_array().unwrap().len(),
                r.body["race_states"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(sizes, [(10, 0), (10, 0), (5, 1), (0, 1)]);
    let sent: Vec<Value> = seen
        .iter()
        .flat_map(|r| r.body["updates"].as_array().unwrap().clone())
        .collect();
    assert_eq!(
        sent,
        serde_json::to_value(&updates)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    );
    assert!(
        seen.iter()
            .all(|r| r.signature.is_ok() && r.problems.is_empty())
    );

    // By bytes: a 4 KiB cap holds only a few updates per request.
    let client = writer_client(&stand_in.url).with_limits(500, 100, 4096);
    let report = client.publish(&updates, &[], far()).await.unwrap();
    let seen = &stand_in.requests()[4..];
    assert_eq!(report.requests, seen.len());
    assert!(seen.len() >= 25 * 600 / 4096, "{}", seen.len());
    for r in seen {
        assert!(r.body.to_string().len() <= 4096);
    }
    let n: usize = seen
        .iter()
        .map(|r| r.body["updates"].as_array().unwrap().len())
        .sum();
    assert_eq!((n, report.updates), (25, 25));

    // Nothing to send: no request.
    assert_eq!(client.publish(&[], &[], far()).await.unwrap().requests, 0);
    assert_eq!(stand_in.requests().len(), 4 + seen.len());
}

#[tokio::test]
async fn the_writer_client_retries_5xx_and_throttling_then_counts_each_update_once() {
    let stand_in = StandIn::start(Kind::Writer).await.unwrap();
    stand_in.script([
        Reply::Status(502, r#"{"message":"Internal server error"}"#.into()),
        Reply::Status(503, "{}".into()),
        Reply::Status(429, r#"{"message":"Too Many Requests"}"#.into()),
    ]);
    let updates: Vec<FuelUpdate> = (0..3).map(|k| update("pocono", "24", k)).collect();
    let report = writer_client(&stand_in.url)
        .publish(&updates, &[state("pocono")], far())
        .await
        .unwrap();
    assert_eq!(
        (
            report.updates,
            report.race_states,
            report.requests,
            report.retries
        ),
        (3, 1, 1, 3)
    );
    let seen = stand_in.requests();
    assert_eq!(seen.len(), 4);
    assert!(
        seen.iter()
            .all(|r| r.body == seen[0].body && r.signature.is_ok())
    );
    assert_eq!(
        seen.iter().map(|r| r.status).collect::<Vec<_>>(),
        [Some(502), Some(503), Some(429), Some(200)]
    );
}

#[tokio::test]
async fn a_400_is_permanent_and_says_what_was_delivered_before() {
    let stand_in = StandIn::start(Kind::Writer).await.unwrap();
    stand_in.script([
        Reply::Normal,
        Reply::Status(
            400,
            r#"{"error":"bad_request","reason":"updates[0].car: missing","retryable":false}"#
                .into(),
        ),
    ]);
    let updates: Vec<FuelUpdate> = (0..4).map(|k| update("pocono", "24", k)).collect();
    let client = writer_client(&stand_in.url).with_limits(2, 1, 1 << 20);
    let failure = client.publish(&updates, &[], far()).await.unwrap_err();
    assert!(!failure.is_retryable());
    assert!(
        matches!(&failure.error, PublishError::Status { status: 400, body } if body.contains("updates[0].car"))
    );
    assert_eq!(failure.delivered.updates, 2);
    assert_eq!(stand_in.requests().len(), 2, "a 400 is not retried");
}

#[tokio::test(start_paused = true)]
async fn the_writer_client_gives_up_at_the_deadline() {
    let stand_in = StandIn::start(Kind::Writer).await.unwrap();
    stand_in.script(std::iter::repeat_n(Reply::Hang, 50));
    let client = writer_client(&stand_in.url);
    let deadline = Instant::now() + Duration::from_secs(2);
    let failure = client
        .publish(&[update("r", "1", 0)], &[], deadline)
        .await
        .unwrap_err();
    assert!(
        matches!(failure.error, PublishError::Deadline { .. }),
        "{failure:?}"
    );
    assert!(failure.is_retryable());
    assert!(
        Instant::now() <= deadline,
        "no attempt outlives the deadline"
    );

    // No time left at all: nothing is sent.
    let before = stand_in.requests().len();
    let failure = client
        .publish(&[update("r", "1", 0)], &[], Instant::now())
        .await
        .unwrap_err();
    assert!(matches!(
        failure.error,
        PublishError::Deadline { attempts: 0, .. }
    ));
    assert_eq!(stand_in.requests().len(), before);
}

#[test]
fn the_field_lists_are_what_serde_writes() {
    let keys = |v: Value| {
        v.as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
    };
    let fields = |f: &[&str]| {
        f.iter()
            .map(|s| s.to_string())
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(
        keys(serde_json::to_value(update("r", "1", 0)).unwrap()),
        fields(burnbar_publish::appsync::FUEL_UPDATE_FIELDS)
    );
    assert_eq!(
        keys(serde_json::to_value(state("r")).unwrap()),
        fields(burnbar_publish::appsync::RACE_STATE_FIELDS)
    );
}
