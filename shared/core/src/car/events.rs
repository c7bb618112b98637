//! Race-control events queued for a car, and what each does to it when the sweep of a
//! window reaches its time (flags, pit road, fills).

use serde::{Deserialize, Serialize};

use super::{CarState, RaceCtx};
use crate::calibrate::StopFacts;
use crate::contract::Flag;
use crate::pits::PitData;

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
                self.fuel.pit_in = Some((
                    self.fuel.remaining(),
                    self.fuel.variance(ctx.params, ctx.track_var),
                ));
                // Standing time is not reset here: a pit_in that arrives late acts at the
                // car's first open window, after the car may already have stood in its
                // box. It counts from the last fill (`Fuel::fill` resets it).
                self.laps.dirty = true;
            }
            CarEventKind::PitOut {
                fuel_added_gal,
                full,
                tires,
                box_s,
            } => {
                let pit = PitData { tires, box_s };
                self.pit_road = false;
                // The final window is tested again after every stop.
                self.final_window = false;
                // What the car needs to the finish: the floor of a fill sized from its
                // time, and, recorded with the stop, what calibration measures a
                // crew's pour against.
                let standing_s = self.fuel.standing_ms as f64 / 1000.0;
                self.fuel.learn(fuel_added_gal, full);
                let finish = self.finish_gal(ts, ctx);
                // A stop under caution is not a green splash: the crews' late-pour
                // habit does not speak for it (`pits::StopNeed`).
                let caution = matches!(
                    crate::race::flag_in_force(ctx.flags, ts),
                    Flag::Yellow | Flag::Red
                );
                if let Some(r) = self.recorder.as_deref_mut() {
                    let stop = StopFacts {
                        added: fuel_added_gal,
                        full,
                        pit,
                        standing_s,
                        finish_gal: finish,
                        caution,
                    };
                    r.close_stint(self.car, ctx, ts, stop);
                }
                self.fuel.fill(
                    fuel_added_gal,
                    full,
                    pit,
                    finish,
                    !caution,
                    ctx.params,
                    ctx.track_var,
                );
                self.fuel.stint_eff = self.fuel.learned_eff(ctx.params, ctx.track_var);
                self.laps.dirty = true;
            }
        }
    }

    /// The fuel the car needs from `ts` to the scheduled finish: the laps left from
    /// the leader's lap as the car knows it then (its own position, and race control's
    /// lap of the latest flag) at its fuel per green lap; `None` without a schedule or a
    /// green lap. A car laps down needs less: the leader is ahead of what it knows.
    fn finish_gal(&self, ts: i64, ctx: &RaceCtx) -> Option<f64> {
        let sched = f64::from(ctx.scheduled_laps?);
        let per_lap = self.fuel_per_green_lap()?;
        let own = self.last_pos.unwrap_or(self.arrival_pos);
        let leader = crate::race::flag_lap(ctx.flags, ts).map_or(own, |f| f.max(own));
        Some((sched - leader).max(0.0) * per_lap)
    }
}
