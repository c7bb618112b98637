//! The car as physics: a Willans-line engine, aero drag, gearing; the ground truth of fuel.
//!
//! # Why a Willans line
//!
//! The estimator (in `burnbar-core`) models fuel from *air flow*: fuel ∝ VE(rpm) ·
//! (1 − (1 − θ)^k) · rpm. If the simulator used the same form, tests of the estimator
//! would only check that a formula equals itself. So the truth here is built the other
//! way round, from *energy*:
//!
//! ```text
//! fuel power  = (brake power + friction(rpm) + pumping(rpm, θe)) / η_i(rpm)
//! brake power = θe · (P_curve(rpm) + friction(rpm)) − friction(rpm) − pumping(rpm, θe)
//! pumping     = (1 − θe) · PMEP · displacement · rpm / 120
//! ```
//!
//! `θe` is the throttle's effect (a sine of the pedal, not the estimator's power law):
//! the indicated work is `θe` times its full-throttle value, so at full effect the engine
//! gives its power curve, and with the throttle shut it is motored by the wheels,
//! absorbing friction and pumping (engine braking) while fuel falls to an overrun floor.
//! In between, fuel is linear in brake power at a given rpm: the Willans line. Fuel power
//! becomes mass with the lower heating value of E15 (41 MJ/kg) and volume with 6.2 lb
//! (2.812 kg) per gallon. Each car's fuel is then scaled by its own efficiency (sd 2 %,
//! see `field.rs`) and a per-step noise (sd 2 %).
//!
//! The numbers: peak 670 hp at 9,000 rpm (510 hp at 8,200 rpm with the tapered spacer);
//! friction quadratic in rpm, 70 kW at 9,000 (FMEP ≈ 1.6 bar) and 13 kW at 3,500;
//! pumping at closed throttle 0.7 bar PMEP, which is what makes caution laps cost more
//! than their tiny brake power suggests; indicated efficiency 0.37 at 6,500 rpm, 0.36 at
//! 9,000, 0.35 at 3,500. At full throttle and 9,000 rpm that is ≈ 0.44 lb/hp·h, at the top
//! of the engine builders' 0.30–0.45, as it should be at peak power with a rich mixture.
//! The car: 1,540 kg dry with driver plus its fuel, CdA 1.0 m² (12 % more in corners for
//! tyre scrub), rolling resistance 1.5 %, 92 % drivetrain, five forward gears with the
//! final drive chosen per track for 9,300 rpm (8,400 with the spacer) at the end of the
//! longest straight. With these, a green lap of Pocono costs ≈ 0.55 gal (≈ 4.5 mpg, a
//! 35–38 lap tank) and caution laps 12–14 mpg, inside the public figures in
//! `../shared/design/DOMAIN.md`; the crate's tests hold them there.

use burnbar_core::tracks::EnginePackage;
use std::f64::consts::FRAC_PI_2;

/// Lower heating value of E15, J/kg.
pub const LHV_J_PER_KG: f64 = 41.0e6;
/// 6.2 lb per US gallon.
pub const KG_PER_GAL: f64 = 2.812;
/// Next Gen fuel cell, US gallons.
pub const CAPACITY_GAL: f64 = 20.0;
/// Standard gravity, m/s².
pub const G: f64 = 9.81;
/// Metres per second in one mile per hour.
pub const MPS_PER_MPH: f64 = 0.447_04;
/// Metres in one mile.
pub const M_PER_MI: f64 = 1_609.344;
const W_PER_HP: f64 = 745.7;
const AIR_DENSITY: f64 = 1.20;
/// Car plus driver without fuel (3,400 lb minimum with driver, rounded up).
pub const DRY_MASS_KG: f64 = 1_540.0;
const ROLLING_COEF: f64 = 0.015;
/// Share of brake power that reaches the tyres.
pub const DRIVETRAIN_EFF: f64 = 0.92;
/// Extra resistance in a corner, as a share of aero drag (tyre scrub under lateral load).
pub const CORNER_SCRUB: f64 = 0.12;
/// Ratios of the five forward gears relative to top gear; the final drive is per track.
pub const GEAR_RATIOS: [f64; 5] = [2.60, 1.85, 1.45, 1.18, 1.00];
/// The highest gear.
pub const TOP_GEAR: u8 = 5;
/// Race engines idle high.
pub const IDLE_RPM: f64 = 3_200.0;
/// Above this the ignition cuts.
pub const REV_LIMIT_RPM: f64 = 9_900.0;
/// Longitudinal grip when accelerating: the tyres, not the engine, limit launches.
pub const TRACTION_G: f64 = 0.55;
/// Idle and overrun fuel floor as a share of friction power: injectors never fully close.
const OVERRUN_FLOOR: f64 = 0.06;
/// Pumping mean effective pressure with the throttle shut, Pa.
const PMEP_PA: f64 = 0.7e5;
/// 5.86 L.
const DISPLACEMENT_M3: f64 = 5.86e-3;

