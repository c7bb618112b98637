//! A race as the store holds it (events, car summaries), and the per-car fold that both
//! functions run: race-control events, then samples, then `car_out`.
//!
//! The fold is the local engine's per-car logic (`burnbar_core::engine`), with the race
//! read from the store instead of memory: a car's events are applied once each (their
//! ids are kept in the car's item), a late flag acts from the car's first open window
//! with the flag the whole history puts there, and the field behind `burn_index` is the
//! other cars' stored figures.

use std::cell::RefCell;
use std::collections::BTreeMap;

use burnbar_core::car::{
    CarEventKind, CarState, Field, Insert, RaceCtx, WindowCorrection, WindowFeatures,
};
use burnbar_core::contract::{Channels, Event, EventKind};
use burnbar_core::decode::decode_line;
use burnbar_core::tracks::{self, EnginePackage};
use burnbar_core::update::round4;
use burnbar_core::{
    CarId, EngineConfig, Flag, FuelUpdate, ModelParams, RaceState, Record, Reject, RejectCode,
};

use crate::ports::{CarItem, CarSummary, RaceView, StoredEvent};

/// A stable id for a race-control event: its time and a hash of everything it says, so
/// the same event re-sent (under any sequence number) has the same id, and two different
/// events at one instant do not. FNV-1a over the decoded content, not the raw bytes: the
/// same event with other whitespace or key order is the same event.
pub fn event_id(e: &Event) -> String {
    let content = format!("{:?}", e.kind);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in content.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:015}#{h:016x}", e.ts)
}

/// The race a record belongs to: its own `race_id`, else the current race, else the
/// local engine's `unknown`.
pub fn race_of(event: &Event) -> Option<&str> {
    match &event.kind {
        EventKind::RaceStart(rs) => Some(rs.race_id.as_str()),
        _ => event.race_id.as_deref(),
    }
}

/// A stored event as the fold uses it.
#[derive(Debug, Clone, PartialEq)]
enum Act {
    Flag(Flag),
    PitIn(CarId),
    PitOut {
        car: CarId,
        fuel_added_gal: Option<f64>,
        full: Option<bool>,
    },
    CarOut(CarId),
    StageEnd(u32),
    Other,
}

/// The race: what `race_start` said, the events in time order, the cars' summaries.
#[derive(Debug, Clone)]
pub struct Race {
    pub id: String,
    pub track: String,
    pub length_mi: f64,
    pub package: EnginePackage,
    pub capacity_gal: f64,
    pub scheduled_laps: Option<u32>,
    pub drivers: BTreeMap<String, String>,
    pub start_cars: Vec<CarId>,
    start_ts: Option<i64>,
    events: Vec<(i64, String, Act)>,
    flags: Vec<(i64, Flag)>,
    pub summaries: BTreeMap<CarId, CarSummary>,
    /// Figures of every car, for [`Field::Figures`].
    figures: BTreeMap<CarId, Vec<(i64, f64)>>,
    /// Stored events that no longer decode (a contract change between versions):
    /// skipped, and counted by the caller.
    pub undecodable: usize,
}

impl Race {
    /// Interprets the stored view. Race control defaults (track, capacity) apply until
    /// its `race_start` is stored, as in the local engine.
    pub fn from_view(view: &RaceView) -> Race {
        let t = &tracks::DEFAULT_TRACK;
        let mut race = Race {
            id: view.race_id.clone(),
            track: t.key.to_owned(),
            length_mi: t.length_mi,
            package: t.package,
            capacity_gal: 20.0,
            scheduled_laps: None,
            drivers: BTreeMap::new(),
            start_cars: Vec::new(),
            start_ts: None,
            events: Vec::new(),
            flags: Vec::new(),
            summaries: view.summaries.clone(),
            figures: view
                .summaries
                .iter()
                .map(|(c, s)| (*c, s.figures.clone()))
                .collect(),
            undecodable: 0,
        };
        if let Some(start) = &view.start {
            match decode_line(start.line.as_bytes()) {
                Ok(Record::Event(Event {
                    ts,
                    kind: EventKind::RaceStart(rs),
                    ..
                })) => {
                    let track = tracks::lookup_or_default(&rs.track);
                    race.track = rs.track.clone();
                    race.length_mi = rs.track_length_mi.unwrap_or(track.length_mi);
                    race.package = track.package;
                    race.capacity_gal = rs.fuel_capacity_gal.unwrap_or(20.0);
                    race.scheduled_laps = rs.scheduled_laps;
                    race.drivers = rs
                        .drivers
                        .iter()
                        .map(|(c, n)| (c.as_str().to_owned(), n.clone()))
                        .collect();
                    race.start_cars = rs.cars.clone();
                    race.start_ts = Some(ts);
                }
                _ => race.undecodable += 1,
            }
        }
        for ev in &view.events {
            let act = match decode_line(ev.line.as_bytes()) {
                Ok(Record::Event(e)) => match e.kind {
                    EventKind::Flag { flag, .. } => Act::Flag(flag),
                    EventKind::PitIn { car, .. } => Act::PitIn(car),
                    EventKind::PitOut {
                        car,
                        fuel_added_gal,
                        full,
                        ..
                    } => Act::PitOut {
                        car,
                        fuel_added_gal,
                        full,
                    },
                    EventKind::CarOut { car, .. } => Act::CarOut(car),
                    EventKind::StageEnd { stage, .. } => Act::StageEnd(stage),
                    EventKind::Incident { .. } | EventKind::RaceStart(_) => Act::Other,
                },
                _ => {
                    race.undecodable += 1;
                    continue;
                }
            };
            if let Act::Flag(f) = act {
                race.flags.push((ev.ts, f));
            }
            race.events.push((ev.ts, ev.id.clone(), act));
        }
        race.events.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        race.flags.sort_by_key(|&(ts, _)| ts);
        race
    }

