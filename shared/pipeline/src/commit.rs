//! Committing one car: fold, conditional write, re-read and re-apply on a conflict; and
//! the car's race-level summary. Shared by both functions.

use burnbar_core::car::WindowCorrection;
use burnbar_core::race::Newest;
use burnbar_core::{CarId, RaceState};
use burnbar_lambda::deadline::call_deadline;
use burnbar_metrics::{MetricSet, Unit, log};
use serde_json::json;
use tokio::time::Instant;

use crate::handler::ProcessorConfig;
use crate::item::{CAR_ITEM_MAX_BYTES, blob_len, car_item_bytes};
use crate::ports::{CarItem, CarStore, CarSummary, PortError, RaceStore, Saved};
use crate::race::{
    CarSample, FoldReport, RACE_STATE_MAX_BYTES, StoredRace, close_silent, fit_race_state,
    fold_car, summary_of,
};

/// What to commit for one car.
pub(crate) struct Commit<'a> {
    pub race: &'a StoredRace,
    pub race_id: &'a str,
    pub car: CarId,
    /// The item as read (None: never stored).
    pub stored: Option<CarItem>,
    /// The newest `seq` the writer acknowledged (outbox entries up to it are dropped).
    pub acked: Option<i64>,
    pub samples: &'a [CarSample],
    pub cfg: &'a ProcessorConfig,
    pub correction: Option<&'a dyn WindowCorrection>,
    pub deadline: Instant,
    /// For a silent car: close its windows up to this boundary after the fold.
    pub sweep: Option<i64>,
}

/// Why a car could not be committed; nothing of its batch was applied either way.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Failure {
    /// Out of time, conflicts to the last attempt, a store error a retry may get past:
    /// the caller fails the car's records (delivered again).
    Retry,
    /// No retry can write it: its item would be over [`CAR_ITEM_MAX_BYTES`], or the store
    /// refused it. The caller sets the car's samples aside with this reason (a quarantine
    /// code and a sentence) and the rest of the batch goes on; the car's stored item is
    /// what it was.
    Refused { code: &'static str, detail: String },
}

/// Folds the car's samples and race-control events into its item and writes it with a
/// conditional write; a conflict re-reads the car and folds again (at most
/// `save_attempts` times). Returns the committed item (its outbox holds every update
/// not yet acknowledged) and what the fold did, or why it could not commit
/// ([`Failure`]).
pub(crate) async fn commit_car<S: CarStore>(
    store: &S,
    mut c: Commit<'_>,
    newest: &mut Newest,
    m: &mut MetricSet,
) -> Result<(CarItem, FoldReport), Failure> {
    let cfg = c.cfg;
    let stored = c.stored.take();
    let mut item = c.fresh(stored);
    for attempt in 0..cfg.save_attempts {
        if attempt > 0 {
            m.count("conditional_write_retries_total", 1);
            match store.load_cars(c.race_id, &[c.car], c.deadline).await {
                Ok(mut items) => item = c.fresh(items.remove(&c.car)),
                Err(e) => {
                    store_error(m, "reload car", &e);
                    return Err(Failure::of(e));
                }
            }
        }
        let Folded {
            mut next,
            rep,
            newest: rr,
            windows,
        } = c.fold(&item, *newest, m);
        if next == item && item.version > 0 {
            // Nothing new (a redelivered batch): no write, no write units.
            m.count("cars_unchanged_total", 1);
            *newest = rr;
            return Ok((next, rep));
        }
        check_size(c.race_id, &next, m)?;
        if Instant::now() + cfg.reserve >= c.deadline {
            m.count("deadline_exceeded_total", 1);
            return Err(Failure::Retry);
        }
        match store
            .save_car(c.race_id, &next, call_deadline(c.deadline, cfg.reserve))
            .await
        {
            Ok(Saved::Ok {
                item_bytes,
                write_units,
            }) => {
                count_written(m, item_bytes, write_units, &rep, windows);
                *newest = rr;
                next.version += 1;
                return Ok((next, rep));
            }
            Ok(Saved::Conflict) => continue,
            Err(e) => {
                store_error(m, "save car", &e);
                return Err(Failure::of(e));
            }
        }
    }
    Err(Failure::Retry)
}

impl Failure {
    /// A store error: retryable, or refused for good (`store_refused`).
    fn of(e: PortError) -> Failure {
        match e {
            PortError::Retryable(_) => Failure::Retry,
            PortError::Permanent(why) => Failure::Refused {
                code: "store_refused",
                detail: why,
            },
        }
    }
}

/// Refuses an item over [`CAR_ITEM_MAX_BYTES`] before DynamoDB does: counted
/// (`car_items_too_large_total`) and logged with the car and its size.
fn check_size(race_id: &str, next: &CarItem, m: &mut MetricSet) -> Result<(), Failure> {
    let blob = blob_len(next).map_err(Failure::of)?;
    let bytes = car_item_bytes(race_id, next, blob);
    if bytes <= CAR_ITEM_MAX_BYTES {
        return Ok(());
    }
    m.count("car_items_too_large_total", 1);
    let detail = format!(
        "car {} of race {race_id} would be stored as {bytes} bytes, over the limit of \
         {CAR_ITEM_MAX_BYTES} (DynamoDB refuses items over 400 KB): the batch's samples of \
         the car are set aside, its stored state is kept",
        next.state.car
    );
    log(
        "error",
        "car item too large",
        None,
        &[
            ("race", json!(race_id)),
            ("car", json!(next.state.car.as_str())),
            ("bytes", json!(bytes)),
            ("limit", json!(CAR_ITEM_MAX_BYTES)),
        ],
    );
    Err(Failure::Refused {
        code: "car_item_too_large",
        detail,
    })
}

