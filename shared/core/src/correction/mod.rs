//! The learned correction: a factor on each window's physics burn, from the window's
//! features, trained on what weighed fills measured.
//!
//! # Why a correction at all
//!
//! The physics model ([`crate::model`]) is an air-flow model with a handful of
//! parameters. Real engines (and the simulator's Willans-line truth) differ from it in
//! ways that depend on how the car is driven: how much of a window is spent wide open or
//! with the throttle shut (pumping losses, overrun), the engine speed, the speed of the
//! car, caution running and pit road. Calibration fits the physics parameters on stint
//! totals; what is left is a pattern in the stints' residuals that a small model of the
//! window's driving can explain.
//!
//! # The model
//!
//! A linear model of the relative error, per engine package:
//!
//! ```text
//! factor(w) = clamp(1 + β · x(w), min_factor, max_factor)
//! ```
//!
//! with `x(w)` the [`FEATURES`] of window `w` (an intercept, throttle shape, engine
//! speed, car speed, caution and pit road, telemetry coverage). Linear on purpose: the
//! labels are stint totals (tens of windows per label), which identify a few effects
//! well and a flexible model badly; a linear model also stays predictable on air, where
//! an absurd number is worse than a plain one. The same artifact (this struct as JSON)
//! runs in-process (`burnbar replay --correction`) and in the SageMaker container
//! (`burnbar-model serve`), through the same [`CorrectionModel::predict`], so both
//! give the same bits.
//!
//! # Its domain
//!
//! A linear model fitted on some tracks extrapolates on a track unlike them: trained
//! on Pocono and Talladega, a correction made stint error 6 times worse at Martinsville
//! while its own cross-validation said only "does not help". So each package records
//! the range of every feature it was trained on ([`domain`]) and the tracks; a window
//! outside it gets factor 1, the response says so per window
//! ([`PredictResponse::outside_domain`]), and the window is published as `physics` and
//! counted. `burnbar train` reports a leave-one-track-out error ([`loto`]).
//!
//! # Layout
//!
//! - this file: the features, the artifact, the factor, the scoring request and answer;
//! - [`domain`]: what a package was trained on, and whether a window is like it;
//! - [`train`](mod@train): training from stint labels, cross-validated over races;
//! - [`loto`]: the leave-one-track-out judgement.

mod domain;
mod loto;
mod train;

use serde::{Deserialize, Serialize};

pub use domain::{Domain, FeatureRange, Regime};
pub use loto::{LeaveOneTrackOut, TrackHeldOut, leave_one_track_out};
pub use train::{MIN_STINTS, TrainingStint, set_aside_outliers, train, training_stints};

use crate::car::WindowFeatures;
use crate::tracks::EnginePackage;

/// The artifact's format; a reader refuses any other. Format 2 added each package's
/// domain and tracks; a format-1 artifact has neither, so it cannot tell a window it
/// knows from one it would extrapolate to, and is refused: train it again.
pub const FORMAT: u32 = 2;

/// The names of the features, in the order of the coefficients.
pub const FEATURES: [&str; 10] = [
    "intercept",
    "throttle",
    "throttle_sq",
    "wot_share",
    "closed_share",
    "krpm_dev",
    "krpm_dev_sq",
    "mph_100",
    "caution_share",
    "in_pit",
];

/// Number of features.
pub const N: usize = FEATURES.len();

/// The features of one window, in [`FEATURES`] order.
pub fn features(w: &WindowFeatures) -> [f64; N] {
    let krpm = (w.rpm - 7000.0) / 1000.0;
    [
        1.0,
        w.throttle,
        w.throttle * w.throttle,
        w.wot_share,
        w.closed_share,
        krpm,
        krpm * krpm,
        w.mph / 100.0,
        w.caution_share,
        if w.in_pit { 1.0 } else { 0.0 },
    ]
}

/// Coefficients of one engine package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageCorrection {
    /// One coefficient per feature of [`FEATURES`], in order.
    pub coef: Vec<f64>,
    /// Measured stints it was trained on.
    pub stints: usize,
    /// The tracks of those stints (`race_start.track`), for people: the domain is what
    /// decides.
    pub tracks: Vec<String>,
    /// The range of every feature of its training windows: a window outside it is left
    /// to physics.
    pub domain: Domain,
}

