//! Calibration: what weighed fills say about the model, and the fit that follows.
//!
//! # What is measured
//!
//! A stint that starts from a known level (the race start, or a fill with `full: true`)
//! and ends in a fill with `full: true` and a weighed `fuel_added_gal` burned exactly
//! `start level − (capacity − added)`: the crew filled the cell to the top, so it held
//! `capacity − added` when the fuel went in. Such a stint is **measured**. Any other
//! stint (a live feed, a splash that did not fill the cell, a start after a partial
//! fill) is left out and counted.
//!
//! # What the model would have counted
//!
//! While the engine replays a file with recording on, every interval it integrates adds
//! its duration to a histogram of the stint's operating points (throttle in 1 % steps,
//! RPM in 50 rpm steps). The model's estimate of the stint for any parameters is then
//! `Σ hours · fuel_gph(θ, rpm)` over the histogram: a few thousand cells instead of a
//! replay, so a fit can try thousands of parameter sets.
//!
//! # The fit
//!
//! Per engine package, least squares on the relative error of each measured stint, over
//! the air scale (`wot_gph_per_krpm`) and the throttle curve (`throttle_k`), which set
//! green (wide open) and caution (part throttle) burn respectively; a weak pull toward
//! the starting values keeps the fit sane with few stints. Levenberg–Marquardt with a
//! numeric Jacobian: two parameters need no library. Least squares follows one bad
//! stint far, so a stint more than [`OUTLIER_SDS`] robust sds from the fit (a weight
//! typed wrong, a crew that reported a fill to the top it did not make) is set aside,
//! counted, and kept out of the spreads too (`fit_robust`). Stints the telemetry or race
//! control broke are not measured in the first place (`recorder`). The fill's parameters (the crew's
//! rate and dead time from the stops the fuel timed, the tyre changes' times from those
//! the tyres timed) are `fill`'s. The spread of the burn between tracks, which a
//! calibration used on a track it was not fitted on must own to, is measured by leaving
//! each track out (`track`).
//!
//! # Layout
//!
//! - this file: a stint as calibration sees it, the fit of the packages and the burn's
//!   spread.
//! - `recorder`: what the engine records of each stint, and which stints measure.
//! - `fill`: the fill's parameters from weighed stops.
//! - `track`: the spread of the burn between tracks.

mod fill;
mod recorder;
mod track;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{ModelParams, PackageParams};
use crate::pits::PitData;
use crate::tracks::EnginePackage;

pub use fill::FillCounts;
pub(crate) use recorder::StopFacts;
pub use recorder::{MAX_GAP_SHARE, RUN_AFTER_STOP_MS, STOP_MIN_MS, StintRecorder, Unmeasured};

/// One stint as calibration sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StintObs {
    pub race_id: String,
    /// The race's track key (`race_start.track`): a fit meant for every track needs more
    /// than one.
    #[serde(default)]
    pub track: String,
    pub car: String,
    pub package: EnginePackage,
    pub start_ts: i64,
    pub end_ts: i64,
    /// Fuel burned, from the weighed fill, when the stint is measured.
    pub measured_gal: Option<f64>,
    /// Why a stint whose weighed fill would say what it burned is still not measured
    /// (the engine did not integrate all of it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unmeasured: Option<Unmeasured>,
    /// Weighed fuel of the fill that ended the stint.
    pub fuel_added_gal: Option<f64>,
    pub full: Option<bool>,
    /// Seconds the car stood still in its box before that fill (the telemetry's).
    pub standing_s: f64,
    /// The official pit data of that stop: tyres changed, and seconds in the box.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tires: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub box_s: Option<f64>,
    /// Fuel in the cell when the stint began, when known (the start, or a fill with
    /// `full: true`), and the cell's capacity: with the model's burn they say how far
    /// short of the top a fill with `full: false` stopped.
    #[serde(default)]
    pub start_gal: Option<f64>,
    #[serde(default)]
    pub capacity_gal: f64,
    /// The fuel the car needed from that stop to the scheduled finish, as the estimator
    /// judged it live then (laps left from the leader's lap at its fuel per green lap):
    /// against the weighed amount it says how much more than the finish needs a crew
    /// pours when its time allows more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_gal: Option<f64>,
    /// The stop was made under caution (yellow or red at `pit_out`): crews top up while
    /// the field waits, so it says nothing of the habit of a green splash.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub caution: bool,
    /// (throttle fraction, rpm, hours) of the stint's operating points.
    pub points: Vec<(f32, f32, f64)>,
}

