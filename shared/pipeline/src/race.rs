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

use crate::ports::{AppliedFloor, CarItem, CarSummary, RaceView, StoredEvent};

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
            // A summary written before the car sent a lap holds 0.
            pos: (s.pos > 0.0).then_some(s.pos),
            fuel_per_green_lap: s.fuel_per_green_lap.filter(|_| !s.retired),
        });
        self.race.state(standings, cant_make_it_pct)
    }
}

/// Largest RaceState the functions publish, in bytes as AppSync carries it
/// ([`race_state_bytes`]). AppSync drops a subscription message over 240 KB, and the
/// `publishRaceState` resolver stores the state whole in one item (DynamoDB: 400 KB);
/// 40 KB are left for the message's envelope. The contract's `race_start` limits keep a
/// state under about 150 KB (200 drivers of 100 characters, every one escaped), so this
/// guard holds the promise if those limits or the state's fields ever change.
pub const RACE_STATE_MAX_BYTES: usize = 200 * 1024;

/// A RaceState's size as the subscription message carries it: its JSON, with `drivers`
/// (an `AWSJSON` field) as a JSON string holding the object, escaped once more.
pub fn race_state_bytes(s: &RaceState) -> usize {
    let whole = serde_json::to_string(s).unwrap_or_default().len();
    let drivers = serde_json::to_string(&s.drivers).unwrap_or_default();
    let as_string = serde_json::to_string(&drivers).unwrap_or_default();
    whole - drivers.len() + as_string.len()
}

/// Keeps a RaceState under [`RACE_STATE_MAX_BYTES`]: over it, the drivers' names are
/// left out (every other field is bounded, and the cars still show by number), so the
/// state is published rather than refused and retried. The size it had, when it was
/// trimmed.
pub fn fit_race_state(s: &mut RaceState) -> Option<usize> {
    let bytes = race_state_bytes(s);
    if bytes <= RACE_STATE_MAX_BYTES {
        return None;
    }
    s.drivers.clear();
    Some(bytes)
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
    /// Events stamped at or before the car's floor that arrived after it was set: not
    /// applied ([`prune_applied`]).
    pub events_below_floor: u64,
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
    prune_applied(race, item);
    rep
}

/// Whether the event acts on the car (and so is kept among its applied ids).
fn is_mine(act: &StoredAct, car: CarId) -> bool {
    match &act.kind {
        EventKind::Flag { .. } => true,
        EventKind::PitIn { car: c, .. }
        | EventKind::PitOut { car: c, .. }
        | EventKind::CarOut { car: c, .. } => *c == car,
        _ => false,
    }
}

