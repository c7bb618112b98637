//! Race control and strategy: the [`Simulation`], one tick at a time.
//!
//! Each tick (every `1/hz` s of event time) race control acts on the state at that
//! instant, its events are written, then every car's sample, then the cars move to the
//! next tick in steps of at most 100 ms, split at every truth-window edge so the truth is
//! exact there (the splits happen whether or not truth is recorded, so recording it never
//! changes the race).
//!
//! **Race control.** A rolling start under green. The leader's laps drive the flags:
//! stage ends (`stage_end`, then yellow) at the track's stage count scaled to the race,
//! white with one lap to go, checkered at the end; every car then takes the checkered
//! flag the next time it crosses the line, and writes no samples after. Cautions come
//! from incidents (cars named; about a third of them out), debris, a car stopped on track,
//! and stage ends; the risk per lap is about 1.7 %, three times that just after a restart.
//! A caution lasts 3 to 8 laps (more at short tracks), pit road opens when the leader
//! first crosses the line under it, and the green waves as the leader crosses the line
//! again. No caution starts so late that it would end the race under yellow, so the last
//! run is green: a fuel-mileage finish when it is longer than a tank.
//!
//! **Strategy.** Each team knows its green-flag burn per lap (measured on its normal
//! laps, with its own small error) and its fuel since the last fill. At each line crossing
//! under green it decides: pit at the end of the lap when the fuel left is under two laps
//! plus its margin; in the last stint, save fuel if the shortfall is within what its
//! driver will save (steering the effort by what its saving laps really burn, and taking
//! a splash after all if even all-out saving falls short), else plan a late stop for just
//! what the finish needs (a splash); the gambler stays out and saves on a shortfall of up
//! to 18 %, and may run dry. Under caution, as a car nears pit road, it pits if it has
//! used a fair share of the tank (at a stage break nearly everyone does) or cannot
//! otherwise finish. Pushers push after restarts; savers save at the end of long runs.

use crate::SimSummary;
use crate::car::{Car, CarEvent, Env, FillPlan, Phase, Stop, Style, TrackCtx, solo_lap};
use crate::config::{SimConfig, SimError};
use crate::faults::Faults;
use crate::field;
use crate::output::{self, LineSink, SampleVals};
use crate::physics::{CAPACITY_GAL, MPS_PER_MPH};
use crate::truth::Truth;
use burnbar_core::tracks::Track;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// Event time of the race start (2025-06-22 12:00 UTC), the same for every race so
/// outputs compare byte for byte.
pub const START_TS: i64 = 1_750_593_600_000;
/// Longest physics step, ms.
const MAX_STEP_MS: i64 = 100;
/// Chance of a caution per green lap, away from restarts.
const CAUTION_PER_LAP: f64 = 0.017;
/// Saving (share of fuel per lap) at full saving effort, about: used to set the effort.
const SAVE_AT_FULL: f64 = 0.12;

/// Random streams: the race's choices, the sensor and engine noise, and the faults are
/// independent, so faults (or truth) never change the race.
mod stream {
    pub const SETUP: u64 = 0;
    pub const RACE: u64 = 1;
    pub const NOISE: u64 = 2;
    pub const FAULTS: u64 = 3;
}

