//! The fuel cell: its level and the doubt of it, fills at `pit_out`, and what a car's
//! stints teach of its own efficiency.

use serde::{Deserialize, Serialize};

use crate::model::ModelParams;
use crate::pits::{self, PitData, StopNeed, TIRE_SHORT_SHARE_PRIOR};
use crate::stats::{Z90, mills, shortfall_var};

/// A stop the fuel timed at these odds or more teaches a car its efficiency; below, the
/// tyres may have timed it and its pour is not measured.
const LEARN_ODDS: f64 = 0.95;

/// The fuel cell: what went in at the last fill and what has burned since.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fuel {
    pub capacity: f64,
    /// Estimated fuel in the cell when the stint began.
    pub stint_start_gal: f64,
    /// Variance of `stint_start_gal` (gal²).
    pub stint_start_var: f64,
    pub used_stint: f64,
    pub used_race: f64,
    pub stint_miles: f64,
    /// Fuel and its variance when the car entered pit road.
    pub(super) pit_in: Option<(f64, f64)>,
    /// Time stood still in the box since pit entry, ms.
    pub(super) standing_ms: i64,
    /// This car's own efficiency factor on the model's burn, in force this stint
    /// (learned from its weighed stints, [`Fuel::learn`]).
    pub stint_eff: f64,
    /// The stint began with the cell full for certain (the start, or a fill with
    /// `full: true`): its burn can be measured by the fill that ends it.
    pub start_full: bool,
    /// Weighed stints learned from, and the sum of their log ratios measured / model.
    pub learn_n: u32,
    pub learn_sum: f64,
    /// The stint began with the cell read as full (for certain, or a stop as long as a
    /// full fill needs): a fill to the top that ends it says what it burned.
    pub start_at_cap: bool,
    /// Fills sized from standing time learned from: the sums of their precisions and
    /// of their log ratios implied / model weighted by precision ([`Fuel::learn_standing`]).
    pub fill_prec: f64,
    pub fill_sum: f64,
    /// Burned since the car last stood still in its pit box: a fill counts from
    /// `pit_out` (`telemetry-v1`), while the crew filled the cell before the car drove
    /// off, so a cell read as full at `pit_out` is that much less full.
    pub since_box: f64,
}

impl Fuel {
    pub(super) fn full(capacity: f64) -> Fuel {
        Fuel {
            capacity,
            stint_start_gal: capacity,
            stint_start_var: 0.0,
            used_stint: 0.0,
            used_race: 0.0,
            stint_miles: 0.0,
            pit_in: None,
            standing_ms: 0,
            stint_eff: 1.0,
            start_full: true,
            learn_n: 0,
            learn_sum: 0.0,
            start_at_cap: true,
            fill_prec: 0.0,
            fill_sum: 0.0,
            since_box: 0.0,
        }
    }

    /// Fuel in the cell now (not clamped).
    pub fn remaining(&self) -> f64 {
        self.stint_start_gal - self.used_stint
    }

    /// The variance of the level now; `track_var` is what the race's track adds to the
    /// burn's relative variance ([`ModelParams::off_track_var`]).
    pub(super) fn variance(&self, p: &ModelParams, track_var: f64) -> f64 {
        let b = self.burn_rel_sd(p, track_var) * self.used_stint;
        self.stint_start_var + b * b
    }

    /// The relative doubt of this car's burn: what remains unknown of its efficiency
    /// after what it has taught, plus the model's error within a car. Before any lesson
    /// this is `burn_rel_sd` (widened by the track's `track_var`).
    fn burn_rel_sd(&self, p: &ModelParams, track_var: f64) -> f64 {
        let (_, w2) = p.car_variances();
        (self.eff_posterior(p, track_var).1 + w2).sqrt()
    }

    /// The posterior of the log of this car's efficiency factor, `(mean, variance)`.
    /// Prior: the fleet, `N(0, τ²)` with τ = `car_rel_sd`, plus `track_var` on a track
    /// the parameters were not fitted on (a doubt every car of the race shares, which
    /// each car's stints teach like its own efficiency). Each weighed stint observes
    /// it with the model's within-car error `w²`. Fills sized from standing time observe
    /// it only through the crew's rate, which is the same at every stop of the car's race
    /// (between-car fill variance `ρ²`), so their precision-weighted mean `ȳ` counts as
    /// one observation of variance `ρ² + 1/Σ(1/σⱼ²)`, however many stops there were.
    fn eff_posterior(&self, p: &ModelParams, track_var: f64) -> (f64, f64) {
        let (tau2, w2) = p.car_variances();
        let tau2 = tau2 + track_var.max(0.0);
        if tau2 <= 0.0 {
            return (0.0, 0.0);
        }
        let mut precision = 1.0 / tau2 + self.learn_n as f64 / w2;
        let mut weighted = self.learn_sum / w2;
        if self.fill_prec > 0.0 {
            let (rho2, _) = p.fill_variances();
            let v = rho2 + 1.0 / self.fill_prec;
            precision += 1.0 / v;
            weighted += (self.fill_sum / self.fill_prec) / v;
        }
        (weighted / precision, 1.0 / precision)
    }

    /// What a crew can have poured in the standing time of the stop under way (none
    /// off pit road: the time resets at `pit_out`).
    pub(super) fn pour_so_far(&self, p: &ModelParams) -> f64 {
        (self.standing_ms as f64 / 1000.0 - p.fill_dead_s).max(0.0) * p.fill_rate_gps
    }