    /// The newest event time of the race.
    pub fn newest_event_ts(&self) -> Option<i64> {
        self.events.iter().map(|e| e.0).chain(self.start_ts).max()
    }

    /// The race's newest `ts` as stored (its events and every car's newest sample, from
    /// the cars' summaries): the reference of `ts_in_future`, whichever shards the cars
    /// are on.
    pub fn newest_ts(&self) -> Option<i64> {
        self.summaries
            .values()
            .filter_map(|s| s.last_ts)
            .chain(self.newest_event_ts())
            .max()
    }

    /// The silent-car rule across shards: the boundary (the race's newest sample as the
    /// cars' summaries tell it, less `silent_ms`, on a window edge) and the cars to close
    /// up to it. A car is taken for silent when its newest sample is before the boundary,
    /// it still holds samples in open windows, and its summary has not been written for
    /// `quiet_ms` of wall time (a car whose shard is only behind keeps committing). Cars
    /// in `busy` (this invocation's own) close by their own samples.
    pub fn silent_cars(
        &self,
        cfg: &EngineConfig,
        now_ms: i64,
        quiet_ms: i64,
        busy: &BTreeMap<CarId, Vec<usize>>,
    ) -> Option<(i64, Vec<CarId>)> {
        let newest = self.summaries.values().filter_map(|s| s.last_ts).max()?;
        let w = cfg.window_ms;
        let boundary = newest.saturating_sub(cfg.silent_ms).div_euclid(w) * w;
        let cars: Vec<CarId> = self
            .summaries
            .iter()
            .filter(|(c, s)| {
                s.open
                    && !s.retired
                    && s.last_ts.is_some_and(|t| t < boundary)
                    && now_ms.saturating_sub(s.written_ms) >= quiet_ms
                    && !busy.contains_key(c)
                    && !self.car_out(**c)
            })
            .map(|(c, _)| *c)
            .collect();
        (!cars.is_empty()).then_some((boundary, cars))
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

    /// Whether race control has taken the car out.
    pub fn car_out(&self, car: CarId) -> bool {
        self.events.iter().any(|e| e.2 == Act::CarOut(car))
    }

    /// A car never stored starts full of this race's cell.
    pub fn new_car(&self, car: CarId) -> CarItem {
        CarItem::new(CarState::new(car, self.capacity_gal))
    }

    /// The context for closing windows.
    pub fn ctx<'a>(
        &'a self,
        window_ms: i64,
        params: &'a ModelParams,
        correction: Option<&'a dyn WindowCorrection>,
        features: Option<&'a RefCell<Vec<WindowFeatures>>>,
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
            model: None,
        }
    }

    /// The other cars' figures for `burn_index`.
    pub fn field(&self) -> Field<'_> {
        Field::Figures(&self.figures)
    }

    /// Replaces a car's summary after its state changed (this invocation's view).
    pub fn set_summary(&mut self, car: CarId, s: CarSummary) {
        self.figures.insert(car, s.figures.clone());
        self.summaries.insert(car, s);
    }

    /// The dashboard's view of the race.
    pub fn state(&self) -> RaceState {
        let running = self
            .summaries
            .iter()
            .filter(|(c, s)| !s.retired && !self.car_out(**c));
        let leader_lap = running.clone().map(|(_, s)| s.pos).fold(0.0, f64::max);
        let mut cars: Vec<CarId> = self.start_cars.clone();
        cars.extend(self.summaries.keys().copied());
        cars.sort();
        cars.dedup();
        let cars_running = cars.iter().filter(|c| !self.car_out(**c)).count() as u32;
        let stage = self
            .events
            .iter()
            .filter_map(|e| match e.2 {
                Act::StageEnd(s) => Some(s + 1),
                _ => None,
            })
            .fold(1, u32::max);
        let changed = self
            .events
            .iter()
            .filter(|e| matches!(e.2, Act::Flag(_) | Act::StageEnd(_) | Act::CarOut(_)))
            .map(|e| e.0)
            .chain(self.start_ts)
            .max()
            .unwrap_or(0);
        RaceState {
            v: 1,
            race_id: self.id.clone(),
            track: self.track.clone(),
            ts: changed,
            flag: self.flag_at(i64::MAX),
            stage,
            leader_lap: round4(leader_lap),
            scheduled_laps: self.scheduled_laps,
            laps_to_go: self
                .scheduled_laps
                .map(|s| round4((s as f64 - leader_lap).max(0.0))),
            cars_running,
            drivers: self.drivers.clone(),
        }
    }
}

