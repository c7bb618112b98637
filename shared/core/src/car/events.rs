//! Race-control events queued for a car, and what each does to it when the sweep of a
//! window reaches its time (flags, pit road, fills).

use serde::{Deserialize, Serialize};

use super::{CarState, RaceCtx};
use crate::contract::Flag;

/// What a race-control event does to one car, at its effective time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum CarEventKind {
    Flag(Flag),
    PitIn,
    PitOut {
        fuel_added_gal: Option<f64>,
        full: Option<bool>,
        /// Tyres changed (0–4), when the official pit data gave it.
        tires: Option<u8>,
        /// Seconds stationary in the box, when the official pit data timed it.
        box_s: Option<f64>,
    },
}

/// An event queued for a car. `eff_ts` is the event's `ts`, or the start of the car's
/// first open window when the event arrived after that window's predecessors closed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CarEvent {
    pub eff_ts: i64,
    pub kind: CarEventKind,
}

impl CarState {
    /// Queues an event arriving now; returns whether it arrived late for this car.
    pub fn push_event(&mut self, ts: i64, kind: CarEventKind) -> bool {
        let eff_ts = ts.max(self.closed_through);
        let at = self.events.partition_point(|e| e.eff_ts <= eff_ts);
        self.events.insert(at, CarEvent { eff_ts, kind });
        eff_ts > ts
    }

    pub(super) fn apply_event(&mut self, ts: i64, kind: CarEventKind, ctx: &RaceCtx) {
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
                ..
            } => {
                self.pit_road = false;
                // The final window is tested again after every stop.
                self.final_window = false;
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
}
