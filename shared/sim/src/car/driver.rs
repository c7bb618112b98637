//! The driver: the speed to be at a moment later, from what the car sees around it.
//!
//! **Drafting** scales the drag by `1 − D·exp(−gap/0.35 s)` with `D` 0.40 at the drafting
//! tracks and 0.22 elsewhere: the same speed for less throttle, as Hamlin describes a
//! follower matching a leader at 60 %. A car no faster than the one ahead (by pace, less
//! when saving, damaged or heading for pit road) settles 12 m behind it, in its draft; a
//! faster one pulls alongside (no draft there) and goes by.
//!
//! **Saving fuel** (`save` from 0 to 1, drivers use 0.4 and up): with 670 hp the driver
//! lifts and coasts before each braking zone (over up to 12 % of the run between zones),
//! keeps the throttle's effect 3–8 % below full, runs 0.6 % slower, and short-shifts (up
//! to 900 rpm earlier, staying a gear higher through corners). At the drafting tracks,
//! where nobody brakes, saving is a 5–9 % throttle cap and riding 1.2–2.2 % slower.
//! That saves 5–20 % of the fuel of a lap for 0.3–5 % of its time (solo at a drafting
//! track the trade is worse: about 1 % of time per 1.5 % of fuel). **Pushing** uses a
//! profile with 0.6 % faster corners and later braking, and revs higher. The tests
//! measure all of it (`solo.rs`).

use super::controls::brake_psi;
use super::{Car, Controls, Phase, PitStage};
use crate::physics::{self, G, GEAR_RATIOS, TOP_GEAR};
use crate::profile::{self, LapProfile};
use crate::track::TrackCtx;
use burnbar_core::tracks::EnginePackage;

/// Time constant of the caution and pit-road speed controller, s.
pub(super) const CRUISE_TAU_S: f64 = 1.5;
/// Gap kept to the car ahead under caution, m.
const CAUTION_GAP_M: f64 = 20.0;
/// Gap a car keeps behind one it cannot pass under green, m.
const FOLLOW_GAP_M: f64 = 12.0;
/// Closer than this the cars are side by side: no draft.
const ALONGSIDE_M: f64 = 6.0;
/// Longest lift before a braking zone at full saving, as a share of the run between
/// braking zones.
const LIFT_SHARE: f64 = 0.12;

/// What the car sees around it this step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Surroundings {
    pub caution: bool,
    /// Leads the race (writes no `gap_ahead_s`).
    pub leader: bool,
    /// Leads the cars on track: under caution it follows the pace car.
    pub first_on_track: bool,
    /// Distance to the car ahead on track, m (infinite when none).
    pub gap_m: f64,
    /// That car's speed, m/s.
    pub ahead_v: f64,
    /// That car's pace as it runs now (see [`Car::race_pace`]).
    pub ahead_pace: f64,
}

impl Surroundings {
    /// Alone: no car ahead on track.
    pub fn alone(caution: bool, leader: bool, first_on_track: bool) -> Surroundings {
        Surroundings {
            caution,
            leader,
            first_on_track,
            gap_m: f64::INFINITY,
            ahead_v: 0.0,
            ahead_pace: 0.0,
        }
    }
}

impl Car {
    /// Computes (and keeps) the controls for the step starting now.
    pub fn control(&mut self, ctx: &TrackCtx, around: &Surroundings, dt: f64) -> Controls {
        let c = match self.phase {
            Phase::Track if self.dry => self.coast(ctx, self.approach_limit(ctx, f64::INFINITY)),
            Phase::Track => self.on_track(ctx, around, dt),
            Phase::PitRoad(PitStage::ToBox) => self.to_box(ctx),
            Phase::PitRoad(PitStage::ToExit) => self.cruise(ctx, ctx.pit_speed, 1.0, 0.6),
            Phase::PitRoad(PitStage::Stand(_)) => self.standing(),
            Phase::Crashed => self.wrecked(ctx),
            // The last sample of a finisher carries the controls it crossed the line with.
            Phase::Finished(_) => self.ctrl,
            Phase::Parked | Phase::Out => Controls::default(),
        };
        if c.gear > 0 {
            self.gear = c.gear;
        }
        self.ctrl = c;
        c
    }

    /// The profile the driver runs to: the pushing one when pushing.
    fn profile(&self) -> &LapProfile {
        &self.profiles[usize::from(self.push)]
    }

    fn on_track(&self, ctx: &TrackCtx, around: &Surroundings, dt: f64) -> Controls {
        let pos = self.pos_m(ctx);
        // Alongside another car there is no draft; behind one, the closer the more.
        let draft = if around.gap_m < ALONGSIDE_M {
            1.0
        } else {
            1.0 - ctx.draft_max * (-(around.gap_m / self.v.max(1.0)) / 0.35).exp()
        };
        if around.caution {
            self.caution_line(ctx, around, pos, draft)
        } else {
            self.green(ctx, around, dt, pos, draft)
        }
    }