impl StintObs {
    /// The stop's time in the box: the official timing when given, else the
    /// telemetry's.
    pub fn secs(&self) -> f64 {
        PitData {
            tires: self.tires,
            box_s: self.box_s,
        }
        .secs(self.standing_s)
    }

    /// The model's fuel for this stint with `p`'s package parameters.
    pub fn estimate(&self, p: &PackageParams) -> f64 {
        self.points
            .iter()
            .map(|&(t, r, h)| h * p.fuel_gph(t as f64, r as f64))
            .sum()
    }

    /// For the fit's tests: an hp670 stint of race `race_id` at `track`, run at
    /// `points`, that began full (20 gal) and ended in a weighed fill to the top whose
    /// fuel is what `p` gives for its points times `bias`.
    #[cfg(test)]
    pub(crate) fn weighed_for_test(
        race_id: String,
        track: &str,
        car: usize,
        points: Vec<(f32, f32, f64)>,
        p: &PackageParams,
        bias: f64,
    ) -> StintObs {
        let mut s = StintObs {
            race_id,
            track: track.into(),
            car: format!("{car}"),
            package: EnginePackage::Hp670,
            start_ts: 0,
            end_ts: 1,
            measured_gal: None,
            unmeasured: None,
            fuel_added_gal: Some(15.0),
            full: Some(true),
            standing_s: 10.0,
            tires: None,
            box_s: None,
            start_gal: Some(20.0),
            capacity_gal: 20.0,
            finish_gal: None,
            caution: false,
            points,
        };
        s.measured_gal = Some(s.estimate(p) * bias);
        s
    }
}

/// Why a fit cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FitError {
    #[error("{}", no_measured(*seen, *gaps, *stops))]
    NoMeasuredStint {
        seen: usize,
        /// Of them, stints a weighed fill would have measured but the telemetry or race
        /// control broke ([`Unmeasured`]).
        gaps: usize,
        stops: usize,
    },
    #[error(
        "every measured stint ({stints}) comes from one track ({track}): a calibration that other tracks will use needs races from at least two, or pass --single-track for a file meant for {track} alone"
    )]
    OneTrack { track: String, stints: usize },
}

/// Why no stint measured: the weighed fills missing (a live feed), or what broke the
/// stints that had them.
fn no_measured(seen: usize, gaps: usize, stops: usize) -> String {
    if gaps + stops == 0 {
        return format!(
            "no measured stint: calibration needs stints that end in a pit_out with fuel_added_gal and full: true, after a known level (a live feed has neither); {seen} stints seen"
        );
    }
    format!(
        "no measured stint: of {seen} stints, {gaps} with weighed fills lost more than {:.0} % of their moving time to gaps in the telemetry (samples more than 1 s apart) and {stops} ran across a stop race control did not report",
        100.0 * MAX_GAP_SHARE
    )
}

/// The result of a fit.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub params: ModelParams,
    /// Measured stints used, per package.
    pub used: Vec<(EnginePackage, usize)>,
    /// Stints left out (not measured).
    pub left_out: usize,
    /// Measured stints the fit set aside as outliers ([`fit_robust`]).
    pub outliers: usize,
    /// Their places in the stints given to [`fit`], in order.
    pub set_aside: Vec<usize>,
    /// The weighed stops the fill's parameters came from.
    pub fills: FillCounts,
    /// Tracks left out one at a time to measure the spread between tracks
    /// (`track_rel_sd`); 0 when no package had two.
    pub tracks_left_out: usize,
}

