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
//!
//! # Layout
//!
//! - this file: [`CarState`] and the per-car flow of closing windows (which windows
//!   close, their correction factor, sweep, features and update, in that order).
//! - `window`: the buffer of open windows: [`Held`] samples, [`CarState::insert`] and its
//!   merge by `(car, ts)`, lateness.
//! - `events`: race-control events queued for the car and what each does at its time.
//! - `sweep`: how one window is integrated: held channels, the held flow, the sweep of
//!   samples and events in event-time order.
//! - `fuel`: the fuel cell: its level and doubt, fills, and what the car's stints teach
//!   of its efficiency.
//! - `laps`: lap bookkeeping, green-lap figures and the field median of `burn_index`.
//! - `build`: what a closed window becomes: its [`WindowFeatures`] and its `FuelUpdate`.
//! - `ctx`: what the race tells a car ([`RaceCtx`], [`WindowCorrection`], [`Field`]).
//! - `cache`: what the engine caches of the field for the windows closing now
//!   ([`FieldCache`]: positions for the leader's lap, figures for `burn_index`).
//! - `previous`: the layouts of earlier stored formats ([`CarStateV3`]), read after a
//!   deploy in the middle of a race.

mod build;
mod cache;
mod ctx;
mod events;
mod fuel;
mod laps;
mod previous;
mod sweep;
mod window;

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::calibrate::StintRecorder;
use crate::contract::{CarId, Flag};
use crate::update::FuelUpdate;

pub use build::WindowFeatures;
pub use cache::FieldCache;
pub use ctx::{Field, RaceCtx, WindowCorrection};
pub use events::{CarEvent, CarEventKind};
pub use fuel::Fuel;
pub use previous::CarStateV3;
pub use window::{Held, Insert};

use laps::Laps;
use sweep::{Carry, Hold};

/// How long a channel's value, and a sample's flow, is held (`telemetry-v1` rule 4).
pub const HOLD_MS: i64 = 1000;
const MS_PER_HOUR: f64 = 3_600_000.0;

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
    /// The car is in its final window (`fuel-update-v1`): a full cell would reach the
    /// finish. Entered at a window's close, kept until the next `pit_out`.
    final_window: bool,
    /// What calibration measures of each stint, when the engine records (off in live
    /// use: it is not part of the state a Lambda keeps).
    #[serde(skip)]
    pub recorder: Option<Box<StintRecorder>>,
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
            final_window: false,
            recorder: None,
        }
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
            let leader = self.leader_lap(we, ctx, field);
            self.enter_final_window(leader, ctx);
            out.push(self.update(ws, we, &acc, ctx, field, leader));
        }
        self.closed_through = boundary;
    }

    /// The leader's lap at the end of the window this car just swept: its own position at
    /// its last sample, the other running cars' latest, and race control's last lap.
    fn leader_lap(&self, we: i64, ctx: &RaceCtx, field: &Field) -> f64 {
        let own = self.position_at(we);
        field.leader_lap(self.car, own, we, crate::race::flag_lap(ctx.flags, we))
    }

    /// Enters the final window once a full cell reaches the finish from the leader's
    /// lap at this car's fuel per green lap; it is left only by a `pit_out`.
    fn enter_final_window(&mut self, leader_lap: f64, ctx: &RaceCtx) {
        if self.final_window {
            return;
        }
        if let (Some(sched), Some(per_lap)) = (ctx.scheduled_laps, self.fuel_per_green_lap()) {
            let left = (f64::from(sched) - leader_lap).max(0.0);
            self.final_window = left * per_lap <= ctx.capacity_gal;
        }
    }

    /// The mean fuel of the car's last three green laps (fewer if it has fewer).
    pub fn fuel_per_green_lap(&self) -> Option<f64> {
        self.laps.fuel_per_green_lap()
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
    /// be known before the window is integrated for real). `None`, physics alone, also
    /// for a window outside what the model was trained on.
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
        m.correct(&probe.features(ws, we, &acc, ctx.package))
    }
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
}
