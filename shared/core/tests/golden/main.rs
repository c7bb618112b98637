//! Golden window cases: one small NDJSON input, one expected output each.
//!
//! Every expected number is derived by hand, in the comments and the constants below,
//! from the documented model (`model.rs`) with the reference parameters of
//! [`reference_params`] (fixed here, so that a new default fit changes no case), the integration rule
//! (`car.rs`, `telemetry-v1` rule 4) and the window rules (`fuel-update-v1`), never read
//! back from the engine. Inputs are chosen so that the arithmetic stays easy: throttle
//! 100 % at 8000 rpm, 10 Hz, so that every 100 ms interval burns the same fuel.
//!
//! One test binary: the cases are in modules by subject, the inputs, the runner and the
//! checks they share are here.

use burnbar_core::{Counters, Engine, EngineConfig, FuelUpdate, ModelParams, Reject, RejectCode};
use serde_json::Value;

mod closing;
mod final_window;
mod laps;
mod limits;
mod pits_and_flags;
mod regressions;
mod windows;

/// 2025-06-22T12:00:00Z, a multiple of 5000 ms: the window with `seq` 350_118_720 starts
/// here.
const T0: i64 = 1_750_593_600_000;

// The model with the reference parameters (`model.rs`, `reference_params`):
//   fuel_gph = idle_gph + wot_gph_per_krpm · (rpm / 1000) · VE(rpm) · π(θ)
//   VE(8000) = 1 (the peak), π(1) = 1 − 0^2.5 = 1, π(0) = 0.
/// Throttle 100 % at 8000 rpm: 1.0 + 5.9 × 8 × 1 × 1.
const WOT_GPH: f64 = 1.0 + 5.9 * 8.0;
/// Throttle 0 % at 1500 rpm: the air term is zero, only the 1.0 gal/h idle floor is left.
const IDLE_GPH: f64 = 1.0;
/// A 90 % band is ±1.645 σ; σ² = (burn_rel_sd · used_stint)² + the fill's doubt.
const Z90: f64 = 1.645;
const BURN_REL_SD: f64 = 0.04;
const FILL_REL_SD: f64 = 0.1;
/// Fill rate for fills of unknown amount, gal per second standing still in the box.
const FILL_RATE_GPS: f64 = 1.5;
/// Pocono, and the 180 mph every "wot" sample drives: one lap of 2.5 mi takes 50 s, so
/// `lap_frac` rises by 0.002 every 100 ms and a 5 s window covers 0.25 mi.
const POCONO_MI: f64 = 2.5;

/// The parameters every derivation below uses: round numbers, so that the arithmetic
/// stays easy. Only the 670 hp package and the fill and band parameters matter here.
fn reference_params() -> ModelParams {
    ModelParams {
        hp670: burnbar_core::model::PackageParams {
            wot_gph_per_krpm: 5.9,
            throttle_k: 2.5,
            ve_peak_rpm: 8000.0,
            ve_droop: 0.02,
            idle_gph: 1.0,
            fit_rel_sd: 0.0,
        },
        fill_rate_gps: FILL_RATE_GPS,
        // The pour starts the moment the car stops, and (for the cases that say no
        // tyres) every stop is fuel only: the standing time is the fuel's.
        fill_dead_s: 0.0,
        tire_shares: [1.0, 0.0, 0.0, 0.0],
        // The contract's tyre changes, each give or take 10 %.
        tire_four_s: 9.0,
        tire_two_s: 5.0,
        tire_odd_s: 4.0,
        tire_rel_sd: 0.1,
        tire_short_share: None,
        fill_rel_sd: FILL_REL_SD,
        burn_rel_sd: BURN_REL_SD,
        ..ModelParams::default()
    }
}

/// Gallons burned at `gph` for `seconds`.
fn gal(gph: f64, seconds: f64) -> f64 {
    gph * seconds / 3600.0
}

