//! A race as the store holds it (events, car summaries), and the per-car fold that both
//! functions run: race-control events, then samples, then `car_out`.
//!
//! The race's rules are the core's ([`burnbar_core::race`]), the same the local engine
//! runs; this module adds what storage needs: the race rebuilt from its stored events at
//! every invocation, each event applied to a car once (its id kept in the car's item),
//! and the field behind `burn_index` read from the other cars' stored figures.

use std::collections::BTreeMap;

use burnbar_core::car::{CarState, Field, Insert, RaceCtx};
use burnbar_core::contract::{Channels, Event, EventKind};
use burnbar_core::decode::decode_line;
use burnbar_core::event_key::{EventKey, legacy_id};
use burnbar_core::race::{self, Newest, Race, Standing};
use burnbar_core::update::round4;
use burnbar_core::{CarId, EngineConfig, FuelUpdate, RaceState, Record, Reject};

use crate::ports::{CarItem, CarSummary, RaceView, StoredEvent};

/// The id an event is stored under ([`EventKey`]).
pub fn event_id(e: &Event) -> String {
    EventKey::of(e).id()
}

/// The race a record belongs to by its own fields (`None`: the current race).
pub fn race_of(event: &Event) -> Option<&str> {
    match &event.kind {
        EventKind::RaceStart(rs) => Some(rs.race_id.as_str()),
        _ => event.race_id.as_deref(),
    }
}

/// A stored event as the fold applies it to each car.
#[derive(Debug, Clone)]
struct StoredAct {
    ts: i64,
    /// The id this build applies it under.
    id: String,
    /// The id the previous format gave it: a car item written before a deploy lists
    /// the events it applied under those.
    legacy: String,
    kind: EventKind,
}

/// A race as stored: its rules rebuilt from the stored events, the events each car
/// still has to apply, and the cars' summaries.
#[derive(Debug, Clone)]
pub struct StoredRace {
    pub race: Race,
    /// Every event but `race_start`, each once, by `(ts, id)`.
    events: Vec<StoredAct>,
    pub summaries: BTreeMap<CarId, CarSummary>,
    /// Figures of every car and positions of the running cars, for [`Field::Stored`].
    figures: BTreeMap<CarId, Vec<(i64, f64)>>,
    positions: BTreeMap<CarId, f64>,
    /// Stored events that no longer decode (a contract change between versions):
    /// skipped, and counted by the caller.
    pub undecodable: usize,
}

impl StoredRace {
    /// Interprets the stored view. An event stored twice (under this build's id and the
    /// previous format's, after a deploy) counts once.
    pub fn from_view(view: &RaceView) -> StoredRace {
        let mut race = Race::new(&view.race_id);
        let mut undecodable = 0;
        if let Some(start) = &view.start {
            match decode_line(start.line.as_bytes()) {
                Ok(Record::Event(e)) if matches!(e.kind, EventKind::RaceStart(_)) => {
                    race.apply(&e)
                        .expect("a first race_start is always applied");
                }
                _ => undecodable += 1,
            }
        }
        let mut decoded: Vec<(EventKey, Event)> = Vec::with_capacity(view.events.len());
        for ev in &view.events {
            match decode_line(ev.line.as_bytes()) {
                // A race_start among the events is not this race's (that one is `start`).
                Ok(Record::Event(e)) if !matches!(e.kind, EventKind::RaceStart(_)) => {
                    decoded.push((EventKey::of(&e), e));
                }
                Ok(Record::Event(_)) => {}
                _ => undecodable += 1,
            }
        }
        decoded.sort_by_key(|(k, _)| *k);
        let mut events = Vec::with_capacity(decoded.len());
        for (key, e) in decoded {
            // An event past the race's horizon was stored by a version without it: it
            // does not act (counted with the undecodable ones).
            let Ok(applied) = race.apply(&e) else {
                undecodable += 1;
                continue;
            };
            if applied {
                events.push(StoredAct {
                    ts: e.ts,
                    id: key.id(),
                    legacy: legacy_id(&e),
                    kind: e.kind,
                });
            }
        }
        let mut stored = StoredRace {
            race,
            events,
            summaries: BTreeMap::new(),
            figures: BTreeMap::new(),
            positions: BTreeMap::new(),
            undecodable,
        };
        for (c, s) in &view.summaries {
            stored.set_summary(*c, s.clone());
        }
        stored
    }

