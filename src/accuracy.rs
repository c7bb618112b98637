//! `burnbar accuracy`: how true the numbers are, against the simulator's ground truth.
//!
//! One command, deterministic for its arguments:
//!
//! 1. simulate **training** races (weighed fills) on every track of `--tracks`;
//! 2. `calibrate` the physics on them, then `train` the correction on the calibrated
//!    physics (the same code as the two commands);
//! 3. simulate **held-out** races on other seeds, **live** (no weighed fills: splashes
//!    are sized from standing time, as on air), and replay each with the embedded
//!    defaults, the calibration, and the calibration plus the correction;
//! 4. compare with the truth and print one table.
//!
//! # What is measured
//!
//! - **Stint fuel**: per truth stint of at least 3 gal (a fill to the next `pit_out`, or
//!   to the finish), the sum of the car's published `burn_gal` over the same span (the
//!   windows at the ends pro rata by time) against the fuel it burned; relative error.
//! - **Remaining at pit entry**: for every `pit_in`, the `remaining_gal` of the car's
//!   window holding it against the truth at that window's end; gallons.
//! - **Laps to empty**: for every car that ran dry, at its first window 10 laps before
//!   it did, `laps_to_empty` against the laps it really had left.
//! - **Band coverage**: over every published window, whether the true fuel at the
//!   window's end lies within `[remaining_low_gal, remaining_high_gal]`.
//! - **Run-dry calls**: a car that ran dry is called when an update of its last stint
//!   says `save_needed_pct` ≥ 10 (`fuel-update-v1`'s "can't make it") at least 5 laps
//!   before it ran dry. A **false call** is a car called in the last 20 laps that
//!   finished without a stop in them and without running dry. The table also says how
//!   many of those cars finished laps down, and what both judgements would be with laps
//!   left counted from the leader's lap rather than the car's own (`fuel-update-v1`
//!   counts a lapped car's laps left from its own lap, so laps it will never run count
//!   against its fuel). The proposal rows re-derive `save_needed_pct` from the published
//!   `laps_to_empty`; what the updates say is unchanged. And it says how many false
//!   calls the true fuel makes too: the contract's formula with the simulator's fuel in
//!   place of the estimate also says ≥ 10 % at a window the car was called at (the
//!   driver then saved more than the 10 % the contract takes as more than one finds).
//! - **The floor**: both judgements once more, made by the contract's formula on the
//!   simulator's own fuel, lap and fuel per green lap (the mean true burn of the car's
//!   last three green laps) instead of the estimate's: what a perfect fuel estimate
//!   would be charged with, with laps left from the car's own lap and from the
//!   leader's. An estimate can only call fewer cars falsely than the truth does by
//!   erring on the side of more fuel, which costs calls of cars that do run dry; so
//!   these rows say what the contract's definitions charge a perfect estimate with.
//!
//! Races are simulated twice (once per pass that needs them) rather than kept: a full
//! 40-car race is about half a gigabyte of NDJSON, and the simulator is deterministic.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use burnbar_core::calibrate::{self, StintObs};
use burnbar_core::correction::{self, CorrectionModel, TrainingStint};
use burnbar_core::{Engine, EngineConfig, FuelUpdate, ModelParams};
use burnbar_sim::SimConfig;
use clap::Args;
use serde::Deserialize;

use crate::Failure;

#[derive(Args, Debug)]
pub struct AccuracyArgs {
    /// Tracks to simulate, comma-separated (at least two of different engine packages
    /// make the report mean something for both).
    #[arg(long, value_delimiter = ',', default_value = "pocono,talladega")]
    tracks: Vec<String>,
    /// Training races per track (weighed fills).
    #[arg(long, default_value_t = 4)]
    train_races: u32,
    /// Held-out races per track (live feed).
    #[arg(long, default_value_t = 5)]
    test_races: u32,
    /// Cars per race.
    #[arg(long, default_value_t = 40)]
    cars: u32,
    /// Race length in laps [default: each track's usual distance].
    #[arg(long)]
    laps: Option<u32>,
    /// First seed: training races use seed, seed+1, …; held-out races seed+1000, ….
    #[arg(long, default_value_t = 7000)]
    seed: u64,
    /// Worker threads [default: the machine's cores].
    #[arg(long)]
    jobs: Option<usize>,
    /// Also write the fitted calibration here.
    #[arg(long)]
    calibration_out: Option<PathBuf>,
    /// Also write the trained correction here.
    #[arg(long)]
    correction_out: Option<PathBuf>,
    /// Also write the figures as JSON here (one object per variant).
    #[arg(long)]
    json: Option<PathBuf>,
}

/// One race to simulate.
#[derive(Debug, Clone)]
struct RaceSpec {
    track: String,
    seed: u64,
    live: bool,
    laps: Option<u32>,
    cars: u32,
}