/// Half-width of the 90 % band for a stint that has burned `used_stint` after a fill
/// whose level has variance `fill_var`.
fn half_band(fill_var: f64, used_stint: f64) -> f64 {
    let b = BURN_REL_SD * used_stint;
    Z90 * (fill_var + b * b).sqrt()
}

// ---------------------------------------------------------------------------------------
// Input lines.

fn race_start(ts: i64, race_id: &str, extra: &str) -> String {
    format!(
        r#"{{"v":1,"kind":"race_start","ts":{ts},"race_id":"{race_id}","track":"pocono"{extra}}}"#
    )
}

fn flag(ts: i64, f: &str) -> String {
    format!(r#"{{"v":1,"kind":"flag","ts":{ts},"flag":"{f}"}}"#)
}

fn pit_in(ts: i64, car: &str) -> String {
    format!(r#"{{"v":1,"kind":"pit_in","ts":{ts},"car":"{car}"}}"#)
}

fn pit_out(ts: i64, car: &str, extra: &str) -> String {
    format!(r#"{{"v":1,"kind":"pit_out","ts":{ts},"car":"{car}"{extra}}}"#)
}

fn car_out(ts: i64, car: &str) -> String {
    format!(r#"{{"v":1,"kind":"car_out","ts":{ts},"car":"{car}","reason":"engine"}}"#)
}

/// Wide open at 8000 rpm and 180 mph, no position: 48.2 gal/h.
fn wot(car: &str, ts: i64) -> String {
    format!(r#"{{"v":1,"car":"{car}","ts":{ts},"throttle_pct":100,"rpm":8000,"speed_mph":180}}"#)
}

/// `lap` and `lap_frac` of a car that left the line at T0 at 180 mph around Pocono.
fn pos(ts: i64) -> (i64, f64) {
    let ms = ts - T0;
    (ms / 50_000, (ms % 50_000) as f64 / 50_000.0)
}

/// The engine channels of a wide-open sample.
fn engine_rec(car: &str, ts: i64) -> String {
    format!(r#"{{"v":1,"car":"{car}","ts":{ts},"rpm":8000,"throttle_pct":100}}"#)
}

/// The tracking channels of a car at 180 mph around Pocono.
fn tracking_rec(car: &str, ts: i64) -> String {
    let (lap, frac) = pos(ts);
    format!(r#"{{"v":1,"car":"{car}","ts":{ts},"lap":{lap},"lap_frac":{frac},"speed_mph":180}}"#)
}

/// Wide open, with the position of a car at 180 mph around Pocono.
fn wot_lap(car: &str, ts: i64) -> String {
    let (lap, frac) = pos(ts);
    format!(
        r#"{{"v":1,"car":"{car}","ts":{ts},"lap":{lap},"lap_frac":{frac},"speed_mph":180,"rpm":8000,"throttle_pct":100}}"#
    )
}

/// Throttle closed at 1500 rpm (1.0 gal/h), on pit road, at `speed` mph.
fn idle_in_pit(car: &str, ts: i64, speed: f64) -> String {
    format!(
        r#"{{"v":1,"car":"{car}","ts":{ts},"throttle_pct":0,"rpm":1500,"speed_mph":{speed},"in_pit":true}}"#
    )
}

/// `from..=to` in steps of 100 ms (10 Hz).
fn ticks(from: i64, to: i64) -> impl Iterator<Item = i64> {
    (from..=to).step_by(100)
}

/// Position of the first line that is exactly `line`.
fn index_of(lines: &[String], line: &str) -> usize {
    lines
        .iter()
        .position(|l| l == line)
        .unwrap_or_else(|| panic!("no line {line}"))
}

// ---------------------------------------------------------------------------------------
// Running and reading.

struct Run {
    /// The updates published while reading each line (same index as the input).
    steps: Vec<Vec<FuelUpdate>>,
    /// The updates published by `finish`.
    tail: Vec<FuelUpdate>,
    /// Rejected lines, by index.
    rejects: Vec<(usize, Reject)>,
    engine: Engine,
}

fn run(lines: &[String]) -> Run {
    let mut engine = Engine::new(EngineConfig::default(), reference_params());
    let mut steps = Vec::with_capacity(lines.len());
    let mut rejects = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let mut out = Vec::new();
        if let Err(r) = engine.push_line(line.as_bytes(), &mut out) {
            rejects.push((i, r));
        }
        steps.push(out);
    }
    let mut tail = Vec::new();
    engine.finish(&mut tail);
    Run {
        steps,
        tail,
        rejects,
        engine,
    }
}

fn text(u: &FuelUpdate) -> String {
    serde_json::to_string(u).expect("a FuelUpdate serializes")
}

/// The update as a subscriber reads it: the serialized line, parsed.
fn wire(u: &FuelUpdate) -> Value {
    serde_json::from_str(&text(u)).expect("the output is JSON")
}

impl Run {
    fn updates(&self) -> impl Iterator<Item = &FuelUpdate> {
        self.steps.iter().flatten().chain(&self.tail)
    }

    /// Every output line, in publication order.
    fn lines(&self) -> Vec<String> {
        self.updates().map(text).collect()
    }

    /// One car's updates, parsed from the output lines.
    fn car(&self, car: &str) -> Vec<Value> {
        self.updates()
            .filter(|u| u.car.as_str() == car)
            .map(wire)
            .collect()
    }

    fn counters(&self) -> &Counters {
        self.engine.counters()
    }

    /// (race, car, window_start) of each update of a step.
    fn keys(step: &[FuelUpdate]) -> Vec<(String, String, i64)> {
        step.iter()
            .map(|u| (u.race_id.clone(), u.car.to_string(), u.window_start))
            .collect()
    }
}

/// Compares a number of the output to a value derived by hand. The output is rounded to
/// 4 decimals, so it may differ from the exact value by half a unit of the 4th decimal.
#[track_caller]
fn approx(u: &Value, field: &str, want: f64) {
    let got = u[field]
        .as_f64()
        .unwrap_or_else(|| panic!("{field} is not a number in {u}"));
    assert!(
        (got - want).abs() <= 0.5e-4 + 1e-9,
        "{field}: got {got}, want {want:.6} (car {}, window {})",
        u["car"],
        u["window_start"]
    );
}

/// What the hand derivation says about one window.
struct Want {
    window_start: i64,
    samples: u64,
    burn: f64,
    used_stint: f64,
    used_race: f64,
    remaining: f64,
    /// Half-width of the 90 % band (capacity 20 clamps it).
    half: f64,
}

#[track_caller]
fn check(u: &Value, w: &Want) {
    assert_eq!(u["window_start"], w.window_start, "{u}");
    assert_eq!(u["window_end"], w.window_start + 5_000, "{u}");
    assert_eq!(u["seq"], w.window_start / 5_000, "{u}");
    assert_eq!(u["samples"], w.samples, "{u}");
    approx(u, "burn_gal", w.burn);
    approx(u, "burn_rate_gph", w.burn / (5.0 / 3600.0));
    approx(u, "used_stint_gal", w.used_stint);
    approx(u, "used_race_gal", w.used_race);
    approx(u, "remaining_gal", w.remaining);
    approx(
        u,
        "remaining_low_gal",
        (w.remaining - w.half).clamp(0.0, 20.0),
    );
    approx(
        u,
        "remaining_high_gal",
        (w.remaining + w.half).clamp(0.0, 20.0),
    );
}

#[track_caller]
fn flags_and_modes(updates: &[Value]) -> Vec<(String, String, bool)> {
    updates
        .iter()
        .map(|u| {
            (
                u["flag"].as_str().unwrap().to_owned(),
                u["mode"].as_str().unwrap().to_owned(),
                u["in_pit"].as_bool().unwrap(),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// On time: the input and the lines it publishes (`windows.rs`, and `limits.rs`, which
// adds records that must change none of them).

/// Race `g` at Pocono, green from T0, car 19 wide open at 180 mph from T0 to T0+14.9 s.
fn on_time_lines() -> Vec<String> {
    let mut lines = vec![race_start(T0, "g", ""), flag(T0, "green")];
    lines.extend(ticks(T0, T0 + 14_900).map(|ts| wot_lap("19", ts)));
    lines
}

/// Per window of 5 s fully covered at 48.2 gal/h: burn = 48.2 × 5 / 3600 = 0.066944 gal
/// (rate 48.2), 50 samples, 0.25 mi (0.1 lap × 2.5 mi; the first sample, with no earlier
/// position, drives its 180 mph), mpg 0.25 / 0.066944 = 3.7344.
/// After window k (k = 1, 2, 3): used = k × 0.066944 → 0.0669, 0.1339, 0.2008;
/// remaining = 20 − used → 19.9331, 19.8661, 19.7992;
/// half band = 1.645 × 0.04 × used → 0.004405, 0.008810, 0.013215, so
/// low 19.9287, 19.8573, 19.7860 and high 19.9375, 19.8749, 19.8124.
/// `lap` is lap + lap_frac of the last sample: 0.098, 0.198, 0.298.
/// No lap completed yet: mpg_lap, laps_to_empty, save_needed_pct and burn_index are null.
const ON_TIME: [&str; 3] = [
    r#"{"v":1,"race_id":"g","car":"19","seq":350118720,"window_start":1750593600000,"window_end":1750593605000,"lap":0.098,"flag":"green","in_pit":false,"samples":50,"miles":0.25,"burn_gal":0.0669,"burn_rate_gph":48.2,"mpg_window":3.7344,"mpg_lap":null,"mpg_stint":3.7344,"used_stint_gal":0.0669,"used_race_gal":0.0669,"remaining_gal":19.9331,"remaining_low_gal":19.9287,"remaining_high_gal":19.9375,"laps_to_empty":null,"save_needed_pct":null,"burn_index":null,"mode":"normal","model":"physics"}"#,
    r#"{"v":1,"race_id":"g","car":"19","seq":350118721,"window_start":1750593605000,"window_end":1750593610000,"lap":0.198,"flag":"green","in_pit":false,"samples":50,"miles":0.25,"burn_gal":0.0669,"burn_rate_gph":48.2,"mpg_window":3.7344,"mpg_lap":null,"mpg_stint":3.7344,"used_stint_gal":0.1339,"used_race_gal":0.1339,"remaining_gal":19.8661,"remaining_low_gal":19.8573,"remaining_high_gal":19.8749,"laps_to_empty":null,"save_needed_pct":null,"burn_index":null,"mode":"normal","model":"physics"}"#,
    r#"{"v":1,"race_id":"g","car":"19","seq":350118722,"window_start":1750593610000,"window_end":1750593615000,"lap":0.298,"flag":"green","in_pit":false,"samples":50,"miles":0.25,"burn_gal":0.0669,"burn_rate_gph":48.2,"mpg_window":3.7344,"mpg_lap":null,"mpg_stint":3.7344,"used_stint_gal":0.2008,"used_race_gal":0.2008,"remaining_gal":19.7992,"remaining_low_gal":19.786,"remaining_high_gal":19.8124,"laps_to_empty":null,"save_needed_pct":null,"burn_index":null,"mode":"normal","model":"physics"}"#,
];

// ---------------------------------------------------------------------------------------
// Fuel flow off the peak: the green laps and the final window.

/// Fuel flow at throttle 100 % and `rpm`: 1 + 5.9 × rpm/1000 × VE, VE = 1 − 0.02 × Δkrpm²
/// (7000 and 9000 rpm are 1 krpm off the 8000 rpm peak: VE 0.98).
fn wot_gph_at(rpm: f64) -> f64 {
    let off = (rpm - 8000.0) / 1000.0;
    1.0 + 5.9 * rpm / 1000.0 * (1.0 - 0.02 * off * off)
}