    /// The silent-car rule across shards: the boundary ([`race::silent_boundary`] of the
    /// race's newest sample as the cars' summaries tell it) and the cars to close up to
    /// it. A car is taken for silent when its newest sample is before the boundary, it
    /// still holds samples in open windows, and its summary has not been written for
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
        let boundary = race::silent_boundary(newest, cfg);
        let cars: Vec<CarId> = self
            .summaries
            .iter()
            .filter(|(c, s)| {
                s.open
                    && !s.retired
                    && s.last_ts.is_some_and(|t| t < boundary)
                    && now_ms.saturating_sub(s.written_ms) >= quiet_ms
                    && !busy.contains_key(c)
                    && !self.race.is_out(**c)
            })
            .map(|(c, _)| *c)
            .collect();
        (!cars.is_empty()).then_some((boundary, cars))
    }

    /// The cars of a batch the race cannot take ([`race::MAX_CARS`]): those not yet
    /// known (by `race_start`, a summary or a stored item), past the limit, in car order.
    pub fn refused_cars(
        &self,
        batch: impl Iterator<Item = CarId>,
        items: &BTreeMap<CarId, CarItem>,
    ) -> Vec<(CarId, Reject)> {
        let mut known: std::collections::BTreeSet<CarId> = self.summaries.keys().copied().collect();
        known.extend(self.race.start_cars.iter().copied());
        known.extend(items.keys().copied());
        let mut refused = Vec::new();
        for car in batch {
            if known.contains(&car) {
                continue;
            }
            match race::admit_new_car(&self.race.id, car, known.len()) {
                Ok(()) => {
                    known.insert(car);
                }
                Err(r) => refused.push((car, r)),
            }
        }
        refused
    }

    /// A car never stored starts full of this race's cell.
    pub fn new_car(&self, car: CarId) -> CarItem {
        CarItem::new(CarState::new(car, self.race.capacity_gal))
    }

    /// The other cars' figures for `burn_index`.
    pub fn field(&self) -> Field<'_> {
        Field::Stored {
            figures: &self.figures,
            positions: &self.positions,
        }
    }

    /// Replaces a car's summary after its state changed (this invocation's view).
    pub fn set_summary(&mut self, car: CarId, s: CarSummary) {
        if let Some(ts) = s.last_ts {
            self.race.newest.see(ts);
        }
        self.figures.insert(car, s.figures.clone());
        if s.retired || self.race.is_out(car) {
            self.positions.remove(&car);
        } else {
            self.positions.insert(car, s.pos);
        }
        self.summaries.insert(car, s);
    }

    /// The dashboard's view of the race.
    pub fn state(&self, cant_make_it_pct: f64) -> RaceState {
        let standings = self.summaries.iter().map(|(c, s)| Standing {
            car: *c,
            pos: s.pos,
            fuel_per_green_lap: s.fuel_per_green_lap.filter(|_| !s.retired),
        });
        self.race.state(standings, cant_make_it_pct)
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
/// events it has not applied, then the samples (closing windows as the watermark moves),
/// then a `car_out`. Closed windows go to `out`. `newest` is the race's newest `ts` (for
/// `ts_in_future`) and moves with accepted samples.
pub fn fold_car(
    race: &StoredRace,
    item: &mut CarItem,
    samples: &[CarSample],
    ctx: &RaceCtx,
    cfg: &EngineConfig,
    newest: &mut Newest,
    out: &mut Vec<FuelUpdate>,
) -> FoldReport {
    let mut rep = FoldReport::default();
    let field = race.field();
    let car_out = apply_events(race, item, &mut rep);
    let st = &mut item.state;
    for (i, s) in samples.iter().enumerate() {
        if let Err(r) = newest.admit(&race.race.id, s.ts, cfg.future_ms) {
            rep.rejected.push((i, r));
            continue;
        }
        rep.samples += 1;
        match race::fold_sample(st, s.ts, &s.ch, cfg, ctx, &field, out) {
            None => rep.late_samples += 1,
            Some(Insert::New) => {}
            Some(Insert::Duplicate) => rep.duplicates += 1,
            Some(Insert::Merged) => rep.merged += 1,
        }
    }
    if let Some(id) = car_out {
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

/// Applies to the car the race's events it has not applied yet (under this build's id or
/// the previous format's), keeping their ids. A `car_out` acts after the batch's
/// samples, which came before it was seen: its id is returned, not applied.
fn apply_events(race: &StoredRace, item: &mut CarItem, rep: &mut FoldReport) -> Option<String> {
    let car = item.state.car;
    let mut car_out = None;
    for act in &race.events {
        let mine = match &act.kind {
            EventKind::Flag { .. } => true,
            EventKind::PitIn { car: c, .. }
            | EventKind::PitOut { car: c, .. }
            | EventKind::CarOut { car: c, .. } => *c == car,
            _ => false,
        };
        if !mine || item.applied.binary_search(&act.legacy).is_ok() {
            continue;
        }
        let Err(at) = item.applied.binary_search(&act.id) else {
            continue;
        };
        if let EventKind::CarOut { .. } = act.kind {
            car_out = Some(act.id.clone());
            continue;
        }
        item.applied.insert(at, act.id.clone());
        rep.events_applied += 1;
        if let Some(kind) = race.race.car_event(act.ts, &act.kind, &item.state)
            && item.state.push_event(act.ts, kind)
        {
            rep.late_events += 1;
        }
    }
    car_out
}

/// Closes a silent car's windows that end at or before `boundary` (after [`fold_car`]
/// has applied its race-control events).
pub fn close_silent(
    race: &StoredRace,
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
        fuel_per_green_lap: state.fuel_per_green_lap().map(round4),
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