    /// What a fill sized from standing time says of this car, when the stint began
    /// with the cell read as full and the stop was as long as a full fill needs: the
    /// cell held `capacity − poured` at the stop, so the stint burned about `poured`
    /// (less any shortfall of its start). Against the model's raw burn that observes
    /// the car's efficiency, with the doubt of the pour (the stop-to-stop part of the
    /// fill's doubt, and its absolute part), of the start level, and the model's error
    /// within a car. The crew's own rate is the shared part [`Fuel::eff_posterior`]
    /// accounts for. Short stints and absurd ratios teach nothing, as with weighed ones.
    fn learn_standing(&mut self, poured: f64, p: &ModelParams) {
        if !self.start_at_cap || self.stint_eff.is_nan() || self.stint_eff <= 0.0 {
            return;
        }
        let raw = self.used_stint / self.stint_eff;
        let burned = poured - (self.capacity - self.stint_start_gal);
        if raw.is_nan() || raw < 3.0 || burned.is_nan() || burned <= 0.0 || poured <= 0.0 {
            return;
        }
        let y = (burned / raw).ln();
        if y.abs() > 0.25 {
            return;
        }
        let (_, within) = p.fill_variances();
        let (_, w2) = p.car_variances();
        let var =
            within + (p.fill_abs_sd / poured).powi(2) + w2 + self.stint_start_var / (raw * raw);
        if var.is_finite() && var > 0.0 {
            self.fill_prec += 1.0 / var;
            self.fill_sum += y / var;
        }
    }

    /// What a weighed stint says of this car. A stint that started with a full cell
    /// (the start, or a fill with `full: true`) and ends in a weighed fill to the top
    /// burned exactly what the fill put back; against the model's raw burn (without
    /// this car's factor) that is one observation of the car's efficiency. The factor
    /// is the posterior mean of a normal prior (the fleet: 1, with the spread of cars
    /// `car_rel_sd`) updated with every observation (each with the model's within-car
    /// error): shrunk toward the fleet while the evidence is thin. Short stints (a
    /// splash) and absurd ratios (a mistyped weight) teach nothing.
    pub(super) fn learn(&mut self, added: Option<f64>, full: Option<bool>) {
        let (Some(added), Some(true)) = (added, full) else {
            return;
        };
        if !self.start_full
            || self.used_stint < 3.0
            || self.stint_eff.is_nan()
            || self.stint_eff <= 0.0
        {
            return;
        }
        let measured = added;
        let raw = self.used_stint / self.stint_eff;
        if measured.is_nan() || measured <= 0.0 || raw.is_nan() || raw <= 0.0 {
            return;
        }
        let y = (measured / raw).ln();
        if y.abs() > 0.25 {
            return;
        }
        self.learn_n += 1;
        self.learn_sum += y;
    }

    /// This car's efficiency factor after what it has taught (1 before any weighed stint
    /// or full stop sized from standing time, or when calibration found no spread
    /// between cars).
    pub(super) fn learned_eff(&self, p: &ModelParams, track_var: f64) -> f64 {
        self.eff_posterior(p, track_var).0.exp()
    }

