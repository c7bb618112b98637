//! The engine: routes records to races and cars, applies race control, closes windows
//! by watermark, and counts everything it drops.
//!
//! Records are processed one at a time, and every window that closes because of a
//! record is published in that record's step, ordered by `window_end` then car. So the
//! output does not depend on how the input was cut into batches.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use crate::calibrate::{StintObs, StintRecorder};
use crate::car::{CarState, Field, FieldCache, Insert, RaceCtx, WindowFeatures};
use crate::contract::{CarId, Event, EventKind, Record, Reject, RejectCode, Sample};
use crate::correction::CorrectionModel;
use crate::decode::decode_line;
use crate::model::ModelParams;
use crate::race::{self, Race, Standing, UNKNOWN_RACE};

/// What estimates the burn: the physics parameters, the optional learned correction, and
/// where closing windows report their features when someone collects them.
#[derive(Debug, Clone)]
struct Models {
    params: ModelParams,
    correction: Option<CorrectionModel>,
    features: Option<RefCell<Vec<WindowFeatures>>>,
}
use crate::update::{FuelUpdate, ModelKind, RaceState};

/// Races held at once. A broadcast has one; a replay of a season reads them one after
/// the other. Past this, the race seen least recently is closed (its windows flushed)
/// and dropped, so that a stream of distinct `race_id`s cannot grow memory without end.
pub const MAX_RACES: usize = 64;

/// Windowing settings (`fuel-update-v1`, "Windows") and the call threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EngineConfig {
    /// Width of the tumbling windows; 5 s matches the dashboard's update rate.
    pub window_ms: i64,
    /// How far behind a car's newest sample its watermark runs; 5 s absorbs the
    /// reordering Kinesis producers and the ingest bridge can cause.
    pub lateness_ms: i64,
    /// A window also closes once the race's newest `ts` is this far past its end, so a
    /// car that went silent still publishes what it had.
    pub silent_ms: i64,
    /// A sample this far past the race's newest `ts` is rejected as `ts_in_future`.
    pub future_ms: i64,
    /// The saving, in percent, at which a car in its final window is called ("can't
    /// make it", `fuel-update-v1`): 15 by default, more than most drivers find (they
    /// save 5–20 %); a deployment may set 5 to 50. It rides every RaceState, so every
    /// page calls with the same figure.
    pub cant_make_it_pct: f64,
}

/// The range `cant_make_it_pct` may take (`fuel-update-v1`).
pub const CANT_MAKE_IT_PCT_RANGE: std::ops::RangeInclusive<f64> = 5.0..=50.0;

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            window_ms: 5_000,
            lateness_ms: 5_000,
            silent_ms: 60_000,
            future_ms: 60_000,
            cant_make_it_pct: 15.0,
        }
    }
}

impl EngineConfig {
    /// Refuses settings the windows cannot work with.
    pub fn validate(&self) -> Result<(), String> {
        if self.window_ms <= 0 {
            return Err(format!(
                "window_ms must be positive, found {}",
                self.window_ms
            ));
        }
        if !CANT_MAKE_IT_PCT_RANGE.contains(&self.cant_make_it_pct) {
            return Err(format!(
                "cant_make_it_pct must be 5 to 50, found {}",
                self.cant_make_it_pct
            ));
        }
        if self.lateness_ms < 0 {
            return Err(format!(
                "lateness_ms must be zero or more, found {}",
                self.lateness_ms
            ));
        }
        Ok(())
    }
}

/// Everything counted, for the summary and the metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    pub records: u64,
    pub samples: u64,
    pub events: u64,
    pub rejected: u64,
    pub rejected_by: BTreeMap<&'static str, u64>,
    pub duplicates: u64,
    pub merged: u64,
    pub late_samples: u64,
    pub late_events: u64,
    pub duplicate_events: u64,
    pub windows_closed: u64,
    /// With a learned correction: windows it left to physics (published as `physics`)
    /// because it knows nothing like them, their package untrained or a feature
    /// outside the range it was trained on.
    pub windows_outside_domain: u64,
    /// Races closed and dropped to stay within [`MAX_RACES`].
    pub races_evicted: u64,
}

/// The hash of a car number in a race's index of its cars: the number's four bytes as
/// one word, multiplied by the golden ratio and folded (Fibonacci hashing).
///
/// Why not the standard SipHash: the index is looked up for every sample, and SipHash of
/// four bytes was 2.6 % of a replay's profile. Flooding one bucket gains an attacker
/// nothing: a race holds at most [`race::MAX_CARS`] cars, so a lookup walks at most
/// that many entries however the numbers collide.
#[derive(Default, Clone, Copy)]
struct CarHasher(u64);

