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

    fn event(
        &self,
        ev: &EventFields<'a>,
        kind: &str,
        ts: i64,
        lap: Option<u16>,
    ) -> Result<Event, Reject> {
        let kind = match kind {
            "race_start" => EventKind::RaceStart(self.race_start(ev)?),
            "flag" => EventKind::Flag {
                flag: ev.flag()?,
                lap,
            },
            "pit_in" => EventKind::PitIn {
                car: self.event_car()?,
                lap,
            },
            "pit_out" => self.pit_out(ev, lap)?,
            "incident" => EventKind::Incident {
                cars: ev.incident_cars()?,
                lap,
            },
            "stage_end" => {
                let stage: i64 = event_field("stage", ev.stage)?.ok_or_else(|| missing("stage"))?;
                EventKind::StageEnd {
                    stage: range("stage", stage, 1, 10)? as u32,
                    lap,
                }
            }
            "car_out" => {
                let car = self.event_car()?;
                let reason: Option<String> = event_field("reason", ev.reason)?;
                max_chars("reason", reason.as_deref(), 200)?;
                EventKind::CarOut { car, reason }
            }
            other => {
                return Err(Reject::new(
                    RejectCode::UnknownKind,
                    Some("kind"),
                    format!("{other:?} is not a known record kind"),
                ));
            }
        };
        Ok(Event {
            ts,
            race_id: self.race_id.as_deref().map(str::to_owned),
            kind,
        })
    }

    fn event_car(&self) -> Result<CarId, Reject> {
        car_id("car", self.car.as_deref().ok_or_else(|| missing("car"))?)
    }

    /// A `race_start`, within the contract's limits (`telemetry-v1`, "Limits"): a
    /// `track` of at most 64 characters, driver names of at most 100, at most 200
    /// `cars` and `drivers` (the RaceState that carries them rides every publish).
    fn race_start(&self, ev: &EventFields<'a>) -> Result<RaceStart, Reject> {
        let race_id = self
            .race_id
            .as_deref()
            .ok_or_else(|| missing("race_id"))?
            .to_owned();
        let track: String = event_field("track", ev.track)?.ok_or_else(|| missing("track"))?;
        if track.is_empty() {
            return Err(Reject::new(
                RejectCode::OutOfRange,
                Some("track"),
                "must not be empty",
            ));
        }
        max_chars("track", Some(&track), MAX_TRACK_CHARS)?;
        let length: Option<f64> = event_field("track_length_mi", ev.track_length_mi)?;
        let length = open_closed("track_length_mi", length, 10.0)?;
        let laps: Option<i64> = event_field("scheduled_laps", ev.scheduled_laps)?;
        let laps = laps
            .map(|l| range("scheduled_laps", l, 1, 2000).map(|l| l as u32))
            .transpose()?;
        let cap: Option<f64> = event_field("fuel_capacity_gal", ev.fuel_capacity_gal)?;
        let cap = open_closed("fuel_capacity_gal", cap, 100.0)?;
        let cars: Vec<String> = event_field("cars", ev.cars)?.unwrap_or_default();
        max_items("cars", cars.len())?;
        let cars = cars
            .iter()
            .map(|c| car_id("cars", c))
            .collect::<Result<Vec<_>, _>>()?;
        let drivers: std::collections::BTreeMap<String, Option<String>> =
            event_field("drivers", ev.drivers)?.unwrap_or_default();
        max_items("drivers", drivers.len())?;
        let mut named = Vec::with_capacity(drivers.len());
        for (car, name) in drivers {
            let car = car_id("drivers", &car)?;
            if let Some(name) = name {
                max_chars("drivers", Some(&name), MAX_DRIVER_CHARS)?;
                named.push((car, name));
            }
        }
        Ok(RaceStart {
            race_id,
            track,
            track_length_mi: length,
            scheduled_laps: laps,
            fuel_capacity_gal: cap,
            cars,
            drivers: named,
        })
    }

    fn pit_out(&self, ev: &EventFields<'a>, lap: Option<u16>) -> Result<EventKind, Reject> {
        let car = self.event_car()?;
        let added: Option<f64> = event_field("fuel_added_gal", ev.fuel_added_gal)?;
        let added = finite_range("fuel_added_gal", added, 0.0, 100.0)?;
        let full: Option<bool> = event_field("full", ev.full)?;
        let tires: Option<i64> = event_field("tires", ev.tires)?;
        let tires = tires
            .map(|t| range("tires", t, 0, 4).map(|t| t as u8))
            .transpose()?;
        let box_s: Option<f64> = event_field("box_s", ev.box_s)?;
        let box_s = finite_range("box_s", box_s, 0.0, 3600.0)?;
        Ok(EventKind::PitOut {
            car,
            lap,
            fuel_added_gal: added,
            full,
            tires,
            box_s,
        })
    }
}

impl EventFields<'_> {
    fn flag(&self) -> Result<Flag, Reject> {
        let name: String = event_field("flag", self.flag)?.ok_or_else(|| missing("flag"))?;
        Flag::parse(&name).ok_or_else(|| {
            Reject::new(
                RejectCode::InvalidValue,
                Some("flag"),
                format!("{name:?} is not one of green, yellow, red, white, checkered"),
            )
        })
    }

    fn incident_cars(&self) -> Result<Vec<CarId>, Reject> {
        let cars: Vec<String> = event_field("cars", self.cars)?.ok_or_else(|| missing("cars"))?;
        if cars.is_empty() {
            return Err(Reject::new(
                RejectCode::OutOfRange,
                Some("cars"),
                "an incident names at least one car",
            ));
        }
        max_items("cars", cars.len())?;
        cars.iter().map(|c| car_id("cars", c)).collect()
    }
}

/// Longest `track` key a `race_start` may give (`telemetry-v1`, "Limits").
pub const MAX_TRACK_CHARS: usize = 64;
/// Longest driver name a `race_start` may give.
pub const MAX_DRIVER_CHARS: usize = 100;
/// Most `cars` or `drivers` a `race_start` (or cars an incident) may list.
pub const MAX_LISTED_CARS: usize = 200;

/// Refuses a text longer than `max` characters, naming the field.
fn max_chars(field: &'static str, s: Option<&str>, max: usize) -> Result<(), Reject> {
    match s {
        Some(s) if s.chars().count() > max => Err(Reject::new(
            RejectCode::OutOfRange,
            Some(field),
            format!("longer than {max} characters"),
        )),
        _ => Ok(()),
    }
}

/// Refuses a list of more than [`MAX_LISTED_CARS`] entries, naming the field.
fn max_items(field: &'static str, n: usize) -> Result<(), Reject> {
    if n > MAX_LISTED_CARS {
        return Err(Reject::new(
            RejectCode::OutOfRange,
            Some(field),
            format!("{n} entries, more than {MAX_LISTED_CARS}"),
        ));
    }
    Ok(())
}

/// A number in `0 < x <= max`, or absent.
fn open_closed(field: &'static str, v: Option<f64>, max: f64) -> Result<Option<f64>, Reject> {
    match v {
        Some(x) if !(x > 0.0 && x <= max) => Err(Reject::new(
            RejectCode::OutOfRange,
            Some(field),
            format!("{x} is outside 0 < x <= {max}"),
        )),
        v => Ok(v),
    }
}

#[cfg(test)]
mod tests;
