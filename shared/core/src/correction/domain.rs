//! The correction's domain: the windows it was trained on, so that a window unlike all
//! of them is left to physics rather than extrapolated.
//!
//! # What is recorded
//!
//! Per engine package and per **regime** of window (green running, caution, pit road:
//! the corners of the `caution_share` and `in_pit` features, which change every other
//! feature's meaning), the range of every feature of [`super::FEATURES`] over the
//! training windows of that regime: from its 0.5th to its 99.5th percentile
//! ([`QUANTILE`]). Not the minimum and maximum: over the hundred thousand windows of a
//! few races, the extremes are a handful of odd windows (a car crawling to its box, a
//! restart from pace speed) that span nearly everything, and a box from them let every
//! window of Martinsville in (measured: 0 % outside, against 55 % with the percentiles;
//! 0.6–1.8 % of the windows of tracks like the training ones fall outside either way).
//!
//! # The test
//!
//! A window is inside when every feature lies within its regime's range widened by
//! [`TOLERANCE`] (10 %) of the range's span on each side, plus 1e-9 for rounding. The
//! tolerance is stored in the artifact, so a model keeps its domain whatever a later
//! build's default. A regime with no training window (a model trained without a single
//! pit-road window) has no range: all its windows are outside.

use serde::{Deserialize, Serialize};

use super::{FEATURES, N, features};
use crate::car::WindowFeatures;

/// The share of training windows left out at each end of a feature's range.
pub const QUANTILE: f64 = 0.005;
/// How far past its recorded range, in shares of the range's span, a feature may lie.
pub const TOLERANCE: f64 = 0.1;

/// The three kinds of window whose features are judged apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Regime {
    /// Under green the whole window, off pit road.
    Green,
    /// Some of the window under caution, off pit road.
    Caution,
    /// On pit road at some time in the window.
    Pit,
}

impl Regime {
    pub fn of(w: &WindowFeatures) -> Regime {
        if w.in_pit {
            Regime::Pit
        } else if w.caution_share > 0.0 {
            Regime::Caution
        } else {
            Regime::Green
        }
    }
}

/// The range of every feature over the training windows of one regime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureRange {
    /// Training windows of the regime.
    pub windows: usize,
    /// Per feature of [`FEATURES`], in order.
    pub min: Vec<f64>,
    pub max: Vec<f64>,
}

/// What a package's correction was trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Domain {
    /// The widening of every range, in shares of its span ([`TOLERANCE`] when trained).
    pub tolerance: f64,
    pub green: Option<FeatureRange>,
    pub caution: Option<FeatureRange>,
    pub pit: Option<FeatureRange>,
}

impl Domain {
    /// The domain of `windows` (the training windows of one package).
    pub fn from_windows<'a>(windows: impl IntoIterator<Item = &'a WindowFeatures>) -> Domain {
        let mut cols: [Vec<[f64; N]>; 3] = Default::default();
        for w in windows {
            cols[regime_index(Regime::of(w))].push(features(w));
        }
        let [green, caution, pit] = cols.map(|rows| range_of(&rows));
        Domain {
            tolerance: TOLERANCE,
            green,
            caution,
            pit,
        }
    }

    /// The range of `regime`, if any window of it was trained on.
    pub fn range(&self, regime: Regime) -> Option<&FeatureRange> {
        match regime {
            Regime::Green => self.green.as_ref(),
            Regime::Caution => self.caution.as_ref(),
            Regime::Pit => self.pit.as_ref(),
        }
    }

    /// Whether `w` lies inside the domain; `None` if so, else the first feature outside
    /// (or `"regime"` when the window's regime was never trained on).
    pub fn outside(&self, w: &WindowFeatures) -> Option<&'static str> {
        let Some(r) = self.range(Regime::of(w)) else {
            return Some("regime");
        };
        let x = features(w);
        (0..N)
            .find(|&i| {
                let slack = self.tolerance * (r.max[i] - r.min[i]) + 1e-9;
                !(r.min[i] - slack <= x[i] && x[i] <= r.max[i] + slack)
            })
            .map(|i| FEATURES[i])
    }

    /// Whether `w` lies inside the domain.
    pub fn contains(&self, w: &WindowFeatures) -> bool {
        self.outside(w).is_none()
    }

    /// Checks the shape and the numbers; the error names the field.
    pub fn validate(&self, key: &str) -> Result<(), String> {
        if !(self.tolerance.is_finite() && (0.0..=1.0).contains(&self.tolerance)) {
            return Err(format!(
                "{key}.domain.tolerance must be 0 to 1, found {}",
                self.tolerance
            ));
        }
        for (name, r) in [
            ("green", &self.green),
            ("caution", &self.caution),
            ("pit", &self.pit),
        ] {
            let Some(r) = r else { continue };
            let at = format!("{key}.domain.{name}");
            if r.min.len() != N || r.max.len() != N {
                return Err(format!("{at} must have {N} numbers in min and in max"));
            }
            for ((name, &lo), &hi) in FEATURES.iter().zip(&r.min).zip(&r.max) {
                if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
                    return Err(format!(
                        "{at} of {name} is [{lo}, {hi}], not a finite range"
                    ));
                }
            }
        }
        Ok(())
    }
}