impl Hasher for CarHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn finish(&self) -> u64 {
        let h = self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        h ^ (h >> 29)
    }
}

/// A race the engine runs: its rules ([`Race`]) and its cars, in memory.
#[derive(Debug, Clone)]
struct RaceRun {
    race: Race,
    cars: Vec<CarState>,
    index: HashMap<CarId, usize, BuildHasherDefault<CarHasher>>,
    /// Largest `ts` of the race's samples (the silent-car rule).
    max_sample_ts: Option<i64>,
    /// The last boundary the silent-car rule closed through.
    silent_through: i64,
    /// When a record last came for this race (the engine's record count).
    last_seen: u64,
    /// New cars record their stints for calibration.
    recording: bool,
    /// What the closing windows read of the field, kept exact by [`RaceRun::with_car`]
    /// and [`Engine::push_sample`].
    cache: RefCell<FieldCache>,
}

impl RaceRun {
    fn new(id: &str, recording: bool) -> RaceRun {
        RaceRun {
            race: Race::new(id),
            cars: Vec::new(),
            index: HashMap::default(),
            max_sample_ts: None,
            silent_through: i64::MIN,
            last_seen: 0,
            recording,
            cache: RefCell::default(),
        }
    }

    fn car(&mut self, car: CarId) -> usize {
        if let Some(&i) = self.index.get(&car) {
            return i;
        }
        let mut state = self.race.new_car(car);
        // Windows the silent-car rule has closed are closed for a new car too.
        state.close_through(self.silent_through);
        if self.recording {
            state.recorder = Some(Box::new(StintRecorder::new(self.race.capacity_gal)));
        }
        self.cars.push(state);
        let i = self.cars.len() - 1;
        self.index.insert(car, i);
        i
    }

    /// Runs `f` on car `i` with the race context and the rest of the field, then
    /// refreshes what the race caches of the car when `f` closed a window of it or
    /// retired it (a sample added can move its position too: up to the caller,
    /// [`Engine::push_sample`]).
    fn with_car<R>(
        &mut self,
        i: usize,
        window_ms: i64,
        models: &Models,
        f: impl FnOnce(&mut CarState, &RaceCtx, &Field) -> R,
    ) -> R {
        let ctx = self.race.ctx(
            window_ms,
            &models.params,
            None,
            models.features.as_ref(),
            models.correction.as_ref(),
        );
        let (before, rest) = self.cars.split_at_mut(i);
        let (car, after) = rest.split_first_mut().expect("car index in range");
        let (closed, retired) = (car.closed_through, car.retired);
        let field = Field::Cars {
            before,
            after,
            cache: Some(&self.cache),
        };
        let r = f(car, &ctx, &field);
        if car.closed_through != closed || car.retired != retired {
            self.cache.get_mut().refresh(i, car);
        }
        r
    }

    fn close_all_until(
        &mut self,
        boundary: i64,
        window_ms: i64,
        params: &Models,
        out: &mut Vec<FuelUpdate>,
    ) {
        for i in 0..self.cars.len() {
            self.with_car(i, window_ms, params, |car, ctx, field| {
                car.close_until(boundary, ctx, field, out)
            });
        }
    }

    fn flush_all(&mut self, window_ms: i64, params: &Models, out: &mut Vec<FuelUpdate>) {
        for i in 0..self.cars.len() {
            self.with_car(i, window_ms, params, |car, ctx, field| {
                car.flush(ctx, field, out)
            });
        }
    }

    /// The silent-car rule ([`race::silent_boundary`]): closes every car's windows that
    /// end at or before the boundary, once per boundary.
    fn close_silent(&mut self, cfg: &EngineConfig, models: &Models, out: &mut Vec<FuelUpdate>) {
        let Some(max) = self.max_sample_ts else {
            return;
        };
        let boundary = race::silent_boundary(max, cfg);
        if boundary > self.silent_through {
            self.silent_through = boundary;
            self.close_all_until(boundary, cfg.window_ms, models, out);
        }
    }

    fn state(&self, cant_make_it_pct: f64) -> RaceState {
        let standings = self.cars.iter().filter(|c| !c.retired).map(|c| Standing {
            car: c.car,
            pos: c.position(),
            fuel_per_green_lap: c.fuel_per_green_lap(),
        });
        self.race.state(standings, cant_make_it_pct)
    }
}

/// The whole local pipeline's core: feed it lines or decoded records, collect updates.
#[derive(Debug, Clone)]
pub struct Engine {
    cfg: EngineConfig,
    models: Models,
    races: Vec<RaceRun>,
    /// Race of the latest `race_start`.
    current: Option<usize>,
    /// Race of the latest record (most records follow the previous one's race).
    last: usize,
    counters: Counters,
    /// Calibration recording is on (`record_stints`).
    recording: bool,
}

