//! Validation of the writer API's request body: the shape, the limits, and every update
//! and race state against `fuel-update-v1` (the spec's JSON Schemas), with a reason that
//! names the field (`updates[3].remaining_gal: 120 is above 100`).

use burnbar_publish::wire::{
    MAX_BODY_BYTES, MAX_STATES_PER_REQUEST, MAX_UPDATES_PER_REQUEST, WriteRequest,
};
use serde_json::{Map, Value};

/// A GraphQL `Int` is 32-bit signed.
const GRAPHQL_INT_MAX: i64 = i32::MAX as i64;
/// Times and `seq` travel as GraphQL `Float`, exact up to 2^53.
const FLOAT_EXACT_MAX: i64 = 1 << 53;

/// The rule a field follows.
#[derive(Clone, Copy)]
enum Rule {
    /// The version: exactly 1.
    One,
    /// A string of at least one character.
    Id,
    /// A car number: 1-4 letters or digits.
    Car,
    /// Any string.
    Str,
    /// An integer within [min, max].
    Int(i64, i64),
    /// An integer within [min, max] or null.
    IntOrNull(i64, i64),
    /// A number within [min, max].
    Num(f64, f64),
    /// A number within [min, max] or null.
    NumOrNull(f64, f64),
    Bool,
    Enum(&'static [&'static str]),
    /// An object of strings (car → driver).
    Drivers,
}

const FLAGS: &[&str] = &["green", "yellow", "red", "white", "checkered"];
const MODES: &[&str] = &["pit", "caution", "saving", "normal", "pushing"];
const MODELS: &[&str] = &["physics", "physics+ml"];
const NONNEG: f64 = f64::MAX;
/// `cant_make_it_pct`'s range (fuel-update-v1: a deployment's setting, 5 to 50).
const CANT_MAKE_IT_MIN: f64 = 5.0;
const CANT_MAKE_IT_MAX: f64 = 50.0;

/// `fuel-update-v1.schema.json`, field by field, plus what the GraphQL types need.
const UPDATE_RULES: &[(&str, Rule)] = &[
    ("v", Rule::One),
    ("race_id", Rule::Id),
    ("car", Rule::Car),
    ("seq", Rule::Int(0, FLOAT_EXACT_MAX)),
    ("window_start", Rule::Int(-FLOAT_EXACT_MAX, FLOAT_EXACT_MAX)),
    ("window_end", Rule::Int(-FLOAT_EXACT_MAX, FLOAT_EXACT_MAX)),
    ("lap", Rule::Num(0.0, NONNEG)),
    ("flag", Rule::Enum(FLAGS)),
    ("in_pit", Rule::Bool),
    ("samples", Rule::Int(1, GRAPHQL_INT_MAX)),
    ("miles", Rule::Num(0.0, NONNEG)),
    ("burn_gal", Rule::Num(0.0, NONNEG)),
    ("burn_rate_gph", Rule::Num(0.0, NONNEG)),
    ("mpg_window", Rule::NumOrNull(0.0, NONNEG)),
    ("mpg_lap", Rule::NumOrNull(0.0, NONNEG)),
    ("mpg_stint", Rule::NumOrNull(0.0, NONNEG)),
    ("used_stint_gal", Rule::Num(0.0, NONNEG)),
    ("used_race_gal", Rule::Num(0.0, NONNEG)),
    ("remaining_gal", Rule::Num(0.0, 100.0)),
    ("remaining_low_gal", Rule::Num(0.0, 100.0)),
    ("remaining_high_gal", Rule::Num(0.0, 100.0)),
    ("laps_to_empty", Rule::NumOrNull(0.0, NONNEG)),
    ("save_needed_pct", Rule::NumOrNull(0.0, NONNEG)),
    ("burn_index", Rule::NumOrNull(0.0, NONNEG)),
    ("mode", Rule::Enum(MODES)),
    ("model", Rule::Enum(MODELS)),
];

/// `race-state-v1.schema.json`, field by field.
const STATE_RULES: &[(&str, Rule)] = &[
    ("v", Rule::One),
    ("race_id", Rule::Id),
    ("track", Rule::Str),
    ("ts", Rule::Int(-FLOAT_EXACT_MAX, FLOAT_EXACT_MAX)),
    ("flag", Rule::Enum(FLAGS)),
    ("stage", Rule::Int(1, GRAPHQL_INT_MAX)),
    ("leader_lap", Rule::Num(0.0, NONNEG)),
    ("scheduled_laps", Rule::IntOrNull(1, GRAPHQL_INT_MAX)),
    ("laps_to_go", Rule::NumOrNull(0.0, NONNEG)),
    // Always present (the contract's table), null until the field has a fuel figure.
    ("fuel_window_lap", Rule::NumOrNull(0.0, NONNEG)),
    // The deployment's call threshold: what every page calls "can't make it" with.
    (
        "cant_make_it_pct",
        Rule::Num(CANT_MAKE_IT_MIN, CANT_MAKE_IT_MAX),
    ),
    ("cars_running", Rule::Int(0, GRAPHQL_INT_MAX)),
    ("drivers", Rule::Drivers),
];

