//! `burnbar replay --serve`: a recorded race goes through the pipeline and its updates
//! are served, over the same API the dashboard uses; SIGTERM ends it cleanly.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{burnbar, stderr, tmp};
use serde_json::Value;

/// `POST /graphql` with the local key: the response body as JSON.
fn query(addr: &str, q: &str) -> Value {
    let body = serde_json::json!({"query": q}).to_string();
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST /graphql HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nx-api-key: da2-burnbar-local\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (_, body) = out.split_once("\r\n\r\n").unwrap();
    serde_json::from_str(body).unwrap()
}

#[test]
fn a_recorded_race_is_served_and_sigterm_stops_it() {
    let race = tmp("replay-serve", "race.ndjson");
    let o = burnbar(&[
        "simulate",
        "--track",
        "iowa",
        "--laps",
        "3",
        "--cars",
        "4",
        "--hz",
        "2",
        "--seed",
        "5",
        "--out",
        race.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));

    let mut child = Command::new(env!("CARGO_BIN_EXE_burnbar"))
        .args([
            "replay",
            race.to_str().unwrap(),
            "--serve",
            "--port",
            "0",
            "--speed",
            "1000",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");

    // At 1000 x a three-lap race is over in well under a second; this bound only
    // turns a hang into a failure.
    let limit = Instant::now() + Duration::from_secs(60);
    let latest = loop {
        let v = query(
            &addr,
            "{ latest(race_id: \"sim-iowa-5\") { car seq lap } raceState(race_id: \"sim-iowa-5\") { track cars_running } }",
        );
        let n = v["data"]["latest"].as_array().map_or(0, Vec::len);
        if n == 4 && !v["data"]["raceState"].is_null() {
            break v;
        }
        assert!(
            Instant::now() < limit,
            "the replay's updates never arrived: {v}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(latest["data"]["raceState"]["track"], "iowa");
    assert!(latest["data"]["latest"][0]["seq"].as_f64().unwrap() > 0.0);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "exit {status}: {err}");
    assert!(err.contains("stopped"), "{err}");
}

#[test]
fn bad_serve_arguments_are_refused_with_a_reason() {
    let o = burnbar(&["demo", "--speed", "0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--speed must be above 0"),
        "{}",
        stderr(&o)
    );
    let o = burnbar(&["demo", "--silence", "24"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("CAR@SECONDS"), "{}", stderr(&o));
    let o = burnbar(&["demo", "--track", "nowhere"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown track"), "{}", stderr(&o));
    let o = burnbar(&["replay", "--port", "9"]);
    assert_eq!(o.status.code(), Some(2));
    let o = burnbar(&["replay", "x.ndjson", "--serve", "--out", "y"]);
    assert_eq!(o.status.code(), Some(2));
}
