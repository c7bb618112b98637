//! The output against its contract: every `FuelUpdate` of generated races (pits of every
//! fill kind, a caution, a car_out, split channels) validates against
//! `fuel-update-v1.schema.json`, every `RaceState` against `race-state-v1.schema.json`,
//! and every number is written with at most 4 decimals.

mod common;

use burnbar_core::{Engine, FuelUpdate};
use common::{RACE, RaceGen, engine, generate};
use jsonschema::Validator;
use serde_json::Value;

const FUEL_UPDATE_SCHEMA: &str =
    include_str!("../../../tests/spec/schema/fuel-update-v1.schema.json");
const RACE_STATE_SCHEMA: &str =
    include_str!("../../../tests/spec/schema/race-state-v1.schema.json");

fn validator(schema: &str) -> Validator {
    let schema: Value = serde_json::from_str(schema).expect("the schema is JSON");
    jsonschema::draft202012::new(&schema).expect("the schema compiles")
}

/// Every schema violation of one serialized record, or none.
fn violations(v: &Validator, text: &str) -> Vec<String> {
    let instance: Value = serde_json::from_str(text).expect("the output is JSON");
    v.iter_errors(&instance)
        .map(|e| format!("{} (at {})", e, e.instance_path))
        .collect()
}

#[track_caller]
fn assert_valid(v: &Validator, text: &str) {
    let errors = violations(v, text);
    assert!(errors.is_empty(), "{text}\n{errors:#?}");
}

