//! A race's own rules, written once for the local engine and the Lambda functions: what
//! `race_start` says, the flag history, the stage, the cars race control took out, which
//! events were applied already, the reference time of `ts_in_future`, what an event does
//! to one car, and the `RaceState` dashboards show.
//!
//! Pure and storage-free: the engine keeps one [`Race`] per race in memory and applies
//! events as they arrive; the pipeline rebuilds one from the stored events at every
//! invocation and adds only storage around it.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::car::{
    CarEventKind, CarState, Field, Insert, RaceCtx, WindowCorrection, WindowFeatures,
};
use crate::contract::{CarId, Channels, Event, EventKind, Flag, RaceStart, Reject, RejectCode};
use crate::correction::CorrectionModel;
use crate::engine::EngineConfig;
use crate::event_key::EventKey;
use crate::model::ModelParams;
use crate::tracks::{self, EnginePackage};
use crate::update::{FuelUpdate, RaceState};

/// The race of records that name none and follow no `race_start`.
pub const UNKNOWN_RACE: &str = "unknown";

/// A fuel cell's size when `race_start` gives none (`telemetry-v1`).
pub const DEFAULT_CAPACITY_GAL: f64 = 20.0;

/// One race: its parameters (defaults until its `race_start`), its flag history, its
/// stage, the cars taken out, the events applied, and its newest `ts`.
#[derive(Debug, Clone)]
pub struct Race {
    pub id: String,
    pub track: String,
    pub length_mi: f64,
    pub package: EnginePackage,
    pub capacity_gal: f64,
    pub scheduled_laps: Option<u32>,
    pub drivers: BTreeMap<String, String>,
    /// The cars `race_start` named.
    pub start_cars: Vec<CarId>,
    /// The newest `ts` of the race's samples and events: the reference of `ts_in_future`.
    pub newest: Newest,
    /// `ts` of the `race_start`, once applied.
    started: Option<i64>,
    /// Every flag so far, in `ts` order (a car first seen late gets them all).
    flags: Vec<(i64, Flag)>,
    /// The leader's lap of the newest flag event that gave one (`ts`, lap): race control's
    /// word on the leader's lap (`fuel-update-v1`, "Leader's lap").
    flag_lap: Option<(i64, u16)>,
    stage: u32,
    /// Cars race control took out.
    out: BTreeSet<CarId>,
    /// Event time of the newest change (`race_start`, flag, stage end, car out).
    changed_ts: Option<i64>,
    /// Events applied (other than `race_start`), so that one delivered again changes
    /// nothing while two different events at one instant both count.
    seen: HashSet<EventKey>,
}

impl Race {
    /// A race no `race_start` has described yet: default track and cell.
    pub fn new(id: &str) -> Race {
        let t = &tracks::DEFAULT_TRACK;
        Race {
            id: id.to_owned(),
            track: t.key.to_owned(),
            length_mi: t.length_mi,
            package: t.package,
            capacity_gal: DEFAULT_CAPACITY_GAL,
            scheduled_laps: None,
            drivers: BTreeMap::new(),
            start_cars: Vec::new(),
            newest: Newest::default(),
            started: None,
            flags: Vec::new(),
            flag_lap: None,
            stage: 1,
            out: BTreeSet::new(),
            changed_ts: None,
            seen: HashSet::new(),
        }
    }

    /// Whether the race's `race_start` has been applied.
    pub fn started(&self) -> bool {
        self.started.is_some()
    }

