//! The telemetry-processor's handler on a real-shaped Lambda Kinesis event, beside its
//! parts: the event's decoding alone and the core alone.
//!
//! The event is what Lambda delivers for a full batch: 4,765 records of 3 samples of one
//! car each (a 40-car race at 10 Hz, packed by car as the bridge packs them), base64
//! data, every envelope field Lambda writes, about 5.9 MB of JSON: the Runtime API body,
//! cut from a simulated race after a minute of warm-up that every round starts from (the
//! in-memory adapters). It is generated deterministically; `--write-event PATH` writes
//! it for `scripts/bench-python-peer`, which times a Python Powertools peer on the same
//! bytes (`BENCH_EVENT=PATH` makes this bench read a file instead).
//!
//! Each round runs, one after the other (so drift from other load hits all alike):
//! - decode: the body to the handler's records ([`KinesisBatch`], what the functions
//!   use), and the same with `aws_lambda_events`' `KinesisEvent` (what they used before);
//! - core: `Engine::push_line` over the batch's lines, from the same warm state;
//! - handler: the whole invocation's work from the body (decode, then the handler with
//!   the in-memory adapters), and the handler alone on decoded records.
//!
//! Medians and ratios are printed, and the allocations of one whole invocation (a
//! counting allocator): per record and per window, none per sample.
//!
//! Run: `cargo bench -p burnbar-pipeline --bench handler` (`ROUNDS=N`, default 21).
//! Targets (issue 18): decoding ≤ 25 % of the whole handler; the handler ≥ 15× the
//! Python peer (the script prints that ratio); (issue 3) the handler on decoded records
//! at most 1.5× the core per record.

use std::hint::black_box;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use aws_lambda_events::event::kinesis::KinesisEvent;
use burnbar_core::{Engine, EngineConfig, FuelUpdate, ModelParams};
use burnbar_lambda::event::KinesisBatch;
use burnbar_metrics::MetricSet;
use burnbar_pipeline::memory::{MemoryProcessor, MemoryPublisher, MemoryQuarantine, MemoryStore};
use burnbar_pipeline::{Control, InRecord, ProcessorConfig};
use burnbar_sim::{SimConfig, Simulation};

use burnbar_testalloc::ALLOCS;

// The counter and its allocator: one home, `shared/testalloc`.
#[global_allocator]
static GLOBAL: burnbar_testalloc::Counting = burnbar_testalloc::Counting;

const SAMPLES_PER_RECORD: usize = 3;
const RECORDS: usize = 4_765;
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

type Proc = MemoryProcessor;

fn processor(store: MemoryStore) -> Proc {
    MemoryProcessor::in_memory(store, None, ProcessorConfig::default())
}

fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let rounds: usize = if measuring {
        std::env::var("ROUNDS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(21)
    } else {
        1
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let sim = Simulation::new(&SimConfig {
        track: "pocono".into(),
        laps: Some(3),
        cars: 40,
        hz: 10,
        seed: 3,
        ..SimConfig::default()
    })
    .unwrap();
    let all: Vec<(i64, String)> = sim.collect();
    let t0 = all[0].0;
    let (warm, rest): (Vec<_>, Vec<_>) = all.into_iter().partition(|(ts, _)| *ts < t0 + 60_000);
    let events_warm: Vec<String> = warm
        .iter()
        .filter(|(_, l)| l.contains("\"kind\""))
        .map(|(_, l)| l.clone())
        .collect();
    let samples_warm: Vec<String> = warm
        .iter()
        .filter(|(_, l)| !l.contains("\"kind\""))
        .map(|(_, l)| l.clone())
        .collect();
    // Each car's samples in threes, one record each as the bridge packs them, in the
    // order their third sample arrives, until the batch is full.
    let mut open: std::collections::HashMap<String, Vec<&str>> = Default::default();
    let mut records: Vec<(String, Vec<u8>)> = Vec::new();
    let mut batch_lines: Vec<String> = Vec::new();
    for (_, l) in rest.iter().filter(|(_, l)| !l.contains("\"kind\"")) {
        if records.len() == RECORDS {
            break;
        }
        let car = l
            .split("\"car\":\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let chunk = open.entry(car.to_owned()).or_default();
        chunk.push(l);
        if chunk.len() == SAMPLES_PER_RECORD {
            batch_lines.extend(chunk.iter().map(|s| s.to_string()));
            let data = chunk.join("\n").into_bytes();
            chunk.clear();
            records.push((format!("4959{:052}", records.len()), data));
        }
    }
    assert_eq!(
        records.len(),
        RECORDS,
        "the race is long enough for the batch"
    );
    let body = match std::env::var_os("BENCH_EVENT") {
        Some(path) => std::fs::read(&path).expect("BENCH_EVENT names a readable file"),
        None => lambda_event(&records),
    };
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--write-control-event") {
        // A race's race-control events, one record each, as one batch.
        let path = args.get(i + 1).expect("--write-control-event PATH");
        let sim = Simulation::new(&SimConfig {
            track: "pocono".into(),
            cars: 40,
            hz: 1,
            seed: 3,
            ..SimConfig::default()
        })
        .unwrap();
        let events: Vec<(String, Vec<u8>)> = sim
            .filter(|(_, l)| l.contains("\"kind\""))
            .enumerate()
            .map(|(i, (_, l))| (format!("4959{i:052}"), l.into_bytes()))
            .collect();
        let body = lambda_event(&events);
        std::fs::write(path, &body).unwrap();
        println!(
            "wrote {path}: {} records, {} bytes",
            events.len(),
            body.len()
        );
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--write-event") {
        let path = args.get(i + 1).expect("--write-event PATH");
        if let Some(dir) = std::path::Path::new(path).parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, &body).unwrap();
        println!(
            "wrote {path}: {} records, {} bytes",
            records.len(),
            body.len()
        );
        return;
    }

    // Warm state: the first minute through both functions (and through the engine).
    let warm_store = MemoryStore::new();
    let mut engine_warm = Engine::new(EngineConfig::default(), ModelParams::default());
    let mut sink: Vec<FuelUpdate> = Vec::new();
    for l in events_warm.iter().chain(&samples_warm) {
        let _ = engine_warm.push_line(l.as_bytes(), &mut sink);
    }
    rt.block_on(async {
        let pub_ = MemoryPublisher::default();
        let q = MemoryQuarantine::default();
        let ctl = Control::new(&warm_store, &pub_, &q, ProcessorConfig::default());
        let ev: Vec<(String, Vec<u8>)> = events_warm
            .iter()
            .enumerate()
            .map(|(i, l)| (i.to_string(), l.clone().into_bytes()))
            .collect();
        let ins: Vec<InRecord> = ev.iter().map(|(s, d)| InRecord::new(s, d)).collect();
        let mut m = MetricSet::new("b", &[]);
        ctl.handle(
            &ins,
            tokio::time::Instant::now() + Duration::from_secs(600),
            &mut m,
        )
        .await;
        let p = processor(warm_store.snapshot());
        for chunk in samples_warm.chunks(4000) {
            let recs: Vec<(String, Vec<u8>)> = chunk
                .iter()
                .enumerate()
                .map(|(i, l)| (i.to_string(), l.clone().into_bytes()))
                .collect();
            let ins: Vec<InRecord> = recs.iter().map(|(s, d)| InRecord::new(s, d)).collect();
            let mut m = MetricSet::new("b", &[]);
            p.handle(
                &ins,
                tokio::time::Instant::now() + Duration::from_secs(600),
                &mut m,
            )
            .await;
        }
        // The warmed store is the processor's.
        warm_store.restore_from(&p.store);
    });

    // One whole invocation, its allocations counted (warm: the decoder's buffers are
    // the second event's).
    KinesisBatch::from_slice(&body).unwrap().recycle();
    let p = processor(warm_store.snapshot());
    let mut m = MetricSet::new("b", &[]);
    let before = ALLOCS.load(Ordering::Relaxed);
    let batch = KinesisBatch::from_slice(&body).unwrap();
    let decode_allocs = ALLOCS.load(Ordering::Relaxed) - before;
    let ins = batch.records();
    let o = rt.block_on(p.handle(&ins, far(), &mut m));
    drop(ins);
    batch.recycle();
    let allocs = ALLOCS.load(Ordering::Relaxed) - before;
    assert_eq!(o.first_failed, None);
    let windows = m.get("windows_closed_total").unwrap_or(0.0);
    let updates = p.publisher.updates.lock().unwrap().len();
    drop(p);

    let (mut dec_t, mut aws_t, mut core_t, mut whole_t, mut handler_t, mut floor_t) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    // `BENCH_ONLY=decode`: the decoder alone, for a profiler; `BENCH_ONLY=handler`: the
    // handler alone on decoded records.
    let only_decode = std::env::var("BENCH_ONLY").is_ok_and(|v| v == "decode");
    let only_handler = std::env::var("BENCH_ONLY").is_ok_and(|v| v == "handler");
    // One round of the handler alone on decoded records, from the warm state.
    let handler_round = |times: &mut Vec<f64>| {
        let p = processor(warm_store.snapshot());
        let mut m = MetricSet::new("b", &[]);
        let ins: Vec<InRecord> = records.iter().map(|(s, d)| InRecord::new(s, d)).collect();
        let t = Instant::now();
        let o = rt.block_on(p.handle(&ins, far(), &mut m));
        times.push(t.elapsed().as_secs_f64());
        assert_eq!(o.first_failed, None);
    };
    for _ in 0..rounds {
        if only_handler {
            handler_round(&mut handler_t);
            continue;
        }
        // Decoding alone: the functions' decoder, then aws_lambda_events' (before).
        let t = Instant::now();
        let batch = KinesisBatch::from_slice(&body).unwrap();
        let ins = batch.records();
        black_box(ins.len());
        dec_t.push(t.elapsed().as_secs_f64());
        drop(ins);
        batch.recycle();
        if only_decode {
            continue;
        }

        // The floor of any serde_json read of the body: parse and discard.
        let t = Instant::now();
        black_box(serde_json::from_slice::<serde::de::IgnoredAny>(&body).unwrap());
        floor_t.push(t.elapsed().as_secs_f64());

        let t = Instant::now();
        let ev: KinesisEvent = serde_json::from_slice(&body).unwrap();
        let ins: Vec<InRecord> = ev
            .records
            .iter()
            .map(|r| InRecord::new(&r.kinesis.sequence_number, &r.kinesis.data.0))
            .collect();
        black_box(ins.len());
        aws_t.push(t.elapsed().as_secs_f64());
        drop(ins);
        drop(ev);

        // The core alone.
        let mut engine = engine_warm.clone();
        let t = Instant::now();
        let mut out = Vec::new();
        for l in &batch_lines {
            let _ = engine.push_line(l.as_bytes(), &mut out);
        }
        black_box(out.len());
        core_t.push(t.elapsed().as_secs_f64());
        drop(engine);

        // The whole handler from the body.
        let p = processor(warm_store.snapshot());
        let mut m = MetricSet::new("b", &[]);
        let t = Instant::now();
        let batch = KinesisBatch::from_slice(&body).unwrap();
        let ins = batch.records();
        let o = rt.block_on(p.handle(&ins, far(), &mut m));
        drop(ins);
        batch.recycle();
        whole_t.push(t.elapsed().as_secs_f64());
        assert_eq!(o.first_failed, None);
        drop(p);

        // The handler alone, on decoded records.
        handler_round(&mut handler_t);
    }
    if only_decode {
        println!("decode (KinesisBatch)      {:>7.2} ms", median(dec_t) * 1e3);
        return;
    }
    if only_handler {
        println!(
            "handler, decoded records   {:>7.2} ms",
            median(handler_t) * 1e3
        );
        return;
    }
    let (dec, aws, core, whole, handler) = (
        median(dec_t),
        median(aws_t),
        median(core_t),
        median(whole_t),
        median(handler_t),
    );
    let n = records.len() as f64;
    let ms = |x: f64| x * 1e3;
    println!(
        "event                      {} records, {} samples, {:.2} MB of Lambda event JSON",
        records.len(),
        batch_lines.len(),
        body.len() as f64 / 1e6
    );
    println!("windows closed             {windows} ({updates} updates)");
    println!("rounds                     {rounds} (medians)");
    println!("decode (KinesisBatch)      {:>7.2} ms", ms(dec));
    println!("decode (aws_lambda_events) {:>7.2} ms  (before)", ms(aws));
    println!(
        "floor: serde_json IgnoredAny {:>5.2} ms  (reads the body, keeps nothing)",
        ms(median(floor_t))
    );
    println!(
        "core (Engine::push_line)   {:>7.2} ms  {:>9.0} records/s",
        ms(core),
        n / core
    );
    println!(
        "handler, decoded records   {:>7.2} ms  {:>9.0} records/s",
        ms(handler),
        n / handler
    );
    println!(
        "handler, whole from body   {:>7.2} ms  {:>9.0} records/s",
        ms(whole),
        n / whole
    );
    println!(
        "decode share of the whole  {:>7.1} %  (target <= 25 %)",
        100.0 * dec / whole
    );
    println!(
        "handler / core per record  {:>7.2}x  (target <= 1.5x)",
        handler / core
    );
    println!(
        "allocations, one invocation {allocs} ({decode_allocs} decoding): {:.3} per record, {:.2} per window, {:.4} per sample",
        allocs as f64 / n,
        allocs as f64 / windows.max(1.0),
        allocs as f64 / batch_lines.len() as f64
    );
}

fn far() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(600)
}

/// The Lambda event for `records` (sequence number, data), as the Runtime API delivers
/// it: every field Lambda writes, the data in base64, compact JSON.
fn lambda_event(records: &[(String, Vec<u8>)]) -> Vec<u8> {
    use base64::Engine as _;
    let recs: Vec<serde_json::Value> = records
        .iter()
        .enumerate()
        .map(|(i, (seq, data))| {
            let car = std::str::from_utf8(data)
                .unwrap()
                .split("\"car\":\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap_or("0")
                .to_owned();
            serde_json::json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": car,
                    "sequenceNumber": seq,
                    "data": base64::engine::general_purpose::STANDARD.encode(data),
                    "approximateArrivalTimestamp": 1_750_593_700.0 + i as f64 * 0.002,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": format!("shardId-000000000000:{seq}"),
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/burnbar-telemetry-processor",
                "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/burnbar-telemetry",
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "Records": recs })).unwrap()
}