/// Parses and validates a request body; the error is the reason for the 400.
pub fn parse_batch(body: &[u8]) -> Result<WriteRequest, String> {
    if body.len() > MAX_BODY_BYTES {
        return Err(format!(
            "body: {} bytes is over the limit of {MAX_BODY_BYTES} bytes",
            body.len()
        ));
    }
    let root: Value =
        serde_json::from_slice(body).map_err(|e| format!("body: not valid JSON: {e}"))?;
    let Value::Object(root) = root else {
        return Err("body: must be a JSON object with `updates` and/or `race_states`".to_owned());
    };
    if let Some(k) = root
        .keys()
        .find(|k| !matches!(k.as_str(), "updates" | "race_states"))
    {
        return Err(format!(
            "{k}: unknown field (expected `updates`, `race_states`)"
        ));
    }
    let list = |key: &str, max: usize| -> Result<Vec<Value>, String> {
        match root.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(a)) if a.len() > max => Err(format!(
                "{key}: {} items is over the limit of {max}",
                a.len()
            )),
            Some(Value::Array(a)) => Ok(a.clone()),
            Some(_) => Err(format!("{key}: must be an array")),
        }
    };
    let raw_updates = list("updates", MAX_UPDATES_PER_REQUEST)?;
    let raw_states = list("race_states", MAX_STATES_PER_REQUEST)?;
    let mut updates = Vec::with_capacity(raw_updates.len());
    for (i, v) in raw_updates.into_iter().enumerate() {
        let at = format!("updates[{i}]");
        check_object(&v, UPDATE_RULES, &at)?;
        if v["window_end"].as_i64() <= v["window_start"].as_i64() {
            return Err(format!("{at}.window_end: must be after window_start"));
        }
        updates.push(serde_json::from_value(v).map_err(|e| format!("{at}: {e}"))?);
    }
    let mut race_states = Vec::with_capacity(raw_states.len());
    for (i, v) in raw_states.into_iter().enumerate() {
        let at = format!("race_states[{i}]");
        check_object(&v, STATE_RULES, &at)?;
        race_states.push(serde_json::from_value(v).map_err(|e| format!("{at}: {e}"))?);
    }
    Ok(WriteRequest {
        updates,
        race_states,
    })
}

/// Every field of `rules` present and valid. Fields the rules do not name are ignored
/// (they would be dropped on the way to AppSync anyway).
fn check_object(v: &Value, rules: &[(&str, Rule)], at: &str) -> Result<(), String> {
    let Value::Object(obj) = v else {
        return Err(format!("{at}: must be an object"));
    };
    for (name, rule) in rules {
        check_field(obj, name, *rule).map_err(|why| format!("{at}.{name}: {why}"))?;
    }
    Ok(())
}

fn check_field(obj: &Map<String, Value>, name: &str, rule: Rule) -> Result<(), String> {
    let Some(v) = obj.get(name) else {
        return Err("missing".to_owned());
    };
    let int = |v: &Value, lo: i64, hi: i64| match v.as_i64() {
        Some(n) if n < lo => Err(format!("{n} is below {lo}")),
        Some(n) if n > hi => Err(format!("{n} is above {hi}")),
        Some(_) => Ok(()),
        None => Err(format!("expected an integer, got {}", show(v))),
    };
    let num = |v: &Value, lo: f64, hi: f64| match v.as_f64() {
        Some(x) if x < lo => Err(format!("{x} is below {lo}")),
        Some(x) if x > hi => Err(format!("{x} is above {hi}")),
        Some(_) => Ok(()),
        None => Err(format!("expected a number, got {}", show(v))),
    };
    match rule {
        Rule::One => (v.as_i64() == Some(1))
            .then_some(())
            .ok_or_else(|| format!("must be 1, got {}", show(v))),
        Rule::Id => match v.as_str() {
            Some("") => Err("must not be empty".to_owned()),
            Some(_) => Ok(()),
            None => Err(format!("expected a string, got {}", show(v))),
        },
        Rule::Car => match v.as_str() {
            Some(s) => burnbar_core::CarId::parse(s)
                .map(|_| ())
                .map_err(str::to_owned),
            None => Err(format!("expected a string, got {}", show(v))),
        },
        Rule::Str => v
            .is_string()
            .then_some(())
            .ok_or_else(|| format!("expected a string, got {}", show(v))),
        Rule::Int(lo, hi) => int(v, lo, hi),
        Rule::IntOrNull(lo, hi) => match v {
            Value::Null => Ok(()),
            v => int(v, lo, hi),
        },
        Rule::Num(lo, hi) => num(v, lo, hi),
        Rule::NumOrNull(lo, hi) => match v {
            Value::Null => Ok(()),
            v => num(v, lo, hi),
        },
        Rule::Bool => v
            .is_boolean()
            .then_some(())
            .ok_or_else(|| format!("expected true or false, got {}", show(v))),
        Rule::Enum(values) => match v.as_str() {
            Some(s) if values.contains(&s) => Ok(()),
            _ => Err(format!(
                "expected one of {}, got {}",
                values.join(", "),
                show(v)
            )),
        },
        Rule::Drivers => match v {
            Value::Object(m) => match m.iter().find(|(_, d)| !d.is_string()) {
                Some((car, d)) => Err(format!(
                    "driver of car {car:?}: expected a string, got {}",
                    show(d)
                )),
                None => Ok(()),
            },
            _ => Err(format!(
                "expected an object of car to driver name, got {}",
                show(v)
            )),
        },
    }
}

/// A value for a message: short, JSON-quoted.
fn show(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_name_every_field_of_the_types() {
        // A field added to FuelUpdate or RaceState must get a rule (or the writer would
        // pass it unchecked): compare with what serde writes.
        let rules: Vec<&str> = UPDATE_RULES.iter().map(|(n, _)| *n).collect();
        let fields: Vec<&str> = burnbar_publish::appsync::FUEL_UPDATE_FIELDS.to_vec();
        assert_eq!(rules, fields);
        let rules: Vec<&str> = STATE_RULES.iter().map(|(n, _)| *n).collect();
        assert_eq!(rules, burnbar_publish::appsync::RACE_STATE_FIELDS.to_vec());
    }
}