fn rng_for(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(stream);
    r
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    rng.sample::<f64, _>(StandardNormal)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flag {
    Green,
    Yellow,
    White,
    Checkered,
}

impl Flag {
    fn key(self) -> &'static str {
        match self {
            Flag::Green => "green",
            Flag::Yellow => "yellow",
            Flag::White => "white",
            Flag::Checkered => "checkered",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Caution {
    id: u32,
    crossings: u32,
    needed: u32,
    pit_open: bool,
    stage_break: bool,
}

#[derive(Debug, Clone, Copy)]
enum Pending {
    /// A yellow for an incident or a stopped car; `extra` laps for the clean-up.
    Yellow {
        extra: u32,
    },
    CarOut {
        car: usize,
        reason: &'static str,
    },
}

#[derive(Debug, Clone)]
enum Event {
    Flag {
        flag: Flag,
        lap: u32,
    },
    PitIn {
        car: usize,
        lap: u32,
    },
    PitOut {
        car: usize,
        lap: u32,
        added: f64,
        full: bool,
    },
    Incident {
        cars: Vec<usize>,
        lap: u32,
    },
    StageEnd {
        stage: u32,
        lap: u32,
    },
    CarOut {
        car: usize,
        reason: &'static str,
    },
}

/// What a team knows and plans, beside its car.
#[derive(Debug, Clone)]
struct Team {
    /// Green burn per lap in normal running, measured (gal).
    burn_per_lap: f64,
    /// Fuel in the cell after the last fill (known: the cans are weighed).
    fill_fuel: f64,
    /// Burned since the last fill (the truth; the team sees it with its bias).
    stint_burned: f64,
    /// Burned in the lap under way.
    lap_burn: f64,
    /// Burned in the last clean green lap run saving fuel (gal).
    last_save_burn: Option<f64>,
    /// The lap under way is a clean normal green lap so far.
    lap_clean: bool,
    lap_seen: u32,
    /// The caution whose pit decision is made.
    caution_decided: u32,
    /// Decided about a late-run save this stint: `Some(decision)`.
    late_save: Option<bool>,
    /// Staying out on fuel it may not have.
    gambling: bool,
    /// Crossed the line on pit road after the checkered flag: finishes at its `pit_out`.
    took_checkered: bool,
    /// `ts` of the car's last sample.
    last_ts: i64,
}

/// A simulated race, as the NDJSON lines it writes: an iterator of `(ts, line)` (no
/// newline), for a live demo that paces them. [`crate::simulate`] streams the same lines.
///
/// Truth is off unless [`Simulation::record_truth`] is called before the first line;
/// then [`Simulation::take_truth`] hands out its lines as they are ready (the window lines
/// as the race goes, the stint lines once it is over).
#[derive(Debug)]
pub struct Simulation {
    cfg: SimConfig,
    race_id: String,
    ctx: TrackCtx,
    laps: u32,
    cars: Vec<Car>,
    teams: Vec<Team>,
    prefixes: Vec<Vec<u8>>,
    race_rng: ChaCha8Rng,
    noise_rng: ChaCha8Rng,
    faults: Faults,
    truth: Option<Truth>,
    tick: u64,
    ts: i64,
    next_window_end: i64,
    flag: Flag,
    caution: Option<Caution>,
    cautions: u32,
    stage_laps: Vec<u32>,
    next_stage: usize,
    leader_lap: u32,
    restart_lap: u32,
    checkered_ts: Option<i64>,
    pending: Vec<(i64, Pending)>,
    events: Vec<Event>,
    env: Vec<Env>,
    leader: Option<usize>,
    sink: LineSink,
    cursor: usize,
    summary: SimSummary,
    started: bool,
    done: bool,
}

impl Simulation {
    /// Sets up the race (field, profiles, grid); fails on a bad config.
    pub fn new(cfg: &SimConfig) -> Result<Self, SimError> {
        let (track, laps) = cfg.validate()?;
        let ctx = TrackCtx::new(track);
        let mut setup = rng_for(cfg.seed, stream::SETUP);
        let numbers = field::car_numbers(cfg.cars as usize);
        let mut params = field::draw(&ctx, &numbers, &mut setup);
        // Output order: car numbers in byte order (as the truth and the pipeline sort).
        params.sort_by(|a, b| a.number.as_bytes().cmp(b.number.as_bytes()));
        let race_id = format!("sim-{}-{}", track.key, cfg.seed);
        let nominal = solo_lap(&ctx, 0.0, false).0;
        let rows = params.len().div_ceil(2);
        let cars: Vec<Car> = params
            .into_iter()
            .map(|p| {
                // Double file, pole ahead; the outside car of a row a little behind.
                let (row, col) = (p.grid / 2, p.grid % 2);
                let pos = (rows - 1 - row) as f64 * 10.0 + if col == 0 { 2.0 } else { 0.0 };
                Car::new(&ctx, p, pos / ctx.len_m, ctx.pace)
            })
            .collect();
        let teams = cars
            .iter()
            .map(|c| Team {
                burn_per_lap: nominal * c.p.fuel_mult,
                fill_fuel: CAPACITY_GAL,
                stint_burned: 0.0,
                lap_burn: 0.0,
                last_save_burn: None,
                lap_clean: false,
                lap_seen: 0,
                caution_decided: 0,
                late_save: None,
                gambling: false,
                took_checkered: false,
                last_ts: START_TS,
            })
            .collect();
        let prefixes = cars
            .iter()
            .map(|c| output::sample_prefix(&race_id, &c.p.number))
            .collect();
        let n = cars.len();
        let summary = SimSummary {
            race_id: race_id.clone(),
            track: track.key.to_string(),
            ..SimSummary::default()
        };
        Ok(Simulation {
            cfg: cfg.clone(),
            race_id,
            stage_laps: stage_laps(track, laps),
            ctx,
            laps,
            cars,
            teams,
            prefixes,
            race_rng: rng_for(cfg.seed, stream::RACE),
            noise_rng: rng_for(cfg.seed, stream::NOISE),
            faults: Faults::new(cfg.faults, rng_for(cfg.seed, stream::FAULTS)),
            truth: None,
            tick: 0,
            ts: START_TS,
            next_window_end: START_TS - START_TS.rem_euclid(cfg.window_ms) + cfg.window_ms,
            flag: Flag::Green,
            caution: None,
            cautions: 0,
            next_stage: 0,
            leader_lap: 0,
            restart_lap: 0,
            checkered_ts: None,
            pending: Vec::new(),
            events: Vec::new(),
            env: vec![
                Env {
                    caution: false,
                    leader: false,
                    first_on_track: false,
                    gap_m: f64::INFINITY,
                    ahead_v: 0.0,
                    ahead_pace: 0.0,
                };
                n
            ],
            leader: None,
            sink: LineSink::default(),
            cursor: 0,
            summary,
            started: false,
            done: false,
        })
    }

    /// Records the ground truth (call before the first line).
    pub fn record_truth(&mut self) {
        if self.truth.is_none() && !self.started {
            let names: Vec<String> = self.cars.iter().map(|c| c.p.number.clone()).collect();
            self.truth = Some(Truth::new(self.cfg.window_ms, START_TS, &names));
        }
    }

    /// Truth lines ready so far (without newlines), in order.
    pub fn take_truth(&mut self) -> Vec<String> {
        self.truth
            .as_mut()
            .map(|t| std::mem::take(&mut t.pending))
            .unwrap_or_default()
    }

    /// The race's `race_id` (`sim-<track>-<seed>`).
    pub fn race_id(&self) -> &str {
        &self.race_id
    }

    /// The race is over (every line has been produced).
    pub fn is_done(&self) -> bool {
        self.done && self.cursor >= self.sink.lines.len()
    }

    /// What has been written so far (all of it once the race is over).
    pub fn summary(&self) -> SimSummary {
        let mut s = self.summary.clone();
        s.faults = self.faults.counts;
        s
    }

    /// Produces the next tick into the sink; `false` once the race is over.
    pub(crate) fn advance(&mut self) -> bool {
        if self.done {
            return false;
        }
        let ts = self.ts;
        if !self.started {
            self.started = true;
            self.write_race_start(ts);
            self.events.push(Event::Flag {
                flag: Flag::Green,
                lap: 0,
            });
        }
        self.race_control(ts);
        if !self.events.is_empty() {
            // A delayed sample never crosses a race-control event.
            self.faults.flush_all(&mut self.sink);
            for ev in std::mem::take(&mut self.events) {
                self.write_event(ts, &ev);
            }
        }
        self.faults.release(ts, &mut self.sink);
        self.compute_env();
        let next_ts = START_TS + ((self.tick + 1) as i64 * 1_000) / self.cfg.hz as i64;
        let n_steps = (next_ts - ts + MAX_STEP_MS - 1) / MAX_STEP_MS;
        let first_dt = ((next_ts - ts) / n_steps).min(self.next_window_end - ts) as f64 / 1_000.0;
        for i in 0..self.cars.len() {
            if !self.cars[i].reporting(ts) {
                continue;
            }
            let env = self.env[i];
            self.cars[i].control(&self.ctx, &env, first_dt);
            let s = self.sample_vals(i, ts);
            self.faults.sample(&self.prefixes[i], &s, &mut self.sink);
            self.summary.samples += 1;
            self.teams[i].last_ts = ts;
            if let Some(t) = self.truth.as_mut() {
                t.sampled(i);
            }
        }
        if self.race_over() {
            self.finish();
            return true;
        }
        self.integrate(ts, next_ts);
        self.tick += 1;
        self.ts = next_ts;
        true
    }

    fn race_over(&self) -> bool {
        self.checkered_ts.is_some()
            && self.pending.is_empty()
            && !self.cars.iter().any(|c| {
                matches!(
                    c.phase,
                    Phase::Track | Phase::PitRoad(_) | Phase::Crashed | Phase::Parked
                )
            })
    }

    fn finish(&mut self) {
        self.done = true;
        self.faults.flush_all(&mut self.sink);
        self.summary.laps = self.leader_lap;
        self.summary.end_ts = self.ts;
        self.summary.cautions = self.cautions;
        if let Some(t) = self.truth.as_mut() {
            let cars = &self.cars;
            // The last window, open at the end, closes with the race.
            t.close_window(|i| (cars[i].fuel, cars[i].d));
            let teams = &self.teams;
            t.finish(|i| teams[i].last_ts);
        }
    }

    // ----- race control -------------------------------------------------------------

    fn caution_laps(&self) -> u32 {
        ((3.0 + (2.5 / self.ctx.track.length_mi).round()) as u32).clamp(3, 8)
    }

    /// A new caution can still end before the white flag.
    fn caution_allowed(&self) -> bool {
        self.flag == Flag::Green
            && self.caution.is_none()
            && self.checkered_ts.is_none()
            && self.leader_lap + self.caution_laps() + 4 < self.laps
    }

    fn start_caution(&mut self, stage_break: bool, extra: u32) {
        self.cautions += 1;
        let needed = self.caution_laps() + extra + self.race_rng.random_range(0..=1u32);
        self.caution = Some(Caution {
            id: self.cautions,
            crossings: 0,
            needed,
            pit_open: false,
            stage_break,
        });
        self.flag = Flag::Yellow;
        self.events.push(Event::Flag {
            flag: Flag::Yellow,
            lap: self.leader_lap,
        });
        // Pit road closes: green stops not yet under way wait for the caution's.
        for car in &mut self.cars {
            if car.phase == Phase::Track
                && !car.dry
                && car.plan.is_some()
                && car.to_entry_m(&self.ctx) > 250.0
            {
                car.cancel_stop();
            }
        }
    }

    fn race_control(&mut self, ts: i64) {
        self.car_events(ts);
        self.leader_laps(ts);
        for i in 0..self.cars.len() {
            let lap = self.cars[i].lap();
            if self.cars[i].running() && lap > self.teams[i].lap_seen {
                self.teams[i].lap_seen = lap;
                self.car_lap(i, ts);
            }
        }
        self.due_pending(ts);
        self.hazard(ts);
        self.caution_pit_calls();
        if let Some(c) = self.checkered_ts {
            // Nobody circles for ever after the checkered flag.
            let cap = ((3.0 * self.ctx.lap_time_s).max(60.0) * 1_000.0) as i64;
            if ts - c > cap {
                for i in 0..self.cars.len() {
                    if self.cars[i].in_pit() {
                        let (added, full) = (self.cars[i].poured, self.cars[i].filled);
                        self.pit_out(i, ts, added, full);
                    }
                    if self.cars[i].running() {
                        self.cars[i].phase = Phase::Finished(ts);
                    }
                }
            }
        } else if ts - START_TS > self.time_cap_ms() {
            // A guard that a sane race never meets: end it.
            self.flag = Flag::Checkered;
            self.checkered_ts = Some(ts);
            self.events.push(Event::Flag {
                flag: Flag::Checkered,
                lap: self.leader_lap,
            });
        }
    }

    fn time_cap_ms(&self) -> i64 {
        ((self.laps as f64 * self.ctx.lap_time_s * 4.0 + 3_600.0) * 1_000.0) as i64
    }

    fn car_events(&mut self, ts: i64) {
        for i in 0..self.cars.len() {
            let events = std::mem::take(&mut self.cars[i].events);
            for e in events {
                let lap = self.cars[i].lap();
                match e {
                    CarEvent::PitIn => self.events.push(Event::PitIn { car: i, lap }),
                    CarEvent::PitOut { added, full } => {
                        self.pit_out(i, ts, added, full);
                        if self.teams[i].took_checkered {
                            self.cars[i].phase = Phase::Finished(ts);
                        }
                    }
                    CarEvent::RanDry => {
                        let number = self.cars[i].p.number.clone();
                        if !self.summary.ran_dry.contains(&number) {
                            self.summary.ran_dry.push(number);
                        }
                        let car = &self.cars[i];
                        let last_lap =
                            self.checkered_ts.is_some() || car.d >= self.laps as f64 - 1.0;
                        if car.phase == Phase::Track && !last_lap && car.plan.is_none() {
                            // Coast for pit road.
                            let stop = self.stop_for(i, FillPlan::Full);
                            self.cars[i].plan_stop(&self.ctx, FillPlan::Full, stop);
                        }
                    }
                    CarEvent::Stopped => {
                        let (reason, delay) = if self.cars[i].dry {
                            ("out of fuel", 3_000)
                        } else {
                            ("accident", 4_000)
                        };
                        self.pending
                            .push((ts + delay, Pending::CarOut { car: i, reason }));
                        if self.cars[i].dry && self.caution_allowed() {
                            self.pending
                                .push((ts + 1_000, Pending::Yellow { extra: 0 }));
                        }
                    }
                }
            }
        }
    }

    /// Car `i` left pit road (or the race ended with it there): the event, the truth's
    /// fill, the team's new stint.
    fn pit_out(&mut self, i: usize, ts: i64, added: f64, full: bool) {
        let lap = self.cars[i].lap();
        self.events.push(Event::PitOut {
            car: i,
            lap,
            added,
            full,
        });
        if let Some(t) = self.truth.as_mut() {
            t.fill(i, ts, added, full);
        }
        let team = &mut self.teams[i];
        team.fill_fuel = self.cars[i].fuel;
        team.stint_burned = 0.0;
        team.late_save = None;
        team.gambling = false;
        self.summary.pit_stops += 1;
        let car = &mut self.cars[i];
        car.save = 0.0;
        car.push = false;
    }

    /// How a stop planned now will go: what the crew pours (a full cell, or for a late
    /// stop what the finish needs) and its timing (the fueler's rate within 1 %, and at
    /// most 0.7 s of jack and hose work around the pour).
    fn stop_for(&mut self, i: usize, plan: FillPlan) -> Stop {
        let target = match plan {
            FillPlan::Finish => self.finish_fill(i),
            FillPlan::Full => f64::INFINITY,
        };
        let jitter = (0.01 * normal(&mut self.race_rng)).clamp(-0.03, 0.03);
        Stop {
            target,
            rate: self.cars[i].p.fill_rate * (1.0 + jitter),
            wait_s: self.race_rng.random_range(0.1..0.4),
            post_s: self.race_rng.random_range(0.1..0.3),
        }
    }

    /// What a late stop pours: enough for the finish with a little margin (a splash), or
    /// a full cell when that is nearly as much. Planned at most a lap before the stop.
    fn finish_fill(&self, i: usize) -> f64 {
        let car = &self.cars[i];
        let team = &self.teams[i];
        let bias = 1.0 + car.p.team_bias;
        let bpl = team.burn_per_lap * bias;
        let to_entry = (self.ctx.next_entry(car.d) - car.d).max(0.0);
        let to_go = (self.laps as f64 - car.d - to_entry).max(0.0);
        let at_stop = (team.fill_fuel - team.stint_burned * bias - to_entry * bpl).max(0.0);
        let need = to_go * bpl * 1.04 + 1.0;
        let room = CAPACITY_GAL - (car.fuel - to_entry * bpl).max(0.0);
        let amount = (need - at_stop).max(1.0);
        if amount >= room - 0.5 {
            f64::INFINITY
        } else {
            amount
        }
    }

    fn leader_laps(&mut self, ts: i64) {
        let leader = (0..self.cars.len())
            .filter(|&i| self.cars[i].running())
            .max_by(|&a, &b| self.cars[a].d.total_cmp(&self.cars[b].d).then(b.cmp(&a)));
        self.leader = leader;
        let Some(l) = leader else { return };
        let lap = self.cars[l].lap();
        while self.leader_lap < lap && self.checkered_ts.is_none() {
            self.leader_lap += 1;
            self.on_leader_lap(ts);
        }
    }

    fn on_leader_lap(&mut self, ts: i64) {
        let l = self.leader_lap;
        if let Some(c) = self.caution.as_mut() {
            c.crossings += 1;
            c.pit_open = true;
        }
        if self.next_stage < self.stage_laps.len() && l == self.stage_laps[self.next_stage] {
            self.next_stage += 1;
            self.events.push(Event::StageEnd {
                stage: self.next_stage as u32,
                lap: l,
            });
            if let Some(c) = self.caution.as_mut() {
                c.stage_break = true;
                c.needed = c.needed.max(c.crossings + 2);
            } else {
                self.start_caution(true, 1);
            }
        }
        if let Some(c) = self.caution
            && c.crossings >= c.needed
        {
            self.caution = None;
            self.flag = Flag::Green;
            self.restart_lap = l;
            self.events.push(Event::Flag {
                flag: Flag::Green,
                lap: l,
            });
        }
        if l + 1 == self.laps && self.flag == Flag::Green {
            self.flag = Flag::White;
            self.events.push(Event::Flag {
                flag: Flag::White,
                lap: l,
            });
        }
        if l >= self.laps {
            self.flag = Flag::Checkered;
            self.checkered_ts = Some(ts);
            self.caution = None;
            self.events.push(Event::Flag {
                flag: Flag::Checkered,
                lap: l,
            });
        }
    }

    /// Car `i` completed a lap.
    fn car_lap(&mut self, i: usize, ts: i64) {
        {
            let car = &self.cars[i];
            let team = &mut self.teams[i];
            if team.lap_clean && car.save == 0.0 && !car.push && !car.damaged {
                team.burn_per_lap = 0.7 * team.burn_per_lap + 0.3 * team.lap_burn;
            }
            team.last_save_burn = (team.lap_clean && car.save > 0.0).then_some(team.lap_burn);
            team.lap_burn = 0.0;
            team.lap_clean = true;
        }
        if self.checkered_ts.is_some() {
            // A car crossing on pit road finishes as it leaves it (after its `pit_out`).
            if self.cars[i].in_pit() {
                self.teams[i].took_checkered = true;
            } else {
                self.cars[i].phase = Phase::Finished(ts);
            }
            return;
        }
        let green = matches!(self.flag, Flag::Green | Flag::White);
        if green && self.cars[i].phase == Phase::Track && !self.cars[i].dry {
            self.green_strategy(i);
        }
    }

    fn green_strategy(&mut self, i: usize) {
        let laps = self.laps as f64;
        let restart_lap = self.restart_lap;
        let late_roll = self.race_rng.random::<f64>();
        let car = &mut self.cars[i];
        let team = &mut self.teams[i];
        let to_go = laps - car.d;
        if to_go <= 0.0 {
            return;
        }
        let bias = 1.0 + car.p.team_bias;
        let bpl = team.burn_per_lap * bias;
        let rem = (team.fill_fuel - team.stint_burned * bias).max(0.0);
        let range = rem / bpl;
        let need = to_go * bpl;
        let after_restart = car.lap() <= restart_lap + 5;
        let must_pit = range < 2.0 + car.p.margin_laps && to_go > 1.5;
        let mut pit = None;
        // (Once saving to the end, a driver keeps at it until well clear.)
        let was_saving = car.save;
        let clear = if was_saving > 0.0 { 0.8 } else { 0.3 };
        car.save = 0.0;
        car.push = false;
        if need <= rem - clear {
            // Enough to the end.
            car.push = car.p.style != Style::Saver && (rem > need * 1.05 || after_restart);
        } else if need - rem <= CAPACITY_GAL - 2.0 {
            // The last stint: save to the end, or a late stop for what the finish needs.
            let deficit = 1.0 - rem / need;
            if team.gambling || (car.p.gambler && deficit <= 0.18) {
                team.gambling = true;
                car.save = 1.0;
            } else if deficit <= car.p.save_cap || was_saving > 0.0 {
                // Start from what saving usually gives, then steer by what the last
                // saving lap really burned.
                let rate = team
                    .last_save_burn
                    .map_or(bpl * (1.0 - SAVE_AT_FULL), |b| b * bias);
                let projected = to_go * rate;
                car.save = if was_saving == 0.0 {
                    ((deficit + 0.02) / SAVE_AT_FULL).clamp(0.4, 1.0)
                } else if projected > rem - 0.3 {
                    (was_saving + 0.2).min(1.0)
                } else if projected < rem - 1.0 {
                    (was_saving - 0.1).max(0.4)
                } else {
                    was_saving
                };
                // Saving all out and still short: a splash after all.
                if was_saving >= 1.0 && projected > rem + 0.3 && must_pit && car.plan.is_none() {
                    pit = Some(FillPlan::Finish);
                }
            } else if must_pit && car.plan.is_none() {
                pit = Some(FillPlan::Finish);
            }
        } else {
            if must_pit && car.plan.is_none() {
                pit = Some(FillPlan::Full);
            }
            if range < 7.0 && team.late_save.is_none() {
                let p = match car.p.style {
                    Style::Saver => 0.8,
                    Style::Neutral => 0.3,
                    Style::Pusher => 0.05,
                };
                team.late_save = Some(late_roll < p);
            }
            if team.late_save == Some(true) && car.plan.is_none() {
                car.save = 0.5;
            } else if car.p.style == Style::Pusher && after_restart {
                car.push = true;
            }
        }
        if car.plan.is_some() || pit.is_some() {
            car.save = 0.0;
            car.push = false;
        }
        if let Some(plan) = pit {
            let stop = self.stop_for(i, plan);
            self.cars[i].plan_stop(&self.ctx, plan, stop);
        }
    }

    fn due_pending(&mut self, ts: i64) {
        let mut due: Vec<(i64, Pending)> = Vec::new();
        self.pending.retain(|p| {
            if p.0 <= ts {
                due.push(*p);
                false
            } else {
                true
            }
        });
        for (_, p) in due {
            match p {
                Pending::Yellow { extra } => {
                    if self.caution_allowed() {
                        self.start_caution(false, extra);
                    }
                }
                Pending::CarOut { car, reason } => {
                    self.cars[car].phase = Phase::Out;
                    self.cars[car].cancel_stop();
                    self.events.push(Event::CarOut { car, reason });
                }
            }
        }
    }

    /// Incidents and debris under green.
    fn hazard(&mut self, ts: i64) {
        if !self.caution_allowed()
            || self.leader_lap < 1
            || self
                .pending
                .iter()
                .any(|p| matches!(p.1, Pending::Yellow { .. }))
        {
            return;
        }
        let dt = 1.0 / self.cfg.hz as f64;
        let boost = if self.leader_lap < self.restart_lap + 2 && self.restart_lap > 0 {
            3.0
        } else {
            1.0
        };
        let p = CAUTION_PER_LAP * boost * dt / self.ctx.lap_time_s;
        if self.race_rng.random::<f64>() >= p {
            return;
        }
        let fast = 0.6 * self.ctx.track.green_speed_mph * MPS_PER_MPH;
        let candidates: Vec<usize> = (0..self.cars.len())
            .filter(|&i| {
                let c = &self.cars[i];
                c.phase == Phase::Track && !c.dry && c.v > fast
            })
            .collect();
        if candidates.is_empty() || self.race_rng.random::<f64>() < 0.25 {
            // Debris.
            self.pending.push((ts, Pending::Yellow { extra: 0 }));
            return;
        }
        let first = candidates[self.race_rng.random_range(0..candidates.len())];
        let mut involved = vec![first];
        // Cars close behind may be collected.
        let mut last = first;
        while involved.len() < 4 {
            let pos = self.cars[last].pos_m(&self.ctx);
            let behind = candidates
                .iter()
                .copied()
                .filter(|j| !involved.contains(j))
                .min_by(|&a, &b| {
                    let da = (pos - self.cars[a].pos_m(&self.ctx)).rem_euclid(self.ctx.len_m);
                    let db = (pos - self.cars[b].pos_m(&self.ctx)).rem_euclid(self.ctx.len_m);
                    da.total_cmp(&db)
                });
            let Some(b) = behind else { break };
            let gap = (pos - self.cars[b].pos_m(&self.ctx)).rem_euclid(self.ctx.len_m);
            if gap / self.cars[b].v.max(1.0) > 1.0 || self.race_rng.random::<f64>() < 0.5 {
                break;
            }
            involved.push(b);
            last = b;
        }
        involved.sort_unstable();
        let mut out = 0;
        for &i in &involved {
            let crash = self.race_rng.random::<f64>() < 0.35;
            let car = &mut self.cars[i];
            car.cancel_stop();
            if crash {
                car.phase = Phase::Crashed;
                out += 1;
            } else {
                car.damaged = true;
            }
        }
        self.events.push(Event::Incident {
            cars: involved,
            lap: self.leader_lap,
        });
        let delay = self.race_rng.random_range(1_500..3_500);
        self.pending.push((
            ts + delay,
            Pending::Yellow {
                extra: u32::from(out > 0),
            },
        ));
    }

    /// Under caution with pit road open: each car decides once, as it nears pit road.
    fn caution_pit_calls(&mut self) {
        let Some(c) = self.caution else { return };
        if !c.pit_open {
            return;
        }
        for i in 0..self.cars.len() {
            let car = &self.cars[i];
            if car.phase != Phase::Track
                || car.dry
                || car.plan.is_some()
                || self.teams[i].caution_decided == c.id
            {
                continue;
            }
            let to_entry = (self.ctx.next_entry(car.d) - car.d) * self.ctx.len_m;
            if !(60.0..=500.0).contains(&to_entry) {
                continue;
            }
            self.teams[i].caution_decided = c.id;
            let team = &self.teams[i];
            let bias = 1.0 + car.p.team_bias;
            let bpl = team.burn_per_lap * bias;
            let rem = (team.fill_fuel - team.stint_burned * bias).max(0.0);
            let used = 1.0 - rem / CAPACITY_GAL;
            let need = (self.laps as f64 - car.d).max(0.0) * bpl;
            let roll = self.race_rng.random::<f64>();
            let pit = if car.damaged {
                true
            } else if c.stage_break {
                used > 0.12 && roll < 0.95
            } else if need <= rem - 0.3 {
                // Could finish as it is: some take fuel and tyres anyway.
                used > 0.35 && roll < 0.5
            } else {
                used > 0.2 || roll < 0.3
            };
            if pit {
                let stop = self.stop_for(i, FillPlan::Full);
                let car = &mut self.cars[i];
                car.plan_stop(&self.ctx, FillPlan::Full, stop);
                car.save = 0.0;
                car.push = false;
            }
        }
    }

    // ----- motion ---------------------------------------------------------------------

    /// Who is ahead of whom on track, and the flag each car sees.
    fn compute_env(&mut self) {
        let len = self.ctx.len_m;
        let mut on_track: Vec<(f64, usize)> = (0..self.cars.len())
            .filter(|&i| self.cars[i].phase == Phase::Track)
            .map(|i| (self.cars[i].pos_m(&self.ctx), i))
            .collect();
        on_track.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut rank = vec![0usize; self.cars.len()];
        for (k, &(_, j)) in on_track.iter().enumerate() {
            rank[j] = k;
        }
        let caution = self.flag == Flag::Yellow;
        // The pace car picks up the first car in race order that is on track.
        let first = on_track
            .iter()
            .map(|&(_, j)| j)
            .filter(|&j| !self.cars[j].dry)
            .max_by(|&a, &b| self.cars[a].d.total_cmp(&self.cars[b].d).then(b.cmp(&a)));
        for i in 0..self.cars.len() {
            let car = &self.cars[i];
            let pos = car.pos_m(&self.ctx);
            let ahead = if on_track.is_empty() {
                None
            } else if car.phase == Phase::Track {
                let a = on_track[(rank[i] + 1) % on_track.len()].1;
                (a != i).then_some(a)
            } else {
                let k = on_track.partition_point(|&(p, _)| p <= pos);
                Some(on_track[k % on_track.len()].1)
            };
            self.env[i] = match ahead {
                Some(a) => Env {
                    caution,
                    leader: self.leader == Some(i),
                    first_on_track: first == Some(i),
                    gap_m: (self.cars[a].pos_m(&self.ctx) - pos).rem_euclid(len),
                    ahead_v: self.cars[a].v,
                    ahead_pace: self.cars[a].race_pace(),
                },
                None => Env {
                    caution,
                    leader: self.leader == Some(i),
                    first_on_track: first == Some(i),
                    gap_m: f64::INFINITY,
                    ahead_v: 0.0,
                    ahead_pace: 0.0,
                },
            };
        }
    }

    /// Moves every car from `from` to `to`, in steps of at most 100 ms, split at window
    /// edges.
    fn integrate(&mut self, from: i64, to: i64) {
        let n = (to - from + MAX_STEP_MS - 1) / MAX_STEP_MS;
        let mut t = from;
        for j in 1..=n {
            let tj = from + (to - from) * j / n;
            while self.next_window_end <= tj {
                let we = self.next_window_end;
                if we > t {
                    self.step_all(t, we, t == from);
                    t = we;
                }
                self.close_window();
            }
            if tj > t {
                self.step_all(t, tj, t == from);
                t = tj;
            }
        }
    }

    fn close_window(&mut self) {
        self.next_window_end += self.cfg.window_ms;
        if let Some(truth) = self.truth.as_mut() {
            let cars = &self.cars;
            truth.close_window(|i| (cars[i].fuel, cars[i].d));
        }
    }

    fn step_all(&mut self, a: i64, b: i64, first: bool) {
        let dt = (b - a) as f64 / 1_000.0;
        let green = matches!(self.flag, Flag::Green | Flag::White);
        for i in 0..self.cars.len() {
            let noise = 1.0 + (0.02 * normal(&mut self.noise_rng)).clamp(-0.06, 0.06);
            let car = &mut self.cars[i];
            if matches!(car.phase, Phase::Out | Phase::Finished(_) | Phase::Parked) {
                continue;
            }
            if !first {
                let env = self.env[i];
                car.control(&self.ctx, &env, dt);
            }
            let burn = car.integrate(&self.ctx, dt, noise);
            let team = &mut self.teams[i];
            team.lap_burn += burn;
            team.stint_burned += burn;
            if !green || car.phase != Phase::Track || car.dry {
                team.lap_clean = false;
            }
            if let Some(t) = self.truth.as_mut() {
                t.burn(i, burn);
            }
        }
    }

    // ----- writing --------------------------------------------------------------------

    fn sample_vals(&mut self, i: usize, ts: i64) -> SampleVals {
        let rng = &mut self.noise_rng;
        let car = &self.cars[i];
        let c = car.ctrl;
        let lap = car.lap();
        let frac_e4 = ((car.d - car.d.floor()) * 10_000.0)
            .floor()
            .clamp(0.0, 9_999.0) as u32;
        let rpm = if c.rpm > 0.0 {
            (c.rpm + 12.0 * normal(rng)).round().clamp(0.0, 12_000.0) as u32
        } else {
            0
        };
        let mut throttle = c.throttle * 100.0;
        if throttle > 0.5 && throttle < 99.5 {
            throttle += 0.3 * normal(rng);
        }
        let throttle_e1 = (throttle.clamp(0.0, 100.0) * 10.0).round() as u32;
        let env = &self.env[i];
        let gap_e2 = if env.leader {
            None
        } else {
            let gap_s = env.gap_m / car.v.max(30.0 * MPS_PER_MPH);
            Some((gap_s.min(600.0) * 100.0).round() as u32)
        };
        SampleVals {
            ts,
            lap,
            frac_e4,
            speed_e1: (car.v / MPS_PER_MPH * 10.0).round() as u32,
            rpm,
            throttle_e1,
            brake_psi: c.brake_psi.round().clamp(0.0, 3_000.0) as u32,
            gear: c.gear,
            gap_e2,
            in_pit: car.in_pit(),
        }
    }

    fn write_race_start(&mut self, ts: i64) {
        let track = self.ctx.track;
        let (race_id, laps) = (&self.race_id, self.laps);
        let cars = &self.cars;
        self.sink.line(ts, |b| {
            output::event_head(b, "race_start", ts, race_id);
            output::field(b, "track", |b| output::string(b, track.key));
            output::field(b, "track_length_mi", |b| {
                b.extend_from_slice(format!("{}", track.length_mi).as_bytes())
            });
            output::field(b, "scheduled_laps", |b| output::int(b, laps as i64));
            output::field(b, "fuel_capacity_gal", |b| {
                output::int(b, CAPACITY_GAL as i64)
            });
            output::field(b, "cars", |b| {
                b.push(b'[');
                for (k, c) in cars.iter().enumerate() {
                    if k > 0 {
                        b.push(b',');
                    }
                    output::string(b, &c.p.number);
                }
                b.push(b']');
            });
            output::field(b, "drivers", |b| {
                b.push(b'{');
                for (k, c) in cars.iter().enumerate() {
                    if k > 0 {
                        b.push(b',');
                    }
                    output::string(b, &c.p.number);
                    b.push(b':');
                    output::string(b, &c.p.driver);
                }
                b.push(b'}');
            });
            b.push(b'}');
        });
        self.summary.events += 1;
    }

    fn write_event(&mut self, ts: i64, ev: &Event) {
        let (race_id, live) = (&self.race_id, self.cfg.live);
        let cars = &self.cars;
        let num = |i: usize| cars[i].p.number.as_str();
        self.sink.line(ts, |b| match ev {
            Event::Flag { flag, lap } => {
                output::event_head(b, "flag", ts, race_id);
                output::field(b, "flag", |b| output::string(b, flag.key()));
                output::field(b, "lap", |b| output::int(b, *lap as i64));
                b.push(b'}');
            }
            Event::PitIn { car, lap } => {
                output::event_head(b, "pit_in", ts, race_id);
                output::field(b, "car", |b| output::string(b, num(*car)));
                output::field(b, "lap", |b| output::int(b, *lap as i64));
                b.push(b'}');
            }
            Event::PitOut {
                car,
                lap,
                added,
                full,
            } => {
                output::event_head(b, "pit_out", ts, race_id);
                output::field(b, "car", |b| output::string(b, num(*car)));
                output::field(b, "lap", |b| output::int(b, *lap as i64));
                if live {
                    b.extend_from_slice(b",\"fuel_added_gal\":null,\"full\":null}");
                } else {
                    output::field(b, "fuel_added_gal", |b| output::float(b, *added, 2));
                    output::field(b, "full", |b| {
                        b.extend_from_slice(if *full { b"true" } else { b"false" })
                    });
                    b.push(b'}');
                }
            }
            Event::Incident {
                cars: involved,
                lap,
            } => {
                output::event_head(b, "incident", ts, race_id);
                output::field(b, "cars", |b| {
                    b.push(b'[');
                    for (k, &c) in involved.iter().enumerate() {
                        if k > 0 {
                            b.push(b',');
                        }
                        output::string(b, num(c));
                    }
                    b.push(b']');
                });
                output::field(b, "lap", |b| output::int(b, *lap as i64));
                b.push(b'}');
            }
            Event::StageEnd { stage, lap } => {
                output::event_head(b, "stage_end", ts, race_id);
                output::field(b, "stage", |b| output::int(b, *stage as i64));
                output::field(b, "lap", |b| output::int(b, *lap as i64));
                b.push(b'}');
            }
            Event::CarOut { car, reason } => {
                output::event_head(b, "car_out", ts, race_id);
                output::field(b, "car", |b| output::string(b, num(*car)));
                output::field(b, "reason", |b| output::string(b, reason));
                b.push(b'}');
            }
        });
        self.summary.events += 1;
    }

    /// The lines produced and not yet taken (for [`crate::simulate`]).
    pub(crate) fn take_bytes(&mut self) -> &mut LineSink {
        &mut self.sink
    }
}

/// Stage ends for a race of `laps`: the track's count, the last stage the longest (ending
/// at the checkered flag, without a `stage_end`), dropped when too close to the finish.
fn stage_laps(track: &Track, laps: u32) -> Vec<u32> {
    let s = track.stages.max(1);
    let denom = if s >= 4 { s } else { s + 1 };
    let caution = ((3.0 + (2.5 / track.length_mi).round()) as u32).clamp(3, 8);
    let mut out: Vec<u32> = Vec::new();
    for k in 1..s {
        let lap = ((laps as f64) * k as f64 / denom as f64).round() as u32;
        if lap >= 1 && lap + caution + 5 < laps && out.last().is_none_or(|&p| lap > p) {
            out.push(lap);
        }
    }
    out
}

impl Iterator for Simulation {
    type Item = (i64, String);

    fn next(&mut self) -> Option<(i64, String)> {
        loop {
            if self.cursor < self.sink.lines.len() {
                let start = if self.cursor == 0 {
                    0
                } else {
                    self.sink.lines[self.cursor - 1].1
                };
                let (ts, end) = self.sink.lines[self.cursor];
                self.cursor += 1;
                self.summary.records += 1;
                let line = String::from_utf8_lossy(&self.sink.buf[start..end - 1]).into_owned();
                return Some((ts, line));
            }
            self.sink.clear();
            self.cursor = 0;
            if !self.advance() {
                return None;
            }
        }
    }
}

impl Simulation {
    /// Counts `n` lines written by [`crate::simulate`].
    pub(crate) fn count_records(&mut self, n: u64) {
        self.summary.records += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burnbar_core::tracks::lookup;

    /// Runs `sim` to the end; the lines written from now on.
    fn rest(sim: &mut Simulation) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        for (_, line) in sim.by_ref() {
            out.push(serde_json::from_str(&line).unwrap());
        }
        out
    }

    /// A race whose car 0 is about to run dry at `lap`, far from pit road or near it.
    fn nearly_dry(track: &str, frac: f64) -> (Simulation, Vec<serde_json::Value>) {
        let cfg = SimConfig {
            track: track.into(),
            laps: Some(8),
            cars: 3,
            hz: 2,
            seed: 1,
            ..SimConfig::default()
        };
        let mut sim = Simulation::new(&cfg).unwrap();
        sim.record_truth();
        while sim.cars[0].d < 2.0 + frac {
            sim.next().unwrap();
        }
        sim.cars[0].fuel = 0.003;
        let lines = rest(&mut sim);
        (sim, lines)
    }

    #[test]
    fn a_car_out_of_fuel_coasts_to_pit_road_and_is_filled() {
        // Dry just after the line at Martinsville: it coasts most of a lap to pit road.
        let (mut sim, lines) = nearly_dry("martinsville", 0.05);
        let car = sim.cars[0].p.number.clone();
        assert_eq!(sim.summary().ran_dry, vec![car.clone()]);
        let mine = |kind: &str| {
            lines
                .iter()
                .find(|l| l["kind"] == kind && l["car"] == car.as_str())
                .cloned()
        };
        let pit_in = mine("pit_in").expect("it reaches pit road");
        let pit_out = mine("pit_out").expect("and leaves it");
        assert!(pit_out["fuel_added_gal"].as_f64().unwrap() > 19.0);
        assert_eq!(pit_out["full"], true);
        // From the moment it runs dry to pit road the engine is dead: no rpm, no
        // throttle, the car slowing.
        let dead: Vec<&serde_json::Value> = lines
            .iter()
            .filter(|l| l.get("kind").is_none() && l["car"] == car.as_str())
            .skip_while(|l| l["rpm"] != 0)
            .take_while(|l| l["ts"].as_i64() < pit_in["ts"].as_i64())
            .collect();
        assert!(dead.len() > 10, "{}", dead.len());
        for w in dead.windows(2) {
            assert_eq!(w[1]["rpm"], 0);
            assert_eq!(w[1]["throttle_pct"], 0.0);
            assert!(w[1]["speed_mph"].as_f64() <= w[0]["speed_mph"].as_f64());
        }
        let truth = sim.take_truth();
        assert!(
            truth
                .iter()
                .any(|t| t.contains(&format!("\"car\":\"{car}\""))
                    && t.contains("\"remaining_gal\":0.0000"))
        );
    }

    #[test]
    fn a_car_out_of_fuel_far_from_pit_road_retires() {
        // Dry just past pit road at Pocono: a whole lap (2.5 miles) to coast; it stops.
        let (sim, lines) = nearly_dry("pocono", 0.95);
        let car = sim.cars[0].p.number.clone();
        assert_eq!(sim.summary().ran_dry, vec![car.clone()]);
        let out = lines
            .iter()
            .find(|l| l["kind"] == "car_out" && l["car"] == car.as_str());
        assert_eq!(out.expect("it retires")["reason"], "out of fuel");
        assert!(
            !lines
                .iter()
                .any(|l| l["kind"] == "pit_in" && l["car"] == car.as_str())
        );
        assert!(sim.cars[0].fuel >= 0.0);
    }

    #[test]
    fn stages_scale_to_the_race_and_leave_room_for_the_finish() {
        let pocono = lookup("pocono").unwrap();
        assert_eq!(stage_laps(pocono, 160), vec![40, 80]);
        assert_eq!(stage_laps(pocono, 8), Vec::<u32>::new());
        let charlotte = lookup("charlotte").unwrap();
        assert_eq!(stage_laps(charlotte, 400), vec![100, 200, 300]);
    }
}