/// Fits the package parameters and the fill rate to `stints`, starting from `base`.
///
/// A calibration is used on every track of its packages, so by default its measured
/// stints must come from at least two tracks: one track's operating points (its own
/// throttle and RPM shape, its caution share) cannot tell the package's air scale from
/// its throttle curve for the others. `single_track` accepts one track, for a file
/// meant for that track alone. The tracks fitted on are written in `fitted_on`.
pub fn fit(stints: &[StintObs], base: &ModelParams, single_track: bool) -> Result<Fit, FitError> {
    let measured: Vec<&StintObs> = stints.iter().filter(|s| s.measured_gal.is_some()).collect();
    if measured.is_empty() {
        let count = |why| stints.iter().filter(|s| s.unmeasured == Some(why)).count();
        return Err(FitError::NoMeasuredStint {
            seen: stints.len(),
            gaps: count(Unmeasured::TelemetryGap),
            stops: count(Unmeasured::UnreportedStop),
        });
    }
    // Stints of a race without a `race_start` have no track: they count for none.
    let mut tracks: Vec<String> = measured
        .iter()
        .filter(|s| !s.track.is_empty())
        .map(|s| s.track.clone())
        .collect();
    tracks.sort();
    tracks.dedup();
    if tracks.len() < 2 && !single_track {
        return Err(FitError::OneTrack {
            track: tracks
                .first()
                .cloned()
                .unwrap_or_else(|| "unknown".to_owned()),
            stints: measured.len(),
        });
    }
    let mut params = base.clone();
    params.fitted_on = tracks;
    let mut used = Vec::new();
    let mut kept = Vec::new();
    for pkg in EnginePackage::ALL {
        let of_pkg: Vec<&StintObs> = measured
            .iter()
            .copied()
            .filter(|s| s.package == pkg)
            .collect();
        if of_pkg.is_empty() {
            continue;
        }
        let (fitted, inliers) = fit_robust(&of_pkg, base.package(pkg));
        match pkg {
            EnginePackage::Hp670 => params.hp670 = fitted,
            EnginePackage::Hp510 => params.hp510 = fitted,
        }
        used.push((pkg, inliers.len()));
        kept.extend(inliers);
    }
    let outliers = measured.len() - kept.len();
    let kept_at: std::collections::HashSet<*const StintObs> =
        kept.iter().map(|s| *s as *const StintObs).collect();
    let set_aside: Vec<usize> = stints
        .iter()
        .enumerate()
        .filter(|(_, s)| s.measured_gal.is_some() && !kept_at.contains(&(*s as *const StintObs)))
        .map(|(i, _)| i)
        .collect();
    // The spreads below are of the stints the fit kept: one stint weighed wrong would
    // otherwise widen every band (a 50 % error among 40 stints makes `burn_rel_sd` about four times as wide).
    let measured = kept;
    let fills = fill::fit_fills(stints, &mut params);
    // The burn's spread after the fit: its relative standard deviation over stints.
    let errors: Vec<f64> = measured
        .iter()
        .map(|s| {
            let m = s.measured_gal.expect("measured");
            (s.estimate(params.package(s.package)) - m) / m
        })
        .collect();
    if errors.len() >= 3 {
        let n = errors.len() as f64;
        params.burn_rel_sd = (errors.iter().map(|e| e * e).sum::<f64>() / (n - 1.0))
            .sqrt()
            .max(0.005);
    }
    // How much of that spread is the cars' own efficiency (what a car's weighed stints
    // can learn live): one-way analysis of variance of the log ratios, grouped by car
    // in its race.
    if let Some(tau) = car_spread(&measured, &params) {
        params.car_rel_sd = tau.min(params.burn_rel_sd);
    }
    let tracks_left_out = match track::between_tracks(&measured, base) {
        Some((sd, n)) => {
            params.track_rel_sd = sd;
            n
        }
        None => 0,
    };
    Ok(Fit {
        params,
        used,
        left_out: stints.len() - measured.len() - outliers,
        outliers,
        set_aside,
        fills,
        tracks_left_out,
    })
}

