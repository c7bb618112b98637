//! The accuracy report (issue 4): simulate training races with weighed fills and
//! held-out live races (other seeds; a 670 hp and a 510 hp track), calibrate on the
//! former, replay the latter, and compare every published figure with the simulator's
//! ground truth.
//!
//! Run: `cargo run --release --example accuracy` (`RACES=N` held-out races per track,
//! default 5; `LAPS=N`, default 120; `CARS=N`, default 20).
//!
//! Printed, for the calibrated physics model (the learned correction does not exist yet):
//! - fuel used per stint: |error| median and p90;
//! - `remaining_gal` at each pit entry: |error| median and p90, gallons;
//! - `laps_to_empty` ten green laps before a car runs dry: |error| median, laps;
//! - coverage of the 90 % band over every published window;
//! - cars that ran dry called ("can't make it": `save_needed_pct` ≥ 10) at least 5 laps
//!   before, and false calls: cars called in the last 20 laps that finished without a
//!   stop and without running dry.

use std::collections::{BTreeMap, HashMap};

use burnbar_core::calibrate::fit;
use burnbar_core::{Engine, EngineConfig, FuelUpdate, ModelParams};
use burnbar_sim::SimConfig;
use serde_json::Value;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Race {
    lines: Vec<u8>,
    truth: Vec<Value>,
}

fn simulate(track: &str, seed: u64, live: bool, laps: u32, cars: u32) -> Race {
    let cfg = SimConfig {
        track: track.into(),
        laps: Some(laps),
        cars,
        seed,
        live,
        ..SimConfig::default()
    };
    let (mut lines, mut truth) = (Vec::new(), Vec::new());
    burnbar_sim::simulate(&cfg, &mut lines, Some(&mut truth)).expect("simulate");
    let truth = std::str::from_utf8(&truth)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("truth json"))
        .collect();
    Race { lines, truth }
}

fn lines(r: &Race) -> impl Iterator<Item = &[u8]> {
    r.lines.split(|&b| b == b'\n').filter(|l| !l.is_empty())
}

fn replay(r: &Race, params: &ModelParams) -> Vec<FuelUpdate> {
    let mut engine = Engine::new(EngineConfig::default(), params.clone());
    let mut out = Vec::new();
    for l in lines(r) {
        let _ = engine.push_line(l, &mut out);
    }
    engine.finish(&mut out);
    out
}

fn quantile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

#[derive(Default)]
struct Scores {
    stint_err: Vec<f64>,
    pit_err: Vec<f64>,
    lte_err: Vec<f64>,
    covered: u64,
    windows: u64,
    dry: u64,
    dry_called: u64,
    false_calls: u64,
}

