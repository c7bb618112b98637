//! Golden window cases: one small NDJSON input, one expected output each.
//!
//! Every expected number is derived by hand, in the comments and the constants below,
//! from the documented model (`model.rs`) with the reference parameters of
//! [`reference_params`] (fixed here, so that a new default fit changes no case), the integration rule
//! (`car.rs`, `telemetry-v1` rule 4) and the window rules (`fuel-update-v1`), never read
//! back from the engine. Inputs are chosen so that the arithmetic stays easy: throttle
//! 100 % at 8000 rpm, 10 Hz, so that every 100 ms interval burns the same fuel.

use burnbar_core::{Counters, Engine, EngineConfig, FuelUpdate, ModelParams, Reject, RejectCode};
use serde_json::Value;

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
// On time.

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

#[test]
fn on_time_windows_publish_the_exact_lines() {
    let lines = on_time_lines();
    let r = run(&lines);
    assert!(r.rejects.is_empty(), "{:?}", r.rejects);
    // Window 0 closes when the car's watermark (max ts − 5 s) reaches its end, T0+5 s:
    // at the sample of T0+10 s, and not one sample earlier.
    let closes_w0 = index_of(&lines, &wot_lap("19", T0 + 10_000));
    for (i, step) in r.steps.iter().enumerate() {
        if i == closes_w0 {
            assert_eq!(step.iter().map(text).collect::<Vec<_>>(), [ON_TIME[0]]);
        } else {
            assert!(step.is_empty(), "line {i} published {step:?}");
        }
    }
    // The rest close at the end of the input.
    assert_eq!(r.tail.iter().map(text).collect::<Vec<_>>(), ON_TIME[1..]);
    assert_eq!(
        *r.counters(),
        Counters {
            records: 152,
            samples: 150,
            events: 2,
            windows_closed: 3,
            ..Counters::default()
        }
    );
    let state = r.engine.race_state("g").expect("race g exists");
    assert_eq!(state.track, "pocono");
    assert_eq!(state.ts, T0);
    assert_eq!(state.cars_running, 1);
    assert!((state.leader_lap - 0.298).abs() < 1e-6);
}

// ---------------------------------------------------------------------------------------
// Late.

#[test]
fn a_sample_for_a_closed_window_is_dropped_and_counted() {
    let base = on_time_lines();
    let closes_w0 = index_of(&base, &wot_lap("19", T0 + 10_000));
    let mut late = base.clone();
    // Window 0 closed at the line before: this sample would change its burn (throttle 0),
    // but it is late and changes nothing.
    late.insert(
        closes_w0 + 1,
        format!(
            r#"{{"v":1,"car":"19","ts":{},"throttle_pct":0,"rpm":4000,"speed_mph":0}}"#,
            T0 + 4_950
        ),
    );
    let r = run(&late);
    assert_eq!(r.lines(), ON_TIME);
    assert!(r.rejects.is_empty());
    let c = r.counters();
    assert_eq!((c.late_samples, c.samples, c.records), (1, 151, 153));
    assert_eq!((c.duplicates, c.merged), (0, 0));
}

#[test]
fn a_sample_behind_but_within_the_lateness_is_not_late() {
    // T0+7 s arrives after T0+10 s: window 1 is still open (the watermark is at T0+5 s).
    let mut lines = on_time_lines();
    let moved = wot_lap("19", T0 + 7_000);
    let at = index_of(&lines, &moved);
    lines.remove(at);
    let after = index_of(&lines, &wot_lap("19", T0 + 10_000));
    lines.insert(after + 1, moved);
    let r = run(&lines);
    assert_eq!(r.lines(), ON_TIME);
    assert_eq!(r.counters().late_samples, 0);
}

// ---------------------------------------------------------------------------------------
// Window edges.

#[test]
fn window_edges_belong_to_the_window_that_starts_there() {
    // Car 7: samples at 0, 4.999, 5.000, 9.999 and 10.000 s. Car 8: 4.5, 5.2 and 10 s.
    let s = |car: &str, ms: i64| wot(car, T0 + ms);
    let lines = vec![
        race_start(T0, "e", ""),
        s("7", 0),
        s("8", 4_500),
        s("7", 4_999),
        s("7", 5_000),
        s("8", 5_200),
        s("7", 9_999),
        s("7", 10_000),
        s("8", 10_000),
        // After window 0 of car 8 closed: 4.999 s is late, 5.000 s is window 1's.
        s("8", 4_999),
        s("8", 5_000),
    ];
    let r = run(&lines);
    assert!(r.rejects.is_empty(), "{:?}", r.rejects);
    // Car 7's watermark is 9.999 − 5 = 4.999 s: window 0 [0, 5) stays open; at 10.000 s
    // the watermark is exactly 5.000 s = window_end, and window 0 closes in that step.
    assert!(r.steps[6].is_empty());
    assert_eq!(
        Run::keys(&r.steps[7]),
        [("e".into(), "7".into(), T0)],
        "window 0 of car 7 closes exactly when max_ts − lateness = window_end"
    );
    assert_eq!(Run::keys(&r.steps[8]), [("e".into(), "8".into(), T0)]);
    assert!(r.steps[9].is_empty() && r.steps[10].is_empty());
    assert_eq!(r.counters().late_samples, 1);

    // Each sample's flow is held until the next sample, for at most 1 s, and an interval
    // that crosses an edge is split there.
    // Car 7, window 0: 0 → 1 s held, 4.999 → 5.000 (the edge) = 1.001 s; window 1:
    // 5.000 → 6.000, 9.999 → 10.000 = 1.001 s; window 2: 10.000 → 11.000 = 1 s.
    let b = |s: f64| gal(WOT_GPH, s);
    let c7 = r.car("7");
    assert_eq!(c7.len(), 3);
    let mut used = 0.0;
    for (u, (ws, samples, secs)) in c7.iter().zip([
        (T0, 2, 1.001),
        (T0 + 5_000, 2, 1.001),
        (T0 + 10_000, 1, 1.0),
    ]) {
        used += b(secs);
        check(
            u,
            &Want {
                window_start: ws,
                samples,
                burn: b(secs),
                used_stint: used,
                used_race: used,
                remaining: 20.0 - used,
                half: half_band(0.0, used),
            },
        );
    }
    // Car 8, window 0: 4.5 → 5.0 (the hold to 5.5 is cut at the edge) = 0.5 s.
    // Window 1: 5.000 → 5.200 (the sample at the edge), 5.2 → 6.2 = 1.2 s; its samples
    // are 5.000 and 5.200 (4.999 was late). Window 2: 10 → 11 = 1 s.
    let c8 = r.car("8");
    assert_eq!(c8.len(), 3);
    let mut used = 0.0;
    for (u, (ws, samples, secs)) in
        c8.iter()
            .zip([(T0, 1, 0.5), (T0 + 5_000, 2, 1.2), (T0 + 10_000, 1, 1.0)])
    {
        used += b(secs);
        check(
            u,
            &Want {
                window_start: ws,
                samples,
                burn: b(secs),
                used_stint: used,
                used_race: used,
                remaining: 20.0 - used,
                half: half_band(0.0, used),
            },
        );
    }
    // The end of the input closes the rest in order of window_end, then car.
    assert_eq!(
        Run::keys(&r.tail),
        [
            ("e".into(), "7".into(), T0 + 5_000),
            ("e".into(), "8".into(), T0 + 5_000),
            ("e".into(), "7".into(), T0 + 10_000),
            ("e".into(), "8".into(), T0 + 10_000),
        ]
    );
}

#[test]
fn one_step_is_ordered_by_window_end_then_car_bytes() {
    let mut lines = vec![race_start(T0, "o", "")];
    for ts in ticks(T0, T0 + 7_000) {
        for car in ["2", "10", "1"] {
            lines.push(wot(car, ts));
        }
    }
    let r = run(&lines);
    assert!(r.steps.iter().all(Vec::is_empty), "the watermark is at 2 s");
    let got: Vec<(String, i64)> = r
        .tail
        .iter()
        .map(|u| (u.car.to_string(), u.window_end - T0))
        .collect();
    let want: Vec<(String, i64)> = [
        ("1", 5_000),
        ("10", 5_000),
        ("2", 5_000),
        ("1", 10_000),
        ("10", 10_000),
        ("2", 10_000),
    ]
    .into_iter()
    .map(|(c, e)| (c.to_owned(), e))
    .collect();
    assert_eq!(got, want, "\"1\" < \"10\" < \"2\" in byte order");
}

// ---------------------------------------------------------------------------------------
// Duplicates.

