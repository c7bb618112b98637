//! The schema file read as the contract says, and operations validated, shaped and
//! authorised as AppSync would.

use serde_json::{Map, Value, json};

use super::*;

fn schema() -> Schema {
    Schema::parse(crate::serve::SCHEMA_SDL).expect("schema.graphql parses")
}

fn vars(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

#[test]
fn the_schema_file_declares_the_contract() {
    let s = schema();
    let fu = &s.objects["FuelUpdate"].fields;
    for f in [
        "v",
        "race_id",
        "car",
        "seq",
        "window_start",
        "window_end",
        "lap",
        "flag",
        "in_pit",
        "samples",
        "miles",
        "burn_gal",
        "burn_rate_gph",
        "mpg_window",
        "mpg_lap",
        "mpg_stint",
        "used_stint_gal",
        "used_race_gal",
        "remaining_gal",
        "remaining_low_gal",
        "remaining_high_gal",
        "laps_to_empty",
        "save_needed_pct",
        "burn_index",
        "mode",
        "model",
    ] {
        assert!(fu.contains_key(f), "FuelUpdate.{f} missing");
    }
    assert_eq!(fu.len(), 26);
    let q = &s.objects["Query"].fields;
    assert!(q.contains_key("latest") && q.contains_key("history") && q.contains_key("raceState"));
    let m = &s.objects["Mutation"].fields;
    assert!(m["publishUpdates"].auth.contains("aws_iam"));
    assert!(!m["publishUpdates"].auth.contains("aws_api_key"));
    let sub = &s.objects["Subscription"].fields;
    assert!(sub.contains_key("onUpdates") && sub.contains_key("onRaceState"));
}

/// FuelUpdate and RaceState, and their input types, have exactly the fields of the
/// contract's JSON Schemas, each nullable exactly where the contract allows null
/// (`save_needed_pct`, `fuel_window_lap`; never `cant_make_it_pct`).
#[test]
fn the_types_have_the_contracts_fields_and_nulls() {
    let s = schema();
    for (object, input, file) in [
        ("FuelUpdate", "FuelUpdateInput", "fuel-update-v1"),
        ("RaceState", "RaceStateInput", "race-state-v1"),
    ] {
        let path = format!(
            "{}/tests/spec/schema/{file}.schema.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let spec: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let want: std::collections::BTreeMap<String, bool> = spec["properties"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(name, p)| {
                let nullable = p["type"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t == "null"));
                (name.clone(), nullable)
            })
            .collect();
        let nullable = |ty: &schema::Ty| !matches!(ty, schema::Ty::NonNull(_));
        let got: std::collections::BTreeMap<String, bool> = s.objects[object]
            .fields
            .iter()
            .map(|(name, f)| (name.clone(), nullable(&f.ty)))
            .collect();
        assert_eq!(got, want, "{object} against {file}");
        let got: std::collections::BTreeMap<String, bool> = s.inputs[input]
            .iter()
            .map(|(name, f)| (name.clone(), nullable(&f.ty)))
            .collect();
        assert_eq!(got, want, "{input} against {file}");
    }
    assert!(
        !s.objects["FuelUpdate"].fields["save_needed_pct"]
            .ty
            .to_string()
            .ends_with('!')
    );
    assert_eq!(
        s.objects["RaceState"].fields["fuel_window_lap"]
            .ty
            .to_string(),
        "Float"
    );
    assert_eq!(
        s.objects["RaceState"].fields["cant_make_it_pct"]
            .ty
            .to_string(),
        "Float!"
    );
}

#[test]
fn a_type_the_schema_does_not_declare_is_refused() {
    let e = Schema::parse("type Query { a: Nope }").unwrap_err();
    assert!(e.contains("Query.a has unknown type Nope"), "{e}");
}

