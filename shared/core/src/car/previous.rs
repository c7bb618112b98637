//! Layouts of earlier car-state formats, read after a deploy in the middle of a race:
//! the stored blob is postcard, which is not self-describing, so each format the reader
//! keeps is written out here as it was, with only the types that changed since frozen
//! (the others are today's, unchanged), and converted to today's state.
//!
//! Format 3 (before the final window and the official pit data): `CarState` had no
//! `final_window`, and a queued `pit_out` no `tires` or `box_s`.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::laps::Laps;
use super::sweep::{Carry, Hold};
use super::{CarEvent, CarEventKind, CarState, Fuel, Held};
use crate::contract::{CarId, Flag};

/// `CarState` as format 3 stored it: the same fields in the same order, less
/// `final_window`, with events of the format-3 layout.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CarStateV3 {
    car: CarId,
    max_ts: Option<i64>,
    closed_through: i64,
    retired: bool,
    buf: VecDeque<Held>,
    events: Vec<CarEventV3>,
    hold: Hold,
    carry: Option<Carry>,
    flag: Flag,
    pit_road: bool,
    fuel: Fuel,
    laps: Laps,
    last_pos: Option<f64>,
    arrival_pos: f64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct CarEventV3 {
    eff_ts: i64,
    kind: CarEventKindV3,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
enum CarEventKindV3 {
    Flag(Flag),
    PitIn,
    PitOut {
        fuel_added_gal: Option<f64>,
        full: Option<bool>,
    },
}

impl From<CarEventV3> for CarEvent {
    fn from(e: CarEventV3) -> CarEvent {
        CarEvent {
            eff_ts: e.eff_ts,
            kind: match e.kind {
                CarEventKindV3::Flag(f) => CarEventKind::Flag(f),
                CarEventKindV3::PitIn => CarEventKind::PitIn,
                CarEventKindV3::PitOut {
                    fuel_added_gal,
                    full,
                } => CarEventKind::PitOut {
                    fuel_added_gal,
                    full,
                    tires: None,
                    box_s: None,
                },
            },
        }
    }
}

impl From<CarStateV3> for CarState {
    /// A car stored by format 3 has not been tested for its final window: it is at its
    /// next window's close.
    fn from(s: CarStateV3) -> CarState {
        CarState {
            car: s.car,
            max_ts: s.max_ts,
            closed_through: s.closed_through,
            retired: s.retired,
            buf: s.buf,
            events: s.events.into_iter().map(CarEvent::from).collect(),
            hold: s.hold,
            carry: s.carry,
            flag: s.flag,
            pit_road: s.pit_road,
            fuel: s.fuel,
            laps: s.laps,
            last_pos: s.last_pos,
            arrival_pos: s.arrival_pos,
            final_window: false,
            recorder: None,
        }
    }
}
