//! One car's state: the samples held in its open windows, and what closing a window
//! does (integration, stints and fills, laps, the `FuelUpdate`).
//!
//! # How a window is integrated
//!
//! Samples wait in `buf`, sorted by `ts`, until the car's watermark passes their window.
//! Closing a window sweeps its samples and the race-control events that act in it, in
//! event-time order. Between two points the fuel flow (and speed) of the latest sample
//! is held, for at most 1 s after that sample (`telemetry-v1` rule 4); a sample's flow
//! is computed once, when the sweep reaches it, from its channels and those held from
//! earlier samples for at most 1 s. Whatever is held past the window's end continues in
//! the next window (`carry`), so an interval that crosses the edge is split there.
//!
//! Because everything that decides a window's burn is known once the window closes (a
//! later sample of that window would be late), the burn is decided once and the result
//! does not depend on how the input was cut into batches or reordered within the
//! lateness.
//!
//! Hold that spills into a window in which the car has no sample is dropped: the spec
//! publishes nothing for such a window and the totals are sums of published burns.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::calibrate::StintRecorder;
use crate::contract::{CarId, Channels, Flag};
use crate::correction::CorrectionModel;
use crate::model::{ModelInput, ModelParams};
use crate::tracks::EnginePackage;
use crate::update::{FuelUpdate, Mode, ModelKind, round4};

/// How long a channel's value, and a sample's flow, is held (`telemetry-v1` rule 4).
pub const HOLD_MS: i64 = 1000;
const MS_PER_HOUR: f64 = 3_600_000.0;
/// A car first seen this close to the line (fraction of a lap) is taken to have been
/// seen from the lap's start: at 10 Hz a car covers well under 1 % of any Cup track
/// between two samples, so at most that much of the lap's fuel goes uncounted.
const FIRST_LAP_FRAC: f64 = 0.01;
/// z for a two-sided 90 % band.
const Z90: f64 = 1.645;

/// A sample waiting in an open window: 40 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Held {
    pub ts: i64,
    pub ch: Channels,
}

/// What a race-control event does to one car, at its effective time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum CarEventKind {
    Flag(Flag),
    PitIn,
    PitOut {
        fuel_added_gal: Option<f64>,
        full: Option<bool>,
    },
}

/// An event queued for a car. `eff_ts` is the event's `ts`, or the start of the car's
/// first open window when the event arrived after that window's predecessors closed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CarEvent {
    pub eff_ts: i64,
    pub kind: CarEventKind,
}

/// What the race tells a car's window about its surroundings.
#[derive(Clone, Copy)]
pub struct RaceCtx<'a> {
    pub race_id: &'a str,
    pub length_mi: f64,
    pub package: EnginePackage,
    pub capacity_gal: f64,
    pub scheduled_laps: Option<u32>,
    pub window_ms: i64,
    pub params: &'a ModelParams,
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
            .field("corrected", &self.correction.is_some())
            .finish_non_exhaustive()
    }
}

impl<'a> RaceCtx<'a> {
    /// A context with physics alone and no feature collection.
    pub fn physics(
        race_id: &'a str,
        length_mi: f64,
        package: EnginePackage,
        capacity_gal: f64,
        scheduled_laps: Option<u32>,
        window_ms: i64,
        params: &'a ModelParams,
    ) -> RaceCtx<'a> {
        RaceCtx {
            race_id,
            length_mi,
            package,
            capacity_gal,
            scheduled_laps,
            window_ms,
            params,
            correction: None,
            features: None,
            model: None,
        }
    }
}

/// The factor by which a window's physics burn is multiplied: decided before the window
/// closes (the Lambda asks the model for every window a batch will close, then closes
/// them), so a window's burn is decided once.
pub trait WindowCorrection {
    /// The factor for `car`'s window starting at `window_start`, if the model gave one.
    fn factor(&self, car: CarId, window_start: i64) -> Option<f64>;
}

/// What the correction model reads of one closed window: the physics estimate and the
/// shape of the driving behind it (time-weighted over the window's integrated flow).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WindowFeatures {
    pub car: CarId,
    /// The engine package (the model keeps coefficients per package).
    pub package: EnginePackage,
    pub window_start: i64,
    /// The physics burn rate of the window (gal/h), before any correction.
    pub physics_gph: f64,
    /// Mean throttle fraction (0..1) and rpm of the model's operating point.
    pub throttle: f64,
    pub rpm: f64,
    /// Shares of the flow hours at wide-open throttle (≥ 95 %) and with the throttle
    /// nearly shut (≤ 10 %): the mean alone hides how the pedal was used.
    pub wot_share: f64,
    pub closed_share: f64,
    /// Mean speed (mph) from the window's distance.
    pub mph: f64,
    /// Share of the window under a caution flag, and on pit road.
    pub caution_share: f64,
    pub in_pit: bool,
    /// Share of the window with a known flow (the rest is a telemetry gap).
    pub coverage: f64,
}

/// The other cars of the race, for the field median of `burn_index`.
pub enum Field<'a> {
    /// The other cars' states, in memory (the local engine holds every car).
    Cars {
        before: &'a [CarState],
        after: &'a [CarState],
    },
    /// The other cars' recent green-lap figures, `(lap end ts, gal per mile)`, as a
    /// race-level store keeps them (the Lambda sees only its shard's cars). Entries of
    /// the car being closed are ignored.
    Figures(&'a BTreeMap<CarId, Vec<(i64, f64)>>),
}

impl Field<'_> {
    /// No other car (a lone car, or a test).
    pub const EMPTY: Field<'static> = Field::Cars {
        before: &[],
        after: &[],
    };
}

/// The last value of a channel and when it was measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
struct Last {
    ts: i64,
    v: f32,
    known: bool,
}

impl Last {
    fn set(&mut self, ts: i64, v: f32) {
        *self = Last { ts, v, known: true };
    }
    fn at(&self, ts: i64) -> Option<f64> {
        (self.known && ts - self.ts <= HOLD_MS).then_some(self.v as f64)
    }
}

/// Channel values held across samples (rule 4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
struct Hold {
    throttle: Last,
    rpm: Last,
    speed: Last,
    lap: Last,
    lap_frac: Last,
    in_pit: Last,
    /// Last position measurement (lap + lap_frac) and the speed it implies.
    pos_ts: i64,
    pos: f64,
    pos_known: bool,
    pos_mph: Last,
}

/// The flow held from the latest integrated sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Carry {
    src_ts: i64,
    gph: f64,
    mph: f64,
    /// The model's operating point (throttle fraction, rpm), for calibration.
    theta: f32,
    rpm: f32,
    /// Speed below 1 mph (standing still, for fills of unknown amount).
    still: bool,
    /// The sample said the car is on pit road.
    in_pit: bool,
}