impl Engine {
    pub fn new(cfg: EngineConfig, params: ModelParams) -> Engine {
        Engine {
            cfg,
            models: Models {
                params,
                correction: None,
                features: None,
            },
            races: Vec::new(),
            current: None,
            last: 0,
            counters: Counters::default(),
            recording: false,
        }
    }

    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// Applies a learned correction to every window from now on, in-process (what the
    /// SageMaker endpoint does for the Lambda functions, with the same model).
    pub fn set_correction(&mut self, model: CorrectionModel) {
        self.models.correction = Some(model);
    }

    /// Collects every closing window's features from now on ([`Engine::take_features`]):
    /// what training a correction reads. Off by default.
    pub fn collect_features(&mut self) {
        self.models.features.get_or_insert_with(Default::default);
    }

    /// The features of the windows closed since the last call, in closing order.
    pub fn take_features(&mut self) -> Vec<WindowFeatures> {
        self.models
            .features
            .as_ref()
            .map(|f| std::mem::take(&mut *f.borrow_mut()))
            .unwrap_or_default()
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Cars seen, over all races.
    pub fn cars(&self) -> usize {
        self.races.iter().map(|r| r.cars.len()).sum()
    }

    /// Samples held in open windows, over all cars (for memory reports).
    pub fn held_samples(&self) -> usize {
        self.races
            .iter()
            .flat_map(|r| &r.cars)
            .map(CarState::held)
            .sum()
    }

    /// The dashboard's view of a race.
    pub fn race_state(&self, race_id: &str) -> Option<RaceState> {
        self.races
            .iter()
            .find(|r| r.race.id == race_id)
            .map(|r| r.state(self.cfg.cant_make_it_pct))
    }

    /// The ids of the races seen, in the order they were first seen.
    pub fn race_ids(&self) -> impl Iterator<Item = &str> {
        self.races.iter().map(|r| r.race.id.as_str())
    }

    /// Decodes and processes one NDJSON line. A rejected line is counted and its reason
    /// returned; nothing else changes.
    pub fn push_line(&mut self, line: &[u8], out: &mut Vec<FuelUpdate>) -> Result<(), Reject> {
        self.push_decoded(decode_line(line), out)
    }

    /// The engine's part of [`Engine::push_line`], for a line decoded elsewhere
    /// ([`decode_line`] is pure, so it can run on another thread: see
    /// [`crate::batch`]): counts the record, and a rejection as `push_line` would.
    /// `push_line(l)` is exactly `push_decoded(decode_line(l))`.
    pub fn push_decoded(
        &mut self,
        decoded: Result<Record<'_>, Reject>,
        out: &mut Vec<FuelUpdate>,
    ) -> Result<(), Reject> {
        self.counters.records += 1;
        match decoded {
            Ok(rec) => self.push_record(rec, out),
            Err(r) => {
                self.count_reject(&r);
                Err(r)
            }
        }
    }

    /// Records every car's stints for calibration from now on (cars first seen after
    /// this call). Costs a histogram per car; off by default.
    pub fn record_stints(&mut self) {
        self.recording = true;
    }

    /// The stints recorded so far (each ends in a fill), in race and car order.
    pub fn take_stints(&mut self) -> Vec<StintObs> {
        let mut out = Vec::new();
        for r in &mut self.races {
            for c in &mut r.cars {
                if let Some(rec) = c.recorder.as_deref_mut() {
                    out.extend(rec.take().into_iter().map(|mut s| {
                        s.track.clone_from(&r.race.track);
                        s
                    }));
                }
            }
        }
        out
    }

    /// Processes one decoded record (counted in `records` only by `push_line`).
    pub fn push_record(
        &mut self,
        rec: Record<'_>,
        out: &mut Vec<FuelUpdate>,
    ) -> Result<(), Reject> {
        let start = out.len();
        let res = match rec {
            Record::Sample(s) => self.push_sample(s, out),
            Record::Event(e) => self.push_event(e, out),
        };
        if let Err(r) = &res {
            self.count_reject(r);
        }
        self.count_closed(&out[start..]);
        sort_step(&mut out[start..]);
        res
    }

    /// End of input: closes every open window of every race.
    pub fn finish(&mut self, out: &mut Vec<FuelUpdate>) {
        let start = out.len();
        for race in &mut self.races {
            race.flush_all(self.cfg.window_ms, &self.models, out);
        }
        self.count_closed(&out[start..]);
        sort_step(&mut out[start..]);
    }

    /// Counts the windows of one step: with a correction, every window it left to
    /// physics was outside its domain ([`CorrectionModel::correct`]).
    fn count_closed(&mut self, step: &[FuelUpdate]) {
        self.counters.windows_closed += step.len() as u64;
        if self.models.correction.is_some() {
            let physics = step.iter().filter(|u| u.model == ModelKind::Physics);
            self.counters.windows_outside_domain += physics.count() as u64;
        }
    }

    fn count_reject(&mut self, r: &Reject) {
        self.counters.rejected += 1;
        *self
            .counters
            .rejected_by
            .entry(r.code.as_str())
            .or_default() += 1;
    }

    fn race_index(&mut self, id: Option<&str>, out: &mut Vec<FuelUpdate>) -> usize {
        let i = match id {
            Some(id) => {
                if self.races.get(self.last).is_some_and(|r| r.race.id == id) {
                    self.last
                } else {
                    match self.races.iter().position(|r| r.race.id == id) {
                        Some(i) => i,
                        None => {
                            self.evict_if_full(out);
                            self.races.push(RaceRun::new(id, self.recording));
                            self.races.len() - 1
                        }
                    }
                }
            }
            None => match self.current {
                Some(i) => i,
                None => return self.race_index(Some(UNKNOWN_RACE), out),
            },
        };
        self.last = i;
        self.races[i].last_seen = self.counters.records;
        i
    }

    /// Makes room for one more race: the one seen least recently (never the current
    /// one) has its open windows closed and is dropped.
    fn evict_if_full(&mut self, out: &mut Vec<FuelUpdate>) {
        if self.races.len() < MAX_RACES {
            return;
        }
        let Some(victim) = (0..self.races.len())
            .filter(|&i| Some(i) != self.current)
            .min_by_key(|&i| self.races[i].last_seen)
        else {
            return;
        };
        self.races[victim].flush_all(self.cfg.window_ms, &self.models, out);
        self.races.remove(victim);
        self.counters.races_evicted += 1;
        self.current = self.current.map(|c| if c > victim { c - 1 } else { c });
        self.last = 0;
    }

    fn push_sample(&mut self, s: Sample<'_>, out: &mut Vec<FuelUpdate>) -> Result<(), Reject> {
        let ri = self.race_index(s.race_id.as_deref(), out);
        let cfg = self.cfg;
        let run = &mut self.races[ri];
        if !run.index.contains_key(&s.car) {
            race::admit_new_car(&run.race.id, s.car, run.cars.len())?;
        }
        run.race.newest.admit(&run.race.id, s.ts, cfg.future_ms)?;
        self.counters.samples += 1;
        run.max_sample_ts = Some(run.max_sample_ts.map_or(s.ts, |m| m.max(s.ts)));
        let ci = run.car(s.car);
        let cached_t = run.cache.get_mut().positions_t();
        let (inserted, moved) = run.with_car(ci, cfg.window_ms, &self.models, |car, ctx, field| {
            let moved = cached_t.is_some_and(|t| car.insert_moves_position_at(s.ts, t));
            let inserted = race::fold_sample(car, s.ts, &s.ch, &cfg, ctx, field, out);
            (inserted, moved && inserted.is_some())
        });
        if moved {
            run.cache.get_mut().refresh_position(ci, &run.cars[ci]);
        }
        match inserted {
            None => self.counters.late_samples += 1,
            Some(Insert::New) => {}
            Some(Insert::Duplicate) => self.counters.duplicates += 1,
            Some(Insert::Merged) => self.counters.merged += 1,
        }
        run.close_silent(&cfg, &self.models, out);
        Ok(())
    }

    fn push_event(&mut self, e: Event, out: &mut Vec<FuelUpdate>) -> Result<(), Reject> {
        self.counters.events += 1;
        let cfg = self.cfg;
        let id = match &e.kind {
            EventKind::RaceStart(rs) => Some(rs.race_id.as_str()),
            _ => e.race_id.as_deref(),
        };
        let ri = self.race_index(id, out);
        if let EventKind::RaceStart(_) = &e.kind {
            self.start_race(ri, &e, out);
            return Ok(());
        }
        let run = &mut self.races[ri];
        // A car event of a car beyond the race's limit is refused before it acts.
        if let EventKind::PitIn { car, .. }
        | EventKind::PitOut { car, .. }
        | EventKind::CarOut { car, .. } = &e.kind
            && !run.index.contains_key(car)
        {
            race::admit_new_car(&run.race.id, *car, run.cars.len())?;
        }
        if !run.race.apply(&e)? {
            // Re-sent (redelivery is normal): it changes nothing.
            self.counters.duplicate_events += 1;
            return Ok(());
        }
        let mut late = false;
        match &e.kind {
            EventKind::CarOut { car, .. } => {
                let ci = run.car(*car);
                run.with_car(ci, cfg.window_ms, &self.models, |car, ctx, field| {
                    car.flush(ctx, field, out);
                    car.retired = true;
                });
            }
            // A pit event acts on its car (which it makes known), a flag on every car.
            EventKind::PitIn { car, .. } | EventKind::PitOut { car, .. } => {
                let ci = run.car(*car);
                late = run.push_car_event(ci, &e);
            }
            EventKind::Flag { .. } => {
                for ci in 0..run.cars.len() {
                    late |= run.push_car_event(ci, &e);
                }
            }
            EventKind::RaceStart(_) | EventKind::Incident { .. } | EventKind::StageEnd { .. } => {}
        }
        if late {
            self.counters.late_events += 1;
        }
        run.close_silent(&cfg, &self.models, out);
        Ok(())
    }

    /// A `race_start`: the race's parameters, its cars, and the end of the race before.
    /// One delivered again changes nothing, not even which race records without a
    /// `race_id` belong to.
    fn start_race(&mut self, ri: usize, e: &Event, out: &mut Vec<FuelUpdate>) {
        if self.races[ri].race.started() {
            self.counters.duplicate_events += 1;
            return;
        }
        // A new race closes every open window of the race before it.
        let before = self.current.or_else(|| {
            self.races
                .iter()
                .position(|r| r.race.id == UNKNOWN_RACE)
                .filter(|&u| u != ri)
        });
        if let Some(b) = before.filter(|&b| b != ri) {
            self.races[b].flush_all(self.cfg.window_ms, &self.models, out);
        }
        self.current = Some(ri);
        let run = &mut self.races[ri];
        run.race
            .apply(e)
            .expect("a first race_start is always applied");
        let capacity = run.race.capacity_gal;
        for c in &mut run.cars {
            // Cars seen before the race_start (a race_id given first) start full of
            // this race's cell.
            if c.fuel.used_race == 0.0 {
                c.fuel = CarState::new(c.car, capacity).fuel;
            }
        }
        for c in run.race.start_cars.clone() {
            run.car(c);
        }
    }
}

impl RaceRun {
    /// Pushes what an applied event does to car `ci`; true when it came late for it.
    fn push_car_event(&mut self, ci: usize, e: &Event) -> bool {
        let car = &self.cars[ci];
        match self.race.car_event(e.ts, &e.kind, car) {
            Some(kind) => self.cars[ci].push_event(e.ts, kind),
            None => false,
        }
    }
}

/// The rejection of a record that could not even be read (a line too long to hold), as
/// invalid JSON with `detail`: [`Engine::push_decoded`] counts it like any other.
pub fn unread(detail: &str) -> Reject {
    Reject::new(RejectCode::InvalidJson, None, detail)
}

/// Updates that close in one step go out by `window_end`, then car in byte order.
fn sort_step(step: &mut [FuelUpdate]) {
    step.sort_by_key(|u| (u.window_end, u.car));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(engine: &mut Engine, line: &str) {
        let mut out = Vec::new();
        engine.push_line(line.as_bytes(), &mut out).unwrap();
    }

    #[test]
    fn the_leader_lap_is_at_least_the_newest_flag_events_lap() {
        let mut e = Engine::new(EngineConfig::default(), ModelParams::default());
        push(
            &mut e,
            r#"{"v":1,"kind":"race_start","ts":1750593601000,"race_id":"r","track":"iowa","scheduled_laps":350,"cars":["1","2"]}"#,
        );
        assert_eq!(e.race_state("r").unwrap().laps_to_go, Some(350.0));
        push(
            &mut e,
            r#"{"v":1,"kind":"flag","ts":1750593609000,"race_id":"r","flag":"yellow","lap":120}"#,
        );
        // An older flag arriving late does not take the leader back.
        push(
            &mut e,
            r#"{"v":1,"kind":"flag","ts":1750593605000,"race_id":"r","flag":"green","lap":60}"#,
        );
        let s = e.race_state("r").unwrap();
        assert_eq!((s.leader_lap, s.laps_to_go), (120.0, Some(230.0)));
        // A car's own position beyond it counts.
        push(
            &mut e,
            r#"{"v":1,"ts":1750593609500,"race_id":"r","car":"1","lap":121,"lap_frac":0.5,"speed_mph":40}"#,
        );
        assert_eq!(e.race_state("r").unwrap().leader_lap, 121.5);
    }
}