    /// Applies a race-control event to the race itself (not to its cars: see
    /// [`Race::car_event`]). Returns false, changing nothing else, for an event already
    /// applied (redelivery is normal) or a second `race_start`. Any event but a
    /// `race_start` moves the race's newest `ts`, a repeated one too.
    pub fn apply(&mut self, e: &Event) -> bool {
        if let EventKind::RaceStart(rs) = &e.kind {
            if self.started() {
                return false;
            }
            self.start(e.ts, rs);
            return true;
        }
        self.newest.see(e.ts);
        if !self.seen.insert(EventKey::of(e)) {
            return false;
        }
        match &e.kind {
            EventKind::Flag { flag, lap } => {
                let at = self.flags.partition_point(|&(ts, _)| ts <= e.ts);
                self.flags.insert(at, (e.ts, *flag));
                if let Some(lap) = *lap
                    && self.flag_lap.is_none_or(|(ts, _)| ts <= e.ts)
                {
                    self.flag_lap = Some((e.ts, lap));
                }
                self.changed(e.ts);
            }
            EventKind::StageEnd { stage, .. } => {
                self.stage = self.stage.max(stage + 1);
                self.changed(e.ts);
            }
            EventKind::CarOut { car, .. } => {
                self.out.insert(*car);
                self.changed(e.ts);
            }
            EventKind::PitIn { .. } | EventKind::PitOut { .. } | EventKind::Incident { .. } => {}
            EventKind::RaceStart(_) => unreachable!("handled above"),
        }
        true
    }

    fn start(&mut self, ts: i64, rs: &RaceStart) {
        let track = tracks::lookup_or_default(&rs.track);
        self.track.clone_from(&rs.track);
        self.length_mi = rs.track_length_mi.unwrap_or(track.length_mi);
        self.package = track.package;
        self.capacity_gal = rs.fuel_capacity_gal.unwrap_or(DEFAULT_CAPACITY_GAL);
        self.scheduled_laps = rs.scheduled_laps;
        self.drivers = rs
            .drivers
            .iter()
            .map(|(c, n)| (c.as_str().to_owned(), n.clone()))
            .collect();
        self.start_cars.clone_from(&rs.cars);
        self.started = Some(ts);
        self.changed(ts);
        self.newest.see(ts);
    }

    fn changed(&mut self, ts: i64) {
        self.changed_ts = Some(self.changed_ts.map_or(ts, |c| c.max(ts)));
    }

    /// The flag in force at `ts` by the race's history (green before the first).
    pub fn flag_at(&self, ts: i64) -> Flag {
        let i = self.flags.partition_point(|&(t, _)| t <= ts);
        if i == 0 {
            Flag::Green
        } else {
            self.flags[i - 1].1
        }
    }

    /// The flags so far, in `ts` order.
    pub fn flags(&self) -> &[(i64, Flag)] {
        &self.flags
    }

    /// Whether race control has taken the car out.
    pub fn is_out(&self, car: CarId) -> bool {
        self.out.contains(&car)
    }

    /// What a race-control event (already [applied](Race::apply) to the race) does to
    /// one car: the event to push into its state, if any. A retired car gets nothing. A
    /// flag acts for every car: for one whose windows around `ts` have closed it acts from
    /// its first open window, with the flag the whole history puts there (a late, older
    /// flag must not override a newer one already applied). `car_out` is the caller's:
    /// it closes the car's windows and retires it.
    pub fn car_event(&self, ts: i64, kind: &EventKind, car: &CarState) -> Option<CarEventKind> {
        if car.retired {
            return None;
        }
        match *kind {
            EventKind::Flag { flag, .. } => {
                let at = ts.max(car.closed_through);
                Some(CarEventKind::Flag(if at > ts {
                    self.flag_at(at)
                } else {
                    flag
                }))
            }
            EventKind::PitIn { car: c, .. } if c == car.car => Some(CarEventKind::PitIn),
            EventKind::PitOut {
                car: c,
                fuel_added_gal,
                full,
                ..
            } if c == car.car => Some(CarEventKind::PitOut {
                fuel_added_gal,
                full,
            }),
            _ => None,
        }
    }

    /// A car first seen now: full of this race's cell, with every flag so far.
    pub fn new_car(&self, car: CarId) -> CarState {
        let mut state = CarState::new(car, self.capacity_gal);
        for &(ts, flag) in &self.flags {
            state.push_event(ts, CarEventKind::Flag(flag));
        }
        state
    }

