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

/// Most distinct cars a race takes (`telemetry-v1`, "Limits"): a Cup field is 40, and
/// every car costs state, a summary and a share of each RaceState; a stream of made-up
/// car ids must not grow them without end.
pub const MAX_CARS: usize = 200;

/// How long after its `race_start` a race-control event may be stamped (`telemetry-v1`,
/// "Limits"): a race suspended overnight still resumes; a flag stamped years ahead does
/// not become the race's newest change.
pub const EVENT_HORIZON_MS: i64 = 72 * 3_600_000;

/// How far past the wall clock a record may be stamped (the functions' horizon; the
/// contract's `ts_in_future` rules compare with the race's own newest `ts`, which a
/// race's first record sets). 5 minutes: far above any clock a producer keeps by NTP and
/// the time a record spends on its way, so a live feed is never refused for its clock;
/// a record stamped further ahead (the year 9999, a clock set a day wrong) would set the
/// race's newest `ts`, its car's watermark, the RaceState `ts` and the current-race
/// pointer, which only move forward, so one record would make the rest of the race late
/// or refused. The damage a record within the horizon can do lasts at most this long.
/// Local replays of files have no wall clock and do not apply it.
pub const CLOCK_FUTURE_MS: i64 = 5 * 60_000;

/// Admits a record stamped `ts` when the wall clock reads `now_ms`, or rejects it as
/// `ts_in_future` ([`CLOCK_FUTURE_MS`]).
pub fn admit_by_clock(ts: i64, now_ms: i64) -> Result<(), Reject> {
    if ts > now_ms.saturating_add(CLOCK_FUTURE_MS) {
        return Err(Reject::new(
            RejectCode::TsInFuture,
            Some("ts"),
            format!(
                "{ts} is {} s past the wall clock ({now_ms}; limit {} s)",
                (ts - now_ms) / 1000,
                CLOCK_FUTURE_MS / 1000
            ),
        ));
    }
    Ok(())
}

/// Admits a car the race has not seen, when it already holds `known` cars.
pub fn admit_new_car(race_id: &str, car: CarId, known: usize) -> Result<(), Reject> {
    if known >= MAX_CARS {
        return Err(Reject::new(
            RejectCode::TooManyCars,
            Some("car"),
            format!(
                "car {car} would be car {} of race {race_id} (limit {MAX_CARS})",
                known + 1
            ),
        ));
    }
    Ok(())
}

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
    flags: Vec<FlagChange>,
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
    /// `race_start` moves the race's newest `ts`, a repeated one too. An event stamped
    /// more than [`EVENT_HORIZON_MS`] after the race's `race_start` is refused as
    /// `ts_in_future`, changing nothing.
    pub fn apply(&mut self, e: &Event) -> Result<bool, Reject> {
        if let EventKind::RaceStart(rs) = &e.kind {
            if self.started() {
                return Ok(false);
            }
            self.start(e.ts, rs);
            return Ok(true);
        }
        if let Some(start) = self.started
            && e.ts > start.saturating_add(EVENT_HORIZON_MS)
        {
            return Err(Reject::new(
                RejectCode::TsInFuture,
                Some("ts"),
                format!(
                    "{} is {} h after the race_start of race {} (limit 72 h)",
                    e.ts,
                    (e.ts - start) / 3_600_000,
                    self.id
                ),
            ));
        }
        self.newest.see(e.ts);
        if !self.seen.insert(EventKey::of(e)) {
            return Ok(false);
        }
        match &e.kind {
            EventKind::Flag { flag, lap } => {
                let at = self.flags.partition_point(|f| f.ts <= e.ts);
                let change = FlagChange {
                    ts: e.ts,
                    flag: *flag,
                    lap: *lap,
                };
                self.flags.insert(at, change);
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
        Ok(true)
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
        flag_in_force(&self.flags, ts)
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
                tires,
                box_s,
                ..
            } if c == car.car => Some(CarEventKind::PitOut {
                fuel_added_gal,
                full,
                tires,
                box_s,
            }),
            _ => None,
        }
    }

    /// A car first seen now: full of this race's cell, with every flag so far.
    pub fn new_car(&self, car: CarId) -> CarState {
        let mut state = CarState::new(car, self.capacity_gal);
        for f in &self.flags {
            state.push_event(f.ts, CarEventKind::Flag(f.flag));
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
            flags: &self.flags,
            window_ms,
            params,
            track_var: params.off_track_var(&self.track, self.package),
            correction,
            features,
            model,
        }
    }

    /// The dashboard's view of the race, from the cars the caller knows (the cars
    /// `race_start` named count as known). Cars race control took out are not running:
    /// they neither lead nor count in the field's fuel per green lap. A race no event
    /// has changed yet (`unknown`) reports its newest data as `ts`.
    pub fn state(
        &self,
        cars: impl IntoIterator<Item = Standing>,
        cant_make_it_pct: f64,
    ) -> RaceState {
        let mut known: BTreeSet<CarId> = self.start_cars.iter().copied().collect();
        let mut positions = Vec::new();
        let mut per_lap = Vec::new();
        for s in cars {
            known.insert(s.car);
            if !self.is_out(s.car) {
                positions.extend(s.pos);
                per_lap.extend(s.fuel_per_green_lap);
            }
        }
        let leader_lap = leader_lap(positions, flag_lap(&self.flags, i64::MAX));
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
            fuel_window_lap: self.fuel_window_lap(per_lap),
            cant_make_it_pct,
            cars_running: known.iter().filter(|c| !self.is_out(**c)).count() as u32,
            drivers: self.drivers.clone(),
        }
    }

    /// The leader's lap from which a full cell reaches the finish: the scheduled
    /// distance less a cell's worth of laps at the field's median fuel per green lap;
    /// null while fewer than three cars have a figure or the distance is unknown.
    fn fuel_window_lap(&self, mut per_lap: Vec<f64>) -> Option<f64> {
        let sched = f64::from(self.scheduled_laps?);
        if per_lap.len() < 3 {
            return None;
        }
        per_lap.sort_by(f64::total_cmp);
        let median = crate::stats::median_sorted(&per_lap);
        (median > 0.0).then(|| (sched - self.capacity_gal / median).max(0.0))
    }
}

