//! What the race tells a car's windows: the race's context, the learned correction of
//! each window's burn, and the other cars of the field.

use std::cell::RefCell;
use std::collections::BTreeMap;

use super::cache::CHECKED;
use super::{CarState, FieldCache, WindowFeatures};
use crate::contract::CarId;
use crate::correction::CorrectionModel;
use crate::model::ModelParams;
use crate::race::{self, FlagChange};
use crate::tracks::EnginePackage;

/// What the race tells a car's window about its surroundings.
#[derive(Clone, Copy)]
pub struct RaceCtx<'a> {
    pub race_id: &'a str,
    pub length_mi: f64,
    pub package: EnginePackage,
    pub capacity_gal: f64,
    pub scheduled_laps: Option<u32>,
    /// The race's flags so far, in `ts` order: the leader's lap is at least the lap of
    /// the latest.
    pub flags: &'a [FlagChange],
    pub window_ms: i64,
    pub params: &'a ModelParams,
    /// What the race's track adds to the burn's relative variance: the parameters were
    /// not fitted on it ([`ModelParams::off_track_var`]).
    pub track_var: f64,
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
            .field("track_var", &self.track_var)
            .field("corrected", &self.correction.is_some())
            .finish_non_exhaustive()
    }
}

/// The factor by which a window's physics burn is multiplied: decided before the window
/// closes (the Lambda asks the model for every window a batch will close, then closes
/// them), so a window's burn is decided once.
pub trait WindowCorrection {
    /// The factor for `car`'s window starting at `window_start`, if the model gave one.
    fn factor(&self, car: CarId, window_start: i64) -> Option<f64>;
}

/// The other cars of the race: the field median of `burn_index` and the leader's lap.
pub enum Field<'a> {
    /// The other cars' states, in memory (the local engine holds every car), and
    /// optionally what the race caches of them ([`FieldCache`], kept exact by whoever
    /// holds the cars).
    Cars {
        before: &'a [CarState],
        after: &'a [CarState],
        cache: Option<&'a RefCell<FieldCache>>,
    },
    /// The other cars as a race-level store keeps them (the Lambda sees only its shard's
    /// cars): their recent green-lap figures, `(lap end ts, gal per mile)`, and the
    /// positions (`lap + lap_frac`) of those still running. Entries of the car being
    /// closed are ignored.
    Stored {
        figures: &'a BTreeMap<CarId, Vec<(i64, f64)>>,
        positions: &'a BTreeMap<CarId, f64>,
    },
}

impl Field<'_> {
    /// No other car (a lone car, or a test).
    pub const EMPTY: Field<'static> = Field::Cars {
        before: &[],
        after: &[],
        cache: None,
    };

    /// The leader's lap ([`race::leader_lap`]) at a window's end `t` as car `me`, at
    /// `own`, sees it: the other running cars' positions at their last samples before
    /// `t` (in memory; a store keeps each car's latest) and the lap race control gave
    /// last.
    pub fn leader_lap(&self, me: CarId, own: Option<f64>, t: i64, flag_lap: Option<f64>) -> f64 {
        match self {
            Field::Cars {
                before,
                after,
                cache: Some(cache),
            } => {
                let lap = cache
                    .borrow_mut()
                    .leader_lap(own, t, flag_lap, before, after);
                if CHECKED {
                    assert_eq!(
                        lap.to_bits(),
                        uncached_leader_lap(own, t, flag_lap, before, after).to_bits(),
                        "the cached positions at {t} are stale"
                    );
                }
                lap
            }
            Field::Cars {
                before,
                after,
                cache: None,
            } => uncached_leader_lap(own, t, flag_lap, before, after),
            Field::Stored { positions, .. } => race::leader_lap(
                // A summary written before the car sent a lap holds 0.
                own.into_iter().chain(
                    positions
                        .iter()
                        .filter(|(c, p)| **c != me && **p > 0.0)
                        .map(|(_, p)| *p),
                ),
                flag_lap,
            ),
        }
    }
}

/// [`Field::leader_lap`] from the cars' states themselves: every other running car's
/// buffer searched.
pub(super) fn uncached_leader_lap(
    own: Option<f64>,
    t: i64,
    flag_lap: Option<f64>,
    before: &[CarState],
    after: &[CarState],
) -> f64 {
    race::leader_lap(
        own.into_iter().chain(
            before
                .iter()
                .chain(after)
                .filter(|c| !c.retired)
                .filter_map(|c| c.position_at(t)),
        ),
        flag_lap,
    )
}
