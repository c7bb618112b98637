//! Pit stops as crews make them: the fuel and the tyres side by side, the longer job
//! timing the stop, each crew at its own speed; `pit_out` with the official pit data
//! (`tires`, `box_s`), or without it; the truth's record of every stop.

mod common;

use burnbar_sim::SimConfig;
use common::{Run, json_lines, run};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// A full Pocono race, 12 cars at 2 Hz: green-flag stops for a full cell, stops under
/// caution with small fills, late splashes (fuel only, two tyres, four).
fn cfg() -> SimConfig {
    SimConfig {
        track: "pocono".into(),
        laps: Some(160),
        cars: 12,
        hz: 2,
        seed: 2,
        ..SimConfig::default()
    }
}

fn race() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| run(&cfg()))
}

/// One stop: the truth's line of the stint it ended, its `pit_out` event, and the time
/// its samples show the car still on pit road (each sample held for one period).
struct Stop {
    truth: Value,
    event: Value,
    /// The event's line as written.
    line: String,
    still_s: f64,
}

impl Stop {
    fn f(&self, k: &str) -> f64 {
        self.truth[k]
            .as_f64()
            .unwrap_or_else(|| panic!("{k}: {}", self.truth))
    }
    fn tires(&self) -> u64 {
        self.truth["tires"].as_u64().unwrap()
    }
    fn full(&self) -> bool {
        self.truth["full"] == true
    }
}

fn stops(r: &Run, hz: u32) -> Vec<Stop> {
    // Still samples by car, in order.
    let mut still: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for l in r.out.lines().filter(|l| l.contains("\"in_pit\":true")) {
        let s: Value = serde_json::from_str(l).unwrap();
        if s["speed_mph"].as_f64().unwrap() < 1.0 {
            still
                .entry(s["car"].as_str().unwrap().into())
                .or_default()
                .push(s["ts"].as_i64().unwrap());
        }
    }
    let truth = json_lines(&r.truth);
    let mut last_out: BTreeMap<String, i64> = BTreeMap::new();
    let mut out = Vec::new();
    for line in r.out.lines().filter(|l| l.contains("\"kind\":\"pit_out\"")) {
        let e: Value = serde_json::from_str(line).unwrap();
        let car = e["car"].as_str().unwrap().to_string();
        let ts = e["ts"].as_i64().unwrap();
        let since = last_out.insert(car.clone(), ts).unwrap_or(i64::MIN);
        let n = still
            .get(&car)
            .map_or(0, |v| v.iter().filter(|&&t| t > since && t <= ts).count());
        let t = truth
            .iter()
            .find(|t| t["car"] == car.as_str() && t["stint_end"] == ts)
            .unwrap_or_else(|| panic!("no stint ends at {e}"))
            .clone();
        out.push(Stop {
            truth: t,
            event: e,
            line: line.to_owned(),
            still_s: n as f64 / hz as f64,
        });
    }
    out
}

fn race_stops() -> &'static [Stop] {
    static STOPS: OnceLock<Vec<Stop>> = OnceLock::new();
    STOPS.get_or_init(|| stops(race(), cfg().hz))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
fn every_stop_lasts_as_long_as_its_longer_job_and_pit_out_says_so() {
    let stops = race_stops();
    assert!(stops.len() >= 50, "{} stops", stops.len());
    let period = 1.0 / cfg().hz as f64;
    for s in stops {
        let (box_s, fuel_s, tire_s) = (s.f("box_s"), s.f("fuel_s"), s.f("tire_s"));
        // The longer job, the jack (0.1 to 0.3 s), to the simulation's step (0.1 s).
        let over = box_s - fuel_s.max(tire_s);
        assert!((0.1 - 1e-6..0.4 + 1e-6).contains(&over), "{}", s.truth);
        // The fuel job: 1.2 to 1.8 s of dead time, then the crew's rate (1.5 gal/s
        // within 8 %, within 3 % more at a stop).
        let added = s.f("added_gal");
        let (fast, slow) = (1.5 * 1.08 * 1.03, 1.5 * 0.92 * 0.97);
        assert!(
            (1.2 + added / fast - 1e-6..=1.8 + added / slow + 1e-6).contains(&fuel_s),
            "{}",
            s.truth
        );
        // The event: the same tyres, box_s to a tenth, and the samples agree within a
        // sample period.
        assert_eq!(s.event["tires"], s.truth["tires"], "{}", s.event);
        let ev = s.event["box_s"].as_f64().unwrap();
        assert!(
            (ev - box_s).abs() <= 0.05 + 1e-9,
            "{} vs {}",
            s.event,
            s.truth
        );
        let raw = s.line.split("\"box_s\":").nth(1).unwrap();
        assert_eq!(
            raw.split(['.', '}']).nth(1).map(str::len),
            Some(1),
            "{}",
            s.line
        );
        assert!(
            (s.still_s - ev).abs() <= period + 0.05,
            "{} s still in the samples: {}",
            s.still_s,
            s.event
        );
    }
}

