//! The leave-one-track-out judgement: train without a track, score that track's stints.
//!
//! Cross-validation over races keeps every track in training, so it cannot see what a
//! track with no history does to the model; holding out a whole track can. Each track
//! of the training stints is held out in turn: the correction is trained on the other
//! tracks of its package (with their domain, so the held-out track's windows unlike
//! them are left to physics, as on air) and scored on the held-out track's stints.

use super::train::{median, rel_err};
use super::{TrainingStint, train};
use crate::tracks::EnginePackage;

/// One track held out.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackHeldOut {
    pub track: String,
    pub package: EnginePackage,
    /// Its measured stints.
    pub stints: usize,
    /// Median |relative error| of their fuel, by physics alone.
    pub physics_median: f64,
    /// The same with the correction trained without the track; `None` when no other
    /// track of its package could train one.
    pub corrected_median: Option<f64>,
    /// Its windows, and those the correction trained without it left to physics.
    pub windows: usize,
    pub windows_outside: usize,
}

/// Every track held out in turn, and the errors over all of them.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaveOneTrackOut {
    /// By track key.
    pub tracks: Vec<TrackHeldOut>,
    /// Median |relative error| over the held-out stints of every track that had a
    /// correction trained without it: physics, then corrected. `None` without any.
    pub physics_median: Option<f64>,
    pub corrected_median: Option<f64>,
}

/// Holds out each track of `stints` (stints without a track are never held out, and
/// train for every track).
pub fn leave_one_track_out(stints: &[TrainingStint]) -> LeaveOneTrackOut {
    let mut keys: Vec<&str> = stints
        .iter()
        .map(|s| s.track.as_str())
        .filter(|t| !t.is_empty())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let (mut all_phys, mut all_corr) = (Vec::new(), Vec::new());
    let mut tracks = Vec::new();
    for key in keys {
        let held: Vec<&TrainingStint> = stints.iter().filter(|s| s.track == key).collect();
        let package = held[0].package;
        let others: Vec<TrainingStint> = stints
            .iter()
            .filter(|s| s.track != key && s.package == package)
            .cloned()
            .collect();
        let model = train(&others).ok().filter(|m| m.package(package).is_some());
        let mut phys: Vec<f64> = held
            .iter()
            .map(|s| rel_err(s.physics_gal(), s.measured_gal))
            .collect();
        let windows = held.iter().map(|s| s.windows.len()).sum();
        let (mut corr, mut outside) = (Vec::new(), 0);
        if let Some(m) = &model {
            corr = held
                .iter()
                .map(|s| rel_err(s.corrected_gal(m), s.measured_gal))
                .collect();
            outside = held
                .iter()
                .flat_map(|s| &s.windows)
                .filter(|(_, w)| m.outside_domain(w))
                .count();
            all_phys.extend(&phys);
            all_corr.extend(&corr);
        }
        tracks.push(TrackHeldOut {
            track: key.to_owned(),
            package,
            stints: held.len(),
            physics_median: median(&mut phys),
            corrected_median: model.is_some().then(|| median(&mut corr)),
            windows,
            windows_outside: outside,
        });
    }
    LeaveOneTrackOut {
        tracks,
        physics_median: (!all_phys.is_empty()).then(|| median(&mut all_phys)),
        corrected_median: (!all_corr.is_empty()).then(|| median(&mut all_corr)),
    }
}
