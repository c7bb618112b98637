//! Reading a simulated race back: spec checks, merged samples, mileage from the truth.
#![allow(dead_code)]

use burnbar_sim::{SimConfig, SimSummary, simulate};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// A race and its truth, as text.
pub struct Run {
    pub out: String,
    pub truth: String,
    pub summary: SimSummary,
}

pub fn run(cfg: &SimConfig) -> Run {
    let (mut out, mut truth) = (Vec::new(), Vec::new());
    let summary = simulate(cfg, &mut out, Some(&mut truth)).expect("simulate");
    Run {
        out: String::from_utf8(out).expect("utf-8"),
        truth: String::from_utf8(truth).expect("utf-8"),
        summary,
    }
}

pub fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn is_int(v: &Value) -> bool {
    v.is_i64() || v.is_u64()
}

fn num_in(o: &Map<String, Value>, k: &str, lo: f64, hi: f64, required: bool) -> Result<(), String> {
    match o.get(k) {
        None | Some(Value::Null) if !required => Ok(()),
        Some(v)
            if v.as_f64()
                .is_some_and(|x| x.is_finite() && (lo..=hi).contains(&x)) =>
        {
            Ok(())
        }
        other => Err(format!("{k}: {other:?}")),
    }
}

fn int_in(o: &Map<String, Value>, k: &str, lo: i64, hi: i64, required: bool) -> Result<(), String> {
    match o.get(k) {
        None | Some(Value::Null) if !required => Ok(()),
        Some(v) if is_int(v) && v.as_i64().is_some_and(|x| (lo..=hi).contains(&x)) => Ok(()),
        other => Err(format!("{k}: {other:?}")),
    }
}

fn car_ok(v: Option<&Value>) -> bool {
    v.and_then(Value::as_str)
        .is_some_and(|s| (1..=4).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// The rules of `telemetry-v1` for one record, checked by hand. `Err` names the problem.
pub fn check_record(line: &str) -> Result<Value, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("json: {e}"))?;
    let o = v.as_object().ok_or("not an object")?;
    if o.get("v") != Some(&Value::from(1)) {
        return Err("v".into());
    }
    int_in(o, "ts", 946_684_800_000, i64::MAX, true)?;
    if let Some(r) = o.get("race_id") {
        let ok = r
            .as_str()
            .is_some_and(|s| (1..=64).contains(&s.chars().count()));
        if !ok {
            return Err("race_id".into());
        }
    }
    let kind = match o.get("kind") {
        None => "sample",
        Some(k) => k.as_str().ok_or("kind")?,
    };
    match kind {
        "sample" => {
            if !car_ok(o.get("car")) {
                return Err("car".into());
            }
            int_in(o, "lap", 0, 2000, false)?;
            if let Some(f) = o.get("lap_frac") {
                let x = f.as_f64().ok_or("lap_frac")?;
                if !(0.0..1.0).contains(&x) {
                    return Err("lap_frac".into());
                }
            }
            num_in(o, "speed_mph", 0.0, 300.0, false)?;
            num_in(o, "rpm", 0.0, 12_000.0, false)?;
            num_in(o, "throttle_pct", -5.0, 105.0, false)?;
            num_in(o, "brake_psi", 0.0, 3_000.0, false)?;
            int_in(o, "gear", 0, 6, false)?;
            num_in(o, "gap_ahead_s", 0.0, 600.0, false)?;
            if o.get("in_pit")
                .is_some_and(|b| !b.is_boolean() && !b.is_null())
            {
                return Err("in_pit".into());
            }
            if !["speed_mph", "rpm", "throttle_pct"]
                .iter()
                .any(|k| o.get(*k).is_some_and(|x| !x.is_null()))
            {
                return Err("empty sample".into());
            }
        }
        "race_start" => {
            o.get("race_id").and_then(Value::as_str).ok_or("race_id")?;
            o.get("track").and_then(Value::as_str).ok_or("track")?;
            num_in(o, "track_length_mi", 0.1, 10.0, true)?;
            int_in(o, "scheduled_laps", 1, 2000, true)?;
            num_in(o, "fuel_capacity_gal", 1.0, 100.0, true)?;
            let cars = o.get("cars").and_then(Value::as_array).ok_or("cars")?;
            if !cars.iter().all(|c| car_ok(Some(c))) {
                return Err("cars".into());
            }
            let drivers = o
                .get("drivers")
                .and_then(Value::as_object)
                .ok_or("drivers")?;
            if drivers.len() != cars.len() || !drivers.values().all(Value::is_string) {
                return Err("drivers".into());
            }
        }
        "flag" => {
            let f = o.get("flag").and_then(Value::as_str).ok_or("flag")?;
            if !["green", "yellow", "red", "white", "checkered"].contains(&f) {
                return Err("flag".into());
            }
            int_in(o, "lap", 0, 2000, false)?;
        }
        "pit_in" | "car_out" => {
            if !car_ok(o.get("car")) {
                return Err("car".into());
            }
            int_in(o, "lap", 0, 2000, false)?;
            if let Some(r) = o.get("reason")
                && !r.is_string()
            {
                return Err("reason".into());
            }
        }
        "pit_out" => {
            if !car_ok(o.get("car")) {
                return Err("car".into());
            }
            int_in(o, "lap", 0, 2000, false)?;
            num_in(o, "fuel_added_gal", 0.0, 100.0, false)?;
            int_in(o, "tires", 0, 4, false)?;
            num_in(o, "box_s", 0.0, 3_600.0, false)?;
            if o.get("full")
                .is_some_and(|b| !b.is_boolean() && !b.is_null())
            {
                return Err("full".into());
            }
        }
        "incident" => {
            let cars = o.get("cars").and_then(Value::as_array).ok_or("cars")?;
            if cars.is_empty() || !cars.iter().all(|c| car_ok(Some(c))) {
                return Err("cars".into());
            }
            int_in(o, "lap", 0, 2000, false)?;
        }
        "stage_end" => {
            int_in(o, "stage", 1, 20, true)?;
            int_in(o, "lap", 0, 2000, false)?;
        }
        other => return Err(format!("kind {other}")),
    }
    Ok(v)
}

