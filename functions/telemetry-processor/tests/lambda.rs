//! The built `telemetry-processor` under the Lambda Runtime API (`cargo lambda watch`),
//! invoked with `events/telemetry-processor*.json`, on moto (DynamoDB, SQS) and a
//! SigV4-verifying writer API stand-in.

use std::path::{Path, PathBuf};

use burnbar_aws::testkit::{AwsStandIns, LambdaRig};
use burnbar_core::CarId;
use burnbar_pipeline::ports::CarStore;
use burnbar_publish::testkit::{Kind, StandIn, test_credentials};
use serde_json::json;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

// One function over 80 lines: the good events, their redelivery and the bad events go
// through one emulator and one moto, whose start is most of the test's time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_processes_the_sample_events_once_and_quarantines_the_bad_ones() {
    let aws = AwsStandIns::start().await;
    let writer = StandIn::start(Kind::Writer).await.unwrap();
    let c = test_credentials();
    let env = aws.env(
        &writer.url,
        (
            c.access_key_id(),
            c.secret_access_key(),
            c.session_token().unwrap(),
        ),
    );
    let rig = LambdaRig::start(&root(), env!("CARGO_BIN_EXE_telemetry-processor"), &env);

    let good = root().join("events/telemetry-processor.json");
    let r = tokio::task::spawn_blocking({
        let good = good.clone();
        move || {
            let first = rig.invoke(&good);
            // Kinesis delivers the same batch again: nothing changes.
            let again = rig.invoke(&good);
            (rig, first, again)
        }
    })
    .await
    .unwrap();
    let (rig, first, again) = r;
    assert_eq!(first, json!({"batchItemFailures": []}));
    assert_eq!(again, json!({"batchItemFailures": []}));
    // 12 s of three cars: the first 5 s window of each closed (watermark = newest - 5 s)
    // and was published once, signed for execute-api.
    let seen = writer.requests();
    assert!(!seen.is_empty());
    for r in &seen {
        assert_eq!(r.signature, Ok(()), "SigV4 for execute-api");
    }
    let mut windows: Vec<(String, i64)> = seen
        .iter()
        .flat_map(|r| r.body["updates"].as_array().cloned().unwrap_or_default())
        .map(|u| {
            (
                u["car"].as_str().unwrap().to_owned(),
                u["seq"].as_i64().unwrap(),
            )
        })
        .collect();
    windows.sort();
    windows.dedup();
    assert_eq!(windows.len(), 3, "{windows:?}");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let cars: Vec<CarId> = ["24", "11", "5"]
        .iter()
        .map(|c| CarId::parse(c).unwrap())
        .collect();
    let items = aws
        .store
        .load_cars("demo-pocono", &cars, deadline)
        .await
        .unwrap();
    assert_eq!(items.len(), 3);
    for item in items.values() {
        assert_eq!(item.version, 1, "the redelivered batch wrote nothing");
        assert_eq!(
            item.state.held(),
            14,
            "samples of the open windows held once"
        );
    }

    let bad = root().join("events/telemetry-processor-bad.json");
    let resp = tokio::task::spawn_blocking(move || rig.invoke(&bad))
        .await
        .unwrap();
    assert_eq!(
        resp,
        json!({"batchItemFailures": []}),
        "bad records never block the shard"
    );
    let mut codes: Vec<String> = aws
        .quarantined()
        .await
        .iter()
        .map(|q| q["code"].as_str().unwrap().to_owned())
        .collect();
    codes.sort();
    assert_eq!(codes, ["invalid_json", "wrong_stream", "wrong_type"]);
}
