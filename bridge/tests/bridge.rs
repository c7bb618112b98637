//! End-to-end tests of the bridge binary against a real nats-server and moto (Kinesis).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_nats::jetstream;
use common::*;
use serde_json::Value;

/// Variables every test passes: where NATS and Kinesis are, the stream names.
fn env(nats: &Nats, kinesis_url: &str, extra: &[(&str, &str)]) -> Vec<(&'static str, String)> {
    let mut v: Vec<(&'static str, String)> = vec![
        ("NATS_URL", nats.url()),
        ("AWS_ENDPOINT_URL", kinesis_url.to_owned()),
        ("KINESIS_TELEMETRY_STREAM", "tel".into()),
        ("KINESIS_RACE_CONTROL_STREAM", "rc".into()),
        ("LINGER_MS", "50".into()),
    ];
    for (k, val) in extra {
        let k: &'static str = Box::leak((*k).to_owned().into_boxed_str());
        v.retain(|(x, _)| *x != k);
        v.push((k, (*val).to_owned()));
    }
    v
}

fn tel_subject(car: &str) -> String {
    format!("burnbar.telemetry.car.{car}")
}
const RC_SUBJECT: &str = "burnbar.race-control.r1";

/// A race's messages: a race_start, `cars` x `per_car` samples `step_ms` apart (car-major
/// interleaved by time), and a flag every 100 samples. Returns (subject, line) pairs.
fn race(cars: usize, per_car: usize, step_ms: i64) -> Vec<(String, String)> {
    let mut out = vec![(RC_SUBJECT.to_owned(), event("race_start", T0))];
    let mut n = 0;
    for i in 0..per_car {
        for c in 1..=cars {
            let car = c.to_string();
            out.push((
                tel_subject(&car),
                sample(&car, T0 + i as i64 * step_ms, 8000.0 + i as f64),
            ));
            n += 1;
            if n % 100 == 0 {
                out.push((
                    RC_SUBJECT.to_owned(),
                    event("flag", T0 + i as i64 * step_ms),
                ));
            }
        }
    }
    out
}

/// The `(id, ts)` keys of published lines, as `count_keys` names them.
fn expected_keys(msgs: &[(String, String)]) -> BTreeSet<(String, i64)> {
    let lines: Vec<(String, Value)> = msgs
        .iter()
        .map(|(_, l)| {
            let v: Value = serde_json::from_str(l).unwrap();
            let key = v["car"]
                .as_str()
                .or(v["race_id"].as_str())
                .unwrap()
                .to_owned();
            let key = if v["kind"].is_string() {
                v["race_id"].as_str().unwrap().to_owned()
            } else {
                key
            };
            (key, v)
        })
        .collect();
    count_keys(&lines).into_keys().collect()
}