#[test]
fn a_four_tyre_full_fill_is_timed_by_the_fuel_and_stands_as_long_as_the_pour() {
    let big: Vec<&Stop> = race_stops()
        .iter()
        .filter(|s| s.tires() == 4 && s.full() && s.f("added_gal") >= 12.0)
        .collect();
    assert!(big.len() >= 10, "{} four-tyre full fills", big.len());
    for s in &big {
        let (box_s, added, tire_s) = (s.f("box_s"), s.f("added_gal"), s.f("tire_s"));
        assert!(box_s > tire_s + 1.5, "{}", s.truth);
        // Dead time plus the pour at 1.5 gal/s (the crew within 8 %, the stop within
        // 3 %), the jack and a step.
        let pour = added / 1.5;
        let want = 1.5 + pour + 0.25;
        assert!(
            (box_s - want).abs() <= 0.12 * pour + 0.5,
            "{added} gal in {box_s} s: {}",
            s.truth
        );
    }
    // About 3 to 5 s longer than the tyres, as a full fill from low fuel is.
    let gap = median(big.iter().map(|s| s.f("box_s") - s.f("tire_s")).collect());
    assert!(
        (2.5..6.5).contains(&gap),
        "median {gap} s longer than the tyres"
    );
}

#[test]
fn a_short_fill_with_four_tyres_is_timed_by_the_tyres() {
    let short: Vec<&Stop> = race_stops()
        .iter()
        .filter(|s| s.tires() == 4 && s.f("added_gal") < 4.0)
        .collect();
    assert!(short.len() >= 5, "{} four-tyre short fills", short.len());
    for s in &short {
        let (box_s, tire_s, fuel_s) = (s.f("box_s"), s.f("tire_s"), s.f("fuel_s"));
        assert!(tire_s > fuel_s + 1.0, "{}", s.truth);
        assert!(box_s - tire_s < 0.4 + 1e-6, "{}", s.truth);
        // Four tyres: about 9 s, the crew within 10 %, the stop within 8 %.
        assert!((7.3..11.2).contains(&box_s), "{}", s.truth);
        // So the standing time says more than was poured: by the time it stood, a crew
        // could have poured several gallons more.
        assert!(1.5 * (box_s - 1.5) > s.f("added_gal") + 3.0, "{}", s.truth);
    }
}

#[test]
fn a_fuel_only_splash_is_short() {
    let splashes: Vec<&Stop> = race_stops()
        .iter()
        .filter(|s| s.tires() == 0 && !s.full())
        .collect();
    assert!(!splashes.is_empty(), "no fuel-only splash");
    for s in &splashes {
        let (box_s, added) = (s.f("box_s"), s.f("added_gal"));
        assert_eq!(s.f("tire_s"), 0.0);
        // A few seconds plus the pour.
        assert!(
            box_s <= 1.8 + added / 1.5 * 1.12 + 0.4,
            "{added} gal in {box_s} s"
        );
        if added < 6.0 {
            assert!(box_s < 6.5, "{}", s.truth);
        }
    }
    // Late splashes are mostly fuel only or two tyres.
    let late: Vec<u64> = race_stops()
        .iter()
        .filter(|s| !s.full())
        .map(Stop::tires)
        .collect();
    let light = late.iter().filter(|&&t| t <= 2).count();
    assert!(2 * light > late.len(), "tyres at late splashes: {late:?}");
}

#[test]
fn stops_take_mostly_four_two_or_no_tyres_and_green_stops_four() {
    let stops = race_stops();
    let even = stops.iter().filter(|s| s.tires() % 2 == 0).count();
    assert!(stops.iter().all(|s| s.tires() <= 4));
    assert!(even * 100 >= stops.len() * 95, "{even} of {}", stops.len());
    let four_full = stops
        .iter()
        .filter(|s| s.full() && s.f("added_gal") >= 15.0)
        .map(|s| (s.tires() == 4) as u32)
        .collect::<Vec<_>>();
    let n4: u32 = four_full.iter().sum();
    assert!(
        n4 as usize * 10 >= four_full.len() * 7,
        "{n4} of {} big fills with four tyres",
        four_full.len()
    );
}

