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

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use burnbar_publish::testkit::{Kind, Reply, StandIn, TEST_REGION, test_credentials};
use serde_json::{Value, json};

const SCHEMA: &str = include_str!("../../../schema.graphql");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Kills the process group it started (cargo-lambda and the function it runs) on drop.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let pgid = self.0.id();
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{pgid}")])
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `cargo lambda invoke` of one event file; retried while the emulator is still starting
/// or compiling (bounded: the first build on a busy machine can take minutes).
async fn invoke(port: u16, file: &str) -> Value {
    let data = root().join("events").join(file);
    let mut last = String::new();
    for _ in 0..120 {
        // `timeout`: an invocation the emulator cannot route waits forever.
        let out = tokio::process::Command::new("timeout")
            .args([
                "60",
                "cargo",
                "lambda",
                "invoke",
                // The function runs as `_` (AWS_LAMBDA_FUNCTION_NAME below): the
                // emulator routes an invocation by that name.
                "_",
                "--invoke-address",
                "127.0.0.1",
            ])
            .args([
                "--invoke-port",
                &port.to_string(),
                "--output-format",
                "json",
                "--data-file",
            ])
            .arg(&data)
            .output()
            .await
            .unwrap();
        if out.status.success() {
            return serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
        }
        last = String::from_utf8_lossy(&out.stderr).into_owned();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    panic!("cargo lambda invoke {file} never succeeded: {last}");
}

fn body(resp: &Value) -> Value {
    serde_json::from_str(resp["body"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn the_binary_answers_the_sample_events_under_the_runtime_api() {
    let has_cargo_lambda = Command::new("cargo")
        .args(["lambda", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        has_cargo_lambda,
        "cargo-lambda is not installed: run `bash scripts/setup-lambda` (scripts/test-all does)"
    );

    let stand_in = StandIn::start(Kind::AppSync {
        schema: SCHEMA.to_owned(),
    })
    .await
    .unwrap();
    let creds = test_credentials();
    let port = free_port();
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
    let mut cmd = Command::new("cargo");
    cmd.current_dir(root())
        .args([
            "lambda",
            "watch",
            "--only-lambda-apis",
            "-A",
            "127.0.0.1",
            "-P",
        ])
        .arg(port.to_string())
        .env("CARGO_LAMBDA_COMPILER", "cargo")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let _watch = Guard(cmd.spawn().expect("start cargo lambda watch"));

    // The function exits if the Runtime API is not there yet: wait for it to listen.
    let mut up = false;
    for _ in 0..600 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        up,
        "cargo lambda watch did not listen on {port} within 60 s"
    );
    let mut function = Command::new(env!("CARGO_BIN_EXE_appsync-writer"));
    function
        .env(
            "AWS_LAMBDA_RUNTIME_API",
            format!("http://127.0.0.1:{port}/.rt"),
        )
        .env("AWS_LAMBDA_FUNCTION_NAME", "_")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    for (k, v) in &vars {
        function.env(k, v);
    }
    std::os::unix::process::CommandExt::process_group(&mut function, 0);
    let _function = Guard(function.spawn().expect("start the appsync-writer binary"));

    let good = invoke(port, "appsync-writer.json").await;
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

    let bad = invoke(port, "appsync-writer-bad.json").await;
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
    let r = invoke(port, "appsync-writer.json").await;
    assert_eq!(r["statusCode"], 502, "{r}");
    let b = body(&r);
    assert_eq!(
        (b["error"].as_str(), b["retryable"].as_bool()),
        (Some("appsync_rejected"), Some(false))
    );
    assert_eq!(b["updates_published"], 3);
    assert_eq!(stand_in.requests().len(), 6);
}
