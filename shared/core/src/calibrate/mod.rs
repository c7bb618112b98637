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
//! numeric Jacobian: two parameters need no library. The fill's parameters (the crew's
//! rate and dead time from the stops the fuel timed, the tyre changes' times from those
//! the tyres timed) are `fill`'s. The spread of the burn between tracks, which a
//! calibration used on a track it was not fitted on must own to, is measured by leaving
//! each track out (`track`).
//!
//! # Layout
//!
//! - this file: what is recorded of each stint, the fit of the packages and the burn's
//!   spread.
//! - `fill`: the fill's parameters from weighed stops.
//! - `track`: the spread of the burn between tracks.

mod fill;
mod track;

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::car::RaceCtx;
use crate::contract::CarId;
use crate::model::{ModelParams, PackageParams};
use crate::pits::PitData;
use crate::tracks::EnginePackage;

pub use fill::FillCounts;

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
}

/// What a `pit_out` says of the stop that ends a stint, and the telemetry's time in the
/// box.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct StopFacts {
    pub added: Option<f64>,
    pub full: Option<bool>,
    pub pit: PitData,
    pub standing_s: f64,
    /// The fuel the car needed from the stop to the finish (`None` without a schedule).
    pub finish_gal: Option<f64>,
    /// Made under caution (yellow or red).
    pub caution: bool,
}

/// Collects one car's stints while the engine integrates it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StintRecorder {
    start_ts: Option<i64>,
    /// Fuel in the cell at the stint's start, when known.
    start_level: Option<f64>,
    started: bool,
    bins: HashMap<u32, f64>,
    done: Vec<StintObs>,
}

impl StintRecorder {
    /// A recorder for a car that starts the race with a full cell of `capacity`.
    pub fn new(capacity: f64) -> StintRecorder {
        StintRecorder {
            start_level: Some(capacity),
            ..Default::default()
        }
    }

    /// `hours` spent at throttle `theta` (fraction) and `rpm`.
    pub(crate) fn add(&mut self, theta: f32, rpm: f32, hours: f64) {
        let t = (theta.clamp(0.0, 1.0) * 100.0).round() as u32;
        let r = (rpm.clamp(0.0, 12_750.0) / 50.0).round() as u32;
        *self.bins.entry(t << 16 | r).or_default() += hours;
        self.started = true;
    }

    /// The stop `stop` ends the stint at `ts`.
    pub(crate) fn close_stint(&mut self, car: CarId, ctx: &RaceCtx, ts: i64, stop: StopFacts) {
        let StopFacts {
            added,
            full,
            pit,
            standing_s,
            finish_gal,
            caution,
        } = stop;
        let measured = match (self.start_level, added, full) {
            (Some(start), Some(added), Some(true)) => Some(start - (ctx.capacity_gal - added)),
            _ => None,
        };
        let mut points: Vec<(f32, f32, f64)> = self
            .bins
            .drain()
            .map(|(k, h)| ((k >> 16) as f32 / 100.0, (k & 0xffff) as f32 * 50.0, h))
            .collect();
        // Deterministic order, whatever the hash map's.
        points.sort_by(|a, b| (a.0, a.1).partial_cmp(&(b.0, b.1)).expect("finite bins"));
        if self.started {
            self.done.push(StintObs {
                race_id: ctx.race_id.to_owned(),
                // Filled in by the engine, which knows the race's track.
                track: String::new(),
                car: car.as_str().to_owned(),
                package: ctx.package,
                start_ts: self.start_ts.unwrap_or(i64::MIN),
                end_ts: ts,
                measured_gal: measured.filter(|m| *m > 0.0),
                fuel_added_gal: added,
                full,
                standing_s,
                tires: pit.tires,
                box_s: pit.box_s,
                start_gal: self.start_level,
                capacity_gal: ctx.capacity_gal,
                finish_gal,
                caution,
                points,
            });
        }
        self.start_ts = Some(ts);
        self.start_level = (full == Some(true)).then_some(ctx.capacity_gal);
        self.started = false;
    }

    /// The stints closed so far.
    pub fn take(&mut self) -> Vec<StintObs> {
        std::mem::take(&mut self.done)
    }
}

/// Why a fit cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FitError {
    #[error(
        "no measured stint: calibration needs stints that end in a pit_out with fuel_added_gal and full: true, after a known level (a live feed has neither); {0} stints seen"
    )]
    NoMeasuredStint(usize),
    #[error(
        "every measured stint ({stints}) comes from one track ({track}): a calibration that other tracks will use needs races from at least two, or pass --single-track for a file meant for {track} alone"
    )]
    OneTrack { track: String, stints: usize },
}