/// One engine package.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Engine {
    /// Peak brake power, W.
    pub peak_w: f64,
    /// Where the peak is, rpm.
    pub peak_rpm: f64,
    /// What teams gear for at the end of the longest straight.
    pub top_rpm: f64,
}

impl Engine {
    /// The package's engine: 670 hp at 9,000 rpm, or 510 hp at 8,200 with the spacer.
    pub fn for_package(package: EnginePackage) -> Engine {
        match package {
            EnginePackage::Hp670 => Engine {
                peak_w: 670.0 * W_PER_HP,
                peak_rpm: 9_000.0,
                top_rpm: 9_300.0,
            },
            EnginePackage::Hp510 => Engine {
                peak_w: 510.0 * W_PER_HP,
                peak_rpm: 8_200.0,
                top_rpm: 8_400.0,
            },
        }
    }

    /// Full-throttle brake power at `rpm`, W: a cubic with its maximum at `peak_rpm`
    /// (torque peaks near 65 % of it, as for a big pushrod V8).
    pub fn curve_w(&self, rpm: f64) -> f64 {
        let x = rpm / self.peak_rpm;
        (self.peak_w * x * (0.6 + 1.8 * x - 1.4 * x * x)).max(0.0)
    }

    /// The same engine with its power scaled by `mult` (one car's engine).
    pub fn scaled(&self, mult: f64) -> Engine {
        Engine {
            peak_w: self.peak_w * mult,
            ..*self
        }
    }

    /// Mechanical friction, W: quadratic in rpm (FMEP ≈ 1.6 bar at 9,000 rpm).
    pub fn friction_w(rpm: f64) -> f64 {
        1.128 * rpm + 7.388e-4 * rpm * rpm
    }

    /// Pumping loss with the throttle closed, W (PMEP ≈ 0.7 bar); it shrinks to nothing as
    /// the throttle opens.
    pub fn pumping_max_w(rpm: f64) -> f64 {
        PMEP_PA * DISPLACEMENT_M3 * rpm / 120.0
    }

    /// Indicated efficiency: best at mid revs, a little lower at both ends.
    pub fn eta_indicated(rpm: f64) -> f64 {
        let x = (rpm - 6_500.0) / 3_500.0;
        (0.37 - 0.025 * x * x).max(0.335)
    }

    /// Brake power at throttle effect `theta_e` (0..=1), W; negative when motored.
    /// The indicated work is `θe` times its full-throttle value (`curve + friction`);
    /// friction and pumping (which vanishes at full throttle) come off it.
    pub fn brake_w(&self, theta_e: f64, rpm: f64) -> f64 {
        let f = Engine::friction_w(rpm);
        theta_e * (self.curve_w(rpm) + f) - f - (1.0 - theta_e) * Engine::pumping_max_w(rpm)
    }

    /// The throttle effect that gives brake power `brake_w` at `rpm` (unclamped).
    pub fn effect_for_brake(&self, brake_w: f64, rpm: f64) -> f64 {
        let f = Engine::friction_w(rpm);
        let k = Engine::pumping_max_w(rpm);
        (brake_w + f + k) / (self.curve_w(rpm) + f + k)
    }