#[test]
fn a_repeated_record_is_a_duplicate_and_changes_nothing() {
    let base = on_time_lines();
    let mut lines = Vec::new();
    for line in &base {
        lines.push(line.clone());
        // Every sample on a whole second is sent twice: 15 duplicates.
        let whole_second = (0..15).any(|k| *line == wot_lap("19", T0 + k * 1_000));
        if whole_second {
            lines.push(line.clone());
        }
    }
    // Re-sent later, while its window (1) is still open: a 16th duplicate.
    let after = index_of(&lines, &wot_lap("19", T0 + 10_000));
    lines.insert(after + 1, wot_lap("19", T0 + 6_000));
    // Re-sent after its window (0) closed: late, not a duplicate.
    lines.insert(after + 2, wot_lap("19", T0 + 2_000));
    // A race-control event re-sent.
    lines.push(flag(T0, "green"));
    let r = run(&lines);
    assert_eq!(r.lines(), ON_TIME);
    let c = r.counters();
    assert_eq!(
        (c.duplicates, c.merged, c.late_samples, c.duplicate_events),
        (16, 0, 1, 1)
    );
}

#[test]
fn a_repeated_key_with_other_values_keeps_the_first_and_merges_new_fields() {
    let mut lines = on_time_lines();
    // Same (car, ts) as the T0+2 s sample: rpm, throttle and speed differ (the first
    // values win) and `in_pit` is new (merged). Then the T0+3 s key again with only
    // fields it already has: nothing new, a duplicate, whatever the values.
    let at = index_of(&lines, &wot_lap("19", T0 + 2_000));
    lines.insert(
        at + 1,
        format!(
            r#"{{"v":1,"car":"19","ts":{},"throttle_pct":0,"rpm":4000,"speed_mph":0,"in_pit":true}}"#,
            T0 + 2_000
        ),
    );
    let at = index_of(&lines, &wot_lap("19", T0 + 3_000));
    lines.insert(
        at + 1,
        format!(
            r#"{{"v":1,"car":"19","ts":{},"throttle_pct":0,"rpm":4000}}"#,
            T0 + 3_000
        ),
    );
    let r = run(&lines);
    let c = r.counters();
    assert_eq!((c.merged, c.duplicates), (1, 1));
    let got = r.car("19");
    let want: Vec<Value> = ON_TIME
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Windows 1 and 2 are untouched.
    assert_eq!(got[1..], want[1..]);
    // Window 0: the same burn (first values), but the merged in_pit makes it a pit window.
    let mut w0 = want[0].clone();
    w0["in_pit"] = true.into();
    w0["mode"] = "pit".into();
    assert_eq!(got[0], w0);
}

// ---------------------------------------------------------------------------------------
// Channels split across records.

#[test]
fn channels_split_across_records_are_one_sample() {
    let head = || vec![race_start(T0, "g", ""), flag(T0, "green")];
    let mut engine_first = head();
    let mut tracking_first = head();
    for ts in ticks(T0, T0 + 14_900) {
        engine_first.push(engine_rec("19", ts));
        engine_first.push(tracking_rec("19", ts));
        tracking_first.push(tracking_rec("19", ts));
        tracking_first.push(engine_rec("19", ts));
    }
    for lines in [engine_first, tracking_first] {
        let r = run(&lines);
        assert_eq!(r.lines(), ON_TIME);
        let c = r.counters();
        assert_eq!((c.samples, c.merged, c.duplicates), (300, 150, 0));
    }
}

// ---------------------------------------------------------------------------------------
// Miles.

#[test]
fn miles_come_from_lap_progress_else_from_speed() {
    // Car 1 reports 100 mph but moves 0.002 lap per 100 ms (180 mph at Pocono); car 2
    // reports 100 mph and no position. Window 1 (every interval has a position before it):
    // car 1 drives 0.1 lap × 2.5 mi = 0.25 mi, car 2 100 mph × 5 s = 0.13889 mi.
    let mut lines = vec![race_start(T0, "m", "")];
    for ts in ticks(T0, T0 + 14_900) {
        let (lap, frac) = pos(ts);
        lines.push(format!(
            r#"{{"v":1,"car":"1","ts":{ts},"lap":{lap},"lap_frac":{frac},"speed_mph":100,"rpm":8000,"throttle_pct":100}}"#
        ));
        lines.push(format!(
            r#"{{"v":1,"car":"2","ts":{ts},"speed_mph":100,"rpm":8000,"throttle_pct":100}}"#
        ));
    }
    let r = run(&lines);
    let burn = gal(WOT_GPH, 5.0);
    let c1 = &r.car("1")[1];
    approx(c1, "miles", 0.1 * POCONO_MI);
    approx(c1, "mpg_window", 0.25 / burn);
    approx(c1, "lap", 0.198);
    let c2 = &r.car("2")[1];
    approx(c2, "miles", 100.0 * 5.0 / 3600.0);
    approx(c2, "mpg_window", 100.0 / WOT_GPH);
    assert_eq!(c2["lap"], 0.0, "no position: lap 0");
}

// ---------------------------------------------------------------------------------------
// A silent car.

#[test]
fn a_silent_car_closes_when_the_race_passes_its_window_end_by_60_s() {
    // Car 1 sends 0 → 2 s and goes silent; car 2 sends 0 → 65 s.
    let mut lines = vec![race_start(T0, "s", "")];
    for ts in ticks(T0, T0 + 65_000) {
        if ts <= T0 + 2_000 {
            lines.push(wot("1", ts));
        }
        lines.push(wot("2", ts));
    }
    // After the silent close, a car-1 sample of its closed window is late.
    lines.push(wot("1", T0 + 4_000));
    let r = run(&lines);
    let at_64_9 = index_of(&lines, &wot("2", T0 + 64_900));
    let at_65 = index_of(&lines, &wot("2", T0 + 65_000));
    assert!(
        r.steps[..=at_64_9]
            .iter()
            .flatten()
            .all(|u| u.car.as_str() != "1"),
        "car 1's window 0 ends at 5 s: still open while the race is at 64.9 s"
    );
    // At 65 s the race's newest ts is 60 s past car 1's window end: it closes, in the
    // same step as car 2's window [55, 60) (watermark 60 s), ordered by window_end.
    assert_eq!(
        Run::keys(&r.steps[at_65]),
        [
            ("s".into(), "1".into(), T0),
            ("s".into(), "2".into(), T0 + 55_000),
        ]
    );
    // 21 samples, 0 → 2 s, the last held 1 s: 3 s at 48.2 gal/h.
    let c1 = r.car("1");
    assert_eq!(c1.len(), 1);
    let used = gal(WOT_GPH, 3.0);
    check(
        &c1[0],
        &Want {
            window_start: T0,
            samples: 21,
            burn: used,
            used_stint: used,
            used_race: used,
            remaining: 20.0 - used,
            half: half_band(0.0, used),
        },
    );
    assert_eq!(r.counters().late_samples, 1);
}

// ---------------------------------------------------------------------------------------
// car_out.

