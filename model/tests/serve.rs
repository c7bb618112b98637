//! The `burnbar-model` binary on loopback, as SageMaker drives it: `/ping`, scoring on
//! both invocation paths (the factors are the in-process model's, bit for bit), refusals
//! with their reasons, a graceful stop on SIGTERM, and no start without a valid model.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use burnbar_core::correction::{CorrectionModel, PredictRequest, PredictResponse};
use burnbar_model::invoke::{MAX_BODY_BYTES, MAX_WINDOWS};
use common::{BIN, Scratch, Server, assert_same_answer, model, wait_for, windows};
use reqwest::blocking::Client;
use serde_json::Value;

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// POSTs `body` with `content_type` (none when `None`): the status and the body.
fn post(url: &str, content_type: Option<&str>, body: Vec<u8>) -> (u16, Vec<u8>) {
    let mut req = client().post(url).body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let resp = req.send().unwrap();
    (resp.status().as_u16(), resp.bytes().unwrap().to_vec())
}

fn request(windows: &[burnbar_core::car::WindowFeatures]) -> Vec<u8> {
    serde_json::to_vec(&PredictRequest {
        windows: windows.to_vec(),
    })
    .unwrap()
}

#[test]
fn ping_answers_and_batches_are_scored_bit_for_bit_on_both_paths() {
    let m = model();
    // The artifact itself round-trips exactly: the server scores with these numbers.
    let text = serde_json::to_string_pretty(&m).unwrap();
    assert_eq!(CorrectionModel::from_json(&text).unwrap(), m);
    let server = Server::start(&m);

    let ping = client().get(format!("{}/ping", server.url)).send().unwrap();
    assert_eq!(ping.status().as_u16(), 200);

    let ws = windows(2_000);
    let want = m.predict(&ws);
    // The batch exercises the arithmetic: factors of both kinds, inside the bounds, and
    // windows outside the domain besides the untrained package's.
    assert!(want.factors.contains(&1.0), "hp510 windows are physics");
    assert!(
        want.factors
            .iter()
            .filter(|f| **f != 1.0 && **f > m.min_factor && **f < m.max_factor)
            .count()
            > 1_500
    );
    let hp670_outside = ws
        .iter()
        .zip(&want.outside_domain)
        .filter(|(w, o)| **o && w.package == burnbar_core::tracks::EnginePackage::Hp670)
        .count();
    assert!(hp670_outside > 0, "no hp670 window outside the domain");
    for path in ["/invocations", "/endpoints/burnbar-correction/invocations"] {
        let resp = client()
            .post(format!("{}{path}", server.url))
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(request(&ws))
            .send()
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        assert_eq!(resp.headers()["content-type"], "application/json");
        let got: PredictResponse = serde_json::from_slice(&resp.bytes().unwrap()).unwrap();
        assert_same_answer(&got, &want);
    }

    // A charset parameter is fine; an empty batch has no factors.
    let (status, body) = post(
        &format!("{}/invocations", server.url),
        Some("application/json; charset=utf-8"),
        br#"{"windows": []}"#.to_vec(),
    );
    assert_eq!(status, 200);
    assert_eq!(body, br#"{"factors":[],"outside_domain":[]}"#);
    assert!(!server.stderr().contains("\"warn\""), "{}", server.stderr());
}

#[test]
fn bad_requests_are_refused_with_the_reason_and_the_server_goes_on() {
    let m = model();
    let server = Server::start(&m);
    let url = format!("{}/invocations", server.url);
    let one = String::from_utf8(request(&windows(1))).unwrap();
    let rpm = one
        .split("\"rpm\":")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap();
    // A body of exactly the limit is accepted; one byte more is not.
    let padded = |len: usize| {
        let mut b = br#"{"windows":[]}"#.to_vec();
        b.resize(len, b' ');
        b
    };

    let json = Some("application/json");
    let check = |what: &str, ct: Option<&str>, body: Vec<u8>, status: u16, reason: &str| {
        let (got, text) = post(&url, ct, body);
        assert_eq!(got, status, "{what}: {}", String::from_utf8_lossy(&text));
        let v: Value = serde_json::from_slice(&text)
            .unwrap_or_else(|e| panic!("{what}: {e}: {}", String::from_utf8_lossy(&text)));
        let error = v["error"].as_str().unwrap_or_else(|| panic!("{what}: {v}"));
        assert!(error.contains(reason), "{what}: {error}");
    };
    let bad: [(&str, Vec<u8>, &str); 9] = [
        ("not JSON", b"windows=1".to_vec(), "not valid JSON"),
        (
            "cut short",
            one.as_bytes()[..one.len() / 2].to_vec(),
            "not valid JSON",
        ),
        (
            "wrong shape",
            br#"{"factors": [1.0]}"#.to_vec(),
            "missing field `windows`",
        ),
        (
            "no features",
            br#"{"windows": [{"car": "24"}]}"#.to_vec(),
            "missing field",
        ),
        (
            "bad car",
            one.replace(r#""car":"1""#, r#""car":"-1""#).into(),
            "letters and digits",
        ),
        ("NaN", one.replace(rpm, "NaN").into(), "not valid JSON"),
        (
            "beyond f64",
            one.replace(rpm, "1e999").into(),
            "number out of range",
        ),
        (
            "too many",
            request(&windows(MAX_WINDOWS + 1)),
            "at most 10000",
        ),
        (
            "too large",
            padded(MAX_BODY_BYTES + 1),
            "6 MB payload limit",
        ),
    ];
    for (what, body, reason) in bad {
        check(what, json, body, 400, reason);
    }
    let ok = request(&windows(1));
    check(
        "text",
        Some("text/plain"),
        ok.clone(),
        415,
        r#""text/plain" is not supported"#,
    );
    check(
        "CSV",
        Some("text/csv"),
        b"1,2,3".to_vec(),
        415,
        "send application/json",
    );
    check("no content type", None, ok, 415, "no Content-Type");

    let (status, body) = post(&url, Some("application/json"), padded(MAX_BODY_BYTES));
    assert_eq!(
        (status, body.as_slice()),
        (200, &br#"{"factors":[],"outside_domain":[]}"#[..])
    );
    let (status, body) = post(
        &url,
        Some("application/json"),
        request(&windows(MAX_WINDOWS)),
    );
    assert_eq!(status, 200);
    let got: PredictResponse = serde_json::from_slice(&body).unwrap();
    assert_same_answer(&got, &m.predict(&windows(MAX_WINDOWS)));

    // Other methods and paths.
    let resp = client().get(&url).send().unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    let resp = client()
        .get(format!("{}/predict", server.url))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let v: Value = serde_json::from_slice(&resp.bytes().unwrap()).unwrap();
    assert!(v["error"].as_str().unwrap().contains("/ping"), "{v}");

    // Still serving, and each refusal was logged with its reason.
    let ping = client().get(format!("{}/ping", server.url)).send().unwrap();
    assert_eq!(ping.status().as_u16(), 200);
    let log = server.stderr();
    assert_eq!(log.matches("\"request refused\"").count(), 12, "{log}");
    assert!(log.contains("at most 10000"), "{log}");
}

#[test]
fn sigterm_stops_the_server_gracefully() {
    let server = Server::start(&model());
    let ping = client().get(format!("{}/ping", server.url)).send().unwrap();
    assert_eq!(ping.status().as_u16(), 200);
    let (status, log) = server.terminate();
    assert!(status.success(), "{status:?}: {log}");
    assert!(log.contains("\"signal\":\"SIGTERM\""), "{log}");
    assert!(log.contains("\"stopped\""), "{log}");
}

/// Runs `burnbar-model serve --bind 127.0.0.1 <args>` expecting it to refuse to start:
/// its one line of stderr.
fn refuses(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--bind", "127.0.0.1"])
        .args(args)
        .env_remove("MODEL_PATH")
        .env_remove("SAGEMAKER_BIND_TO_PORT")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let status = wait_for(&mut child, Duration::from_secs(30));
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(!status.success(), "{args:?} {env:?} started: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("burnbar-model: "), "{err}");
    err
}

#[test]
fn a_missing_or_invalid_model_stops_the_binary_with_the_reason() {
    let missing = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("no-such-model.json");
    let m = missing.to_str().unwrap();
    let err = refuses(&["--port", "0", "--model", m], &[]);
    assert!(err.contains(&format!("cannot read the model {m}")), "{err}");
    assert!(err.contains("No such file"), "{err}");
    // MODEL_PATH when there is no --model; --model first.
    let err = refuses(&["--port", "0"], &[("MODEL_PATH", m)]);
    assert!(err.contains(m), "{err}");
    let err = refuses(
        &["--port", "0", "--model", m],
        &[("MODEL_PATH", "/elsewhere.json")],
    );
    assert!(err.contains(m), "{err}");
    // SageMaker's path when neither is given (unless this machine has one).
    if !std::path::Path::new(burnbar_model::DEFAULT_MODEL_PATH).exists() {
        let err = refuses(&["--port", "0"], &[]);
        assert!(err.contains(burnbar_model::DEFAULT_MODEL_PATH), "{err}");
    }

    let good = serde_json::to_value(model()).unwrap();
    let mut bad_format = good.clone();
    bad_format["format"] = 9.into();
    let mut short = good.clone();
    short["hp670"]["coef"].as_array_mut().unwrap().pop();
    let mut swapped = good.clone();
    swapped["features"].as_array_mut().unwrap().swap(1, 2);
    let mut bounds = good.clone();
    bounds["max_factor"] = 0.5.into();
    for (text, reason) in [
        ("{".to_owned(), "not valid JSON"),
        (String::new(), "not valid JSON"),
        (r#"{"windows": []}"#.to_owned(), "not valid JSON"),
        (bad_format.to_string(), "format 9 is not supported"),
        (short.to_string(), "hp670.coef has 9 numbers, 10 expected"),
        (swapped.to_string(), "features"),
        (bounds.to_string(), "bounds must satisfy"),
    ] {
        let file = Scratch::new("bad.json", &text);
        let path = file.0.to_str().unwrap();
        let err = refuses(&["--port", "0", "--model", path], &[]);
        assert!(
            err.contains(&format!("the model {path} cannot be served")) && err.contains(reason),
            "{reason}: {err}"
        );
    }

    // A port from SageMaker's environment that is no port.
    let file = Scratch::new("good.json", &good.to_string());
    let err = refuses(
        &["--model", file.0.to_str().unwrap()],
        &[("SAGEMAKER_BIND_TO_PORT", "eighty")],
    );
    assert!(
        err.contains("SAGEMAKER_BIND_TO_PORT=\"eighty\" is not a port number"),
        "{err}"
    );
}
