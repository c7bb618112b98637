//! The model files a command reads: the calibration (or the embedded defaults) and the
//! learned correction. Either one unreadable is a bad argument (exit 2).

use std::path::Path;

use burnbar_core::ModelParams;
use burnbar_core::correction::CorrectionModel;

use crate::Failure;

/// The parameters of `path`, or the embedded defaults without one.
pub(crate) fn calibration_or_default(path: Option<&Path>) -> Result<ModelParams, Failure> {
    path.map_or_else(|| Ok(ModelParams::default()), load_calibration)
}

/// Reads the calibration file, or says in one line why it cannot.
fn load_calibration(path: &Path) -> Result<ModelParams, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::usage(format!(
            "cannot read calibration file {}: {e}",
            path.display()
        ))
    })?;
    let params: ModelParams = serde_json::from_str(&text).map_err(|e| {
        Failure::usage(format!(
            "calibration file {} is not valid: {e}",
            path.display()
        ))
    })?;
    params.validate().map_err(|e| {
        Failure::usage(format!(
            "calibration file {} is not valid: {e}",
            path.display()
        ))
    })?;
    Ok(params)
}

/// Reads a correction model file, or says in one line why it cannot.
pub(crate) fn load_correction(path: &Path) -> Result<CorrectionModel, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::usage(format!(
            "cannot read correction model {}: {e}",
            path.display()
        ))
    })?;
    CorrectionModel::from_json(&text)
        .map_err(|e| Failure::usage(format!("correction model {}: {e}", path.display())))
}
