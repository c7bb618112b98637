//! Decoding one NDJSON line into a [`Record`], with every rejection rule of `telemetry-v1`.
//!
//! Why a hand-written visitor rather than `#[derive(Deserialize)]`: the contract wants the
//! rejection to name the field (a derived struct reports "invalid type at column 37"), it
//! wants `null` read as absent and unknown fields skipped, and the replay rate target is
//! set against the cheapest possible JSON read (`IgnoredAny`). So the visitor walks the
//! object once, matches keys without allocating, parses each known value into its type
//! and, when one fails, leaves the field's name and the failure's kind in a side slot.
//! Fields only events have are captured as borrowed raw JSON and parsed only when the
//! record turns out to be an event, so a sample that carries an unknown `track` or `flag`
//! field still just ignores it.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::contract::{
    CarId, Channels, Event, EventKind, Flag, RaceStart, Record, Reject, RejectCode, Sample,
};

/// The earliest valid `ts`: 2000-01-01T00:00:00Z.
pub const MIN_TS: i64 = 946_684_800_000;
/// The latest `ts` accepted: 9999-12-31T23:59:59.999Z. The contract sets no upper bound;
/// this one keeps window arithmetic far from `i64` overflow (a `ts` near `i64::MAX`
/// would wrap the window end) and rejects no real clock.
pub const MAX_TS: i64 = 253_402_300_799_999;

/// Decodes one line (without its newline). Pure: the `ts_in_future` rule needs the race's
/// history and is applied by the engine.
pub fn decode_line(line: &[u8]) -> Result<Record<'_>, Reject> {
    let mut fields = Fields::default();
    if crate::fast::scan_flat_into(line, &mut fields).is_some() {
        return fields.validate(&EventFields::NONE);
    }
    // One UTF-8 check of the whole line (word at a time for ASCII) is cheaper than the
    // check `from_slice` makes of every string it meets.
    let text = std::str::from_utf8(line).map_err(|e| {
        Reject::new(
            RejectCode::InvalidJson,
            None,
            format!("not valid UTF-8: {e}"),
        )
    })?;
    decode_general(text)
}

/// The general path: any JSON, every rejection named.
pub(crate) fn decode_general(text: &str) -> Result<Record<'_>, Reject> {
    let fail = Cell::new(None);
    let mut de = serde_json::Deserializer::from_str(text);
    let raw = match de.deserialize_any(RecordVisitor { fail: &fail }) {
        Ok(raw) => raw,
        Err(e) => return Err(fail.take().unwrap_or_else(|| json_error(&e))),
    };
    if let Err(e) = de.end() {
        return Err(json_error(&e));
    }
    raw.validate()
}

fn json_error(e: &serde_json::Error) -> Reject {
    Reject::new(
        RejectCode::InvalidJson,
        None,
        format!("not valid JSON: {e}"),
    )
}

/// The fields of either kind of record, as read: those a sample can carry and the
/// event-only ones apart.
///
/// Why apart: the fast path (`crate::fast`) reads samples only, and a record of all 27
/// fields was 448 bytes to initialise per line, mostly the 13 event-only ones; it fills
/// [`Fields`] alone and validates it against [`EventFields::NONE`].
#[derive(Default)]
pub(crate) struct Raw<'a> {
    pub(crate) f: Fields<'a>,
    pub(crate) ev: EventFields<'a>,
}

/// The fields a sample can carry (`kind`, `race_id` and `car` are also read by events).
#[derive(Default)]
pub(crate) struct Fields<'a> {
    pub(crate) v: Option<u64>,
    pub(crate) kind: Option<Cow<'a, str>>,
    pub(crate) race_id: Option<Cow<'a, str>>,
    pub(crate) car: Option<Cow<'a, str>>,
    /// The car as the fast path reads it, already a car number (it leaves `car` empty,
    /// and gives up on bytes that are not one): no UTF-8 check of its bytes and no
    /// second parse (`from_utf8` was 2.3 % of the ratio bench's profile, for the car and
    /// the race id).
    pub(crate) car_id: Option<CarId>,
    pub(crate) ts: Option<i64>,
    pub(crate) lap: Option<i64>,
    pub(crate) lap_frac: Option<f64>,
    pub(crate) speed_mph: Option<f64>,
    pub(crate) rpm: Option<f64>,
    pub(crate) throttle_pct: Option<f64>,
    pub(crate) brake_psi: Option<f64>,
    pub(crate) gear: Option<i64>,
    pub(crate) gap_ahead_s: Option<f64>,
    pub(crate) in_pit: Option<bool>,
}

