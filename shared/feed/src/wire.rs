//! The official feed's files as NASCAR's live feed serves them: a live-feed snapshot
//! (`live-feed.json`), the pit data (`live-pit-data.json`) and the flag data
//! (`live-flag-data.json`).
//!
//! Only the fields the converter reads (and the recorder writes) are named here; every
//! other field is ignored. The field names and their meaning are those of the archived
//! files under `tests/fixtures/feed/` (see its README). A file is told apart by its
//! content: a snapshot is an object with `vehicles`; pit data and flag data are lists,
//! of stops (`vehicle_number`) and of flag changes (`flag_state`).
//!
//! A list item that does not parse (a vehicle, a stop, a flag change) is skipped with
//! its reason and the rest of the file is kept ([`Lenient`]).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A list whose items are parsed one by one: the ones that do not parse are left out,
/// each with its reason.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Lenient<T> {
    pub items: Vec<T>,
    /// Why each left-out item did not parse.
    pub skipped: Vec<String>,
}

impl<T> Lenient<T> {
    pub fn new(items: Vec<T>) -> Lenient<T> {
        Lenient {
            items,
            skipped: Vec::new(),
        }
    }
}

impl<T: DeserializeOwned> Lenient<T> {
    fn from_values(values: Vec<Value>) -> Lenient<T> {
        let mut out = Lenient::new(Vec::with_capacity(values.len()));
        for v in values {
            match serde_json::from_value::<T>(v) {
                Ok(t) => out.items.push(t),
                Err(e) => out.skipped.push(e.to_string()),
            }
        }
        out
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Lenient::from_values(Vec::<Value>::deserialize(d)?))
    }
}

impl<T: Serialize> Serialize for Lenient<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.items.serialize(s)
    }
}

/// One live-feed snapshot: the race as it stands at `elapsed_time`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// NASCAR's race id (numeric, unique across series).
    pub race_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_name: Option<String>,
    /// Laps the leader has completed.
    pub lap_number: i64,
    /// The race's distance in laps (it grows when a race goes to overtime).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub laps_in_race: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub laps_to_go: Option<i64>,
    /// Race time, seconds since the race's clock started (whole seconds in the files).
    pub elapsed_time: f64,
    /// The flag state code ([`crate::codes`]).
    pub flag_state: i64,
    /// Seconds since local midnight when the snapshot was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_of_day: Option<f64>,
    /// The same instant as an ISO 8601 date and time with its offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_of_day_os: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track_name: Option<String>,
    /// Lap length, miles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track_length: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<StageInfo>,
    pub vehicles: Lenient<Vehicle>,
}

/// The stage under way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageInfo {
    pub stage_num: i64,
    /// The leader's lap at which this stage ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_at_lap: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub laps_in_stage: Option<i64>,
}

/// One car in a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vehicle {
    pub vehicle_number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<Driver>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub laps_completed: Option<i64>,
    /// Running status code ([`crate::codes`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_on_track: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_position: Option<i64>,
    /// Race time at which the car last crossed the line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vehicle_elapsed_time: Option<f64>,
    /// Every stop so far; entries whose pit-in time is 0 are the feed's placeholders
    /// (stops before the race's clock started), not race stops.
    #[serde(default)]
    pub pit_stops: Vec<FeedStop>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Driver {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
}

/// One stop as the snapshot lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedStop {
    /// Race time the car crossed the pit-road entry line.
    pub pit_in_elapsed_time: f64,
    /// The car's laps completed at pit-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pit_in_lap_count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pit_in_leader_lap: Option<i64>,
    /// Race time the car crossed the pit-road exit line; 0 while it is on pit road.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pit_out_elapsed_time: Option<f64>,
}