/// Valid samples merged per `(car, ts)`, first value wins (the spec's rule 3).
pub fn merged_samples(out: &str) -> BTreeMap<(String, i64), Map<String, Value>> {
    let mut m: BTreeMap<(String, i64), Map<String, Value>> = BTreeMap::new();
    for line in out.lines() {
        let Ok(v) = check_record(line) else { continue };
        let o = v.as_object().unwrap();
        if o.get("kind").is_some() {
            continue;
        }
        let key = (
            o["car"].as_str().unwrap().to_string(),
            o["ts"].as_i64().unwrap(),
        );
        let entry = m.entry(key).or_default();
        for (k, val) in o {
            entry.entry(k.clone()).or_insert_with(|| val.clone());
        }
    }
    m
}

/// Race-control events in order.
pub fn events(out: &str) -> Vec<Value> {
    out.lines()
        .filter(|l| l.contains("\"kind\""))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("kind").is_some())
        .collect()
}

/// Fuel mileage read off the truth, by flag, away from pit road.
#[derive(Debug, Default, Clone, Copy)]
pub struct Mileage {
    pub green_miles: f64,
    pub green_gal: f64,
    pub caution_miles: f64,
    pub caution_gal: f64,
    pub length_mi: f64,
}

impl Mileage {
    pub fn green_mpg(&self) -> f64 {
        self.green_miles / self.green_gal
    }
    pub fn caution_mpg(&self) -> f64 {
        self.caution_miles / self.caution_gal
    }
    /// Green laps on a 20-gallon cell.
    pub fn laps_per_tank(&self) -> f64 {
        20.0 * self.green_mpg() / self.length_mi
    }
}

pub fn mileage(run: &Run, window_ms: i64) -> Mileage {
    let evs = events(&run.out);
    let length_mi = evs[0]["track_length_mi"].as_f64().unwrap();
    let flags: Vec<(i64, String)> = evs
        .iter()
        .filter(|e| e["kind"] == "flag")
        .map(|e| {
            (
                e["ts"].as_i64().unwrap(),
                e["flag"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // The flag over [a, b) if it does not change inside.
    let flag_over = |a: i64, b: i64| -> Option<String> {
        let mut cur = "green".to_string();
        for (ts, f) in &flags {
            if *ts <= a {
                cur = f.clone();
            } else if *ts < b {
                return None;
            }
        }
        Some(cur)
    };
    let samples = merged_samples(&run.out);
    let mut in_pit: BTreeSet<(String, i64)> = BTreeSet::new();
    let mut slow: BTreeSet<(String, i64)> = BTreeSet::new();
    for ((car, ts), s) in &samples {
        let we = ts - ts.rem_euclid(window_ms) + window_ms;
        if s.get("in_pit") == Some(&Value::Bool(true)) {
            in_pit.insert((car.clone(), we));
        }
        if s.get("rpm").and_then(Value::as_f64) == Some(0.0) {
            // Engine off: wrecked or out of fuel.
            slow.insert((car.clone(), we));
        }
    }
    let mut last: BTreeMap<String, (i64, f64)> = BTreeMap::new();
    let mut m = Mileage {
        length_mi,
        ..Mileage::default()
    };
    for t in json_lines(&run.truth) {
        let Some(ts) = t.get("ts").and_then(Value::as_i64) else {
            continue;
        };
        let car = t["car"].as_str().unwrap().to_string();
        let lap = t["lap"].as_f64().unwrap();
        let burned = t["burned_gal"].as_f64().unwrap();
        if let Some(&(pts, plap)) = last.get(&car)
            && pts == ts - window_ms
            && !in_pit.contains(&(car.clone(), ts))
            && !slow.contains(&(car.clone(), ts))
        {
            let miles = (lap - plap) * length_mi;
            match flag_over(ts - window_ms, ts).as_deref() {
                Some("green") | Some("white") => {
                    m.green_miles += miles;
                    m.green_gal += burned;
                }
                Some("yellow") => {
                    m.caution_miles += miles;
                    m.caution_gal += burned;
                }
                _ => {}
            }
        }
        last.insert(car, (ts, lap));
    }
    m
}
