//! The learned correction's inference container: SageMaker's contract for a model server
//! (`docker run IMAGE serve`, HTTP on port 8080, `GET /ping`, `POST /invocations`) over
//! [`burnbar_core::correction::CorrectionModel`], the same model and the same
//! [`CorrectionModel::predict`] that `burnbar replay --correction` runs in-process
//! (factors, and which windows lie outside the model's domain), so that the endpoint and
//! the local command give the same bits.
//!
//! # Layout
//!
//! - [`invoke`]: one scoring request from its bytes to its answer: the limits, the
//!   checks, the model.
//! - [`server`]: the routes (`/ping`, `/invocations`, and the runtime API's
//!   `/endpoints/{name}/invocations`), errors as JSON, graceful shutdown.
//! - this file: loading the artifact, refused with the reason when it cannot be served.
//!
//! The binary (`src/main.rs`) reads its options, loads the model before it listens (a
//! container without a model never answers `/ping`) and stops on SIGTERM.

pub mod invoke;
pub mod server;

use std::collections::BTreeMap;
use std::path::Path;

use burnbar_core::correction::CorrectionModel;

/// Where SageMaker puts the model: it extracts the model's `ModelDataUrl`
/// (`model.tar.gz`) into `/opt/ml/model`, and `burnbar train` names its artifact
/// `correction.json`.
pub const DEFAULT_MODEL_PATH: &str = "/opt/ml/model/correction.json";

/// The port SageMaker sends requests to.
pub const DEFAULT_PORT: u16 = 8080;

/// Reads and checks the model artifact at `path`; the error is one line naming the file
/// and what is wrong with it.
pub fn load(path: &Path) -> Result<CorrectionModel, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read the model {}: {e} (SageMaker extracts the model's model.tar.gz into /opt/ml/model; it must hold correction.json)",
            path.display()
        )
    })?;
    CorrectionModel::from_json(&text)
        .map_err(|e| format!("the model {} cannot be served: {e}", path.display()))
}

/// The packages a model has coefficients for (the others are left to physics).
pub fn trained_packages(model: &CorrectionModel) -> Vec<&'static str> {
    [("hp670", &model.hp670), ("hp510", &model.hp510)]
        .into_iter()
        .filter(|(_, p)| p.is_some())
        .map(|(k, _)| k)
        .collect()
}

/// The tracks each trained package was trained on, by package key.
pub fn trained_tracks(model: &CorrectionModel) -> BTreeMap<&'static str, Vec<String>> {
    [("hp670", &model.hp670), ("hp510", &model.hp510)]
        .into_iter()
        .filter_map(|(k, p)| Some((k, p.as_ref()?.tracks.clone())))
        .collect()
}