/// The doubt of a fill estimated from standing time, `(relative sd, absolute sd in
/// gal)`: the squared residuals of the weighed stops regressed on `[est², 1]` (the
/// fueler's rate varies in proportion to the amount, the work around the pour does
/// not). A negative component is dropped and the other refitted alone.
pub(super) fn fill_doubt(stops: &[(f64, f64)], rate: f64, dead: f64) -> (f64, f64) {
    let rows: Vec<(f64, f64)> = stops
        .iter()
        .map(|&(t, a)| {
            let est = rate * (t - dead).max(0.0);
            (est * est, (a - est).powi(2))
        })
        .collect();
    let n = rows.len() as f64;
    // Corrected for the two fitted parameters of the line.
    let dof = (n / (n - 2.0)).max(1.0);
    let (sx, sy) = rows
        .iter()
        .fold((0.0, 0.0), |(sx, sy), &(x, y)| (sx + x, sy + y));
    let (mx, my) = (sx / n, sy / n);
    let sxx: f64 = rows.iter().map(|(x, _)| (x - mx).powi(2)).sum();
    let sxy: f64 = rows.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let (mut b, mut a) = if sxx > 1e-12 {
        let b = sxy / sxx;
        (b, my - b * mx)
    } else {
        (0.0, my)
    };
    if b < 0.0 {
        b = 0.0;
        a = my;
    }
    if a < 0.0 {
        let sxx0: f64 = rows.iter().map(|(x, _)| x * x).sum();
        let sxy0: f64 = rows.iter().map(|(x, y)| x * y).sum();
        a = 0.0;
        b = if sxx0 > 0.0 { sxy0 / sxx0 } else { 0.0 };
    }
    ((b * dof).sqrt().max(0.005), (a * dof).sqrt())
}

/// The spread of the cars' own efficiencies, from the stints' log ratios measured /
/// estimated grouped by car (in its race): the variance of the car means less what the
/// within-car variance alone puts there. `None` without at least 5 cars with 2 stints.
fn car_spread(measured: &[&StintObs], params: &ModelParams) -> Option<f64> {
    let mut by_car: BTreeMap<(&str, &str), Vec<f64>> = BTreeMap::new();
    for s in measured {
        let m = s.measured_gal.expect("measured");
        let e = s.estimate(params.package(s.package));
        if m > 0.0 && e > 0.0 {
            by_car
                .entry((s.race_id.as_str(), s.car.as_str()))
                .or_default()
                .push((m / e).ln());
        }
    }
    between_groups(by_car.values())
}

/// One-way analysis of variance: the standard deviation between the groups' true
/// means, from the variance of the group means less what the within-group variance
/// alone puts there. `None` without at least 5 groups of 2 or more.
pub(super) fn between_groups<'a>(groups: impl Iterator<Item = &'a Vec<f64>>) -> Option<f64> {
    let groups: Vec<&Vec<f64>> = groups.filter(|v| v.len() >= 2).collect();
    if groups.len() < 5 {
        return None;
    }
    let means: Vec<f64> = groups
        .iter()
        .map(|v| v.iter().sum::<f64>() / v.len() as f64)
        .collect();
    let (mut ss_within, mut df_within) = (0.0, 0usize);
    for (v, m) in groups.iter().zip(&means) {
        ss_within += v.iter().map(|x| (x - m).powi(2)).sum::<f64>();
        df_within += v.len() - 1;
    }
    let within = ss_within / df_within as f64;
    let g = means.len() as f64;
    let grand = means.iter().sum::<f64>() / g;
    let between = means.iter().map(|m| (m - grand).powi(2)).sum::<f64>() / (g - 1.0);
    let inv_n = groups.iter().map(|v| 1.0 / v.len() as f64).sum::<f64>() / g;
    Some((between - within * inv_n).max(0.0).sqrt())
}

/// How far from the fit, in robust standard deviations of the stints' relative errors
/// (1.4826 × their median absolute deviation), a measured stint is set aside: clean
/// stints' errors are close to normal, so 6 sds sets aside about one in 500 million of
/// them, while a stint weighed wrong (a typo in `fuel_added_gal`, a `full: true` on a
/// crew that stopped short) is tens of per cent off.
pub const OUTLIER_SDS: f64 = 6.0;

/// Never closer than this: with few or very alike stints the robust sd can be tiny.
pub const OUTLIER_MIN: f64 = 0.10;

