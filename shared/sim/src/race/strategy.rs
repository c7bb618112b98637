//! Team strategy: what each team knows of its fuel, and its calls at the line under green.
//!
//! Each team knows its green-flag burn per lap (measured on its normal laps, with its own
//! small error) and its fuel since the last fill. At each line crossing under green it
//! decides: pit at the end of the lap when the fuel left is under two laps plus its
//! margin; in the last stint, save fuel if the shortfall is within what its driver will
//! save (steering the effort by what its saving laps really burn, and taking a splash
//! after all if even all-out saving falls short), else plan a late stop for just what the
//! finish needs (a splash); the gambler stays out and saves on a shortfall of up to 18 %,
//! and may run dry. Pushers push after restarts; savers save at the end of long runs. (The
//! calls under caution are in `pit.rs`.)

use super::pit::StopKind;
use super::{START_TS, Simulation, TrackFlag};
use crate::car::{Car, FillPlan, Phase, Style};
use crate::physics::CAPACITY_GAL;
use rand::RngExt;

/// Saving (share of fuel per lap) at full saving effort, about: used to set the effort.
const SAVE_AT_FULL: f64 = 0.12;

/// What a team knows and plans, beside its car.
#[derive(Debug, Clone)]
pub(super) struct Team {
    /// Green burn per lap in normal running, measured (gal).
    pub(super) burn_per_lap: f64,
    /// Fuel in the cell after the last fill (known: the cans are weighed).
    pub(super) fill_fuel: f64,
    /// Burned since the last fill (the truth; the team sees it with its bias).
    pub(super) stint_burned: f64,
    /// Burned in the lap under way.
    pub(super) lap_burn: f64,
    /// Burned in the last clean green lap run saving fuel (gal).
    pub(super) last_save_burn: Option<f64>,
    /// The lap under way is a clean normal green lap so far.
    pub(super) lap_clean: bool,
    pub(super) lap_seen: u32,
    /// The caution whose pit decision is made.
    pub(super) caution_decided: u32,
    /// Decided about a late-run save this stint: `Some(decision)`.
    pub(super) late_save: Option<bool>,
    /// Staying out on fuel it may not have.
    pub(super) gambling: bool,
    /// Crossed the line on pit road after the checkered flag: finishes at its `pit_out`.
    pub(super) took_checkered: bool,
    /// `ts` of the car's last sample.
    pub(super) last_ts: i64,
}

impl Team {
    /// A team at the start, on a full cell, reckoning `burn_per_lap` gallons a lap.
    pub(super) fn new(burn_per_lap: f64) -> Team {
        Team {
            burn_per_lap,
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
        }
    }
}

/// What a team reckons at the line: its fuel and burn as it sees them, and the laps to go.
struct Reckoning {
    /// The team's error on its own burn, as a factor.
    bias: f64,
    /// Burn per lap as the team sees it, gal.
    bpl: f64,
    /// Fuel left as the team sees it, gal.
    rem: f64,
    /// Laps that fuel lasts.
    range: f64,
    /// Laps to the finish.
    to_go: f64,
    /// Fuel the finish needs, gal.
    need: f64,
    /// Past its fuel window (less than two laps and its margin), with more than a lap and
    /// a half to go.
    must_pit: bool,
    /// Within five laps of the last restart.
    after_restart: bool,
    /// The car's saving effort going into the lap.
    was_saving: f64,
}

impl Simulation {
    /// Car `i` completed a lap.
    pub(super) fn car_lap(&mut self, i: usize, ts: i64) {
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
        let green = matches!(self.flag, TrackFlag::Green | TrackFlag::White);
        if green && self.cars[i].phase == Phase::Track && !self.cars[i].dry {
            self.green_strategy(i);
        }
    }

    /// The call at the line under green: push, save, or plan a stop.
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
        let r = Reckoning {
            bias,
            bpl,
            rem,
            range,
            to_go,
            need: to_go * bpl,
            must_pit: range < 2.0 + car.p.margin_laps && to_go > 1.5,
            after_restart: car.lap() <= restart_lap + 5,
            was_saving: car.save,
        };
        // (Once saving to the end, a driver keeps at it until well clear.)
        let clear = if r.was_saving > 0.0 { 0.8 } else { 0.3 };
        car.save = 0.0;
        car.push = false;
        let pit = if r.need <= r.rem - clear {
            // Enough to the end.
            car.push = car.p.style != Style::Saver && (r.rem > r.need * 1.05 || r.after_restart);
            None
        } else if r.need - r.rem <= CAPACITY_GAL - 2.0 {
            last_stint(car, team, &r)
        } else {
            long_run(car, team, &r, late_roll)
        };
        if car.plan.is_some() || pit.is_some() {
            car.save = 0.0;
            car.push = false;
        }
        if let Some(plan) = pit {
            let kind = match plan {
                FillPlan::Full => StopKind::Green,
                FillPlan::Finish => StopKind::Splash,
            };
            let stop = self.stop_for(i, plan, kind);
            self.cars[i].plan_stop(&self.ctx, plan, stop);
        }
    }
}

/// The last stint (one more fill at most): save to the end, or a late stop for what the
/// finish needs; the gambler saves and stays out.
fn last_stint(car: &mut Car, team: &mut Team, r: &Reckoning) -> Option<FillPlan> {
    let deficit = 1.0 - r.rem / r.need;
    if team.gambling || (car.p.gambler && deficit <= 0.18) {
        team.gambling = true;
        car.save = 1.0;
        None
    } else if deficit <= car.p.save_cap || r.was_saving > 0.0 {
        // Start from what saving usually gives, then steer by what the last saving lap
        // really burned.
        let rate = team
            .last_save_burn
            .map_or(r.bpl * (1.0 - SAVE_AT_FULL), |b| b * r.bias);
        let projected = r.to_go * rate;
        let was_saving = r.was_saving;
        car.save = if was_saving == 0.0 {
            ((deficit + 0.02) / SAVE_AT_FULL).clamp(0.4, 1.0)
        } else if projected > r.rem - 0.3 {
            (was_saving + 0.2).min(1.0)
        } else if projected < r.rem - 1.0 {
            (was_saving - 0.1).max(0.4)
        } else {
            was_saving
        };
        // Saving all out and still short: a splash after all.
        (was_saving >= 1.0 && projected > r.rem + 0.3 && r.must_pit && car.plan.is_none())
            .then_some(FillPlan::Finish)
    } else {
        (r.must_pit && car.plan.is_none()).then_some(FillPlan::Finish)
    }
}

/// A run with more stops to come: pit for a full cell when the window closes; late in
/// the run a saver (and now and then another) saves, a pusher pushes after a restart.
fn long_run(car: &mut Car, team: &mut Team, r: &Reckoning, late_roll: f64) -> Option<FillPlan> {
    let pit = (r.must_pit && car.plan.is_none()).then_some(FillPlan::Full);
    if r.range < 7.0 && team.late_save.is_none() {
        let p = match car.p.style {
            Style::Saver => 0.8,
            Style::Neutral => 0.3,
            Style::Pusher => 0.05,
        };
        team.late_save = Some(late_roll < p);
    }
    if team.late_save == Some(true) && car.plan.is_none() {
        car.save = 0.5;
    } else if car.p.style == Style::Pusher && r.after_restart {
        car.push = true;
    }
    pit
}
