//! What the race tells a car's windows: the race's context, the learned correction of
//! each window's burn, and the other cars of the field.

use std::cell::RefCell;
use std::collections::BTreeMap;

use super::{CarState, WindowFeatures};
use crate::contract::CarId;
use crate::correction::CorrectionModel;
use crate::model::ModelParams;
use crate::tracks::EnginePackage;

/// What the race tells a car's window about its surroundings.
#[derive(Clone, Copy)]
pub struct RaceCtx<'a> {
    pub race_id: &'a str,
    pub length_mi: f64,
    pub package: EnginePackage,
    pub capacity_gal: f64,
    pub scheduled_laps: Option<u32>,
    pub window_ms: i64,
    pub params: &'a ModelParams,
    /// A learned correction of each window's physics burn (the SageMaker model), looked
    /// up when the window closes. `None`: physics alone.
    pub correction: Option<&'a dyn WindowCorrection>,
    /// Where closing windows report their features (what the correction model reads).
    /// `None`: not collected (the local replay's hot path).
    pub features: Option<&'a RefCell<Vec<WindowFeatures>>>,
    /// The correction model run in-process on each window's own features (the local
    /// engine). Ignored when `correction` gives factors: those were decided beforehand.
    pub model: Option<&'a CorrectionModel>,
}

impl std::fmt::Debug for RaceCtx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaceCtx")
            .field("race_id", &self.race_id)
            .field("length_mi", &self.length_mi)
            .field("package", &self.package)
            .field("capacity_gal", &self.capacity_gal)
            .field("scheduled_laps", &self.scheduled_laps)
            .field("window_ms", &self.window_ms)
            .field("corrected", &self.correction.is_some())
            .finish_non_exhaustive()
    }
}

impl<'a> RaceCtx<'a> {
    /// A context with physics alone and no feature collection.
    pub fn physics(
        race_id: &'a str,
        length_mi: f64,
        package: EnginePackage,
        capacity_gal: f64,
        scheduled_laps: Option<u32>,
        window_ms: i64,
        params: &'a ModelParams,
    ) -> RaceCtx<'a> {
        RaceCtx {
            race_id,
            length_mi,
            package,
            capacity_gal,
            scheduled_laps,
            window_ms,
            params,
            correction: None,
            features: None,
            model: None,
        }
    }
}

/// The factor by which a window's physics burn is multiplied: decided before the window
/// closes (the Lambda asks the model for every window a batch will close, then closes
/// them), so a window's burn is decided once.
pub trait WindowCorrection {
    /// The factor for `car`'s window starting at `window_start`, if the model gave one.
    fn factor(&self, car: CarId, window_start: i64) -> Option<f64>;
}

/// The other cars of the race, for the field median of `burn_index`.
pub enum Field<'a> {
    /// The other cars' states, in memory (the local engine holds every car).
    Cars {
        before: &'a [CarState],
        after: &'a [CarState],
    },
    /// The other cars' recent green-lap figures, `(lap end ts, gal per mile)`, as a
    /// race-level store keeps them (the Lambda sees only its shard's cars). Entries of
    /// the car being closed are ignored.
    Figures(&'a BTreeMap<CarId, Vec<(i64, f64)>>),
}

impl Field<'_> {
    /// No other car (a lone car, or a test).
    pub const EMPTY: Field<'static> = Field::Cars {
        before: &[],
        after: &[],
    };
}