    /// Under caution: behind the car ahead at about 20 m, or the pace car.
    fn caution_line(
        &self,
        ctx: &TrackCtx,
        around: &Surroundings,
        pos: f64,
        draft: f64,
    ) -> Controls {
        let prof = self.profile();
        let corner = prof.in_corner(pos);
        let follow = if around.first_on_track || !around.gap_m.is_finite() {
            ctx.pace
        } else {
            (around.ahead_v + (around.gap_m - CAUTION_GAP_M) / 2.0)
                .clamp(0.3 * ctx.pace, 2.0 * ctx.pace)
        };
        let v_t = self.approach_limit(ctx, follow.min(prof.speed_at(pos)));
        let gear = ctx.cruise_gear(self.v, 3_500.0);
        self.drive(
            ctx,
            v_t,
            CRUISE_TAU_S,
            0.45,
            draft,
            corner,
            gear,
            1.0,
            false,
        )
    }

    /// Under green: the profile, less when saving or damaged, held behind a car it cannot
    /// pass; lifting before braking zones and short-shifting when saving.
    fn green(
        &self,
        ctx: &TrackCtx,
        around: &Surroundings,
        dt: f64,
        pos: f64,
        draft: f64,
    ) -> Controls {
        let prof = self.profile();
        let corner = prof.in_corner(pos);
        // With the 670 hp engine the driver lifts and coasts before each braking zone; at
        // the drafting tracks (510 hp) a lift costs too much time (the car gains speed
        // back slowly) and loses the draft, so saving is feathering and riding back.
        let lift_style = ctx.track.package == EnginePackage::Hp670;
        let (slower, cap_cut) = match (self.save > 0.0, lift_style) {
            (false, _) => (0.0, 0.0),
            (true, true) => (0.006 * self.save, 0.03 + 0.05 * self.save),
            (true, false) => (0.012 + 0.01 * self.save, 0.05 + 0.04 * self.save),
        };
        let mut v_t = prof.speed_at(pos + self.v * dt) * (1.0 - slower);
        if self.damaged {
            v_t *= 0.985;
        }
        // A car no faster than the one ahead stays in its draft instead of driving into it;
        // a faster one pulls alongside and goes by.
        if around.gap_m < 40.0 && self.race_pace() <= around.ahead_pace + 1e-3 {
            v_t = v_t.min(around.ahead_v + (around.gap_m - FOLLOW_GAP_M) / 1.0);
        }
        let v_t = self.approach_limit(ctx, v_t.max(0.0));
        let lift = self.save > 0.0
            && lift_style
            && self.plan.is_none()
            && prof.brake_ahead_m(pos) < (0.35 + 0.65 * self.save) * LIFT_SHARE * prof.run_m();
        // The cap is on the throttle's effect: the last few percent of pedal do little.
        let cap = physics::pedal_for_effect(1.0 - cap_cut);
        let gear = self.shift(ctx);
        let decel = profile::brake_g(ctx.track).max(0.9);
        self.drive(ctx, v_t, dt, decel, draft, corner, gear, cap, lift)
    }

    /// The gear for this step under green: short-shift when saving, rev it out when
    /// pushing.
    fn shift(&self, ctx: &TrackCtx) -> u8 {
        let top = ctx.engine.top_rpm;
        let up = top * 1.016 - 900.0 * self.save + if self.push { 150.0 } else { 0.0 };
        let down = top * 0.753 - 1_200.0 * self.save + if self.push { 300.0 } else { 0.0 };
        let mut gear = self.gear.clamp(1, TOP_GEAR);
        let rpm_in = |g: u8| self.v * ctx.rpm_per_mps * GEAR_RATIOS[g as usize - 1];
        if rpm_in(gear) > up && gear < TOP_GEAR {
            gear += 1;
        } else if rpm_in(gear) < down && gear > 1 && rpm_in(gear - 1) < up {
            gear -= 1;
        }
        gear
    }

    /// Holding a speed gently (caution, pit road).
    pub(super) fn cruise(&self, ctx: &TrackCtx, v_t: f64, tau: f64, decel_g: f64) -> Controls {
        let gear = if self.v < 3.0 {
            1
        } else {
            ctx.cruise_gear(self.v, 3_500.0)
        };
        self.drive(ctx, v_t, tau, decel_g, 1.0, false, gear, 1.0, false)
    }

    /// Engine dead (out of fuel): roll in neutral, brake only to keep under `v_t`.
    pub(super) fn coast(&self, ctx: &TrackCtx, v_t: f64) -> Controls {
        let m = self.mass();
        let res = physics::drag_n(ctx.cda, self.v) + physics::roll_n(m);
        let want = -(self.v - v_t).max(0.0) / CRUISE_TAU_S;
        let brake = (-(m * want.max(-0.6 * G)) - res).max(0.0);
        Controls {
            brake_psi: brake_psi(brake, m),
            accel: -(brake + res) / m,
            ..Controls::default()
        }
    }

    /// Wrecked: engine off, braking hard to a stop.
    fn wrecked(&self, ctx: &TrackCtx) -> Controls {
        let m = self.mass();
        let res = physics::drag_n(ctx.cda, self.v) + physics::roll_n(m);
        let brake = (0.7 * G * m - res).max(0.0);
        Controls {
            brake_psi: brake_psi(brake, m),
            accel: -(brake + res) / m,
            ..Controls::default()
        }
    }
}
