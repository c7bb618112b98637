//! "Allocations per sample in the handler, beyond those per window and per record: 0"
//! (issue 18, target 5), held by a counting allocator.
//!
//! Two Lambda events carry the same records of the same cars over the same race time
//! (so the same windows close), one with 3 samples a record (10 Hz) and one with 6
//! (20 Hz: the same instants and one more between each). Each is decoded and handled
//! by the telemetry handler with the in-memory adapters, from the same warm state (a
//! minute of the race at 20 Hz already through both functions). Whatever the handler
//! allocates per event, per record, per car or per window is the same in both; anything
//! allocated per sample would be twice as much in the second. The counts must be equal.
//!
//! One test in this binary: the counter is process-wide.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine as _;
use burnbar_lambda::event::KinesisBatch;
use burnbar_metrics::MetricSet;
use burnbar_pipeline::memory::{MemoryProcessor, MemoryPublisher, MemoryQuarantine, MemoryStore};
use burnbar_pipeline::{Control, InRecord, ProcessorConfig};
use burnbar_sim::{SimConfig, Simulation};
use burnbar_testalloc::ALLOCS;

#[global_allocator]
static GLOBAL: burnbar_testalloc::Counting = burnbar_testalloc::Counting;

type Proc = MemoryProcessor;

fn processor(store: MemoryStore) -> Proc {
    MemoryProcessor::in_memory(store, None, ProcessorConfig::default())
}

fn far() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(600)
}

fn car_of(line: &str) -> &str {
    line.split("\"car\":\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a sample names its car")
}

/// A Lambda Kinesis event of these records (sequence number, data), as Lambda writes it.
fn lambda_event(records: &[(String, Vec<u8>)]) -> Vec<u8> {
    let recs: Vec<serde_json::Value> = records
        .iter()
        .map(|(seq, data)| {
            let car = car_of(std::str::from_utf8(data).unwrap());
            serde_json::json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": car,
                    "sequenceNumber": seq,
                    "data": base64::engine::general_purpose::STANDARD.encode(data),
                    "approximateArrivalTimestamp": 1_750_593_700.0,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": format!("shardId-000000000000:{seq}"),
                "eventName": "aws:kinesis:record",
                "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/burnbar-telemetry",
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "Records": recs })).unwrap()
}

/// What one invocation did: allocations, windows closed, updates published.
#[derive(Debug, PartialEq)]
struct Run {
    allocs: u64,
    windows: f64,
    updates: usize,
    samples: f64,
}

/// Decodes `body` and handles it from `warm` (a copy), counting allocations of the
/// decoding and the handler.
fn run(rt: &tokio::runtime::Runtime, warm: &MemoryStore, body: &[u8]) -> Run {
    let p = processor(warm.snapshot());
    let mut m = MetricSet::new("t", &[]);
    let before = ALLOCS.load(Ordering::Relaxed);
    let batch = KinesisBatch::from_slice(body).unwrap();
    let ins = batch.records();
    let o = rt.block_on(p.handle(&ins, far(), &mut m));
    drop(ins);
    batch.recycle();
    let allocs = ALLOCS.load(Ordering::Relaxed) - before;
    assert_eq!(o.first_failed, None);
    Run {
        allocs,
        windows: m.get("windows_closed_total").unwrap_or(0.0),
        updates: p.publisher.updates.lock().unwrap().len(),
        samples: m.get("samples_total").unwrap_or(0.0),
    }
}

