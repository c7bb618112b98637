//! What a pit stop's time says of its fuel (`telemetry-v1`, Fills): a stop lasts as long
//! as its longer job, the fuel (dead time, then the pour at the crew's rate) or the
//! tyres (a change takes its own time whatever is poured). So the time a car stood in its
//! box sizes the pour only where the fuel was the longer job; where the tyres were, it
//! says only that the fuel took at most that long.
//!
//! # Which job timed a stop
//!
//! A stop of `T` seconds reads as a pour of `F = rate · (T − dead)` had the fuel timed
//! it ([`pour_reading`]). Whether it did is judged by how likely each job is to have
//! ended at `T` ([`fuel_timed_odds`]): the tyre change of `k` tyres takes `τₖ` give or take
//! `σₖ` (normal), but a share of changes are slowed by a fumble, by a second give or
//! take one ([`TIRE_FUMBLE_SHARE`]), so its density `gₖ` and distribution `Gₖ` mix two
//! normals and a crew slow at tyres is not read as pouring long; the pour is taken as
//! equally likely anywhere from none to the cell's room `R` (full fills, a mass at `R`,
//! end the same way whichever job timed them, so they do not enter). Then, for `F < R`,
//!
//! ```text
//! P(tyres timed it) ∝ gₖ(T) · P(fuel job ≤ T)        = gₖ(T) · F/R
//! P(fuel timed it)  ∝ f_fuel(T) · P(tyre change ≤ T)  = rate/R · Gₖ(T)
//! ```
//!
//! and `R` cancels. Where the crew surely poured at least `L` (what the car needs to
//! reach the finish: a late stop pours at least that, as far as the time allows), the
//! pour is taken as equally likely from `L` to `R`, and `F` becomes `F − L` in the tyres'
//! side: a stop whose time just allows the finish's fuel was timed by that fuel.
//! Where calibration measured how much more than that need crews pour when their time
//! allows more (`late_pour_margin_gal`, give or take `late_pour_margin_sd_gal`), the
//! pour of such a stop is taken as normal about `L` plus that margin instead, mixed with
//! a share of crews that follow no habit (uniform from `L` to `R`,
//! [`LATE_POUR_OTHER_SHARE`]): the tyres' side becomes `gₖ(T) · P(pour ≤ F)` and the
//! fuel's `rate · f(F) · Gₖ(T)`, with that mixture's distribution and density. The
//! habit is a level to leave with ([`late_pour`]), so it speaks also where the cell is
//! read as holding the finish's fuel already (a late stop for tyres): the pour is then
//! what the margin still lacks, or none, not anything up to what the time allowed. A
//! fuel-only stop (`tires: 0`) was timed by its fuel; with `tires`
//! unknown, both sides are summed over the tyre counts weighted by how often stops take
//! them (`tire_shares`), so a stop about as long as a common tyre change carries the
//! doubt of both readings.

use crate::model::ModelParams;
use crate::stats::{norm_cdf, norm_pdf};

/// The timing noise of a stop's length, s, whatever its tyres: `box_s` is given to a
/// tenth, and the telemetry's time below 1 mph to a sample or two.
const TIMING_SD_S: f64 = 0.2;

/// The share of tyre-timed stops whose time would have let the fuel reach the top but
/// whose crew stopped short, until calibration measures it: a guess, small because a
/// crew with the time fills the cell, not zero because a late splash may take tyres.
pub(crate) const TIRE_SHORT_SHARE_PRIOR: f64 = 0.1;

/// Where calibration measured the crews' margin over the finish's need, the share of
/// late stops taken to follow no such habit (a crew that fills the car, a stop for
/// something else): calibration on one history cannot know how often another field's
/// crews do, so it is a judgement, not a fit; it keeps a pour far from the habit
/// readable as what it is.
pub(crate) const LATE_POUR_OTHER_SHARE: f64 = 0.1;

/// The share of tyre changes slowed by a fumble (a lug nut that will not seat, a wheel
/// that sticks, a late jack drop), in the odds of which job timed a stop. Calibration
/// fits the tyre times robustly (medians and the median absolute deviation), which
/// leaves such changes out by design, and crews that are a second slower than the
/// fleet all race long fall in the same tail; how often another field's crews do is
/// not something one history tells, so it is a judgement, not a fit. Without it, a
/// four-tyre late splash by a crew slow at tyres was read as a long pour: on our own
/// held-out races, one stop 5.2 gal high.
pub(crate) const TIRE_FUMBLE_SHARE: f64 = 0.1;

