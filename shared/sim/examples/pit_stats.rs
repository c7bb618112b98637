//! Runs one race and prints its pit stops: `box_s` by kind of stop, which job timed them,
//! and how the stationary time the samples show compares with `box_s`.
//!
//! `cargo run --release -p burnbar-sim --example pit_stats -- [track] [laps] [cars] [hz] [seed]`

use burnbar_sim::{SimConfig, Simulation};
use serde::Deserialize;
use std::collections::BTreeMap;

/// A stint line of the truth: the stop that ended it.
#[derive(Deserialize)]
struct Stop {
    added_gal: Option<f64>,
    tires: Option<u8>,
    box_s: Option<f64>,
    fuel_s: Option<f64>,
    tire_s: Option<f64>,
}

/// What a line says, as far as this needs.
#[derive(Deserialize)]
struct Line {
    kind: Option<String>,
    car: Option<String>,
    ts: i64,
    speed_mph: Option<f64>,
    in_pit: Option<bool>,
    box_s: Option<f64>,
}

fn quantiles(v: &mut [f64]) -> String {
    if v.is_empty() {
        return "-".into();
    }
    v.sort_by(f64::total_cmp);
    let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    format!(
        "min {:5.1}  p10 {:5.1}  median {:5.1}  p90 {:5.1}  max {:5.1}",
        q(0.0),
        q(0.1),
        q(0.5),
        q(0.9),
        q(1.0)
    )
}

fn kind(s: &Stop) -> &'static str {
    match (s.tires.unwrap_or(0), s.added_gal.unwrap_or(0.0)) {
        (4, a) if a >= 12.0 => "four tyres, fill >= 12 gal",
        (4, _) => "four tyres, fill < 12 gal",
        (2, _) => "two tyres",
        (0, _) => "fuel only",
        _ => "one or three tyres",
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).cloned();
    let cfg = SimConfig {
        track: arg(0).unwrap_or_else(|| "pocono".into()),
        laps: arg(1).and_then(|s| s.parse().ok()),
        cars: arg(2).and_then(|s| s.parse().ok()).unwrap_or(40),
        hz: arg(3).and_then(|s| s.parse().ok()).unwrap_or(10),
        seed: arg(4).and_then(|s| s.parse().ok()).unwrap_or(1),
        ..SimConfig::default()
    };
    let mut sim = Simulation::new(&cfg).expect("config");
    sim.record_truth();
    // Stationary time per car since its last pit_out, from the samples (each held until
    // the next, at most 1 s), and the event's box_s, per stop.
    let mut last: BTreeMap<String, (i64, bool)> = BTreeMap::new();
    let mut still: BTreeMap<String, i64> = BTreeMap::new();
    let mut seen: Vec<(f64, f64)> = Vec::new();
    for (_, text) in sim.by_ref() {
        let Ok(l) = serde_json::from_str::<Line>(&text) else {
            continue;
        };
        let Some(car) = l.car else { continue };
        match l.kind.as_deref() {
            None => {
                if let Some((ts, true)) = last.get(&car) {
                    *still.entry(car.clone()).or_default() += (l.ts - ts).min(1_000);
                }
                let s = l.in_pit == Some(true) && l.speed_mph.is_some_and(|v| v < 1.0);
                last.insert(car, (l.ts, s));
            }
            Some("pit_out") => {
                let ms = still.remove(&car).unwrap_or(0);
                seen.push((ms as f64 / 1000.0, l.box_s.unwrap_or(f64::NAN)));
            }
            _ => {}
        }
    }
    let truth = sim.take_truth();
    let stops: Vec<Stop> = truth
        .iter()
        .filter(|t| t.contains("\"stint_start\""))
        .filter_map(|t| serde_json::from_str::<Stop>(t).ok())
        .filter(|s| s.tires.is_some())
        .collect();
    let s = sim.summary();
    println!(
        "{}: {} laps, {} cars, {} pit stops",
        s.race_id, s.laps, cfg.cars, s.pit_stops
    );
    let mut by_kind: BTreeMap<&str, (Vec<f64>, usize)> = BTreeMap::new();
    for st in &stops {
        let e = by_kind.entry(kind(st)).or_default();
        e.0.push(st.box_s.unwrap_or(0.0));
        if st.fuel_s >= st.tire_s {
            e.1 += 1;
        }
    }
    println!("box_s (s) by kind of stop, and the share timed by the fuel:");
    for (k, (mut v, fuel)) in by_kind {
        let n = v.len();
        println!(
            "  {k:28} n {n:4}  {}  timed by fuel {:5.1} %",
            quantiles(&mut v),
            100.0 * fuel as f64 / n as f64
        );
    }
    let fuel = stops.iter().filter(|s| s.fuel_s >= s.tire_s).count();
    println!(
        "all stops: {} timed by the fuel, {} by the tyres",
        fuel,
        stops.len() - fuel
    );
    let mut gap: Vec<f64> = stops
        .iter()
        .filter(|s| s.tires == Some(4) && s.added_gal.unwrap_or(0.0) >= 12.0)
        .map(|s| s.fuel_s.unwrap_or(0.0) - s.tire_s.unwrap_or(0.0))
        .collect();
    println!(
        "four tyres, fill >= 12 gal: fuel job minus tyre job (s): {}",
        quantiles(&mut gap)
    );
    // The samples' stationary time against box_s, per stop (the event's 0.1 s).
    let mut diff: Vec<f64> = seen.iter().map(|(still, b)| still - b).collect();
    println!(
        "stationary time in the samples minus box_s (s): {}",
        quantiles(&mut diff)
    );
}
