//! The rehearsal end to end, locally: a race file → `burnbar-rehearse` → the telemetry and
//! race-control streams on moto → a poller standing in for Lambda's event source mappings
//! (moto does not trigger functions: it reads the shards with GetShardIterator and
//! GetRecords and delivers the records as Kinesis events) → the built `telemetry-processor`
//! and `race-control` under `cargo lambda watch` → the SigV4-verifying writer stand-in.
//!
//! The poller delivers what Lambda would at live speed: a shard's records of one second
//! of race time per event (the telemetry mapping's 1 s batching window), at most the
//! mapping's batch size, and delivers again from the first failed record when the
//! function reports one (ReportBatchItemFailures).
//!
//! `full_race_measurement` (ignored; `docs/cost.md`) runs a bigger race the same way and
//! keeps the functions' EMF lines for `scripts/race-cost`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use aws_sdk_kinesis::types::ShardIteratorType;
use base64::Engine as _;
use burnbar_aws::testkit::{AwsStandIns, LambdaRig};
use burnbar_publish::testkit::{Kind, StandIn, test_credentials};
use burnbar_sim::SimConfig;
use serde_json::{Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The function binaries of this profile: `cargo test --workspace` builds them with the
/// test (target/<profile>/); when they are not there (`cargo test -p burnbar-rehearse`
/// alone), cargo builds them. A binary already there is used as it is: after changing a
/// function, build it (`cargo build -p telemetry-processor -p race-control`) or run the
/// workspace's tests.
fn function_binaries() -> (PathBuf, PathBuf) {
    // target/<profile>/deps/<this test> → target/<profile>/
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    let bins = (dir.join("telemetry-processor"), dir.join("race-control"));
    if !(bins.0.exists() && bins.1.exists()) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let st = std::process::Command::new(cargo)
            .current_dir(root())
            .args([
                "build",
                "-q",
                "-p",
                "telemetry-processor",
                "-p",
                "race-control",
            ])
            .status()
            .expect("cargo build");
        assert!(st.success(), "building the functions failed");
    }
    eprintln!("functions: {} and {}", bins.0.display(), bins.1.display());
    bins
}

/// One stream's shards as the poller reads them.
struct Mapping {
    stream: String,
    arn: String,
    /// Records per event at most (the template's BatchSize).
    batch: usize,
    iterators: Vec<(String, Option<String>)>,
    rig: LambdaRig,
}

/// What the poller saw and did.
#[derive(Default, Debug)]
struct Polled {
    records: BTreeMap<String, usize>,
    invocations: BTreeMap<String, usize>,
    redeliveries: usize,
}

impl Mapping {
    async fn new(k: &aws_sdk_kinesis::Client, stream: &str, batch: usize, rig: LambdaRig) -> Self {
        let d = k
            .describe_stream_summary()
            .stream_name(stream)
            .send()
            .await
            .unwrap();
        let arn = d
            .stream_description_summary()
            .unwrap()
            .stream_arn()
            .to_owned();
        let shards = k.list_shards().stream_name(stream).send().await.unwrap();
        let mut iterators = Vec::new();
        for s in shards.shards() {
            let it = k
                .get_shard_iterator()
                .stream_name(stream)
                .shard_id(s.shard_id())
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await
                .unwrap();
            iterators.push((
                s.shard_id().to_owned(),
                it.shard_iterator().map(str::to_owned),
            ));
        }
        Mapping {
            stream: stream.into(),
            arn,
            batch,
            iterators,
            rig,
        }
    }

    /// One GetRecords per shard; its records delivered. How many records were read.
    async fn poll(
        &mut self,
        k: &aws_sdk_kinesis::Client,
        http: &reqwest::Client,
        p: &mut Polled,
    ) -> usize {
        let mut n = 0;
        for i in 0..self.iterators.len() {
            let Some(it) = self.iterators[i].1.clone() else {
                continue;
            };
            let r = k.get_records().shard_iterator(it).send().await.unwrap();
            self.iterators[i].1 = r.next_shard_iterator().map(str::to_owned);
            let recs = r.records().to_vec();
            n += recs.len();
            *p.records.entry(self.stream.clone()).or_default() += recs.len();
            let shard = self.iterators[i].0.clone();
            for batch in batches(&recs, self.batch) {
                self.deliver(&shard, batch, http, p).await;
            }
        }
        n
    }