impl RaceSpec {
    fn config(&self) -> SimConfig {
        SimConfig {
            track: self.track.clone(),
            laps: self.laps,
            cars: self.cars,
            seed: self.seed,
            live: self.live,
            ..SimConfig::default()
        }
    }
}

pub fn run(a: AccuracyArgs) -> Result<(), Failure> {
    if a.tracks.is_empty() || a.train_races == 0 || a.test_races == 0 {
        return Err(Failure::usage(
            "--tracks, --train-races and --test-races must each name at least one",
        ));
    }
    for t in &a.tracks {
        if burnbar_core::tracks::lookup(t).is_none() {
            return Err(Failure::usage(format!("unknown track `{t}`")));
        }
    }
    let jobs = a
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let spec = |track: &str, seed: u64, live: bool| RaceSpec {
        track: track.to_owned(),
        seed,
        live,
        laps: a.laps,
        cars: a.cars,
    };
    let train: Vec<RaceSpec> = a
        .tracks
        .iter()
        .enumerate()
        .flat_map(|(ti, t)| {
            (0..a.train_races).map(move |i| (t, a.seed + (ti as u64) * 100 + i as u64))
        })
        .map(|(t, s)| spec(t, s, false))
        .collect();
    let test: Vec<RaceSpec> = a
        .tracks
        .iter()
        .enumerate()
        .flat_map(|(ti, t)| {
            (0..a.test_races).map(move |i| (t, a.seed + 1000 + (ti as u64) * 100 + i as u64))
        })
        .map(|(t, s)| spec(t, s, true))
        .collect();
    let started = std::time::Instant::now();

    // 1. Calibrate on the training races.
    let base = ModelParams::default();
    eprintln!(
        "burnbar accuracy: calibrating on {} training races ({} jobs)",
        train.len(),
        jobs
    );
    let stints: Vec<StintObs> = parallel(&train, jobs, |r| {
        let race = simulate(r, false)?.0;
        let mut engine = Engine::new(EngineConfig::default(), base.clone());
        engine.record_stints();
        push_all(&mut engine, &race);
        Ok(engine.take_stints())
    })?
    .into_iter()
    .flatten()
    .collect();
    let fit = calibrate::fit(&stints, &base, a.tracks.len() == 1)
        .map_err(|e| Failure::other(e.to_string()))?;
    let params = fit.params.clone();

    // 2. Train the correction on the calibrated physics.
    eprintln!("burnbar accuracy: training the correction");
    let training: Vec<TrainingStint> = parallel(&train, jobs, |r| {
        let race = simulate(r, false)?.0;
        let cfg = EngineConfig::default();
        let mut engine = Engine::new(cfg, params.clone());
        engine.record_stints();
        engine.collect_features();
        push_all(&mut engine, &race);
        let obs = engine.take_stints();
        Ok(correction::training_stints(
            &obs,
            &engine.take_features(),
            cfg.window_ms,
        ))
    })?
    .into_iter()
    .flatten()
    .collect();
    let model = correction::train(&training).map_err(|e| Failure::other(e.to_string()))?;

    // 3. Replay the held-out live races three ways.
    eprintln!(
        "burnbar accuracy: replaying {} held-out live races",
        test.len()
    );
    let variants: [(&str, &ModelParams, Option<&CorrectionModel>); 3] = [
        ("defaults", &base, None),
        ("calibrated", &params, None),
        ("calibrated + correction", &params, Some(&model)),
    ];
    let per_race: Vec<Vec<Metrics>> = parallel(&test, jobs, |r| {
        let (race, truth, summary) = simulate(r, true)?;
        let truth = Truth::parse(&truth);
        let pits = pit_entries(&race);
        Ok(variants
            .iter()
            .map(|(_, p, m)| {
                let mut engine = Engine::new(EngineConfig::default(), (*p).clone());
                if let Some(m) = m {
                    engine.set_correction((*m).clone());
                }
                let updates = push_all(&mut engine, &race);
                let mut m = measure(&truth, &updates, &pits, summary.laps);
                for n in &mut m.notes {
                    *n = format!("{} seed {}: {n}", r.track, r.seed);
                }
                m
            })
            .collect())
    })?;
    let mut totals: Vec<Metrics> = (0..variants.len()).map(|_| Metrics::default()).collect();
    for race in per_race {
        for (t, m) in totals.iter_mut().zip(race) {
            t.absorb(m);
        }
    }

    for n in &totals[1].notes {
        eprintln!("  calibrated: {n}");
    }

    // 4. The table.
    let mut out = std::io::stdout().lock();
    let w = |e: std::io::Error| Failure::other(format!("writing the report failed: {e}"));
    let stint_count = stints.iter().filter(|s| s.measured_gal.is_some()).count();
    writeln!(
        out,
        "training: {} races ({} measured stints; calibration: {}); correction cross-validated median |error| {:.2}% (physics {:.2}%)",
        train.len(),
        stint_count,
        fit.used
            .iter()
            .map(|(p, n)| format!("{} {} stints", p.key(), n))
            .collect::<Vec<_>>()
            .join(", "),
        100.0 * model.cv_median_corrected,
        100.0 * model.cv_median_physics,
    )
    .map_err(w)?;
    writeln!(
        out,
        "held out: {} live races on {} ({} cars, seeds from {})",
        test.len(),
        a.tracks.join(", "),
        a.cars,
        a.seed + 1000
    )
    .map_err(w)?;
    writeln!(out).map_err(w)?;
    write_table(&mut out, &variants.map(|v| v.0), &mut totals, test.len()).map_err(w)?;
    let (phys, corr) = (&totals[1], &totals[2]);
    let beats =
        corr.stint_median() < phys.stint_median() * 0.97 && corr.pit_median() <= phys.pit_median();
    let verdict = if beats {
        "the correction beats the calibrated physics on held-out races"
    } else {
        "the correction does not measurably beat the calibrated physics on held-out races: physics alone stays the default"
    };
    writeln!(out, "\n{verdict}").map_err(w)?;
    writeln!(out, "({:.0} s)", started.elapsed().as_secs_f64()).map_err(w)?;
    if let Some(p) = &a.json {
        let figures: Vec<serde_json::Value> = variants
            .iter()
            .zip(&totals)
            .map(|((name, _, _), m)| m.to_json(name, test.len()))
            .collect();
        let doc = serde_json::json!({
            "races": test.len(),
            "variants": figures,
            "correction_beats_physics": beats,
        });
        crate::write_json(p, &doc)?;
    }
    if let Some(p) = &a.calibration_out {
        crate::write_json(p, &params)?;
    }
    if let Some(p) = &a.correction_out {
        crate::write_json(p, &model)?;
    }
    Ok(())
}

