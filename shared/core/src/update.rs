//! The output contract (`fuel-update-v1`): `FuelUpdate` and `RaceState`.
//!
//! Numbers are written with at most 4 decimals: rounding happens when serializing, so
//! the state keeps full precision and only the wire format is rounded.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize, Serializer};

use crate::contract::{CarId, Flag};

/// What the car is doing, for the Burn Bar's colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Pit,
    Caution,
    Saving,
    Normal,
    Pushing,
}

/// Which estimate produced `burn_gal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ModelKind {
    #[serde(rename = "physics")]
    Physics,
    #[serde(rename = "physics+ml")]
    PhysicsMl,
}

/// One car, one closed window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FuelUpdate {
    pub v: u8,
    pub race_id: String,
    pub car: CarId,
    pub seq: i64,
    pub window_start: i64,
    pub window_end: i64,
    #[serde(serialize_with = "r4")]
    pub lap: f64,
    pub flag: Flag,
    pub in_pit: bool,
    pub samples: u32,
    #[serde(serialize_with = "r4")]
    pub miles: f64,
    #[serde(serialize_with = "r4")]
    pub burn_gal: f64,
    #[serde(serialize_with = "r4")]
    pub burn_rate_gph: f64,
    #[serde(serialize_with = "r4_opt")]
    pub mpg_window: Option<f64>,
    #[serde(serialize_with = "r4_opt")]
    pub mpg_lap: Option<f64>,
    #[serde(serialize_with = "r4_opt")]
    pub mpg_stint: Option<f64>,
    #[serde(serialize_with = "r4")]
    pub used_stint_gal: f64,
    #[serde(serialize_with = "r4")]
    pub used_race_gal: f64,
    #[serde(serialize_with = "r4")]
    pub remaining_gal: f64,
    #[serde(serialize_with = "r4")]
    pub remaining_low_gal: f64,
    #[serde(serialize_with = "r4")]
    pub remaining_high_gal: f64,
    #[serde(serialize_with = "r4_opt")]
    pub laps_to_empty: Option<f64>,
    #[serde(serialize_with = "r4_opt")]
    pub save_needed_pct: Option<f64>,
    #[serde(serialize_with = "r4_opt")]
    pub burn_index: Option<f64>,
    pub mode: Mode,
    pub model: ModelKind,
}

/// The race as dashboards show it (`fuel-update-v1`, "RaceState").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RaceState {
    pub v: u8,
    pub race_id: String,
    pub track: String,
    pub ts: i64,
    pub flag: Flag,
    pub stage: u32,
    #[serde(serialize_with = "r4")]
    pub leader_lap: f64,
    pub scheduled_laps: Option<u32>,
    #[serde(serialize_with = "r4_opt")]
    pub laps_to_go: Option<f64>,
    /// The leader's lap from which a full cell reaches the finish (always present;
    /// null while fewer than three cars have a fuel per green lap, or without a
    /// scheduled distance).
    #[serde(serialize_with = "r4_opt")]
    pub fuel_window_lap: Option<f64>,
    /// The deployment's call threshold: a car in its final window can't make it when
    /// its `save_needed_pct` reaches this.
    #[serde(serialize_with = "r4")]
    pub cant_make_it_pct: f64,
    pub cars_running: u32,
    pub drivers: BTreeMap<String, String>,
}

/// Rounds to 4 decimals; non-finite becomes 0 and −0 becomes 0, so the output is always
/// valid JSON and byte-stable.
pub fn round4(x: f64) -> f64 {
    if !x.is_finite() {
        return 0.0;
    }
    (x * 1e4).round() / 1e4 + 0.0
}

fn r4<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(round4(*x))
}

fn r4_opt<S: Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match x {
        Some(x) if x.is_finite() => s.serialize_some(&round4(*x)),
        _ => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_writes_four_decimals_at_most() {
        assert_eq!(round4(0.123456), 0.1235);
        assert_eq!(round4(-0.00001).to_string(), "0");
        assert_eq!(round4(f64::NAN), 0.0);
        assert_eq!(serde_json::to_string(&round4(0.1 + 0.2)).unwrap(), "0.3");
    }
}