    /// Invokes the function with `recs` as Lambda does: again from the first failed
    /// record while it reports one (a few times at most: the test then fails).
    async fn deliver(
        &self,
        shard: &str,
        mut recs: &[aws_sdk_kinesis::types::Record],
        http: &reqwest::Client,
        p: &mut Polled,
    ) {
        for attempt in 0..5 {
            let ev = event(&self.arn, shard, recs);
            let url = format!(
                "http://127.0.0.1:{}/2015-03-31/functions/_/invocations",
                self.rig.port
            );
            let mut answer = None;
            for _ in 0..120 {
                match http.post(&url).body(ev.to_string()).send().await {
                    Ok(r) if r.status().is_success() => {
                        answer = Some(
                            serde_json::from_slice::<Value>(&r.bytes().await.unwrap()).unwrap(),
                        );
                        break;
                    }
                    _ => tokio::time::sleep(Duration::from_millis(500)).await,
                }
            }
            let answer = answer.expect("the function answered");
            *p.invocations.entry(self.stream.clone()).or_default() += 1;
            let failed = answer["batchItemFailures"]
                .as_array()
                .unwrap_or_else(|| panic!("{answer}"))
                .first()
                .and_then(|f| f["itemIdentifier"].as_str())
                .map(str::to_owned);
            let Some(seq) = failed else {
                return;
            };
            assert!(attempt < 4, "{}: {seq} still failing", self.stream);
            p.redeliveries += 1;
            let at = recs
                .iter()
                .position(|r| r.sequence_number() == seq)
                .expect("a failed record of the batch");
            recs = &recs[at..];
        }
    }
}

/// A shard's records as the mapping would batch them at live speed: one second of race
/// time (the first line's `ts`) per event, at most `max` records.
fn batches(
    recs: &[aws_sdk_kinesis::types::Record],
    max: usize,
) -> Vec<&[aws_sdk_kinesis::types::Record]> {
    let sec = |r: &aws_sdk_kinesis::types::Record| {
        let data = r.data().as_ref();
        let first = data.split(|b| *b == b'\n').next().unwrap_or(b"");
        serde_json::from_slice::<Value>(first)
            .ok()
            .and_then(|v| v["ts"].as_i64())
            .unwrap_or(0)
            .div_euclid(1000)
    };
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=recs.len() {
        if i == recs.len() || i - start == max || sec(&recs[i]) != sec(&recs[start]) {
            out.push(&recs[start..i]);
            start = i;
        }
    }
    out
}

/// The Kinesis event Lambda delivers for one shard's records.
fn event(arn: &str, shard: &str, recs: &[aws_sdk_kinesis::types::Record]) -> Value {
    let records: Vec<Value> = recs
        .iter()
        .map(|r| {
            let seq = r.sequence_number();
            json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": r.partition_key(),
                    "sequenceNumber": seq,
                    "data": base64::engine::general_purpose::STANDARD.encode(r.data().as_ref()),
                    "approximateArrivalTimestamp": r
                        .approximate_arrival_timestamp()
                        .map_or(0.0, |t| t.as_secs_f64()),
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": format!("{shard}:{seq}"),
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/burnbar",
                "awsRegion": "us-east-1",
                "eventSourceARN": arn,
            })
        })
        .collect();
    json!({ "Records": records })
}

/// What a rehearsal run left to check.
struct Run {
    summary: Value,
    polled: Polled,
    writer: StandIn,
    /// The race's lines, by car: (ts of the last sample).
    last_ts: BTreeMap<String, i64>,
    race_id: String,
    _aws: AwsStandIns,
}