/// One sample for the fold (the record it came in is the caller's business).
#[derive(Debug, Clone, Copy)]
pub struct CarSample {
    pub ts: i64,
    pub ch: Channels,
}

/// What folding a car's batch did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FoldReport {
    pub samples: u64,
    pub duplicates: u64,
    pub merged: u64,
    pub late_samples: u64,
    pub late_events: u64,
    pub events_applied: u64,
    /// Samples rejected by the race-level rules (`ts_in_future`), by sample index.
    pub rejected: Vec<(usize, Reject)>,
}

/// Folds one car's samples (in arrival order) into its item: first the race-control
/// events it has not seen, then the samples (closing windows as the watermark moves),
/// then a `car_out`. Closed windows go to `out`. `race_ref` is the race's newest `ts`
/// (for `ts_in_future`) and moves with accepted samples.
pub fn fold_car(
    race: &Race,
    item: &mut CarItem,
    samples: &[CarSample],
    ctx: &RaceCtx,
    cfg: &EngineConfig,
    race_ref: &mut Option<i64>,
    out: &mut Vec<FuelUpdate>,
) -> FoldReport {
    let mut rep = FoldReport::default();
    let field = race.field();
    let car = item.state.car;
    let mut car_out = None;
    for (ts, id, act) in &race.events {
        let mine = match act {
            Act::Flag(_) => true,
            Act::PitIn(c) | Act::PitOut { car: c, .. } | Act::CarOut(c) => *c == car,
            Act::StageEnd(_) | Act::Other => false,
        };
        if !mine {
            continue;
        }
        let Err(at) = item.applied.binary_search(id) else {
            continue;
        };
        if let Act::CarOut(_) = act {
            // Acts after this batch's samples, which came before it was seen.
            car_out = Some((at, id.clone()));
            continue;
        }
        item.applied.insert(at, id.clone());
        rep.events_applied += 1;
        let st = &mut item.state;
        if st.retired {
            continue;
        }
        let late = match *act {
            Act::Flag(flag) => {
                let eff = (*ts).max(st.closed_through);
                let f = if eff > *ts { race.flag_at(eff) } else { flag };
                st.push_event(*ts, CarEventKind::Flag(f))
            }
            Act::PitIn(_) => st.push_event(*ts, CarEventKind::PitIn),
            Act::PitOut {
                fuel_added_gal,
                full,
                ..
            } => st.push_event(
                *ts,
                CarEventKind::PitOut {
                    fuel_added_gal,
                    full,
                },
            ),
            _ => false,
        };
        if late {
            rep.late_events += 1;
        }
    }
    let st = &mut item.state;
    for (i, s) in samples.iter().enumerate() {
        if let Some(max) = *race_ref
            && s.ts > max.saturating_add(cfg.future_ms)
        {
            rep.rejected.push((
                i,
                Reject::new(
                    RejectCode::TsInFuture,
                    Some("ts"),
                    format!(
                        "{} is {} ms past the newest ts of race {} (limit {} ms)",
                        s.ts,
                        s.ts - max,
                        race.id,
                        cfg.future_ms
                    ),
                ),
            ));
            continue;
        }
        rep.samples += 1;
        *race_ref = Some(race_ref.map_or(s.ts, |m| m.max(s.ts)));
        if st.is_late(s.ts) {
            rep.late_samples += 1;
            continue;
        }
        match st.insert(s.ts, &s.ch) {
            Insert::New => {}
            Insert::Duplicate => rep.duplicates += 1,
            Insert::Merged => rep.merged += 1,
        }
        let watermark = st.max_ts.unwrap_or(s.ts) - cfg.lateness_ms;
        st.close_until(watermark, ctx, &field, out);
    }
    if let Some((_, id)) = car_out {
        let at = item.applied.binary_search(&id).unwrap_err();
        item.applied.insert(at, id);
        rep.events_applied += 1;
        if !item.state.retired {
            item.state.flush(ctx, &field, out);
            item.state.retired = true;
        }
    }
    rep
}

/// Closes a silent car's windows that end at or before `boundary` (after [`fold_car`]
/// has applied its race-control events).
pub fn close_silent(
    race: &Race,
    item: &mut CarItem,
    boundary: i64,
    ctx: &RaceCtx,
    out: &mut Vec<FuelUpdate>,
) {
    if !item.state.retired {
        item.state.close_until(boundary, ctx, &race.field(), out);
    }
}

/// A car's summary from its state (`written_ms` is set when it is written).
pub fn summary_of(state: &CarState) -> CarSummary {
    CarSummary {
        figures: state.recent_green_figures(),
        pos: round4(state.arrival_pos),
        retired: state.retired,
        last_ts: state.max_ts,
        open: state.has_open_windows(),
        written_ms: 0,
    }
}

/// Builds a [`StoredEvent`] from a decoded event and its line.
pub fn stored(e: &Event, line: &[u8]) -> StoredEvent {
    StoredEvent {
        ts: e.ts,
        id: event_id(e),
        line: String::from_utf8_lossy(line).trim().to_owned(),
    }
}
