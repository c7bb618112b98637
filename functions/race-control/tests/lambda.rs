//! The built `race-control` function under the Lambda Runtime API (`cargo lambda watch`),
//! invoked with `events/race-control*.json`, on moto (DynamoDB, SQS) and a
//! SigV4-verifying writer API stand-in.

use std::path::{Path, PathBuf};

use burnbar_aws::testkit::{AwsStandIns, LambdaRig};
use burnbar_pipeline::ports::RaceStore;
use burnbar_publish::testkit::{Kind, StandIn, test_credentials};
use serde_json::{Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_stores_each_event_once_publishes_the_race_state_and_quarantines_bad_ones() {
    let aws = AwsStandIns::start().await;
    let writer = StandIn::start(Kind::Writer).await.unwrap();
    let c = test_credentials();
    let mut env = aws.env(
        &writer.url,
        (
            c.access_key_id(),
            c.secret_access_key(),
            c.session_token().unwrap(),
        ),
    );
    // The deployment's call threshold (template.yaml's CantMakeItPct) reaches RaceState.
    env.push(("CANT_MAKE_IT_PCT", "20".into()));
    let rig = LambdaRig::start(&root(), env!("CARGO_BIN_EXE_race-control"), &env);

    let good = root().join("events/race-control.json");
    let (rig, first, again) = tokio::task::spawn_blocking(move || {
        let first = rig.invoke(&good);
        let again = rig.invoke(&good);
        (rig, first, again)
    })
    .await
    .unwrap();
    assert_eq!(first, json!({"batchItemFailures": []}));
    assert_eq!(again, json!({"batchItemFailures": []}));
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    assert_eq!(
        aws.store.current_race(deadline).await.unwrap().as_deref(),
        Some("demo-pocono")
    );
    let view = aws.store.load_race("demo-pocono", deadline).await.unwrap();
    assert!(view.start.is_some());
    assert_eq!(
        view.events.len(),
        4,
        "each event stored once, the redelivery too"
    );
    let seen = writer.requests();
    assert!(!seen.is_empty());
    let state = seen.last().unwrap().body["race_states"][0].clone();
    assert_eq!(seen.last().unwrap().signature, Ok(()));
    assert_eq!(state["flag"], "yellow");
    assert_eq!(state["drivers"]["11"], "D. Hamlin");
    assert_eq!(state["scheduled_laps"], 160);
    assert_eq!(state["cant_make_it_pct"], 20.0);
    // Race control alone gives no car a fuel figure: no fuel window yet.
    assert_eq!(state["fuel_window_lap"], Value::Null);

    let bad = root().join("events/race-control-bad.json");
    let resp = tokio::task::spawn_blocking(move || rig.invoke(&bad))
        .await
        .unwrap();
    assert_eq!(resp, json!({"batchItemFailures": []}));
    let mut codes: Vec<String> = aws
        .quarantined()
        .await
        .iter()
        .map(|q| q["code"].as_str().unwrap().to_owned())
        .collect();
    codes.sort();
    assert_eq!(codes, ["invalid_value", "wrong_stream"]);
}
