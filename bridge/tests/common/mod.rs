//! Test helpers: a real nats-server and moto on loopback, the bridge binary, a fault proxy.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};
use base64::Engine as _;
use serde_json::{Value, json};

pub use burnbar_testhttp::{HttpMsg, forward, serve_http};

pub const SETUP: &str = "scripts/setup-bridge";

/// Fails the test, naming the setup script, when a tool is missing.
pub fn require(tool: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let p = dir.join(tool);
        if p.is_file() {
            return p;
        }
    }
    panic!("`{tool}` is not installed (or not on PATH): run `bash {SETUP}` first");
}

/// A port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

fn wait_for_port(port: u16, what: &str, child: &mut Child) {
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before listening on port {port}: {status}");
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "{what} did not listen on port {port} within 20 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A scratch directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "burnbar-bridge-{tag}-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed (by its PID) and reaped on drop.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A real nats-server on 127.0.0.1, with JetStream storage in a temp dir when asked.
pub struct Nats {
    pub port: u16,
    _proc: Proc,
    _dir: TempDir,
}

impl Nats {
    pub fn start(jetstream: bool) -> Nats {
        Nats::start_with(jetstream, &[])
    }

    /// A server with extra command-line options (authentication, TLS).
    pub fn start_with(jetstream: bool, extra: &[&str]) -> Nats {
        let bin = require("nats-server");
        let port = free_port();
        let dir = TempDir::new("nats");
        let mut cmd = Command::new(bin);
        cmd.args(["-a", "127.0.0.1", "-p", &port.to_string()]);
        if jetstream {
            cmd.arg("-js").arg("-sd").arg(dir.path());
        }
        cmd.args(extra);
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting nats-server");
        wait_for_port(port, "nats-server", &mut child);
        Nats {
            port,
            _proc: Proc(child),
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub async fn client(&self) -> async_nats::Client {
        async_nats::connect(self.url())
            .await
            .expect("connect to NATS")
    }
}

/// moto's server on 127.0.0.1, standing in for Kinesis.
pub struct Moto {
    pub port: u16,
    _proc: Proc,
}

impl Moto {
    pub fn start() -> Moto {
        let bin = require("moto_server");
        let port = free_port();
        let mut child = Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting moto_server");
        wait_for_port(port, "moto_server", &mut child);
        Moto {
            port,
            _proc: Proc(child),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// A Kinesis client for the tests, with dummy credentials.
pub fn kinesis(endpoint: &str) -> Client {
    let conf = aws_sdk_kinesis::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    Client::from_conf(conf)
}

pub async fn create_stream(k: &Client, name: &str, shards: i32) {
    k.create_stream()
        .stream_name(name)
        .shard_count(shards)
        .send()
        .await
        .expect("create stream");
}

/// Every record of a stream, per shard in sequence order: `(partition key, data)`.
pub async fn read_stream(k: &Client, name: &str) -> Vec<(String, Vec<u8>)> {
    let shards = k
        .list_shards()
        .stream_name(name)
        .send()
        .await
        .expect("list shards");
    let mut out = Vec::new();
    for shard in shards.shards() {
        let mut it = k
            .get_shard_iterator()
            .stream_name(name)
            .shard_id(shard.shard_id())
            .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("shard iterator")
            .shard_iterator()
            .map(str::to_owned);
        while let Some(i) = it {
            let r = k
                .get_records()
                .shard_iterator(i)
                .limit(10_000)
                .send()
                .await
                .expect("get records");
            if r.records().is_empty() {
                break;
            }
            for rec in r.records() {
                out.push((
                    rec.partition_key().unwrap_or_default().to_owned(),
                    rec.data().as_ref().to_vec(),
                ));
            }
            it = r.next_shard_iterator().map(str::to_owned);
        }
    }
    out
}

/// The lines of records, each with its record's partition key.
pub fn lines(records: &[(String, Vec<u8>)]) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (key, data) in records {
        for l in data.split(|&b| b == b'\n') {
            let v: Value = serde_json::from_slice(l).expect("each line of a record is JSON");
            out.push((key.clone(), v));
        }
    }
    out
}

/// Counts samples by `(car, ts)` and events by `(kind, ts)`, checking partition keys.
pub fn count_keys(lines: &[(String, Value)]) -> BTreeMap<(String, i64), usize> {
    let mut m = BTreeMap::new();
    for (key, v) in lines {
        let kind = v["kind"].as_str().unwrap_or("sample");
        let ts = v["ts"].as_i64().expect("ts");
        let id = if kind == "sample" {
            let car = v["car"].as_str().expect("car").to_owned();
            assert_eq!(key, &car, "a sample's partition key is its car");
            car
        } else {
            let race = v["race_id"].as_str().unwrap_or("?");
            assert_eq!(key, race, "an event's partition key is its race");
            format!("event:{kind}")
        };
        *m.entry((id, ts)).or_default() += 1;
    }
    m
}

/// One sample line.
pub fn sample(car: &str, ts: i64, rpm: f64) -> String {
    json!({"v": 1, "race_id": "r1", "car": car, "ts": ts, "rpm": rpm, "throttle_pct": 80.0, "speed_mph": 170.0})
        .to_string()
}

/// An event line.
pub fn event(kind: &str, ts: i64) -> String {
    match kind {
        "race_start" => json!({"v":1,"kind":"race_start","ts":ts,"race_id":"r1","track":"pocono"}),
        "flag" => json!({"v":1,"kind":"flag","ts":ts,"race_id":"r1","flag":"yellow"}),
        _ => json!({"v":1,"kind":kind,"ts":ts,"race_id":"r1","car":"1"}),
    }
    .to_string()
}

pub const T0: i64 = 1_750_593_600_000;

/// A running bridge binary.
pub struct Bridge {
    pub proc: Proc,
    pub health: u16,
    pub stderr: PathBuf,
    pub stdout: PathBuf,
    _dir: TempDir,
}

impl Bridge {
    /// Starts the binary with these variables (and a free health port, dummy AWS
    /// credentials), and waits until `/healthz` says ok.
    pub fn start(env: &[(&str, String)]) -> Bridge {
        let health = free_port();
        let dir = TempDir::new("bridge");
        let stdout = dir.path().join("stdout");
        let stderr = dir.path().join("stderr");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_burnbar-bridge"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("HEALTH_ADDR", format!("127.0.0.1:{health}"))
            .env("METRICS_INTERVAL_MS", "500")
            .env("SHUTDOWN_DEADLINE_MS", "5000");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .stdout(std::fs::File::create(&stdout).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("starting burnbar-bridge");
        let mut b = Bridge {
            proc: Proc(child),
            health,
            stderr,
            stdout,
            _dir: dir,
        };
        let t = Instant::now();
        loop {
            if let Ok(Some(status)) = b.proc.0.try_wait() {
                panic!("the bridge exited at start ({status}): {}", b.logs());
            }
            if let Some((200, _)) = b.get("/healthz") {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "the bridge was not healthy within 30 s: {}",
                b.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        b
    }

    pub fn get(&self, path: &str) -> Option<(u16, Value)> {
        http_get(self.health, path)
    }

    /// The counters from `/healthz`.
    pub fn stats(&self) -> Value {
        self.get("/healthz").map(|(_, v)| v).unwrap_or(Value::Null)
    }

    pub fn counter(&self, name: &str) -> u64 {
        self.stats()[name].as_u64().unwrap_or(0)
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    pub fn metrics_out(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// SIGTERM, then waits for a clean exit; returns the stderr log.
    pub fn stop(&mut self) -> String {
        let pid = self.proc.0.id().to_string();
        let ok = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        assert!(ok.success());
        let t = Instant::now();
        loop {
            if let Ok(Some(status)) = self.proc.0.try_wait() {
                assert!(
                    status.success(),
                    "the bridge exited with {status}: {}",
                    self.logs()
                );
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(15),
                "the bridge did not stop"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self.logs()
    }

    /// SIGKILL: the replica dies without a word.
    pub fn kill(&mut self) {
        let _ = self.proc.0.kill();
        let _ = self.proc.0.wait();
    }
}

/// A blocking GET to 127.0.0.1:port: status and JSON body.
pub fn http_get(port: u16, path: &str) -> Option<(u16, Value)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let status: u16 = buf.split_whitespace().nth(1)?.parse().ok()?;
    let body = buf.split("\r\n\r\n").nth(1)?;
    Some((status, serde_json::from_str(body).ok()?))
}

/// Waits (polling every 100 ms, at most `limit`) until `f` holds.
pub async fn wait_until(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(
            t.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---------------------------------------------------------------------------------------
// HTTP/1.1 plumbing for the fault proxy and the Kinesis stub.

fn ok_json(body: Value) -> HttpMsg {
    HttpMsg {
        start: "HTTP/1.1 200 OK".into(),
        headers: vec![("Content-Type".into(), "application/x-amz-json-1.1".into())],
        body: body.to_string().into_bytes(),
    }
}

/// What the fault proxy saw of one `PutRecords` call.
#[derive(Debug, Clone, Default)]
pub struct PutCall {
    /// Every entry's data, in request order.
    pub sent: Vec<Vec<u8>>,
    /// Indexes the proxy failed with `ProvisionedThroughputExceededException`.
    pub failed: Vec<usize>,
}

/// A proxy in front of moto that fails every `every`-th entry of the first `calls`
/// `PutRecords` calls with `ProvisionedThroughputExceededException` (they never reach
/// moto), forwards everything else, and records what it saw.
pub struct FaultProxy {
    pub port: u16,
    pub calls: Arc<Mutex<Vec<PutCall>>>,
}

impl FaultProxy {
    pub fn start(upstream: u16, every: usize, calls: usize) -> FaultProxy {
        let log: Arc<Mutex<Vec<PutCall>>> = Arc::default();
        let seen = log.clone();
        let port = serve_http(move |req| {
            let target = req.header("x-amz-target").unwrap_or("").to_owned();
            if !target.ends_with(".PutRecords") {
                return forward(upstream, &req);
            }
            let body: Value = serde_json::from_slice(&req.body).expect("PutRecords body is JSON");
            let records = body["Records"].as_array().cloned().unwrap_or_default();
            let n_call = seen.lock().unwrap().len();
            let mut call = PutCall::default();
            let mut keep = Vec::new();
            for (i, r) in records.iter().enumerate() {
                let data = base64::engine::general_purpose::STANDARD
                    .decode(r["Data"].as_str().expect("Data"))
                    .expect("base64");
                call.sent.push(data);
                if n_call < calls && i % every == every - 1 {
                    call.failed.push(i);
                } else {
                    keep.push(r.clone());
                }
            }
            let upstream_results: Vec<Value> = if keep.is_empty() {
                Vec::new()
            } else {
                let mut b = body.clone();
                b["Records"] = Value::Array(keep);
                let resp = forward(upstream, &req.with_body(b.to_string().into_bytes()));
                assert!(resp.start.contains(" 200 "), "moto refused: {}", resp.start);
                let v: Value = serde_json::from_slice(&resp.body).expect("moto JSON");
                v["Records"].as_array().cloned().unwrap_or_default()
            };
            let mut it = upstream_results.into_iter();
            let mut results = Vec::new();
            let mut failed = 0;
            for i in 0..records.len() {
                if call.failed.contains(&i) {
                    failed += 1;
                    results.push(json!({
                        "ErrorCode": "ProvisionedThroughputExceededException",
                        "ErrorMessage": "Rate exceeded for shard (injected by the test proxy)"
                    }));
                } else {
                    let r = it.next().expect("moto answered every entry it got");
                    if r.get("ErrorCode").is_some() {
                        failed += 1;
                    }
                    results.push(r);
                }
            }
            seen.lock().unwrap().push(call);
            ok_json(json!({"FailedRecordCount": failed, "Records": results}))
        });
        FaultProxy { port, calls: log }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// A Kinesis stand-in at the HTTP level for the bench: every stream exists and every
/// entry is accepted at once, so the bench measures the bridge, not moto.
pub fn kinesis_stub() -> (u16, Arc<Mutex<(u64, u64)>>) {
    let counts: Arc<Mutex<(u64, u64)>> = Arc::default();
    let c = counts.clone();
    let port = serve_http(move |req| {
        let target = req.header("x-amz-target").unwrap_or("").to_owned();
        if target.ends_with(".DescribeStreamSummary") {
            return ok_json(json!({"StreamDescriptionSummary": {
                "StreamName": "s", "StreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/s",
                "StreamStatus": "ACTIVE", "RetentionPeriodHours": 24,
                "StreamCreationTimestamp": 1.7e9, "EnhancedMonitoring": [],
                "OpenShardCount": 1}}));
        }
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let records = body["Records"].as_array().map(Vec::len).unwrap_or(0);
        let lines: u64 = body["Records"]
            .as_array()
            .map(|v| {
                v.iter()
                    .map(|r| {
                        let d = base64::engine::general_purpose::STANDARD
                            .decode(r["Data"].as_str().unwrap_or(""))
                            .unwrap_or_default();
                        d.iter().filter(|&&b| b == b'\n').count() as u64 + 1
                    })
                    .sum()
            })
            .unwrap_or(0);
        {
            let mut g = c.lock().unwrap();
            g.0 += records as u64;
            g.1 += lines;
        }
        let results: Vec<Value> = (0..records)
            .map(|i| json!({"SequenceNumber": format!("{i}"), "ShardId": "shardId-000000000000"}))
            .collect();
        ok_json(json!({"FailedRecordCount": 0, "Records": results}))
    });
    (port, counts)
}

/// Resident memory of a process in KiB (`VmRSS` from /proc).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

pub fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}