/// The learned correction, as the JSON artifact that `burnbar train` writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorrectionModel {
    /// Always [`FORMAT`].
    pub format: u32,
    /// The feature names the coefficients follow (checked against [`FEATURES`]).
    pub features: Vec<String>,
    /// Bounds of the factor: a correction never moves a window by more than this.
    pub min_factor: f64,
    pub max_factor: f64,
    /// Per package; a package without coefficients is left to physics (factor 1).
    #[serde(default)]
    pub hp670: Option<PackageCorrection>,
    #[serde(default)]
    pub hp510: Option<PackageCorrection>,
    /// The ridge strength cross-validation chose.
    pub ridge: f64,
    /// Cross-validated |relative error| of stint fuel, median, with physics alone and
    /// with the correction (what the training saw; the accuracy report is the judge).
    pub cv_median_physics: f64,
    pub cv_median_corrected: f64,
}

/// Why a model file cannot be used, or a model cannot be trained.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CorrectionError {
    #[error(
        "correction model format {0} is not supported (this build reads format {FORMAT}, which records the domain each package was trained on: train the model again)"
    )]
    Format(u32),
    #[error("correction model features {found:?} differ from this build's {expected:?}")]
    Features {
        found: Vec<String>,
        expected: Vec<String>,
    },
    #[error("correction model {0}")]
    Invalid(String),
    /// No package has enough: what each has, `hp670 has 41 stints from 1 race`.
    #[error(
        "cannot train a correction: each engine package needs at least {MIN_STINTS} measured stints from at least 2 races; {0}"
    )]
    TooFewStints(String),
}

impl CorrectionModel {
    /// A model that changes nothing (every factor 1): what a package without data gets.
    pub fn identity() -> CorrectionModel {
        CorrectionModel {
            format: FORMAT,
            features: FEATURES.iter().map(|s| s.to_string()).collect(),
            min_factor: 0.85,
            max_factor: 1.15,
            hp670: None,
            hp510: None,
            ridge: 0.0,
            cv_median_physics: 0.0,
            cv_median_corrected: 0.0,
        }
    }

    /// Reads a model from JSON and checks it.
    pub fn from_json(text: &str) -> Result<CorrectionModel, CorrectionError> {
        let invalid =
            |e: serde_json::Error| CorrectionError::Invalid(format!("is not valid JSON: {e}"));
        // The format first: another format's fields are not this one's.
        #[derive(Deserialize)]
        struct Head {
            format: u32,
        }
        let head: Head = serde_json::from_str(text).map_err(invalid)?;
        if head.format != FORMAT {
            return Err(CorrectionError::Format(head.format));
        }
        let m: CorrectionModel = serde_json::from_str(text).map_err(invalid)?;
        m.validate()?;
        Ok(m)
    }

    /// Checks the format, the feature names and that every number is finite and sane.
    pub fn validate(&self) -> Result<(), CorrectionError> {
        if self.format != FORMAT {
            return Err(CorrectionError::Format(self.format));
        }
        if self.features.iter().map(String::as_str).ne(FEATURES) {
            return Err(CorrectionError::Features {
                found: self.features.clone(),
                expected: FEATURES.iter().map(|s| s.to_string()).collect(),
            });
        }
        if !(self.min_factor.is_finite()
            && self.max_factor.is_finite()
            && 0.0 < self.min_factor
            && self.min_factor <= 1.0
            && 1.0 <= self.max_factor
            && self.max_factor <= 2.0)
        {
            return Err(CorrectionError::Invalid(format!(
                "bounds must satisfy 0 < min_factor <= 1 <= max_factor <= 2, found {} and {}",
                self.min_factor, self.max_factor
            )));
        }
        for (key, p) in [("hp670", &self.hp670), ("hp510", &self.hp510)] {
            if let Some(p) = p {
                if p.coef.len() != N {
                    return Err(CorrectionError::Invalid(format!(
                        "{key}.coef has {} numbers, {N} expected",
                        p.coef.len()
                    )));
                }
                if let Some(i) = p.coef.iter().position(|c| !c.is_finite()) {
                    return Err(CorrectionError::Invalid(format!(
                        "{key}.coef[{i}] ({}) is not a finite number",
                        FEATURES[i]
                    )));
                }
                p.domain.validate(key).map_err(CorrectionError::Invalid)?;
            }
        }
        Ok(())
    }