/// Which of `errs` (relative errors of measured stints against a model) are within
/// [`OUTLIER_SDS`] robust sds (at least [`OUTLIER_MIN`]) of their median: `true` to keep.
/// Every one is kept when there are fewer than five (too few to say which are odd).
/// The one home of the rule: `calibrate` applies it to the fit, `train` to the physics
/// the correction corrects.
pub fn within_outlier_limit(errs: &[f64]) -> Vec<bool> {
    if errs.len() < 5 {
        return vec![true; errs.len()];
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        crate::stats::median_sorted(v)
    };
    let mid = median(&mut errs.to_vec());
    let mad = median(&mut errs.iter().map(|e| (e - mid).abs()).collect());
    let limit = (OUTLIER_SDS * 1.4826 * mad).max(OUTLIER_MIN);
    errs.iter().map(|e| (e - mid).abs() <= limit).collect()
}

/// The stints of `stints` within the outlier limit ([`within_outlier_limit`]) of the
/// median relative error at `p`.
fn inliers<'a>(stints: &[&'a StintObs], p: &PackageParams) -> Vec<&'a StintObs> {
    let errs: Vec<f64> = stints
        .iter()
        .map(|s| {
            let m = s.measured_gal.expect("measured");
            (s.estimate(p) - m) / m
        })
        .collect();
    stints
        .iter()
        .zip(within_outlier_limit(&errs))
        .filter(|(_, keep)| *keep)
        .map(|(s, _)| *s)
        .collect()
}

/// [`fit_package`] on the stints that are not outliers, and those stints. Least squares
/// alone follows one bad stint far (it minimises squares), so the outliers are judged
/// first at the starting values (within a few per cent for the embedded defaults, and
/// the median centres a start that is off by a scale), then again at each fit until the
/// set stops changing (five rounds at most).
fn fit_robust<'a>(
    stints: &[&'a StintObs],
    base: &PackageParams,
) -> (PackageParams, Vec<&'a StintObs>) {
    let mut keep = inliers(stints, base);
    let mut fitted = fit_package(&keep, base);
    for _ in 0..5 {
        let next = inliers(stints, &fitted);
        if next.len() == keep.len() && next.iter().zip(&keep).all(|(a, b)| std::ptr::eq(*a, *b)) {
            break;
        }
        keep = next;
        fitted = fit_package(&keep, base);
    }
    fitted.fit_rel_sd = fit_rel_sd(&keep, &fitted);
    (fitted, keep)
}

/// The fit's own doubt for [`PackageParams::fit_rel_sd`]: the covariance of the air
/// scale and throttle curve, `s² (JᵀJ)⁻¹` (`J` the relative residuals' Jacobian, `s²`
/// their variance; the prior's pull left out, which only narrows it), carried to the
/// relative burn at each operating point that holds at least 1 % of the stints' hours;
/// the largest of those standard errors. Stints of one car share its efficiency, so the
/// stints are not quite independent and this is if anything low. 0 with fewer than
/// three stints.
fn fit_rel_sd(stints: &[&StintObs], p: &PackageParams) -> f64 {
    let n = stints.len();
    if n < 3 {
        return 0.0;
    }
    let x = [p.wot_gph_per_krpm, p.throttle_k];
    let with = |x: [f64; 2]| PackageParams {
        wot_gph_per_krpm: x[0],
        throttle_k: x[1],
        ..*p
    };
    let step = |k: usize| 1e-6 * x[k].abs().max(1e-3);
    let rel = |q: &PackageParams| -> Vec<f64> {
        stints
            .iter()
            .map(|s| {
                let m = s.measured_gal.expect("measured");
                (s.estimate(q) - m) / m
            })
            .collect()
    };
    let r = rel(p);
    let s2 = r.iter().map(|v| v * v).sum::<f64>() / (n - 2) as f64;
    let mut j = [vec![0.0; n], vec![0.0; n]];
    for (k, col) in j.iter_mut().enumerate() {
        let mut xh = x;
        xh[k] += step(k);
        for (c, (rh, r0)) in col.iter_mut().zip(rel(&with(xh)).iter().zip(&r)) {
            *c = (rh - r0) / step(k);
        }
    }
    let dot = |a: usize, b: usize| j[a].iter().zip(&j[b]).map(|(u, v)| u * v).sum::<f64>();
    let (a, b, c) = (dot(0, 0), dot(0, 1), dot(1, 1));
    let det = a * c - b * b;
    if det.is_nan() || det <= 0.0 {
        return 0.0;
    }
    let cov = [s2 * c / det, -s2 * b / det, s2 * a / det];
    // The operating points the stints ran at, by their hours.
    let mut hours: BTreeMap<(u32, u32), f64> = BTreeMap::new();
    for s in stints {
        for &(theta, rpm, h) in &s.points {
            *hours.entry((theta.to_bits(), rpm.to_bits())).or_default() += h;
        }
    }
    let total: f64 = hours.values().sum();
    hours
        .iter()
        .filter(|(_, h)| **h >= 0.01 * total)
        .map(|(&(theta, rpm), _)| {
            let (theta, rpm) = (f32::from_bits(theta) as f64, f32::from_bits(rpm) as f64);
            let f0 = p.fuel_gph(theta, rpm);
            if f0 <= 0.0 {
                return 0.0;
            }
            let g: Vec<f64> = (0..2)
                .map(|k| {
                    let mut xh = x;
                    xh[k] += step(k);
                    (with(xh).fuel_gph(theta, rpm) - f0) / step(k) / f0
                })
                .collect();
            (g[0] * g[0] * cov[0] + 2.0 * g[0] * g[1] * cov[1] + g[1] * g[1] * cov[2]).sqrt()
        })
        .fold(0.0, f64::max)
}

