//! The spec's own examples (`../shared/spec/examples`, copied into `tests/spec`).

use burnbar_core::{Engine, EngineConfig, ModelParams, Record, RejectCode, decode::decode_line};

const RACE_CONTROL: &str = include_str!("../../../tests/spec/examples/race-control.ndjson");
const SAMPLES: &str = include_str!("../../../tests/spec/examples/samples.ndjson");
const REJECTED: &str = include_str!("../../../tests/spec/examples/rejected.ndjson");

#[test]
fn every_good_example_decodes() {
    for line in RACE_CONTROL.lines().chain(SAMPLES.lines()) {
        decode_line(line.as_bytes()).unwrap_or_else(|r| panic!("{line}: {r}"));
    }
}

#[test]
fn every_rejected_example_is_rejected_for_the_right_reason() {
    let expected = [
        (RejectCode::UnsupportedVersion, Some("v")),
        (RejectCode::EmptySample, None),
        (RejectCode::OutOfRange, Some("rpm")),
        (RejectCode::WrongType, Some("throttle_pct")),
        (RejectCode::MissingField, Some("car")),
        (RejectCode::InvalidValue, Some("car")),
        (RejectCode::InvalidValue, Some("flag")),
        (RejectCode::MissingField, Some("car")),
        (RejectCode::NotObject, None),
        (RejectCode::InvalidJson, None),
        (RejectCode::NotFinite, Some("rpm")),
        (RejectCode::WrongType, Some("ts")),
        (RejectCode::TsInFuture, Some("ts")),
    ];
    let lines: Vec<&str> = REJECTED.lines().collect();
    assert_eq!(lines.len(), expected.len());
    let mut engine = Engine::new(EngineConfig::default(), ModelParams::default());
    let mut out = Vec::new();
    for line in RACE_CONTROL.lines() {
        engine.push_line(line.as_bytes(), &mut out).unwrap();
    }
    for (line, (code, field)) in lines.iter().zip(expected) {
        let r = engine.push_line(line.as_bytes(), &mut out).expect_err(line);
        assert_eq!((r.code, r.field), (code, field), "{line}: {r}");
        assert!(!r.detail.is_empty());
    }
    let c = engine.counters();
    assert_eq!(c.rejected, 13);
    assert_eq!(c.rejected_by["missing_field"], 2);
    assert_eq!(c.rejected_by["ts_in_future"], 1);
    // Nothing around the rejected lines was lost: a good sample still goes through.
    engine
        .push_line(SAMPLES.lines().next().unwrap().as_bytes(), &mut out)
        .unwrap();
    assert_eq!(engine.counters().samples, 1);
}

#[test]
fn the_last_rejected_line_alone_is_a_fine_sample() {
    // ts_in_future depends on the race's history: read first, it is accepted.
    let last = REJECTED.lines().last().unwrap();
    assert!(matches!(
        decode_line(last.as_bytes()),
        Ok(Record::Sample(_))
    ));
}

#[test]
fn copies_of_the_contract_match_the_shared_folder_when_it_is_there() {
    let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/spec");
    if !shared.exists() {
        return;
    }
    for f in [
        "examples/race-control.ndjson",
        "examples/samples.ndjson",
        "examples/rejected.ndjson",
        "schema/fuel-update-v1.schema.json",
        "schema/sample-v1.schema.json",
        "schema/race-control-v1.schema.json",
        "schema/race-state-v1.schema.json",
    ] {
        let ours = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../tests/spec")
                .join(f),
        )
        .unwrap();
        let theirs = std::fs::read(shared.join(f)).unwrap();
        assert_eq!(
            ours, theirs,
            "tests/spec/{f} differs from ../shared/spec/{f}"
        );
    }
}
