//! Pit stops as race control and the teams see them: how a stop will go, drawn when it is
//! planned (the tyres and what the crew pours, how long each job takes), the calls under
//! caution, a car out of fuel coasting for pit road, and the stop's end (`pit_out`, the
//! truth's fill, a new stint). The car's side of a stop is `car/pit.rs`.
//!
//! Under caution, as a car nears pit road, it pits if it has used a fair share of the
//! tank (at a stage break nearly everyone does) or cannot otherwise finish.
//!
//! Tyres follow the reason for the stop ([`StopKind`]): a green-flag stop is nearly
//! always four tyres and a full cell, a late splash mostly fuel only or two tyres, a
//! stop under caution a mix; now and then a crew changes one tyre or three.

use super::records::Announcement;
use super::{Simulation, normal};
use crate::car::{FUEL_DEAD_S, FillPlan, Phase, PitReport, Stop, tire_change_s};
use crate::physics::CAPACITY_GAL;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// Why a team stops: what decides the tyres it takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum StopKind {
    /// Under green at the end of a fuel run (or coasting in dry): a full cell.
    Green,
    /// Late in the race, for what the finish needs.
    Splash,
    /// Under caution: at a stage break, or when it could finish as it is.
    Caution {
        stage_break: bool,
        could_finish: bool,
    },
    /// A damaged car: four tyres and whatever the cell takes.
    Repair,
}

impl StopKind {
    /// The shares of four-tyre and of two-tyre stops; the rest take fuel only.
    fn tire_odds(self) -> (f64, f64) {
        match self {
            StopKind::Green => (0.92, 0.07),
            StopKind::Splash => (0.10, 0.35),
            StopKind::Caution {
                stage_break: true, ..
            } => (0.80, 0.15),
            StopKind::Caution {
                could_finish: true, ..
            } => (0.55, 0.35),
            StopKind::Caution { .. } => (0.55, 0.25),
            StopKind::Repair => (1.0, 0.0),
        }
    }

    /// The tyres of one stop: 4, 2 or 0 by the odds; one four-tyre stop in fifty
    /// changes three, one two-tyre stop in thirty changes one.
    fn draw_tires(self, rng: &mut ChaCha8Rng) -> u8 {
        let (four, two) = self.tire_odds();
        let (u, odd) = (rng.random::<f64>(), rng.random::<f64>());
        if u < four {
            if odd < 0.02 { 3 } else { 4 }
        } else if u < four + two {
            if odd < 1.0 / 30.0 { 1 } else { 2 }
        } else {
            0
        }
    }
}

impl Simulation {
    /// Car `i` left pit road (or the race ended with it there): the event, the truth's
    /// fill, the team's new stint.
    pub(super) fn pit_out(&mut self, i: usize, ts: i64, report: PitReport) {
        let lap = self.cars[i].lap();
        self.announce(Announcement::PitOut {
            car: i,
            lap,
            report,
        });
        if let Some(t) = self.truth.as_mut() {
            t.fill(i, ts, &report);
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

    /// How a stop planned now will go: its tyres (by `kind`), what the crew pours (a
    /// full cell, or for a late stop what the finish needs) and how long each job takes.
    /// The fuel: about 1.5 s of dead time, then the crew's own rate within 1 %; the tyres:
    /// the change's usual time at the crew's own speed, within 3 %; then up to 0.3 s of
    /// jack work before the car leaves.
    pub(super) fn stop_for(&mut self, i: usize, plan: FillPlan, kind: StopKind) -> Stop {
        let target = match plan {
            FillPlan::Finish => self.finish_fill(i),
            FillPlan::Full => f64::INFINITY,
        };
        let rng = &mut self.race_rng;
        let tires = kind.draw_tires(rng);
        let p = &self.cars[i].p;
        let rate_jitter = (0.01 * normal(rng)).clamp(-0.03, 0.03);
        let tire_jitter = (0.03 * normal(rng)).clamp(-0.08, 0.08);
        Stop {
            tires,
            target,
            rate: p.fill_rate * (1.0 + rate_jitter),
            dead_s: (FUEL_DEAD_S + 0.1 * normal(rng)).clamp(1.2, 1.8),
            tire_s: tire_change_s(tires) * p.tire_mult * (1.0 + tire_jitter),
            post_s: rng.random_range(0.1..0.3),
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

    /// Car `i` ran dry: noted, and unless its race is nearly run or a stop is planned, it
    /// coasts for pit road and a full cell.
    pub(super) fn ran_dry(&mut self, i: usize) {
        let number = self.cars[i].p.number.clone();
        if !self.summary.ran_dry.contains(&number) {
            self.summary.ran_dry.push(number);
        }
        let car = &self.cars[i];
        let last_lap = self.checkered_ts.is_some() || car.d >= self.laps as f64 - 1.0;
        if car.phase == Phase::Track && !last_lap && car.plan.is_none() {
            // Coast for pit road.
            let stop = self.stop_for(i, FillPlan::Full, StopKind::Green);
            self.cars[i].plan_stop(&self.ctx, FillPlan::Full, stop);
        }
    }

    /// Under caution with pit road open: each car decides once, as it nears pit road.
    pub(super) fn caution_pit_calls(&mut self) {
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
            let could_finish = need <= rem - 0.3;
            let pit = if car.damaged {
                true
            } else if c.stage_break {
                used > 0.12 && roll < 0.95
            } else if could_finish {
                // Could finish as it is: some take fuel and tyres anyway.
                used > 0.35 && roll < 0.5
            } else {
                used > 0.2 || roll < 0.3
            };
            if pit {
                let kind = if car.damaged {
                    StopKind::Repair
                } else {
                    StopKind::Caution {
                        stage_break: c.stage_break,
                        could_finish,
                    }
                };
                let stop = self.stop_for(i, FillPlan::Full, kind);
                let car = &mut self.cars[i];
                car.plan_stop(&self.ctx, FillPlan::Full, stop);
                car.save = 0.0;
                car.push = false;
            }
        }
    }
}
