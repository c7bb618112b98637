//! A car's pit stop: planned at the next pit entry, slowing for pit road, the run to its
//! box, standing there (waiting for the fueler, pouring, dropping off the jack) and the
//! run out.
//!
//! Race control decides a stop and draws how it will go ([`Stop`], see `race/pit.rs`); the
//! car carries it out. Standing lasts `wait_s` + poured / rate + `post_s`, to the step.

use super::{Car, CarNotice, Controls, Phase};
use crate::physics::{self, CAPACITY_GAL, G, IDLE_RPM};
use crate::track::TrackCtx;

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
    /// Gallons to pour; infinite: fill the cell.
    pub target: f64,
    /// The fueler's rate this stop, gal/s.
    pub rate: f64,
    /// From the car stopping to fuel flowing, s.
    pub wait_s: f64,
    /// From the can coming off to the car leaving, s.
    pub post_s: f64,
}

/// Where on pit road.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum PitStage {
    ToBox,
    /// Stopped in the box: waiting for the fueler, pouring, then dropping off the jack.
    Stand {
        wait_s: f64,
        pouring: bool,
        post_s: f64,
    },
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

    /// Turns onto pit road, with its `pit_in`.
    pub(super) fn enter_pit_road(&mut self) {
        self.phase = Phase::PitRoad(PitStage::ToBox);
        self.notices.push(CarNotice::PitIn);
    }

    /// On the way to the box: stops in it once there, and the stand begins.
    pub(super) fn reach_box(&mut self, ctx: &TrackCtx) {
        let box_d = self.entry_d + self.p.box_m / ctx.len_m;
        if (box_d - self.d) * ctx.len_m <= 0.3 {
            self.d = box_d;
            self.v = 0.0;
            let stop = self.stop.take().unwrap_or(Stop {
                target: f64::INFINITY,
                rate: self.p.fill_rate,
                wait_s: 0.4,
                post_s: 0.3,
            });
            self.begin_stand(stop);
        }
    }

    /// A stop begins in the box: pour `stop.target` gallons (infinite: fill the cell).
    fn begin_stand(&mut self, stop: Stop) {
        self.fill_target = stop.target;
        self.fill_rate = stop.rate;
        self.poured = 0.0;
        self.filled = false;
        self.phase = Phase::PitRoad(PitStage::Stand {
            wait_s: stop.wait_s,
            pouring: true,
            post_s: stop.post_s,
        });
    }

    /// `dt` seconds standing in the box, from the stand's state (`wait_s`, `pouring`,
    /// `post_s`): then the run to the exit once the crew is done.
    pub(super) fn stand(&mut self, dt: f64, mut wait_s: f64, mut pouring: bool, mut post_s: f64) {
        self.v = 0.0;
        // The stand's phases end inside a step: time left over goes on to the next, so
        // standing lasts wait + poured / rate + post, to the step.
        let mut left = dt;
        if wait_s > 0.0 {
            let used = wait_s.min(left);
            wait_s -= used;
            left -= used;
        }
        if pouring && left > 0.0 {
            let room = (self.fill_target - self.poured).min(CAPACITY_GAL - self.fuel);
            let add = (self.fill_rate * left).min(room).max(0.0);
            self.fuel += add;
            self.poured += add;
            left -= add / self.fill_rate;
            if self.poured > 0.0 {
                self.dry = false;
            }
            self.filled = self.fuel >= CAPACITY_GAL - 1e-9;
            pouring = !(self.poured >= self.fill_target - 1e-9 || self.filled);
        }
        if !pouring && left > 0.0 {
            post_s -= left;
        }
        self.phase = Phase::PitRoad(if !pouring && post_s <= 1e-9 {
            PitStage::ToExit
        } else {
            PitStage::Stand {
                wait_s,
                pouring,
                post_s,
            }
        });
    }

    /// On the way out: back on track past pit road's end, with its `pit_out`.
    pub(super) fn reach_exit(&mut self, ctx: &TrackCtx) {
        let exit_d = self.entry_d + ctx.pit_len_m / ctx.len_m;
        if self.d >= exit_d {
            self.phase = Phase::Track;
            self.cancel_stop();
            self.notices.push(CarNotice::PitOut {
                added: self.poured,
                full: self.filled,
            });
        }
    }
}