/// How much a fumble slows a tyre change, s: its mean and the spread of the fumbled
/// change's time (normal, in place of the usual change's).
///
/// Two costs, known and measured as small: a stop that fills the cell within about 3 s
/// of the usual tyre time is no longer read as the fuel's surely enough to teach the car
/// (the level read is the same, the top, either way); and where calibration fits a tyre
/// spread well under a second, the fumbled normal's left tail is the wider, so a stop
/// faster than the usual change by well over its spread is read as the tyres' more than
/// before (a normal mixture cannot be one-sided). With it the report's stint error moved
/// by at most 0.02 points on a track, and its coverage by at most 0.1 point.
pub(crate) const TIRE_FUMBLE_S: (f64, f64) = (1.0, 1.0);

/// The official pit data of a stop, as `pit_out` gives it (each `None` when it does not).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PitData {
    /// Tyres changed, 0 to 4.
    pub tires: Option<u8>,
    /// Seconds stationary in the box.
    pub box_s: Option<f64>,
}

impl PitData {
    /// The stop's time in the box: the official timing when given, else `measured_s` (the
    /// telemetry's time below 1 mph on pit road).
    pub fn secs(&self, measured_s: f64) -> f64 {
        self.box_s
            .filter(|s| s.is_finite() && *s >= 0.0)
            .unwrap_or(measured_s)
    }
}

/// What a stop of `secs` in the box pours had the fuel timed it, gal.
pub fn pour_reading(secs: f64, p: &ModelParams) -> f64 {
    (secs - p.fill_dead_s).max(0.0) * p.fill_rate_gps
}

/// What a stop's circumstances say of its pour before its time is read: the fuel the
/// finish needs from the stop on top of the level going in, and whether the crews'
/// late-pour habit speaks for it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StopNeed {
    /// The finish's fuel less the level going in (negative when the cell is read as
    /// holding it already); `None` when not known (no schedule, no green lap yet).
    pub need: Option<f64>,
    /// The stop was made under green. The habit calibration measures
    /// (`late_pour_margin_gal`) is a green-flag splash's: the crew pours what the
    /// finish needs and a margin, because every second in the box costs track position.
    /// Under caution the field waits and crews top up as far as the stop allows, so the
    /// habit does not speak there (calibration measures it on green stops only).
    pub green: bool,
}

impl StopNeed {
    /// A stop under green with the finish's `need` known.
    pub fn green(need: f64) -> StopNeed {
        StopNeed {
            need: Some(need),
            green: true,
        }
    }

    /// What the crew surely poured, as far as the time allowed: the finish's need, or
    /// none when not known or not positive.
    pub fn least(&self) -> f64 {
        self.need.map_or(0.0, |n| n.max(0.0))
    }

    /// Where the habit speaks (a green stop, the need known, the margin calibrated):
    /// the pour it says ([`late_pour`]) and its standard deviation.
    pub fn habit(&self, p: &ModelParams) -> Option<(f64, f64)> {
        match (self.need, p.late_pour_margin_gal, p.late_pour_margin_sd_gal) {
            (Some(need), Some(margin), Some(sd)) if self.green => {
                Some((late_pour(need, margin), sd))
            }
            _ => None,
        }
    }
}

/// What a crew with the habit calibration measured pours on a late green stop whose time
/// allows more than the finish needs: the finish's `need` (what it needs from the stop to
/// the finish less the level going in) and its `margin` over it. The habit is a level to
/// leave with, the finish's fuel and the margin, so a car the estimate reads as already
/// holding the finish's fuel (`need` ≤ 0: a level read high) gets only what that level
/// lacks, and none when the margin too is in the cell.
pub fn late_pour(need: f64, margin: f64) -> f64 {
    (need + margin).max(0.0)
}

/// The usual time and its standard deviation, s, of a change of `tires` tyres.
pub fn tire_time(tires: u8, p: &ModelParams) -> (f64, f64) {
    let tau = p.tire_change_s(tires);
    // Not `f64::hypot`: Rust links it to glibc 2.35's `hypot`, newer than the Lambda
    // runtime's (provided.al2023 has 2.34); the terms are small, so the plain form is exact
    // enough.
    let rel = p.tire_rel_sd * tau;
    let sd = (rel * rel + TIMING_SD_S * TIMING_SD_S).sqrt();
    (tau, sd)
}

