//! A car's pit stop: planned at the next pit entry, slowing for pit road, the run to its
//! box, standing there while the crew works, and the run out.
//!
//! Race control decides a stop and draws how it will go ([`Stop`], see `race/pit.rs`); the
//! car carries it out. In the box two jobs run side by side, as on a Next Gen stop: the
//! fuel (dead time until fuel flows, then the pour at the crew's rate) and the tyres (a
//! change takes its own time, whatever is poured). The car leaves `post_s` after the
//! longer job ends, so it stands max(dead + poured / rate, tyre change) + `post_s`, to the
//! step; what it stood is the stop's `box_s` ([`PitReport`]).

use super::{Car, CarNotice, Controls, Phase};
use crate::physics::{self, CAPACITY_GAL, G, IDLE_RPM};
use crate::track::TrackCtx;

/// An average crew's fill rate, gal/s, and the seconds from the car stopping to fuel
/// flowing: the contract's calibration defaults (`telemetry-v1`, Fills).
pub(crate) const FILL_RATE_GPS: f64 = 1.5;
pub(crate) const FUEL_DEAD_S: f64 = 1.5;

/// An average crew's tyre change, s: the contract's defaults, 9 s for four, 5 for two,
/// 4 for one or three (rare, odd stops).
pub(crate) fn tire_change_s(tires: u8) -> f64 {
    match tires {
        0 => 0.0,
        2 => 5.0,
        4 => 9.0,
        _ => 4.0,
    }
}

/// What the fill at a stop is to be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum FillPlan {
    Full,
    /// Top the cell up to what the finish needs: the amount is settled in the box.
    Finish,
}

/// How a planned stop goes, drawn when it is planned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Stop {
    /// Tyres to change, 0 to 4.
    pub tires: u8,
    /// Gallons to pour; infinite: fill the cell.
    pub target: f64,
    /// The fueler's rate this stop, gal/s.
    pub rate: f64,
    /// From the car stopping to fuel flowing, s.
    pub dead_s: f64,
    /// The tyre change, s (0 without one).
    pub tire_s: f64,
    /// From the longer job's end to the car leaving (the jack dropping), s.
    pub post_s: f64,
}

impl Stop {
    /// A stop nobody planned (a car on pit road without one): a full cell, no tyres.
    fn unplanned(rate: f64) -> Stop {
        Stop {
            tires: 0,
            target: f64::INFINITY,
            rate,
            dead_s: FUEL_DEAD_S,
            tire_s: 0.0,
            post_s: 0.2,
        }
    }
}

/// Standing in the box: what is left of each job.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Stand {
    /// Dead time left before fuel flows, s.
    dead_s: f64,
    /// The fuel is still going in.
    pouring: bool,
    /// Tyre change left, s.
    tire_s: f64,
    /// From both jobs done to the car leaving, s left.
    post_s: f64,
}

/// What a stop came to, for `pit_out` and the truth.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct PitReport {
    /// Gallons poured.
    pub added: f64,
    /// The cell was filled to the top.
    pub full: bool,
    /// Tyres changed.
    pub tires: u8,
    /// Seconds the car stood still in its box.
    pub box_s: f64,
    /// The fuel job: dead time and the pour, s.
    pub fuel_s: f64,
    /// The tyre change, s (0 without one).
    pub tire_s: f64,
}

/// Where on pit road.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum PitStage {
    ToBox,
    /// Stopped in the box while the crew works.
    Stand(Stand),
    ToExit,
}

impl Car {
    /// Plans a stop at the next pit entry.
    pub fn plan_stop(&mut self, ctx: &TrackCtx, plan: FillPlan, stop: Stop) {
        self.plan = Some(plan);
        self.stop = Some(stop);
        self.entry_d = ctx.next_entry(self.d);
    }

    /// Drops a planned stop (pit road closed, or the car wrecked).
    pub fn cancel_stop(&mut self) {
        self.plan = None;
        self.stop = None;
    }

    /// Distance to the planned pit entry, m.
    pub fn to_entry_m(&self, ctx: &TrackCtx) -> f64 {
        (self.entry_d - self.d) * ctx.len_m
    }

    /// The speed allowed on the way into a planned stop (infinite without one).
    pub(super) fn approach_limit(&self, ctx: &TrackCtx, base: f64) -> f64 {
        if self.plan.is_none() {
            return base;
        }
        let dist = self.to_entry_m(ctx).max(0.0);
        base.min((ctx.pit_speed * ctx.pit_speed + 2.0 * 0.9 * G * dist).sqrt())
    }

