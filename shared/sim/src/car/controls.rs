//! From a target speed to the pedals: the throttle that gives the force it takes, the
//! brake for the rest, and what that does to the car ([`Controls`]).

use super::Car;
use crate::physics::{self, DRIVETRAIN_EFF, G, REV_LIMIT_RPM, TRACTION_G};
use crate::track::TrackCtx;

/// Brake line pressure per g of braking, psi.
const PSI_PER_G: f64 = 1_150.0;

/// The controls of one step, and what they do.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Controls {
    /// Pedal, 0..=1.
    pub throttle: f64,
    /// Throttle effect on torque, 0..=1.
    pub effect: f64,
    pub brake_psi: f64,
    pub gear: u8,
    /// 0 when the engine is off.
    pub rpm: f64,
    /// Resulting acceleration, m/s².
    pub accel: f64,
}

/// Brake line pressure for a braking force of `brake` N on a car of `m` kg.
pub(super) fn brake_psi(brake: f64, m: f64) -> f64 {
    (brake / (m * G) * PSI_PER_G).min(3_000.0)
}

impl Car {
    /// The controller: the force that reaches `v_t` in `tau` seconds (braking at most
    /// `decel_g`), the throttle that gives it (at most `cap`, none when `lift`), the brake
    /// for the rest.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn drive(
        &self,
        ctx: &TrackCtx,
        v_t: f64,
        tau: f64,
        decel_g: f64,
        draft: f64,
        corner: bool,
        gear: u8,
        cap: f64,
        lift: bool,
    ) -> Controls {
        let m = self.mass();
        let v = self.v;
        let v_eff = v.max(3.0);
        let scrub = if corner {
            1.0 + physics::CORNER_SCRUB
        } else {
            1.0
        };
        let res = physics::drag_n(ctx.cda, v) * draft * scrub + physics::roll_n(m);
        let a_req = ((v_t - v) / tau).max(-decel_g * G);
        let f_need = m * a_req + res;
        let rpm = ctx.rpm(v, gear);
        let p_need = if f_need >= 0.0 {
            f_need * v_eff / DRIVETRAIN_EFF
        } else {
            f_need * v_eff
        };
        let cap_e = if lift || rpm >= REV_LIMIT_RPM {
            0.0
        } else {
            physics::throttle_effect(cap)
        };
        let effect = self.engine.effect_for_brake(p_need, rpm).clamp(0.0, cap_e);
        let p_b = self.engine.brake_w(effect, rpm);
        let f_engine = if p_b >= 0.0 {
            p_b * DRIVETRAIN_EFF / v_eff
        } else {
            p_b / v_eff
        };
        let brake = if effect <= 0.0 {
            (f_engine - f_need).max(0.0)
        } else {
            0.0
        };
        let accel = ((f_engine - brake - res) / m).min(TRACTION_G * G);
        Controls {
            throttle: physics::pedal_for_effect(effect),
            effect,
            brake_psi: brake_psi(brake, m),
            gear,
            rpm,
            accel,
        }
    }
}
