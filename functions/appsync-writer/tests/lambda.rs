//! The built `appsync-writer` binary under the Lambda Runtime API (`cargo lambda watch`),
//! invoked with the files in `events/`, publishing to the SigV4-verifying AppSync stand-in.
//!
//! The emulator runs with `--only-lambda-apis` and the test starts the binary cargo built
//! for this test run (`CARGO_BIN_EXE_appsync-writer`): letting cargo-lambda build it would
//! compile the dependency tree a second time with other features (no dev-dependencies),
//! minutes on a small machine, for the same code.
//!
//! Needs `cargo-lambda` (`bash scripts/setup-lambda` installs it); without it the test
//! fails and says so.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burnbar_aws::testkit::LambdaRig;
use burnbar_publish::testkit::{Kind, Reply, StandIn, TEST_REGION, test_credentials};
use serde_json::{Value, json};

const SCHEMA: &str = include_str!("../../../schema.graphql");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `cargo lambda invoke --data-file events/<file>` (blocking, so off the runtime's threads).
async fn invoke(rig: &Arc<LambdaRig>, file: &str) -> Value {
    let rig = rig.clone();
    let data = root().join("events").join(file);
    tokio::task::spawn_blocking(move || rig.invoke(&data))
        .await
        .unwrap()
}

fn body(resp: &Value) -> Value {
    serde_json::from_str(resp["body"].as_str().unwrap()).unwrap()
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_answers_the_sample_events_under_the_runtime_api() {
    let stand_in = StandIn::start(Kind::AppSync {
        schema: SCHEMA.to_owned(),
    })
    .await
    .unwrap();
    let creds = test_credentials();
    let vars = [
        ("APPSYNC_URL", stand_in.url.clone()),
        ("AWS_ACCESS_KEY_ID", creds.access_key_id().to_owned()),
        (
            "AWS_SECRET_ACCESS_KEY",
            creds.secret_access_key().to_owned(),
        ),
        (
            "AWS_SESSION_TOKEN",
            creds.session_token().unwrap().to_owned(),
        ),
        ("AWS_REGION", TEST_REGION.to_owned()),
    ];
    let env: Vec<(&str, String)> = vars.iter().map(|(k, v)| (*k, v.clone())).collect();
    let rig = std::sync::Arc::new(LambdaRig::start(
        &root(),
        env!("CARGO_BIN_EXE_appsync-writer"),
        &env,
    ));

    let good = invoke(&rig, "appsync-writer.json").await;
    assert_eq!(good["statusCode"], 200, "{good}");
    assert_eq!(
        body(&good),
        json!({"updates_published": 4, "race_states_published": 1, "races": 2, "mutations": 3})
    );
    let seen = stand_in.requests();
    assert_eq!(seen.len(), 3);
    for r in &seen {
        assert_eq!(
            r.signature,
            Ok(()),
            "signed for appsync with the function's credentials"
        );
        assert!(r.problems.is_empty(), "{:?}", r.problems);
    }
    assert_eq!(seen[0].body["variables"]["race_id"], "michigan-2026");
    assert_eq!(
        seen[1].body["variables"]["updates"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    // RaceState's fuel window and call threshold reach AppSync (the stand-in has checked
    // them against RaceStateInput).
    let state = &seen[2].body["variables"]["state"];
    assert_eq!(
        (&state["fuel_window_lap"], &state["cant_make_it_pct"]),
        (&json!(123.8), &json!(15.0))
    );

    let bad = invoke(&rig, "appsync-writer-bad.json").await;
    assert_eq!(bad["statusCode"], 400, "{bad}");
    assert_eq!(
        body(&bad)["reason"],
        "updates[1].remaining_gal: 120.5 is above 100"
    );
    assert_eq!(
        stand_in.requests().len(),
        3,
        "a bad batch publishes nothing"
    );

    // AppSync refuses the first mutation: the function answers 502, not retryable, and
    // still publishes the rest.
    let refused = json!({"data": null, "errors": [{"errorType": "Unauthorized", "message": "Not Authorized"}]});
    stand_in.script([Reply::Status(200, refused.to_string())]);
    let r = invoke(&rig, "appsync-writer.json").await;
    assert_eq!(r["statusCode"], 502, "{r}");
    let b = body(&r);
    assert_eq!(
        (b["error"].as_str(), b["retryable"].as_bool()),
        (Some("appsync_rejected"), Some(false))
    );
    assert_eq!(b["updates_published"], 3);
    assert_eq!(stand_in.requests().len(), 6);
}
