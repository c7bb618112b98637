//! The fuel cell: its level and the doubt of it, fills at `pit_out`, and what a car's
//! stints teach of its own efficiency.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::model::ModelParams;
use crate::pits::{self, LATE_POUR_OTHER_SHARE, PitData, StopNeed, TIRE_SHORT_SHARE_PRIOR};
use crate::stats::{Z90, mills, norm_cdf, norm_pdf, shortfall_var};

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

    /// The posterior of the log of this car's crew's fill rate relative to the fleet's,
    /// `(mean, variance)`. Prior `N(0, ρ²)` (the between-car part of the fill's doubt,
    /// [`ModelParams::fill_variances`]). Each fill sized from standing time at the
    /// fleet's rate observes `y = e − r` ([`Fuel::learn_standing`]: a crew faster than
    /// the fleet poured more than the reading, so the stint seemed to burn less). Given
    /// the rate `r`, the lessons' precision-weighted mean `ȳ` is `N(μ_e − r, v_e + 1/Σ)`,
    /// where `Σ` is their precision and `N(μ_e, v_e)` what the rest of the evidence (the
    /// fleet, the track, weighed stints) says of the efficiency `e`. Then
    /// `E[r | ȳ] = −ρ²/(ρ² + v_e + 1/Σ)·(ȳ − μ_e)`, with variance `ρ² − ρ⁴/(ρ² + v_e + 1/Σ)`:
    /// the crew's earlier full stops of the race teach its rate for the pours still to
    /// come, the evidence shared between the car's burn ([`Fuel::eff_posterior`]) and its
    /// crew's rate by the spreads of their priors.
    fn crew_rate(&self, p: &ModelParams, track_var: f64) -> (f64, f64) {
        let (rho2, _) = p.fill_variances();
        if self.fill_prec <= 0.0 || rho2 <= 0.0 {
            return (0.0, rho2.max(0.0));
        }
        let (tau2, w2) = p.car_variances();
        let tau2 = tau2 + track_var.max(0.0);
        let (mu_e, v_e) = if tau2 > 0.0 {
            let precision = 1.0 / tau2 + self.learn_n as f64 / w2;
            (self.learn_sum / w2 / precision, 1.0 / precision)
        } else {
            (0.0, 0.0)
        };
        let y = self.fill_sum / self.fill_prec;
        let s = rho2 + v_e + 1.0 / self.fill_prec;
        let mean = -rho2 / s * (y - mu_e);
        let var = (rho2 - rho2 * rho2 / s).max(0.0);
        if mean.is_finite() && var.is_finite() {
            (mean, var)
        } else {
            (0.0, rho2)
        }
    }

    /// The parameters a stop of this car's crew is read with: the fleet's, with the fill
    /// rate and its between-car doubt replaced by what the car's earlier stops taught of
    /// its crew ([`Fuel::crew_rate`]). Before any lesson, the fleet's unchanged (borrowed:
    /// a copy only for the stops of a crew that taught something).
    fn crew_params<'p>(&self, p: &'p ModelParams, track_var: f64) -> Cow<'p, ModelParams> {
        if self.fill_prec <= 0.0 {
            return Cow::Borrowed(p);
        }
        let (mean, var) = self.crew_rate(p, track_var);
        let (_, within) = p.fill_variances();
        let mut crew = p.clone();
        crew.fill_rate_gps = p.fill_rate_gps * mean.exp();
        crew.fill_rel_sd = (var + within).sqrt();
        crew.fill_car_rel_sd = Some(var.sqrt());
        Cow::Owned(crew)
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
            self.standing_fill(base, base_var, full, pit, need, p, track_var)
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
    /// green stop as the crews' habit says ([`StopNeed`]). The time is read at this
    /// car's crew's rate as its earlier stops taught it ([`Fuel::crew_params`]); what the
    /// stop teaches in turn is its pour at the fleet's rate ([`Fuel::learn_standing`]).
    #[allow(clippy::too_many_arguments)]
    fn standing_fill(
        &mut self,
        base: f64,
        base_var: f64,
        full: Option<bool>,
        pit: PitData,
        need: StopNeed,
        fleet: &ModelParams,
        track_var: f64,
    ) -> (f64, f64) {
        let secs = pit.secs(self.standing_ms as f64 / 1000.0);
        let crew = self.crew_params(fleet, track_var);
        let p = crew.as_ref();
        let est = pits::pour_reading(secs, p);
        let room = (self.capacity - base).max(0.0);
        let w_fuel = pits::fuel_timed_odds(secs, pit.tires, need, room, p);
        let learn = (w_fuel >= LEARN_ODDS).then(|| pits::pour_reading(secs, fleet));
        let fuel = self.fuel_timed_fill(base, base_var, est, full, learn, p, fleet);
        let fuel = self.with_habit(fuel, (base, base_var), est, full, need, p);
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
        mixture(w_fuel, fuel, tires)
    }

    /// A fuel-timed reading (`fuel`, from [`Fuel::fuel_timed_fill`]) of a green stop where
    /// the crews' late-pour habit speaks ([`StopNeed::habit`]): two readings of the level
    /// the car left with. The time's, `T = base + est`, carries the doubt of the level
    /// going in and of the crew's rate (every per cent of rate is a tenth of a gallon on
    /// a 10 gal splash), variance `v_t`; the habit's, `H`, the finish's fuel and the
    /// margin, carries neither (the need is measured from the same `base`, which
    /// cancels), only the margin's spread as calibration measured it, `v_h`. A crew that
    /// followed the habit left with `N(H, v_h)`, and with a full cell where that reaches
    /// the top; a share [`LATE_POUR_OTHER_SHARE`] of crews follow none (their pour
    /// anywhere from the need to the room, which the time's reading as `fuel` judged).
    /// The level is the mixture of the three, each weighted by how well it explains `T`:
    /// short of the top, the precision-weighted mean of `T` and `H` (odds
    /// `N(T − H; 0, v_t + v_h)` times the chance the crew stopped short); at the top (the
    /// chance the habit came within the crews' fill gap of it,
    /// `late_pour_fill_gap_gal`, times `N(T − cap; 0, v_t)`); another pour
    /// (`1/(room − need)`). A time far from the habit is a crew that did something else.
    /// Measured on our own simulator's late green stops, the time alone misread the level
    /// by 0.46 gal rms (0.33 of it the level going in); the habit's margin spread 0.54.
    /// `full: false` (the crew reported stopping short) leaves out the top.
    fn with_habit(
        &self,
        fuel: (f64, f64),
        (base, base_var): (f64, f64),
        est: f64,
        full: Option<bool>,
        need: StopNeed,
        p: &ModelParams,
    ) -> (f64, f64) {
        let Some((pour, sd)) = need.habit(p) else {
            return fuel;
        };
        let cap = self.capacity;
        let room = (cap - base).max(0.0);
        if pour >= room {
            // The habit reaches the top (mid-race, the finish beyond one cell): the crew
            // filled the cell, or stopped short for its own reasons, as the time judges.
            return fuel;
        }
        let habit = base + pour;
        // Nothing to pour (the cell read as holding the finish's fuel and the margin):
        // the level is the one going in, with its doubt.
        let habit_var = sd * sd + if pour <= 0.0 { base_var } else { 0.0 };
        let rel = p.fill_rel_sd * est;
        let time = base + est;
        let time_var = base_var + rel * rel + p.fill_abs_sd * p.fill_abs_sd;
        if !(habit_var > 0.0 && time_var > 0.0 && room > 0.0) {
            return fuel;
        }
        let var = 1.0 / (1.0 / time_var + 1.0 / habit_var);
        let both = (time / time_var + habit / habit_var) * var;
        let apart_sd = (time_var + habit_var).sqrt();
        // How likely the habit filled the cell: its pour reaches within the fill gap
        // of the top (`late_pour_fill_gap_gal`, 0 where not measured).
        let gap = cap - habit - p.late_pour_fill_gap_gal.unwrap_or(0.0);
        // (None when the crew reported stopping short.)
        let fills = if full == Some(false) {
            0.0
        } else {
            norm_cdf(-gap / sd)
        };
        let followed = 1.0 - LATE_POUR_OTHER_SHARE;
        let below = followed * (1.0 - fills) * norm_pdf((time - habit) / apart_sd) / apart_sd;
        let top = followed * fills * norm_pdf((time - cap) / time_var.sqrt()) / time_var.sqrt();
        let other = LATE_POUR_OTHER_SHARE / (room - need.least()).max(est).max(1e-9);
        let total = below + top + other;
        if !(total > 0.0 && total.is_finite()) {
            return fuel;
        }
        let habit_read = mixture(
            below / (below + top).max(f64::MIN_POSITIVE),
            (both.min(cap), var),
            (cap, self.since_box * self.since_box),
        );
        mixture((below + top) / total, habit_read, fuel)
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

    /// A stop the fuel timed: the pour is `est` with the fill's doubt (`p`, the crew's
    /// parameters), on `base`. A stop as long as a full fill needs is judged full or
    /// short by how likely each is; one judged full all but surely teaches the car (with
    /// the `fleet`'s parameters) when `learn` gives its pour read at the fleet's rate
    /// (the fuel timed it all but surely: its pour was measured).
    #[allow(clippy::too_many_arguments)]
    fn fuel_timed_fill(
        &mut self,
        base: f64,
        base_var: f64,
        est: f64,
        full: Option<bool>,
        learn: Option<f64>,
        p: &ModelParams,
        fleet: &ModelParams,
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
                if short < 0.1
                    && let Some(poured) = learn
                {
                    self.learn_standing(poured, fleet);
                }
                (cap, short * (margin * margin + var) + drive_off)
            } else {
                (want, var)
            }
        } else if margin >= -doubt {
            if let Some(poured) = learn {
                self.learn_standing(poured, fleet);
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

/// The mixture of two readings `(level, variance)` of the same level, `a` with odds `w`
/// and `b` with the rest: its mean, and its variance with the readings' spread.
fn mixture(w: f64, a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    let v = 1.0 - w;
    (
        w * a.0 + v * b.0,
        w * a.1 + v * b.1 + w * v * (a.0 - b.0).powi(2),
    )
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
mod tests;
