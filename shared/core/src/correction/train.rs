//! Training the correction from stint labels.
//!
//! A measured stint `s` burned `M_s`; its windows' physics burns `p_w` sum to `P_s`. The
//! model claims `M_s = Σ_w p_w (1 + β · x_w)`, that is
//!
//! ```text
//! M_s / P_s − 1 = β · x̄_s,      x̄_s = Σ_w p_w x_w / P_s
//! ```
//!
//! a linear least-squares problem in `β` with one row per stint: the burn-weighted mean
//! features of the stint against its relative error. Ridge regularisation on
//! standardised features keeps collinear features (throttle and its square, speed and
//! engine speed) from blowing up; its strength is chosen by cross-validation over races
//! (whole races are held out, so a car's efficiency cannot leak between folds; each
//! fold's model has the domain of its own training windows, as the final one has). The
//! training report says whether the correction beat physics alone in that
//! cross-validation; [`super::loto`] holds out whole tracks; the accuracy report checks
//! it again on held-out races.

use std::collections::HashMap;

use super::domain::Domain;
use super::{CorrectionError, CorrectionModel, N, PackageCorrection, features};
use crate::calibrate::{self, StintObs};
use crate::car::WindowFeatures;
use crate::contract::CarId;
use crate::tracks::EnginePackage;

/// One measured stint as training sees it: the label and its windows' features.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingStint {
    /// The race (cross-validation folds are whole races).
    pub race: String,
    /// The race's track key (`race_start.track`; empty without one).
    pub track: String,
    pub package: EnginePackage,
    /// Fuel the weighed fill says the stint burned.
    pub measured_gal: f64,
    /// `(physics gallons of the window inside the stint, the window's features)`.
    pub windows: Vec<(f64, WindowFeatures)>,
}

impl TrainingStint {
    /// The physics total and the burn-weighted mean features.
    pub(super) fn row(&self) -> Option<(f64, [f64; N])> {
        let total: f64 = self.windows.iter().map(|(g, _)| g).sum();
        if total.is_nan() || total <= 0.0 {
            return None;
        }
        let mut x = [0.0; N];
        for (g, w) in &self.windows {
            for (xi, fi) in x.iter_mut().zip(features(w)) {
                *xi += g * fi;
            }
        }
        for xi in &mut x {
            *xi /= total;
        }
        Some((total, x))
    }

    /// The stint's fuel by `model` (the sum of its windows' corrected burns).
    pub fn corrected_gal(&self, model: &CorrectionModel) -> f64 {
        self.windows.iter().map(|(g, w)| g * model.factor(w)).sum()
    }

    /// The stint's fuel by physics alone.
    pub fn physics_gal(&self) -> f64 {
        self.windows.iter().map(|(g, _)| g).sum()
    }
}

/// Pairs each measured stint of one race with its windows: a window's physics fuel
/// counts for the part of the window inside the stint (the window that holds the fill
/// is shared between the two stints by time). `window_ms` is the engine's width.
pub fn training_stints(
    stints: &[StintObs],
    windows: &[WindowFeatures],
    window_ms: i64,
) -> Vec<TrainingStint> {
    let mut by_car: HashMap<CarId, Vec<&WindowFeatures>> = HashMap::new();
    for w in windows {
        by_car.entry(w.car).or_default().push(w);
    }
    for v in by_car.values_mut() {
        v.sort_by_key(|w| w.window_start);
    }
    let hours = window_ms as f64 / 3_600_000.0;
    stints
        .iter()
        .filter_map(|s| {
            let measured_gal = s.measured_gal?;
            let car = CarId::parse(&s.car).ok()?;
            let ws = by_car.get(&car)?;
            let first = ws.partition_point(|w| w.window_start + window_ms <= s.start_ts);
            let windows: Vec<(f64, WindowFeatures)> = ws[first..]
                .iter()
                .take_while(|w| w.window_start < s.end_ts)
                .filter_map(|w| {
                    let from = w.window_start.max(s.start_ts);
                    let to = (w.window_start + window_ms).min(s.end_ts);
                    let share = (to - from) as f64 / window_ms as f64;
                    let gal = w.physics_gph * hours * share;
                    (gal > 0.0).then_some((gal, **w))
                })
                .collect();
            (!windows.is_empty()).then(|| TrainingStint {
                race: s.race_id.clone(),
                track: s.track.clone(),
                package: s.package,
                measured_gal,
                windows,
            })
        })
        .collect()
}