/// Applies to the car the race's events it has not applied yet (under this build's id or
/// the previous format's), keeping their ids. A `car_out` acts after the batch's
/// samples, which came before it was seen: its id is returned, not applied. An event at
/// or before the car's floor ([`prune_applied`]) counts as applied; one the race did not
/// hold when the floor was set is counted (`events_below_floor`).
fn apply_events(race: &StoredRace, item: &mut CarItem, rep: &mut FoldReport) -> Option<String> {
    let car = item.state.car;
    let mut car_out = None;
    let mut below = 0u32;
    for act in &race.events {
        if !is_mine(act, car) {
            continue;
        }
        if item.floor.as_ref().is_some_and(|f| act.id <= f.id) {
            below += 1;
            continue;
        }
        if item.applied.binary_search(&act.legacy).is_ok() {
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
    if let Some(f) = &mut item.floor {
        rep.events_below_floor += u64::from(below.saturating_sub(f.below));
        f.below = below;
    }
    car_out
}

/// Most race-control event ids a car item keeps. A car's own events are every flag and
/// its own pit and `car_out` events: about 30 flags and 30 pit events in a long Cup race,
/// so a real race never reaches 512; a flood of distinct events (a race-control producer
/// gone wrong) would otherwise grow the item past DynamoDB's 400 KB (34 bytes an id).
/// 512 ids are about 17 KB.
pub const APPLIED_MAX: usize = 512;

/// Keeps the newest [`APPLIED_MAX`] applied ids (ids sort by `ts`, then hash) and moves
/// the car's floor up to the newest id dropped.
///
/// Why this is safe. The race's events are read whole at every invocation, so an event
/// is seen again at every batch of the car: dedup must cover every event the race holds,
/// and it does: each of the car's events at or before the floor that the race held when
/// the floor was set had been applied (the fold applies every event of the race it has not
/// applied before the ids are pruned), and the ones after it are listed. What the floor
/// cannot tell is an event first stored *after* the floor was set and stamped at or
/// before it: one older than the car's 512 newest events, arriving after them (a late
/// event of a flood). It is not applied, and it is counted (`events_below_floor_total`):
/// `below` holds how many of the car's events at or before the floor the race held, so a
/// later read that finds more sees each such event once.
pub fn prune_applied(race: &StoredRace, item: &mut CarItem) {
    if item.applied.len() <= APPLIED_MAX {
        return;
    }
    let cut = item.applied.len() - APPLIED_MAX;
    let newest_dropped = item
        .applied
        .drain(..cut)
        .max()
        .expect("at least one dropped");
    let id = match item.floor.take() {
        Some(f) if f.id > newest_dropped => f.id,
        _ => newest_dropped,
    };
    let car = item.state.car;
    let below = race
        .events
        .iter()
        .filter(|a| is_mine(a, car) && a.id <= id)
        .count();
    item.floor = Some(AppliedFloor {
        id,
        below: u32::try_from(below).unwrap_or(u32::MAX),
    });
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

/// Longest race-control line stored as received. A longer one (whitespace, unknown
/// fields: the contract ignores them, so a line within every field limit may still be a
/// megabyte) is stored in its canonical form ([`canonical_line`]), which the contract's
/// field limits bound (the largest, a `race_start` of 200 drivers with 100-character
/// names, is about 130 KB even with every character escaped): the event item stays under
/// DynamoDB's 400 KB, and every invocation of the race reads it again. 16 KiB: a Cup
/// field's `race_start` (40 cars and drivers) is about 2 KB, so an ordinary line is kept
/// exactly as it arrived.
pub const STORED_LINE_MAX: usize = 16 * 1024;

/// Builds a [`StoredEvent`] from a decoded event and its line: the line as received, or
/// past [`STORED_LINE_MAX`] the event's canonical form.
pub fn stored(e: &Event, line: &[u8]) -> StoredEvent {
    let text = String::from_utf8_lossy(line).trim().to_owned();
    StoredEvent {
        ts: e.ts,
        id: event_id(e),
        line: if text.len() <= STORED_LINE_MAX {
            text
        } else {
            canonical_line(e)
        },
    }
}

/// The event as one contract line with only what the contract reads: `v`, `ts`,
/// `race_id` and the kind's fields ([`burnbar_core::event_key::canonical`], its lists of
/// cars in their order). It decodes to the same event, so it has the same id.
pub fn canonical_line(e: &Event) -> String {
    let body = burnbar_core::event_key::canonical(&e.kind);
    let mut o: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&body).expect("the canonical form is a JSON object");
    // The canonical form sorts lists of cars (an order that does not change the id);
    // the stored line keeps them as they came.
    let cars = match &e.kind {
        EventKind::RaceStart(rs) => Some(&rs.cars),
        EventKind::Incident { cars, .. } => Some(cars),
        _ => None,
    };
    if let Some(cars) = cars {
        let cars: Vec<&str> = cars.iter().map(CarId::as_str).collect();
        o.insert("cars".into(), cars.into());
    }
    o.insert("v".into(), 1.into());
    o.insert("ts".into(), e.ts.into());
    if let Some(r) = &e.race_id {
        o.entry("race_id").or_insert_with(|| r.clone().into());
    }
    serde_json::Value::Object(o).to_string()
}
