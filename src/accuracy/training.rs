//! The training side of the report: the calibration (on every track, and without each
//! track in turn) and the correction over the calibrated physics, made with the same
//! code as `burnbar calibrate` and `burnbar train`.

use std::collections::BTreeMap;

use burnbar_core::calibrate::{self, Fit, StintObs};
use burnbar_core::correction::{self, CorrectionModel, TrainingStint};
use burnbar_core::{Engine, EngineConfig, ModelParams};

use super::races::{RaceSpec, parallel, push_all, simulate};
use crate::Failure;

/// The stints of every race as `burnbar calibrate` records them, on `base` physics.
pub(crate) fn recorded_stints(
    races: &[RaceSpec],
    jobs: usize,
    base: &ModelParams,
) -> Result<Vec<StintObs>, Failure> {
    let per_race = parallel(races, jobs, |r| {
        let race = simulate(r, false)?.0;
        let mut engine = Engine::new(EngineConfig::default(), base.clone());
        engine.record_stints();
        push_all(&mut engine, &race);
        Ok(engine.take_stints())
    })?;
    Ok(per_race.into_iter().flatten().collect())
}

/// The calibration on every track, and without each track in turn.
pub(crate) struct Calibrations {
    pub full: Fit,
    /// By track: the fit on the other tracks' stints; none when they cannot be fitted
    /// (a single track in all).
    pub without: BTreeMap<String, ModelParams>,
}

/// Fits `stints` (of `tracks`) as `burnbar calibrate` does, then once per track without
/// it (`--single-track` when one other track is left).
pub(crate) fn calibrations(
    stints: &[StintObs],
    base: &ModelParams,
    tracks: &[String],
) -> Result<Calibrations, Failure> {
    let fit = |s: &[StintObs], single: bool| calibrate::fit(s, base, single);
    let full = fit(stints, tracks.len() == 1).map_err(|e| Failure::other(e.to_string()))?;
    let mut without = BTreeMap::new();
    if tracks.len() > 1 {
        for t in tracks {
            let others: Vec<StintObs> = stints.iter().filter(|s| &s.track != t).cloned().collect();
            if let Ok(f) = fit(&others, tracks.len() == 2) {
                without.insert(t.clone(), f.params);
            }
        }
    }
    Ok(Calibrations { full, without })
}

/// The correction trained on every race as `burnbar train` trains it, over `params`,
/// and the stints it was trained on (for the leave-one-track-out judgement).
pub(crate) fn train_correction(
    races: &[RaceSpec],
    jobs: usize,
    params: &ModelParams,
) -> Result<(CorrectionModel, Vec<TrainingStint>), Failure> {
    let per_race = parallel(races, jobs, |r| {
        let race = simulate(r, false)?.0;
        let cfg = EngineConfig::default();
        let mut engine = Engine::new(cfg, params.clone());
        engine.record_stints();
        engine.collect_features();
        push_all(&mut engine, &race);
        let obs = engine.take_stints();
        Ok(correction::training_stints(
            &obs,
            &engine.take_features(),
            cfg.window_ms,
        ))
    })?;
    let training: Vec<TrainingStint> = per_race.into_iter().flatten().collect();
    let (training, _weighed_wrong) = correction::set_aside_outliers(training);
    let model = correction::train(&training).map_err(|e| Failure::other(e.to_string()))?;
    Ok((model, training))
}