/// The fuel cell: what went in at the last fill and what has burned since.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fuel {
    pub capacity: f64,
    /// Estimated fuel in the cell when the stint began.
    pub stint_start_gal: f64,
    /// Variance of `stint_start_gal` (gal²).
    pub stint_start_var: f64,
    pub used_stint: f64,
    pub used_race: f64,
    pub stint_miles: f64,
    /// Fuel and its variance when the car entered pit road.
    pit_in: Option<(f64, f64)>,
    /// Time stood still in the box since pit entry, ms.
    standing_ms: i64,
    /// This car's own efficiency factor on the model's burn, in force this stint
    /// (learned from its weighed stints, [`Fuel::learn`]).
    pub stint_eff: f64,
    /// The stint began with the cell full for certain (the start, or a fill with
    /// `full: true`): its burn can be measured by the fill that ends it.
    pub start_full: bool,
    /// Weighed stints learned from, and the sum of their log ratios measured / model.
    pub learn_n: u32,
    pub learn_sum: f64,
    /// The stint began with the cell read as full (for certain, or a stop as long as a
    /// full fill needs): a fill to the top that ends it says what it burned.
    pub start_at_cap: bool,
    /// Fills sized from standing time learned from: the sums of their precisions and
    /// of their log ratios implied / model weighted by precision ([`Fuel::learn_standing`]).
    pub fill_prec: f64,
    pub fill_sum: f64,
    /// Burned since the car last stood still in its pit box: a fill counts from
    /// `pit_out` (`telemetry-v1`), while the crew filled the cell before the car drove
    /// off, so a cell read as full at `pit_out` is that much less full.
    pub since_box: f64,
}

impl Fuel {
    fn full(capacity: f64) -> Fuel {
        Fuel {
            capacity,
            stint_start_gal: capacity,
            stint_start_var: 0.0,
            used_stint: 0.0,
            used_race: 0.0,
            stint_miles: 0.0,
            pit_in: None,
            standing_ms: 0,
            stint_eff: 1.0,
            start_full: true,
            learn_n: 0,
            learn_sum: 0.0,
            start_at_cap: true,
            fill_prec: 0.0,
            fill_sum: 0.0,
            since_box: 0.0,
        }
    }

    /// Fuel in the cell now (not clamped).
    pub fn remaining(&self) -> f64 {
        self.stint_start_gal - self.used_stint
    }

    fn variance(&self, p: &ModelParams) -> f64 {
        let b = self.burn_rel_sd(p) * self.used_stint;
        self.stint_start_var + b * b
    }

    /// The relative doubt of this car's burn: what remains unknown of its efficiency
    /// after what it has taught, plus the model's error within a car. Before any lesson
    /// this is `burn_rel_sd`.
    fn burn_rel_sd(&self, p: &ModelParams) -> f64 {
        let (_, w2) = p.car_variances();
        (self.eff_posterior(p).1 + w2).sqrt()
    }

    /// The posterior of the log of this car's efficiency factor, `(mean, variance)`.
    /// Prior: the fleet, `N(0, τ²)` with τ = `car_rel_sd`. Each weighed stint observes
    /// it with the model's within-car error `w²`. Fills sized from standing time observe
    /// it only through the crew's rate, which is the same at every stop of the car's race
    /// (between-car fill variance `ρ²`), so their precision-weighted mean `ȳ` counts as
    /// one observation of variance `ρ² + 1/Σ(1/σⱼ²)`, however many stops there were.
    fn eff_posterior(&self, p: &ModelParams) -> (f64, f64) {
        let (tau2, w2) = p.car_variances();
        if tau2 <= 0.0 {
            return (0.0, 0.0);
        }
        let mut precision = 1.0 / tau2 + self.learn_n as f64 / w2;
        let mut weighted = self.learn_sum / w2;
        if self.fill_prec > 0.0 {
            let (rho2, _) = p.fill_variances();
            let v = rho2 + 1.0 / self.fill_prec;
            precision += 1.0 / v;
            weighted += (self.fill_sum / self.fill_prec) / v;
        }
        (weighted / precision, 1.0 / precision)
    }

    /// What a crew can have poured in the standing time of the stop under way (none
    /// off pit road: the time resets at `pit_out`).
    fn pour_so_far(&self, p: &ModelParams) -> f64 {
        (self.standing_ms as f64 / 1000.0 - p.fill_dead_s).max(0.0) * p.fill_rate_gps
    }

    /// What a fill sized from standing time says of this car, when the stint began
    /// with the cell read as full and the stop was as long as a full fill needs: the
    /// cell held `capacity − poured` at the stop, so the stint burned about `poured`
    /// (less any shortfall of its start). Against the model's raw burn that observes
    /// the car's efficiency, with the doubt of the pour (the stop-to-stop part of the
    /// fill's doubt, and its absolute part), of the start level, and the model's error
    /// within a car. The crew's own rate is the shared part [`Fuel::eff_posterior`]
    /// accounts for. Short stints and absurd ratios teach nothing, as with weighed ones.
    fn learn_standing(&mut self, poured: f64, p: &ModelParams) {
        if !self.start_at_cap || self.stint_eff.is_nan() || self.stint_eff <= 0.0 {
            return;
        }
        let raw = self.used_stint / self.stint_eff;
        let burned = poured - (self.capacity - self.stint_start_gal);
        if raw.is_nan() || raw < 3.0 || burned.is_nan() || burned <= 0.0 || poured <= 0.0 {
            return;
        }
        let y = (burned / raw).ln();
        if y.abs() > 0.25 {
            return;
        }
        let (_, within) = p.fill_variances();
        let (_, w2) = p.car_variances();
        let var =
            within + (p.fill_abs_sd / poured).powi(2) + w2 + self.stint_start_var / (raw * raw);
        if var.is_finite() && var > 0.0 {
            self.fill_prec += 1.0 / var;
            self.fill_sum += y / var;
        }
    }

    /// What a weighed stint says of this car. A stint that started with a full cell
    /// (the start, or a fill with `full: true`) and ends in a weighed fill to the top
    /// burned exactly what the fill put back; against the model's raw burn (without
    /// this car's factor) that is one observation of the car's efficiency. The factor
    /// is the posterior mean of a normal prior (the fleet: 1, with the spread of cars
    /// `car_rel_sd`) updated with every observation (each with the model's within-car
    /// error): shrunk toward the fleet while the evidence is thin. Short stints (a
    /// splash) and absurd ratios (a mistyped weight) teach nothing.
    fn learn(&mut self, added: Option<f64>, full: Option<bool>) {
        let (Some(added), Some(true)) = (added, full) else {
            return;
        };
        if !self.start_full
            || self.used_stint < 3.0
            || self.stint_eff.is_nan()
            || self.stint_eff <= 0.0
        {
            return;
        }
        let measured = added;
        let raw = self.used_stint / self.stint_eff;
        if measured.is_nan() || measured <= 0.0 || raw.is_nan() || raw <= 0.0 {
            return;
        }
        let y = (measured / raw).ln();
        if y.abs() > 0.25 {
            return;
        }
        self.learn_n += 1;
        self.learn_sum += y;
    }