/// Levenberg–Marquardt over (wot_gph_per_krpm, throttle_k) with a weak prior.
pub(super) fn fit_package(stints: &[&StintObs], base: &PackageParams) -> PackageParams {
    const PRIOR: f64 = 0.05;
    let with = |x: [f64; 2]| PackageParams {
        wot_gph_per_krpm: x[0],
        throttle_k: x[1],
        ..*base
    };
    let x0 = [base.wot_gph_per_krpm, base.throttle_k];
    let residuals = |x: [f64; 2]| -> Vec<f64> {
        let p = with(x);
        let mut r: Vec<f64> = stints
            .iter()
            .map(|s| {
                let m = s.measured_gal.expect("measured");
                (s.estimate(&p) - m) / m
            })
            .collect();
        r.push(PRIOR * (x[0] - x0[0]) / x0[0]);
        r.push(PRIOR * (x[1] - x0[1]) / x0[1]);
        r
    };
    let cost = |r: &[f64]| r.iter().map(|v| v * v).sum::<f64>();
    let mut x = x0;
    let mut r = residuals(x);
    let mut c = cost(&r);
    let mut lambda = 1e-3;
    for _ in 0..100 {
        // Numeric Jacobian.
        let mut j = [vec![0.0; r.len()], vec![0.0; r.len()]];
        for (k, col) in j.iter_mut().enumerate() {
            let h = 1e-6 * x[k].abs().max(1e-3);
            let mut xh = x;
            xh[k] += h;
            let rh = residuals(xh);
            for (i, v) in col.iter_mut().enumerate() {
                *v = (rh[i] - r[i]) / h;
            }
        }
        let jtj = |a: usize, b: usize| j[a].iter().zip(&j[b]).map(|(p, q)| p * q).sum::<f64>();
        let jtr = |a: usize| j[a].iter().zip(&r).map(|(p, q)| p * q).sum::<f64>();
        let (a11, a12, a22) = (jtj(0, 0), jtj(0, 1), jtj(1, 1));
        let (g1, g2) = (jtr(0), jtr(1));
        let mut improved = false;
        for _ in 0..20 {
            let (b11, b22) = (a11 * (1.0 + lambda), a22 * (1.0 + lambda));
            let det = b11 * b22 - a12 * a12;
            if det.abs() < 1e-300 {
                lambda *= 10.0;
                continue;
            }
            let d0 = -(b22 * g1 - a12 * g2) / det;
            let d1 = -(b11 * g2 - a12 * g1) / det;
            let xn = [(x[0] + d0).max(0.1), (x[1] + d1).clamp(0.3, 10.0)];
            let rn = residuals(xn);
            let cn = cost(&rn);
            if cn < c {
                let done = (c - cn) < 1e-12 * c.max(1e-12);
                x = xn;
                r = rn;
                c = cn;
                lambda = (lambda / 10.0).max(1e-9);
                improved = !done;
                break;
            }
            lambda *= 10.0;
        }
        if !improved {
            break;
        }
    }
    with(x)
}

#[cfg(test)]
mod tests;