/// Writes the race to a file, rehearses it at `--speed max` onto moto and polls the
/// streams into the functions until everything put was delivered. The functions' EMF
/// lines go to `logs` (`telemetry-processor.emf`, `race-control.emf`).
async fn rehearse(cfg: &SimConfig, telemetry_shards: i32, logs: &Path) -> Run {
    let aws = AwsStandIns::start().await;
    let k = aws_sdk_kinesis::Client::new(&aws.moto.sdk().await);
    for (name, shards) in [("telemetry", telemetry_shards), ("race-control", 1)] {
        k.create_stream()
            .stream_name(name)
            .shard_count(shards)
            .send()
            .await
            .unwrap();
    }
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
    let (tp_bin, rc_bin) = tokio::task::spawn_blocking(function_binaries)
        .await
        .unwrap();
    std::fs::create_dir_all(logs).unwrap();
    let log = |n: &str| std::fs::File::create(logs.join(n)).unwrap();
    let tp = LambdaRig::start_with_stdout(
        &root(),
        tp_bin.to_str().unwrap(),
        &env,
        log("telemetry-processor.emf"),
    );
    let rc = LambdaRig::start_with_stdout(
        &root(),
        rc_bin.to_str().unwrap(),
        &env,
        log("race-control.emf"),
    );

    // The race file.
    let file = logs.join("race.ndjson");
    let mut out = Vec::new();
    let sim = burnbar_sim::simulate(cfg, &mut out, None).unwrap();
    std::fs::write(&file, &out).unwrap();
    let mut last_ts: BTreeMap<String, i64> = BTreeMap::new();
    for line in out.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let v: Value = serde_json::from_slice(line).unwrap();
        if v.get("kind").is_none() {
            last_ts.insert(v["car"].as_str().unwrap().into(), v["ts"].as_i64().unwrap());
        }
    }

    let mut rehearsal = tokio::process::Command::new(env!("CARGO_BIN_EXE_burnbar-rehearse"))
        .args([
            "--telemetry-stream",
            "telemetry",
            "--race-control-stream",
            "race-control",
        ])
        .arg("--file")
        .arg(&file)
        .args(["--speed", "max"])
        .env("AWS_ENDPOINT_URL", &aws.moto.url)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start burnbar-rehearse");
    let stdout = rehearsal.stdout.take().unwrap();
    let summary = tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let mut s = String::new();
        let mut stdout = stdout;
        stdout.read_to_string(&mut s).await.unwrap();
        s
    });

    let http = reqwest::Client::new();
    // Race control first each round: a race_start is stored before its samples count.
    let mut maps = vec![
        Mapping::new(&k, "race-control", 100, rc).await,
        Mapping::new(&k, "telemetry", 1000, tp).await,
    ];
    let mut polled = Polled::default();
    let mut done = None;
    loop {
        let mut n = 0;
        for m in &mut maps {
            n += m.poll(&k, &http, &mut polled).await;
        }
        if done.is_none() {
            done = rehearsal.try_wait().unwrap();
        } else if n == 0 {
            break;
        }
        if n == 0 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    assert!(done.unwrap().success(), "burnbar-rehearse failed");
    let summary: Value = serde_json::from_str(summary.await.unwrap().trim()).unwrap();
    Run {
        summary,
        polled,
        writer,
        last_ts,
        race_id: sim.race_id,
        _aws: aws,
    }
}

/// The updates the writer acknowledged, by car: seq → window_end.
fn published(writer: &StandIn) -> BTreeMap<String, BTreeMap<i64, i64>> {
    let mut by_car: BTreeMap<String, BTreeMap<i64, i64>> = BTreeMap::new();
    for r in writer.requests() {
        assert_eq!(r.signature, Ok(()), "SigV4 for execute-api");
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        for u in r.body["updates"].as_array().cloned().unwrap_or_default() {
            by_car
                .entry(u["car"].as_str().unwrap().into())
                .or_default()
                .insert(
                    u["seq"].as_i64().unwrap(),
                    u["window_end"].as_i64().unwrap(),
                );
        }
    }
    by_car
}

/// `window_close_to_ack_ms` samples in a function's EMF lines.
fn latencies(emf: &Path) -> Vec<f64> {
    let text = std::fs::read_to_string(emf).unwrap_or_default();
    let mut all = Vec::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if let Some(a) = v["window_close_to_ack_ms"].as_array() {
            all.extend(a.iter().filter_map(Value::as_f64));
        }
    }
    all
}