/// One fold of a car onto a copy of its item.
struct Folded {
    /// The item after the fold, its outbox bounded.
    next: CarItem,
    rep: FoldReport,
    /// The race's newest `ts` after the fold.
    newest: Newest,
    /// Windows the fold closed.
    windows: usize,
}

impl Commit<'_> {
    /// The item as read (a car never stored: a new one), less the outbox entries the
    /// writer has acknowledged.
    fn fresh(&self, stored: Option<CarItem>) -> CarItem {
        let mut item = stored.unwrap_or_else(|| self.race.new_car(self.car));
        if let Some(acked) = self.acked {
            item.outbox.retain(|u| u.seq > acked);
        }
        item
    }

    /// Folds the samples (and for a silent car, closes its windows up to the boundary)
    /// into a copy of `item`; the closed windows join its outbox, which keeps the
    /// newest `outbox_max` (the older ones are dropped and counted).
    fn fold(&self, item: &CarItem, mut newest: Newest, m: &mut MetricSet) -> Folded {
        let cfg = self.cfg;
        let mut next = item.clone();
        let mut out = Vec::new();
        let ctx = self.race.race.ctx(
            cfg.engine.window_ms,
            &cfg.params,
            self.correction,
            None,
            None,
        );
        let rep = fold_car(
            self.race,
            &mut next,
            self.samples,
            &ctx,
            &cfg.engine,
            &mut newest,
            &mut out,
        );
        if let Some(b) = self.sweep {
            close_silent(self.race, &mut next, b, &ctx, &mut out);
        }
        let windows = out.len();
        next.outbox.extend(out);
        if next.outbox.len() > cfg.outbox_max {
            let drop = next.outbox.len() - cfg.outbox_max;
            next.outbox.drain(..drop);
            m.count("updates_dropped_total", drop as u64);
        }
        Folded {
            next,
            rep,
            newest,
            windows,
        }
    }
}

/// The counters of a car written: its cost, its size and what its fold did.
fn count_written(
    m: &mut MetricSet,
    item_bytes: usize,
    write_units: f64,
    rep: &FoldReport,
    windows: usize,
) {
    m.add("write_units_total", Unit::Count, write_units);
    let max = m.get("car_item_bytes_max").unwrap_or(0.0);
    m.set(
        "car_item_bytes_max",
        Unit::Bytes,
        max.max(item_bytes as f64),
    );
    m.count("cars_written_total", 1);
    m.count("samples_total", rep.samples);
    m.count("samples_duplicate_total", rep.duplicates);
    m.count("samples_merged_total", rep.merged);
    m.count("samples_late_total", rep.late_samples);
    m.count("events_late_total", rep.late_events);
    m.count("events_applied_total", rep.events_applied);
    if rep.events_below_floor > 0 {
        m.count("events_below_floor_total", rep.events_below_floor);
    }
    m.count("windows_closed_total", windows as u64);
}

/// Writes the car's race-level summary when it changed (other shards read its figures
/// for `burn_index`; the race state its position). A failed write is counted, not fatal:
/// the car's next batch finds the stored summary stale and writes it again.
pub(crate) async fn update_summary<S: RaceStore>(
    store: &S,
    race: &mut StoredRace,
    race_id: &str,
    item: &CarItem,
    deadline: Instant,
    cfg: &ProcessorConfig,
    m: &mut MetricSet,
) {
    let car = item.state.car;
    let Some(summary) = changed_summary(race, item, (cfg.clock)()) else {
        return;
    };
    if let Err(e) = store
        .put_summary(race_id, car, &summary, call_deadline(deadline, cfg.reserve))
        .await
    {
        store_error(m, "put summary", &e);
        m.count("summary_write_failures_total", 1);
    }
    race.set_summary(car, summary);
}

/// The race's state for the dashboards, kept under [`RACE_STATE_MAX_BYTES`]
/// ([`fit_race_state`]): trimmed ones are counted (`race_states_trimmed_total`) and
/// logged with the race and the size.
pub(crate) fn race_state(race: &StoredRace, cfg: &ProcessorConfig, m: &mut MetricSet) -> RaceState {
    let mut state = race.state(cfg.engine.cant_make_it_pct);
    if let Some(bytes) = fit_race_state(&mut state) {
        m.count("race_states_trimmed_total", 1);
        log(
            "error",
            "race state over its limit: published without the drivers' names",
            None,
            &[
                ("race", json!(state.race_id)),
                ("bytes", json!(bytes)),
                ("limit", json!(RACE_STATE_MAX_BYTES)),
            ],
        );
    }
    state
}

/// The car's summary to write, stamped `now_ms` (the configured clock, which the silent-car
/// rule compares it with), or `None` when the race holds it already.
pub(crate) fn changed_summary(
    race: &StoredRace,
    item: &CarItem,
    now_ms: i64,
) -> Option<CarSummary> {
    let mut summary = summary_of(&item.state);
    if let Some(old) = race.summaries.get(&item.state.car) {
        summary.written_ms = old.written_ms;
        if *old == summary {
            return None;
        }
    }
    summary.written_ms = now_ms;
    Some(summary)
}

/// Counts and logs a failed call to the store.
pub(crate) fn store_error(m: &mut MetricSet, what: &str, e: &PortError) {
    m.count("store_errors_total", 1);
    if !e.is_retryable() {
        m.count("store_errors_permanent_total", 1);
    }
    log(
        "error",
        &format!("{what} failed"),
        None,
        &[("error", json!(e.to_string()))],
    );
}