/// Splits `stints` into those a correction may learn from and those set aside as weighed
/// wrong: per engine package, a stint whose physics error (`(P − M) / M`) is beyond the
/// outlier limit calibration uses ([`calibrate::within_outlier_limit`]). The ridge fit
/// minimises squares, so one fill typed at half its weight is a stint 50 % off, which
/// would pull the coefficients further than dozens of clean stints, and its windows would
/// widen the domain. Both sides keep their order.
pub fn set_aside_outliers(stints: Vec<TrainingStint>) -> (Vec<TrainingStint>, Vec<TrainingStint>) {
    let mut keep = vec![true; stints.len()];
    for pkg in EnginePackage::ALL {
        let idx: Vec<usize> = (0..stints.len())
            .filter(|&i| stints[i].package == pkg)
            .collect();
        let errs: Vec<f64> = idx
            .iter()
            .map(|&i| {
                let s = &stints[i];
                (s.physics_gal() - s.measured_gal) / s.measured_gal
            })
            .collect();
        for (&i, k) in idx.iter().zip(calibrate::within_outlier_limit(&errs)) {
            keep[i] = k;
        }
    }
    let (mut kept, mut aside) = (Vec::new(), Vec::new());
    for (s, k) in stints.into_iter().zip(keep) {
        if k { kept.push(s) } else { aside.push(s) }
    }
    (kept, aside)
}

/// Fewest measured stints a package needs to be trained.
pub const MIN_STINTS: usize = 12;
/// Ridge strengths cross-validation chooses from (on standardised features).
const RIDGES: [f64; 10] = [0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 1000.0, 10000.0];

/// A training row: the stint, its physics total, its burn-weighted mean features.
type Row<'a> = (&'a TrainingStint, f64, [f64; N]);

/// Trains a correction on measured stints. A package with fewer than [`MIN_STINTS`]
/// stints from fewer than 2 races is left to physics; with no package trainable, the
/// training is refused with the reason. Each trained package records its domain (the
/// range of every feature of its training windows, [`super::domain`]) and its tracks.
pub fn train(stints: &[TrainingStint]) -> Result<CorrectionModel, CorrectionError> {
    let mut model = CorrectionModel::identity();
    let mut cv_phys = Vec::new();
    let mut cv_corr = Vec::new();
    let mut have = Vec::new();
    let mut ridge_used = Vec::new();
    for pkg in EnginePackage::ALL {
        let rows: Vec<Row> = stints
            .iter()
            .filter(|s| s.package == pkg && s.measured_gal > 0.0)
            .filter_map(|s| s.row().map(|(p, x)| (s, p, x)))
            .collect();
        let mut races: Vec<&str> = rows.iter().map(|r| r.0.race.as_str()).collect();
        races.sort_unstable();
        races.dedup();
        have.push(format!(
            "{} has {} from {} race{}",
            pkg.key(),
            rows.len(),
            races.len(),
            if races.len() == 1 { "" } else { "s" }
        ));
        let Some((lambda, corr, phys)) = cross_validate(&model, pkg, &rows) else {
            continue;
        };
        cv_corr.extend(corr);
        cv_phys.extend(phys);
        let all: Vec<&Row> = rows.iter().collect();
        if let Some(coef) = fit_rows(&all, lambda) {
            model = with_coef(&model, pkg, coef, &all);
            ridge_used.push(lambda);
        }
    }
    if model.hp670.is_none() && model.hp510.is_none() {
        return Err(CorrectionError::TooFewStints(have.join(", ")));
    }
    model.ridge = ridge_used.iter().copied().fold(0.0, f64::max);
    model.cv_median_physics = median(&mut cv_phys);
    model.cv_median_corrected = median(&mut cv_corr);
    Ok(model)
}

