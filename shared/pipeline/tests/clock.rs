//! The handlers read the wall clock only through `ProcessorConfig.clock`: the silent-car
//! sweep compares the clock with each car's summary stamp, and the stamp is the same
//! clock's reading. A deployment (or a test, or a replay of a past race) that sets the
//! clock gets decisions by that clock, never by the host's.
//!
//! One test in this binary: the clock is a process-wide static (`clock` is a plain `fn`).

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use burnbar_metrics::MetricSet;
use burnbar_pipeline::memory::{MemoryProcessor, MemoryStore};
use burnbar_pipeline::{Control, InRecord, ProcessorConfig};
use tokio::time::Instant;

/// 2025-06-22: more than a year before the host's clock when this was written, so the
/// host's reading and the injected one can never be mistaken for each other.
const T0: i64 = 1_750_593_600_000;

static NOW: AtomicI64 = AtomicI64::new(T0);

fn clock() -> i64 {
    NOW.load(Ordering::Relaxed)
}

fn sample(car: &str, ts: i64) -> String {
    let laps = (ts - T0) as f64 / 24_000.0;
    format!(
        r#"{{"v":1,"race_id":"r","car":"{car}","ts":{ts},"lap":{},"lap_frac":{:.4},"speed_mph":140.0,"rpm":9000,"throttle_pct":90.0}}"#,
        laps.floor(),
        laps.fract()
    )
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

#[tokio::test]
async fn the_silent_car_sweep_follows_the_injected_clock_not_the_hosts() {
    let cfg = ProcessorConfig {
        clock,
        ..ProcessorConfig::default()
    };
    let quiet_s = cfg.silent_quiet.as_secs() as i64;
    assert_eq!(quiet_s, 60, "the scenario below is sized for the default");
    let p: MemoryProcessor = MemoryProcessor::in_memory(MemoryStore::new(), None, cfg.clone());
    let start = format!(
        r#"{{"v":1,"kind":"race_start","ts":{T0},"race_id":"r","track":"iowa","cars":["1","2"]}}"#
    );
    let ctl = Control::new(&p.store, &p.publisher, &p.quarantine, cfg);
    let recs = [("1".to_owned(), start.into_bytes())];
    let ins: Vec<InRecord> = recs.iter().map(|(s, d)| InRecord::new(s, d)).collect();
    let mut m = MetricSet::new("t", &[]);
    assert_eq!(
        ctl.handle(&ins, deadline(), &mut m).await.first_failed,
        None
    );

    // Each second of race time is one invocation per car, with the injected clock at the
    // end of that second. Car 2 goes quiet after second 29: its summary was last written
    // at the clock's 30 s, so by the clock it has been quiet for 60 s at second 89.
    let mut swept_at = Vec::new();
    let mut seq = 10u64;
    for sec in 0..120i64 {
        NOW.store(T0 + (sec + 1) * 1000, Ordering::Relaxed);
        for car in ["1", "2"] {
            if car == "2" && sec >= 30 {
                continue;
            }
            let lines: Vec<String> = (0..5)
                .map(|k| sample(car, T0 + sec * 1000 + 100 + k * 200))
                .collect();
            let recs: Vec<(String, Vec<u8>)> = lines
                .iter()
                .map(|l| {
                    seq += 1;
                    (format!("{seq:020}"), l.clone().into_bytes())
                })
                .collect();
            let ins: Vec<InRecord> = recs.iter().map(|(s, d)| InRecord::new(s, d)).collect();
            let mut m = MetricSet::new("t", &[]);
            assert_eq!(p.handle(&ins, deadline(), &mut m).await.first_failed, None);
            if m.get("cars_swept_total").unwrap_or(0.0) > 0.0 {
                swept_at.push(sec);
            }
        }
    }
    // Car 2 is swept once, when the injected clock says it has been quiet for 60 s: its
    // last samples came at second 29, its summary was last stamped within a few seconds
    // of them (as its held windows closed), so at second 89 at the earliest and a few
    // seconds later at most. The host's clock would never have called it quiet: the
    // whole test takes far less than 60 s of real time, and the stamps would be the
    // host's too.
    assert_eq!(swept_at.len(), 1, "swept once: {swept_at:?}");
    assert!(
        (30 + quiet_s - 1..30 + quiet_s + 5).contains(&swept_at[0]),
        "swept at second {}, not 60 s of the injected clock after car 2's last samples",
        swept_at[0]
    );
}