#[test]
fn a_query_is_shaped_by_its_selection() {
    let s = schema();
    let op = prepare(
        &s,
        "query L($r: ID!) { latest(race_id: $r) { car fuel: remaining_gal __typename } }",
        None,
        &vars(json!({"r": "sim-1"})),
        Caller::ApiKey,
    )
    .unwrap();
    assert_eq!(op.kind, OpKind::Query);
    assert_eq!(op.fields[0].args["race_id"], json!("sim-1"));
    let v = op.fields[0]
        .shape
        .project(&json!([{"car": "24", "remaining_gal": 3.5, "lap": 7.0}]));
    assert_eq!(
        v,
        json!([{"car": "24", "fuel": 3.5, "__typename": "FuelUpdate"}])
    );
}

#[test]
fn bad_operations_are_errors_that_name_the_problem() {
    let s = schema();
    let cases = [
        (
            "{ latest(race_id: \"r\") { car nope } }",
            "Field 'nope' in type 'FuelUpdate' is undefined",
        ),
        ("{ latest { car } }", "Missing field argument race_id"),
        (
            "{ latest(race_id: \"r\", lap: 3) { car } }",
            "Unknown field argument lap",
        ),
        ("{ latest(race_id: \"r\") }", "Sub selection required"),
        (
            "{ latest(race_id: \"r\") { car { x } } }",
            "Sub selection not allowed",
        ),
        (
            "{ history(race_id: \"r\", car: \"1\", limit: \"x\") { car } }",
            "is not a valid Int",
        ),
        ("{ latest(race_id: \"r\") { car ", "Invalid syntax"),
        (
            "query Q($x: Nope) { latest(race_id: \"r\") { car } }",
            "unknown input type Nope",
        ),
    ];
    for (text, want) in cases {
        let e = prepare(&s, text, None, &Map::new(), Caller::ApiKey).unwrap_err();
        assert!(
            e.iter().any(|e| e.message.contains(want)),
            "{text}: {e:?} should say {want}"
        );
    }
}

#[test]
fn the_writers_mutations_are_closed_to_api_keys() {
    let s = schema();
    let e = prepare(
        &s,
        "mutation { publishRaceState(state: {v: 1, race_id: \"r\", track: \"t\", ts: 1, flag: green, stage: 1, leader_lap: 0, fuel_window_lap: null, cant_make_it_pct: 15, cars_running: 1, drivers: \"{}\"}) { race_id } }",
        None,
        &Map::new(),
        Caller::ApiKey,
    )
    .unwrap_err();
    assert_eq!(e[0].error_type, "UnauthorizedException");
    // The input was valid: only the caller was refused.
    let e = prepare(
        &s,
        "mutation { publishRaceState(state: {v: 1, race_id: \"r\", track: \"t\", ts: 1, flag: purple, stage: 1, leader_lap: 0, fuel_window_lap: null, cant_make_it_pct: 15, cars_running: 1, drivers: \"{}\"}) { race_id } }",
        None,
        &Map::new(),
        Caller::ApiKey,
    )
    .unwrap_err();
    assert!(e[0].message.contains("not a valid Flag"), "{e:?}");
    // RaceStateInput takes the contract's nulls: `fuel_window_lap` may be null (or left
    // out), `cant_make_it_pct` may not.
    for (fields, want) in [
        (
            "fuel_window_lap: 12.5",
            "required field 'cant_make_it_pct' of RaceStateInput is missing",
        ),
        ("cant_make_it_pct: null", "cant_make_it_pct"),
    ] {
        let text = format!(
            "mutation {{ publishRaceState(state: {{v: 1, race_id: \"r\", track: \"t\", ts: 1, flag: green, stage: 1, leader_lap: 0, {fields}, cars_running: 1, drivers: \"{{}}\"}}) {{ race_id }} }}"
        );
        let e = prepare(&s, &text, None, &Map::new(), Caller::ApiKey).unwrap_err();
        assert!(
            e.iter().any(|e| e.message.contains(want)),
            "{fields}: {e:?}"
        );
    }
}
