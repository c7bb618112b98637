//! Odd but valid configs still make a valid race.

mod common;

use burnbar_sim::SimConfig;
use common::{check_record, json_lines, run};

fn valid(cfg: SimConfig) -> common::Run {
    let r = run(&cfg);
    for line in r.out.lines() {
        check_record(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
    let truth = json_lines(&r.truth);
    assert!(!truth.is_empty());
    for t in truth.iter().filter(|t| t.get("ts").is_some()) {
        assert_eq!(t["ts"].as_i64().unwrap() % cfg.window_ms, 0, "{t}");
        let rem = t["remaining_gal"].as_f64().unwrap();
        assert!((0.0..=20.0).contains(&rem));
    }
    assert_eq!(r.summary.laps, cfg.laps.unwrap());
    r
}

#[test]
fn one_car_one_lap_one_hertz() {
    let r = valid(SimConfig {
        track: "iowa".into(),
        laps: Some(1),
        cars: 1,
        hz: 1,
        ..SimConfig::default()
    });
    assert!(!r.out.contains("gap_ahead_s"), "a lone car leads");
    assert!(r.out.contains("\"checkered\""));
}

#[test]
fn a_full_field_at_100_hz_with_odd_windows() {
    let r = valid(SimConfig {
        track: "martinsville".into(),
        laps: Some(2),
        cars: 99,
        hz: 100,
        window_ms: 3_333,
        ..SimConfig::default()
    });
    let start: serde_json::Value = serde_json::from_str(r.out.lines().next().unwrap()).unwrap();
    let mut cars: Vec<&str> = start["cars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    cars.dedup();
    assert_eq!(cars.len(), 99);
}

#[test]
fn three_hertz_ticks_and_the_default_track() {
    let r = valid(SimConfig {
        track: "DEFAULT".into(),
        laps: Some(3),
        cars: 3,
        hz: 3,
        seed: 0,
        ..SimConfig::default()
    });
    assert!(r.out.starts_with(
        "{\"v\":1,\"kind\":\"race_start\",\"ts\":1750593600000,\"race_id\":\"sim-default-0\""
    ));
}
