//! The telemetry-processor's handler against the core it wraps, per record, on a full
//! Kinesis batch: 8,000 records of 3 samples each (a 40-car race at 10 Hz, one minute,
//! packed by car as the bridge packs them: about 6 MB as a Lambda event), with the
//! in-memory adapters, after a minute of warm-up that every round starts from.
//!
//! The core (`Engine::push_line` over the same 24,000 lines, from the same warm state)
//! and the handler run in alternating rounds, so drift from other load hits both alike;
//! medians and their ratio are printed.
//!
//! Run: `cargo bench -p burnbar-pipeline --bench handler` (`ROUNDS=N` for more rounds).
//! Target (issue 3): the handler costs at most 1.5× the core per record.

use std::hint::black_box;
use std::time::{Duration, Instant};

use burnbar_core::{Engine, EngineConfig, FuelUpdate, ModelParams};
use burnbar_metrics::MetricSet;
use burnbar_pipeline::memory::{MemoryPublisher, MemoryQuarantine, MemoryStore, NoPredictor};
use burnbar_pipeline::{Control, InRecord, Processor, ProcessorConfig};
use burnbar_sim::{SimConfig, Simulation};

const SAMPLES_PER_RECORD: usize = 3;
const RECORDS: usize = 8_000;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

type Proc = Processor<MemoryStore, NoPredictor, MemoryPublisher, MemoryQuarantine>;

fn processor(store: MemoryStore) -> Proc {
    Processor::new(
        store,
        None,
        MemoryPublisher::default(),
        MemoryQuarantine::default(),
        ProcessorConfig::default(),
    )
}

fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let rounds: usize = if measuring {
        std::env::var("ROUNDS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(11)
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
    let batch_lines: Vec<String> = rest
        .iter()
        .filter(|(_, l)| !l.contains("\"kind\""))
        .take(RECORDS * SAMPLES_PER_RECORD)
        .map(|(_, l)| l.clone())
        .collect();
    // Pack by car, in order, as the bridge does.
    let mut by_car: std::collections::BTreeMap<String, Vec<&String>> = Default::default();
    for l in &batch_lines {
        let car = l
            .split("\"car\":\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned();
        by_car.entry(car).or_default().push(l);
    }
    let mut records: Vec<(String, Vec<u8>)> = Vec::new();
    for lines in by_car.values() {
        for chunk in lines.chunks(SAMPLES_PER_RECORD) {
            let data = chunk
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n");
            records.push((format!("{:056}", records.len()), data.into_bytes()));
        }
    }
    let event_bytes: usize = records
        .iter()
        .map(|(s, d)| 4 * d.len().div_ceil(3) + s.len() + 330)
        .sum();

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
        let ins: Vec<InRecord> = ev
            .iter()
            .map(|(s, d)| InRecord::new(s, d))
            .collect();
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
            let ins: Vec<InRecord> = recs
                .iter()
                .map(|(s, d)| InRecord::new(s, d))
                .collect();
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

    let (mut core_t, mut handler_t) = (Vec::new(), Vec::new());
    let mut windows = 0.0;
    for _ in 0..rounds {
        let mut engine = engine_warm.clone();
        let t = Instant::now();
        let mut out = Vec::new();
        for l in &batch_lines {
            let _ = engine.push_line(l.as_bytes(), &mut out);
        }
        black_box(out.len());
        core_t.push(t.elapsed().as_secs_f64());

        let p = processor(warm_store.snapshot());
        let ins: Vec<InRecord> = records
            .iter()
            .map(|(s, d)| InRecord::new(s, d))
            .collect();
        let mut m = MetricSet::new("b", &[]);
        let t = Instant::now();
        let o = rt.block_on(p.handle(
            &ins,
            tokio::time::Instant::now() + Duration::from_secs(600),
            &mut m,
        ));
        handler_t.push(t.elapsed().as_secs_f64());
        assert_eq!(o.first_failed, None);
        windows = m.get("windows_closed_total").unwrap_or(0.0);
    }
    let (c, h) = (median(core_t), median(handler_t));
    let n = records.len() as f64;
    println!(
        "batch                    {} records, {} samples, ~{:.1} MB as a Lambda event",
        records.len(),
        batch_lines.len(),
        event_bytes as f64 / 1e6
    );
    println!("windows closed           {windows}");
    println!("rounds                   {rounds}");
    println!(
        "core (Engine::push_line) {:>9.0} records/s  (median {:.1} ms)",
        n / c,
        c * 1e3
    );
    println!(
        "handler (in-memory)      {:>9.0} records/s  (median {:.1} ms)",
        n / h,
        h * 1e3
    );
    println!("handler / core per record {:.2}x  (target <= 1.5x)", h / c);
}