/// A flag event as the race keeps it: when, which flag, and the leader's lap race
/// control gave with it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlagChange {
    pub ts: i64,
    pub flag: Flag,
    pub lap: Option<u16>,
}

/// Which race each race-control event of a feed belongs to (`telemetry-v1`, "Which
/// race"): the one it names; else the race of the latest `race_start` before it; else
/// [`UNKNOWN_RACE`]. For whoever routes a feed's lines by race without a race's state
/// (the bridge, the rehearsal).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct EventRaces {
    current: Option<String>,
}

impl EventRaces {
    /// The race of an event of `kind` naming `race_id`; a `race_start` becomes the
    /// race of the events after it that name none.
    pub fn race_of(&mut self, kind: &EventKind, race_id: Option<String>) -> String {
        match (kind, race_id) {
            (EventKind::RaceStart(rs), _) => {
                self.current = Some(rs.race_id.clone());
                rs.race_id.clone()
            }
            (_, Some(id)) => id,
            (_, None) => self
                .current
                .clone()
                .unwrap_or_else(|| UNKNOWN_RACE.to_owned()),
        }
    }
}

/// The flag in force at `ts` by `flags` (in `ts` order; green before the first).
pub fn flag_in_force(flags: &[FlagChange], ts: i64) -> Flag {
    let i = flags.partition_point(|f| f.ts <= ts);
    i.checked_sub(1).map_or(Flag::Green, |i| flags[i].flag)
}

/// Race control's word on the leader's lap before `t` (a window's end): the lap of the
/// newest flag event that gave one. A flag without a lap does not take the leader back.
pub fn flag_lap(flags: &[FlagChange], t: i64) -> Option<f64> {
    let i = flags.partition_point(|f| f.ts < t);
    flags[..i].iter().rev().find_map(|f| f.lap).map(f64::from)
}

/// What the RaceState reads of one car: its latest position (none before it sent a
/// lap: a car not yet placed does not make the leader a lone car) and its fuel per green
/// lap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Standing {
    pub car: CarId,
    pub pos: Option<f64>,
    pub fuel_per_green_lap: Option<f64>,
}

/// How far ahead of every other running car one car may be before its position is
/// taken for a bad sample (`fuel-update-v1`, "Leader's lap"): a real leader laps the
/// field at most a lap or so in a Cup race; one sample with a wild lap must not end the
/// race for everyone.
pub const LONE_LEADER_LAPS: f64 = 2.0;

/// The leader's lap (`fuel-update-v1`): the largest of the running cars' positions,
/// ignoring a car more than [`LONE_LEADER_LAPS`] ahead of every other, and at least the
/// lap race control gave with its latest flag.
pub fn leader_lap(positions: impl IntoIterator<Item = f64>, flag_lap: Option<f64>) -> f64 {
    let (mut first, mut second) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    for p in positions {
        if p > first {
            second = first;
            first = p;
        } else if p > second {
            second = p;
        }
    }
    let lead = if second.is_finite() && first - second > LONE_LEADER_LAPS {
        second
    } else {
        first
    };
    lead.max(flag_lap.unwrap_or(0.0)).max(0.0)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_belongs_to_the_race_it_names_else_to_the_latest_race_start() {
        let mut races = EventRaces::default();
        let flag = EventKind::Flag {
            flag: Flag::Yellow,
            lap: None,
        };
        assert_eq!(
            races.race_of(&flag, None),
            UNKNOWN_RACE,
            "before any race_start"
        );
        let start = |id: &str| {
            EventKind::RaceStart(RaceStart {
                race_id: id.to_owned(),
                track: "pocono".to_owned(),
                track_length_mi: None,
                scheduled_laps: None,
                fuel_capacity_gal: None,
                cars: Vec::new(),
                drivers: Vec::new(),
            })
        };
        assert_eq!(races.race_of(&start("a"), Some("other".into())), "a");
        assert_eq!(races.race_of(&flag, None), "a");
        assert_eq!(
            races.race_of(&flag, Some("b".into())),
            "b",
            "the race it names"
        );
        assert_eq!(
            races.race_of(&flag, None),
            "a",
            "naming one does not move it"
        );
        races.race_of(&start("c"), None);
        assert_eq!(races.race_of(&flag, None), "c");
    }

    #[test]
    fn the_clock_horizon_admits_a_skewed_clock_and_refuses_the_far_future() {
        let now = 1_796_400_000_000;
        assert!(admit_by_clock(now - 3_600_000, now).is_ok(), "the past");
        assert!(
            admit_by_clock(now + CLOCK_FUTURE_MS, now).is_ok(),
            "at the horizon"
        );
        let r = admit_by_clock(now + CLOCK_FUTURE_MS + 1, now).unwrap_err();
        assert_eq!((r.code, r.field), (RejectCode::TsInFuture, Some("ts")));
        assert!(r.detail.contains("past the wall clock"), "{}", r.detail);
        let r = admit_by_clock(crate::decode::MAX_TS, now).unwrap_err();
        assert_eq!(r.code, RejectCode::TsInFuture);
    }
}
