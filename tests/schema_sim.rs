//! Every record `burnbar replay` writes for a simulated race, with its cautions, pit stops
//! and faults, validates against the contract's schema; so does the RaceState.

use burnbar_core::{Engine, EngineConfig, ModelParams};
use burnbar_sim::SimConfig;

const FUEL_UPDATE: &str = include_str!("spec/schema/fuel-update-v1.schema.json");
const RACE_STATE: &str = include_str!("spec/schema/race-state-v1.schema.json");

fn validator(schema: &str) -> jsonschema::Validator {
    let schema: serde_json::Value = serde_json::from_str(schema).unwrap();
    jsonschema::draft202012::new(&schema).expect("the schema compiles")
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