/// The result of a fit.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub params: ModelParams,
    /// Measured stints used, per package.
    pub used: Vec<(EnginePackage, usize)>,
    /// Stints left out (not measured).
    pub left_out: usize,
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
        return Err(FitError::NoMeasuredStint(stints.len()));
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
    for pkg in EnginePackage::ALL {
        let of_pkg: Vec<&StintObs> = measured
            .iter()
            .copied()
            .filter(|s| s.package == pkg)
            .collect();
        if of_pkg.is_empty() {
            continue;
        }
        let fitted = fit_package(&of_pkg, base.package(pkg));
        match pkg {
            EnginePackage::Hp670 => params.hp670 = fitted,
            EnginePackage::Hp510 => params.hp510 = fitted,
        }
        used.push((pkg, of_pkg.len()));
    }
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
        left_out: stints.len() - measured.len(),
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
mod tests {
    use super::*;

    /// Stints whose measured fuel is exactly what `truth` gives for their points.
    fn synthetic(truth: &PackageParams, n: usize) -> Vec<StintObs> {
        (0..n)
            .map(|i| {
                // Mixes of wide open, part throttle and caution running, different per
                // stint so that both parameters show.
                let caution = 0.05 + 0.4 * (i as f64 / n as f64);
                let points = vec![
                    (1.0, 9000.0, 0.25 * (1.0 - caution)),
                    (0.55, 7600.0, 0.05),
                    (0.2, 4200.0, 0.25 * caution),
                    (0.12, 3800.0, 0.1 * caution),
                ];
                let mut s = StintObs {
                    race_id: format!("r{}", i % 2),
                    // Two tracks, alternating.
                    track: ["pocono", "michigan"][i % 2].into(),
                    car: format!("{i}"),
                    package: EnginePackage::Hp670,
                    start_ts: 0,
                    end_ts: 1,
                    measured_gal: None,
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
                s.measured_gal = Some(s.estimate(truth));
                s
            })
            .collect()
    }

    #[test]
    fn a_fit_recovers_known_parameters() {
        let base = ModelParams::default();
        let truth = PackageParams {
            wot_gph_per_krpm: base.hp670.wot_gph_per_krpm * 1.06,
            throttle_k: base.hp670.throttle_k * 0.85,
            ..base.hp670
        };
        let stints = synthetic(&truth, 20);
        let fit = fit(&stints, &base, false).unwrap();
        let got = fit.params.hp670;
        assert!(
            (got.wot_gph_per_krpm / truth.wot_gph_per_krpm - 1.0).abs() < 0.01,
            "{got:?} vs {truth:?}"
        );
        assert!(
            (got.throttle_k / truth.throttle_k - 1.0).abs() < 0.03,
            "{got:?} vs {truth:?}"
        );
        assert_eq!(fit.used, vec![(EnginePackage::Hp670, 20)]);
        assert_eq!(fit.params.hp510, base.hp510, "no 510 data: unchanged");
        assert_eq!(fit.params.fitted_on, ["michigan", "pocono"]);
    }

    #[test]
    fn one_track_is_refused_for_a_fit_every_track_will_use_unless_asked_for() {
        let base = ModelParams::default();
        let mut stints = synthetic(&base.hp670, 12);
        for s in &mut stints {
            s.track = "pocono".into();
        }
        let e = fit(&stints, &base, false).unwrap_err();
        assert_eq!(
            e,
            FitError::OneTrack {
                track: "pocono".into(),
                stints: 12
            }
        );
        let msg = e.to_string();
        assert!(
            msg.contains("pocono") && msg.contains("--single-track"),
            "{msg}"
        );
        let fit = fit(&stints, &base, true).unwrap();
        assert_eq!(fit.params.fitted_on, ["pocono"]);
        // A race without a `race_start` names no track: it makes no second one.
        stints[0].track = String::new();
        assert!(matches!(
            super::fit(&stints, &base, false),
            Err(FitError::OneTrack { .. })
        ));
    }

    #[test]
    fn a_calibration_file_round_trips_with_its_tracks_and_old_files_still_read() {
        let base = ModelParams::default();
        let stints = synthetic(&base.hp670, 12);
        let p = fit(&stints, &base, false).unwrap().params;
        let json = serde_json::to_string(&p).unwrap();
        let back: ModelParams = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
        // A file written before `fitted_on` existed reads as fitted on no track.
        let mut old: serde_json::Value = serde_json::from_str(&json).unwrap();
        old.as_object_mut().unwrap().remove("fitted_on");
        let back: ModelParams = serde_json::from_value(old).unwrap();
        assert!(back.fitted_on.is_empty());
        assert_eq!(back.hp670, p.hp670);
    }

    #[test]
    fn the_fill_rate_and_dead_time_come_from_weighed_amount_on_standing_time() {
        let base = ModelParams::default();
        let mut stints = synthetic(&base.hp670, 5);
        for (i, s) in stints.iter_mut().enumerate() {
            s.standing_s = 4.0 + i as f64 * 2.0;
            s.fuel_added_gal = Some(1.4 * (s.standing_s - 0.6));
        }
        let fit = fit(&stints, &base, false).unwrap();
        assert!(
            (fit.params.fill_rate_gps - 1.4).abs() < 1e-9,
            "{:?}",
            fit.params
        );
        assert!(
            (fit.params.fill_dead_s - 0.6).abs() < 1e-9,
            "{:?}",
            fit.params
        );
        assert_eq!(fit.fills.fuel_timed, 5);
    }

    #[test]
    fn the_crews_own_fill_rate_is_told_from_the_stop_to_stop_doubt() {
        // 12 cars in two races, 5 weighed stops each: each crew pours at its own rate
        // (spread 3 %), and each stop varies by 1 % around it.
        let base = ModelParams::default();
        let mut stints = synthetic(&base.hp670, 60);
        let crew = |c: usize| {
            1.0 + 0.03
                * [
                    -1.5, -1.0, -0.5, -0.2, 0.0, 0.3, 0.6, 1.0, 1.4, -0.8, 0.9, -0.1,
                ][c]
        };
        let stop = |k: usize| 1.0 + 0.01 * [-1.0, 0.5, 1.2, -0.4, -0.3][k];
        for (i, s) in stints.iter_mut().enumerate() {
            let (c, k) = (i % 12, i / 12);
            s.race_id = format!("r{}", c % 2);
            s.car = format!("{c}");
            s.standing_s = 9.0 + (i % 7) as f64;
            s.fuel_added_gal = Some(1.5 * crew(c) * stop(k) * (s.standing_s - 0.5));
        }
        let fit = fit(&stints, &base, false).unwrap();
        let between = fit.params.fill_car_rel_sd.expect("measured");
        let (b2, w2) = fit.params.fill_variances();
        assert!((between - 0.03).abs() < 0.008, "{between} {:?}", fit.params);
        assert!(w2.sqrt() < 0.015, "stop to stop {}", w2.sqrt());
        assert!((b2 - between * between).abs() < 1e-12);
    }

    #[test]
    fn how_often_and_how_far_crews_stop_short_comes_from_weighed_stops() {
        let base = ModelParams::default();
        let mut stints = synthetic(&base.hp670, 40);
        // Every fourth stop ends short of the top, by 2 or 4 gal.
        for (i, s) in stints.iter_mut().enumerate().filter(|(i, _)| i % 4 == 3) {
            let burned = s.estimate(&base.hp670);
            let room = if i % 8 == 3 { 2.0 } else { 4.0 };
            s.full = Some(false);
            s.measured_gal = None;
            s.fuel_added_gal = Some(burned - room);
        }
        // Fuel-only stops: each stood its fuel job (1.5 s, then 1.5 gal/s), ± 0.1 s.
        for (i, s) in stints.iter_mut().enumerate() {
            s.tires = Some(0);
            s.standing_s = 1.5 + s.fuel_added_gal.unwrap() / 1.5 + 0.1 * ((i % 3) as f64 - 1.0);
        }
        let fit = fit(&stints, &base, false).unwrap();
        assert_eq!(fit.params.fill_partial_share, Some(0.25));
        let room = fit.params.fill_partial_room_gal.unwrap();
        assert!((room - 3.0).abs() < 0.05, "{room}");
        fit.params.validate().unwrap();
    }

    #[test]
    fn no_measured_stint_is_refused_with_the_reason() {
        let base = ModelParams::default();
        let mut stints = synthetic(&base.hp670, 3);
        for s in &mut stints {
            s.measured_gal = None;
        }
        let e = fit(&stints, &base, false).unwrap_err();
        assert!(e.to_string().contains("fuel_added_gal"), "{e}");
    }
}