/// Event-only fields, as raw JSON, parsed once the kind is known.
#[derive(Default)]
pub(crate) struct EventFields<'a> {
    pub(crate) track: Option<&'a RawValue>,
    pub(crate) track_length_mi: Option<&'a RawValue>,
    pub(crate) scheduled_laps: Option<&'a RawValue>,
    pub(crate) fuel_capacity_gal: Option<&'a RawValue>,
    pub(crate) cars: Option<&'a RawValue>,
    pub(crate) drivers: Option<&'a RawValue>,
    pub(crate) flag: Option<&'a RawValue>,
    pub(crate) fuel_added_gal: Option<&'a RawValue>,
    pub(crate) full: Option<&'a RawValue>,
    pub(crate) tires: Option<&'a RawValue>,
    pub(crate) box_s: Option<&'a RawValue>,
    pub(crate) stage: Option<&'a RawValue>,
    pub(crate) reason: Option<&'a RawValue>,
}

impl EventFields<'static> {
    /// None of them (what a line the fast path read has).
    pub(crate) const NONE: EventFields<'static> = EventFields {
        track: None,
        track_length_mi: None,
        scheduled_laps: None,
        fuel_capacity_gal: None,
        cars: None,
        drivers: None,
        flag: None,
        fuel_added_gal: None,
        full: None,
        tires: None,
        box_s: None,
        stage: None,
        reason: None,
    };
}

/// A field's name, for both paths (`crate::fast` uses the first 14 and `Other`).
#[derive(Clone, Copy)]
pub(crate) enum Key {
    V,
    Kind,
    RaceId,
    Car,
    Ts,
    Lap,
    LapFrac,
    Speed,
    Rpm,
    Throttle,
    Brake,
    Gear,
    Gap,
    InPit,
    Track,
    TrackLength,
    ScheduledLaps,
    FuelCapacity,
    Cars,
    Drivers,
    Flag,
    FuelAdded,
    Full,
    Tires,
    BoxS,
    Stage,
    Reason,
    Other,
}

impl Key {
    /// Whether a sample line may carry the field (`Other`: an unknown field, skipped);
    /// the rest are the event-only ones.
    pub(crate) fn on_samples(self) -> bool {
        (self as u8) <= Key::InPit as u8 || matches!(self, Key::Other)
    }

    pub(crate) fn from_str(s: &str) -> Key {
        match s {
            "v" => Key::V,
            "kind" => Key::Kind,
            "race_id" => Key::RaceId,
            "car" => Key::Car,
            "ts" => Key::Ts,
            "lap" => Key::Lap,
            "lap_frac" => Key::LapFrac,
            "speed_mph" => Key::Speed,
            "rpm" => Key::Rpm,
            "throttle_pct" => Key::Throttle,
            "brake_psi" => Key::Brake,
            "gear" => Key::Gear,
            "gap_ahead_s" => Key::Gap,
            "in_pit" => Key::InPit,
            "track" => Key::Track,
            "track_length_mi" => Key::TrackLength,
            "scheduled_laps" => Key::ScheduledLaps,
            "fuel_capacity_gal" => Key::FuelCapacity,
            "cars" => Key::Cars,
            "drivers" => Key::Drivers,
            "flag" => Key::Flag,
            "fuel_added_gal" => Key::FuelAdded,
            "full" => Key::Full,
            "tires" => Key::Tires,
            "box_s" => Key::BoxS,
            "stage" => Key::Stage,
            "reason" => Key::Reason,
            _ => Key::Other,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Key::V => "v",
            Key::Kind => "kind",
            Key::RaceId => "race_id",
            Key::Car => "car",
            Key::Ts => "ts",
            Key::Lap => "lap",
            Key::LapFrac => "lap_frac",
            Key::Speed => "speed_mph",
            Key::Rpm => "rpm",
            Key::Throttle => "throttle_pct",
            Key::Brake => "brake_psi",
            Key::Gear => "gear",
            Key::Gap => "gap_ahead_s",
            Key::InPit => "in_pit",
            Key::Track => "track",
            Key::TrackLength => "track_length_mi",
            Key::ScheduledLaps => "scheduled_laps",
            Key::FuelCapacity => "fuel_capacity_gal",
            Key::Cars => "cars",
            Key::Drivers => "drivers",
            Key::Flag => "flag",
            Key::FuelAdded => "fuel_added_gal",
            Key::Full => "full",
            Key::Tires => "tires",
            Key::BoxS => "box_s",
            Key::Stage => "stage",
            Key::Reason => "reason",
            Key::Other => "(unknown)",
        }
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key, E> {
                Ok(Key::from_str(s))
            }
        }
        d.deserialize_identifier(KeyVisitor)
    }
}