/// One stop in the pit data: what the official timing measured of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PitRecord {
    pub vehicle_number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_lap: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lap_count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pit_in_flag_status: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pit_out_flag_status: Option<i64>,
    /// The same race time as the snapshot's `pit_in_elapsed_time`: the stop's key.
    pub pit_in_race_time: f64,
    /// -1 when not measured (as every time below).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pit_out_race_time: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_duration: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub box_stop_race_time: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub box_leave_race_time: Option<f64>,
    /// Seconds the car stood in its box.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pit_stop_duration: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_travel_duration: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_travel_duration: Option<f64>,
    /// `FOUR_WHEEL_CHANGE`, `OTHER`, …: informative only; the tyres are counted from the
    /// four flags below.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pit_stop_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_front_tire_changed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_rear_tire_changed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub right_front_tire_changed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub right_rear_tire_changed: Option<bool>,
}

impl PitRecord {
    /// Seconds in the box, when the timing measured it (the feed writes -1 otherwise).
    pub fn box_s(&self) -> Option<f64> {
        self.pit_stop_duration
            .filter(|d| d.is_finite() && (0.0..=3600.0).contains(d))
    }

    /// Tyres changed: the count of the four flags, when all four are given.
    pub fn tires(&self) -> Option<u8> {
        let flags = [
            self.left_front_tire_changed?,
            self.left_rear_tire_changed?,
            self.right_front_tire_changed?,
            self.right_rear_tire_changed?,
        ];
        Some(flags.iter().filter(|&&f| f).count() as u8)
    }
}

/// One flag change in the flag data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlagRecord {
    /// Laps the leader had completed.
    pub lap_number: i64,
    pub flag_state: i64,
    /// Race time of the change (0 before the race's clock starts).
    pub elapsed_time: f64,
    /// Race control's words, e.g. `Stage 1 Conclusion`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_of_day: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_of_day_os: Option<String>,
}

/// A file of the feed, told apart by its content.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedFile {
    Snapshot(Box<Snapshot>),
    PitData(Lenient<PitRecord>),
    FlagData(Lenient<FlagRecord>),
    /// An empty list: pit data or flag data before the first stop or flag.
    Empty,
}

/// Why a file was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// A short name to count by: `not_json`, `unknown_shape`, `bad_field`, `out_of_range`.
    pub code: &'static str,
    pub detail: String,
}

impl Malformed {
    fn new(code: &'static str, detail: impl Into<String>) -> Malformed {
        Malformed {
            code,
            detail: detail.into(),
        }
    }
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

impl FeedFile {
    /// Reads one file of the feed (a UTF-8 byte-order mark is allowed).
    pub fn parse(bytes: &[u8]) -> Result<FeedFile, Malformed> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| Malformed::new("not_json", e.to_string()))?;
        match value {
            Value::Object(ref o) if o.contains_key("vehicles") => {
                let snap: Snapshot = serde_json::from_value(value)
                    .map_err(|e| Malformed::new("bad_field", e.to_string()))?;
                snap.check()?;
                Ok(FeedFile::Snapshot(Box::new(snap)))
            }
            Value::Array(items) => {
                let Some(first) = items.first() else {
                    return Ok(FeedFile::Empty);
                };
                if first.get("vehicle_number").is_some() {
                    Ok(FeedFile::PitData(Lenient::from_values(items)))
                } else if first.get("flag_state").is_some() {
                    Ok(FeedFile::FlagData(Lenient::from_values(items)))
                } else {
                    Err(Malformed::new(
                        "unknown_shape",
                        "a list of neither pit stops (vehicle_number) nor flag changes (flag_state)",
                    ))
                }
            }
            _ => Err(Malformed::new(
                "unknown_shape",
                "neither a live-feed snapshot (an object with vehicles) nor pit or flag data (a list)",
            )),
        }
    }
}

impl Snapshot {
    /// The ranges a snapshot must keep to be read at all.
    fn check(&self) -> Result<(), Malformed> {
        if !(self.elapsed_time.is_finite() && (0.0..1.0e6).contains(&self.elapsed_time)) {
            return Err(Malformed::new(
                "out_of_range",
                format!("elapsed_time {} is not a race time", self.elapsed_time),
            ));
        }
        if !(0..=2000).contains(&self.lap_number) {
            return Err(Malformed::new(
                "out_of_range",
                format!("lap_number {} is outside 0-2000", self.lap_number),
            ));
        }
        if self.race_id <= 0 {
            return Err(Malformed::new(
                "out_of_range",
                format!("race_id {} is not a race", self.race_id),
            ));
        }
        Ok(())
    }
}

