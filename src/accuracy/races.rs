//! The races the report runs: simulated in memory, on several threads, and replayed
//! through an engine.

use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use burnbar_core::{Engine, FuelUpdate};
use burnbar_sim::{SimConfig, SimSummary};
use serde::Deserialize;

use crate::Failure;

/// One race to simulate.
#[derive(Debug, Clone)]
pub(crate) struct RaceSpec {
    pub track: String,
    pub seed: u64,
    pub live: bool,
    /// `pit_out` carries the official pit data (`tires`, `box_s`).
    pub pit_detail: bool,
    pub laps: Option<u32>,
    pub cars: u32,
}

impl RaceSpec {
    fn config(&self) -> SimConfig {
        SimConfig {
            track: self.track.clone(),
            laps: self.laps,
            cars: self.cars,
            seed: self.seed,
            live: self.live,
            pit_detail: self.pit_detail,
            ..SimConfig::default()
        }
    }
}

/// Runs `f` on every item with `jobs` threads; results in the items' order.
pub(crate) fn parallel<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    f: impl Fn(&T) -> Result<R, Failure> + Sync,
) -> Result<Vec<R>, Failure> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<R, Failure>>>> =
        Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..jobs.min(items.len()) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= items.len() {
                        break;
                    }
                    let r = f(&items[i]);
                    results.lock().expect("no worker panics holding it")[i] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .expect("no worker panicked")
        .into_iter()
        .map(|r| r.expect("every item ran"))
        .collect()
}

/// The race's lines, its truth, and the summary.
pub(crate) fn simulate(
    r: &RaceSpec,
    truth: bool,
) -> Result<(Vec<u8>, Vec<u8>, SimSummary), Failure> {
    let mut race = Vec::new();
    let mut t = Vec::new();
    let summary = burnbar_sim::simulate(
        &r.config(),
        &mut race,
        truth.then_some(&mut t as &mut dyn Write),
    )
    .map_err(|e| Failure::other(format!("simulating {} seed {}: {e}", r.track, r.seed)))?;
    Ok((race, t, summary))
}

/// Every line through the engine; the updates it published.
pub(crate) fn push_all(engine: &mut Engine, race: &[u8]) -> Vec<FuelUpdate> {
    let mut updates = Vec::new();
    for line in race.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        // Simulated lines without faults are valid; a rejection would show in the
        // figures, not stop the report.
        let _ = engine.push_line(line, &mut updates);
    }
    engine.finish(&mut updates);
    updates
}

/// `(car, ts)` of every `pit_in`.
pub(crate) fn pit_entries(race: &[u8]) -> Vec<(String, i64)> {
    #[derive(Deserialize)]
    struct Ev<'a> {
        kind: &'a str,
        car: Option<String>,
        ts: i64,
    }
    race.split(|&b| b == b'\n')
        .filter(|l| l.windows(8).any(|w| w == b"\"pit_in\""))
        .filter_map(|l| serde_json::from_slice::<Ev>(l).ok())
        .filter(|e| e.kind == "pit_in")
        .filter_map(|e| Some((e.car?, e.ts)))
        .collect()
}