    /// Fuel power, W: the Willans line, `(brake + friction + pumping) / η_i`, never
    /// below the overrun floor.
    pub fn fuel_w(&self, theta_e: f64, rpm: f64) -> f64 {
        let f = Engine::friction_w(rpm);
        let indicated = theta_e * (self.curve_w(rpm) + f);
        indicated.max(OVERRUN_FLOOR * f) / Engine::eta_indicated(rpm)
    }
}

/// Throttle effect on torque for a pedal position `theta` (0..=1).
pub fn throttle_effect(theta: f64) -> f64 {
    (FRAC_PI_2 * theta.clamp(0.0, 1.0)).sin()
}

/// The pedal position that gives throttle effect `effect`.
pub fn pedal_for_effect(effect: f64) -> f64 {
    effect.clamp(0.0, 1.0).asin() / FRAC_PI_2
}

/// Gallons per second for a fuel power in W.
pub fn gal_per_s(fuel_w: f64) -> f64 {
    fuel_w / LHV_J_PER_KG / KG_PER_GAL
}

/// Aerodynamic drag of a car with drag area `cda` at `v` m/s, N.
pub fn drag_n(cda: f64, v: f64) -> f64 {
    0.5 * AIR_DENSITY * cda * v * v
}

/// Rolling resistance, N.
pub fn roll_n(mass_kg: f64) -> f64 {
    ROLLING_COEF * mass_kg * G
}

/// Mass of a car carrying `fuel_gal`, kg.
pub fn mass_kg(fuel_gal: f64) -> f64 {
    DRY_MASS_KG + fuel_gal * KG_PER_GAL
}

/// Drag area of the package's body, m².
pub fn cda_for(package: EnginePackage) -> f64 {
    match package {
        EnginePackage::Hp670 | EnginePackage::Hp510 => 1.00,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_power_curve_peaks_where_it_says() {
        let e = Engine::for_package(EnginePackage::Hp670);
        let peak = e.curve_w(9_000.0);
        assert!((peak / W_PER_HP - 670.0).abs() < 0.5);
        assert!(e.curve_w(8_000.0) < peak && e.curve_w(9_600.0) < peak);
        let s = Engine::for_package(EnginePackage::Hp510);
        assert!((s.curve_w(8_200.0) / W_PER_HP - 510.0).abs() < 0.5);
    }

    #[test]
    fn full_throttle_bsfc_is_a_race_engine_s() {
        let e = Engine::for_package(EnginePackage::Hp670);
        for rpm in [7_000.0, 8_000.0, 9_000.0] {
            let fuel_kg_h = e.fuel_w(1.0, rpm) / LHV_J_PER_KG * 3_600.0;
            let bsfc_lb_hp_h = fuel_kg_h * 2.204_62 / (e.curve_w(rpm) / W_PER_HP);
            assert!(
                (0.38..0.47).contains(&bsfc_lb_hp_h),
                "{rpm}: {bsfc_lb_hp_h}"
            );
        }
    }

    #[test]
    fn the_willans_line_is_linear_in_brake_power_and_floors_on_overrun() {
        let e = Engine::for_package(EnginePackage::Hp670);
        let rpm = 8_500.0;
        let f = |b: f64| e.fuel_w(e.effect_for_brake(b, rpm), rpm);
        let (a, b, c) = (f(100e3), f(200e3), f(300e3));
        assert!(((b - a) - (c - b)).abs() < 1e-6 * c);
        assert!(e.fuel_w(0.0, rpm) < 0.1 * e.fuel_w(1.0, rpm));
        assert!(e.fuel_w(0.0, rpm) > 0.0);
        assert!(
            e.brake_w(0.0, rpm) < 0.0,
            "a closed throttle brakes the car"
        );
    }

    #[test]
    fn the_throttle_map_inverts() {
        for t in [0.0, 0.1, 0.37, 0.8, 1.0] {
            assert!((pedal_for_effect(throttle_effect(t)) - t).abs() < 1e-9);
        }
    }
}
