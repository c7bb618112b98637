//! Replay throughput against the floor of any JSON reader, side by side in one run.
//!
//! The target: `replay` of NDJSON on one core runs at ≥ 40 % of the rate of
//! merely reading the same lines with `serde_json::from_slice::<IgnoredAny>`. Both read
//! the same in-memory simulated race (no disk), so the ratio is the cost of decoding,
//! windowing and the fuel model over the bare parse.
//!
//! Run: `cargo bench --bench replay` (add `-- --quick` for a short run).

use std::hint::black_box;

use burnbar_core::{Engine, EngineConfig, FuelUpdate, ModelParams};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

mod common;

fn bench(c: &mut Criterion) {
    let data = common::race(12);
    let lines = common::lines(&data);
    let mut g = c.benchmark_group("replay");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.sample_size(10);
    g.bench_function("ignored_any", |b| {
        b.iter(|| {
            for l in &lines {
                let _ = black_box(serde_json::from_slice::<serde::de::IgnoredAny>(l));
            }
        })
    });
    g.bench_function("engine", |b| {
        b.iter(|| {
            let mut engine = Engine::new(EngineConfig::default(), ModelParams::default());
            let mut out: Vec<FuelUpdate> = Vec::new();
            for l in &lines {
                let _ = engine.push_line(l, &mut out);
                out.clear();
            }
            engine.finish(&mut out);
            black_box(engine.counters().windows_closed)
        })
    });
    g.bench_function("engine_and_write", |b| {
        let mut sink: Vec<u8> = Vec::with_capacity(64 << 20);
        b.iter(|| {
            sink.clear();
            let mut engine = Engine::new(EngineConfig::default(), ModelParams::default());
            let mut out: Vec<FuelUpdate> = Vec::new();
            for l in &lines {
                let _ = engine.push_line(l, &mut out);
                for u in &out {
                    serde_json::to_writer(&mut sink, u).unwrap();
                    sink.push(b'\n');
                }
                out.clear();
            }
            engine.finish(&mut out);
            black_box(sink.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