    /// This car's efficiency factor after what it has taught (1 before any weighed stint
    /// or full stop sized from standing time, or when calibration found no spread
    /// between cars).
    fn learned_eff(&self, p: &ModelParams) -> f64 {
        self.eff_posterior(p).0.exp()
    }

    /// A fill at `pit_out`, exactly as the spec's Fills paragraph says.
    fn fill(&mut self, added: Option<f64>, full: Option<bool>, p: &ModelParams) {
        let (base, base_var) = self
            .pit_in
            .take()
            .unwrap_or_else(|| (self.remaining(), self.variance(p)));
        let base = base.max(0.0);
        let cap = self.capacity;
        let (level, var) = if let Some(added) = added {
            let want = base + added;
            // Poured past the top by more than the doubt: the cell is surely full.
            let var = if want - cap > Z90 * base_var.sqrt() {
                0.0
            } else {
                base_var
            };
            (want.min(cap), var)
        } else if full == Some(true) {
            (cap, 0.0)
        } else {
            let est = self.pour_so_far(p);
            let rel = p.fill_rel_sd * est;
            let var = base_var + rel * rel + p.fill_abs_sd * p.fill_abs_sd;
            let want = base + est;
            // Within the doubt of the top, the crew filled it: a stop as long as a full
            // fill needs is a full fill. (Sizing it at `want` would carry any error of
            // the level at pit_in, which the fill itself erased, through the next stint.)
            let doubt = Z90 * var.sqrt();
            // What the car burned leaving its box after the crew filled it: the cell
            // is that much short of the top at `pit_out`, where the fill counts.
            let drive_off = self.since_box * self.since_box;
            let margin = want - cap;
            // How likely a stop this long ended short of the top, when calibration
            // measured how often crews stop short and by how much.
            let short = match (p.fill_partial_share, p.fill_partial_room_gal) {
                (Some(share), Some(room)) => Some(short_odds(margin, var, share, room)),
                _ => None,
            };
            if margin > doubt {
                // Surely full: poured past the top by more than the doubt. The crew
                // stopped at the top and the car stood longer (tyres, a repair), so
                // the standing time overstates the pour: it teaches nothing.
                (cap, drive_off)
            } else if let Some(short) = short {
                if margin >= 0.0 || short < 0.5 {
                    // Read as full: exact if it was, off by the margin and its doubt
                    // if the crew stopped short. Only a stop that was full all but
                    // surely teaches (a short one would pull the car the other way).
                    if short < 0.1 {
                        self.learn_standing(est, p);
                    }
                    (cap, short * (margin * margin + var) + drive_off)
                } else {
                    (want, var)
                }
            } else if margin >= -doubt {
                self.learn_standing(est, p);
                // Probably full. The cell holds min(X, capacity) with X ~ N(want,
                // var): reading it as full errs only on the short side, by the
                // expected squared shortfall (keeping all of `var` would make the band
                // after every full stop far wider than the truth needs; the accuracy
                // report measured 99 % coverage that way).
                (cap, shortfall_var(margin, var) + drive_off)
            } else {
                (want, var)
            }
        };
        self.stint_start_gal = level;
        self.stint_start_var = var;
        self.start_full = full == Some(true);
        // Read as full, or weighed and reported full by the crew.
        self.start_at_cap = level >= cap || full == Some(true);
        self.used_stint = 0.0;
        self.stint_miles = 0.0;
        self.standing_ms = 0;
    }
}

/// The probability that a stop ended short of the top rather than at it, given that
/// what it would have poured at the fleet's rate, on top of the level at pit entry,
/// reaches `margin` past the capacity with variance `var`: at the top, the margin is
/// `N(0, var)`; short of it by `s ~ Exp(mean room)`, it is `−s + N(0, var)` (an
/// exponentially modified normal), and `share` of stops end short.
fn short_odds(margin: f64, var: f64, share: f64, room: f64) -> f64 {
    if share <= 0.0 {
        return 0.0;
    }
    if share >= 1.0 {
        return 1.0;
    }
    if var <= 0.0 {
        return if margin < 0.0 { 1.0 } else { 0.0 };
    }
    // The two densities share a factor φ(margin/sd): their ratio short / at the top is
    // λ·sd·R(x) with x = margin/sd + λ·sd and R the Mills ratio Φ(−x)/φ(x), which
    // stays finite where the densities themselves overflow or underflow.
    let sd = var.sqrt();
    let lambda_sd = sd / room;
    let ratio = lambda_sd * mills(margin / sd + lambda_sd);
    if !ratio.is_finite() {
        return 1.0;
    }
    let short = share * ratio;
    short / (short + (1.0 - share))
}

/// The Mills ratio `Φ(−x)/φ(x)`: its asymptotic series where `Φ(−x)` is too small for
/// [`norm_cdf`]'s absolute error, and infinite where `φ(x)` underflows.
fn mills(x: f64) -> f64 {
    if x > 5.0 {
        let x2 = x * x;
        (1.0 - 1.0 / x2 + 3.0 / (x2 * x2)) / x
    } else {
        let pdf = norm_pdf(x);
        if pdf > 0.0 {
            norm_cdf(-x) / pdf
        } else {
            f64::INFINITY
        }
    }
}

/// `E[(c − min(X, c))²]` for `X ~ N(c + margin, var)`: the mean squared error of reading
/// the level as the capacity `c` when what went in is only known to be `X`.
fn shortfall_var(margin: f64, var: f64) -> f64 {
    if var <= 0.0 {
        return 0.0;
    }
    let sd = var.sqrt();
    let d = margin / sd;
    var * ((1.0 + d * d) * norm_cdf(-d) - d * norm_pdf(d)).max(0.0)
}

fn norm_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// The standard normal distribution function (Abramowitz and Stegun 7.1.26 for erf,
/// absolute error below 1.5e-7: far inside what a fuel band needs).
fn norm_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    if x >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// Laps: the last lap's fuel, the last three green laps, recent green-lap figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
struct Laps {
    cur: Option<u16>,
    /// The current lap's start was seen (a crossing), so its fuel can be known.
    started: bool,
    start_used: f64,
    /// Some of the current lap ran under caution or on pit road.
    dirty: bool,
    last_lap_gal: Option<f64>,
    /// Fuel of the last three green laps (a ring), `green_n` of them valid.
    green: [f64; 3],
    green_n: u8,
    green_next: u8,
    /// (end ts, gal per mile) of the last eight green laps, a ring: enough for the
    /// cutoff (`window_start − window_ms`) with windows up to a few laps long.
    recent: [(i64, f64); 8],
    recent_n: u8,
    recent_next: u8,
}

impl Laps {
    fn fuel_per_green_lap(&self) -> Option<f64> {
        (self.green_n > 0)
            .then(|| self.green[..self.green_n as usize].iter().sum::<f64>() / self.green_n as f64)
    }

    /// The fuel per mile of the last green lap that ended before `cutoff`.
    fn figure_before(&self, cutoff: i64) -> Option<f64> {
        figure_before(&self.recent[..self.recent_n as usize], cutoff)
    }

