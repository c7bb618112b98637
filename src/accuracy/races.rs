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

/// What race control said in a race, read back from its lines.
#[derive(Debug, Default)]
pub(crate) struct RaceEvents {
    /// `(car, ts)` of every `pit_in` and of every `pit_out`, in line order.
    pub pit_in: Vec<(String, i64)>,
    pub pit_out: Vec<(String, i64)>,
    /// `(ts, flag)` of every `flag` event, in line order.
    pub flags: Vec<(i64, String)>,
    /// Cars taken out by race control (`car_out`): they did not finish.
    pub out: Vec<String>,
    /// The cell's capacity (`race_start.fuel_capacity_gal`), 0 without one.
    pub capacity_gal: f64,
}

impl RaceEvents {
    /// Reads the events of a simulated race (its event lines begin `{"v":1,"kind":`,
    /// its samples do not, so only the events are parsed).
    pub fn parse(race: &[u8]) -> RaceEvents {
        #[derive(Deserialize)]
        struct Ev<'a> {
            kind: &'a str,
            ts: i64,
            car: Option<String>,
            flag: Option<String>,
            fuel_capacity_gal: Option<f64>,
        }
        let mut e = RaceEvents::default();
        let events = race
            .split(|&b| b == b'\n')
            .filter(|l| l.starts_with(b"{\"v\":1,\"kind\":"))
            .filter_map(|l| serde_json::from_slice::<Ev>(l).ok());
        for ev in events {
            match (ev.kind, ev.car) {
                ("pit_in", Some(car)) => e.pit_in.push((car, ev.ts)),
                ("pit_out", Some(car)) => e.pit_out.push((car, ev.ts)),
                ("car_out", Some(car)) => e.out.push(car),
                ("flag", _) => e.flags.extend(ev.flag.map(|f| (ev.ts, f))),
                ("race_start", _) => e.capacity_gal = ev.fuel_capacity_gal.unwrap_or(0.0),
                _ => {}
            }
        }
        e
    }

    /// `car`'s times of `pit_in` or of `pit_out` (`stops` is one of the two lists).
    pub fn of<'a>(stops: &'a [(String, i64)], car: &'a str) -> impl Iterator<Item = i64> + 'a {
        stops
            .iter()
            .filter(move |(c, _)| c == car)
            .map(|(_, ts)| *ts)
    }

    /// Whether the race's last run was green to the end: no caution after its last
    /// green flag (the race did not finish under caution).
    pub fn last_run_green(&self) -> bool {
        self.flags
            .iter()
            .rev()
            .map(|(_, f)| f.as_str())
            .find(|f| !matches!(*f, "checkered" | "white"))
            .is_none_or(|f| f == "green")
    }
}