fn regime_index(r: Regime) -> usize {
    match r {
        Regime::Green => 0,
        Regime::Caution => 1,
        Regime::Pit => 2,
    }
}

/// The [`QUANTILE`] range of every column of `rows` (nearest rank); none for no row.
fn range_of(rows: &[[f64; N]]) -> Option<FeatureRange> {
    if rows.is_empty() {
        return None;
    }
    let (mut min, mut max) = (vec![0.0; N], vec![0.0; N]);
    let mut col = Vec::with_capacity(rows.len());
    for i in 0..N {
        col.clear();
        col.extend(rows.iter().map(|r| r[i]));
        col.sort_by(f64::total_cmp);
        let at = |q: f64| col[((col.len() - 1) as f64 * q).round() as usize];
        min[i] = at(QUANTILE);
        max[i] = at(1.0 - QUANTILE);
    }
    Some(FeatureRange {
        windows: rows.len(),
        min,
        max,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::CarId;
    use crate::tracks::EnginePackage;

    fn window(mph: f64, caution: f64, in_pit: bool) -> WindowFeatures {
        WindowFeatures {
            car: CarId::parse("1").unwrap(),
            package: EnginePackage::Hp670,
            window_start: 0,
            physics_gph: 40.0,
            throttle: 0.8,
            wot_share: 0.5,
            closed_share: 0.05,
            rpm: 8_500.0,
            mph,
            caution_share: caution,
            in_pit,
            coverage: 1.0,
        }
    }

    #[test]
    fn a_window_unlike_its_regime_is_outside_and_the_tails_do_not_stretch_the_range() {
        // Green windows from 150 to 190 mph, and one odd window at 20 mph (a car
        // crawling); caution windows at 60 mph; no pit-road window at all.
        let mut ws: Vec<WindowFeatures> = (0..1000)
            .map(|i| window(150.0 + 0.04 * i as f64, 0.0, false))
            .collect();
        ws.push(window(20.0, 0.0, false));
        ws.extend((0..100).map(|_| window(60.0, 1.0, false)));
        let d = Domain::from_windows(&ws);
        let g = d.green.as_ref().unwrap();
        assert_eq!(g.windows, 1001);
        // The 0.5th percentile, not the odd window.
        let mph = FEATURES.iter().position(|f| *f == "mph_100").unwrap();
        assert!((g.min[mph] - 1.5016).abs() < 1e-9, "{}", g.min[mph]);
        assert!(d.contains(&window(170.0, 0.0, false)));
        // 10 % of the span (about 4 mph) of slack each side.
        assert!(d.contains(&window(147.0, 0.0, false)));
        assert_eq!(d.outside(&window(94.0, 0.0, false)), Some("mph_100"));
        // 94 mph under caution is another regime, whose range is 60 mph exactly.
        assert_eq!(d.outside(&window(94.0, 1.0, false)), Some("mph_100"));
        assert!(d.contains(&window(60.0, 1.0, false)));
        assert_eq!(d.outside(&window(40.0, 0.0, true)), Some("regime"));
    }

    #[test]
    fn a_broken_domain_is_refused_with_the_field_named() {
        let d = Domain::from_windows(&[window(170.0, 0.0, false)]);
        assert!(d.validate("hp670").is_ok());
        let mut bad = d.clone();
        bad.green.as_mut().unwrap().min[7] = 9.0;
        let e = bad.validate("hp670").unwrap_err();
        assert!(e.contains("hp670.domain.green of mph_100"), "{e}");
        let mut bad = d.clone();
        bad.green.as_mut().unwrap().max.pop();
        assert!(bad.validate("hp670").unwrap_err().contains("10 numbers"));
        let mut bad = d;
        bad.tolerance = f64::NAN;
        assert!(bad.validate("hp670").unwrap_err().contains("tolerance"));
    }
}
