//! Every record the simulator writes validates against the contract's schemas (its pit
//! stops with the official pit data, without it, weighed or live); so does every record
//! `burnbar replay` writes for a simulated race, with its cautions, pit stops and faults,
//! and the RaceState.

use burnbar_core::{Engine, EngineConfig, ModelParams};
use burnbar_sim::SimConfig;

const FUEL_UPDATE: &str = include_str!("spec/schema/fuel-update-v1.schema.json");
const RACE_STATE: &str = include_str!("spec/schema/race-state-v1.schema.json");
const RACE_CONTROL: &str = include_str!("spec/schema/race-control-v1.schema.json");
const SAMPLE: &str = include_str!("spec/schema/sample-v1.schema.json");

fn validator(schema: &str) -> jsonschema::Validator {
    let schema: serde_json::Value = serde_json::from_str(schema).unwrap();
    jsonschema::draft202012::new(&schema).expect("the schema compiles")
}

#[test]
fn every_record_the_simulator_writes_validates() {
    let events = validator(RACE_CONTROL);
    let samples = validator(SAMPLE);
    for (live, pit_detail) in [(false, true), (true, true), (false, false), (true, false)] {
        let cfg = SimConfig {
            track: "iowa".into(),
            laps: Some(120),
            cars: 8,
            hz: 1,
            seed: 4242,
            live,
            pit_detail,
            ..SimConfig::default()
        };
        let mut race = Vec::new();
        let summary = burnbar_sim::simulate(&cfg, &mut race, None).unwrap();
        assert!(summary.pit_stops > 0, "{summary:?}");
        let mut pit_outs = 0;
        for line in race.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let v: serde_json::Value = serde_json::from_slice(line).unwrap();
            let schema = if v.get("kind").is_some() {
                &events
            } else {
                &samples
            };
            if let Err(e) = schema.validate(&v) {
                panic!("{v}: {e}");
            }
            if v["kind"] == "pit_out" {
                pit_outs += 1;
                // The official pit data when asked for, and none otherwise.
                for k in ["tires", "box_s"] {
                    assert_eq!(v.get(k).is_some(), pit_detail, "{k}: {v}");
                }
                if pit_detail {
                    assert!(v["tires"].as_u64().is_some_and(|t| t <= 4), "{v}");
                    assert!(v["box_s"].as_f64().is_some_and(|s| s > 1.0), "{v}");
                }
                assert_eq!(v["fuel_added_gal"].is_null(), live, "{v}");
                assert_eq!(v["full"].is_null(), live, "{v}");
            }
        }
        assert_eq!(
            pit_outs, summary.pit_stops,
            "live {live}, pit data {pit_detail}"
        );
    }
}

#[test]
fn every_update_of_a_simulated_race_validates() {
    let cfg = SimConfig {
        track: "iowa".into(),
        laps: Some(150),
        cars: 12,
        seed: 4242,
        faults: 0.05,
        live: true,
        ..SimConfig::default()
    };
    let mut race = Vec::new();
    let summary = burnbar_sim::simulate(&cfg, &mut race, None).unwrap();
    assert!(summary.pit_stops > 0 && summary.cautions > 0, "{summary:?}");
    let updates = validator(FUEL_UPDATE);
    let states = validator(RACE_STATE);
    let mut engine = Engine::new(EngineConfig::default(), ModelParams::default());
    let mut out = Vec::new();
    let mut seen = 0;
    let mut modes = std::collections::BTreeSet::new();
    let mut check = |out: &mut Vec<burnbar_core::FuelUpdate>| {
        for u in out.drain(..) {
            let v = serde_json::to_value(&u).unwrap();
            if let Err(e) = updates.validate(&v) {
                panic!("{v}: {e}");
            }
            modes.insert(v["mode"].as_str().unwrap().to_owned());
            seen += 1;
        }
    };
    for (i, line) in race
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let _ = engine.push_line(line, &mut out);
        check(&mut out);
        if i % 10_000 == 0
            && let Some(id) = engine.race_ids().next().map(str::to_owned)
        {
            let s = serde_json::to_value(engine.race_state(&id).unwrap()).unwrap();
            assert!(states.validate(&s).is_ok(), "{s}");
        }
    }
    engine.finish(&mut out);
    check(&mut out);
    assert!(seen > 1000, "{seen}");
    for m in ["pit", "caution", "normal"] {
        assert!(modes.contains(m), "no {m} update in {modes:?}");
    }
}