    /// A fill at `pit_out`, exactly as the spec's Fills paragraph says; `pit` is the
    /// stop's official pit data, `finish_gal` the fuel the car needs from the stop to
    /// the finish when known, `green` whether the stop was made under green (where the
    /// crews' late-pour habit speaks, [`StopNeed`]), `track_var` the track's doubt
    /// ([`Fuel::variance`]).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn fill(
        &mut self,
        added: Option<f64>,
        full: Option<bool>,
        pit: PitData,
        finish_gal: Option<f64>,
        green: bool,
        p: &ModelParams,
        track_var: f64,
    ) {
        let (base, base_var) = self
            .pit_in
            .take()
            .unwrap_or_else(|| (self.remaining(), self.variance(p, track_var)));
        let base = base.max(0.0);
        let cap = self.capacity;
        let (level, var) = if let Some(added) = added {
            let want = base + added;
            // Poured past the top by more than the doubt: the cell is surely full.
            let var = if want - cap > Z90 * base_var.sqrt() {
                0.0
            } else {
                base_var
            };
            (want.min(cap), var)
        } else if full == Some(true) {
            (cap, 0.0)
        } else {
            // A crew pours at least what the finish needs, as far as the time allows;
            // negative when the cell is read as holding it already.
            let need = StopNeed {
                need: finish_gal.map(|f| f - base),
                green,
            };
            self.standing_fill(base, base_var, full, pit, need, p)
        };
        self.stint_start_gal = level;
        self.stint_start_var = var;
        self.start_full = full == Some(true);
        // Read as full, or weighed and reported full by the crew.
        self.start_at_cap = (level >= cap && full != Some(false)) || full == Some(true);
        self.used_stint = 0.0;
        self.stint_miles = 0.0;
        self.standing_ms = 0;
    }

    /// The level and variance after a fill of unknown size (no weight, not reported
    /// full), from the time the car stood in its box (`box_s` when the pit data gives
    /// it, else the telemetry's since `pit_in`), on the level at `pit_in` (`base`,
    /// variance `base_var`). A stop lasts as long as its longer job
    /// ([`crate::pits`]): read as the fuel's, the time sizes the pour; read as the
    /// tyres', it says only that the fuel took at most that long. Where either may have
    /// timed it, the level is the mixture of both readings, weighted by their odds, and
    /// its variance carries the doubt of both. The crew poured at least the finish's
    /// need (the fuel to the finish less `base`), as far as the time allowed, and on a
    /// green stop as the crews' habit says ([`StopNeed`]).
    fn standing_fill(
        &mut self,
        base: f64,
        base_var: f64,
        full: Option<bool>,
        pit: PitData,
        need: StopNeed,
        p: &ModelParams,
    ) -> (f64, f64) {
        let secs = pit.secs(self.standing_ms as f64 / 1000.0);
        let est = pits::pour_reading(secs, p);
        let room = (self.capacity - base).max(0.0);
        let w_fuel = pits::fuel_timed_odds(secs, pit.tires, need, room, p);
        let fuel = self.fuel_timed_fill(base, base_var, est, full, w_fuel >= LEARN_ODDS, p);
        // Under caution the field waits and a crew tops up as far as the stop allows:
        // the fuel runs the whole stop, whatever else the crew does, so the time sizes
        // the pour (up to the room, judged full or short by it) whichever job was the
        // longer. Read as the tyres' (anywhere up to what the time allowed), a caution
        // fill by a crew a little faster than the fleet's rate was read several gallons
        // short of the top it reached.
        if w_fuel >= 1.0 || !need.green {
            return fuel;
        }
        let tires = self.tire_timed_fill(base, base_var, est, full, need, p);
        let w_tire = 1.0 - w_fuel;
        let level = w_fuel * fuel.0 + w_tire * tires.0;
        let var = w_fuel * fuel.1 + w_tire * tires.1 + w_fuel * w_tire * (fuel.0 - tires.0).powi(2);
        (level, var)
    }

    /// A stop the tyres timed: the fuel took at most its time, so at most `est` went in.
    /// Where that would have reached the top, the stop counts as full (`telemetry-v1`)
    /// unless `full` is `false`, with the doubt that the crew stopped short (how often and
    /// how far, as calibration measured on weighed stops of the kind, else
    /// [`TIRE_SHORT_SHARE_PRIOR`] of them by up to the whole room, uniformly); else, on a
    /// green stop whose finish's need is known, where calibration measured the crews'
    /// habitual margin over it (`late_pour_margin_gal`) and the time allowed more than
    /// the need, the pour is the habit's ([`pits::late_pour`]: the need and the margin,
    /// less when the cell is read as holding part of that already); else anywhere from
    /// the need (none when not known or not positive) to `est`, uniformly: nothing tells
    /// more.
    fn tire_timed_fill(
        &self,
        base: f64,
        base_var: f64,
        est: f64,
        full: Option<bool>,
        need: StopNeed,
        p: &ModelParams,
    ) -> (f64, f64) {
        let least = need.least();
        let cap = self.capacity;
        let room = (cap - base).max(0.0);
        // The most the time allows, at the fill's upper bound.
        let most = est * (1.0 + Z90 * p.fill_rel_sd) + Z90 * p.fill_abs_sd;
        if full != Some(false) && most >= room {
            let share = p.tire_short_share.unwrap_or(TIRE_SHORT_SHARE_PRIOR);
            // Short by s uniform on [0, s_max], of mean `room_gal` where measured.
            let s_max = p.tire_short_room_gal.map_or(room, |r| room.min(2.0 * r));
            (
                cap,
                share * s_max * s_max / 3.0 + self.since_box * self.since_box,
            )
        } else {
            let top = est.min(room);
            let low = least.min(top);
            match need.habit(p) {
                // The time allowed more than the finish needs: the crew poured that need
                // and its habitual margin, as calibration measured. The level is then the
                // finish's need plus the margin whatever the level at pit_in was (the
                // need is measured from it), so its doubt is the margin's alone. A car
                // read as holding the finish's fuel already (its level read high) is
                // read the same way: a crew that needed nothing poured little, not half
                // of what a tyre change leaves time for.
                Some((pour, sd)) if least < top => {
                    let pour = pour.clamp(low, top);
                    let uniform = base_var + (top - low).powi(2) / 12.0;
                    (base + pour, (sd * sd).min(uniform))
                }
                _ => (
                    base + (low + top) / 2.0,
                    base_var + (top - low).powi(2) / 12.0,
                ),
            }
        }
    }

    /// A stop the fuel timed: the pour is `est` with the fill's doubt, on `base`. A stop
    /// as long as a full fill needs is judged full or short by how likely each is; one
    /// judged full all but surely teaches the car its efficiency when `may_learn` (the
    /// fuel timed it all but surely: its pour was measured).
    fn fuel_timed_fill(
        &mut self,
        base: f64,
        base_var: f64,
        est: f64,
        full: Option<bool>,
        may_learn: bool,
        p: &ModelParams,
    ) -> (f64, f64) {
        let cap = self.capacity;
        let rel = p.fill_rel_sd * est;
        let var = base_var + rel * rel + p.fill_abs_sd * p.fill_abs_sd;
        let want = base + est;
        if full == Some(false) {
            // The crew stopped short: the level stays below the top. Where the time
            // would have filled the cell, something else held the car: the pour is
            // anywhere short of the room.
            if want < cap {
                return (want, var);
            }
            let room = (cap - base).max(0.0);
            return (base + room / 2.0, base_var + room * room / 12.0);
        }
        // Within the doubt of the top, the crew filled it: a stop as long as a full
        // fill needs is a full fill. (Sizing it at `want` would carry any error of
        // the level at pit_in, which the fill itself erased, through the next stint.)
        let doubt = Z90 * var.sqrt();
        // What the car burned leaving its box after the crew filled it: the cell
        // is that much short of the top at `pit_out`, where the fill counts.
        let drive_off = self.since_box * self.since_box;
        let margin = want - cap;
        // How likely a stop this long ended short of the top, when calibration
        // measured how often crews stop short and by how much.
        let short = match (p.fill_partial_share, p.fill_partial_room_gal) {
            (Some(share), Some(room)) => Some(short_odds(margin, var, share, room)),
            _ => None,
        };
        if margin > doubt {
            // Surely full: poured past the top by more than the doubt. The crew
            // stopped at the top and the car stood longer (tyres, a repair), so
            // the standing time overstates the pour: it teaches nothing.
            (cap, drive_off)
        } else if let Some(short) = short {
            if margin >= 0.0 || short < 0.5 {
                // Read as full: exact if it was, off by the margin and its doubt
                // if the crew stopped short. Only a stop that was full all but
                // surely teaches (a short one would pull the car the other way).
                if short < 0.1 && may_learn {
                    self.learn_standing(est, p);
                }
                (cap, short * (margin * margin + var) + drive_off)
            } else {
                (want, var)
            }
        } else if margin >= -doubt {
            if may_learn {
                self.learn_standing(est, p);
            }
            // Probably full. The cell holds min(X, capacity) with X ~ N(want,
            // var): reading it as full errs only on the short side, by the
            // expected squared shortfall (keeping all of `var` would make the band
            // after every full stop far wider than the truth needs; the accuracy
            // report measured 99 % coverage that way).
            (cap, shortfall_var(margin, var) + drive_off)
        } else {
            (want, var)
        }
    }
}

