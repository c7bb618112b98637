//! One invocation of a stream function's handler on a Lambda event file, as the function
//! runs it (the body decoded by [`KinesisBatch`], then the handler), with the in-memory
//! adapters: what `/usr/bin/time -v` measures for the peak RSS and duration of each
//! function in docs/benchmarks.md ("Memory size"). Prints the invocation's duration.
//!
//! Run: `cargo run --release -p burnbar-pipeline --example invoke -- telemetry EVENT.json`
//! (or `control`). `--first CONTROL.json` runs a race-control event file through race
//! control first (the race known, as it is in a running race), untimed.
//! The event files: `cargo bench -p burnbar-pipeline --bench handler -- --write-event
//! PATH` (telemetry) and `--write-control-event PATH` (a race's race-control events).

use std::time::{Duration, Instant};

use burnbar_lambda::event::KinesisBatch;
use burnbar_metrics::MetricSet;
use burnbar_pipeline::memory::{MemoryProcessor, MemoryPublisher, MemoryQuarantine, MemoryStore};
use burnbar_pipeline::{Control, ProcessorConfig};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: invoke telemetry|control EVENT.json [--first CONTROL.json]";
    let (which, path) = match (args.get(1), args.get(2)) {
        (Some(w), Some(p)) if w == "telemetry" || w == "control" => (w.as_str(), p),
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    let first = args
        .iter()
        .position(|a| a == "--first")
        .and_then(|i| args.get(i + 1));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let far = || tokio::time::Instant::now() + Duration::from_secs(600);
    let store = MemoryStore::new();
    let publisher = MemoryPublisher::default();
    let quarantine = MemoryQuarantine::default();
    let control = Control::new(&store, &publisher, &quarantine, ProcessorConfig::default());
    if let Some(first) = first {
        let body = std::fs::read(first).expect("read --first");
        let batch = KinesisBatch::from_slice(&body).expect("a Kinesis event");
        let mut m = MetricSet::new("b", &[]);
        rt.block_on(control.handle(&batch.records(), far(), &mut m));
    }
    let body = std::fs::read(path).expect("read the event file");
    let mut m = MetricSet::new("b", &[]);
    let t = Instant::now();
    let batch = KinesisBatch::from_slice(&body).expect("a Kinesis event");
    let records = batch.records();
    let (outcome, updates, quarantined) = if which == "telemetry" {
        let p: MemoryProcessor =
            MemoryProcessor::in_memory(store.snapshot(), None, ProcessorConfig::default());
        let o = rt.block_on(p.handle(&records, far(), &mut m));
        let q = p.quarantine.items.lock().unwrap().len();
        let u = p.publisher.updates.lock().unwrap().len();
        (o, u, q)
    } else {
        let before = quarantine.items.lock().unwrap().len();
        let o = rt.block_on(control.handle(&records, far(), &mut m));
        let q = quarantine.items.lock().unwrap().len() - before;
        let published = o.published;
        (o, published, q)
    };
    let took = t.elapsed();
    println!(
        "{which}: {} records, {:.2} MB event, {:.2} ms, {updates} published, {quarantined} quarantined, first failed {:?}",
        records.len(),
        body.len() as f64 / 1e6,
        took.as_secs_f64() * 1e3,
        outcome.first_failed
    );
}