    /// A sample with lap number `lap` at `ts`, with `used` burned in the race so far.
    fn on_lap(&mut self, lap: u16, frac: f64, ts: i64, used: f64, length_mi: f64) {
        match self.cur {
            Some(cur) if lap == cur => return,
            Some(cur) if lap == cur + 1 && self.started => {
                let gal = used - self.start_used;
                self.last_lap_gal = Some(gal);
                if !self.dirty && gal > 0.0 {
                    self.green[self.green_next as usize] = gal;
                    self.green_next = (self.green_next + 1) % 3;
                    self.green_n = (self.green_n + 1).min(3);
                    self.recent[self.recent_next as usize] = (ts, gal / length_mi);
                    self.recent_next = (self.recent_next + 1) % 8;
                    self.recent_n = (self.recent_n + 1).min(8);
                }
                self.started = true;
            }
            // A gap of several laps, or a lap counter that went back: a lap starts here,
            // but the one that ended is unknown.
            Some(_) => self.started = true,
            // The first sample seen: its lap counts from here only when the car is at
            // the line (seen from the start of the lap, as at the green flag).
            None => self.started = frac <= FIRST_LAP_FRAC,
        }
        self.cur = Some(lap);
        self.start_used = used;
        self.dirty = false;
    }
}

/// What one closed window measured, before it becomes a `FuelUpdate`.
#[derive(Debug, Clone, Copy, Default)]
struct WindowAcc {
    samples: u32,
    burn: f64,
    miles: f64,
    /// The correction factor applied to this window's burn (1 = physics alone).
    factor: f64,
    corrected: bool,
    /// Physics burn before the factor, and time-weighted sums of the operating point
    /// over the hours with a known flow (features for the correction model).
    physics_gal: f64,
    flow_h: f64,
    theta_h: f64,
    rpm_h: f64,
    wot_h: f64,
    closed_h: f64,
    in_pit: bool,
    flag_ms: [i64; 5],
    flag_last: [i64; 5],
}

/// One car in one race.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CarState {
    pub car: CarId,
    /// Largest `ts` of the car's samples.
    pub max_ts: Option<i64>,
    /// Every window ending at or before this has closed: samples before it are late.
    pub closed_through: i64,
    pub retired: bool,
    /// Samples of open windows, sorted by `ts`, one per `ts`.
    buf: VecDeque<Held>,
    /// Events not yet applied, sorted by `eff_ts` (stable for equal times).
    events: Vec<CarEvent>,
    hold: Hold,
    carry: Option<Carry>,
    flag: Flag,
    pit_road: bool,
    pub fuel: Fuel,
    laps: Laps,
    /// `lap + lap_frac` at the last integrated sample that carried a position.
    last_pos: Option<f64>,
    /// Largest position seen on arrival (for the race's leader lap).
    pub arrival_pos: f64,
    /// What calibration measures of each stint, when the engine records (off in live
    /// use: it is not part of the state a Lambda keeps).
    #[serde(skip)]
    pub recorder: Option<Box<StintRecorder>>,
}

/// What adding a sample did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insert {
    New,
    /// Same `(car, ts)`, nothing new.
    Duplicate,
    /// Same `(car, ts)`, new fields added.
    Merged,
}

impl CarState {
    pub fn new(car: CarId, capacity_gal: f64) -> CarState {
        CarState {
            car,
            max_ts: None,
            closed_through: i64::MIN,
            retired: false,
            buf: VecDeque::new(),
            events: Vec::new(),
            hold: Hold::default(),
            carry: None,
            flag: Flag::Green,
            pit_road: false,
            fuel: Fuel::full(capacity_gal),
            laps: Laps::default(),
            last_pos: None,
            arrival_pos: 0.0,
            recorder: None,
        }
    }

    /// A car first seen after the silent-car rule closed windows up to `boundary` has
    /// those windows closed too.
    pub fn close_through(&mut self, boundary: i64) {
        self.closed_through = self.closed_through.max(boundary);
    }

    /// Whether a sample at `ts` would be late (its window has closed for this car).
    pub fn is_late(&self, ts: i64) -> bool {
        self.retired || ts < self.closed_through
    }

    /// Number of samples held in open windows.
    pub fn held(&self) -> usize {
        self.buf.len()
    }