async fn both_streams(k: &aws_sdk_kinesis::Client) -> Vec<(String, Value)> {
    let mut recs = read_stream(k, "tel").await;
    recs.extend(read_stream(k, "rc").await);
    lines(&recs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_in_a_queue_group_deliver_every_message_exactly_once() {
    let nats = Nats::start(false);
    let moto = Moto::start();
    let k = kinesis(&moto.url());
    create_stream(&k, "tel", 2).await;
    create_stream(&k, "rc", 1).await;
    let e = env(&nats, &moto.url(), &[("SAMPLING", "off")]);
    let mut a = Bridge::start(&[e.clone(), vec![("REPLICA_ID", "a".into())]].concat());
    let mut b = Bridge::start(&[e, vec![("REPLICA_ID", "b".into())]].concat());

    let msgs = race(20, 60, 100);
    let client = nats.client().await;
    for (subj, line) in &msgs {
        client
            .publish(subj.clone(), line.clone().into())
            .await
            .unwrap();
    }
    client.flush().await.unwrap();
    let n = msgs.len() as u64;
    wait_until(Duration::from_secs(30), "every message delivered", || {
        a.counter("messages_delivered_total") + b.counter("messages_delivered_total") >= n
    })
    .await;
    let (ra, rb) = (
        a.counter("messages_received_total"),
        b.counter("messages_received_total"),
    );
    a.stop();
    b.stop();

    assert_eq!(ra + rb, n, "the group received each message once");
    assert!(
        ra > 0 && rb > 0,
        "each replica took a share: a {ra}, b {rb}"
    );
    let got = count_keys(&both_streams(&k).await);
    let doubled: Vec<_> = got.iter().filter(|(_, c)| **c != 1).collect();
    assert!(doubled.is_empty(), "written more than once: {doubled:?}");
    let keys: BTreeSet<(String, i64)> = got.into_keys().collect();
    assert_eq!(keys, expected_keys(&msgs), "every message written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_replica_killed_mid_stream_loses_nothing() {
    let nats = Nats::start(true);
    let moto = Moto::start();
    let k = kinesis(&moto.url());
    create_stream(&k, "tel", 2).await;
    create_stream(&k, "rc", 1).await;
    let client = nats.client().await;
    let js = jetstream::new(client.clone());
    js.create_stream(jetstream::stream::Config {
        name: "TELEMETRY".into(),
        subjects: vec![
            "burnbar.telemetry.>".into(),
            "burnbar.race-control.>".into(),
        ],
        ..Default::default()
    })
    .await
    .unwrap();
    // A long linger keeps messages in flight (unacknowledged) when the replica dies.
    let e = env(
        &nats,
        &moto.url(),
        &[
            ("SAMPLING", "off"),
            ("BRIDGE_MODE", "jetstream"),
            ("JS_ACK_WAIT_MS", "1000"),
            ("LINGER_MS", "400"),
        ],
    );
    let mut a = Bridge::start(&[e.clone(), vec![("REPLICA_ID", "a".into())]].concat());
    let mut b = Bridge::start(&[e, vec![("REPLICA_ID", "b".into())]].concat());

    // 20 cars, 100 samples 20 ms apart: 2 s of event time, so nothing can be late
    // downstream and the check below is about duplicates alone.
    let msgs = race(20, 100, 20);
    let half = msgs.len() / 2;
    for (subj, line) in &msgs[..half] {
        js.publish(subj.clone(), line.clone().into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    wait_until(Duration::from_secs(20), "replica a delivering", || {
        a.counter("messages_delivered_total") > 0
    })
    .await;
    // More work for both, then kill a while it holds some of it.
    let more = (msgs.len() - half) / 2;
    for (subj, line) in &msgs[half..half + more] {
        js.publish(subj.clone(), line.clone().into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let held_by_a = a.counter("queue_depth_messages");
    a.kill();
    for (subj, line) in &msgs[half + more..] {
        js.publish(subj.clone(), line.clone().into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let want = expected_keys(&msgs);
    let t = std::time::Instant::now();
    let got = loop {
        let got = count_keys(&both_streams(&k).await);
        let have: BTreeSet<_> = got.keys().cloned().collect();
        if have.is_superset(&want) {
            break got;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "still missing after 30 s: {:?}",
            want.difference(&have).take(10).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    b.stop();
    let dups: usize = got.values().map(|c| c - 1).sum();
    eprintln!("replica a held {held_by_a} messages when killed; {dups} duplicates reached Kinesis");

    // The processor absorbs the duplicates by `(car, ts)` (telemetry-v1 rule 3): every
    // sample counted once, the rest as duplicates.
    let mut engine = burnbar_core::Engine::new(
        burnbar_core::EngineConfig::default(),
        burnbar_core::ModelParams::default(),
    );
    let mut updates = Vec::new();
    let mut recs = read_stream(&k, "rc").await;
    recs.extend(read_stream(&k, "tel").await);
    for (_, data) in &recs {
        for line in data.split(|&b| b == b'\n') {
            engine.push_line(line, &mut updates).unwrap();
        }
    }
    let c = engine.counters();
    let samples = want
        .iter()
        .filter(|(id, _)| !id.starts_with("event:"))
        .count() as u64;
    let sample_dups: usize = got
        .iter()
        .filter(|((id, _), _)| !id.starts_with("event:"))
        .map(|(_, n)| n - 1)
        .sum();
    assert_eq!(c.late_samples, 0);
    assert_eq!(c.duplicates, sample_dups as u64);
    assert_eq!(
        c.samples - c.duplicates,
        samples,
        "each sample counted once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn putrecords_partial_failure_retries_only_the_failed_entries() {
    let nats = Nats::start(false);
    let moto = Moto::start();
    let k = kinesis(&moto.url());
    create_stream(&k, "tel", 2).await;
    create_stream(&k, "rc", 1).await;
    // Every third entry of the first four PutRecords calls is throttled.
    let proxy = FaultProxy::start(moto.port, 3, 4);
    // Small records (about two samples each), so a call holds many entries.
    let mut bridge = Bridge::start(&env(
        &nats,
        &proxy.url(),
        &[("SAMPLING", "off"), ("PACK_MAX_BYTES", "260")],
    ));
    let msgs: Vec<(String, String)> = race(10, 30, 100)
        .into_iter()
        .filter(|(s, _)| s != RC_SUBJECT)
        .collect();
    let client = nats.client().await;
    for (subj, line) in &msgs {
        client
            .publish(subj.clone(), line.clone().into())
            .await
            .unwrap();
    }
    client.flush().await.unwrap();
    let n = msgs.len() as u64;
    wait_until(Duration::from_secs(30), "every message delivered", || {
        bridge.counter("messages_delivered_total") >= n
    })
    .await;
    let stats = bridge.stats();
    bridge.stop();

    let calls = proxy.calls.lock().unwrap().clone();
    let injected: usize = calls.iter().map(|c| c.failed.len()).sum();
    assert!(injected > 0, "the proxy failed some entries");
    // Each call that had failures is followed by a call of exactly its failed entries.
    for (i, c) in calls.iter().enumerate() {
        if c.failed.is_empty() {
            continue;
        }
        let failed: Vec<&Vec<u8>> = c.failed.iter().map(|&j| &c.sent[j]).collect();
        let next: Vec<&Vec<u8>> = calls[i + 1].sent.iter().collect();
        assert_eq!(
            next,
            failed,
            "call {} retried exactly call {i}'s failures",
            i + 1
        );
    }
    // Sent count of each record = times failed + 1.
    let mut sent: BTreeMap<&Vec<u8>, (usize, usize)> = BTreeMap::new();
    for c in &calls {
        for (j, d) in c.sent.iter().enumerate() {
            let e = sent.entry(d).or_default();
            e.0 += 1;
            if c.failed.contains(&j) {
                e.1 += 1;
            }
        }
    }
    for (d, (times, failed)) in &sent {
        assert_eq!(
            *times,
            failed + 1,
            "record {:?} sent {times} times, failed {failed}",
            String::from_utf8_lossy(d)
        );
    }
    assert_eq!(stats["entries_throttled_total"], injected as u64);
    assert_eq!(stats["entries_retried_total"], injected as u64);
    assert_eq!(stats["messages_dropped_kinesis_total"], 0);

    let got = count_keys(&lines(&read_stream(&k, "tel").await));
    assert!(got.values().all(|&c| c == 1), "nothing doubled");
    let keys: BTreeSet<_> = got.into_keys().collect();
    assert_eq!(keys, expected_keys(&msgs), "nothing lost");

    // The throttles reached the EMF metrics too.
    let emf_throttles: f64 = bridge
        .metrics_out()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["entries_throttled_total"].as_f64())
        .sum();
    assert_eq!(emf_throttles, injected as f64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampling_keeps_events_respects_its_caps_and_counts_drops() {
    let nats = Nats::start(false);
    let moto = Moto::start();
    let k = kinesis(&moto.url());
    create_stream(&k, "tel", 1).await;
    create_stream(&k, "rc", 1).await;
    let mut bridge = Bridge::start(&env(
        &nats,
        &moto.url(),
        &[("SAMPLE_MAX_HZ", "10"), ("SAMPLE_MIN_HZ", "10")],
    ));
    // 3 cars, 2 s: engine records (rpm only) at 200 Hz, tracking records (speed) at
    // 10 Hz, an event every 100 ms, and one malformed message.
    let client = nats.client().await;
    let mut events = 0;
    let mut publish = Vec::new();
    publish.push((RC_SUBJECT.to_owned(), event("race_start", T0)));
    for i in 0..400i64 {
        let ts = T0 + i * 5;
        for car in ["1", "2", "3"] {
            publish.push((
                tel_subject(car),
                format!(
                    "{{\"v\":1,\"car\":\"{car}\",\"ts\":{ts},\"rpm\":{}}}",
                    8000 + i
                ),
            ));
            if i % 20 == 0 {
                publish.push((
                    tel_subject(car),
                    format!("{{\"v\":1,\"car\":\"{car}\",\"ts\":{ts},\"speed_mph\":170.5}}"),
                ));
            }
        }
        if i % 20 == 0 {
            publish.push((RC_SUBJECT.to_owned(), event("pit_in", ts)));
            events += 1;
        }
    }
    publish.push((
        tel_subject("1"),
        "{\"v\":1,\"car\":\"1\",\"ts\":".to_owned(),
    ));
    for (s, l) in &publish {
        client.publish(s.clone(), l.clone().into()).await.unwrap();
    }
    client.flush().await.unwrap();
    // 3 cars x (20 engine + 20 tracking) samples + race_start + events.
    let kept = 3 * 40 + 1 + events;
    wait_until(
        Duration::from_secs(30),
        "the kept messages delivered",
        || bridge.counter("messages_delivered_total") >= kept,
    )
    .await;
    let stats = bridge.stats();
    let log = bridge.stop();

    assert_eq!(stats["messages_delivered_total"], kept);
    assert_eq!(stats["samples_sampled_total"], 3 * 380);
    let by_car = &stats["samples_sampled_by_car"];
    for car in ["1", "2", "3"] {
        assert_eq!(by_car[car]["rpm"], 380, "{by_car}");
        assert!(by_car[car].get("speed_mph").is_none(), "{by_car}");
    }
    assert_eq!(stats["messages_rejected_total"], 1);
    assert_eq!(stats["messages_rejected_invalid_json_total"], 1);
    assert!(
        log.contains("\"msg\":\"message rejected\"") && log.contains("\"reason\":\"invalid_json\""),
        "{log}"
    );

    let all = both_streams(&k).await;
    let evs = all.iter().filter(|(_, v)| v["kind"] == "pit_in").count();
    assert_eq!(evs as u64, events, "every event kept");
    for car in ["1", "2", "3"] {
        for (chan, want) in [("rpm", 20), ("speed_mph", 20)] {
            let ts: Vec<i64> = all
                .iter()
                .filter(|(_, v)| v["car"] == car && v.get(chan).is_some())
                .map(|(_, v)| v["ts"].as_i64().unwrap())
                .collect();
            assert_eq!(ts.len(), want, "car {car} {chan}");
            // In order (one replica keeps a car's order) and at most 10 Hz.
            assert!(
                ts.windows(2).all(|w| w[1] - w[0] >= 100),
                "{car} {chan}: {ts:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_malformed_message_is_counted_and_terminated() {
    let nats = Nats::start(true);
    let moto = Moto::start();
    let k = kinesis(&moto.url());
    create_stream(&k, "tel", 1).await;
    create_stream(&k, "rc", 1).await;
    let client = nats.client().await;
    let js = jetstream::new(client.clone());
    let stream = js
        .create_stream(jetstream::stream::Config {
            name: "TELEMETRY".into(),
            subjects: vec![
                "burnbar.telemetry.>".into(),
                "burnbar.race-control.>".into(),
            ],
            ..Default::default()
        })
        .await
        .unwrap();
    let mut bridge = Bridge::start(&env(
        &nats,
        &moto.url(),
        &[("BRIDGE_MODE", "jetstream"), ("JS_ACK_WAIT_MS", "500")],
    ));
    let bad = [
        "{\"v\":1,\"car\":\"7\",\"ts\":",
        "{\"v\":2,\"car\":\"7\",\"ts\":1750593600000,\"rpm\":9000}",
        "{\"v\":1,\"ts\":1750593600000,\"rpm\":9000}",
    ];
    let mut good = Vec::new();
    for i in 0..5 {
        good.push(sample("7", T0 + i * 200, 9000.0));
    }
    for (i, l) in good.iter().enumerate() {
        js.publish(tel_subject("7"), l.clone().into())
            .await
            .unwrap()
            .await
            .unwrap();
        if let Some(b) = bad.get(i) {
            js.publish(tel_subject("7"), (*b).into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
    }
    wait_until(
        Duration::from_secs(20),
        "the good messages delivered",
        || bridge.counter("messages_delivered_total") >= 5,
    )
    .await;
    // Three ack waits: a message neither acknowledged nor terminated would be back.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let stats = bridge.stats();
    let mut consumer: jetstream::consumer::PullConsumer =
        stream.get_consumer("burnbar-bridge").await.unwrap();
    let info = consumer.info().await.unwrap().clone();
    bridge.stop();

    assert_eq!(
        stats["messages_received_total"], 8,
        "nothing redelivered: {stats}"
    );
    assert_eq!(stats["messages_rejected_total"], 3);
    assert_eq!(stats["messages_rejected_invalid_json_total"], 1);
    assert_eq!(stats["messages_rejected_unsupported_version_total"], 1);
    assert_eq!(stats["messages_rejected_missing_field_total"], 1);
    assert_eq!(info.num_ack_pending, 0, "{info:?}");
    assert_eq!(info.num_redelivered, 0, "{info:?}");
    assert_eq!(info.num_pending, 0, "{info:?}");
    let got = count_keys(&lines(&read_stream(&k, "tel").await));
    assert_eq!(got.len(), 5);
    assert!(got.values().all(|&c| c == 1));
}

#[test]
fn bad_configuration_exits_2_naming_the_variable() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_burnbar-bridge"))
        .env("BATCH_MAX_RECORDS", "1000")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("BATCH_MAX_RECORDS") && err.contains("1 to 500"),
        "{err}"
    );
}

#[test]
fn the_docs_document_every_variable() {
    let page =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/bridge.md")).unwrap();
    for v in burnbar_bridge::config::VARS {
        assert!(
            page.contains(&format!("`{}`", v.name)),
            "docs/bridge.md does not document {}",
            v.name
        );
    }
}