/// The density (s⁻¹) and distribution function of a change of `k` tyres at `secs`: the
/// usual change ([`tire_time`]), and a share [`TIRE_FUMBLE_SHARE`] of changes slowed by
/// a fumble ([`TIRE_FUMBLE_S`]).
fn tire_density(secs: f64, k: u8, p: &ModelParams) -> (f64, f64) {
    let (tau, sd) = tire_time(k, p);
    let z = (secs - tau) / sd;
    let (mean, fsd) = TIRE_FUMBLE_S;
    let zf = (secs - tau - mean) / fsd;
    let f = TIRE_FUMBLE_SHARE;
    (
        (1.0 - f) * norm_pdf(z) / sd + f * norm_pdf(zf) / fsd,
        (1.0 - f) * norm_cdf(z) + f * norm_cdf(zf),
    )
}

/// The probability that the fuel was the longer job of a stop of `secs` with `tires`
/// changed (`None`: not known), given what the stop's circumstances say of its pour
/// (`need`): the crew poured at least the finish's need, and on a green stop the habit
/// calibration measured, as the module documentation derives it.
pub fn fuel_timed_odds(
    secs: f64,
    tires: Option<u8>,
    need: StopNeed,
    room: f64,
    p: &ModelParams,
) -> f64 {
    let least = need.least();
    let reading = pour_reading(secs, p);
    let spread = (reading - least).max(0.0);
    if !secs.is_finite() || secs <= p.fill_dead_s {
        // No pour fits in the time: nothing to tell apart.
        return 1.0;
    }
    // How likely the pour ended at the reading `F` (a density, gal⁻¹, up to a factor
    // common to both sides) and how likely it ended before (`pour_before`): uniform from
    // `least` to the room by default (the factor `1/(R − L)` cancels); where calibration
    // measured the crews' margin over the finish's need and the time allowed more than
    // that need, normal about the need plus the margin.
    let (pour_at, pour_before) = match need.habit(p) {
        Some((pour, msd)) if spread > 0.0 && msd > 0.0 => {
            // The habit's normal, and a few crews that follow none (uniform from the
            // need to the room): without them a pour far from the habit (a crew that
            // fills a car late in a race) would have both readings' odds underflow and
            // the tyres' tail, the slower to vanish, claim a stop the fuel plainly timed.
            let other = LATE_POUR_OTHER_SHARE;
            let width = (room - least).max(spread).max(1e-9);
            let u = (reading - pour) / msd;
            (
                (1.0 - other) * norm_pdf(u) / msd + other / width,
                (1.0 - other) * norm_cdf(u) + other * spread / width,
            )
        }
        _ => (1.0, spread),
    };
    let mut fuel = 0.0;
    let mut tire = 0.0;
    let mut add = |k: u8, weight: f64| {
        if weight <= 0.0 {
            return;
        }
        if k == 0 {
            fuel += weight * p.fill_rate_gps * pour_at;
            return;
        }
        let (pdf, cdf) = tire_density(secs, k, p);
        fuel += weight * p.fill_rate_gps * pour_at * cdf;
        tire += weight * pdf * pour_before;
    };
    match tires {
        Some(k) => add(k.min(4), 1.0),
        None => {
            for (k, share) in [0u8, 1, 2, 4].into_iter().zip(p.tire_shares) {
                add(k, share);
            }
        }
    }
    if fuel + tire <= 0.0 {
        return 1.0;
    }
    let odds = fuel / (fuel + tire);
    if odds.is_finite() { odds } else { 1.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fuel_only_stop_is_timed_by_its_fuel_and_a_stop_far_past_its_tyres_too() {
        let p = ModelParams::default();
        assert_eq!(
            fuel_timed_odds(4.0, Some(0), StopNeed::default(), 20.0, &p),
            1.0
        );
        // Four tyres take 9 s ± 0.92: a stop of 9.1 s is the tyres' all but surely, one
        // of 13.5 s (a full fill of 18 gal) the fuel's but for a fumble's doubt.
        assert!(fuel_timed_odds(9.1, Some(4), StopNeed::default(), 20.0, &p) < 0.15);
        assert!(fuel_timed_odds(13.5, Some(4), StopNeed::default(), 20.0, &p) > 0.995);
        // In between the odds rise with the time.
        let mut last = 0.0;
        for t in 80..=140 {
            let o = fuel_timed_odds(t as f64 / 10.0, Some(4), StopNeed::default(), 20.0, &p);
            assert!(o >= last - 1e-12 && (0.0..=1.0).contains(&o), "{t}: {o}");
            last = o;
        }
        // Hand-derived at T = τ = 9 s: z = 0, φ(0) = 0.3989, σ = √(0.9² + 0.2²) = 0.922;
        // a fumbled change takes 10 s give or take 1, z = −1, φ = 0.2420, Φ = 0.1587.
        // So g = 0.9 · 0.3989 / 0.922 + 0.1 · 0.2420 = 0.4136 and G = 0.9 · 0.5 + 0.1 ·
        // 0.1587 = 0.4659. F = 1.5 · 7.5 = 11.25: tyres 0.4136 · 11.25 = 4.653 against
        // the fuel 1.5 · 0.4659 = 0.6988.
        let o = fuel_timed_odds(9.0, Some(4), StopNeed::default(), 20.0, &p);
        assert!((o - 0.6988 / (0.6988 + 4.653)).abs() < 1e-3, "{o}");
    }

    #[test]
    fn a_crew_slow_at_tyres_is_not_read_as_pouring_long() {
        // Four tyres in 9 s ± 0.49 s (a 5 % spread, as calibration fits it robustly, and
        // the timing's 0.2 s), crews pouring
        // the finish's need of 3.5 gal and 1 gal more, give or take 0.45, into a room of
        // 15 gal. A late splash of 10.8 s reads 14 gal had the fuel timed it: far past
        // the habit, so only the crews that follow none explain it that way. The usual
        // change alone, 3.6 of its standard deviations short of 10.8 s, would leave the
        // fuel the likelier job; with a tenth of changes fumbled, the tyres'.
        let p = ModelParams {
            tire_rel_sd: 0.05,
            late_pour_margin_gal: Some(1.0),
            late_pour_margin_sd_gal: Some(0.45),
            ..ModelParams::default()
        };
        let need = StopNeed::green(3.5);
        let odds = fuel_timed_odds(10.8, Some(4), need, 15.0, &p);
        // The same odds with the usual change's normal alone.
        let (tau, sd) = tire_time(4, &p);
        let z = (10.8 - tau) / sd;
        let reading = pour_reading(10.8, &p);
        let other = LATE_POUR_OTHER_SHARE;
        let width = 15.0 - 3.5;
        let u = (reading - 4.5) / 0.45;
        let pour_at = (1.0 - other) * norm_pdf(u) / 0.45 + other / width;
        let pour_before = (1.0 - other) * norm_cdf(u) + other * (reading - 3.5) / width;
        let fuel = p.fill_rate_gps * pour_at * norm_cdf(z);
        let normal = fuel / (fuel + norm_pdf(z) / sd * pour_before);
        assert!(normal > 0.9 && odds < 0.5, "{odds} {normal}");
        // A fill of the whole room takes 11.5 s: a fumble explains that about as well as
        // the fuel does (odds near one half, where the normal alone gave 0.9998). Both
        // readings put the level at the top (the tyres' because the time allowed it,
        // `Fuel::fill`), so only the band and the learning differ: such a stop no longer
        // teaches the car (`LEARN_ODDS`). Far longer, it is the fuel's again.
        let whole = fuel_timed_odds(11.5, Some(4), need, 15.0, &p);
        assert!(whole > 0.3 && whole < 0.7, "{whole}");
        assert!(fuel_timed_odds(15.0, Some(4), need, 15.0, &p) > 0.9);
    }

    #[test]
    fn without_the_tyres_a_stop_as_long_as_a_common_change_keeps_both_readings() {
        let p = ModelParams::default();
        let at_four = fuel_timed_odds(9.1, None, StopNeed::default(), 20.0, &p);
        assert!(at_four > 0.05 && at_four < 0.5, "{at_four}");
        // Far from every tyre change: the fuel's.
        assert!(fuel_timed_odds(14.0, None, StopNeed::default(), 20.0, &p) > 0.99);
        // Shorter than any pour: nothing to tell apart.
        assert_eq!(
            fuel_timed_odds(1.0, None, StopNeed::default(), 20.0, &p),
            1.0
        );
        // Only fuel-only stops in the history: the fuel's whatever the time.
        let only_fuel = ModelParams {
            tire_shares: [1.0, 0.0, 0.0, 0.0],
            ..ModelParams::default()
        };
        assert_eq!(
            fuel_timed_odds(9.0, None, StopNeed::default(), 20.0, &only_fuel),
            1.0
        );
    }

    #[test]
    fn a_stop_whose_time_just_allows_the_finishs_fuel_was_timed_by_that_fuel() {
        let p = ModelParams::default();
        // 9.3 s with four tyres: at most 11.7 gal. With no floor the tyres all but
        // surely timed it; a crew that had to pour at least 11 gal leaves the tyres only
        // 0.7 gal of pours to explain it by, one that had to pour 12 gal none.
        let free = fuel_timed_odds(9.3, Some(4), StopNeed::default(), 20.0, &p);
        let floor = fuel_timed_odds(9.3, Some(4), StopNeed::green(11.0), 20.0, &p);
        assert!(free < 0.2 && floor > 0.5, "{free} {floor}");
        assert_eq!(
            fuel_timed_odds(9.3, Some(4), StopNeed::green(12.0), 20.0, &p),
            1.0
        );
    }

    #[test]
    fn where_crews_pour_the_need_and_a_margin_a_stop_as_long_as_that_pour_is_the_fuels() {
        let p = ModelParams {
            late_pour_margin_gal: Some(1.0),
            late_pour_margin_sd_gal: Some(0.3),
            ..ModelParams::default()
        };
        // Four tyres, the need 3 gal: the pour is 4 gal give or take 0.3, its job 1.5 +
        // 4 / 1.5 = 4.2 s. A stop of 9.1 s (a reading of 11.4 gal) is the tyres' far more
        // surely than uniform pours would say.
        let uniform = fuel_timed_odds(
            9.1,
            Some(4),
            StopNeed::green(3.0),
            20.0,
            &ModelParams::default(),
        );
        let margin = fuel_timed_odds(9.1, Some(4), StopNeed::green(3.0), 20.0, &p);
        assert!(
            margin < 0.02 && margin < uniform / 10.0,
            "{margin} {uniform}"
        );
        // Two tyres (5 s) and a need of 5 gal: a stop of 5.5 s reads 6 gal, the need and
        // the margin: the fuel's, more surely than uniform pours would say.
        let uniform = fuel_timed_odds(
            5.5,
            Some(2),
            StopNeed::green(5.0),
            20.0,
            &ModelParams::default(),
        );
        let margin = fuel_timed_odds(5.5, Some(2), StopNeed::green(5.0), 20.0, &p);
        assert!(margin > uniform && margin > 0.5, "{margin} {uniform}");
        // A crew that filled the car on a late stop (a pour far past the habit, the stop
        // far longer than its tyres): the fuel's, not the tyres' (their tail vanishes
        // more slowly than the habit's, and without crews that follow no habit it won).
        let filled = fuel_timed_odds(13.3, Some(4), StopNeed::green(4.5), 19.0, &p);
        assert!(filled > 0.97, "{filled}");
        // A car read as already holding the finish's fuel (a late stop for tyres): the
        // habit is to leave with the need and the margin, so the pour is small and a
        // stop as long as the tyres is theirs, far more surely than uniform pours say.
        let uniform = fuel_timed_odds(
            9.1,
            Some(4),
            StopNeed::green(-0.5),
            20.0,
            &ModelParams::default(),
        );
        let margin = fuel_timed_odds(9.1, Some(4), StopNeed::green(-0.5), 20.0, &p);
        assert!(
            margin < 0.02 && margin < uniform / 10.0,
            "{margin} {uniform}"
        );
        // Under caution the habit does not speak: crews top up while the field waits.
        let caution = StopNeed {
            need: Some(3.0),
            green: false,
        };
        assert_eq!(
            fuel_timed_odds(9.1, Some(4), caution, 20.0, &p),
            fuel_timed_odds(9.1, Some(4), caution, 20.0, &ModelParams::default())
        );
        // No need known: the margin says nothing.
        assert_eq!(
            fuel_timed_odds(9.1, Some(4), StopNeed::default(), 20.0, &p),
            fuel_timed_odds(
                9.1,
                Some(4),
                StopNeed::default(),
                20.0,
                &ModelParams::default()
            )
        );
    }
}
