//! The input contract (`telemetry-v1`): samples, race-control events and rejections.
//!
//! Decoded records are small and, for samples, allocation-free: the car is a 4-byte
//! inline id and the race id borrows from the input line whenever it can.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A car number as displayed (`"00"` is not `"0"`): 1–4 ASCII alphanumerics, stored
/// inline and zero-padded, so that the derived order is the byte order the spec asks
/// for when updates are published (`"1" < "10" < "2"`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CarId([u8; 4]);

impl CarId {
    /// Parses a car number, or says why it is not one.
    pub fn parse(s: &str) -> Result<CarId, &'static str> {
        CarId::from_bytes(s.as_bytes())
    }

    /// [`CarId::parse`] of a string's bytes, which need no UTF-8 check first: a car
    /// number is ASCII letters and digits, and anything else is refused.
    pub fn from_bytes(b: &[u8]) -> Result<CarId, &'static str> {
        if b.is_empty() || b.len() > 4 {
            return Err("must be 1-4 characters");
        }
        if !b.iter().all(u8::is_ascii_alphanumeric) {
            return Err("must be letters and digits only");
        }
        let mut id = [0u8; 4];
        id[..b.len()].copy_from_slice(b);
        Ok(CarId(id))
    }

    /// The car number as text.
    pub fn as_str(&self) -> &str {
        let len = self.0.iter().position(|&c| c == 0).unwrap_or(4);
        // Only ASCII alphanumerics are ever stored.
        std::str::from_utf8(&self.0[..len]).unwrap_or("")
    }
}

impl fmt::Debug for CarId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CarId({})", self.as_str())
    }
}

impl fmt::Display for CarId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CarId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CarId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Cow::<str>::deserialize(d)?;
        CarId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The flag in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    Green,
    Yellow,
    Red,
    White,
    Checkered,
}

impl Flag {
    /// All flags, indexable by `flag as usize`.
    pub const ALL: [Flag; 5] = [
        Flag::Green,
        Flag::Yellow,
        Flag::Red,
        Flag::White,
        Flag::Checkered,
    ];

    /// `yellow`, `red` and `checkered` are cautions (`fuel-update-v1`).
    pub fn is_caution(self) -> bool {
        matches!(self, Flag::Yellow | Flag::Red | Flag::Checkered)
    }

    /// The contract's name for the flag.
    pub fn as_str(self) -> &'static str {
        match self {
            Flag::Green => "green",
            Flag::Yellow => "yellow",
            Flag::Red => "red",
            Flag::White => "white",
            Flag::Checkered => "checkered",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Flag> {
        Flag::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// The channels of one sample, compact: a sample held in an open window costs 40 bytes
/// (the memory target is 48). Values are stored as `f32`, which keeps far more precision
/// than the sensors have; a bit in `present` says which channels the sample carried.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Channels {
    pub lap_frac: f32,
    pub speed_mph: f32,
    pub rpm: f32,
    /// Already clamped to 0–100 as the spec says.
    pub throttle_pct: f32,
    pub brake_psi: f32,
    pub gap_ahead_s: f32,
    pub lap: u16,
    pub gear: u8,
    /// One bit per channel (`Channels::LAP`, …); `IN_PIT_VALUE` holds the boolean.
    pub present: u16,
}

impl Channels {
    pub const LAP: u16 = 1 << 0;
    pub const LAP_FRAC: u16 = 1 << 1;
    pub const SPEED: u16 = 1 << 2;
    pub const RPM: u16 = 1 << 3;
    pub const THROTTLE: u16 = 1 << 4;
    pub const BRAKE: u16 = 1 << 5;
    pub const GEAR: u16 = 1 << 6;
    pub const GAP: u16 = 1 << 7;
    pub const IN_PIT: u16 = 1 << 8;
    /// The value of `in_pit` when `IN_PIT` is present.
    pub const IN_PIT_VALUE: u16 = 1 << 9;
    /// Bits that name channels (not the `in_pit` value).
    pub const CHANNEL_MASK: u16 = (1 << 9) - 1;

    /// `lap + lap_frac` when the sample carries a lap (`lap_frac` 0 when absent).
    pub fn position(&self) -> Option<f64> {
        self.has(Self::LAP).then(|| {
            f64::from(self.lap)
                + if self.has(Self::LAP_FRAC) {
                    f64::from(self.lap_frac)
                } else {
                    0.0
                }
        })
    }

    pub fn has(&self, bit: u16) -> bool {
        self.present & bit != 0
    }

    /// `Some(in_pit)` when the sample carried it.
    pub fn in_pit(&self) -> Option<bool> {
        self.has(Self::IN_PIT)
            .then_some(self.present & Self::IN_PIT_VALUE != 0)
    }

    /// Merges `other` into `self` by the spec's rule 3: a field present in both keeps the
    /// value seen first (`self`). Returns whether `other` added any field.
    pub fn merge_from(&mut self, other: &Channels) -> bool {
        let new = other.present & !self.present & Self::CHANNEL_MASK;
        if new == 0 {
            return false;
        }
        if new & Self::LAP != 0 {
            self.lap = other.lap;
        }
        if new & Self::LAP_FRAC != 0 {
            self.lap_frac = other.lap_frac;
        }
        if new & Self::SPEED != 0 {
            self.speed_mph = other.speed_mph;
        }
        if new & Self::RPM != 0 {
            self.rpm = other.rpm;
        }
        if new & Self::THROTTLE != 0 {
            self.throttle_pct = other.throttle_pct;
        }
        if new & Self::BRAKE != 0 {
            self.brake_psi = other.brake_psi;
        }
        if new & Self::GEAR != 0 {
            self.gear = other.gear;
        }
        if new & Self::GAP != 0 {
            self.gap_ahead_s = other.gap_ahead_s;
        }
        if new & Self::IN_PIT != 0 {
            self.present |= other.present & Self::IN_PIT_VALUE;
        }
        self.present |= new;
        true
    }
}

/// One decoded sample. The race id borrows from the input line when it can.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample<'a> {
    pub race_id: Option<Cow<'a, str>>,
    pub car: CarId,
    pub ts: i64,
    pub ch: Channels,
}

/// A race-control event (`telemetry-v1`, "Race-control events").
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub ts: i64,
    pub race_id: Option<String>,
    pub kind: EventKind,
}

