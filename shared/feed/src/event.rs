//! What the converter emits: `telemetry-v1` race-control events, as values and as NDJSON
//! lines.

use std::collections::BTreeMap;

use burnbar_core::{CarId, Flag};

/// One race-control event.
#[derive(Debug, Clone, PartialEq)]
pub struct RcEvent {
    pub ts: i64,
    pub race_id: String,
    pub kind: Kind,
}

/// What it says.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    RaceStart {
        track: String,
        track_length_mi: Option<f64>,
        scheduled_laps: Option<u32>,
        cars: Vec<CarId>,
        drivers: BTreeMap<CarId, String>,
    },
    Flag {
        flag: Flag,
        /// The leader's laps.
        lap: u32,
    },
    PitIn {
        car: CarId,
        lap: Option<u32>,
    },
    /// The feed never knows the fuel: `fuel_added_gal` and `full` are written null.
    PitOut {
        car: CarId,
        lap: Option<u32>,
        tires: Option<u8>,
        box_s: Option<f64>,
    },
    StageEnd {
        stage: u32,
        lap: Option<u32>,
    },
    CarOut {
        car: CarId,
    },
}

impl Kind {
    pub fn name(&self) -> &'static str {
        match self {
            Kind::RaceStart { .. } => "race_start",
            Kind::Flag { .. } => "flag",
            Kind::PitIn { .. } => "pit_in",
            Kind::PitOut { .. } => "pit_out",
            Kind::StageEnd { .. } => "stage_end",
            Kind::CarOut { .. } => "car_out",
        }
    }

    /// Order among events at one instant: the race first, then flags and stages, then
    /// each car's stop in order, a car leaving last.
    fn rank(&self) -> u8 {
        match self {
            Kind::RaceStart { .. } => 0,
            Kind::Flag { .. } => 1,
            Kind::StageEnd { .. } => 2,
            Kind::PitIn { .. } => 3,
            Kind::PitOut { .. } => 4,
            Kind::CarOut { .. } => 5,
        }
    }

    fn car(&self) -> Option<CarId> {
        match self {
            Kind::PitIn { car, .. } | Kind::PitOut { car, .. } | Kind::CarOut { car } => Some(*car),
            _ => None,
        }
    }
}

impl RcEvent {
    /// The order events are written in: time, then [`Kind::rank`], then car.
    pub fn sort_key(&self) -> (i64, u8, Option<CarId>, u32) {
        let stage = match self.kind {
            Kind::StageEnd { stage, .. } => stage,
            _ => 0,
        };
        (self.ts, self.kind.rank(), self.kind.car(), stage)
    }

    /// The event as one NDJSON line (no newline).
    pub fn to_json(&self) -> String {
        let mut o = format!(
            "{{\"v\":1,\"kind\":\"{}\",\"ts\":{},\"race_id\":{}",
            self.kind.name(),
            self.ts,
            json_str(&self.race_id)
        );
        match &self.kind {
            Kind::RaceStart {
                track,
                track_length_mi,
                scheduled_laps,
                cars,
                drivers,
            } => {
                field(&mut o, "track", &json_str(track));
                if let Some(l) = track_length_mi {
                    field(&mut o, "track_length_mi", &num(*l));
                }
                if let Some(l) = scheduled_laps {
                    field(&mut o, "scheduled_laps", &l.to_string());
                }
                let cars: Vec<String> = cars.iter().map(|c| json_str(c.as_str())).collect();
                field(&mut o, "cars", &format!("[{}]", cars.join(",")));
                let drivers: Vec<String> = drivers
                    .iter()
                    .map(|(c, n)| format!("{}:{}", json_str(c.as_str()), json_str(n)))
                    .collect();
                field(&mut o, "drivers", &format!("{{{}}}", drivers.join(",")));
            }
            Kind::Flag { flag, lap } => {
                field(&mut o, "flag", &json_str(flag.as_str()));
                field(&mut o, "lap", &lap.to_string());
            }
            Kind::PitIn { car, lap } => {
                field(&mut o, "car", &json_str(car.as_str()));
                opt(&mut o, "lap", lap.map(|l| l.to_string()));
            }
            Kind::PitOut {
                car,
                lap,
                tires,
                box_s,
            } => {
                field(&mut o, "car", &json_str(car.as_str()));
                opt(&mut o, "lap", lap.map(|l| l.to_string()));
                field(&mut o, "fuel_added_gal", "null");
                field(&mut o, "full", "null");
                field(
                    &mut o,
                    "tires",
                    &tires.map_or("null".into(), |t| t.to_string()),
                );
                field(&mut o, "box_s", &box_s.map_or("null".into(), num));
            }
            Kind::StageEnd { stage, lap } => {
                field(&mut o, "stage", &stage.to_string());
                opt(&mut o, "lap", lap.map(|l| l.to_string()));
            }
            Kind::CarOut { car } => {
                field(&mut o, "car", &json_str(car.as_str()));
            }
        }
        o.push('}');
        o
    }
}

fn field(o: &mut String, key: &str, value: &str) {
    o.push_str(",\"");
    o.push_str(key);
    o.push_str("\":");
    o.push_str(value);
}

fn opt(o: &mut String, key: &str, value: Option<String>) {
    if let Some(v) = value {
        field(o, key, &v);
    }
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// A number with at most 3 decimals (the feed's millisecond resolution), as JSON writes
/// it.
fn num(x: f64) -> String {
    let r = (x * 1000.0).round() / 1000.0;
    serde_json::to_string(&r).expect("a finite number")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn car(s: &str) -> CarId {
        CarId::parse(s).unwrap()
    }

    #[test]
    fn a_pit_out_says_the_fuel_is_unknown_and_carries_the_pit_data() {
        let e = RcEvent {
            ts: 1_750_000_000_123,
            race_id: "nascar-5651".into(),
            kind: Kind::PitOut {
                car: car("88"),
                lap: Some(48),
                tires: Some(4),
                box_s: Some(13.9964),
            },
        };
        assert_eq!(
            e.to_json(),
            r#"{"v":1,"kind":"pit_out","ts":1750000000123,"race_id":"nascar-5651","car":"88","lap":48,"fuel_added_gal":null,"full":null,"tires":4,"box_s":13.996}"#
        );
    }
}