    /// On pit road to the box: the speed limit, then braking to stop at the box (a car
    /// out of fuel coasts there).
    pub(super) fn to_box(&self, ctx: &TrackCtx) -> Controls {
        let to_box = (self.entry_d * ctx.len_m + self.p.box_m) - self.d * ctx.len_m;
        let stop = (2.0 * 0.5 * G * to_box.max(0.0)).sqrt();
        let v_t = ctx.pit_speed.min(stop);
        if self.dry {
            self.coast(ctx, v_t)
        } else {
            self.cruise(ctx, v_t, 1.0, 0.6)
        }
    }

    /// In the box: idling in neutral.
    pub(super) fn standing(&self) -> Controls {
        let rpm = IDLE_RPM;
        let effect = self.engine.effect_for_brake(0.0, rpm);
        Controls {
            throttle: physics::pedal_for_effect(effect),
            effect,
            brake_psi: 0.0,
            gear: 0,
            rpm,
            accel: 0.0,
        }
    }

    /// The step from `before` (laps) crossed the planned pit entry.
    pub(super) fn crossed_pit_entry(&self, before: f64) -> bool {
        self.plan.is_some() && before < self.entry_d && self.d >= self.entry_d
    }

    /// Turns onto pit road, with its `pit_in`: nothing done yet at this stop.
    pub(super) fn enter_pit_road(&mut self) {
        self.phase = Phase::PitRoad(PitStage::ToBox);
        self.in_box = None;
        self.poured = 0.0;
        self.filled = false;
        self.stood_s = 0.0;
        self.notices.push(CarNotice::PitIn);
    }

    /// On the way to the box: stops in it once there, and the stand begins.
    pub(super) fn reach_box(&mut self, ctx: &TrackCtx) {
        let box_d = self.entry_d + self.p.box_m / ctx.len_m;
        if (box_d - self.d) * ctx.len_m <= 0.3 {
            self.d = box_d;
            self.v = 0.0;
            let stop = self
                .stop
                .take()
                .unwrap_or_else(|| Stop::unplanned(self.p.fill_rate));
            self.in_box = Some(stop);
            self.phase = Phase::PitRoad(PitStage::Stand(Stand {
                dead_s: stop.dead_s,
                pouring: true,
                tire_s: stop.tire_s,
                post_s: stop.post_s,
            }));
        }
    }

    /// `dt` seconds standing in the box, from the stand's state `st`: the fuel and the
    /// tyres side by side, then the run to the exit once both are done and the jack is
    /// down. A job that ends inside a step hands the rest of the step on, so the stand
    /// lasts max(dead + poured / rate, tyres) + post, to the step.
    pub(super) fn stand(&mut self, dt: f64, mut st: Stand) {
        self.v = 0.0;
        self.stood_s += dt;
        let stop = self
            .in_box
            .unwrap_or_else(|| Stop::unplanned(self.p.fill_rate));
        // The fuel: dead time, then the pour; `fuel_left` is the step's time after it.
        let mut fuel_left = dt;
        let dead = st.dead_s.min(fuel_left);
        st.dead_s -= dead;
        fuel_left -= dead;
        if st.pouring && fuel_left > 0.0 {
            let room = (stop.target - self.poured).min(CAPACITY_GAL - self.fuel);
            let add = (stop.rate * fuel_left).min(room).max(0.0);
            self.fuel += add;
            self.poured += add;
            fuel_left -= add / stop.rate;
            if self.poured > 0.0 {
                self.dry = false;
            }
            self.filled = self.fuel >= CAPACITY_GAL - 1e-9;
            st.pouring = !(self.poured >= stop.target - 1e-9 || self.filled);
        }
        // The tyres, alongside.
        let tire_left = (dt - st.tire_s).max(0.0);
        st.tire_s = (st.tire_s - dt).max(0.0);
        let done = !st.pouring && st.tire_s <= 0.0;
        if done {
            st.post_s -= fuel_left.min(tire_left);
        }
        self.phase = Phase::PitRoad(if done && st.post_s <= 1e-9 {
            PitStage::ToExit
        } else {
            PitStage::Stand(st)
        });
    }

    /// What the stop under way (or just ended) came to.
    pub fn pit_report(&self) -> PitReport {
        let Some(stop) = self.in_box else {
            // Never reached its box.
            return PitReport::default();
        };
        PitReport {
            added: self.poured,
            full: self.filled,
            tires: stop.tires,
            box_s: self.stood_s,
            fuel_s: stop.dead_s + self.poured / stop.rate,
            tire_s: stop.tire_s,
        }
    }

    /// On the way out: back on track past pit road's end, with its `pit_out`.
    pub(super) fn reach_exit(&mut self, ctx: &TrackCtx) {
        let exit_d = self.entry_d + ctx.pit_len_m / ctx.len_m;
        if self.d >= exit_d {
            self.phase = Phase::Track;
            self.cancel_stop();
            self.notices.push(CarNotice::PitOut(self.pit_report()));
        }
    }
}