#[test]
fn twice_the_samples_a_record_allocate_nothing_more() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let sim = Simulation::new(&SimConfig {
        track: "pocono".into(),
        laps: Some(2),
        cars: 12,
        hz: 20,
        seed: 5,
        ..SimConfig::default()
    })
    .unwrap();
    let all: Vec<(i64, String)> = sim.collect();
    let t0 = all[0].0;
    let is_event = |l: &str| l.contains("\"kind\"");

    // Warm state: the first minute, at 20 Hz, through both functions.
    let warm_store = MemoryStore::new();
    rt.block_on(async {
        let pub_ = MemoryPublisher::default();
        let q = MemoryQuarantine::default();
        let ctl = Control::new(&warm_store, &pub_, &q, ProcessorConfig::default());
        let ev: Vec<(String, Vec<u8>)> = all
            .iter()
            .filter(|(ts, l)| *ts < t0 + 60_000 && is_event(l))
            .enumerate()
            .map(|(i, (_, l))| (i.to_string(), l.clone().into_bytes()))
            .collect();
        let ins: Vec<InRecord> = ev.iter().map(|(s, d)| InRecord::new(s, d)).collect();
        let mut m = MetricSet::new("t", &[]);
        assert_eq!(ctl.handle(&ins, far(), &mut m).await.first_failed, None);
        let p = processor(warm_store.snapshot());
        let samples: Vec<&String> = all
            .iter()
            .filter(|(ts, l)| *ts < t0 + 60_000 && !is_event(l))
            .map(|(_, l)| l)
            .collect();
        for chunk in samples.chunks(2000) {
            let recs: Vec<(String, Vec<u8>)> = chunk
                .iter()
                .enumerate()
                .map(|(i, l)| (i.to_string(), l.as_bytes().to_vec()))
                .collect();
            let ins: Vec<InRecord> = recs.iter().map(|(s, d)| InRecord::new(s, d)).collect();
            let mut m = MetricSet::new("t", &[]);
            assert_eq!(p.handle(&ins, far(), &mut m).await.first_failed, None);
        }
        warm_store.restore_from(&p.store);
    });

    // The next 12 s of each car: its 20 Hz samples six to a record, and every other one
    // of them three to a record (the same instants at 10 Hz). Records in the order of
    // their first sample, as the bridge's packing sends them.
    let span = (t0 + 60_000)..(t0 + 72_000);
    let mut by_car: BTreeMap<&str, Vec<(i64, &str)>> = BTreeMap::new();
    for (ts, l) in all
        .iter()
        .filter(|(ts, l)| span.contains(ts) && !is_event(l))
    {
        by_car.entry(car_of(l)).or_default().push((*ts, l));
    }
    let mut six: Vec<(i64, Vec<u8>)> = Vec::new();
    let mut three: Vec<(i64, Vec<u8>)> = Vec::new();
    for lines in by_car.values() {
        for rec in lines.chunks_exact(6) {
            let join = |ls: &mut dyn Iterator<Item = &(i64, &str)>| {
                ls.map(|(_, l)| *l)
                    .collect::<Vec<_>>()
                    .join("\n")
                    .into_bytes()
            };
            six.push((rec[0].0, join(&mut rec.iter())));
            three.push((rec[0].0, join(&mut rec.iter().step_by(2))));
        }
    }
    let event = |recs: &mut Vec<(i64, Vec<u8>)>| {
        recs.sort_by_key(|(ts, _)| *ts);
        let recs: Vec<(String, Vec<u8>)> = recs
            .drain(..)
            .enumerate()
            .map(|(i, (_, d))| (format!("4959{i:052}"), d))
            .collect();
        (recs.len(), lambda_event(&recs))
    };
    let (n6, body6) = event(&mut six);
    let (n3, body3) = event(&mut three);
    assert_eq!(n6, n3);
    assert!(
        n6 >= 12 * 12 * 20 / 6 - 12,
        "{n6} records: two a second of each car"
    );

    // The decoder's reused buffers at the larger event's size, then each counted twice,
    // alternating (so nothing warmed by one run favours the other).
    run(&rt, &warm_store, &body6);
    let runs: Vec<(Run, Run)> = (0..2)
        .map(|_| (run(&rt, &warm_store, &body3), run(&rt, &warm_store, &body6)))
        .collect();
    for (r3, r6) in &runs {
        eprintln!("3 samples a record: {r3:?}; 6 samples a record: {r6:?}");
        assert_eq!(r6.samples, 2.0 * r3.samples, "twice the samples");
        assert!(r3.windows > 0.0, "windows close in the span");
        assert_eq!(r3.windows, r6.windows, "the same windows close");
        assert_eq!(r3.updates, r6.updates, "the same updates are published");
        assert_eq!(
            r3.allocs,
            r6.allocs,
            "allocations per sample: {} more for {} more samples",
            r6.allocs as i64 - r3.allocs as i64,
            r6.samples - r3.samples
        );
    }
}
