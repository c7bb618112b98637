//! Handler tests with the in-memory adapters: redelivery (whole batch, half of it,
//! producer duplicates under new sequence numbers), malformed records, store and publish
//! failures, conflicts, the predictor and its fallback, and agreement with the local
//! engine (`burnbar replay`) on every field a car's own records decide.
//!
//! One test binary: the cases are in modules by subject; the race, the processor and
//! the delivery helpers they share are here, and the written-out race of the mid-race
//! deploy in `support.rs`.

use std::collections::BTreeMap;
use std::time::Duration;

use burnbar_core::car::WindowFeatures;
use burnbar_core::{CarId, Engine, EngineConfig, FuelUpdate, ModelParams};
use burnbar_lambda::BatchResponse;
use burnbar_metrics::MetricSet;
use burnbar_pipeline::memory::{
    MemoryProcessor, MemoryPublisher, MemoryQuarantine, MemoryStore, NoPredictor, StoreDump,
};
use burnbar_pipeline::ports::{PortError, Predictor, RaceStore};
use burnbar_pipeline::{Control, InRecord, ProcessorConfig};
use burnbar_sim::{SimConfig, Simulation};
use tokio::time::Instant;

mod agreement;
mod behaviour;
mod deploy;
mod failures;
mod limits;
mod predictor;
mod support;
mod sweep;

/// One step of a race: the telemetry lines and the race-control lines of one second.
struct Step {
    samples: Vec<String>,
    events: Vec<String>,
}

/// A short simulated race, as steps of one second of event time.
fn race(cars: u32, laps: u32, seed: u64) -> Vec<Step> {
    let sim = Simulation::new(&SimConfig {
        track: "iowa".into(),
        laps: Some(laps),
        cars,
        hz: 5,
        seed,
        ..SimConfig::default()
    })
    .unwrap();
    steps_of(sim)
}

/// Lines with their event time, ms, as steps of one second.
fn steps_of(lines: impl IntoIterator<Item = (i64, String)>) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut cur = i64::MIN;
    for (ts, line) in lines {
        let sec = ts.div_euclid(1000);
        if sec != cur {
            steps.push(Step {
                samples: vec![],
                events: vec![],
            });
            cur = sec;
        }
        let s = steps.last_mut().unwrap();
        if line.contains("\"kind\"") {
            s.events.push(line);
        } else {
            s.samples.push(line);
        }
    }
    steps
}

type Proc<P = NoPredictor> = MemoryProcessor<P>;
type Ctl<'a> = Control<&'a MemoryStore, &'a MemoryPublisher, &'a MemoryQuarantine>;

fn processor() -> Proc {
    MemoryProcessor::in_memory(MemoryStore::new(), None, ProcessorConfig::default())
}

fn control<P>(p: &Proc<P>) -> Ctl<'_> {
    Control::new(
        &p.store,
        &p.publisher,
        &p.quarantine,
        ProcessorConfig::default(),
    )
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

/// Kinesis records: one line each, sequence numbers from `seq0`.
fn records(lines: &[String], seq0: u64) -> Vec<(String, Vec<u8>)> {
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| (format!("{:020}", seq0 + i as u64), l.clone().into_bytes()))
        .collect()
}

fn ins(recs: &[(String, Vec<u8>)]) -> Vec<InRecord<'_>> {
    recs.iter().map(|(s, d)| InRecord::new(s, d)).collect()
}

async fn send<P: Predictor>(
    p: &Proc<P>,
    recs: &[(String, Vec<u8>)],
) -> (Option<String>, MetricSet) {
    let mut m = MetricSet::new("t", &[]);
    let o = p.handle(&ins(recs), deadline(), &mut m).await;
    (o.first_failed, m)
}

async fn send_events<P>(p: &Proc<P>, lines: &[String], seq0: u64) -> Option<String> {
    let recs = records(lines, seq0);
    let mut m = MetricSet::new("t", &[]);
    control(p)
        .handle(&ins(&recs), deadline(), &mut m)
        .await
        .first_failed
}

/// The last published update of each window, by car and seq (what a subscriber shows).
fn shown(p: &Proc<impl Predictor>) -> BTreeMap<(CarId, i64), FuelUpdate> {
    p.publisher
        .updates
        .lock()
        .unwrap()
        .iter()
        .map(|u| ((u.car, u.seq), u.clone()))
        .collect()
}

/// The cars' states (not their versions or outboxes, which count writes).
fn states(p: &Proc<impl Predictor>) -> BTreeMap<(String, CarId), String> {
    p.store
        .cars()
        .into_iter()
        .map(|(k, i)| (k, serde_json::to_string(&(&i.state, &i.applied)).unwrap()))
        .collect()
}

/// Runs a race through both functions, second by second; `deliver` decides how each
/// second's telemetry batch reaches the processor.
async fn run<F, Fut>(steps: &[Step], p: &Proc, mut deliver: F)
where
    F: FnMut(Vec<(String, Vec<u8>)>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut seq = 1_000u64;
    for s in steps {
        let recs = records(&s.samples, seq);
        seq += 10_000;
        deliver(recs).await;
        if !s.events.is_empty() {
            assert_eq!(send_events(p, &s.events, seq).await, None);
            seq += 10_000;
        }
    }
}

/// A flat sample line of race `r` (a car lapping Iowa at a steady pace).
fn sample(car: &str, ts: i64, t0: i64) -> String {
    let laps = (ts - t0) as f64 / 24_000.0;
    format!(
        r#"{{"v":1,"race_id":"r","car":"{car}","ts":{ts},"lap":{},"lap_frac":{:.4},"speed_mph":140.0,"rpm":9000,"throttle_pct":90.0}}"#,
        laps.floor(),
        laps.fract()
    )
}
