//! One car on track: the driver's controller, the engine and body it drives, its pit stop.
//!
//! Every step the driver picks a speed to be at a moment later: under green the car's own
//! lap profile (see `profile.rs`); under caution the car ahead's speed, closing or opening
//! the gap to about 20 m (the leader follows the pace car at the track's pace speed); on
//! pit road the speed limit, then a stop in the box. The force that takes needs brake
//! power from the engine (`physics.rs`); the throttle is what gives that power at the
//! current rpm, capped at 100 % (and then the car accelerates as hard as it can), and the
//! brakes take what engine braking and drag do not. So throttle, brake, gear, rpm and
//! speed always agree with one another and with the fuel burned.
//!
//! # Layout
//!
//! - `params`: what a car keeps all race ([`CarParams`], [`Style`]).
//! - `driver`: the speed the driver aims for: profile, draft, caution line, fuel saving
//!   and pushing, what it sees ([`Surroundings`]).
//! - `controls`: from that speed to throttle, brake, gear and rpm ([`Controls`]).
//! - `motion`: a step of time: fuel burned, speed, distance, what changes phase.
//! - `pit`: a pit stop, planned ([`FillPlan`], [`Stop`]), carried out ([`PitStage`]: the
//!   fuel and the tyres side by side) and reported ([`PitReport`]).
//! - `solo`: one car alone on track, the yardstick for the teams' fuel numbers.
//!
//! This file holds the car itself: its state ([`Car`], [`Phase`]) and what it tells race
//! control ([`CarNotice`]).

mod controls;
mod driver;
mod motion;
mod params;
mod pit;
mod solo;

pub(crate) use controls::Controls;
pub(crate) use driver::Surroundings;
pub(crate) use params::{CarParams, Style};
pub(crate) use pit::{
    FILL_RATE_GPS, FUEL_DEAD_S, FillPlan, PitReport, PitStage, Stop, tire_change_s,
};
pub(crate) use solo::solo_lap;

use crate::physics::{self, CAPACITY_GAL, Engine};
use crate::profile::LapProfile;
use crate::track::TrackCtx;

/// What the car is doing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Phase {
    Track,
    PitRoad(PitStage),
    /// Wrecked: braking to a stop, engine off.
    Crashed,
    /// Stopped for good, waiting for its `car_out`.
    Parked,
    Out,
    /// Took the checkered flag at this `ts` (writes its sample then, none after).
    Finished(i64),
}

/// Things that happened to a car during a step, for race control to announce.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum CarNotice {
    PitIn,
    PitOut(PitReport),
    RanDry,
    Stopped,
}

/// One car in the race.
#[derive(Debug, Clone)]
pub(crate) struct Car {
    pub p: CarParams,
    /// The car's own engine (the package's, scaled by `power_mult`).
    engine: Engine,
    /// Own profiles: normal, pushing.
    profiles: [LapProfile; 2],
    /// Distance run, laps (the integer part is laps completed).
    pub d: f64,
    /// Speed, m/s.
    pub v: f64,
    pub gear: u8,
    /// Fuel in the cell, gal (the truth).
    pub fuel: f64,
    pub phase: Phase,
    pub dry: bool,
    pub damaged: bool,
    /// Fuel saving, 0..=1.
    pub save: f64,
    pub push: bool,
    /// The controls computed for the step starting now.
    pub ctrl: Controls,
    /// A stop decided: the fill it is for.
    pub plan: Option<FillPlan>,
    /// How that stop will go.
    stop: Option<Stop>,
    /// Where the planned stop's pit road starts, laps.
    pub entry_d: f64,
    /// The stop under way in the box (or the last one, until the next pit entry).
    in_box: Option<Stop>,
    /// Poured at that stop, gal.
    pub poured: f64,
    /// The stop under way filled the cell to capacity.
    pub filled: bool,
    /// Stood still in the box at that stop, s.
    pub stood_s: f64,
    pub notices: Vec<CarNotice>,
}

impl Car {
    pub fn new(ctx: &TrackCtx, p: CarParams, d: f64, v: f64) -> Car {
        let profiles = [
            ctx.car_profile(p.pace, false),
            ctx.car_profile(p.pace, true),
        ];
        let gear = ctx.cruise_gear(v, 3_500.0);
        Car {
            engine: ctx.engine.scaled(p.power_mult),
            p,
            profiles,
            d,
            v,
            gear,
            fuel: CAPACITY_GAL,
            phase: Phase::Track,
            dry: false,
            damaged: false,
            save: 0.0,
            push: false,
            ctrl: Controls::default(),
            plan: None,
            stop: None,
            entry_d: 0.0,
            in_box: None,
            poured: 0.0,
            filled: false,
            stood_s: 0.0,
            notices: Vec::new(),
        }
    }

    /// Position past the line, m.
    pub fn pos_m(&self, ctx: &TrackCtx) -> f64 {
        self.d.fract() * ctx.len_m
    }

    /// Laps completed.
    pub fn lap(&self) -> u32 {
        self.d.floor().max(0.0) as u32
    }

    pub fn in_pit(&self) -> bool {
        matches!(self.phase, Phase::PitRoad(_))
    }

    /// Racing or on pit road (not wrecked, retired or finished).
    pub fn running(&self) -> bool {
        matches!(self.phase, Phase::Track | Phase::PitRoad(_))
    }

    /// Writes samples now.
    pub fn reporting(&self, ts: i64) -> bool {
        match self.phase {
            Phase::Out => false,
            Phase::Finished(at) => at == ts,
            _ => true,
        }
    }

    /// How fast the car is running now, for who passes whom: its corner pace and engine,
    /// less when saving, damaged, heading for pit road or out of fuel.
    pub fn race_pace(&self) -> f64 {
        if self.dry || self.plan.is_some() || self.phase != Phase::Track {
            return 0.0;
        }
        let mut p =
            self.p.pace * (1.0 + 0.3 * (self.p.power_mult - 1.0)) * (1.0 - 0.01 * self.save);
        if self.push {
            p *= 1.003;
        }
        if self.damaged {
            p *= 0.985;
        }
        p
    }

    fn mass(&self) -> f64 {
        physics::mass_kg(self.fuel)
    }
}