/// Cross-validation of one package over races: every ridge strength, every race held
/// out in turn. The strength with the smallest mean error, with its errors and
/// physics' on the same stints; `None` when the package has too few stints or races.
fn cross_validate(
    base: &CorrectionModel,
    pkg: EnginePackage,
    rows: &[Row],
) -> Option<(f64, Vec<f64>, Vec<f64>)> {
    let mut races: Vec<&str> = rows.iter().map(|r| r.0.race.as_str()).collect();
    races.sort_unstable();
    races.dedup();
    if rows.len() < MIN_STINTS || races.len() < 2 {
        return None;
    }
    // Per held-out race: its rows, the others; the others' domain is computed once.
    let folds: Vec<(Vec<&Row>, Vec<&Row>)> = races
        .iter()
        .map(|held| rows.iter().partition(|r| r.0.race == *held))
        .collect();
    let domains: Vec<Domain> = folds.iter().map(|(_, train)| domain_of(train)).collect();
    let mut best: Option<(f64, f64, Vec<f64>, Vec<f64>)> = None;
    for &lambda in &RIDGES {
        let (mut corr, mut phys) = (Vec::new(), Vec::new());
        for ((held, train_rows), domain) in folds.iter().zip(&domains) {
            let Some(coef) = fit_rows(train_rows, lambda) else {
                continue;
            };
            let m = with_package(base, pkg, coef, train_rows.len(), domain.clone(), vec![]);
            for r in held {
                corr.push(rel_err(r.0.corrected_gal(&m), r.0.measured_gal));
                phys.push(rel_err(r.0.physics_gal(), r.0.measured_gal));
            }
        }
        let e = mean(&corr);
        if best.as_ref().is_none_or(|b| e < b.1) {
            best = Some((lambda, e, corr, phys));
        }
    }
    best.map(|(lambda, _, corr, phys)| (lambda, corr, phys))
}

/// The domain of the rows' windows.
fn domain_of(rows: &[&Row]) -> Domain {
    Domain::from_windows(rows.iter().flat_map(|r| r.0.windows.iter().map(|(_, w)| w)))
}

/// `base` with `pkg` trained on `rows` with `coef`: its domain and tracks from them.
fn with_coef(
    base: &CorrectionModel,
    pkg: EnginePackage,
    coef: Vec<f64>,
    rows: &[&Row],
) -> CorrectionModel {
    let mut tracks: Vec<String> = rows
        .iter()
        .filter(|r| !r.0.track.is_empty())
        .map(|r| r.0.track.clone())
        .collect();
    tracks.sort_unstable();
    tracks.dedup();
    with_package(base, pkg, coef, rows.len(), domain_of(rows), tracks)
}

fn with_package(
    base: &CorrectionModel,
    pkg: EnginePackage,
    coef: Vec<f64>,
    stints: usize,
    domain: Domain,
    tracks: Vec<String>,
) -> CorrectionModel {
    let mut m = base.clone();
    let p = Some(PackageCorrection {
        coef,
        stints,
        tracks,
        domain,
    });
    match pkg {
        EnginePackage::Hp670 => m.hp670 = p,
        EnginePackage::Hp510 => m.hp510 = p,
    }
    m
}