fn score(r: &Race, updates: &[FuelUpdate], laps: u32, s: &mut Scores) {
    let mut by_car: BTreeMap<&str, Vec<&FuelUpdate>> = BTreeMap::new();
    for u in updates {
        by_car.entry(u.car.as_str()).or_default().push(u);
    }
    // Truth per (car, window end).
    let mut truth_at: HashMap<(&str, i64), (f64, f64)> = HashMap::new();
    for t in &r.truth {
        if let (Some(car), Some(ts), Some(rem)) = (
            t["car"].as_str(),
            t["ts"].as_i64(),
            t["remaining_gal"].as_f64(),
        ) {
            truth_at.insert((car, ts), (rem, t["lap"].as_f64().unwrap_or(0.0)));
        }
    }
    // Stints.
    for t in r.truth.iter().filter(|t| t.get("stint_start").is_some()) {
        let burned = t["burned_gal"].as_f64().unwrap();
        if burned < 3.0 {
            continue;
        }
        let (start, end) = (
            t["stint_start"].as_i64().unwrap(),
            t["stint_end"].as_i64().unwrap(),
        );
        let est: f64 = by_car
            .get(t["car"].as_str().unwrap())
            .map(|us| {
                us.iter()
                    .map(|u| {
                        let ov = (u.window_end.min(end) - u.window_start.max(start)).max(0);
                        u.burn_gal * ov as f64 / (u.window_end - u.window_start) as f64
                    })
                    .sum()
            })
            .unwrap_or(0.0);
        s.stint_err.push(((est - burned) / burned).abs());
    }
    // Band coverage.
    for u in updates {
        if let Some(&(rem, _)) = truth_at.get(&(u.car.as_str(), u.window_end)) {
            s.windows += 1;
            if rem >= u.remaining_low_gal - 1e-4 && rem <= u.remaining_high_gal + 1e-4 {
                s.covered += 1;
            }
        }
    }
    // Remaining at pit entry: the window that holds the pit_in.
    let mut stops: HashMap<&str, u32> = HashMap::new();
    for l in lines(r) {
        let Ok(v) = serde_json::from_slice::<Value>(l) else {
            continue;
        };
        if v["kind"] != "pit_in" {
            continue;
        }
        let car = v["car"].as_str().unwrap().to_owned();
        let ts = v["ts"].as_i64().unwrap();
        let we = ts - ts.rem_euclid(5000) + 5000;
        *stops
            .entry(by_car.keys().find(|c| **c == car).copied().unwrap_or(""))
            .or_default() += 1;
        let Some(us) = by_car.get(car.as_str()) else {
            continue;
        };
        if let (Some(u), Some(&(rem, _))) = (
            us.iter().find(|u| u.window_end == we),
            truth_at.get(&(car.as_str(), we)),
        ) {
            s.pit_err.push((u.remaining_gal - rem).abs());
        }
    }
    // Running dry: the first window where the truth's cell is empty.
    for (car, us) in &by_car {
        let dry_at = us.iter().find_map(|u| {
            truth_at
                .get(&(*car, u.window_end))
                .filter(|(rem, _)| *rem <= 0.0)
                .map(|&(_, lap)| lap)
        });
        let last_lap = us.last().map_or(0.0, |u| u.lap);
        match dry_at {
            Some(dry_lap) => {
                s.dry += 1;
                if us
                    .iter()
                    .any(|u| u.lap <= dry_lap - 5.0 && u.save_needed_pct.is_some_and(|p| p >= 10.0))
                {
                    s.dry_called += 1;
                }
                if let Some(u) = us
                    .iter()
                    .rev()
                    .find(|u| u.lap <= dry_lap - 10.0 && u.flag.as_str() == "green")
                    && let Some(lte) = u.laps_to_empty
                {
                    s.lte_err.push((lte - (dry_lap - u.lap)).abs());
                }
            }
            None => {
                let called_late = us.iter().any(|u| {
                    u.lap >= laps as f64 - 20.0 && u.save_needed_pct.is_some_and(|p| p >= 10.0)
                });
                let stopped_late = us.iter().any(|u| u.lap >= laps as f64 - 20.0 && u.in_pit);
                if called_late && !stopped_late && last_lap >= laps as f64 - 0.5 {
                    s.false_calls += 1;
                }
            }
        }
    }
}

fn main() {
    let races = env("RACES", 5);
    let laps = env("LAPS", 120) as u32;
    let cars = env("CARS", 20) as u32;
    let tracks = ["pocono", "daytona"];
    eprintln!("training: 2 races per track with weighed fills (seeds 101, 102)");
    let mut stints = Vec::new();
    for t in tracks {
        for seed in [101, 102] {
            let r = simulate(t, seed, false, laps, cars);
            let mut engine = Engine::new(EngineConfig::default(), ModelParams::default());
            engine.record_stints();
            let mut out = Vec::new();
            for l in lines(&r) {
                let _ = engine.push_line(l, &mut out);
                out.clear();
            }
            engine.finish(&mut out);
            stints.extend(engine.take_stints());
        }
    }
    let fitted = fit(&stints, &ModelParams::default()).expect("training races have weighed fills");
    eprintln!(
        "calibrated on {} measured stints; held out: {races} live races per track",
        stints.len() - fitted.left_out
    );
    println!(
        "| track | model | stint err median | stint err p90 | pit-entry remaining err median (gal) | p90 (gal) | laps_to_empty err median (laps) | 90% band coverage | dry called ≥5 laps before | false calls |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for t in tracks {
        for (name, params) in [
            ("default physics", ModelParams::default()),
            ("calibrated physics", fitted.params.clone()),
        ] {
            let mut s = Scores::default();
            for seed in 0..races {
                let r = simulate(t, 9_100 + seed, true, laps, cars);
                let updates = replay(&r, &params);
                score(&r, &updates, laps, &mut s);
            }
            println!(
                "| {t} | {name} | {:.2} % | {:.2} % | {:.3} | {:.3} | {:.2} ({} cars) | {:.1} % | {}/{} | {} in {races} races |",
                100.0 * quantile(&mut s.stint_err, 0.5),
                100.0 * quantile(&mut s.stint_err, 0.9),
                quantile(&mut s.pit_err, 0.5),
                quantile(&mut s.pit_err, 0.9),
                quantile(&mut s.lte_err, 0.5),
                s.lte_err.len(),
                100.0 * s.covered as f64 / s.windows.max(1) as f64,
                s.dry_called,
                s.dry,
                s.false_calls,
            );
        }
    }
}