    /// The context a car's windows close in.
    pub fn ctx<'a>(
        &'a self,
        window_ms: i64,
        params: &'a ModelParams,
        correction: Option<&'a dyn WindowCorrection>,
        features: Option<&'a RefCell<Vec<WindowFeatures>>>,
        model: Option<&'a CorrectionModel>,
    ) -> RaceCtx<'a> {
        RaceCtx {
            race_id: &self.id,
            length_mi: self.length_mi,
            package: self.package,
            capacity_gal: self.capacity_gal,
            scheduled_laps: self.scheduled_laps,
            window_ms,
            params,
            correction,
            features,
            model,
        }
    }

    /// The dashboard's view of the race, from the positions `(car, lap + lap_frac)` of
    /// the cars the caller knows (the cars `race_start` named count as known). Cars race
    /// control took out are not running and do not lead. A race no event has changed yet
    /// (`unknown`) reports its newest data as `ts`. The leader's lap is at least the lap of
    /// the newest flag event that gives one.
    pub fn state(&self, cars: impl IntoIterator<Item = (CarId, f64)>) -> RaceState {
        let mut known: BTreeSet<CarId> = self.start_cars.iter().copied().collect();
        let mut leader_lap = self.flag_lap.map_or(0.0, |(_, lap)| f64::from(lap));
        for (car, pos) in cars {
            known.insert(car);
            if !self.is_out(car) {
                leader_lap = leader_lap.max(pos);
            }
        }
        RaceState {
            v: 1,
            race_id: self.id.clone(),
            track: self.track.clone(),
            ts: self.changed_ts.or(self.newest.get()).unwrap_or(0),
            // The flag in force after the newest flag event.
            flag: self.flag_at(i64::MAX),
            stage: self.stage,
            leader_lap,
            scheduled_laps: self.scheduled_laps,
            laps_to_go: self
                .scheduled_laps
                .map(|s| (f64::from(s) - leader_lap).max(0.0)),
            cars_running: known.iter().filter(|c| !self.is_out(**c)).count() as u32,
            drivers: self.drivers.clone(),
        }
    }
}

/// A race's newest `ts` (samples and race-control events): a sample more than
/// `future_ms` past it is rejected as `ts_in_future`, so one bad clock cannot make the
/// rest of a race late.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Newest(Option<i64>);

impl Newest {
    pub fn get(self) -> Option<i64> {
        self.0
    }

    /// Moves the newest `ts` forward to `ts` (never back).
    pub fn see(&mut self, ts: i64) {
        self.0 = Some(self.0.map_or(ts, |m| m.max(ts)));
    }

    /// Admits a sample of race `race_id` at `ts` (which then moves the newest `ts`), or
    /// rejects it as `ts_in_future`.
    pub fn admit(&mut self, race_id: &str, ts: i64, future_ms: i64) -> Result<(), Reject> {
        if let Some(max) = self.0
            && ts > max.saturating_add(future_ms)
        {
            return Err(Reject::new(
                RejectCode::TsInFuture,
                Some("ts"),
                format!(
                    "{ts} is {} ms past the newest ts of race {race_id} (limit {future_ms} ms)",
                    ts - max
                ),
            ));
        }
        self.see(ts);
        Ok(())
    }
}

/// Folds one admitted sample into its car: a sample for a window the car has closed is
/// late (`None`); else it is inserted (new, duplicate or merged) and every window the
/// car's watermark (its newest `ts` less the lateness) has passed closes into `out`.
pub fn fold_sample(
    car: &mut CarState,
    ts: i64,
    ch: &Channels,
    cfg: &EngineConfig,
    ctx: &RaceCtx,
    field: &Field,
    out: &mut Vec<FuelUpdate>,
) -> Option<Insert> {
    if car.is_late(ts) {
        return None;
    }
    let ins = car.insert(ts, ch);
    let watermark = car.max_ts.unwrap_or(ts) - cfg.lateness_ms;
    car.close_until(watermark, ctx, field, out);
    Some(ins)
}

/// The silent-car rule: windows end at most `silent_ms` before the race's newest
/// sample, on a window edge. Samples, not events: a car is silent against the other cars,
/// and a race-control clock that runs ahead (or the race-control stream running ahead of
/// telemetry, which Kinesis does not order against it) must not close anyone's windows.
pub fn silent_boundary(newest_sample_ts: i64, cfg: &EngineConfig) -> i64 {
    let w = cfg.window_ms;
    newest_sample_ts.saturating_sub(cfg.silent_ms).div_euclid(w) * w
}