pub(super) fn rel_err(est: f64, measured: f64) -> f64 {
    ((est - measured) / measured).abs()
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        f64::INFINITY
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

pub(super) fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Ridge least squares of `M/P − 1` on the stints' mean features, weighted by the
/// stint's physics fuel (a long stint measures its ratio better than a short one).
/// Features are standardised (the intercept is not, nor penalised); the coefficients
/// come back on the raw features.
fn fit_rows(rows: &[&Row], lambda: f64) -> Option<Vec<f64>> {
    if rows.len() < 3 {
        return None;
    }
    let wsum: f64 = rows.iter().map(|r| r.1).sum();
    let mut mu = [0.0; N];
    for r in rows {
        for (m, x) in mu.iter_mut().zip(r.2) {
            *m += r.1 * x / wsum;
        }
    }
    let mut sd = [0.0; N];
    for r in rows {
        for i in 0..N {
            sd[i] += r.1 * (r.2[i] - mu[i]).powi(2) / wsum;
        }
    }
    // Standardised design: column 0 the intercept; a column without spread is dropped
    // (its coefficient stays 0): the data says nothing about it.
    let keep: Vec<usize> = (1..N).filter(|&i| sd[i].sqrt() > 1e-9).collect();
    let k = keep.len() + 1;
    let z = |x: &[f64; N]| -> Vec<f64> {
        let mut v = Vec::with_capacity(k);
        v.push(1.0);
        v.extend(keep.iter().map(|&i| (x[i] - mu[i]) / sd[i].sqrt()));
        v
    };
    let mut a = vec![vec![0.0; k]; k];
    let mut b = vec![0.0; k];
    for r in rows {
        let zi = z(&r.2);
        let y = r.0.measured_gal / r.1 - 1.0;
        let w = r.1 / wsum * rows.len() as f64;
        for p in 0..k {
            b[p] += w * zi[p] * y;
            for q in 0..k {
                a[p][q] += w * zi[p] * zi[q];
            }
        }
    }
    for (p, row) in a.iter_mut().enumerate().skip(1) {
        row[p] += lambda;
    }
    let g = solve(a, b)?;
    // Back to raw features: β_i = g_i / sd_i, intercept absorbs the means.
    let mut coef = vec![0.0; N];
    coef[0] = g[0];
    for (j, &i) in keep.iter().enumerate() {
        let c = g[j + 1] / sd[i].sqrt();
        coef[i] = c;
        coef[0] -= c * mu[i];
    }
    coef.iter().all(|c| c.is_finite()).then_some(coef)
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting (a dozen unknowns at
/// most: a linear-algebra crate would be more code to build than this is to read).
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let piv = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, piv);
        b.swap(col, piv);
        for row in col + 1..n {
            let f = a[row][col] / a[col][col];
            if f != 0.0 {
                let (upper, lower) = a.split_at_mut(row);
                for (x, p) in lower[0][col..n].iter_mut().zip(&upper[col][col..n]) {
                    *x -= f * p;
                }
                b[row] -= f * b[col];
            }
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|c| a[row][c] * x[c]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correction::leave_one_track_out;

    fn window(throttle: f64, caution: f64, in_pit: bool) -> WindowFeatures {
        WindowFeatures {
            car: CarId::parse("1").unwrap(),
            package: EnginePackage::Hp670,
            window_start: 0,
            physics_gph: 40.0,
            throttle,
            wot_share: (throttle - 0.5).max(0.0) * 2.0,
            closed_share: (0.3 - throttle).max(0.0),
            rpm: 6000.0 + 3000.0 * throttle,
            mph: 60.0 + 120.0 * throttle,
            caution_share: caution,
            in_pit,
            coverage: 1.0,
        }
    }

    /// Stints whose measured fuel follows a known correction: +6 % under caution, −3 %
    /// per unit of throttle above 0.7, on a mix of windows that differs per stint.
    fn stints(n: usize) -> Vec<TrainingStint> {
        (0..n)
            .map(|i| {
                let caution_windows = 2 + i % 7;
                let pit = i % 3 == 0;
                let mut windows: Vec<(f64, WindowFeatures)> = (0..40)
                    .map(|k| {
                        let th = 0.6 + 0.35 * (((k * 7 + i * 3) % 10) as f64 / 10.0);
                        (0.05, window(th, 0.0, false))
                    })
                    .collect();
                windows.extend((0..caution_windows).map(|_| (0.02, window(0.2, 1.0, false))));
                if pit {
                    windows.push((0.01, window(0.1, 0.0, true)));
                }
                let truth: f64 = windows
                    .iter()
                    .map(|(g, w)| g * (1.0 + 0.06 * w.caution_share - 0.03 * (w.throttle - 0.7)))
                    .sum();
                TrainingStint {
                    race: format!("r{}", i % 4),
                    track: "pocono".into(),
                    package: EnginePackage::Hp670,
                    measured_gal: truth,
                    windows,
                }
            })
            .collect()
    }

    #[test]
    fn training_learns_a_known_correction_and_beats_physics() {
        let data = stints(40);
        let m = train(&data).unwrap();
        assert!(m.hp670.is_some() && m.hp510.is_none());
        assert!(
            m.cv_median_corrected < m.cv_median_physics / 3.0,
            "cv {} vs physics {}",
            m.cv_median_corrected,
            m.cv_median_physics
        );
        // On a caution window the factor is about 1.06 plus the throttle term.
        let f = m.factor(&window(0.2, 1.0, false));
        assert!((f - (1.06 + 0.015)).abs() < 0.02, "{f}");
        // Each stint's corrected fuel is within 0.5 % of its label.
        for s in &data {
            let e = rel_err(s.corrected_gal(&m), s.measured_gal);
            assert!(e < 0.005, "{e}");
        }
    }

    #[test]
    fn fills_weighed_wrong_are_set_aside_and_move_no_coefficient() {
        let clean = stints(40);
        let want = train(&clean).unwrap();
        // Three fills typed at half their weight, one crew that reported a fill to the
        // top 30 % short of it, among an hp510 stint that is fine.
        let mut data = clean.clone();
        for i in [3, 17, 29] {
            data[i].measured_gal *= 0.5;
        }
        data[8].measured_gal *= 1.3;
        let mut other = clean[0].clone();
        other.package = EnginePackage::Hp510;
        data.push(other.clone());
        let (kept, aside) = set_aside_outliers(data.clone());
        assert_eq!(aside.len(), 4, "{aside:?}");
        assert!(aside.iter().all(|s| s.package == EnginePackage::Hp670));
        // Fewer than five of a package: too few to judge, all kept.
        assert!(kept.contains(&other));
        let kept_670: Vec<TrainingStint> = kept
            .into_iter()
            .filter(|s| s.package == EnginePackage::Hp670)
            .collect();
        let got = train(&kept_670).unwrap();
        let w = window(0.2, 1.0, false);
        assert!(
            (got.factor(&w) - want.factor(&w)).abs() < 0.005,
            "{} {}",
            got.factor(&w),
            want.factor(&w)
        );
        // Without the rule the four pull the caution factor far off.
        let pulled = train(&data[..40]).unwrap();
        assert!(
            (pulled.factor(&w) - want.factor(&w)).abs() > 0.02,
            "{} {}",
            pulled.factor(&w),
            want.factor(&w)
        );
        // Clean stints lose nothing.
        assert_eq!(set_aside_outliers(clean.clone()).1.len(), 0);
    }

    #[test]
    fn too_few_stints_are_refused_with_the_reason() {
        let e = train(&stints(5)).unwrap_err();
        assert!(e.to_string().contains("at least 12"), "{e}");
    }

    #[test]
    fn the_artifact_round_trips_and_bad_files_are_refused() {
        let m = train(&stints(30)).unwrap();
        let text = serde_json::to_string_pretty(&m).unwrap();
        let back = CorrectionModel::from_json(&text).unwrap();
        assert_eq!(back, m);
        let w = window(0.8, 0.0, false);
        assert_eq!(back.factor(&w).to_bits(), m.factor(&w).to_bits());

        let mut bad = m.clone();
        bad.format = 9;
        assert!(matches!(bad.validate(), Err(CorrectionError::Format(9))));
        // A format-1 artifact (no domain) is refused with what to do.
        let mut old: serde_json::Value = serde_json::to_value(&m).unwrap();
        old["format"] = 1.into();
        old["hp670"].as_object_mut().unwrap().remove("domain");
        old["hp670"].as_object_mut().unwrap().remove("tracks");
        let e = CorrectionModel::from_json(&old.to_string()).unwrap_err();
        assert!(e.to_string().contains("train the model again"), "{e}");
        let mut bad = m.clone();
        bad.hp670
            .as_mut()
            .unwrap()
            .domain
            .green
            .as_mut()
            .unwrap()
            .max[1] = f64::NAN;
        let e = bad.validate().unwrap_err().to_string();
        assert!(e.contains("hp670.domain.green of throttle"), "{e}");
        let mut bad = m.clone();
        bad.features.swap(1, 2);
        assert!(bad.validate().unwrap_err().to_string().contains("features"));
        let mut bad = m.clone();
        bad.hp670.as_mut().unwrap().coef[3] = f64::NAN;
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("wot_share")
        );
        assert!(
            CorrectionModel::from_json("{")
                .unwrap_err()
                .to_string()
                .contains("not valid JSON")
        );
    }

    #[test]
    fn the_factor_is_bounded_and_untrained_packages_are_physics() {
        let mut m = CorrectionModel::identity();
        let mut coef = vec![0.0; N];
        coef[0] = 5.0;
        m.hp670 = Some(PackageCorrection {
            coef,
            stints: 1,
            tracks: vec![],
            domain: Domain::from_windows(&[window(0.8, 0.0, false)]),
        });
        assert_eq!(m.factor(&window(0.8, 0.0, false)), m.max_factor);
        let mut w = window(0.8, 0.0, false);
        w.package = EnginePackage::Hp510;
        assert_eq!(m.factor(&w), 1.0);
    }

    #[test]
    fn the_model_records_its_domain_and_leaves_a_window_outside_it_to_physics() {
        let m = train(&stints(40)).unwrap();
        let p = m.hp670.as_ref().unwrap();
        assert_eq!(p.tracks, ["pocono"]);
        assert!(p.domain.green.is_some() && p.domain.caution.is_some());
        assert!(p.domain.pit.is_some());
        // A green window like the training ones is corrected; one at a short track's
        // speed (94 mph at 0.6 throttle) is not, and says so.
        let inside = window(0.8, 0.0, false);
        let mut short = window(0.6, 0.0, false);
        short.mph = 94.0;
        assert!(m.correct(&inside).is_some_and(|f| f != 1.0));
        assert_eq!(m.correct(&short), None);
        assert_eq!(m.factor(&short), 1.0);
        assert!(m.outside_domain(&short) && !m.outside_domain(&inside));
        // An untrained package is outside too: the model knows nothing of it.
        let mut hp510 = inside;
        hp510.package = EnginePackage::Hp510;
        let r = m.predict(&[inside, short, hp510]);
        assert_eq!(r.factors, [m.factor(&inside), 1.0, 1.0]);
        assert_eq!(r.outside_domain, [false, true, true]);
        let per = r.clone().per_window(3).unwrap();
        assert_eq!(per, [Some(m.factor(&inside)), None, None]);
        // An answer without the flags (an older container) is every window inside; an
        // answer that does not match the request is an error.
        let old: super::super::PredictResponse =
            serde_json::from_str(r#"{"factors": [1.01, 0.99]}"#).unwrap();
        assert_eq!(old.per_window(2).unwrap(), [Some(1.01), Some(0.99)]);
        assert!(
            r.clone()
                .per_window(2)
                .unwrap_err()
                .contains("3 factors for 2")
        );
        let mut short_flags = r;
        short_flags.outside_domain.pop();
        assert!(
            short_flags
                .per_window(3)
                .unwrap_err()
                .contains("2 outside_domain")
        );
    }

    #[test]
    fn leaving_a_track_out_scores_it_with_a_model_trained_on_the_others() {
        // Two tracks alike, and a short track whose green windows run at 94 mph with a
        // correction unlike theirs: trained without it, its windows are left to physics.
        let mut data = stints(40);
        for (i, s) in data.iter_mut().enumerate() {
            s.track = if i % 2 == 0 { "pocono" } else { "michigan" }.into();
        }
        let mut short = stints(16);
        for s in &mut short {
            s.track = "martinsville".into();
            s.race = format!("m{}", s.race);
            for (_, w) in s.windows.iter_mut().filter(|(_, w)| !w.in_pit) {
                w.mph *= 0.55;
            }
            s.measured_gal = s.physics_gal() * 1.02;
        }
        data.extend(short);
        let l = leave_one_track_out(&data);
        let keys: Vec<&str> = l.tracks.iter().map(|t| t.track.as_str()).collect();
        assert_eq!(keys, ["martinsville", "michigan", "pocono"]);
        let mart = &l.tracks[0];
        assert_eq!(mart.stints, 16);
        assert!(
            mart.windows_outside * 10 > mart.windows * 8,
            "{} of {}",
            mart.windows_outside,
            mart.windows
        );
        // Held out, a track like the others is corrected well.
        let poc = &l.tracks[2];
        assert!(
            poc.corrected_median.unwrap() < poc.physics_median / 3.0,
            "{poc:?}"
        );
        assert!(l.corrected_median.is_some() && l.physics_median.is_some());
        // A track alone in its package has nothing to train on without it.
        let mut lone = stints(20);
        for s in &mut lone {
            s.package = EnginePackage::Hp510;
            s.track = "talladega".into();
            for (_, w) in &mut s.windows {
                w.package = EnginePackage::Hp510;
            }
        }
        data.extend(lone);
        let l = leave_one_track_out(&data);
        let t = l.tracks.iter().find(|t| t.track == "talladega").unwrap();
        assert_eq!(t.corrected_median, None);
        assert_eq!(t.package, EnginePackage::Hp510);
    }
}