/// The between-car spread of per-car means against what the stop-to-stop spread alone
/// would give them (a one-way analysis of variance): well above 1 when each car keeps a
/// speed of its own.
fn f_ratio(by_car: &BTreeMap<String, Vec<f64>>) -> f64 {
    let groups: Vec<&Vec<f64>> = by_car.values().filter(|v| v.len() >= 2).collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (mut ss, mut dof, mut n) = (0.0, 0usize, 0usize);
    for v in &groups {
        let m = mean(v);
        ss += v.iter().map(|x| (x - m).powi(2)).sum::<f64>();
        dof += v.len() - 1;
        n += v.len();
    }
    let within = ss / dof as f64;
    let means: Vec<f64> = groups.iter().map(|v| mean(v)).collect();
    let grand = mean(&means);
    let between = means.iter().map(|m| (m - grand).powi(2)).sum::<f64>() / (means.len() - 1) as f64;
    between / (within / (n as f64 / groups.len() as f64))
}

#[test]
fn crews_differ_and_each_keeps_its_speed_all_race() {
    // Each car's fill rate at its bigger fills (dead time about 1.5 s) and tyre speed
    // against the usual time of the change.
    let (mut rate, mut tyres): (BTreeMap<String, Vec<f64>>, BTreeMap<String, Vec<f64>>) =
        Default::default();
    for s in race_stops() {
        let car = s.truth["car"].as_str().unwrap().to_string();
        if s.f("added_gal") >= 8.0 {
            let r = s.f("added_gal") / (s.f("fuel_s") - 1.5);
            rate.entry(car.clone()).or_default().push(r.ln());
        }
        let usual = match s.tires() {
            0 => continue,
            2 => 5.0,
            4 => 9.0,
            _ => 4.0,
        };
        tyres
            .entry(car)
            .or_default()
            .push((s.f("tire_s") / usual).ln());
    }
    for (name, by_car) in [("fill rate", &rate), ("tyre speed", &tyres)] {
        assert!(by_car.len() >= 8, "{name}: {} cars", by_car.len());
        let f = f_ratio(by_car);
        assert!(f > 4.0, "{name}: F {f}");
        let means: Vec<f64> = by_car
            .values()
            .map(|v| v.iter().sum::<f64>() / v.len() as f64)
            .collect();
        let spread = means.iter().cloned().fold(f64::MIN, f64::max)
            - means.iter().cloned().fold(f64::MAX, f64::min);
        assert!((0.03..0.3).contains(&spread), "{name}: spread {spread}");
    }
}

/// A short race with stops, and the same race written without pit data.
fn small(pit_detail: bool, live: bool) -> Run {
    run(&SimConfig {
        track: "iowa".into(),
        laps: Some(60),
        cars: 6,
        hz: 2,
        seed: 5,
        live,
        pit_detail,
        ..SimConfig::default()
    })
}

#[test]
fn without_pit_data_pit_out_leaves_out_tires_and_box_s() {
    for live in [false, true] {
        let with = small(true, live);
        let without = small(false, live);
        let outs = |r: &Run| -> Vec<String> {
            r.out
                .lines()
                .filter(|l| l.contains("\"pit_out\""))
                .map(str::to_owned)
                .collect()
        };
        assert!(!outs(&with).is_empty());
        for l in outs(&with) {
            // After the fill's fields, as the official pit data adds them.
            let fill = if live {
                [",\"fuel_added_gal\":null,\"full\":null,\"tires\":"; 2]
            } else {
                [",\"full\":true,\"tires\":", ",\"full\":false,\"tires\":"]
            };
            assert!(fill.iter().any(|f| l.contains(f)), "{l}");
            assert!(l.contains(",\"box_s\":") && l.ends_with('}'), "{l}");
        }
        for l in outs(&without) {
            assert!(!l.contains("tires") && !l.contains("box_s"), "{l}");
        }
        // Otherwise the same race, byte for byte, and the same truth.
        let strip = |s: &str| -> String {
            s.lines()
                .map(|l| match l.find(",\"tires\":") {
                    Some(i) => format!("{}}}\n", &l[..i]),
                    None => format!("{l}\n"),
                })
                .collect()
        };
        assert_eq!(strip(&with.out), without.out);
        assert_eq!(with.truth, without.truth);
    }
}

#[test]
fn the_same_seed_gives_the_same_stops_byte_for_byte() {
    let (a, b) = (small(true, false), small(true, false));
    assert_eq!(a.out, b.out);
    assert_eq!(a.truth, b.truth);
    let pit_outs = |r: &Run| -> Vec<String> {
        r.out
            .lines()
            .filter(|l| l.contains("\"box_s\""))
            .map(str::to_owned)
            .collect()
    };
    assert!(!pit_outs(&a).is_empty());
    let other = run(&SimConfig {
        seed: 6,
        ..SimConfig {
            track: "iowa".into(),
            laps: Some(60),
            cars: 6,
            hz: 2,
            ..SimConfig::default()
        }
    });
    assert_ne!(pit_outs(&a), pit_outs(&other), "another seed, other stops");
}