/// Seconds of race time as whole milliseconds.
pub fn ms(seconds: f64) -> i64 {
    (seconds * 1000.0).round() as i64
}

/// Epoch milliseconds of an ISO 8601 date and time with its offset (the feed's
/// `time_of_day_os`), or `None` when it does not read as one.
pub fn epoch_ms(text: &str) -> Option<i64> {
    let t =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    Some((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_told_by_its_content() {
        let snap = br#"{"race_id":1,"lap_number":0,"elapsed_time":0,"flag_state":8,"vehicles":[],"extra":{"a":1}}"#;
        assert!(matches!(FeedFile::parse(snap), Ok(FeedFile::Snapshot(_))));
        let pit = br#"[{"vehicle_number":"5","pit_in_race_time":12.5}]"#;
        assert!(matches!(FeedFile::parse(pit), Ok(FeedFile::PitData(p)) if p.items.len() == 1));
        let flags = br#"[{"lap_number":0,"flag_state":1,"elapsed_time":0.0}]"#;
        assert!(matches!(FeedFile::parse(flags), Ok(FeedFile::FlagData(f)) if f.items.len() == 1));
        assert_eq!(FeedFile::parse(b"[]"), Ok(FeedFile::Empty));
        assert_eq!(FeedFile::parse(b"{}").unwrap_err().code, "unknown_shape");
        assert_eq!(FeedFile::parse(b"[1,2]").unwrap_err().code, "unknown_shape");
        assert_eq!(FeedFile::parse(b"{\"vehic").unwrap_err().code, "not_json");
    }

    #[test]
    fn a_bad_item_is_skipped_with_its_reason_and_a_bad_snapshot_is_refused() {
        let snap = br#"{"race_id":1,"lap_number":3,"elapsed_time":10,"flag_state":1,
            "vehicles":[{"vehicle_number":"5"},{"vehicle_number":7},{"status":1}]}"#;
        let Ok(FeedFile::Snapshot(s)) = FeedFile::parse(snap) else {
            panic!("a snapshot")
        };
        assert_eq!(s.vehicles.items.len(), 1);
        assert_eq!(s.vehicles.skipped.len(), 2);
        let bad =
            br#"{"race_id":1,"lap_number":"3","elapsed_time":10,"flag_state":1,"vehicles":[]}"#;
        assert_eq!(FeedFile::parse(bad).unwrap_err().code, "bad_field");
        let back =
            br#"{"race_id":1,"lap_number":3,"elapsed_time":-4,"flag_state":1,"vehicles":[]}"#;
        assert_eq!(FeedFile::parse(back).unwrap_err().code, "out_of_range");
    }

    #[test]
    fn tyres_and_box_time_only_when_measured() {
        let rec: PitRecord = serde_json::from_str(
            r#"{"vehicle_number":"8","pit_in_race_time":1.0,"pit_stop_duration":13.996,
            "left_front_tire_changed":true,"left_rear_tire_changed":false,
            "right_front_tire_changed":true,"right_rear_tire_changed":false}"#,
        )
        .unwrap();
        assert_eq!(rec.tires(), Some(2));
        assert_eq!(rec.box_s(), Some(13.996));
        let unmeasured: PitRecord = serde_json::from_str(
            r#"{"vehicle_number":"8","pit_in_race_time":1.0,"pit_stop_duration":-1,
            "left_front_tire_changed":true}"#,
        )
        .unwrap();
        assert_eq!(unmeasured.tires(), None);
        assert_eq!(unmeasured.box_s(), None);
    }

    #[test]
    fn the_time_of_day_reads_with_its_offset_and_seven_decimals() {
        let a = epoch_ms("2026-07-05T15:51:10.5406805-05:00").unwrap();
        let b = epoch_ms("2026-07-05T20:51:10.540Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(epoch_ms("yesterday"), None);
        assert_eq!(ms(1802.997), 1_802_997);
    }
}
