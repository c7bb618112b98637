//! Bench: messages per second through one replica (NATS to the Kinesis client), sampling
//! off and on, and resident memory at a sustained 10x race load. Prints figures.
//!
//! Kinesis is stubbed at the HTTP level (`tests/common::kinesis_stub`, every entry
//! accepted at once), so the figures are the bridge's, not moto's. nats-server is real.
//! Run: `cargo bench -p burnbar-bridge --bench throughput`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::*;

const CARS: u32 = 40;

/// A simulated race: `(ts, line)`, `hz` samples per car per second, `secs` of race.
fn race_lines(hz: u32, secs: i64) -> Vec<(i64, String)> {
    let cfg = burnbar_sim::SimConfig {
        track: "pocono".into(),
        laps: Some(40),
        cars: CARS,
        hz,
        seed: 7,
        ..burnbar_sim::SimConfig::default()
    };
    let sim = burnbar_sim::Simulation::new(&cfg).expect("sim");
    let mut out = Vec::new();
    let mut t0 = None;
    for (ts, line) in sim {
        let start = *t0.get_or_insert(ts);
        if ts - start >= secs * 1000 {
            break;
        }
        out.push((ts, line));
    }
    out
}

fn subject(line: &str) -> String {
    if line.contains("\"kind\"") {
        "burnbar.race-control.r".into()
    } else {
        "burnbar.telemetry.x".into()
    }
}

fn start_bridge(nats: &Nats, kinesis: u16, sampling: &str) -> Bridge {
    Bridge::start(&[
        ("NATS_URL", nats.url()),
        ("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{kinesis}")),
        ("SAMPLING", sampling.to_owned()),
        ("METRICS_INTERVAL_MS", "1000".to_owned()),
    ])
}

fn done(b: &Bridge) -> u64 {
    let s = b.stats();
    let n = |k: &str| s[k].as_u64().unwrap_or(0);
    n("messages_delivered_total")
        + n("samples_sampled_total")
        + n("messages_rejected_total")
        + n("messages_dropped_queue_full_total")
}

/// Publishes as fast as the bridge keeps up (at most 20,000 messages ahead of what it
/// received, so the NATS client never drops as a slow consumer) and times it.
async fn throughput(nats: &Nats, kinesis: u16, lines: &[(i64, String)], sampling: &str) {
    let mut b = start_bridge(nats, kinesis, sampling);
    let client = nats.client().await;
    let t = Instant::now();
    for (i, (_, line)) in lines.iter().enumerate() {
        client
            .publish(subject(line), line.clone().into())
            .await
            .expect("publish");
        if i % 5_000 == 4_999 {
            client.flush().await.expect("flush");
            while (i as u64) > b.counter("messages_received_total") + 20_000 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    client.flush().await.expect("flush");
    let n = lines.len() as u64;
    let limit = Instant::now() + Duration::from_secs(120);
    while done(&b) < n && Instant::now() < limit {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let secs = t.elapsed().as_secs_f64();
    let s = b.stats();
    println!(
        "sampling {sampling:>3}: {n} messages in {secs:.2} s = {:.0} messages/s; delivered {}, sampled away {}, dropped (queue full) {}, records put {}, PutRecords calls {}, peak RSS {} KiB",
        n as f64 / secs,
        s["messages_delivered_total"],
        s["samples_sampled_total"],
        s["messages_dropped_queue_full_total"],
        s["records_put_total"],
        s["putrecords_calls_total"],
        hwm_kib(b.proc.0.id()).unwrap_or(0),
    );
    b.stop();
}

fn hwm_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Replays a 100 Hz race (10x the 10 Hz broadcast rate) in real time and samples RSS.
async fn memory_at_10x(nats: &Nats, kinesis: u16, lines: &[(i64, String)], sampling: &str) {
    let mut b = start_bridge(nats, kinesis, sampling);
    let pid = b.proc.0.id();
    let client = nats.client().await;
    let t0 = lines[0].0;
    let start = Instant::now();
    let mut rss = Vec::new();
    let mut next_probe = Duration::from_secs(5);
    for (ts, line) in lines {
        let due = Duration::from_millis((ts - t0) as u64);
        let now = start.elapsed();
        if due > now {
            client.flush().await.expect("flush");
            tokio::time::sleep(due - now).await;
        }
        if start.elapsed() >= next_probe {
            rss.push((next_probe.as_secs(), rss_kib(pid).unwrap_or(0)));
            next_probe += Duration::from_secs(5);
        }
        client
            .publish(subject(line), line.clone().into())
            .await
            .expect("publish");
    }
    client.flush().await.expect("flush");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let secs = start.elapsed().as_secs_f64();
    let s = b.stats();
    println!(
        "10x load, sampling {sampling:>3}: {} messages over {secs:.0} s ({:.0}/s); RSS KiB at {}; peak {} KiB; queue full drops {}",
        lines.len(),
        lines.len() as f64 / secs,
        rss.iter()
            .map(|(t, k)| format!("{t}s={k}"))
            .collect::<Vec<_>>()
            .join(", "),
        hwm_kib(pid).unwrap_or(0),
        s["messages_dropped_queue_full_total"],
    );
    b.stop();
}

fn main() {
    // `cargo test --all-targets` builds benches and runs them with `--bench` absent: do
    // nothing then (the figures take a minute).
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let nats = Nats::start(false);
        let (kinesis, _) = kinesis_stub();
        // 40 cars at 50 Hz for 100 s of race: 200,000 samples plus events.
        let lines = race_lines(50, 100);
        println!("throughput: {} messages (40 cars at 50 Hz)", lines.len());
        throughput(&nats, kinesis, &lines, "off").await;
        throughput(&nats, kinesis, &lines, "on").await;
        let lines = race_lines(100, 30);
        memory_at_10x(&nats, kinesis, &lines, "off").await;
        memory_at_10x(&nats, kinesis, &lines, "on").await;
    });
}
