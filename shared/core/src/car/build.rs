//! What a closed window becomes: the features the correction model reads, and the
//! `FuelUpdate` published for it.

use serde::{Deserialize, Serialize};

use super::laps::burn_index;
use super::sweep::WindowAcc;
use super::{CarState, Field, MS_PER_HOUR, RaceCtx};
use crate::contract::{CarId, Flag};
use crate::stats::Z90;
use crate::tracks::EnginePackage;
use crate::update::{FuelUpdate, Mode, ModelKind, round4};

/// What the correction model reads of one closed window: the physics estimate and the
/// shape of the driving behind it (time-weighted over the window's integrated flow).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WindowFeatures {
    pub car: CarId,
    /// The engine package (the model keeps coefficients per package).
    pub package: EnginePackage,
    pub window_start: i64,
    /// The physics burn rate of the window (gal/h), before any correction.
    pub physics_gph: f64,
    /// Mean throttle fraction (0..1) and rpm of the model's operating point.
    pub throttle: f64,
    pub rpm: f64,
    /// Shares of the flow hours at wide-open throttle (≥ 95 %) and with the throttle
    /// nearly shut (≤ 10 %): the mean alone hides how the pedal was used.
    pub wot_share: f64,
    pub closed_share: f64,
    /// Mean speed (mph) from the window's distance.
    pub mph: f64,
    /// Share of the window under a caution flag, and on pit road.
    pub caution_share: f64,
    pub in_pit: bool,
    /// Share of the window with a known flow (the rest is a telemetry gap).
    pub coverage: f64,
}

impl CarState {
    /// What the correction model reads of the window `[ws, we)` this car just swept.
    pub(super) fn features(
        &self,
        ws: i64,
        we: i64,
        acc: &WindowAcc,
        package: EnginePackage,
    ) -> WindowFeatures {
        let hours = (we - ws) as f64 / MS_PER_HOUR;
        let total_ms: i64 = acc.flag_ms.iter().sum();
        let caution_ms: i64 = Flag::ALL
            .iter()
            .filter(|f| f.is_caution())
            .map(|&f| acc.flag_ms[f as usize])
            .sum();
        let per_flow = |x: f64| {
            if acc.flow_h > 0.0 {
                x / acc.flow_h
            } else {
                0.0
            }
        };
        WindowFeatures {
            car: self.car,
            package,
            window_start: ws,
            physics_gph: acc.physics_gal / hours,
            throttle: per_flow(acc.theta_h),
            rpm: per_flow(acc.rpm_h),
            wot_share: per_flow(acc.wot_h),
            closed_share: per_flow(acc.closed_h),
            mph: acc.miles / hours,
            caution_share: if total_ms > 0 {
                caution_ms as f64 / total_ms as f64
            } else {
                0.0
            },
            in_pit: acc.in_pit,
            coverage: (acc.flow_h / hours).min(1.0),
        }
    }

    /// The `FuelUpdate` of the window `[ws, we)` this car just swept (`fuel-update-v1`).
    pub(super) fn update(
        &self,
        ws: i64,
        we: i64,
        acc: &WindowAcc,
        ctx: &RaceCtx,
        field: &Field,
        leader_lap: f64,
    ) -> FuelUpdate {
        let flag = dominant_flag(acc);
        let (remaining, low, high) = self.band(ctx);
        let lap = self.last_pos.unwrap_or(0.0).max(0.0);
        let fpgl = self.laps.fuel_per_green_lap();
        let laps_to_empty = fpgl.map(|f| remaining / f);
        let save_needed_pct = if self.final_window {
            save_needed_pct(ctx.scheduled_laps, fpgl, leader_lap, remaining)
        } else {
            None
        };
        let burn_index = if flag.is_caution() {
            None
        } else {
            burn_index(self, ws - ctx.window_ms, field)
        };
        let mode = mode(acc.in_pit, flag, burn_index);
        // "null when burn_gal is 0": the published, rounded burn.
        let mpg_window =
            (acc.miles >= 0.05 && round4(acc.burn) > 0.0).then(|| acc.miles / acc.burn);
        let mpg_lap = self
            .laps
            .last_lap_gal
            .filter(|g| *g > 0.0)
            .map(|g| ctx.length_mi / g);
        let mpg_stint = (self.fuel.stint_miles >= 0.05 && round4(self.fuel.used_stint) > 0.0)
            .then(|| self.fuel.stint_miles / self.fuel.used_stint);
        FuelUpdate {
            v: 1,
            race_id: ctx.race_id.to_owned(),
            car: self.car,
            seq: ws.div_euclid(ctx.window_ms),
            window_start: ws,
            window_end: we,
            lap,
            flag,
            in_pit: acc.in_pit,
            samples: acc.samples,
            miles: acc.miles,
            burn_gal: acc.burn,
            burn_rate_gph: acc.burn / ((we - ws) as f64 / MS_PER_HOUR),
            mpg_window,
            mpg_lap,
            mpg_stint,
            used_stint_gal: self.fuel.used_stint,
            used_race_gal: self.fuel.used_race,
            remaining_gal: remaining,
            remaining_low_gal: low,
            remaining_high_gal: high,
            laps_to_empty,
            save_needed_pct,
            burn_index,
            mode,
            model: if acc.corrected {
                ModelKind::PhysicsMl
            } else {
                ModelKind::Physics
            },
        }
    }