/// The probability that a stop ended short of the top rather than at it, given that
/// what it would have poured at the fleet's rate, on top of the level at pit entry,
/// reaches `margin` past the capacity with variance `var`: at the top, the margin is
/// `N(0, var)`; short of it by `s ~ Exp(mean room)`, it is `−s + N(0, var)` (an
/// exponentially modified normal), and `share` of stops end short.
fn short_odds(margin: f64, var: f64, share: f64, room: f64) -> f64 {
    if share <= 0.0 {
        return 0.0;
    }
    if share >= 1.0 {
        return 1.0;
    }
    if var <= 0.0 {
        return if margin < 0.0 { 1.0 } else { 0.0 };
    }
    // The two densities share a factor φ(margin/sd): their ratio short / at the top is
    // λ·sd·R(x) with x = margin/sd + λ·sd and R the Mills ratio Φ(−x)/φ(x), which
    // stays finite where the densities themselves overflow or underflow.
    let sd = var.sqrt();
    let lambda_sd = sd / room;
    let ratio = lambda_sd * mills(margin / sd + lambda_sd);
    if !ratio.is_finite() {
        return 1.0;
    }
    let short = share * ratio;
    short / (short + (1.0 - share))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stint from a full cell in which the model counted `model_gal` while the car
    /// really burned `model_gal × truth`, ended by a weighed fill to the top.
    fn weighed_stint(fuel: &mut Fuel, p: &ModelParams, model_gal: f64, truth: f64) {
        fuel.used_stint = model_gal * fuel.stint_eff;
        let burned = model_gal * truth;
        fuel.learn(Some(burned), Some(true));
        fuel.fill(
            Some(burned),
            Some(true),
            PitData::default(),
            None,
            true,
            p,
            0.0,
        );
        fuel.stint_eff = fuel.learned_eff(p, 0.0);
    }

    #[test]
    fn a_car_learns_its_efficiency_from_weighed_stints_shrunk_toward_the_fleet() {
        let p = ModelParams {
            burn_rel_sd: 0.03,
            car_rel_sd: 0.02,
            ..ModelParams::default()
        };
        let mut fuel = Fuel::full(20.0);
        weighed_stint(&mut fuel, &p, 15.0, 1.04);
        // One stint: the posterior mean moves toward 4 % but not all the way.
        let one = fuel.stint_eff;
        assert!(one > 1.01 && one < 1.04, "{one}");
        for _ in 0..9 {
            weighed_stint(&mut fuel, &p, 15.0, 1.04);
        }
        let ten = fuel.stint_eff;
        assert!(ten > one && (ten - 1.04).abs() < 0.005, "{ten}");
        assert_eq!(fuel.learn_n, 10);
        assert!(fuel.start_full);
    }

    #[test]
    fn the_band_narrows_as_a_car_teaches_and_never_below_the_within_car_error() {
        let p = ModelParams {
            burn_rel_sd: 0.03,
            car_rel_sd: 0.02,
            ..ModelParams::default()
        };
        let (tau2, w2) = p.car_variances();
        let after = |n: u32| {
            let mut fuel = Fuel::full(20.0);
            fuel.learn_n = n;
            fuel.burn_rel_sd(&p, 0.0)
        };
        assert!((after(0) - 0.03).abs() < 1e-12);
        let mut last = after(0);
        for n in 1..20 {
            let sd = after(n);
            assert!(sd < last, "{n}: {sd} !< {last}");
            assert!(sd > w2.sqrt());
            last = sd;
        }
        assert!(tau2 > 0.0);
        // The band of a car at the same point of a stint is narrower once it taught.
        let mut fresh = Fuel::full(20.0);
        fresh.used_stint = 10.0;
        let mut taught = fresh;
        taught.learn_n = 5;
        assert!(taught.variance(&p, 0.0) < fresh.variance(&p, 0.0));
    }

    /// A stint from a cell read as full in which the model counted `model_gal` while the
    /// car really burned `model_gal × truth`, ended by a live fuel-only stop (no weight,
    /// `tires: 0`) whose crew poured `pour` gallons at `crew` times the fleet's fill rate.
    fn standing_stint(
        fuel: &mut Fuel,
        p: &ModelParams,
        model_gal: f64,
        truth: f64,
        pour: Option<f64>,
        crew: f64,
    ) {
        fuel.used_stint = model_gal * fuel.stint_eff;
        let poured = pour.unwrap_or(model_gal * truth);
        let secs = poured / (p.fill_rate_gps * crew) + p.fill_dead_s;
        fuel.standing_ms = (secs * 1000.0).round() as i64;
        let fuel_only = PitData {
            tires: Some(0),
            box_s: None,
        };
        fuel.fill(None, None, fuel_only, None, true, p, 0.0);
        fuel.stint_eff = fuel.learned_eff(p, 0.0);
    }

    /// Calibrated doubts of a fill sized from standing time: 3 % relative, of which
    /// `crew_sd` is each crew's own rate.
    fn live_params(crew_sd: f64) -> ModelParams {
        ModelParams {
            burn_rel_sd: 0.021,
            car_rel_sd: 0.02,
            fill_rel_sd: 0.032,
            fill_abs_sd: 0.15,
            fill_car_rel_sd: Some(crew_sd),
            ..ModelParams::default()
        }
    }

    #[test]
    fn full_stops_sized_from_standing_time_teach_a_car_its_efficiency_up_to_its_crew() {
        // Fills that standing time sizes to 1 %, of which 0.5 % is the crew: standing
        // time all but weighs them, and a 4 % thrifty car is learned nearly as from
        // weighed stints.
        let p = ModelParams {
            fill_rel_sd: 0.01,
            ..live_params(0.005)
        };
        let mut fuel = Fuel::full(20.0);
        for _ in 0..6 {
            standing_stint(&mut fuel, &p, 18.0, 0.96, None, 1.0);
        }
        let eff = fuel.stint_eff;
        assert!(eff > 0.96 && eff < 0.975, "{eff}");
        assert_eq!(fuel.learn_n, 0, "nothing was weighed");
        assert!(fuel.start_at_cap);
        assert!(
            fuel.burn_rel_sd(&p, 0.0) < 0.015,
            "{}",
            fuel.burn_rel_sd(&p, 0.0)
        );

        // Crews that differ by 3 %: however many stops, the car's own rate hides part of
        // its efficiency, and the factor moves only part of the way.
        let p = live_params(0.03);
        let mut fuel = Fuel::full(20.0);
        for _ in 0..20 {
            standing_stint(&mut fuel, &p, 18.0, 0.96, None, 1.0);
        }
        let eff = fuel.stint_eff;
        assert!(eff > 0.98 && eff < 0.995, "{eff}");
        let sd = fuel.burn_rel_sd(&p, 0.0);
        assert!(sd > 0.015 && sd < 0.021, "{sd}");

        // And a fast crew reads as a thrifty car by the same amount as a thrifty car
        // reads with an average crew: standing time cannot tell the two apart.
        let mut fast = Fuel::full(20.0);
        for _ in 0..20 {
            standing_stint(&mut fast, &p, 18.0, 1.0, None, 1.0 / 0.96);
        }
        assert!(
            (fast.stint_eff - eff).abs() < 0.002,
            "{} vs {eff}",
            fast.stint_eff
        );
    }

    #[test]
    fn a_stop_short_of_full_teaches_nothing_nor_does_the_stint_after_it() {
        let p = live_params(0.005);
        let mut fuel = Fuel::full(20.0);
        // A splash: 6 gal into a cell 15 gal down, far short of the top.
        standing_stint(&mut fuel, &p, 15.0, 1.0, Some(6.0), 1.0);
        assert_eq!(fuel.fill_prec, 0.0);
        assert!(!fuel.start_at_cap);
        assert!(
            (fuel.remaining() - 11.0).abs() < 0.2,
            "{}",
            fuel.remaining()
        );
        // The next stop fills it to the top, but the stint began from a level that
        // was itself only estimated.
        standing_stint(
            &mut fuel,
            &p,
            8.0,
            0.96,
            Some(20.0 - 11.0 + 8.0 * 0.96),
            1.0,
        );
        assert_eq!(fuel.fill_prec, 0.0);
        assert_eq!(fuel.stint_eff, 1.0);
        assert!(fuel.start_at_cap);
    }

    #[test]
    fn a_stop_as_long_as_a_full_fill_is_judged_full_or_short_by_how_often_crews_stop_short() {
        // 5 % of stops end short, by 3 gal on average; the margin's doubt is 0.7 gal.
        let odds = |m: f64| short_odds(m, 0.49, 0.05, 3.0);
        assert!(odds(0.0) < 0.02, "{}", odds(0.0));
        assert!(odds(-1.5) > 0.1, "{}", odds(-1.5));
        assert!(odds(-3.0) > 0.9, "{}", odds(-3.0));
        let mut last = 1.0;
        for k in -30..=20 {
            let o = odds(k as f64 / 10.0);
            assert!(o <= last && (0.0..=1.0).contains(&o), "{k}: {o}");
            last = o;
        }
        assert_eq!(short_odds(-1.0, 0.49, 0.0, 3.0), 0.0);
        // Far out in either tail, and with tiny rooms, it stays a probability.
        for (m, v, room) in [
            (0.5, 4.0, 0.05),
            (-50.0, 0.01, 3.0),
            (50.0, 0.01, 3.0),
            (0.0, 4.0, 0.001),
        ] {
            let o = short_odds(m, v, 0.1, room);
            assert!(
                o.is_finite() && (0.0..=1.0).contains(&o),
                "{m} {v} {room}: {o}"
            );
        }
        assert_eq!(short_odds(-0.5, 0.0, 0.1, 3.0), 1.0);
        assert_eq!(short_odds(0.5, 0.0, 0.1, 3.0), 0.0);
        // The Mills ratio on both sides of its switch to the series.
        assert!((mills(4.99) / mills(5.01) - 5.01 / 4.99).abs() < 0.01);

        // A full stop of a car burning as the model says: with the crews' habits known
        // its band after the stop is a fraction of the shortfall doubt kept without.
        let stop = |p: &ModelParams| {
            let mut fuel = Fuel::full(20.0);
            standing_stint(&mut fuel, p, 18.0, 1.0, None, 1.0);
            assert_eq!(fuel.remaining(), 20.0);
            fuel.variance(p, 0.0).sqrt()
        };
        let known = ModelParams {
            fill_partial_share: Some(0.05),
            fill_partial_room_gal: Some(3.0),
            ..live_params(0.03)
        };
        let (with, without) = (stop(&known), stop(&live_params(0.03)));
        assert!(with < 0.25 * without, "{with} vs {without}");
    }

    #[test]
    fn splashes_unknown_levels_and_absurd_weights_teach_nothing() {
        let p = ModelParams::default();
        let mut fuel = Fuel::full(20.0);
        // A splash: too short a stint to measure a percentage.
        fuel.used_stint = 2.0;
        fuel.learn(Some(2.0), Some(true));
        // Not filled to the top: the level after is unknown.
        fuel.used_stint = 12.0;
        fuel.learn(Some(12.0), Some(false));
        // A mistyped weight: 40 % off.
        fuel.learn(Some(12.0 * 1.4), Some(true));
        // A stint that began from a level that was not surely full.
        fuel.start_full = false;
        fuel.learn(Some(12.0), Some(true));
        assert_eq!(fuel.learn_n, 0);
        assert_eq!(fuel.learned_eff(&p, 0.0), 1.0);
    }

    /// A live stop (no weight, `full` null) on a cell holding `base` gal, `base_var`
    /// gal² of doubt, after a stint that began full and burned what it lost by the model; the
    /// telemetry measured `measured_s` in the box and the pit data gave `pit`. The fill's
    /// level and variance, and whether it taught the car.
    fn live_stop(base: f64, base_var: f64, measured_s: f64, pit: PitData) -> (f64, f64, bool) {
        let p = ModelParams::default();
        let mut fuel = Fuel::full(20.0);
        fuel.used_stint = 20.0 - base;
        fuel.pit_in = Some((base, base_var));
        fuel.standing_ms = (measured_s * 1000.0).round() as i64;
        fuel.fill(None, None, pit, None, true, &p, 0.0);
        (
            fuel.stint_start_gal,
            fuel.stint_start_var,
            fuel.fill_prec > 0.0,
        )
    }

    fn pit(tires: Option<u8>, box_s: f64) -> PitData {
        PitData {
            tires,
            box_s: Some(box_s),
        }
    }

    #[test]
    fn the_official_box_time_sizes_a_fuel_only_stop_rather_than_the_telemetry() {
        // Defaults: 1.5 gal/s after 1.5 s, 10 % doubt. 5.1 s in the box: 1.5 · 3.6 = 5.4
        // gal on 5 gal, variance (0.1 · 5.4)² = 0.2916; the telemetry's 3 s is ignored.
        let (level, var, _) = live_stop(5.0, 0.0, 3.0, pit(Some(0), 5.1));
        assert!((level - 10.4).abs() < 1e-9, "{level}");
        assert!((var - 0.2916).abs() < 1e-9, "{var}");
        // Without box_s the telemetry's time sizes it: 1.5 · 1.5 = 2.25 gal.
        let telemetry = PitData {
            tires: Some(0),
            box_s: None,
        };
        let (level, _, _) = live_stop(5.0, 0.0, 3.0, telemetry);
        assert!((level - 7.25).abs() < 1e-9, "{level}");
    }

    #[test]
    fn a_short_stop_no_longer_than_its_tyre_change_says_only_that_the_fuel_took_at_most_that_long()
    {
        // Two tyres (5 s ± √(0.5² + 0.2²) = 0.5385) and 5.1 s in the box, 15 gal of room:
        // the fuel took at most 5.1 s, so at most 5.4 gal went in.
        // Odds (`pits`): z = 0.1857, fuel 1.5 · Φ(z) = 0.8606 against the tyres
        // φ(z) / 0.5385 · 5.4 = 3.932: the fuel timed it at 0.1796.
        // Read as the fuel's: 10.4, variance 0.2916. Read as the tyres': anywhere in
        // [5, 10.4], 7.7 with variance 5.4² / 12 = 2.43.
        // Mixed: 0.1796 · 10.4 + 0.8204 · 7.7 = 8.185; variance 0.1796 · 0.2916 +
        // 0.8204 · 2.43 + 0.1796 · 0.8204 · 2.7² = 3.120.
        let (level, var, taught) = live_stop(5.0, 0.0, 5.3, pit(Some(2), 5.1));
        assert!((level - 8.185).abs() < 0.005, "{level}");
        assert!((var - 3.120).abs() < 0.01, "{var}");
        assert!(!taught);
        // Far longer than two tyres take: the fuel's (9.1 s: 11.4 gal).
        let (level, _, _) = live_stop(5.0, 0.0, 9.3, pit(Some(2), 9.1));
        assert!((level - 16.4).abs() < 1e-6, "{level}");
    }

    #[test]
    fn a_stop_timed_by_its_tyres_counts_full_where_the_time_allowed_the_top_and_teaches_nothing() {
        // 11.4 gal of room and four tyres in 9.1 s: the time allowed 1.5 · 7.6 = 11.4 gal,
        // so the stop counts as full. Read as the fuel's it is a fill to the top that
        // measures the car's burn (its doubt, uncalibrated: the shortfall of N(0, (0.1 ·
        // 11.4)²) below the top, half its variance, 0.6498); the tyres all but surely
        // timed it (odds 0.13), so it teaches nothing. The tyres' reading's doubt: 10 %
        // of such stops stop short, by up to the whole room: 0.1 · 11.4² / 3 = 4.332.
        let (level, var, taught) = live_stop(8.6, 0.0, 9.3, pit(Some(4), 9.1));
        assert_eq!(level, 20.0);
        assert!(!taught);
        let w = crate::pits::fuel_timed_odds(
            9.1,
            Some(4),
            StopNeed::default(),
            20.0,
            &ModelParams::default(),
        );
        let want = w * 0.6498 + (1.0 - w) * 4.332;
        assert!((var - want).abs() < 0.01 * var, "{var} {want} {w}");
        // The same stop with no tyre changed is a fuel-timed fill to the top: it teaches.
        let (level, _, taught) = live_stop(8.6, 0.0, 9.3, pit(Some(0), 9.1));
        assert_eq!(level, 20.0);
        assert!(taught);
        // `full: false`: the crew stopped short, whatever the time allowed.
        let p = ModelParams::default();
        let mut fuel = Fuel::full(20.0);
        fuel.pit_in = Some((8.6, 0.0));
        fuel.fill(None, Some(false), pit(Some(4), 9.1), None, true, &p, 0.0);
        assert!(
            fuel.remaining() < 20.0 && !fuel.start_at_cap,
            "{}",
            fuel.remaining()
        );
    }

    #[test]
    fn without_the_tyres_a_stop_carries_the_doubt_of_both_readings() {
        let (fuel_only, fuel_var, _) = live_stop(5.0, 0.0, 5.3, pit(Some(0), 5.1));
        let (two, _, _) = live_stop(5.0, 0.0, 5.3, pit(Some(2), 5.1));
        let (unknown, var, taught) = live_stop(5.0, 0.0, 5.3, pit(None, 5.1));
        assert!(
            two < unknown && unknown < fuel_only,
            "{two} {unknown} {fuel_only}"
        );
        assert!(var > 2.0 * fuel_var, "{var} {fuel_var}");
        assert!(!taught);
        // A stop far from every tyre change reads as the fuel's: 14 s, 18.75 gal.
        let (level, var, _) = live_stop(1.0, 0.0, 14.2, pit(None, 14.0));
        let (fuel_level, fuel_var, _) = live_stop(1.0, 0.0, 14.2, pit(Some(0), 14.0));
        assert!((level - fuel_level).abs() < 0.01 && (var - fuel_var).abs() < 0.05);
    }

    #[test]
    fn a_crew_pours_at_least_what_the_finish_needs_as_far_as_the_time_allows() {
        // Four tyres, 9.3 s, 1 gal at pit_in: at most 1.5 · 7.8 = 11.7 gal. With the
        // finish 12 gal away, the crew poured at least 11 gal: the stop reads as the
        // fuel's at high odds and the level is near 12.7; without it, near 1 + 11.7 / 2.
        let p = ModelParams::default();
        let stop = |finish: Option<f64>| {
            let mut fuel = Fuel::full(20.0);
            fuel.used_stint = 19.0;
            fuel.pit_in = Some((1.0, 0.0));
            fuel.fill(None, None, pit(Some(4), 9.3), finish, true, &p, 0.0);
            fuel.remaining()
        };
        let (free, needed) = (stop(None), stop(Some(12.0)));
        assert!(free < 9.0, "{free}");
        assert!(needed > 12.0 && needed <= 12.7 + 1e-9, "{needed}");
        // A finish beyond what the time allowed: the crew poured all it could.
        assert!((stop(Some(30.0)) - 12.7).abs() < 1e-9);
    }

    #[test]
    fn a_late_stop_with_time_to_spare_pours_the_finishs_need_and_the_crews_margin() {
        // Four tyres, 9.0 s, 1 gal at pit_in: the time allows 1.5 · 7.5 = 11.25 gal; the
        // finish needs 5 gal from here (4 gal more). A crew that pours its need and 1 gal
        // leaves the car at 6 gal; read as anywhere from the need to what the time
        // allowed (1 + (4 + 11.25) / 2 = 8.6), mixed with the small odds that the fuel
        // timed the stop (12.25), the level is above 8 gal give or take 2.
        let calibrated = ModelParams {
            late_pour_margin_gal: Some(1.0),
            late_pour_margin_sd_gal: Some(0.3),
            ..ModelParams::default()
        };
        let stop = |p: &ModelParams, base_var: f64| {
            let mut fuel = Fuel::full(20.0);
            fuel.used_stint = 19.0;
            fuel.pit_in = Some((1.0, base_var));
            fuel.fill(None, None, pit(Some(4), 9.0), Some(5.0), true, p, 0.0);
            (fuel.remaining(), fuel.stint_start_var.sqrt())
        };
        let (uniform, uniform_sd) = stop(&ModelParams::default(), 0.0);
        assert!(uniform > 8.0 && uniform_sd > 2.0, "{uniform} {uniform_sd}");
        let (level, sd) = stop(&calibrated, 0.0);
        assert!((level - 6.0).abs() < 0.15, "{level}");
        // The margin's doubt, and the small odds that the fuel timed the stop after all
        // (a crew that follows no habit): a third of the uniform reading's.
        assert!(sd < 1.0, "{sd}");
        // The level is the need plus the margin whatever the doubt of the level at
        // pit_in, which the need was measured from.
        let (_, sd_doubtful_base) = stop(&calibrated, 1.0);
        assert!(sd_doubtful_base < 1.0, "{sd_doubtful_base}");
        // Mid-race, the need beyond what the time allowed: the margin plays no part.
        let mut fuel = Fuel::full(20.0);
        fuel.used_stint = 19.0;
        fuel.pit_in = Some((1.0, 0.0));
        fuel.fill(
            None,
            None,
            pit(Some(4), 9.0),
            Some(80.0),
            true,
            &calibrated,
            0.0,
        );
        assert!(
            (fuel.remaining() - 12.25).abs() < 1e-9,
            "{}",
            fuel.remaining()
        );
    }

    #[test]
    fn a_late_stop_for_tyres_of_a_car_that_holds_the_finishs_fuel_pours_little() {
        // Four tyres in 9.0 s, 4 gal read at pit_in, the finish needs 3.5 gal from here:
        // nothing more is needed. The crews' habit is to leave with the need and the
        // margin (1 gal), so the car leaves with about 4.5 gal, not with half of the
        // 11.25 gal the tyre change left time for (as uniform pours from none read it).
        let calibrated = ModelParams {
            late_pour_margin_gal: Some(1.0),
            late_pour_margin_sd_gal: Some(0.3),
            ..ModelParams::default()
        };
        let stop = |p: &ModelParams, finish: f64| {
            let mut fuel = Fuel::full(20.0);
            fuel.used_stint = 16.0;
            fuel.pit_in = Some((4.0, 0.04));
            fuel.fill(None, None, pit(Some(4), 9.0), Some(finish), true, p, 0.0);
            (fuel.remaining(), fuel.stint_start_var.sqrt())
        };
        let (uniform, uniform_sd) = stop(&ModelParams::default(), 3.5);
        assert!(uniform > 8.0, "{uniform}");
        // The small odds that the fuel timed the stop after all (a crew that follows no
        // habit and poured the 11.25 gal) keep a little of that reading and its doubt.
        let (level, sd) = stop(&calibrated, 3.5);
        assert!((level - 4.5).abs() < 0.25, "{level}");
        assert!(sd < uniform_sd / 2.0, "{sd} {uniform_sd}");
        // With the margin already in the cell, the habit pours nothing.
        let (level, _) = stop(&calibrated, 2.0);
        assert!((level - 4.0).abs() < 0.25, "{level}");
        // Under caution crews top up while the field waits: the habit does not speak,
        // the fuel ran the whole stop and the car leaves with all the time allowed.
        let mut fuel = Fuel::full(20.0);
        fuel.used_stint = 16.0;
        fuel.pit_in = Some((4.0, 0.04));
        fuel.fill(
            None,
            None,
            pit(Some(4), 9.0),
            Some(3.5),
            false,
            &calibrated,
            0.0,
        );
        assert!(
            (fuel.remaining() - 15.25).abs() < 1e-9,
            "{}",
            fuel.remaining()
        );
    }

    #[test]
    fn under_caution_a_crew_tops_up_as_far_as_the_stop_allows() {
        // Four tyres in 9.4 s with 7 gal read at pit_in, as calibrated crews pour
        // (1.5 gal/s after 1.5 s, 3 % between crews, 8 % of full-length stops short by
        // 11.6 gal on average): the fleet's rate pours 11.85 gal in that time, 1.15 gal
        // short of the room; a crew 10 % faster filled the cell. Under green with the
        // finish's need unknown, where the tyres may have timed the stop and a splash may
        // end anywhere up to what the time allowed, the level reads well short of the
        // top; under caution the fuel ran the whole stop, so the time sizes the pour,
        // judged full by the room as a fuel-timed stop of that length is.
        let p = ModelParams {
            fill_rel_sd: 0.03,
            fill_abs_sd: 0.3,
            fill_partial_share: Some(0.08),
            fill_partial_room_gal: Some(11.6),
            ..ModelParams::default()
        };
        let stop = |green: bool, tires: Option<u8>| {
            let mut fuel = Fuel::full(20.0);
            fuel.used_stint = 13.0;
            fuel.pit_in = Some((7.0, 0.04));
            fuel.fill(None, None, pit(tires, 9.4), None, green, &p, 0.0);
            (fuel.remaining(), fuel.stint_start_var.sqrt())
        };
        let (green, _) = stop(true, Some(4));
        assert!(green < 17.0, "{green}");
        for tires in [Some(4), Some(2), None] {
            let (caution, sd) = stop(false, tires);
            assert!(caution == 20.0, "{tires:?}: {caution}");
            assert!(sd < 1.0, "{tires:?}: {sd}");
        }
        // Where the time allowed far less than the room, the pour is what it allowed.
        let mut fuel = Fuel::full(20.0);
        fuel.used_stint = 19.0;
        fuel.pit_in = Some((1.0, 0.0));
        fuel.fill(
            None,
            None,
            pit(Some(4), 5.5),
            Some(80.0),
            false,
            &ModelParams::default(),
            0.0,
        );
        assert!(
            (fuel.remaining() - 7.0).abs() < 1e-9,
            "{}",
            fuel.remaining()
        );
    }
}