/// Runs `f` on every item with `jobs` threads; results in the items' order.
fn parallel<T: Sync, R: Send>(
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
fn simulate(
    r: &RaceSpec,
    truth: bool,
) -> Result<(Vec<u8>, Vec<u8>, burnbar_sim::SimSummary), Failure> {
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
fn push_all(engine: &mut Engine, race: &[u8]) -> Vec<FuelUpdate> {
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
fn pit_entries(race: &[u8]) -> Vec<(String, i64)> {
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

#[derive(Debug, Clone, Copy, Deserialize)]
struct TruthWindow {
    ts: i64,
    burned_gal: f64,
    remaining_gal: f64,
    lap: f64,
}

#[derive(Debug, Clone, Copy, Deserialize)]
struct TruthStint {
    stint_start: i64,
    stint_end: i64,
    burned_gal: f64,
}

/// The simulator's truth, by car.
#[derive(Debug, Default)]
struct Truth {
    windows: HashMap<String, Vec<TruthWindow>>,
    stints: HashMap<String, Vec<TruthStint>>,
}

impl Truth {
    fn parse(bytes: &[u8]) -> Truth {
        #[derive(Deserialize)]
        struct Line {
            car: String,
            #[serde(flatten)]
            rest: serde_json::Value,
        }
        let mut t = Truth::default();
        for l in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let Ok(line) = serde_json::from_slice::<Line>(l) else {
                continue;
            };
            if line.rest.get("stint_start").is_some() {
                if let Ok(s) = serde_json::from_value(line.rest) {
                    t.stints.entry(line.car).or_default().push(s);
                }
            } else if let Ok(w) = serde_json::from_value(line.rest) {
                t.windows.entry(line.car).or_default().push(w);
            }
        }
        for v in t.windows.values_mut() {
            v.sort_by_key(|w| w.ts);
        }
        t
    }
}

/// The other ways the report makes the run-dry and false-call judgements, besides the
/// estimate's own `save_needed_pct`: (table label, target column, JSON key suffix).
/// 1. laps left counted from the leader's lap rather than the car's own (a proposed
///    contract change; what the updates say is unchanged);
/// 2. the contract's formula on the simulator's own fuel, lap and fuel per green lap
///    instead of the estimate's: what a perfect fuel estimate would be charged with,
///    the same for every variant;
/// 3. both at once.
const ALTERNATIVES: [(&str, &str, &str); 3] = [
    ("leader's laps left", "(proposal)", "leader_laps"),
    ("true fuel's own call", "(floor)", "true_fuel"),
    (
        "true fuel, leader's laps",
        "(floor)",
        "true_fuel_leader_laps",
    ),
];

/// One way of judging the calls: cars that ran dry called in time, and false calls.
#[derive(Debug, Default, Clone, Copy)]
struct Calls {
    dry_called: u32,
    false_calls: u32,
}

/// What one variant measured (over one race, then over all).
#[derive(Debug, Default)]
struct Metrics {
    stint_err: Vec<f64>,
    pit_err: Vec<f64>,
    lte_err: Vec<f64>,
    band_in: u64,
    band_n: u64,
    dry: u32,
    dry_called: u32,
    false_calls: u32,
    /// False calls of cars that finished laps down: `fuel-update-v1` counts their laps
    /// left from their own lap, so laps they never run count against their fuel.
    false_calls_lapped: u32,
    /// False calls that the true fuel makes too: the contract's formula on the
    /// simulator's fuel in place of the estimate also says ≥ 10 % (the driver then
    /// saved more than the 10 % the contract takes as more than a driver finds).
    false_calls_truth: u32,
    /// False calls of cars on the lead lap that the true fuel does not make: the
    /// estimate's own error.
    false_calls_estimate: u32,
    /// The two judgements made the other ways of [`ALTERNATIVES`], in its order.
    alt: [Calls; ALTERNATIVES.len()],
    /// One line per false call and per car that ran dry, for the curious.
    notes: Vec<String>,
}

impl Metrics {
    fn absorb(&mut self, o: Metrics) {
        self.stint_err.extend(o.stint_err);
        self.pit_err.extend(o.pit_err);
        self.lte_err.extend(o.lte_err);
        self.band_in += o.band_in;
        self.band_n += o.band_n;
        self.dry += o.dry;
        self.dry_called += o.dry_called;
        self.false_calls += o.false_calls;
        self.false_calls_lapped += o.false_calls_lapped;
        self.false_calls_truth += o.false_calls_truth;
        self.false_calls_estimate += o.false_calls_estimate;
        for (a, b) in self.alt.iter_mut().zip(o.alt) {
            a.dry_called += b.dry_called;
            a.false_calls += b.false_calls;
        }
        self.notes.extend(o.notes);
    }
    fn to_json(&self, name: &str, races: usize) -> serde_json::Value {
        // NaN (no sample) becomes null.
        let q = |v: &[f64], p: f64| serde_json::Number::from_f64(quantile(v, p));
        let mut doc = serde_json::json!({
            "name": name,
            "stints": self.stint_err.len(),
            "stint_error_median": q(&self.stint_err, 0.5),
            "stint_error_p90": q(&self.stint_err, 0.9),
            "pit_entries": self.pit_err.len(),
            "pit_entry_error_gal_median": q(&self.pit_err, 0.5),
            "pit_entry_error_gal_p90": q(&self.pit_err, 0.9),
            "laps_to_empty_error_median": q(&self.lte_err, 0.5),
            "laps_to_empty_error_p90": q(&self.lte_err, 0.9),
            "band_windows": self.band_n,
            "band_coverage": self.band_in as f64 / self.band_n.max(1) as f64,
            "ran_dry": self.dry,
            "ran_dry_called": self.dry_called,
            "false_calls": self.false_calls,
            "false_calls_lapped": self.false_calls_lapped,
            "false_calls_truth_too": self.false_calls_truth,
            "false_calls_estimate": self.false_calls_estimate,
            "races": races,
        });
        for ((_, _, key), c) in ALTERNATIVES.iter().zip(&self.alt) {
            doc[format!("ran_dry_called_{key}").as_str()] = c.dry_called.into();
            doc[format!("false_calls_{key}").as_str()] = c.false_calls.into();
        }
        doc
    }

    fn stint_median(&self) -> f64 {
        quantile(&self.stint_err, 0.5)
    }
    fn pit_median(&self) -> f64 {
        quantile(&self.pit_err, 0.5)
    }
}

fn quantile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// Compares one replay with the truth.
fn measure(truth: &Truth, updates: &[FuelUpdate], pits: &[(String, i64)], sched: u32) -> Metrics {
    let mut by_car: BTreeMap<&str, Vec<&FuelUpdate>> = BTreeMap::new();
    for u in updates {
        by_car.entry(u.car.as_str()).or_default().push(u);
    }
    for v in by_car.values_mut() {
        v.sort_by_key(|u| u.window_start);
    }
    // The leader's lap at each window end: the largest lap any car published for it.
    let mut leader: HashMap<i64, f64> = HashMap::new();
    for u in updates {
        let l = leader.entry(u.window_end).or_insert(u.lap);
        *l = l.max(u.lap);
    }
    let leader_lap = |ts: i64, own: f64| leader.get(&ts).map_or(own, |l| l.max(own));
    // "Can't make it" with laps left counted from the leader's lap.
    let called_leader = |u: &FuelUpdate| {
        calls_with(
            u,
            sched as f64 - leader_lap(u.window_end, u.lap),
            u.remaining_gal,
        )
    };
    let mut m = Metrics::default();
    let empty = Vec::new();
    for (car, stints) in &truth.stints {
        let ups = by_car.get(car.as_str()).unwrap_or(&empty);
        for s in stints.iter().filter(|s| s.burned_gal >= 3.0) {
            let est: f64 = ups
                .iter()
                .map(|u| {
                    let overlap =
                        (u.window_end.min(s.stint_end) - u.window_start.max(s.stint_start)).max(0);
                    u.burn_gal * overlap as f64 / (u.window_end - u.window_start) as f64
                })
                .sum();
            m.stint_err.push((est - s.burned_gal).abs() / s.burned_gal);
        }
    }
    let at = |car: &str, ts: i64| -> Option<&TruthWindow> {
        let w = truth.windows.get(car)?;
        let i = w.partition_point(|x| x.ts < ts);
        w.get(i).filter(|x| x.ts == ts)
    };
    for (car, ts) in pits {
        let Some(ups) = by_car.get(car.as_str()) else {
            continue;
        };
        let i = ups.partition_point(|u| u.window_end <= *ts);
        if let Some(u) = ups.get(i).filter(|u| u.window_start <= *ts)
            && let Some(t) = at(car, u.window_end)
        {
            m.pit_err.push((u.remaining_gal - t.remaining_gal).abs());
        }
    }
    for (car, ups) in &by_car {
        for u in ups {
            if let Some(t) = at(car, u.window_end) {
                m.band_n += 1;
                if u.remaining_low_gal - 1e-6 <= t.remaining_gal
                    && t.remaining_gal <= u.remaining_high_gal + 1e-6
                {
                    m.band_in += 1;
                }
            }
        }
        let tw = truth.windows.get(*car).map(Vec::as_slice).unwrap_or(&[]);
        let car_pits: Vec<i64> = pits
            .iter()
            .filter(|(c, _)| c == car)
            .map(|(_, ts)| *ts)
            .collect();
        let called = |u: &&&FuelUpdate| u.save_needed_pct.is_some_and(|s| s >= 10.0);
        // The contract's call on the simulator's own fuel, laps and fuel per green lap.
        let true_fpl = true_fuel_per_green_lap(tw, ups);
        // With `from_leader`, laps left are counted from the leader's lap instead.
        let called_true_with = |u: &FuelUpdate, from_leader: bool| {
            let (Some(t), Some(&fpl)) = (at(car, u.window_end), true_fpl.get(&u.window_end)) else {
                return false;
            };
            let lap = if from_leader {
                leader_lap(u.window_end, t.lap)
            } else {
                t.lap
            };
            let left = sched as f64 - lap;
            left > 0.0 && t.remaining_gal <= 0.9 * left * fpl
        };
        let called_true = |u: &FuelUpdate| called_true_with(u, false);
        let called_true_leader = |u: &FuelUpdate| called_true_with(u, true);
        let alternatives: [&dyn Fn(&FuelUpdate) -> bool; ALTERNATIVES.len()] =
            [&called_leader, &called_true, &called_true_leader];
        match tw.iter().find(|w| w.remaining_gal <= 0.0) {
            Some(dry) => {
                m.dry += 1;
                // The last stint: after the car's last pit entry before it ran dry.
                let from = car_pits
                    .iter()
                    .copied()
                    .filter(|&p| p < dry.ts)
                    .max()
                    .unwrap_or(i64::MIN);
                let last_stint = || {
                    ups.iter()
                        .filter(move |u| u.window_start > from && u.window_end <= dry.ts)
                };
                let in_time = |u: &&FuelUpdate| u.lap <= dry.lap - 5.0;
                let first_call = last_stint().find(called);
                m.dry_called += u32::from(first_call.is_some_and(in_time));
                for (calls, called) in m.alt.iter_mut().zip(alternatives) {
                    let in_time = last_stint().find(|u| called(u)).is_some_and(in_time);
                    calls.dry_called += u32::from(in_time);
                }
                m.notes.push(format!(
                    "car {car} ran dry on lap {:.1}; first called on lap {}",
                    dry.lap,
                    first_call.map_or("-".to_owned(), |u| format!(
                        "{:.1} (save {:.1}%)",
                        u.lap,
                        u.save_needed_pct.unwrap_or(0.0)
                    ))
                ));
                if let Some(w) = tw.iter().find(|w| w.lap >= dry.lap - 10.0 && w.ts < dry.ts)
                    && let Some(u) = ups.iter().find(|u| u.window_end == w.ts)
                    && let Some(lte) = u.laps_to_empty
                {
                    m.lte_err.push((lte - (dry.lap - w.lap)).abs());
                }
            }
            None => {
                let last20 = sched as f64 - 20.0;
                let late: Vec<&FuelUpdate> =
                    ups.iter().copied().filter(|u| u.lap >= last20).collect();
                let finished = tw.last().is_some_and(|w| w.lap >= sched as f64 - 1.0);
                let stopped = late.iter().any(|u| u.in_pit);
                let lapped = tw.last().is_some_and(|w| w.lap < sched as f64 - 0.5);
                if finished && !stopped {
                    for (calls, called) in m.alt.iter_mut().zip(alternatives) {
                        calls.false_calls += u32::from(late.iter().any(|u| called(u)));
                    }
                }
                let first_call = late.iter().find(|u| called(u));
                if finished && !stopped && first_call.is_some() {
                    m.false_calls += 1;
                    m.false_calls_lapped += u32::from(lapped);
                    // The same formula on the true fuel, with the update's own laps left.
                    let truth_too = late.iter().any(|u| {
                        called(&u)
                            && at(car, u.window_end).is_some_and(|t| {
                                calls_with(u, sched as f64 - u.lap, t.remaining_gal)
                            })
                    });
                    m.false_calls_truth += u32::from(truth_too);
                    m.false_calls_estimate += u32::from(!truth_too && !lapped);
                    if let Some(u) = first_call {
                        let t = at(car, u.window_end);
                        m.notes.push(format!(
                            "false call: car {car} on lap {:.1}, save {:.1}%, remaining {:.2} gal (truth {}), laps_to_empty {}; finished lap {:.1} with {:.2} gal{}{}",
                            u.lap,
                            u.save_needed_pct.unwrap_or(0.0),
                            u.remaining_gal,
                            t.map_or("-".to_owned(), |t| format!("{:.2}", t.remaining_gal)),
                            u.laps_to_empty.map_or("-".to_owned(), |l| format!("{l:.1}")),
                            tw.last().map_or(0.0, |w| w.lap),
                            tw.last().map_or(0.0, |w| w.remaining_gal),
                            if lapped { "; laps down" } else { "" },
                            if truth_too { "; the true fuel calls too" } else { "" },
                        ));
                    }
                }
            }
        }
    }
    m
}

/// The simulator's own fuel per green lap at each of the car's window ends: the mean
/// true burn of its last three green laps (`fuel-update-v1`'s definition), a lap being
/// green when every window it spans is green or white and off pit road by the car's
/// updates. Lap ends are placed within their window by the true lap, pro rata.
///
/// Two small departures from the engine's own green laps: a window's flag is the one
/// in force for most of it, so a caution shorter than half a window does not spoil a
/// lap, and the first lap never counts (no line before it). Both matter little to the
/// judgements of the last 20 laps, which read the last three green laps.
fn true_fuel_per_green_lap(tw: &[TruthWindow], ups: &[&FuelUpdate]) -> HashMap<i64, f64> {
    // The simulator writes no truth line for a window the car sent nothing in, and
    // its burn is lost with it: a lap with a gap is not measured.
    let window_ms = ups.first().map_or(0, |u| u.window_end - u.window_start);
    let clean: HashMap<i64, bool> = ups
        .iter()
        .map(|u| (u.window_end, !u.flag.is_caution() && !u.in_pit))
        .collect();
    let mut out = HashMap::new();
    let mut green_laps: Vec<f64> = Vec::new();
    // Burn so far, and at the last line crossing (None before the first).
    let mut burned = 0.0;
    let mut at_line: Option<f64> = None;
    let mut lap_clean = true;
    let mut prev: Option<&TruthWindow> = None;
    for w in tw {
        let before = burned;
        burned += w.burned_gal;
        let this_clean = clean.get(&w.ts).copied().unwrap_or(false)
            && prev.is_none_or(|p| w.ts - p.ts == window_ms);
        lap_clean &= this_clean;
        if let Some(p) = prev
            && w.lap.floor() > p.lap.floor()
            && w.lap > p.lap
        {
            let share = (w.lap.floor() - p.lap) / (w.lap - p.lap);
            let line = before + share * w.burned_gal;
            if let Some(start) = at_line
                && lap_clean
            {
                green_laps.push(line - start);
            }
            at_line = Some(line);
            lap_clean = this_clean;
        }
        let n = green_laps.len().min(3);
        if n > 0 {
            out.insert(
                w.ts,
                green_laps[green_laps.len() - n..].iter().sum::<f64>() / n as f64,
            );
        }
        prev = Some(w);
    }
    out
}

/// `fuel-update-v1`'s "can't make it" (`save_needed_pct` ≥ 10) recomputed for `left`
/// laps and `fuel` gallons, the update's fuel per green lap recovered from its
/// `laps_to_empty`.
fn calls_with(u: &FuelUpdate, left: f64, fuel: f64) -> bool {
    if u.save_needed_pct.is_none() || left <= 0.0 {
        return false;
    }
    match u.laps_to_empty {
        Some(lte) if lte > 0.0 => 100.0 * (1.0 - fuel * lte / (u.remaining_gal * left)) >= 10.0,
        // No fuel per lap to recover (the estimate is empty): any fuel short is a call.
        _ => fuel <= 0.0,
    }
}

fn write_table(
    out: &mut impl Write,
    names: &[&str],
    totals: &mut [Metrics],
    races: usize,
) -> std::io::Result<()> {
    let pct = |v: f64| format!("{:.2}%", 100.0 * v);
    let gal = |v: f64| format!("{v:.2} gal");
    let laps = |v: f64| format!("{v:.2} laps");
    let per_10 = move |n: u32| format!("{:.1} ({n} in {races})", 10.0 * n as f64 / races as f64);
    let alt_labels: Vec<(String, String)> = ALTERNATIVES
        .iter()
        .map(|(label, _, _)| {
            (
                format!("{label}: cars run dry, called"),
                format!("{label}: false calls per 10"),
            )
        })
        .collect();
    type Row<'a> = (&'a str, &'a str, Box<dyn Fn(&Metrics) -> String + 'a>);
    let mut rows: Vec<Row> = vec![
        (
            "stint fuel |error| median",
            "<= 2%",
            Box::new(move |m| pct(quantile(&m.stint_err, 0.5))),
        ),
        (
            "stint fuel |error| p90",
            "<= 5%",
            Box::new(move |m| pct(quantile(&m.stint_err, 0.9))),
        ),
        (
            "remaining at pit entry |error| median",
            "<= 0.4 gal",
            Box::new(move |m| gal(quantile(&m.pit_err, 0.5))),
        ),
        (
            "remaining at pit entry |error| p90",
            "",
            Box::new(move |m| gal(quantile(&m.pit_err, 0.9))),
        ),
        (
            "laps_to_empty 10 laps before dry, median",
            "",
            Box::new(move |m| laps(quantile(&m.lte_err, 0.5))),
        ),
        (
            "laps_to_empty 10 laps before dry, p90",
            "",
            Box::new(move |m| laps(quantile(&m.lte_err, 0.9))),
        ),
        (
            "90% band coverage",
            "85-95%",
            Box::new(move |m| pct(m.band_in as f64 / m.band_n.max(1) as f64)),
        ),
        (
            "cars run dry, called >= 5 laps before",
            ">= 90%",
            Box::new(move |m| {
                format!(
                    "{}/{} ({})",
                    m.dry_called,
                    m.dry,
                    if m.dry > 0 {
                        pct(m.dry_called as f64 / m.dry as f64)
                    } else {
                        "-".into()
                    }
                )
            }),
        ),
        (
            "false calls per 10 races",
            "<= 1",
            Box::new(move |m| per_10(m.false_calls)),
        ),
        (
            "  of which cars that finished laps down",
            "",
            Box::new(move |m| format!("{}", m.false_calls_lapped)),
        ),
        (
            "  of which the true fuel calls too",
            "",
            Box::new(move |m| format!("{}", m.false_calls_truth)),
        ),
        (
            "  of which neither (the estimate's error)",
            "",
            Box::new(move |m| format!("{}", m.false_calls_estimate)),
        ),
        (
            "samples: stints / pit entries / dry cars",
            "",
            Box::new(move |m| format!("{} / {} / {}", m.stint_err.len(), m.pit_err.len(), m.dry)),
        ),
    ];
    // The other judgements of the calls go before the samples row.
    let samples = rows.pop();
    for (i, ((_, target, _), (dry, false_calls))) in
        ALTERNATIVES.iter().zip(&alt_labels).enumerate()
    {
        let dry_row = move |m: &Metrics| format!("{}/{}", m.alt[i].dry_called, m.dry);
        rows.push((dry, target, Box::new(dry_row)));
        rows.push((
            false_calls,
            target,
            Box::new(move |m| per_10(m.alt[i].false_calls)),
        ));
    }
    rows.extend(samples);
    let widths: Vec<usize> = names.iter().map(|n| n.len().max(18)).collect();
    let lw = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    write!(out, "| {:<lw$} |", "held-out live races")?;
    for (n, w) in names.iter().zip(&widths) {
        write!(out, " {n:<w$} |")?;
    }
    writeln!(out, " target     |")?;
    write!(out, "|{}|", "-".repeat(lw + 2))?;
    for w in &widths {
        write!(out, "{}|", "-".repeat(w + 2))?;
    }
    writeln!(out, "------------|")?;
    for (label, target, f) in &rows {
        write!(out, "| {label:<lw$} |")?;
        for (m, w) in totals.iter().zip(&widths) {
            write!(out, " {:<w$} |", f(m))?;
        }
        writeln!(out, " {target:<10} |")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(window_end: i64, flag: &str, in_pit: bool) -> FuelUpdate {
        serde_json::from_value(serde_json::json!({
            "v": 1, "race_id": "r", "car": "9", "seq": window_end / 5000 - 1,
            "window_start": window_end - 5000, "window_end": window_end,
            "lap": 0.0, "flag": flag, "in_pit": in_pit, "samples": 50, "miles": 0.2,
            "burn_gal": 0.1, "burn_rate_gph": 72.0, "mpg_window": null, "mpg_lap": null,
            "mpg_stint": null, "used_stint_gal": 0.1, "used_race_gal": 0.1,
            "remaining_gal": 19.9, "remaining_low_gal": 19.8, "remaining_high_gal": 20.0,
            "laps_to_empty": null, "save_needed_pct": null, "burn_index": null,
            "mode": "normal", "model": "physics"
        }))
        .expect("a valid update")
    }

    /// `laps` laps of 10 windows each, the line crossed 40 % into a window, plus one
    /// window past the last line. Lap k burns `0.5 + 0.1 k` at an even rate: with a
    /// burn rising evenly from lap to lap, placing each line pro rata within its window
    /// gives every lap's burn exactly (what one lap gains at a line, the next loses
    /// at the other), while a line placed at a window's edge would be 0.6 % off. The
    /// car's update for a window carries the flag of the lap the window ends in.
    fn race(laps: usize, flags: &[&str]) -> (Vec<TruthWindow>, Vec<FuelUpdate>) {
        let lap_at = |i: usize| if i == 0 { 0.0 } else { (i as f64 - 0.4) / 10.0 };
        let rate = |l: f64| 0.5 + 0.1 * l.floor();
        let (mut tw, mut ups) = (Vec::new(), Vec::new());
        let mut remaining = 20.0;
        for i in 1..=laps * 10 + 1 {
            let (a, b) = (lap_at(i - 1), lap_at(i));
            // The burn between laps a and b, split at the line between them if any.
            let line = b.floor().max(a);
            let burned = rate(a) * (line - a) + rate(b) * (b - line);
            remaining -= burned;
            let ts = 5000 * i as i64;
            tw.push(TruthWindow {
                ts,
                burned_gal: burned,
                remaining_gal: remaining,
                lap: b,
            });
            let k = (b.floor() as usize).min(flags.len() - 1);
            ups.push(update(ts, flags[k], false));
        }
        (tw, ups)
    }

    #[track_caller]
    fn exactly(fpl: &HashMap<i64, f64>, ts: i64, want: f64) {
        let got = fpl.get(&ts).copied();
        assert!(
            got.is_some_and(|g| (g - want).abs() < 1e-9),
            "at {ts}: {got:?}, want {want}"
        );
    }

    #[test]
    fn true_fuel_per_green_lap_is_the_mean_of_the_last_three_green_laps() {
        // Lap 3 is under caution.
        let flags = [
            "green", "green", "green", "yellow", "green", "green", "green",
        ];
        let (tw, ups) = race(7, &flags);
        let refs: Vec<&FuelUpdate> = ups.iter().collect();
        let fpl = true_fuel_per_green_lap(&tw, &refs);
        // Lap 0 has no line before it: no figure until lap 1 is done.
        assert!(!fpl.contains_key(&tw[5].ts));
        assert!(!fpl.contains_key(&tw[15].ts));
        exactly(&fpl, tw[25].ts, 0.6);
        // Lap 2 shares a window with the caution lap, so after it only lap 1 counts.
        exactly(&fpl, tw[45].ts, 0.6);
        // Laps 1 and 4, then the last three green laps: 4, 5 and 6.
        exactly(&fpl, tw[55].ts, 0.75);
        exactly(&fpl, tw.last().unwrap().ts, 1.0);
    }

    #[test]
    fn a_lap_on_pit_road_or_with_a_gap_is_not_a_green_lap() {
        let (tw, ups) = race(6, &["green"; 6]);
        let fpl_with = |ups: &[&FuelUpdate], tw: &[TruthWindow]| true_fuel_per_green_lap(tw, ups);
        let (after_lap2, after_lap3, after_lap4) = (tw[31].ts, tw[45].ts, tw[55].ts);

        // Lap 2 passes pit road at its middle: after it, lap 1 alone; after lap 3, laps
        // 1 and 3.
        let mut pit = ups.clone();
        pit[25].in_pit = true;
        let refs: Vec<&FuelUpdate> = pit.iter().collect();
        let fpl = fpl_with(&refs, &tw);
        exactly(&fpl, after_lap2, 0.6);
        exactly(&fpl, after_lap3, 0.7);

        // On pit road in the window that holds line 3 only: both laps 2 and 3 touch it.
        let mut pit = ups.clone();
        pit[30].in_pit = true;
        let refs: Vec<&FuelUpdate> = pit.iter().collect();
        exactly(&fpl_with(&refs, &tw), after_lap4, 0.75);

        // A window of lap 3 with no update (the car sent no samples) leaves lap 3 out,
        // and so does a window missing from the truth (its burn is lost with it).
        // After lap 4: laps 1, 2 and 4.
        let without_lap3 = (0.6 + 0.7 + 0.9) / 3.0;
        let refs: Vec<&FuelUpdate> = ups.iter().filter(|u| u.window_end != tw[35].ts).collect();
        exactly(&fpl_with(&refs, &tw), after_lap4, without_lap3);
        let mut gap = tw.clone();
        gap.remove(35);
        let refs: Vec<&FuelUpdate> = ups.iter().collect();
        exactly(&fpl_with(&refs, &gap), after_lap4, without_lap3);
        // Without any of these, laps 1 to 3 then 2 to 4.
        exactly(&fpl_with(&refs, &tw), after_lap3, 0.7);
        exactly(&fpl_with(&refs, &tw), after_lap4, 0.8);
    }
}