    /// `remaining_gal` and its 90 % band `(remaining, low, high)`, clamped to the cell.
    fn band(&self, ctx: &RaceCtx) -> (f64, f64, f64) {
        let p = ctx.params;
        let cap = ctx.capacity_gal;
        let remaining_raw = self.fuel.remaining();
        let remaining = remaining_raw.clamp(0.0, cap);
        let half = Z90 * self.fuel.variance(p, ctx.track_var).sqrt();
        let low = (remaining_raw - half).clamp(0.0, cap);
        // Standing in the box during a stop (a `pit_in` without its `pit_out` yet), the
        // crew may be pouring. The contract counts a fill at `pit_out`, when its size is
        // known, so `remaining_gal` keeps the level of `pit_in`; but the cell may
        // already hold what the standing time so far lets a crew pour (at the fill
        // rate's upper bound), and the band's top says so. Standing on pit road with no
        // stop open (idling before the start, parked under a red flag) pours nothing.
        let pouring = if self.pit_road {
            self.fuel.pour_so_far(p) * (1.0 + Z90 * p.fill_rel_sd)
        } else {
            0.0
        };
        let high = (remaining_raw + half + pouring).clamp(0.0, cap);
        (remaining, low, high)
    }
}

/// The flag with the largest share of the window; a tie goes to the one in force later.
fn dominant_flag(acc: &WindowAcc) -> Flag {
    (0..5)
        .max_by_key(|&f| (acc.flag_ms[f], acc.flag_last[f]))
        .map(|f| Flag::ALL[f])
        .unwrap_or(Flag::Green)
}

/// The saving needed to reach the scheduled finish on what remains, in percent of the
/// green-lap burn, with the laps left counted from the leader's lap (a car laps down does
/// not run the laps it is down): 0 once the distance is run, null without a schedule or
/// a green lap. Asked only in the car's final window.
fn save_needed_pct(
    scheduled_laps: Option<u32>,
    fuel_per_green_lap: Option<f64>,
    leader_lap: f64,
    remaining: f64,
) -> Option<f64> {
    match (scheduled_laps, fuel_per_green_lap) {
        (Some(sched), Some(f)) => {
            let left = sched as f64 - leader_lap;
            Some(if left <= 0.0 {
                0.0
            } else {
                (100.0 * (1.0 - remaining / (left * f))).max(0.0)
            })
        }
        _ => None,
    }
}

/// The window's mode: pit road, then a caution, then how the car burns against the
/// field (`burn_index` more than 4 % either side of the median).
fn mode(in_pit: bool, flag: Flag, burn_index: Option<f64>) -> Mode {
    if in_pit {
        Mode::Pit
    } else if flag.is_caution() {
        Mode::Caution
    } else {
        match burn_index {
            Some(b) if b < 0.96 => Mode::Saving,
            Some(b) if b > 1.04 => Mode::Pushing,
            _ => Mode::Normal,
        }
    }
}