/// The number tokens of a JSON text (outside strings), as written.
fn numbers(text: &str) -> Vec<&str> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut in_string) = (0, false);
    while i < b.len() {
        let c = b[i];
        if in_string {
            match c {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
        } else if c == b'"' {
            in_string = true;
            i += 1;
        } else if c == b'-' || c.is_ascii_digit() {
            let start = i;
            while i < b.len() && matches!(b[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
                i += 1;
            }
            out.push(&text[start..i]);
        } else {
            i += 1;
        }
    }
    out
}

/// "Numbers are finite and written with at most 4 decimals" (fuel-update-v1): no
/// exponent, at most 4 digits after the point.
#[track_caller]
fn assert_four_decimals(text: &str) {
    for n in numbers(text) {
        assert!(
            !n.contains(['e', 'E']),
            "{n} is written with an exponent in {text}"
        );
        if let Some((_, frac)) = n.split_once('.') {
            assert!(frac.len() <= 4, "{n} has more than 4 decimals in {text}");
        }
    }
}

#[test]
fn the_number_scanner_sees_every_number() {
    assert_eq!(
        numbers(r#"{"a":1,"b":-0.12345,"c":"x1.5\"2","d":[2e-7,3.0],"e":null}"#),
        ["1", "-0.12345", "2e-7", "3.0"]
    );
}

#[test]
fn the_validators_are_not_vacuous() {
    let v = validator(FUEL_UPDATE_SCHEMA);
    let good = r#"{"v":1,"race_id":"g","car":"19","seq":350118720,"window_start":1750593600000,"window_end":1750593605000,"lap":0.098,"flag":"green","in_pit":false,"samples":50,"miles":0.25,"burn_gal":0.0669,"burn_rate_gph":48.2,"mpg_window":3.7344,"mpg_lap":null,"mpg_stint":3.7344,"used_stint_gal":0.0669,"used_race_gal":0.0669,"remaining_gal":19.9331,"remaining_low_gal":19.9287,"remaining_high_gal":19.9375,"laps_to_empty":null,"save_needed_pct":null,"burn_index":null,"mode":"normal","model":"physics"}"#;
    assert_valid(&v, good);
    for (from, to) in [
        (r#""flag":"green""#, r#""flag":"purple""#),
        (r#""samples":50"#, r#""samples":0"#),
        (r#""car":"19""#, r#""car":"19-a""#),
        (r#""mpg_lap":null,"#, ""),
        (r#""remaining_gal":19.9331"#, r#""remaining_gal":-1"#),
    ] {
        let bad = good.replace(from, to);
        assert!(!violations(&v, &bad).is_empty(), "{to} should be refused");
    }
    let s = validator(RACE_STATE_SCHEMA);
    assert!(!violations(&s, r#"{"v":1}"#).is_empty());
}

/// Replays a race, validating every update as it is published and the race's state
/// after every race-control event, every 50 records and at the end.
fn check_race(
    lines: &[String],
    race_id: &str,
    fuel: &Validator,
    state: &Validator,
) -> Vec<FuelUpdate> {
    let mut e: Engine = engine();
    let mut all = Vec::new();
    let mut out = Vec::new();
    let check_state = |e: &Engine| {
        if let Some(rs) = e.race_state(race_id) {
            let text = serde_json::to_string(&rs).expect("a RaceState serializes");
            assert_valid(state, &text);
            assert_four_decimals(&text);
        }
    };
    for (i, line) in lines.iter().enumerate() {
        out.clear();
        e.push_line(line.as_bytes(), &mut out)
            .unwrap_or_else(|r| panic!("{line}: {r}"));
        for u in &out {
            let text = serde_json::to_string(u).expect("a FuelUpdate serializes");
            assert_valid(fuel, &text);
            assert_four_decimals(&text);
        }
        all.append(&mut out);
        if line.contains(r#""kind":"#) && !line.contains(r#""kind":"sample""#) || i % 50 == 0 {
            check_state(&e);
        }
    }
    e.finish(&mut out);
    for u in &out {
        let text = serde_json::to_string(u).expect("a FuelUpdate serializes");
        assert_valid(fuel, &text);
        assert_four_decimals(&text);
    }
    all.append(&mut out);
    check_state(&e);
    all
}

#[test]
fn every_update_and_race_state_of_generated_races_follows_the_schema() {
    let fuel = validator(FUEL_UPDATE_SCHEMA);
    let state = validator(RACE_STATE_SCHEMA);
    let mut all = Vec::new();
    for (seed, capacity_gal) in [(7, 20.0), (11, 18.0), (23, 0.5)] {
        let g = RaceGen {
            seed,
            cars: 5,
            secs: 150,
            capacity_gal,
            caution: true,
            pits: true,
            car_out: true,
            split: true,
        };
        let lines: Vec<String> = generate(&g).into_iter().map(|l| l.text).collect();
        all.extend(check_race(&lines, RACE, &fuel, &state));
    }
    // The races reach every branch of the schema worth reaching: pits, cautions, figures
    // that need green laps, an empty cell.
    let has = |what: &str, f: &dyn Fn(&FuelUpdate) -> bool| {
        assert!(all.iter().any(f), "no update with {what}");
    };
    has("in_pit", &|u| u.in_pit);
    has("a caution", &|u| u.flag.is_caution());
    has("mpg_lap", &|u| u.mpg_lap.is_some());
    has("laps_to_empty", &|u| u.laps_to_empty.is_some());
    has("save_needed_pct > 0", &|u| {
        u.save_needed_pct.is_some_and(|s| s > 0.0)
    });
    has("burn_index", &|u| u.burn_index.is_some());
    has("an empty cell", &|u| u.remaining_low_gal == 0.0);
}

#[test]
fn a_race_without_race_start_follows_the_schema_too() {
    // No race_start: the race `unknown`, default track, no scheduled laps (nulls).
    let fuel = validator(FUEL_UPDATE_SCHEMA);
    let state = validator(RACE_STATE_SCHEMA);
    let t0 = common::T0;
    let lines: Vec<String> = (0..200)
        .map(|k| {
            format!(
                r#"{{"v":1,"car":"7","ts":{},"rpm":8200.5,"throttle_pct":93.25,"speed_mph":171.3}}"#,
                t0 + k * 100
            )
        })
        .collect();
    let all = check_race(&lines, "unknown", &fuel, &state);
    assert_eq!(all.len(), 4);
    assert!(all.iter().all(|u| u.race_id == "unknown"));
}
