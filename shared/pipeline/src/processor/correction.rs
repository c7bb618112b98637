//! Step 3: the learned correction, for every window this batch closes, in one call to
//! the predictor (or a few, of at most `MAX_WINDOWS_PER_REQUEST` windows each). A dry
//! run of every car's fold on a copy says which windows close and with what features;
//! the real fold (step 4) then applies each window's factor.

use std::cell::RefCell;
use std::collections::HashMap;

use burnbar_core::CarId;
use burnbar_core::car::{WindowCorrection, WindowFeatures};
use burnbar_core::correction::MAX_WINDOWS_PER_REQUEST;
use burnbar_lambda::deadline::call_deadline;
use burnbar_metrics::{MetricSet, log};
use serde_json::json;
use tokio::time::Instant;

use super::Processor;
use super::batch::Batch;
use super::read::RaceWork;
use crate::breaker::Fallback;
use crate::handler::ProcessorConfig;
use crate::ports::{CarStore, Predictor, Publisher, Quarantine, RaceStore};
use crate::race::{close_silent, fold_car};

/// Each window's factor, by car and window start.
pub(super) struct Factors(HashMap<(CarId, i64), f64>);

impl WindowCorrection for Factors {
    fn factor(&self, car: CarId, window_start: i64) -> Option<f64> {
        self.0.get(&(car, window_start)).copied()
    }
}

impl<S, P, W, Q> Processor<S, P, W, Q>
where
    S: CarStore + RaceStore,
    P: Predictor,
    W: Publisher,
    Q: Quarantine,
{
    /// The factors of the windows the batch closes, or `None`: no predictor, no window,
    /// or a fallback to physics alone (counted, and logged when the call failed). The
    /// windows go in requests of at most [`MAX_WINDOWS_PER_REQUEST`] (the container
    /// refuses more), one after another; a request that falls back leaves its windows
    /// to physics and the others keep their factors.
    pub(super) async fn correction(
        &self,
        batch: &Batch<'_, '_>,
        races: &[RaceWork],
        deadline: Instant,
        m: &mut MetricSet,
    ) -> Option<Factors> {
        let breaker = self.predictor.as_ref()?;
        let feats = closing_windows(&self.cfg, batch, races);
        if feats.is_empty() {
            return None;
        }
        m.count("predictor_windows_total", feats.len() as u64);
        let mut factors = HashMap::new();
        for chunk in feats.chunks(MAX_WINDOWS_PER_REQUEST) {
            m.count("predictor_requests_total", 1);
            match breaker
                .predict(chunk, call_deadline(deadline, self.cfg.reserve))
                .await
            {
                Ok(f) => {
                    // A window outside the model's domain has no factor: physics.
                    let outside = f.iter().filter(|f| f.is_none()).count();
                    m.count("windows_outside_domain_total", outside as u64);
                    factors.extend(
                        chunk
                            .iter()
                            .zip(f)
                            .filter_map(|(w, f)| Some(((w.car, w.window_start), f?))),
                    );
                }
                Err(fb) => {
                    m.count("predictor_fallbacks_total", 1);
                    m.count("predictor_fallback_windows_total", chunk.len() as u64);
                    match fb {
                        Fallback::Open => m.count("predictor_skipped_open_total", 1),
                        Fallback::Failed(e) => {
                            m.count("predictor_failures_total", 1);
                            log(
                                "warn",
                                "predictor failed: physics alone",
                                None,
                                &[("error", json!(e.to_string()))],
                            );
                        }
                        Fallback::Refused(e) => {
                            m.count("predictor_refused_total", 1);
                            log(
                                "error",
                                "predictor refused the request: physics alone for its windows",
                                None,
                                &[
                                    ("windows", json!(chunk.len())),
                                    ("error", json!(e.to_string())),
                                ],
                            );
                        }
                    }
                }
            }
        }
        (!factors.is_empty()).then_some(Factors(factors))
    }
}

/// The features of every window the batch's cars and the silent cars close, from a
/// fold of each on a copy of its item.
fn closing_windows(
    cfg: &ProcessorConfig,
    batch: &Batch<'_, '_>,
    races: &[RaceWork],
) -> Vec<WindowFeatures> {
    let feats: RefCell<Vec<WindowFeatures>> = RefCell::new(Vec::new());
    for w in races {
        let ctx = w
            .race
            .race
            .ctx(cfg.engine.window_ms, &cfg.params, None, Some(&feats), None);
        let mut rr = w.newest;
        let mut sink = Vec::new();
        for (car, idxs) in &w.cars {
            let mut item = w
                .items
                .get(car)
                .cloned()
                .unwrap_or_else(|| w.race.new_car(*car));
            let samples = batch.car_samples(idxs);
            fold_car(
                &w.race,
                &mut item,
                &samples,
                &ctx,
                &cfg.engine,
                &mut rr,
                &mut sink,
            );
        }
        if let Some((boundary, cars)) = &w.silent {
            for car in cars {
                let Some(stored) = w.items.get(car) else {
                    continue;
                };
                let mut item = stored.clone();
                fold_car(
                    &w.race,
                    &mut item,
                    &[],
                    &ctx,
                    &cfg.engine,
                    &mut rr,
                    &mut sink,
                );
                close_silent(&w.race, &mut item, *boundary, &ctx, &mut sink);
            }
        }
    }
    feats.into_inner()
}