    /// Whether the car has samples waiting in open windows.
    pub fn has_open_windows(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Adds a sample that is not late, merging by `(car, ts)`.
    pub fn insert(&mut self, ts: i64, ch: &Channels) -> Insert {
        if ch.has(Channels::LAP) {
            let pos = ch.lap as f64
                + if ch.has(Channels::LAP_FRAC) {
                    ch.lap_frac as f64
                } else {
                    0.0
                };
            self.arrival_pos = self.arrival_pos.max(pos);
        }
        self.max_ts = Some(self.max_ts.map_or(ts, |m| m.max(ts)));
        match self.buf.back() {
            None => {
                self.buf.push_back(Held { ts, ch: *ch });
                Insert::New
            }
            Some(b) if b.ts < ts => {
                self.buf.push_back(Held { ts, ch: *ch });
                Insert::New
            }
            _ => match self.buf.binary_search_by_key(&ts, |h| h.ts) {
                Ok(i) => {
                    if self.buf[i].ch.merge_from(ch) {
                        Insert::Merged
                    } else {
                        Insert::Duplicate
                    }
                }
                Err(i) => {
                    self.buf.insert(i, Held { ts, ch: *ch });
                    Insert::New
                }
            },
        }
    }

    /// Queues an event arriving now; returns whether it arrived late for this car.
    pub fn push_event(&mut self, ts: i64, kind: CarEventKind) -> bool {
        let eff_ts = ts.max(self.closed_through);
        let at = self.events.partition_point(|e| e.eff_ts <= eff_ts);
        self.events.insert(at, CarEvent { eff_ts, kind });
        eff_ts > ts
    }

    /// Closes every window that ends at or before `boundary`, pushing one update per
    /// window that had samples.
    pub fn close_until(
        &mut self,
        boundary: i64,
        ctx: &RaceCtx,
        field: &Field,
        out: &mut Vec<FuelUpdate>,
    ) {
        let w = ctx.window_ms;
        let boundary = boundary.div_euclid(w) * w;
        if boundary <= self.closed_through {
            return;
        }
        while let Some(front) = self.buf.front() {
            let ws = front.ts.div_euclid(w) * w;
            let we = ws + w;
            if we > boundary {
                break;
            }
            let n = self.buf.partition_point(|h| h.ts < we);
            let factor = self.window_factor(ws, we, n, ctx);
            let acc = self.integrate(ws, we, n, ctx, factor);
            self.buf.drain(..n);
            if let Some(f) = ctx.features {
                f.borrow_mut()
                    .push(self.features(ws, we, &acc, ctx.package));
            }
            out.push(self.update(ws, we, &acc, ctx, field));
        }
        self.closed_through = boundary;
    }

    /// Closes every window that holds a sample (end of input, a new race, `car_out`).
    pub fn flush(&mut self, ctx: &RaceCtx, field: &Field, out: &mut Vec<FuelUpdate>) {
        if let Some(last) = self.buf.back() {
            let w = ctx.window_ms;
            let end = last.ts.div_euclid(w) * w + w;
            self.close_until(end, ctx, field, out);
        }
    }

    /// The correction factor of the window `[ws, we)` holding the first `n` samples:
    /// decided beforehand (`ctx.correction`), or by the in-process model on the window's
    /// own features, which a probe integration on a copy of the car measures first (the
    /// factor scales every interval of the window, pit events in it included, so it must
    /// be known before the window is integrated for real).
    fn window_factor(&mut self, ws: i64, we: i64, n: usize, ctx: &RaceCtx) -> Option<f64> {
        if let Some(c) = ctx.correction {
            return c.factor(self.car, ws);
        }
        let m = ctx.model?;
        m.package(ctx.package)?;
        let recorder = self.recorder.take();
        let mut probe = self.clone();
        self.recorder = recorder;
        let acc = probe.integrate(ws, we, n, ctx, None);
        Some(m.factor(&probe.features(ws, we, &acc, ctx.package)))
    }

    fn integrate(
        &mut self,
        ws: i64,
        we: i64,
        n: usize,
        ctx: &RaceCtx,
        factor: Option<f64>,
    ) -> WindowAcc {
        let mut acc = WindowAcc {
            samples: n as u32,
            factor: factor.unwrap_or(1.0),
            corrected: factor.is_some(),
            ..Default::default()
        };
        // The flow held from the last sample ran out before this window began: the
        // telemetry has a gap (whole windows without samples), so the current lap's fuel
        // is unknown.
        if self.carry.is_some_and(|c| c.src_ts + HOLD_MS < ws) {
            self.laps.dirty = true;
        }
        // Events of windows that had no sample act before this window.
        let mut ev = 0;
        while ev < self.events.len() && self.events[ev].eff_ts < ws {
            let e = self.events[ev];
            self.apply_event(e.eff_ts, e.kind, ctx);
            ev += 1;
        }
        let mut t = ws;
        let mut i = 0;
        loop {
            let next_sample = (i < n).then(|| self.buf[i].ts);
            let next_event = (ev < self.events.len() && self.events[ev].eff_ts < we)
                .then(|| self.events[ev].eff_ts);
            // An event at the same instant as a sample acts first.
            let (at, is_event) = match (next_sample, next_event) {
                (None, None) => break,
                (Some(s), Some(e)) if e <= s => (e, true),
                (Some(s), _) => (s, false),
                (None, Some(e)) => (e, true),
            };
            self.advance(t, at, &mut acc);
            t = at;
            if is_event {
                let e = self.events[ev];
                self.apply_event(e.eff_ts, e.kind, ctx);
                ev += 1;
            } else {
                let h = self.buf[i];
                self.apply_sample(&h, &mut acc, ctx);
                i += 1;
            }
        }
        self.advance(t, we, &mut acc);
        self.events.drain(..ev);
        acc
    }

    /// Integrates the held flow over `[a, b)`.
    fn advance(&mut self, a: i64, b: i64, acc: &mut WindowAcc) {
        if b <= a {
            return;
        }
        let f = self.flag as usize;
        acc.flag_ms[f] += b - a;
        acc.flag_last[f] = b;
        if self.pit_road {
            acc.in_pit = true;
        }
        let on_pit_road = self.pit_road || self.carry.is_some_and(|c| c.in_pit);
        if self.flag.is_caution() || on_pit_road {
            self.laps.dirty = true;
        }
        let Some(c) = self.carry else { return };
        let end = b.min(c.src_ts + HOLD_MS);
        if end < b {
            // The telemetry has a gap: fuel burned in it is unknown, so the lap's fuel
            // is too, and it must not count as a green lap.
            self.laps.dirty = true;
        }
        if end <= a {
            return;
        }
        let hours = (end - a) as f64 / MS_PER_HOUR;
        let physics = c.gph * hours;
        let gal = physics * acc.factor * self.fuel.stint_eff;
        let miles = c.mph * hours;
        acc.physics_gal += physics;
        acc.flow_h += hours;
        acc.theta_h += c.theta as f64 * hours;
        acc.rpm_h += c.rpm as f64 * hours;
        if c.theta >= 0.95 {
            acc.wot_h += hours;
        } else if c.theta <= 0.10 {
            acc.closed_h += hours;
        }
        acc.burn += gal;
        acc.miles += miles;
        self.fuel.used_stint += gal;
        self.fuel.used_race += gal;
        self.fuel.stint_miles += miles;
        if c.still && on_pit_road {
            self.fuel.standing_ms += end - a;
            self.fuel.since_box = 0.0;
        } else {
            self.fuel.since_box += gal;
        }
        if let Some(r) = self.recorder.as_deref_mut()
            && c.gph > 0.0
        {
            r.add(c.theta, c.rpm, hours);
        }
    }

    fn apply_event(&mut self, ts: i64, kind: CarEventKind, ctx: &RaceCtx) {
        match kind {
            CarEventKind::Flag(f) => self.flag = f,
            CarEventKind::PitIn => {
                self.pit_road = true;
                self.fuel.pit_in = Some((self.fuel.remaining(), self.fuel.variance(ctx.params)));
                // Standing time is not reset here: a pit_in that arrives late acts at the
                // car's first open window, after the car may already have stood in its
                // box. It counts from the last fill (`Fuel::fill` resets it).
                self.laps.dirty = true;
            }
            CarEventKind::PitOut {
                fuel_added_gal,
                full,
            } => {
                self.pit_road = false;
                if let Some(r) = self.recorder.as_deref_mut() {
                    r.close_stint(
                        self.car,
                        ctx,
                        ts,
                        fuel_added_gal,
                        full,
                        self.fuel.standing_ms as f64 / 1000.0,
                    );
                }
                self.fuel.learn(fuel_added_gal, full);
                self.fuel.fill(fuel_added_gal, full, ctx.params);
                self.fuel.stint_eff = self.fuel.learned_eff(ctx.params);
                self.laps.dirty = true;
            }
        }
    }

    fn apply_sample(&mut self, h: &Held, acc: &mut WindowAcc, ctx: &RaceCtx) {
        let ts = h.ts;
        let ch = &h.ch;
        let hold = &mut self.hold;
        if ch.has(Channels::THROTTLE) {
            hold.throttle.set(ts, ch.throttle_pct);
        }
        if ch.has(Channels::RPM) {
            hold.rpm.set(ts, ch.rpm);
        }
        if ch.has(Channels::SPEED) {
            hold.speed.set(ts, ch.speed_mph);
        }
        if ch.has(Channels::LAP) {
            hold.lap.set(ts, ch.lap as f32);
        }
        if ch.has(Channels::LAP_FRAC) {
            hold.lap_frac.set(ts, ch.lap_frac);
        }
        if let Some(p) = ch.in_pit() {
            hold.in_pit.set(ts, if p { 1.0 } else { 0.0 });
        }
        // Position: a new measurement when this sample carried lap or lap_frac and the
        // other is known (now or held).
        let measured = ch.has(Channels::LAP) || ch.has(Channels::LAP_FRAC);
        let pos = match (hold.lap.at(ts), hold.lap_frac.at(ts)) {
            (Some(l), Some(f)) => Some(l + f),
            _ => None,
        };
        // The published `lap`: lap + lap_frac, a missing fraction read as 0.
        if let Some(l) = hold.lap.at(ts) {
            self.last_pos = Some(l + hold.lap_frac.at(ts).unwrap_or(0.0));
        }
        if let (true, Some(pos)) = (measured, pos) {
            let dt = ts - hold.pos_ts;
            if hold.pos_known && dt > 0 && dt <= HOLD_MS && pos >= hold.pos {
                let mph = (pos - hold.pos) * ctx.length_mi / (dt as f64 / MS_PER_HOUR);
                hold.pos_mph.set(ts, mph as f32);
            }
            hold.pos = pos;
            hold.pos_ts = ts;
            hold.pos_known = true;
        }
        let speed = hold.speed.at(ts);
        let mph = hold.pos_mph.at(ts).or(speed).unwrap_or(0.0);
        let input = ModelInput {
            throttle_pct: hold.throttle.at(ts),
            rpm: hold.rpm.at(ts),
            speed_mph: speed,
        };
        let point = ctx.params.operating_point(input);
        let gph = point.map_or(0.0, |(theta, rpm)| {
            ctx.params.package(ctx.package).fuel_gph(theta, rpm)
        });
        let (theta, rpm) = point.unwrap_or((0.0, 0.0));
        let in_pit = hold.in_pit.at(ts).is_some_and(|v| v > 0.5);
        let still = speed.map_or(mph < 1.0, |s| s < 1.0);
        if in_pit {
            acc.in_pit = true;
            self.laps.dirty = true;
        }
        self.carry = Some(Carry {
            src_ts: ts,
            gph,
            mph,
            theta: theta as f32,
            rpm: rpm as f32,
            still,
            in_pit,
        });
        if let Some(lap) = self.hold.lap.at(ts) {
            let frac = self.hold.lap_frac.at(ts).unwrap_or(1.0);
            self.laps
                .on_lap(lap as u16, frac, ts, self.fuel.used_race, ctx.length_mi);
        }
    }

    /// This car's recent green-lap figures, `(lap end ts, gal per mile)`, oldest first:
    /// what a race-level store keeps for other shards' `burn_index` ([`Field::Figures`]).
    /// Empty for a retired car (it leaves the field median).
    pub fn recent_green_figures(&self) -> Vec<(i64, f64)> {
        if self.retired {
            return Vec::new();
        }
        let mut v = self.laps.recent[..self.laps.recent_n as usize].to_vec();
        v.sort_by_key(|&(end, _)| end);
        v
    }

    fn features(
        &self,
        ws: i64,
        we: i64,
        acc: &WindowAcc,
        package: EnginePackage,
    ) -> WindowFeatures {
        let hours = (we - ws) as f64 / MS_PER_HOUR;
        let total_ms: i64 = acc.flag_ms.iter().sum();
        let caution_ms: i64 = Flag::ALL
            .iter()
            .filter(|f| f.is_caution())
            .map(|&f| acc.flag_ms[f as usize])
            .sum();
        let per_flow = |x: f64| {
            if acc.flow_h > 0.0 {
                x / acc.flow_h
            } else {
                0.0
            }
        };
        WindowFeatures {
            car: self.car,
            package,
            window_start: ws,
            physics_gph: acc.physics_gal / hours,
            throttle: per_flow(acc.theta_h),
            rpm: per_flow(acc.rpm_h),
            wot_share: per_flow(acc.wot_h),
            closed_share: per_flow(acc.closed_h),
            mph: acc.miles / hours,
            caution_share: if total_ms > 0 {
                caution_ms as f64 / total_ms as f64
            } else {
                0.0
            },
            in_pit: acc.in_pit,
            coverage: (acc.flow_h / hours).min(1.0),
        }
    }

    /// This car's fuel per mile over its last green lap that ended before `cutoff`.
    pub fn green_figure_before(&self, cutoff: i64) -> Option<f64> {
        if self.retired {
            return None;
        }
        self.laps.figure_before(cutoff)
    }

    fn update(
        &self,
        ws: i64,
        we: i64,
        acc: &WindowAcc,
        ctx: &RaceCtx,
        field: &Field,
    ) -> FuelUpdate {
        let p = ctx.params;
        // The flag with the largest share; a tie goes to the one in force later.
        let flag = (0..5)
            .max_by_key(|&f| (acc.flag_ms[f], acc.flag_last[f]))
            .map(|f| Flag::ALL[f])
            .unwrap_or(Flag::Green);
        let cap = ctx.capacity_gal;
        let remaining_raw = self.fuel.remaining();
        let remaining = remaining_raw.clamp(0.0, cap);
        let half = Z90 * self.fuel.variance(p).sqrt();
        let low = (remaining_raw - half).clamp(0.0, cap);
        // Standing in the box during a stop (a `pit_in` without its `pit_out` yet), the
        // crew may be pouring. The contract counts a fill at `pit_out`, when its size is
        // known, so `remaining_gal` keeps the level of `pit_in`; but the cell may
        // already hold what the standing time so far lets a crew pour (at the fill
        // rate's upper bound), and the band's top says so. Standing on pit road with no
        // stop open (idling before the start, parked under a red flag) pours nothing.
        let pouring = if self.pit_road {
            self.fuel.pour_so_far(p) * (1.0 + Z90 * p.fill_rel_sd)
        } else {
            0.0
        };
        let high = (remaining_raw + half + pouring).clamp(0.0, cap);
        let lap = self.last_pos.unwrap_or(0.0).max(0.0);
        let fpgl = self.laps.fuel_per_green_lap();
        let laps_to_empty = fpgl.map(|f| remaining / f);
        let save_needed_pct = match (ctx.scheduled_laps, fpgl) {
            (Some(sched), Some(f)) => {
                let left = sched as f64 - lap;
                Some(if left <= 0.0 {
                    0.0
                } else {
                    (100.0 * (1.0 - remaining / (left * f))).max(0.0)
                })
            }
            _ => None,
        };
        let burn_index = if flag.is_caution() {
            None
        } else {
            burn_index(self, ws - ctx.window_ms, field)
        };
        let mode = if acc.in_pit {
            Mode::Pit
        } else if flag.is_caution() {
            Mode::Caution
        } else {
            match burn_index {
                Some(b) if b < 0.96 => Mode::Saving,
                Some(b) if b > 1.04 => Mode::Pushing,
                _ => Mode::Normal,
            }
        };
        // "null when burn_gal is 0": the published, rounded burn.
        let mpg_window =
            (acc.miles >= 0.05 && round4(acc.burn) > 0.0).then(|| acc.miles / acc.burn);
        let mpg_lap = self
            .laps
            .last_lap_gal
            .filter(|g| *g > 0.0)
            .map(|g| ctx.length_mi / g);
        let mpg_stint = (self.fuel.stint_miles >= 0.05 && round4(self.fuel.used_stint) > 0.0)
            .then(|| self.fuel.stint_miles / self.fuel.used_stint);
        FuelUpdate {
            v: 1,
            race_id: ctx.race_id.to_owned(),
            car: self.car,
            seq: ws.div_euclid(ctx.window_ms),
            window_start: ws,
            window_end: we,
            lap,
            flag,
            in_pit: acc.in_pit,
            samples: acc.samples,
            miles: acc.miles,
            burn_gal: acc.burn,
            burn_rate_gph: acc.burn / ((we - ws) as f64 / MS_PER_HOUR),
            mpg_window,
            mpg_lap,
            mpg_stint,
            used_stint_gal: self.fuel.used_stint,
            used_race_gal: self.fuel.used_race,
            remaining_gal: remaining,
            remaining_low_gal: low,
            remaining_high_gal: high,
            laps_to_empty,
            save_needed_pct,
            burn_index,
            mode,
            model: if acc.corrected {
                ModelKind::PhysicsMl
            } else {
                ModelKind::Physics
            },
        }
    }
}

/// The figure of the last lap in `recent` that ended before `cutoff`.
fn figure_before(recent: &[(i64, f64)], cutoff: i64) -> Option<f64> {
    recent
        .iter()
        .filter(|(end, _)| *end < cutoff)
        .max_by_key(|(end, _)| *end)
        .map(|&(_, f)| f)
}

/// The car's figure over the field's median (`fuel-update-v1`): null when the car has
/// no figure or fewer than three cars have one.
fn burn_index(car: &CarState, cutoff: i64, field: &Field) -> Option<f64> {
    let own = car.green_figure_before(cutoff)?;
    let mut figures: Vec<f64> = match field {
        Field::Cars { before, after } => {
            let mut v = Vec::with_capacity(before.len() + after.len() + 1);
            v.extend(
                before
                    .iter()
                    .chain(*after)
                    .filter_map(|c| c.green_figure_before(cutoff)),
            );
            v
        }
        Field::Figures(map) => {
            let mut v = Vec::with_capacity(map.len() + 1);
            v.extend(
                map.iter()
                    .filter(|(c, _)| **c != car.car)
                    .filter_map(|(_, list)| figure_before(list, cutoff)),
            );
            v
        }
    };
    figures.push(own);
    if figures.len() < 3 {
        return None;
    }
    figures.sort_by(f64::total_cmp);
    let n = figures.len();
    let median = if n % 2 == 1 {
        figures[n / 2]
    } else {
        (figures[n / 2 - 1] + figures[n / 2]) / 2.0
    };
    (median > 0.0).then(|| own / median)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_targets_hold() {
        assert!(
            std::mem::size_of::<Held>() <= 48,
            "{}",
            std::mem::size_of::<Held>()
        );
        assert!(
            std::mem::size_of::<CarState>() <= 2048,
            "{}",
            std::mem::size_of::<CarState>()
        );
    }

    /// A stint from a full cell in which the model counted `model_gal` while the car
    /// really burned `model_gal × truth`, ended by a weighed fill to the top.
    fn weighed_stint(fuel: &mut Fuel, p: &ModelParams, model_gal: f64, truth: f64) {
        fuel.used_stint = model_gal * fuel.stint_eff;
        let burned = model_gal * truth;
        fuel.learn(Some(burned), Some(true));
        fuel.fill(Some(burned), Some(true), p);
        fuel.stint_eff = fuel.learned_eff(p);
    }

    #[test]
    fn a_car_learns_its_efficiency_from_weighed_stints_shrunk_toward_the_fleet() {
        let p = ModelParams {
            burn_rel_sd: 0.03,
            car_rel_sd: 0.02,
            ..ModelParams::default()
        };
        let mut fuel = Fuel::full(20.0);
        weighed_stint(&mut fuel, &p, 15.0, 1.04);
        // One stint: the posterior mean moves toward 4 % but not all the way.
        let one = fuel.stint_eff;
        assert!(one > 1.01 && one < 1.04, "{one}");
        for _ in 0..9 {
            weighed_stint(&mut fuel, &p, 15.0, 1.04);
        }
        let ten = fuel.stint_eff;
        assert!(ten > one && (ten - 1.04).abs() < 0.005, "{ten}");
        assert_eq!(fuel.learn_n, 10);
        assert!(fuel.start_full);
    }

    #[test]
    fn the_band_narrows_as_a_car_teaches_and_never_below_the_within_car_error() {
        let p = ModelParams {
            burn_rel_sd: 0.03,
            car_rel_sd: 0.02,
            ..ModelParams::default()
        };
        let (tau2, w2) = p.car_variances();
        let after = |n: u32| {
            let mut fuel = Fuel::full(20.0);
            fuel.learn_n = n;
            fuel.burn_rel_sd(&p)
        };
        assert!((after(0) - 0.03).abs() < 1e-12);
        let mut last = after(0);
        for n in 1..20 {
            let sd = after(n);
            assert!(sd < last, "{n}: {sd} !< {last}");
            assert!(sd > w2.sqrt());
            last = sd;
        }
        assert!(tau2 > 0.0);
        // The band of a car at the same point of a stint is narrower once it taught.
        let mut fresh = Fuel::full(20.0);
        fresh.used_stint = 10.0;
        let mut taught = fresh;
        taught.learn_n = 5;
        assert!(taught.variance(&p) < fresh.variance(&p));
    }

    #[test]
    fn a_probably_full_fill_keeps_only_the_shortfall_in_the_band() {
        assert!((norm_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((norm_cdf(1.645) - 0.95).abs() < 1e-4);
        assert!((norm_cdf(-1.0) - 0.158_655).abs() < 1e-5);
        // Right at the top, half the distribution falls short: half the variance.
        assert!((shortfall_var(0.0, 4.0) - 2.0).abs() < 1e-6);
        // Well past the top, almost nothing is short.
        assert!(shortfall_var(3.0, 1.0) < 1e-3);
        // Short of the top on average, more than the whole variance.
        assert!(shortfall_var(-1.0, 1.0) > 1.0);
        // Monotone in the margin.
        let mut last = f64::INFINITY;
        for k in -16..=16 {
            let v = shortfall_var(k as f64 / 10.0, 1.0);
            assert!(v < last);
            last = v;
        }
    }

    /// A stint from a cell read as full in which the model counted `model_gal` while the
    /// car really burned `model_gal × truth`, ended by a live stop (no weight) whose
    /// crew poured `pour` gallons at `crew` times the fleet's fill rate.
    fn standing_stint(
        fuel: &mut Fuel,
        p: &ModelParams,
        model_gal: f64,
        truth: f64,
        pour: Option<f64>,
        crew: f64,
    ) {
        fuel.used_stint = model_gal * fuel.stint_eff;
        let poured = pour.unwrap_or(model_gal * truth);
        let secs = poured / (p.fill_rate_gps * crew) + p.fill_dead_s;
        fuel.standing_ms = (secs * 1000.0).round() as i64;
        fuel.fill(None, None, p);
        fuel.stint_eff = fuel.learned_eff(p);
    }

    /// Calibrated doubts of a fill sized from standing time: 3 % relative, of which
    /// `crew_sd` is each crew's own rate.
    fn live_params(crew_sd: f64) -> ModelParams {
        ModelParams {
            burn_rel_sd: 0.021,
            car_rel_sd: 0.02,
            fill_rel_sd: 0.032,
            fill_abs_sd: 0.15,
            fill_car_rel_sd: Some(crew_sd),
            ..ModelParams::default()
        }
    }

    #[test]
    fn full_stops_sized_from_standing_time_teach_a_car_its_efficiency_up_to_its_crew() {
        // Fills that standing time sizes to 1 %, of which 0.5 % is the crew: standing
        // time all but weighs them, and a 4 % thrifty car is learned nearly as from
        // weighed stints.
        let p = ModelParams {
            fill_rel_sd: 0.01,
            ..live_params(0.005)
        };
        let mut fuel = Fuel::full(20.0);
        for _ in 0..6 {
            standing_stint(&mut fuel, &p, 18.0, 0.96, None, 1.0);
        }
        let eff = fuel.stint_eff;
        assert!(eff > 0.96 && eff < 0.975, "{eff}");
        assert_eq!(fuel.learn_n, 0, "nothing was weighed");
        assert!(fuel.start_at_cap);
        assert!(fuel.burn_rel_sd(&p) < 0.015, "{}", fuel.burn_rel_sd(&p));

        // Crews that differ by 3 %: however many stops, the car's own rate hides part of
        // its efficiency, and the factor moves only part of the way.
        let p = live_params(0.03);
        let mut fuel = Fuel::full(20.0);
        for _ in 0..20 {
            standing_stint(&mut fuel, &p, 18.0, 0.96, None, 1.0);
        }
        let eff = fuel.stint_eff;
        assert!(eff > 0.98 && eff < 0.995, "{eff}");
        let sd = fuel.burn_rel_sd(&p);
        assert!(sd > 0.015 && sd < 0.021, "{sd}");

        // And a fast crew reads as a thrifty car by the same amount as a thrifty car
        // reads with an average crew: standing time cannot tell the two apart.
        let mut fast = Fuel::full(20.0);
        for _ in 0..20 {
            standing_stint(&mut fast, &p, 18.0, 1.0, None, 1.0 / 0.96);
        }
        assert!(
            (fast.stint_eff - eff).abs() < 0.002,
            "{} vs {eff}",
            fast.stint_eff
        );
    }

    #[test]
    fn a_stop_short_of_full_teaches_nothing_nor_does_the_stint_after_it() {
        let p = live_params(0.005);
        let mut fuel = Fuel::full(20.0);
        // A splash: 6 gal into a cell 15 gal down, far short of the top.
        standing_stint(&mut fuel, &p, 15.0, 1.0, Some(6.0), 1.0);
        assert_eq!(fuel.fill_prec, 0.0);
        assert!(!fuel.start_at_cap);
        assert!(
            (fuel.remaining() - 11.0).abs() < 0.2,
            "{}",
            fuel.remaining()
        );
        // The next stop fills it to the top, but the stint began from a level that
        // was itself only estimated.
        standing_stint(
            &mut fuel,
            &p,
            8.0,
            0.96,
            Some(20.0 - 11.0 + 8.0 * 0.96),
            1.0,
        );
        assert_eq!(fuel.fill_prec, 0.0);
        assert_eq!(fuel.stint_eff, 1.0);
        assert!(fuel.start_at_cap);
    }

    #[test]
    fn a_stop_as_long_as_a_full_fill_is_judged_full_or_short_by_how_often_crews_stop_short() {
        // 5 % of stops end short, by 3 gal on average; the margin's doubt is 0.7 gal.
        let odds = |m: f64| short_odds(m, 0.49, 0.05, 3.0);
        assert!(odds(0.0) < 0.02, "{}", odds(0.0));
        assert!(odds(-1.5) > 0.1, "{}", odds(-1.5));
        assert!(odds(-3.0) > 0.9, "{}", odds(-3.0));
        let mut last = 1.0;
        for k in -30..=20 {
            let o = odds(k as f64 / 10.0);
            assert!(o <= last && (0.0..=1.0).contains(&o), "{k}: {o}");
            last = o;
        }
        assert_eq!(short_odds(-1.0, 0.49, 0.0, 3.0), 0.0);
        // Far out in either tail, and with tiny rooms, it stays a probability.
        for (m, v, room) in [
            (0.5, 4.0, 0.05),
            (-50.0, 0.01, 3.0),
            (50.0, 0.01, 3.0),
            (0.0, 4.0, 0.001),
        ] {
            let o = short_odds(m, v, 0.1, room);
            assert!(
                o.is_finite() && (0.0..=1.0).contains(&o),
                "{m} {v} {room}: {o}"
            );
        }
        assert_eq!(short_odds(-0.5, 0.0, 0.1, 3.0), 1.0);
        assert_eq!(short_odds(0.5, 0.0, 0.1, 3.0), 0.0);
        // The Mills ratio on both sides of its switch to the series.
        assert!((mills(4.99) / mills(5.01) - 5.01 / 4.99).abs() < 0.01);

        // A full stop of a car burning as the model says: with the crews' habits known
        // its band after the stop is a fraction of the shortfall doubt kept without.
        let stop = |p: &ModelParams| {
            let mut fuel = Fuel::full(20.0);
            standing_stint(&mut fuel, p, 18.0, 1.0, None, 1.0);
            assert_eq!(fuel.remaining(), 20.0);
            fuel.variance(p).sqrt()
        };
        let known = ModelParams {
            fill_partial_share: Some(0.05),
            fill_partial_room_gal: Some(3.0),
            ..live_params(0.03)
        };
        let (with, without) = (stop(&known), stop(&live_params(0.03)));
        assert!(with < 0.25 * without, "{with} vs {without}");
    }

    #[test]
    fn splashes_unknown_levels_and_absurd_weights_teach_nothing() {
        let p = ModelParams::default();
        let mut fuel = Fuel::full(20.0);
        // A splash: too short a stint to measure a percentage.
        fuel.used_stint = 2.0;
        fuel.learn(Some(2.0), Some(true));
        // Not filled to the top: the level after is unknown.
        fuel.used_stint = 12.0;
        fuel.learn(Some(12.0), Some(false));
        // A mistyped weight: 40 % off.
        fuel.learn(Some(12.0 * 1.4), Some(true));
        // A stint that began from a level that was not surely full.
        fuel.start_full = false;
        fuel.learn(Some(12.0), Some(true));
        assert_eq!(fuel.learn_n, 0);
        assert_eq!(fuel.learned_eff(&p), 1.0);
    }
}