/// A string that borrows from the input when it has no escapes.
struct Str<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct StrVisitor;
        impl<'de> Visitor<'de> for StrVisitor {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(s.to_owned())))
            }
        }
        d.deserialize_str(StrVisitor)
    }
}

struct RecordVisitor<'f> {
    fail: &'f Cell<Option<Reject>>,
}

impl<'de> Visitor<'de> for RecordVisitor<'_> {
    type Value = Raw<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw<'de>, A::Error> {
        let mut raw = Raw::default();
        while let Some(key) = map.next_key::<Key>()? {
            // Each arm reads the value into its type; a failure is recorded with the
            // field's name before the error stops the parse.
            macro_rules! value {
                ($t:ty) => {
                    match map.next_value::<Option<$t>>() {
                        Ok(v) => v,
                        Err(e) => {
                            self.fail.set(Some(value_error(key, &e)));
                            return Err(e);
                        }
                    }
                };
            }
            match key {
                Key::V => raw.f.v = value!(u64),
                Key::Kind => raw.f.kind = value!(Str<'de>).map(|s| s.0),
                Key::RaceId => raw.f.race_id = value!(Str<'de>).map(|s| s.0),
                Key::Car => raw.f.car = value!(Str<'de>).map(|s| s.0),
                Key::Ts => raw.f.ts = value!(i64),
                Key::Lap => raw.f.lap = value!(i64),
                Key::LapFrac => raw.f.lap_frac = value!(f64),
                Key::Speed => raw.f.speed_mph = value!(f64),
                Key::Rpm => raw.f.rpm = value!(f64),
                Key::Throttle => raw.f.throttle_pct = value!(f64),
                Key::Brake => raw.f.brake_psi = value!(f64),
                Key::Gear => raw.f.gear = value!(i64),
                Key::Gap => raw.f.gap_ahead_s = value!(f64),
                Key::InPit => raw.f.in_pit = value!(bool),
                Key::Track => raw.ev.track = value!(&'de RawValue),
                Key::TrackLength => raw.ev.track_length_mi = value!(&'de RawValue),
                Key::ScheduledLaps => raw.ev.scheduled_laps = value!(&'de RawValue),
                Key::FuelCapacity => raw.ev.fuel_capacity_gal = value!(&'de RawValue),
                Key::Cars => raw.ev.cars = value!(&'de RawValue),
                Key::Drivers => raw.ev.drivers = value!(&'de RawValue),
                Key::Flag => raw.ev.flag = value!(&'de RawValue),
                Key::FuelAdded => raw.ev.fuel_added_gal = value!(&'de RawValue),
                Key::Full => raw.ev.full = value!(&'de RawValue),
                Key::Tires => raw.ev.tires = value!(&'de RawValue),
                Key::BoxS => raw.ev.box_s = value!(&'de RawValue),
                Key::Stage => raw.ev.stage = value!(&'de RawValue),
                Key::Reason => raw.ev.reason = value!(&'de RawValue),
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(raw)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Raw<'de>, A::Error> {
        self.not_object("an array")
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Raw<'de>, E> {
        self.not_object("a string")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Raw<'de>, E> {
        self.not_object("a boolean")
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Raw<'de>, E> {
        self.not_object("a number")
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Raw<'de>, E> {
        self.not_object("a number")
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Raw<'de>, E> {
        self.not_object("a number")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Raw<'de>, E> {
        self.not_object("null")
    }
}

impl RecordVisitor<'_> {
    fn not_object<T, E: de::Error>(&self, what: &str) -> Result<T, E> {
        let detail = format!("a record must be a JSON object, found {what}");
        self.fail.set(Some(Reject::new(
            RejectCode::NotObject,
            None,
            detail.clone(),
        )));
        Err(E::custom(detail))
    }
}

/// Classifies a failure to read one field's value.
fn value_error(key: Key, e: &impl fmt::Display) -> Reject {
    let msg = e.to_string();
    let field = Some(key.name());
    if msg.starts_with("number out of range") {
        Reject::new(RejectCode::NotFinite, field, "number is not finite")
    } else if msg.starts_with("invalid type") || msg.starts_with("invalid value") {
        let what = msg.split(" at line ").next().unwrap_or(&msg);
        Reject::new(RejectCode::WrongType, field, what.to_owned())
    } else {
        Reject::new(
            RejectCode::InvalidJson,
            field,
            format!("not valid JSON: {msg}"),
        )
    }
}

fn missing(field: &'static str) -> Reject {
    Reject::new(
        RejectCode::MissingField,
        Some(field),
        "required field is missing",
    )
}

fn range<T: PartialOrd + fmt::Display + Copy>(
    field: &'static str,
    v: T,
    lo: T,
    hi: T,
) -> Result<T, Reject> {
    if v >= lo && v <= hi {
        Ok(v)
    } else {
        Err(Reject::new(
            RejectCode::OutOfRange,
            Some(field),
            format!("{v} is outside {lo}..={hi}"),
        ))
    }
}

fn car_id(field: &'static str, s: &str) -> Result<CarId, Reject> {
    CarId::parse(s).map_err(|why| {
        Reject::new(
            RejectCode::InvalidValue,
            Some(field),
            format!("{s:?} is not a car number: {why}"),
        )
    })
}

/// Parses an event-only field's raw JSON; `null` is absent.
fn event_field<'a, T: Deserialize<'a>>(
    field: &'static str,
    raw: Option<&'a RawValue>,
) -> Result<Option<T>, Reject> {
    let Some(raw) = raw else { return Ok(None) };
    serde_json::from_str::<Option<T>>(raw.get()).map_err(|e| value_error_named(field, &e))
}

fn value_error_named(field: &'static str, e: &serde_json::Error) -> Reject {
    let msg = e.to_string();
    let what = msg.split(" at line ").next().unwrap_or(&msg);
    Reject::new(RejectCode::WrongType, Some(field), what.to_owned())
}

fn finite_range(
    field: &'static str,
    v: Option<f64>,
    lo: f64,
    hi: f64,
) -> Result<Option<f64>, Reject> {
    v.map(|v| range(field, v, lo, hi)).transpose()
}

impl<'a> Raw<'a> {
    pub(crate) fn validate(&self) -> Result<Record<'a>, Reject> {
        self.f.validate(&self.ev)
    }
}

impl<'a> Fields<'a> {
    /// The record these fields make, with `ev` the event-only fields read beside them.
    pub(crate) fn validate(&self, ev: &EventFields<'a>) -> Result<Record<'a>, Reject> {
        match self.v {
            None => return Err(missing("v")),
            Some(1) => {}
            Some(v) => {
                return Err(Reject::new(
                    RejectCode::UnsupportedVersion,
                    Some("v"),
                    format!("version {v} is not supported (this reader knows 1)"),
                ));
            }
        }
        let ts = self.ts.ok_or_else(|| missing("ts"))?;
        if ts < MIN_TS {
            return Err(Reject::new(
                RejectCode::OutOfRange,
                Some("ts"),
                format!("{ts} is before 2000-01-01"),
            ));
        }
        if ts > MAX_TS {
            return Err(Reject::new(
                RejectCode::OutOfRange,
                Some("ts"),
                format!("{ts} is after 9999-12-31"),
            ));
        }
        if let Some(id) = &self.race_id
            && (id.is_empty() || (id.len() > 64 && id.chars().count() > 64))
        {
            return Err(Reject::new(
                RejectCode::OutOfRange,
                Some("race_id"),
                "must be 1-64 characters",
            ));
        }
        let lap = self
            .lap
            .map(|l| range("lap", l, 0, 2000).map(|l| l as u16))
            .transpose()?;
        match self.kind.as_deref() {
            None | Some("sample") => self.sample(ts, lap).map(Record::Sample),
            Some(kind) => {
                let kind = kind.to_owned();
                self.event(ev, &kind, ts, lap).map(Record::Event)
            }
        }
    }

    fn sample(&self, ts: i64, lap: Option<u16>) -> Result<Sample<'a>, Reject> {
        let car = match self.car_id {
            Some(car) => car,
            None => car_id("car", self.car.as_deref().ok_or_else(|| missing("car"))?)?,
        };
        let mut ch = Channels::default();
        if let Some(lap) = lap {
            ch.lap = lap;
            ch.present |= Channels::LAP;
        }
        if let Some(f) = self.lap_frac {
            if !(0.0..1.0).contains(&f) {
                return Err(Reject::new(
                    RejectCode::OutOfRange,
                    Some("lap_frac"),
                    format!("{f} is outside 0 <= x < 1"),
                ));
            }
            ch.lap_frac = f as f32;
            ch.present |= Channels::LAP_FRAC;
        }
        if let Some(v) = finite_range("speed_mph", self.speed_mph, 0.0, 300.0)? {
            ch.speed_mph = v as f32;
            ch.present |= Channels::SPEED;
        }
        if let Some(v) = finite_range("rpm", self.rpm, 0.0, 12000.0)? {
            ch.rpm = v as f32;
            ch.present |= Channels::RPM;
        }
        if let Some(v) = finite_range("throttle_pct", self.throttle_pct, -5.0, 105.0)? {
            ch.throttle_pct = v.clamp(0.0, 100.0) as f32;
            ch.present |= Channels::THROTTLE;
        }
        if let Some(v) = finite_range("brake_psi", self.brake_psi, 0.0, 3000.0)? {
            ch.brake_psi = v as f32;
            ch.present |= Channels::BRAKE;
        }
        if let Some(g) = self.gear {
            ch.gear = range("gear", g, 0, 6)? as u8;
            ch.present |= Channels::GEAR;
        }
        if let Some(v) = finite_range("gap_ahead_s", self.gap_ahead_s, 0.0, 600.0)? {
            ch.gap_ahead_s = v as f32;
            ch.present |= Channels::GAP;
        }
        if let Some(p) = self.in_pit {
            ch.present |= Channels::IN_PIT | if p { Channels::IN_PIT_VALUE } else { 0 };
        }
        if !ch.has(Channels::SPEED) && !ch.has(Channels::RPM) && !ch.has(Channels::THROTTLE) {
            return Err(Reject::new(
                RejectCode::EmptySample,
                None,
                "a sample needs at least one of speed_mph, rpm, throttle_pct",
            ));
        }
        Ok(Sample {
            race_id: self.race_id.clone(),
            car,
            ts,
            ch,
        })
    }
}

/// Longest `track` key a `race_start` may give (`telemetry-v1`, "Limits").
pub const MAX_TRACK_CHARS: usize = 64;
/// Longest driver name a `race_start` may give.
pub const MAX_DRIVER_CHARS: usize = 100;
/// Most `cars` or `drivers` a `race_start` (or cars an incident) may list.
pub const MAX_LISTED_CARS: usize = 200;

mod events;

#[cfg(test)]
mod tests;