    /// The coefficients of `package`, if trained.
    pub fn package(&self, package: EnginePackage) -> Option<&PackageCorrection> {
        match package {
            EnginePackage::Hp670 => self.hp670.as_ref(),
            EnginePackage::Hp510 => self.hp510.as_ref(),
        }
    }

    /// The factor on window `w`'s physics burn, or `None` when the model leaves the
    /// window to physics: its package untrained, or the window outside the package's
    /// domain. In-process and in the endpoint alike.
    pub fn correct(&self, w: &WindowFeatures) -> Option<f64> {
        let p = self.package(w.package)?;
        if !p.domain.contains(w) {
            return None;
        }
        let x = features(w);
        let dot: f64 = p.coef.iter().zip(x).map(|(c, v)| c * v).sum();
        let f = 1.0 + dot;
        Some(if f.is_finite() {
            f.clamp(self.min_factor, self.max_factor)
        } else {
            1.0
        })
    }

    /// The factor on window `w`'s physics burn: 1 where [`CorrectionModel::correct`]
    /// leaves it to physics.
    pub fn factor(&self, w: &WindowFeatures) -> f64 {
        self.correct(w).unwrap_or(1.0)
    }

    /// Whether the model leaves `w` to physics because it knows nothing like it: its
    /// package untrained, or a feature outside the package's domain.
    pub fn outside_domain(&self, w: &WindowFeatures) -> bool {
        self.package(w.package)
            .is_none_or(|p| !p.domain.contains(w))
    }

    /// Factors for a batch of windows, in order.
    pub fn factors(&self, windows: &[WindowFeatures]) -> Vec<f64> {
        windows.iter().map(|w| self.factor(w)).collect()
    }

    /// The answer to a batch of windows (what `/invocations` answers): one factor per
    /// window, in order, and whether each was outside the domain.
    pub fn predict(&self, windows: &[WindowFeatures]) -> PredictResponse {
        PredictResponse {
            factors: self.factors(windows),
            outside_domain: windows.iter().map(|w| self.outside_domain(w)).collect(),
        }
    }
}

/// Most windows in one scoring request: the inference container refuses more (400), and
/// the processor splits the windows of an invocation into requests of at most this many.
/// 10,000: at most a few hundred bytes of features each, a request stays well under
/// SageMaker's 6 MB payload limit, and one request's work stays small.
pub const MAX_WINDOWS_PER_REQUEST: usize = 10_000;

/// The body of a scoring request (the inference container's `/invocations`, and what
/// the SageMaker runtime predictor sends): the windows to score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictRequest {
    pub windows: Vec<WindowFeatures>,
}

/// The body of a scoring answer: one factor per window of the request, in order, and
/// per window whether the model left it to physics as outside what it was trained on
/// (its factor is then 1, and the update says `physics`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictResponse {
    pub factors: Vec<f64>,
    /// One flag per window, in order. Added with format 2; an answer without it (an
    /// older container) reads as every window inside.
    #[serde(default)]
    pub outside_domain: Vec<bool>,
}

impl PredictResponse {
    /// Per window of a request of `n`, its factor, or `None` for a window left to
    /// physics; an answer that does not match the request is an error, named.
    pub fn per_window(self, n: usize) -> Result<Vec<Option<f64>>, String> {
        if self.factors.len() != n {
            return Err(format!("{} factors for {n} windows", self.factors.len()));
        }
        if !self.outside_domain.is_empty() && self.outside_domain.len() != n {
            return Err(format!(
                "{} outside_domain flags for {n} windows",
                self.outside_domain.len()
            ));
        }
        let outside = self.outside_domain;
        Ok(self
            .factors
            .into_iter()
            .enumerate()
            .map(|(i, f)| (!outside.get(i).copied().unwrap_or(false)).then_some(f))
            .collect())
    }
}