/// What a race-control event says.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    RaceStart(RaceStart),
    Flag {
        flag: Flag,
        lap: Option<u16>,
    },
    PitIn {
        car: CarId,
        lap: Option<u16>,
    },
    PitOut {
        car: CarId,
        lap: Option<u16>,
        fuel_added_gal: Option<f64>,
        full: Option<bool>,
        /// Tyres changed at the stop (0–4), as the official pit data gives it.
        tires: Option<u8>,
        /// Seconds the car stood in its box, as the official pit data times it.
        box_s: Option<f64>,
    },
    Incident {
        cars: Vec<CarId>,
        lap: Option<u16>,
    },
    StageEnd {
        stage: u32,
        lap: Option<u16>,
    },
    CarOut {
        car: CarId,
        reason: Option<String>,
    },
}

impl EventKind {
    /// The contract's `kind`.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::RaceStart(_) => "race_start",
            EventKind::Flag { .. } => "flag",
            EventKind::PitIn { .. } => "pit_in",
            EventKind::PitOut { .. } => "pit_out",
            EventKind::Incident { .. } => "incident",
            EventKind::StageEnd { .. } => "stage_end",
            EventKind::CarOut { .. } => "car_out",
        }
    }
}

/// The fields of a `race_start`.
#[derive(Debug, Clone, PartialEq)]
pub struct RaceStart {
    pub race_id: String,
    pub track: String,
    pub track_length_mi: Option<f64>,
    pub scheduled_laps: Option<u32>,
    pub fuel_capacity_gal: Option<f64>,
    pub cars: Vec<CarId>,
    pub drivers: Vec<(CarId, String)>,
}

/// One decoded record.
#[derive(Debug, Clone, PartialEq)]
pub enum Record<'a> {
    Sample(Sample<'a>),
    Event(Event),
}

/// Why a record was rejected: a stable code to count by, the field when one can be
/// named, and a sentence for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub code: RejectCode,
    pub field: Option<&'static str>,
    pub detail: String,
}

impl Reject {
    pub fn new(code: RejectCode, field: Option<&'static str>, detail: impl Into<String>) -> Self {
        Reject {
            code,
            field,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.field {
            Some(field) => write!(f, "{} ({}): {}", self.code.as_str(), field, self.detail),
            None => write!(f, "{}: {}", self.code.as_str(), self.detail),
        }
    }
}

impl std::error::Error for Reject {}

/// Rejection reasons, as counted in summaries and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectCode {
    /// Not valid JSON (or not UTF-8).
    InvalidJson,
    /// Valid JSON but not an object.
    NotObject,
    /// `v` is not a version this reader knows.
    UnsupportedVersion,
    /// A required field is missing (or `null`).
    MissingField,
    /// A field has the wrong JSON type (an integer written with a fraction included).
    WrongType,
    /// A number outside its valid range.
    OutOfRange,
    /// A number too large to be finite.
    NotFinite,
    /// A string or enumeration value that is not allowed (`car` pattern, `flag`, …).
    InvalidValue,
    /// `kind` names no known record.
    UnknownKind,
    /// A sample with none of `speed_mph`, `rpm`, `throttle_pct`.
    EmptySample,
    /// A sample more than 60 s past the largest `ts` seen in its race, or a race-control
    /// event more than 72 h after its race's `race_start`.
    TsInFuture,
    /// A record of a car beyond the race's 200 distinct cars.
    TooManyCars,
}

impl RejectCode {
    pub const ALL: [RejectCode; 12] = [
        RejectCode::InvalidJson,
        RejectCode::NotObject,
        RejectCode::UnsupportedVersion,
        RejectCode::MissingField,
        RejectCode::WrongType,
        RejectCode::OutOfRange,
        RejectCode::NotFinite,
        RejectCode::InvalidValue,
        RejectCode::UnknownKind,
        RejectCode::EmptySample,
        RejectCode::TsInFuture,
        RejectCode::TooManyCars,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RejectCode::InvalidJson => "invalid_json",
            RejectCode::NotObject => "not_object",
            RejectCode::UnsupportedVersion => "unsupported_version",
            RejectCode::MissingField => "missing_field",
            RejectCode::WrongType => "wrong_type",
            RejectCode::OutOfRange => "out_of_range",
            RejectCode::NotFinite => "not_finite",
            RejectCode::InvalidValue => "invalid_value",
            RejectCode::UnknownKind => "unknown_kind",
            RejectCode::EmptySample => "empty_sample",
            RejectCode::TsInFuture => "ts_in_future",
            RejectCode::TooManyCars => "too_many_cars",
        }
    }
}