#[test]
fn car_out_closes_the_open_windows_at_once_and_later_samples_are_late() {
    let mut lines = vec![race_start(T0, "o", r#","cars":["1","2"]"#)];
    for ts in ticks(T0, T0 + 9_000) {
        if ts <= T0 + 7_000 {
            lines.push(wot("1", ts));
        }
        lines.push(wot("2", ts));
    }
    lines.push(car_out(T0 + 9_000, "1"));
    let out_at = lines.len() - 1;
    for ts in ticks(T0 + 9_100, T0 + 14_900) {
        lines.push(wot("1", ts));
        lines.push(wot("2", ts));
    }
    let r = run(&lines);
    // Car 1's watermark was at 2 s: both its windows were open. car_out closes them.
    assert_eq!(
        Run::keys(&r.steps[out_at]),
        [
            ("o".into(), "1".into(), T0),
            ("o".into(), "1".into(), T0 + 5_000),
        ]
    );
    let c1 = r.car("1");
    assert_eq!(c1.len(), 2, "no update after car_out");
    let w0 = gal(WOT_GPH, 5.0);
    // Window 1: 21 samples, 5 → 7 s, the last held 1 s: 3 s.
    let w1 = gal(WOT_GPH, 3.0);
    for (u, (ws, samples, used)) in c1.iter().zip([(T0, 50, w0), (T0 + 5_000, 21, w0 + w1)]) {
        check(
            u,
            &Want {
                window_start: ws,
                samples,
                burn: if ws == T0 { w0 } else { w1 },
                used_stint: used,
                used_race: used,
                remaining: 20.0 - used,
                half: half_band(0.0, used),
            },
        );
    }
    assert_eq!(
        r.counters().late_samples,
        59,
        "car 1 sent 9.1 → 14.9 s after car_out"
    );
    assert_eq!(r.car("2").len(), 3);
    let state = r.engine.race_state("o").unwrap();
    assert_eq!((state.cars_running, state.ts), (1, T0 + 9_000));
}

// ---------------------------------------------------------------------------------------
// A second race_start.

#[test]
fn a_new_race_closes_every_open_window_of_the_race_before() {
    let mut lines = vec![race_start(T0, "a", "")];
    lines.extend(ticks(T0, T0 + 7_000).map(|ts| wot("1", ts)));
    let b_at = lines.len();
    lines.push(format!(
        r#"{{"v":1,"kind":"race_start","ts":{},"race_id":"b","track":"michigan"}}"#,
        T0 + 8_000
    ));
    // Samples without race_id now belong to race b.
    lines.extend(ticks(T0 + 8_000, T0 + 9_900).map(|ts| wot("1", ts)));
    let r = run(&lines);
    assert_eq!(
        Run::keys(&r.steps[b_at]),
        [
            ("a".into(), "1".into(), T0),
            ("a".into(), "1".into(), T0 + 5_000),
        ]
    );
    // Race a: 5 s, then 5 → 7 s + 1 s hold = 3 s.
    let a: Vec<&FuelUpdate> = r.updates().filter(|u| u.race_id == "a").collect();
    assert_eq!(a.len(), 2);
    approx(&wire(a[1]), "used_race_gal", gal(WOT_GPH, 8.0));
    // Race b starts with a full cell: 8 → 9.9 s + 0.1 s = 2 s in window [5, 10).
    let b: Vec<Value> = r.updates().filter(|u| u.race_id == "b").map(wire).collect();
    assert_eq!(b.len(), 1);
    let used = gal(WOT_GPH, 2.0);
    check(
        &b[0],
        &Want {
            window_start: T0 + 5_000,
            samples: 20,
            burn: used,
            used_stint: used,
            used_race: used,
            remaining: 20.0 - used,
            half: half_band(0.0, used),
        },
    );
    assert_eq!(r.engine.race_ids().collect::<Vec<_>>(), ["a", "b"]);
}

// ---------------------------------------------------------------------------------------
// Pit stops and flags.

#[test]
fn a_pit_stop_fills_by_weight_or_full() {
    // Cars 1, 2, 3 alike: wide open 0 → 9.9 s; pit_in at 10 s; on pit road, throttle
    // closed at 1500 rpm (1 gal/h), 10 → 11.9 s; pit_out at 12 s; wide open 12 → 19.9 s.
    // Car 1 gets 0.1 gal by weight, car 2 `full: true`, car 3 5 gal by weight (capped).
    let mut lines = vec![race_start(T0, "p", ""), flag(T0, "green")];
    for ts in ticks(T0, T0 + 19_900) {
        if ts == T0 + 10_000 {
            for car in ["1", "2", "3"] {
                lines.push(pit_in(ts, car));
            }
        }
        if ts == T0 + 12_000 {
            lines.push(pit_out(ts, "1", r#","lap":0,"fuel_added_gal":0.1"#));
            lines.push(pit_out(ts, "2", r#","fuel_added_gal":null,"full":true"#));
            lines.push(pit_out(ts, "3", r#","fuel_added_gal":5,"full":null"#));
        }
        for car in ["1", "2", "3"] {
            if (T0 + 10_000..T0 + 12_000).contains(&ts) {
                lines.push(idle_in_pit(car, ts, 0.0));
            } else {
                lines.push(wot(car, ts));
            }
        }
    }
    let r = run(&lines);
    assert!(r.rejects.is_empty(), "{:?}", r.rejects);

    let w = gal(WOT_GPH, 5.0); // a full window at 48.2 gal/h
    // At pit_in (10 s) the stint has burned 2 windows; the cell holds 20 − 2w with a
    // variance (0.04 × 2w)².
    let at_pit_in = 20.0 - 2.0 * w;
    let var_pit_in = (BURN_REL_SD * 2.0 * w).powi(2);
    // Window 2 [10, 15): 2 s at 1 gal/h on pit road, then 3 s at 48.2 after pit_out.
    let w2 = gal(IDLE_GPH, 2.0) + gal(WOT_GPH, 3.0);
    // The new stint counts only fuel after the pit_out ts: 3 s at 48.2.
    let stint2 = gal(WOT_GPH, 3.0);
    let race2 = 2.0 * w + w2;

    // Car 1: the cell holds what it held at pit_in plus the weighed 0.1 gal; its doubt
    // is that of the level at pit_in.
    // Car 2: full (20 gal, no doubt). Car 3: 20 − 2w + 5 > 20 by far more than the
    // doubt, so capped at 20 and full.
    for (car, level, var) in [
        ("1", at_pit_in + 0.1, var_pit_in),
        ("2", 20.0, 0.0),
        ("3", 20.0, 0.0),
    ] {
        let u = r.car(car);
        assert_eq!(u.len(), 4, "car {car}");
        check(
            &u[1],
            &Want {
                window_start: T0 + 5_000,
                samples: 50,
                burn: w,
                used_stint: 2.0 * w,
                used_race: 2.0 * w,
                remaining: at_pit_in,
                half: half_band(0.0, 2.0 * w),
            },
        );
        check(
            &u[2],
            &Want {
                window_start: T0 + 10_000,
                samples: 50,
                burn: w2,
                used_stint: stint2,
                used_race: race2,
                remaining: level - stint2,
                half: half_band(var, stint2),
            },
        );
        check(
            &u[3],
            &Want {
                window_start: T0 + 15_000,
                samples: 50,
                burn: w,
                used_stint: stint2 + w,
                used_race: race2 + w,
                remaining: level - stint2 - w,
                half: half_band(var, stint2 + w),
            },
        );
        assert_eq!(
            flags_and_modes(&u),
            [
                ("green".into(), "normal".into(), false),
                ("green".into(), "normal".into(), false),
                ("green".into(), "pit".into(), true),
                ("green".into(), "normal".into(), false),
            ],
            "car {car}"
        );
    }
}

#[test]
fn the_flag_is_the_one_with_the_largest_share_and_a_tie_goes_to_the_later() {
    // Window 0: green. Window 1 [5, 10): green 5 → 7, yellow 7 → 10: yellow (3 s > 2 s).
    // Window 2 [10, 15): yellow 10 → 12.5, green 12.5 → 15: a tie, the later is green.
    // Window 3 [15, 20): green 15 → 17.5, yellow 17.5 → 20: a tie, the later is yellow.
    let mut lines = vec![race_start(T0, "f", "")];
    for ts in ticks(T0, T0 + 19_900) {
        match ts - T0 {
            0 => lines.push(flag(ts, "green")),
            7_000 => lines.push(flag(ts, "yellow")),
            12_500 => lines.push(flag(ts, "green")),
            17_500 => lines.push(flag(ts, "yellow")),
            _ => {}
        }
        lines.push(wot("1", ts));
    }
    let r = run(&lines);
    let u = r.car("1");
    assert_eq!(
        flags_and_modes(&u),
        [
            ("green".into(), "normal".into(), false),
            ("yellow".into(), "caution".into(), false),
            ("green".into(), "normal".into(), false),
            ("yellow".into(), "caution".into(), false),
        ]
    );
    // Flags do not change the burn: every window is 5 s at 48.2 gal/h.
    for (k, w) in u.iter().enumerate() {
        approx(w, "burn_gal", gal(WOT_GPH, 5.0));
        approx(w, "used_race_gal", gal(WOT_GPH, 5.0 * (k + 1) as f64));
        assert!(w["burn_index"].is_null());
    }
    let state = r.engine.race_state("f").unwrap();
    assert_eq!(state.flag.as_str(), "yellow");
    assert_eq!(state.ts, T0 + 17_500);
}

// ---------------------------------------------------------------------------------------
// Late race-control events.

#[test]
fn a_late_event_applies_from_the_first_open_window_and_is_counted_once() {
    // Cars 1 and 2 wide open 0 → 10 s: window 0 closes for both. Then a yellow of 3 s
    // and a pit_in of car 2 at 2 s arrive: both are late for window 0, which stays as
    // published; they act from 5 s (each car's first open window). Car 2 leaves the pits
    // at 12 s, full, on time.
    let mut lines = vec![race_start(T0, "l", ""), flag(T0, "green")];
    for ts in ticks(T0, T0 + 10_000) {
        lines.push(wot("1", ts));
        lines.push(wot("2", ts));
    }
    lines.push(flag(T0 + 3_000, "yellow"));
    lines.push(pit_in(T0 + 2_000, "2"));
    for ts in ticks(T0 + 10_100, T0 + 14_900) {
        if ts == T0 + 12_000 {
            lines.push(pit_out(ts, "2", r#","full":true"#));
        }
        lines.push(wot("1", ts));
        lines.push(wot("2", ts));
    }
    let r = run(&lines);
    assert_eq!(
        r.counters().late_events,
        2,
        "the yellow is late for two cars but counted once; the pit_in once"
    );
    let c1 = r.car("1");
    assert_eq!(
        flags_and_modes(&c1),
        [
            ("green".into(), "normal".into(), false),
            ("yellow".into(), "caution".into(), false),
            ("yellow".into(), "caution".into(), false),
        ]
    );
    let c2 = r.car("2");
    assert_eq!(
        flags_and_modes(&c2),
        [
            ("green".into(), "normal".into(), false),
            ("yellow".into(), "pit".into(), true),
            ("yellow".into(), "pit".into(), true),
        ]
    );
    // Car 2: the full fill at 12 s starts a new stint of 3 s at 48.2.
    let w = gal(WOT_GPH, 5.0);
    let stint = gal(WOT_GPH, 3.0);
    check(
        &c2[2],
        &Want {
            window_start: T0 + 10_000,
            samples: 50,
            burn: w,
            used_stint: stint,
            used_race: 3.0 * w,
            remaining: 20.0 - stint,
            half: half_band(0.0, stint),
        },
    );
    let state = r.engine.race_state("l").unwrap();
    assert_eq!((state.flag.as_str(), state.ts), ("yellow", T0 + 3_000));
}

#[test]
fn an_on_time_event_after_a_car_out_is_not_late() {
    // Car 1 retires at 7 s (its window [5, 10) closes at once); car 2 runs on. A yellow at
    // 8 s arrives on time: car 2's window [5, 10) is open and gets it. For car 1 it changes
    // nothing (it left the race before 8 s and gets no more updates), so no window it
    // would change has closed: the event is not late (telemetry-v1, "Event time").
    let mut lines = vec![race_start(T0, "l", ""), flag(T0, "green")];
    for ts in ticks(T0, T0 + 14_900) {
        if ts == T0 + 7_000 {
            lines.push(car_out(ts, "1"));
        }
        if ts == T0 + 8_000 {
            lines.push(flag(ts, "yellow"));
        }
        if ts < T0 + 7_000 {
            lines.push(wot("1", ts));
        }
        lines.push(wot("2", ts));
    }
    let r = run(&lines);
    assert_eq!(r.car("1").len(), 2);
    let c2 = r.car("2");
    assert_eq!(
        flags_and_modes(&c2),
        [
            ("green".into(), "normal".into(), false),
            ("green".into(), "normal".into(), false), // green 5 → 8, yellow 8 → 10
            ("yellow".into(), "caution".into(), false),
        ]
    );
    assert_eq!(r.counters().late_events, 0, "no event arrived late");
}

// ---------------------------------------------------------------------------------------
// Fills of unknown amount.

#[test]
fn a_fill_of_unknown_amount_is_estimated_from_standing_time() {
    // Cars 1 and 2: wide open 0 → 19.9 s, pit_in at 20 s, then on pit road with the
    // throttle closed at 1500 rpm (1 gal/h):
    // - car 1 stands (0 mph) at 20.0 s, rolls (20 mph) at 20.1 s, pit_out at 20.2 s: it
    //   stood 0.1 s (the 20.0 s sample held to the next), 0.1 × 1.5 = 0.15 gal;
    // - car 2 stands 20.0 → 22.9 s, rolls at 23.0 s, pit_out at 23.1 s: it stood 3 s,
    //   3 × 1.5 = 4.5 gal, more than the cell takes: full.
    // Both pit_outs carry neither amount nor `full: true`. Then wide open to 29.9 s.
    let mut lines = vec![race_start(T0, "u", ""), flag(T0, "green")];
    for ts in ticks(T0, T0 + 29_900) {
        let ms = ts - T0;
        if ms == 20_000 {
            lines.push(pit_in(ts, "1"));
            lines.push(pit_in(ts, "2"));
        }
        if ms == 20_200 {
            lines.push(pit_out(ts, "1", r#","fuel_added_gal":null,"full":null"#));
        }
        if ms == 23_100 {
            lines.push(pit_out(ts, "2", r#","fuel_added_gal":null,"full":null"#));
        }
        lines.push(match ms {
            20_000 => idle_in_pit("1", ts, 0.0),
            20_100 => idle_in_pit("1", ts, 20.0),
            _ => wot("1", ts),
        });
        lines.push(match ms {
            20_000..=22_900 => idle_in_pit("2", ts, 0.0),
            23_000 => idle_in_pit("2", ts, 20.0),
            _ => wot("2", ts),
        });
    }
    let r = run(&lines);
    assert!(r.rejects.is_empty(), "{:?}", r.rejects);

    // At pit_in both have burned 20 s at 48.2: the cell holds 20 − u0, σ² = (0.04 u0)².
    let u0 = gal(WOT_GPH, 20.0);
    let var0 = (BURN_REL_SD * u0).powi(2);

    // Car 1: level = 20 − u0 + 0.15 (below 20); σ² = var0 + (0.1 × 0.15)².
    let est1 = 0.1 * FILL_RATE_GPS;
    let var1 = var0 + (FILL_REL_SD * est1).powi(2);
    // Window 4 [20, 25): 0.2 s at 1 gal/h on pit road + 4.8 s at 48.2 after pit_out.
    let stint1 = gal(WOT_GPH, 4.8);
    let c1 = r.car("1");
    assert_eq!(c1.len(), 6);
    check(
        &c1[3],
        &Want {
            window_start: T0 + 15_000,
            samples: 50,
            burn: gal(WOT_GPH, 5.0),
            used_stint: u0,
            used_race: u0,
            remaining: 20.0 - u0,
            half: half_band(0.0, u0),
        },
    );
    check(
        &c1[4],
        &Want {
            window_start: T0 + 20_000,
            samples: 50,
            burn: gal(IDLE_GPH, 0.2) + stint1,
            used_stint: stint1,
            used_race: u0 + gal(IDLE_GPH, 0.2) + stint1,
            remaining: 20.0 - u0 + est1 - stint1,
            half: half_band(var1, stint1),
        },
    );
    let width = |u: &Value| {
        u["remaining_high_gal"].as_f64().unwrap() - u["remaining_low_gal"].as_f64().unwrap()
    };
    assert!(
        width(&c1[4]) > width(&c1[3]) + 0.02,
        "the band widens by the estimate's doubt: {} then {}",
        width(&c1[3]),
        width(&c1[4])
    );

    // Car 2: 20 − u0 + 4.5 is far above 20: capped at the capacity, a full cell.
    // Window 4: 3.1 s at 1 gal/h on pit road + 1.9 s at 48.2 after pit_out.
    let stint2 = gal(WOT_GPH, 1.9);
    let c2 = r.car("2");
    assert_eq!(c2.len(), 6);
    check(
        &c2[4],
        &Want {
            window_start: T0 + 20_000,
            samples: 50,
            burn: gal(IDLE_GPH, 3.1) + stint2,
            used_stint: stint2,
            used_race: u0 + gal(IDLE_GPH, 3.1) + stint2,
            remaining: 20.0 - stint2,
            half: half_band(0.0, stint2),
        },
    );
    check(
        &c2[5],
        &Want {
            window_start: T0 + 25_000,
            samples: 50,
            burn: gal(WOT_GPH, 5.0),
            used_stint: stint2 + gal(WOT_GPH, 5.0),
            used_race: u0 + gal(IDLE_GPH, 3.1) + stint2 + gal(WOT_GPH, 5.0),
            remaining: 20.0 - stint2 - gal(WOT_GPH, 5.0),
            half: half_band(0.0, stint2 + gal(WOT_GPH, 5.0)),
        },
    );
    for u in [&c1[4], &c2[4]] {
        assert_eq!((&u["in_pit"], &u["mode"]), (&true.into(), &"pit".into()));
    }
}

// ---------------------------------------------------------------------------------------
// ts_in_future.

#[test]
fn a_sample_far_in_the_future_is_rejected_and_the_rest_goes_on() {
    let base = on_time_lines();
    let mut lines = base.clone();
    let at = index_of(&lines, &wot_lap("19", T0 + 5_000));
    // The race's newest ts is T0+5 s: 65.001 s is 60.001 s past it; 70 s for another car.
    lines.insert(
        at + 1,
        format!(r#"{{"v":1,"car":"19","ts":{},"rpm":8000}}"#, T0 + 65_001),
    );
    lines.insert(
        at + 2,
        format!(r#"{{"v":1,"car":"20","ts":{},"rpm":8000}}"#, T0 + 70_000),
    );
    let r = run(&lines);
    assert_eq!(r.rejects.len(), 2);
    for (i, rej) in &r.rejects {
        assert!(*i == at + 1 || *i == at + 2);
        assert_eq!((rej.code, rej.field), (RejectCode::TsInFuture, Some("ts")));
    }
    assert_eq!(r.lines(), ON_TIME, "the records around it go on");
    let c = r.counters();
    assert_eq!((c.records, c.samples, c.rejected), (154, 150, 2));
    assert_eq!(c.rejected_by.get("ts_in_future"), Some(&2));
    assert_eq!(r.engine.cars(), 1, "a rejected record creates no car");
}

#[test]
fn a_sample_exactly_60_s_ahead_is_accepted() {
    let mut lines = vec![race_start(T0, "g", "")];
    lines.extend(ticks(T0, T0 + 5_000).map(|ts| wot("19", ts)));
    lines.push(wot("19", T0 + 65_000));
    let r = run(&lines);
    assert!(r.rejects.is_empty(), "{:?}", r.rejects);
}

#[test]
fn the_race_start_counts_as_the_newest_ts_of_its_race() {
    // telemetry-v1, rule 1: "A sample whose ts is more than 60 s past the largest ts seen
    // so far in its race (samples and race-control events) is rejected as ts_in_future."
    // The race_start is a race-control event of race r.
    let lines = vec![
        race_start(T0, "r", ""),
        format!(r#"{{"v":1,"car":"1","ts":{},"rpm":8000}}"#, T0 + 60_001),
    ];
    let r = run(&lines);
    let codes: Vec<_> = r.rejects.iter().map(|(i, rej)| (*i, rej.code)).collect();
    assert_eq!(codes, [(1, RejectCode::TsInFuture)]);
}

// ---------------------------------------------------------------------------------------
// Green laps: mpg_lap, laps_to_empty, save_needed_pct, burn_index, mode.

/// Fuel flow at throttle 100 % and `rpm`: 1 + 5.9 × rpm/1000 × VE, VE = 1 − 0.02 × Δkrpm²
/// (7000 and 9000 rpm are 1 krpm off the 8000 rpm peak: VE 0.98).
fn wot_gph_at(rpm: f64) -> f64 {
    let off = (rpm - 8000.0) / 1000.0;
    1.0 + 5.9 * rpm / 1000.0 * (1.0 - 0.02 * off * off)
}

/// A 0.25 mi track, 400 laps scheduled; cars 1, 2, 3 at throttle 100 % and 8000, 7000,
/// 9000 rpm, all at 180 mph: a lap every 5 s, 0.02 lap per 100 ms, the line crossed
/// exactly at each window's start.
fn short_track_lines(to_ms: i64) -> Vec<String> {
    let mut lines = vec![
        race_start(
            T0,
            "q",
            r#","track_length_mi":0.25,"scheduled_laps":400,"fuel_capacity_gal":20"#,
        ),
        flag(T0, "green"),
    ];
    for ts in ticks(T0, T0 + to_ms) {
        let ms = ts - T0;
        let (lap, frac) = (ms / 5_000, (ms % 5_000) as f64 / 5_000.0);
        for (car, rpm) in [("1", 8000), ("2", 7000), ("3", 9000)] {
            lines.push(format!(
                r#"{{"v":1,"car":"{car}","ts":{ts},"lap":{lap},"lap_frac":{frac},"speed_mph":180,"rpm":{rpm},"throttle_pct":100}}"#
            ));
        }
    }
    lines
}

#[test]
fn green_laps_give_mpg_lap_laps_to_empty_save_needed_and_burn_index() {
    let r = run(&short_track_lines(34_900));
    // Window [30, 35): every lap so far was green and burned gph × 5 s; the car has
    // burned 35 s; its last sample (34.9 s) is at lap 6.98, so 400 − 6.98 laps are left.
    // burn_index: each car's last green lap before 30 − 5 = 25 s, over the median of the
    // three figures (car 1's): gph / 48.2 for the same miles.
    for (car, rpm, mode) in [
        ("1", 8000.0, "normal"),
        ("2", 7000.0, "saving"),
        ("3", 9000.0, "pushing"),
    ] {
        let gph = wot_gph_at(rpm);
        let lap_gal = gal(gph, 5.0);
        let used = gal(gph, 35.0);
        let remaining = 20.0 - used;
        let u = &r.car(car)[6];
        assert_eq!(u["window_start"], T0 + 30_000);
        approx(u, "lap", 6.98);
        approx(u, "miles", 0.25);
        approx(u, "burn_gal", lap_gal);
        approx(u, "mpg_window", 0.25 / lap_gal);
        approx(u, "mpg_lap", 0.25 / lap_gal);
        approx(u, "mpg_stint", 7.0 * 0.25 / used);
        approx(u, "remaining_gal", remaining);
        approx(u, "laps_to_empty", remaining / lap_gal);
        // 400 − 6.98 laps at lap_gal is more than a 20 gal cell: before the final
        // window, where every car must stop again, no saving figure means anything.
        assert!((400.0 - 6.98) * lap_gal > 20.0);
        assert!(u["save_needed_pct"].is_null(), "car {car}: {u}");
        approx(u, "burn_index", gph / WOT_GPH);
        assert_eq!(u["mode"], mode, "car {car}: burn_index {}", u["burn_index"]);
    }
    assert!(
        (wot_gph_at(7000.0) / WOT_GPH) < 0.96 && (wot_gph_at(9000.0) / WOT_GPH) > 1.04,
        "the inputs straddle the saving and pushing thresholds"
    );
    // Before anyone has a green lap that ended before window_start − 5 s: null.
    for car in ["1", "2", "3"] {
        assert!(r.car(car)[0]["burn_index"].is_null());
    }
}

#[test]
fn the_first_lap_from_the_race_start_is_a_completed_lap() {
    // fuel-update-v1: mpg_lap is "over the car's last completed lap, whatever the flag;
    // null before its first". Every car is seen from the race start at lap 0, lap_frac 0
    // (a full cell, nothing burned), and completes lap 0 at 5 s: the window [5, 10) comes
    // after its first completed lap, which burned 5 s at its flow for 0.25 mi.
    let r = run(&short_track_lines(14_900));
    for (car, rpm) in [("1", 8000.0), ("2", 7000.0), ("3", 9000.0)] {
        let u = &r.car(car)[1];
        assert_eq!(u["window_start"], T0 + 5_000);
        let lap_gal = gal(wot_gph_at(rpm), 5.0);
        assert!(
            u["mpg_lap"].is_number(),
            "car {car}: lap 0 was completed at 5 s, mpg_lap is null: {u}"
        );
        approx(u, "mpg_lap", 0.25 / lap_gal);
        approx(u, "laps_to_empty", (20.0 - 2.0 * lap_gal) / lap_gal);
    }
}

#[test]
fn different_events_at_the_same_instant_all_count_and_a_repeat_does_not() {
    // Yellow then red at 7 s: red is in force from 7 s (it arrived later at the same ts),
    // so window 1 [5, 10) is red for 3 s of 5. Two stage ends at one instant move the stage
    // twice; the repeated red changes nothing and is counted as a duplicate event.
    let stage = |ts: i64, n: u32| format!(r#"{{"v":1,"kind":"stage_end","ts":{ts},"stage":{n}}}"#);
    let mut lines = vec![race_start(T0, "s", "")];
    for ts in ticks(T0, T0 + 14_900) {
        if ts == T0 + 7_000 {
            lines.push(flag(ts, "yellow"));
            lines.push(flag(ts, "red"));
            lines.push(flag(ts, "red"));
            lines.push(stage(ts, 1));
            lines.push(stage(ts, 2));
        }
        lines.push(wot("1", ts));
    }
    let r = run(&lines);
    let u = r.car("1");
    assert_eq!(u[1]["flag"], "red");
    let state = r.engine.race_state("s").unwrap();
    assert_eq!(state.flag.as_str(), "red");
    assert_eq!(state.stage, 3);
    assert_eq!(r.engine.counters().duplicate_events, 1);
    assert_eq!(r.engine.counters().events, 6);
}

// ---------------------------------------------------------------------------------------
// Regressions found in review: each input once broke the engine.

#[test]
fn a_ts_near_the_end_of_time_is_rejected_not_wrapped() {
    let lines = vec![
        r#"{"v":1,"car":"1","ts":9223372036854775000,"rpm":9000}"#.to_owned(),
        wot("1", T0),
    ];
    let r = run(&lines);
    assert_eq!(r.rejects.len(), 1);
    assert_eq!(r.rejects[0].1.code, RejectCode::OutOfRange);
    assert_eq!(r.rejects[0].1.field, Some("ts"));
    assert_eq!(r.car("1").len(), 1, "the next record goes on");
}

#[test]
fn the_pit_data_times_a_stop_and_one_no_longer_than_its_tyres_bounds_the_pour_only() {
    // Cars 1, 2, 3: wide open 0 → 899.9 s, pit_in at 900 s, standing still (0 mph, idle
    // at 1 gal/h) 900.0 → 902.9 s, rolling at 903.0 s, pit_out at 903.1 s, wide open
    // after. The telemetry measures 3 s in the box; the pit data says otherwise:
    // - car 1: no tyres, 4.0 s: the fuel's time, 4 × 1.5 = 6 gal;
    // - car 2: two tyres, 5.0 s, just what two take (5 s ± √(0.5² + 0.2²)): z = 0, so
    //   the fuel timed it at odds 1.5 · Φ(0) / (1.5 · Φ(0) + φ(0) / σ · 7.5);
    // - car 3: four tyres, 9.0 s: at most 13.5 gal, more than the room: full.
    let mut lines = vec![race_start(T0, "t", ""), flag(T0, "green")];
    let extra = [
        (r#","tires":0,"box_s":4.0"#, "1"),
        (r#","tires":2,"box_s":5.0"#, "2"),
        (r#","tires":4,"box_s":9.0"#, "3"),
    ];
    for ts in ticks(T0, T0 + 909_900) {
        let ms = ts - T0;
        for (x, car) in extra {
            if ms == 900_000 {
                lines.push(pit_in(ts, car));
            }
            if ms == 903_100 {
                lines.push(pit_out(ts, car, &format!(r#","fuel_added_gal":null{x}"#)));
            }
            lines.push(match ms {
                900_000..=902_900 => idle_in_pit(car, ts, 0.0),
                903_000 => idle_in_pit(car, ts, 20.0),
                _ => wot(car, ts),
            });
        }
    }
    let r = run(&lines);
    assert!(r.rejects.is_empty(), "{:?}", r.rejects);

    // At pit_in: u0 burned, the cell holds 20 − u0 = 7.95 (room 12.05), σ² = (0.04 u0)².
    let u0 = gal(WOT_GPH, 900.0);
    let (base, var0) = (20.0 - u0, (BURN_REL_SD * u0).powi(2));
    // Window [900, 905): 3.1 s idle on pit road, 1.9 s wide open after pit_out.
    let stint = gal(WOT_GPH, 1.9);
    let after = |car: &str| {
        r.car(car)
            .into_iter()
            .find(|u| u["window_start"] == T0 + 900_000)
    };

    // Car 1: 6 gal, σ² = var0 + (0.1 · 6)².
    let c1 = after("1").unwrap();
    approx(&c1, "remaining_gal", base + 6.0 - stint);
    let var1 = var0 + (FILL_REL_SD * 6.0).powi(2);
    approx(
        &c1,
        "remaining_low_gal",
        base + 6.0 - stint - half_band(var1, stint),
    );

    // Car 2: read as the fuel's, 7.5 gal (σ² var0 + 0.75²); as the tyres', anywhere in
    // [0, 7.5] (7.5 × 1.1645 = 8.73 is short of the room): 3.75, σ² var0 + 7.5² / 12.
    // The level is their mixture, its variance both doubts and the readings' distance.
    let sd = (0.5f64 * 0.5 + 0.2 * 0.2).sqrt();
    let phi0 = 1.0 / (2.0 * std::f64::consts::PI).sqrt();
    let (f, t) = (1.5 * 0.5, phi0 / sd * 7.5);
    let w = f / (f + t);
    let (lf, vf) = (base + 7.5, var0 + 0.75f64.powi(2));
    let (lt, vt) = (base + 3.75, var0 + 7.5f64.powi(2) / 12.0);
    let level = w * lf + (1.0 - w) * lt;
    let var2 = w * vf + (1.0 - w) * vt + w * (1.0 - w) * (lf - lt).powi(2);
    let c2 = after("2").unwrap();
    approx(&c2, "remaining_gal", level - stint);
    approx(
        &c2,
        "remaining_high_gal",
        level - stint + half_band(var2, stint),
    );
    assert!(w > 0.1 && w < 0.15, "{w}");

    // Car 3: the time allowed the top, so the stop counts as full; its band reaches
    // down by the doubt that the crew stopped short, up to the top.
    let c3 = after("3").unwrap();
    approx(&c3, "remaining_gal", 20.0 - stint);
    approx(&c3, "remaining_high_gal", 20.0);
    let low = c3["remaining_low_gal"].as_f64().unwrap();
    assert!(low < 20.0 - stint - 1.0, "{low}");
}

#[test]
fn a_late_pit_in_keeps_the_standing_time_measured_before_it() {
    // Wide open for 300 s, then on pit road at idle (1.0 gal/h) from 300 s to 320 s,
    // standing still in the box 302 s → 303 s (1 s at 1.5 gal/s = 1.5 gal, far short of full). The
    // race-control feed lags: pit_in (300 s) and pit_out (306 s) arrive only at 316 s,
    // after the car's windows up to 310 s closed, so both act at 310 s. The fill must
    // still count the 1 s stood before that.
    let mut lines = vec![race_start(T0, "p", "")];
    let mut held_events = vec![pit_in(T0 + 300_000, "1"), pit_out(T0 + 306_000, "1", "")];
    for ts in ticks(T0, T0 + 319_900) {
        if ts == T0 + 316_000 {
            lines.append(&mut held_events);
        }
        if ts < T0 + 300_000 {
            lines.push(wot("1", ts));
        } else {
            let still = (T0 + 302_000..T0 + 303_000).contains(&ts);
            lines.push(idle_in_pit("1", ts, if still { 0.0 } else { 40.0 }));
        }
    }
    let r = run(&lines);
    assert_eq!(r.counters().late_events, 2);
    // At 310 s the cell held 20 − 300 s wide open − 10 s idle; the fill adds 1.5 gal;
    // then 10 s more idle to the last window's end (320 s).
    let at_pit_in = 20.0 - gal(WOT_GPH, 300.0) - gal(IDLE_GPH, 10.0);
    let want = at_pit_in + 1.5 - gal(IDLE_GPH, 10.0);
    let last = r.car("1").pop().unwrap();
    approx(&last, "remaining_gal", want);
    approx(&last, "used_stint_gal", gal(IDLE_GPH, 10.0));
}

#[test]
fn while_the_car_stands_in_its_box_the_band_holds_what_the_crew_may_have_poured() {
    // Wide open for 300 s; pit_in at 300 s; on pit road at idle (1.0 gal/h), rolling
    // 300.0 → 302.9 s, standing 303.0 → 304.9 s, rolling again; pit_out at 308 s
    // (amount unknown); wide open from 308 s. The window [300, 305) closes with the car
    // 2 s into its stop: the contract counts the fill at pit_out, so `remaining_gal`
    // is still the level at pit_in less the idle burn, but the cell may already hold up
    // to 2 s × 1.5 gal/s (at the rate's upper bound, 1 + 1.645 × 10 %) more, and the
    // band's top says so. Its bottom does not move: the crew may not have started.
    let mut lines = vec![race_start(T0, "s", "")];
    for ts in ticks(T0, T0 + 319_900) {
        if ts == T0 + 300_000 {
            lines.push(pit_in(ts, "1"));
        }
        if ts == T0 + 308_000 {
            lines.push(pit_out(ts, "1", r#","fuel_added_gal":null,"full":null"#));
        }
        let ms = ts - T0;
        lines.push(match ms {
            0..300_000 | 308_000.. => wot("1", ts),
            303_000..305_000 => idle_in_pit("1", ts, 0.0),
            _ => idle_in_pit("1", ts, 40.0),
        });
    }
    let r = run(&lines);
    assert!(r.rejects.is_empty(), "{:?}", r.rejects);
    let c = r.car("1");
    let stop = &c[60];
    assert_eq!(stop["window_start"], T0 + 300_000);
    let used = gal(WOT_GPH, 300.0) + gal(IDLE_GPH, 5.0);
    let half = half_band(0.0, used);
    approx(stop, "remaining_gal", 20.0 - used);
    approx(stop, "remaining_low_gal", 20.0 - used - half);
    let pour = 2.0 * FILL_RATE_GPS * (1.0 + Z90 * FILL_REL_SD);
    approx(stop, "remaining_high_gal", 20.0 - used + half + pour);

    // The window before the stop has no pour in its band.
    approx(
        &c[59],
        "remaining_high_gal",
        20.0 - gal(WOT_GPH, 300.0) + half_band(0.0, gal(WOT_GPH, 300.0)),
    );

    // After pit_out the fill is counted on the level at pit_in (2 s × 1.5 = 3 gal,
    // short of the top) and the band is the fill's own doubt again, without the pour
    // of a stop under way.
    let after = &c[61];
    assert_eq!(after["window_start"], T0 + 305_000);
    let used_after = gal(WOT_GPH, 2.0);
    let level = 20.0 - gal(WOT_GPH, 300.0) + 3.0;
    let fill_var = (BURN_REL_SD * gal(WOT_GPH, 300.0)).powi(2) + (FILL_REL_SD * 3.0).powi(2);
    approx(after, "remaining_gal", level - used_after);
    approx(
        after,
        "remaining_high_gal",
        level - used_after + half_band(fill_var, used_after),
    );
}

#[test]
fn standing_on_pit_road_without_a_stop_pours_nothing_into_the_band() {
    // The car idles still on pit road (its samples say `in_pit`) for the first 10 s,
    // with no pit_in: no stop is open, so no crew pours, and the band is the burn's
    // doubt alone.
    let mut lines = vec![race_start(T0, "n", "")];
    for ts in ticks(T0, T0 + 19_900) {
        lines.push(if ts < T0 + 10_000 {
            idle_in_pit("1", ts, 0.0)
        } else {
            wot("1", ts)
        });
    }
    let r = run(&lines);
    for u in r.car("1") {
        let used = u["used_stint_gal"].as_f64().unwrap();
        approx(
            &u,
            "remaining_high_gal",
            (20.0 - used + half_band(0.0, used)).min(20.0),
        );
    }
    // With a stop open, the same 10 s would have raised the top by up to 15 gal.
}

#[test]
fn a_race_control_clock_a_day_ahead_does_not_make_the_race_late() {
    let mut lines = vec![race_start(T0, "c", "")];
    for ts in ticks(T0, T0 + 19_900) {
        if ts == T0 + 5_000 {
            lines.push(flag(T0 + 86_400_000, "yellow"));
        }
        lines.push(wot("1", ts));
    }
    let r = run(&lines);
    assert_eq!(r.counters().late_samples, 0);
    assert_eq!(r.car("1").len(), 4);
}

#[test]
fn a_re_sent_race_start_of_an_older_race_does_not_take_unlabelled_records() {
    let a = r#"{"v":1,"kind":"race_start","ts":1750593600000,"race_id":"A","track":"pocono"}"#;
    let b = r#"{"v":1,"kind":"race_start","ts":1750680000000,"race_id":"B","track":"iowa"}"#;
    let mut lines = vec![a.to_owned()];
    lines.push(wot("1", T0 + 100));
    lines.push(b.to_owned());
    lines.push(a.to_owned());
    for ts in ticks(T0 + 86_400_000, T0 + 86_400_000 + 9_900) {
        lines.push(wot("1", ts));
    }
    let r = run(&lines);
    assert!(r.rejects.is_empty(), "{:?}", r.rejects);
    assert_eq!(r.counters().duplicate_events, 1);
    let in_b = r.updates().filter(|u| u.race_id == "B").count();
    assert_eq!(in_b, 2);
}

#[test]
fn lap_without_lap_frac_is_published_as_the_lap() {
    let mut lines = vec![race_start(T0, "l", r#","scheduled_laps":100"#)];
    for ts in ticks(T0, T0 + 4_900) {
        lines.push(format!(
            r#"{{"v":1,"car":"1","ts":{ts},"lap":42,"rpm":8000,"throttle_pct":100}}"#
        ));
    }
    let r = run(&lines);
    assert_eq!(r.car("1")[0]["lap"], 42.0);
    assert_eq!(r.engine.race_state("l").unwrap().leader_lap, 42.0);
}

#[test]
fn a_lap_with_a_gap_in_the_telemetry_is_not_a_green_lap() {
    // Laps of 50 s; the car's feed drops out for 20 s during its second lap. Lap 1 is a
    // clean green lap; lap 2 is not, so fuel per green lap stays lap 1's.
    let mut lines = vec![race_start(T0, "g", r#","scheduled_laps":100"#)];
    for ts in ticks(T0, T0 + 110_000) {
        if (T0 + 60_000..T0 + 80_000).contains(&ts) {
            continue;
        }
        lines.push(wot_lap("1", ts));
    }
    let r = run(&lines);
    let u = r.car("1");
    let last = u.last().unwrap();
    // One green lap: 50 s at 48.2 gal/h, so laps_to_empty = remaining / that.
    let lap_gal = gal(WOT_GPH, 50.0);
    let remaining = last["remaining_gal"].as_f64().unwrap();
    approx(last, "laps_to_empty", remaining / lap_gal);
}

#[test]
fn a_late_older_flag_does_not_override_a_newer_one() {
    // Yellow at 20 s arrives on time; green at 5 s arrives after the car's windows up to
    // 25 s closed. From the first open window on, yellow (the later flag) is in force.
    let mut lines = vec![race_start(T0, "f2", "")];
    for ts in ticks(T0, T0 + 44_900) {
        if ts == T0 + 20_000 {
            lines.push(flag(ts, "yellow"));
        }
        if ts == T0 + 31_000 {
            lines.push(flag(T0 + 5_000, "green"));
        }
        lines.push(wot("1", ts));
    }
    let r = run(&lines);
    let u = r.car("1");
    for w in &u[5..] {
        assert_eq!(w["flag"], "yellow", "{w}");
    }
    assert_eq!(r.counters().late_events, 1);
}

#[test]
fn mpg_is_null_when_the_published_burn_is_zero() {
    let mut lines = vec![race_start(T0, "z", "")];
    for ts in ticks(T0, T0 + 4_900) {
        lines.push(format!(
            r#"{{"v":1,"car":"1","ts":{ts},"rpm":1,"throttle_pct":0.01,"speed_mph":180}}"#
        ));
    }
    let p = reference_params();
    let mut engine = Engine::new(
        EngineConfig::default(),
        ModelParams {
            hp670: burnbar_core::model::PackageParams {
                idle_gph: 0.0,
                ..p.hp670
            },
            ..p
        },
    );
    let mut out = Vec::new();
    for l in &lines {
        engine.push_line(l.as_bytes(), &mut out).unwrap();
    }
    engine.finish(&mut out);
    let w = wire(&out[0]);
    assert_eq!(w["burn_gal"], 0.0);
    assert!(w["mpg_window"].is_null(), "{w}");
    assert!(w["mpg_stint"].is_null(), "{w}");
}

#[test]
fn a_car_first_seen_behind_the_silent_boundary_is_late() {
    let mut lines = vec![race_start(T0, "s2", "")];
    for ts in ticks(T0, T0 + 90_000) {
        lines.push(wot("1", ts));
    }
    lines.push(wot("2", T0 + 1_000));
    let r = run(&lines);
    assert_eq!(r.counters().late_samples, 1);
    assert!(r.car("2").is_empty());
}

/// A 0.25 mi track (a lap every 5 s) with a 5 gal cell and 80 laps scheduled: cars 1 and
/// 3 leave the line at T0 at 8000 and 9000 rpm; car 4, at 8000 rpm, leaves it one lap
/// (5 s) later and runs a lap down. `extra` lines are added after the samples of the
/// instant they name.
fn final_window_lines(to_ms: i64, extra: &[(i64, String)]) -> Vec<String> {
    let mut lines = vec![
        race_start(
            T0,
            "f",
            r#","track_length_mi":0.25,"scheduled_laps":80,"fuel_capacity_gal":5"#,
        ),
        flag(T0, "green"),
    ];
    for ts in ticks(T0, T0 + to_ms) {
        for (car, rpm, late) in [("1", 8000, 0), ("3", 9000, 0), ("4", 8000, 5_000)] {
            let ms = ts - T0 - late;
            if ms < 0 {
                continue;
            }
            let (lap, frac) = (ms / 5_000, (ms % 5_000) as f64 / 5_000.0);
            lines.push(format!(
                r#"{{"v":1,"car":"{car}","ts":{ts},"lap":{lap},"lap_frac":{frac},"speed_mph":180,"rpm":{rpm},"throttle_pct":100}}"#
            ));
        }
        lines.extend(
            extra
                .iter()
                .filter(|(t, _)| *t == ts)
                .map(|(_, l)| l.clone()),
        );
    }
    lines
}

#[test]
fn in_the_final_window_the_saving_is_counted_from_the_leaders_lap() {
    let r = run(&final_window_lines(34_900, &[]));
    // Window [30, 35), closed at the end of input: cars 1 and 3 at lap 6.98, car 4 at
    // 5.98. The leader's lap is 6.98, so 80 − 6.98 = 73.02 laps are left for everyone,
    // car 4 too: the race ends when the leader takes the flag.
    let left = 80.0 - 6.98;
    let lap_gal = gal(WOT_GPH, 5.0);
    assert!(left * lap_gal <= 5.0, "a full cell reaches the finish");
    for (car, seconds) in [("1", 35.0), ("4", 30.0)] {
        let u = &r.car(car).last().unwrap().clone();
        assert_eq!(u["window_start"], T0 + 30_000);
        let remaining = 5.0 - gal(WOT_GPH, seconds);
        let want = 100.0 * (1.0 - remaining / (left * lap_gal));
        assert!(want > 0.0);
        approx(u, "save_needed_pct", want);
    }
    // From its own lap car 4 would have been charged for one more lap.
    let own = 100.0 * (1.0 - (5.0 - gal(WOT_GPH, 30.0)) / ((80.0 - 5.98) * lap_gal));
    let got = r.car("4").last().unwrap()["save_needed_pct"]
        .as_f64()
        .unwrap();
    assert!(own - got > 0.5, "own lap {own}, leader's lap {got}");
    // Car 3 burns more a lap: 73.02 of its laps need more than the cell holds, so it is
    // not in its final window yet (it must stop again whatever it saves).
    let lap3 = gal(wot_gph_at(9000.0), 5.0);
    assert!(left * lap3 > 5.0);
    assert!(r.car("3").last().unwrap()["save_needed_pct"].is_null());

    // The race's view: the same leader's lap; the fuel window opens where a full cell
    // reaches the finish at the median of the three cars' fuel per green lap (car 1 and
    // car 4 burn alike, so the median is lap_gal); the call threshold rides along.
    let s = r.engine.race_state("f").unwrap();
    approx_f(s.leader_lap, 6.98);
    approx_f(s.laps_to_go.unwrap(), left);
    approx_f(s.fuel_window_lap.unwrap(), 80.0 - 5.0 / lap_gal);
    assert_eq!(s.cant_make_it_pct, 15.0);
}

#[test]
fn the_final_window_holds_until_the_next_pit_out_and_is_then_tested_again() {
    // Car 1 pushes from 30 s on (9000 rpm, 53.04 gal/h): its fuel per green lap climbs
    // from lap_gal to lap9 over its next three laps. It stops at 50 s for a full cell.
    let lap_gal = gal(WOT_GPH, 5.0);
    let lap9 = gal(wot_gph_at(9000.0), 5.0);
    let extra = [
        (T0 + 50_000, pit_in(T0 + 50_000, "1")),
        (
            T0 + 50_000,
            pit_out(T0 + 50_000, "1", r#","fuel_added_gal":0.8,"full":true"#),
        ),
    ];
    let lines: Vec<String> = final_window_lines(59_900, &extra)
        .into_iter()
        .map(|l| {
            let ts: i64 = serde_json::from_str::<Value>(&l).unwrap()["ts"]
                .as_i64()
                .unwrap();
            if l.contains(r#""car":"1","#) && l.contains("rpm") && ts >= T0 + 30_000 {
                l.replace(r#""rpm":8000"#, r#""rpm":9000"#)
            } else {
                l
            }
        })
        .collect();
    let r = run(&lines);
    let by_start = |ws: i64| {
        r.car("1")
            .into_iter()
            .find(|u| u["window_start"] == ws)
            .unwrap()
    };
    // Entered at [25, 30): 80 − 5.98 laps at lap_gal fit in 5 gal.
    assert!((80.0 - 5.98) * lap_gal <= 5.0);
    assert!(by_start(T0 + 20_000)["save_needed_pct"].is_null());
    assert!(!by_start(T0 + 25_000)["save_needed_pct"].is_null());
    // At [45, 50) a fresh test would say no (70.02 laps at lap9 need 5.16 gal), but the
    // car stays in its final window until it stops: the call stands.
    assert!((80.0 - 9.98) * lap9 > 5.0);
    let remaining = 5.0 - gal(WOT_GPH, 30.0) - gal(wot_gph_at(9000.0), 20.0);
    approx(
        &by_start(T0 + 45_000),
        "save_needed_pct",
        100.0 * (1.0 - remaining / ((80.0 - 9.98) * lap9)),
    );
    // After the pit_out the test is made again, and a full cell no longer reaches the
    // finish at lap9: no figure until it does.
    assert!((80.0 - 11.98) * lap9 > 5.0);
    for ws in [T0 + 50_000, T0 + 55_000] {
        assert!(by_start(ws)["save_needed_pct"].is_null(), "window {ws}");
    }
}

#[test]
fn one_sample_far_ahead_neither_ends_the_race_nor_silences_the_calls() {
    // At 30 s a stray sample puts car 9 on lap 79 of 80 (a bad transponder read).
    let stray = r#"{"v":1,"car":"9","ts":1750593630000,"lap":79,"lap_frac":0.5,"speed_mph":180,"rpm":8000,"throttle_pct":100}"#;
    let clean = run(&final_window_lines(34_900, &[]));
    let r = run(&final_window_lines(
        34_900,
        &[(T0 + 30_000, stray.to_string())],
    ));
    for car in ["1", "4"] {
        let (a, b) = (
            clean.car(car).last().unwrap().clone(),
            r.car(car).last().unwrap().clone(),
        );
        assert_eq!(a["save_needed_pct"], b["save_needed_pct"], "car {car}");
        assert!(
            b["save_needed_pct"].as_f64().unwrap() > 0.0,
            "car {car}: {b}"
        );
    }
    let s = r.engine.race_state("f").unwrap();
    approx_f(s.leader_lap, 6.98);
    approx_f(s.laps_to_go.unwrap(), 80.0 - 6.98);
}

#[test]
fn race_control_gives_the_leaders_lap_a_floor() {
    // A yellow at 32 s says the leader is on lap 10 (the telemetry lags, or the leader
    // sends none): laps left count from lap 10 from then on.
    let yellow = r#"{"v":1,"kind":"flag","ts":1750593632000,"flag":"yellow","lap":10}"#;
    let r = run(&final_window_lines(
        34_900,
        &[(T0 + 32_000, yellow.to_string())],
    ));
    let s = r.engine.race_state("f").unwrap();
    approx_f(s.leader_lap, 10.0);
    let u = r.car("1").last().unwrap().clone();
    // The throttle stays open under the yellow: the cell holds 5 − 35 s at WOT_GPH.
    let lap_gal = gal(WOT_GPH, 5.0);
    let remaining = 5.0 - gal(WOT_GPH, 35.0);
    approx(
        &u,
        "save_needed_pct",
        100.0 * (1.0 - remaining / (70.0 * lap_gal)),
    );
}

#[track_caller]
fn approx_f(got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 0.5e-4 + 1e-9,
        "got {got}, want {want:.6}"
    );
}

#[test]
fn a_race_takes_at_most_200_cars_and_the_rest_of_the_field_goes_on() {
    let mut lines = vec![race_start(T0, "m", "")];
    for c in 0..201 {
        lines.push(wot(&c.to_string(), T0 + 100));
    }
    // A pit stop of a further car is refused the same way.
    lines.push(pit_in(T0 + 200, "Z9"));
    for c in 0..201 {
        lines.push(wot(&c.to_string(), T0 + 12_000));
    }
    let r = run(&lines);
    let refused: Vec<(usize, RejectCode, Option<&str>)> = r
        .rejects
        .iter()
        .map(|(i, rej)| (*i, rej.code, rej.field))
        .collect();
    assert_eq!(
        refused,
        [
            (201, RejectCode::TooManyCars, Some("car")),
            (202, RejectCode::TooManyCars, Some("car")),
            (403, RejectCode::TooManyCars, Some("car")),
        ]
    );
    assert_eq!(r.counters().rejected_by["too_many_cars"], 3);
    // The 200 cars run on: each closed its first window.
    assert_eq!(r.engine.cars(), 200);
    let cars: std::collections::BTreeSet<_> = r.updates().map(|u| u.car).collect();
    assert_eq!(cars.len(), 200);
}

#[test]
fn a_race_control_event_72_h_after_the_race_start_is_refused() {
    let lines = vec![
        race_start(T0, "h", ""),
        flag(T0 + 72 * 3_600_000, "yellow"),
        flag(T0 + 72 * 3_600_000 + 1, "red"),
    ];
    let r = run(&lines);
    let refused: Vec<_> = r.rejects.iter().map(|(i, rej)| (*i, rej.code)).collect();
    assert_eq!(refused, [(2, RejectCode::TsInFuture)]);
    let s = r.engine.race_state("h").unwrap();
    assert_eq!((s.flag.as_str(), s.ts), ("yellow", T0 + 72 * 3_600_000));
}