fn check(run: &Run, cars: u32) {
    let s = &run.summary;
    // Everything put was read back and delivered; nothing refused.
    assert_eq!(s["lines_refused"], 0);
    assert_eq!(s["telemetry"]["records_refused"], 0);
    assert_eq!(
        run.polled.records["telemetry"] as u64,
        s["telemetry"]["records"].as_u64().unwrap()
    );
    assert_eq!(
        run.polled.records["race-control"] as u64,
        s["race_control"]["records"].as_u64().unwrap()
    );
    let field: BTreeSet<String> = burnbar_sim::car_numbers(cars as usize)
        .into_iter()
        .collect();
    let put: BTreeSet<String> = s["cars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(put, field, "the rehearsal streamed every car");
    // Every car got its updates: consecutive seqs (none lost), up to the end of its race
    // (its last window closes once the watermark, its newest sample less 5 s, passes it).
    let by_car = published(&run.writer);
    for car in &field {
        let seqs = by_car
            .get(car)
            .unwrap_or_else(|| panic!("car {car}: no update published"));
        let (first, last) = (*seqs.keys().next().unwrap(), *seqs.keys().last().unwrap());
        assert_eq!(
            (last - first + 1) as usize,
            seqs.len(),
            "car {car}: a seq is missing"
        );
        let end = seqs[&last];
        assert!(
            end >= run.last_ts[car] - 15_000,
            "car {car}: last update ends at {end}, its race at {}",
            run.last_ts[car]
        );
    }
    // The race's state reached the writer too.
    let states = run
        .writer
        .requests()
        .iter()
        .flat_map(|r| {
            r.body["race_states"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|st| st["race_id"] == run.race_id.as_str())
        .count();
    assert!(states > 0, "no race state of {}", run.race_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rehearsed_race_file_reaches_the_writer_for_every_car() {
    let cfg = SimConfig {
        track: "iowa".into(),
        laps: Some(3),
        cars: 8,
        hz: 5,
        seed: 16,
        ..SimConfig::default()
    };
    let logs = std::env::temp_dir().join(format!("burnbar-rehearsal-{}", std::process::id()));
    let run = rehearse(&cfg, 2, &logs).await;
    check(&run, cfg.cars);
    assert!(run.polled.invocations["telemetry"] > 1, "{:?}", run.polled);
    // The processor timed its windows to the writer's acknowledgement (the figure itself
    // is printed, not asserted: no timed assertions).
    let mut lat = latencies(&logs.join("telemetry-processor.emf"));
    assert!(
        !lat.is_empty(),
        "window_close_to_ack_ms in the processor's EMF lines"
    );
    lat.sort_by(f64::total_cmp);
    println!(
        "window_close_to_ack_ms: {} windows, p50 {:.0} ms, p99 {:.0} ms",
        lat.len(),
        lat[lat.len() / 2],
        lat[(lat.len() * 99 / 100).min(lat.len() - 1)]
    );
    let _ = std::fs::remove_dir_all(&logs);
}

/// `docs/cost.md`'s measurement: REHEARSE_TRACK, REHEARSE_LAPS, REHEARSE_CARS, REHEARSE_HZ
/// choose the race, REHEARSE_LOGS where the EMF lines and the summary stay
/// (`rehearsal.json`). Run with `--ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "minutes long: the measurement behind docs/cost.md"]
async fn full_race_measurement() {
    let var = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.into());
    let cfg = SimConfig {
        track: var("REHEARSE_TRACK", "pocono"),
        laps: Some(var("REHEARSE_LAPS", "10").parse().unwrap()),
        cars: var("REHEARSE_CARS", "40").parse().unwrap(),
        hz: var("REHEARSE_HZ", "10").parse().unwrap(),
        seed: 1,
        ..SimConfig::default()
    };
    // Relative to the workspace (cargo runs tests in the crate's folder).
    let logs = root().join(var("REHEARSE_LOGS", "target/rehearsal"));
    let shards = var("REHEARSE_SHARDS", "1").parse().unwrap();
    let run = rehearse(&cfg, shards, &logs).await;
    check(&run, cfg.cars);
    let mut s = run.summary.clone();
    s["invocations"] = json!(run.polled.invocations);
    s["redeliveries"] = json!(run.polled.redeliveries);
    s["telemetry_shards"] = json!(shards);
    s["writer_requests"] = json!(run.writer.requests().len());
    // AppSync's side: one mutation per race's 100 updates and per race state, and the
    // 5 KB units each pushes to a subscriber.
    let (mut mutations, mut units) = (0usize, 0usize);
    for r in run.writer.requests() {
        let mut by_race: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for u in r.body["updates"].as_array().cloned().unwrap_or_default() {
            by_race
                .entry(u["race_id"].as_str().unwrap_or("").to_owned())
                .or_default()
                .push(u);
        }
        for ups in by_race.values() {
            for chunk in ups.chunks(100) {
                mutations += 1;
                units += serde_json::to_string(chunk)
                    .unwrap()
                    .len()
                    .div_ceil(5 * 1024);
            }
        }
        for st in r.body["race_states"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            mutations += 1;
            units += st.to_string().len().div_ceil(5 * 1024);
        }
    }
    // The whole race this fraction is of (scripts/race-cost scales to it).
    let whole = SimConfig {
        laps: None,
        ..cfg.clone()
    };
    let w = burnbar_sim::simulate(&whole, &mut std::io::sink(), None).unwrap();
    s["full_race_s"] = json!((w.end_ts - burnbar_sim::START_TS) as f64 / 1000.0);
    s["full_race_laps"] = json!(w.laps);
    s["writer_mutations"] = json!(mutations);
    s["writer_message_units"] = json!(units);
    std::fs::write(logs.join("rehearsal.json"), s.to_string()).unwrap();
    println!("{s}");
}
