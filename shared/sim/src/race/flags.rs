//! Race control's flags: green, cautions, stage ends, white and checkered, driven by the
//! leader's laps.
//!
//! A rolling start under green. The leader's laps drive the flags: stage ends
//! (`stage_end`, then yellow) at the track's stage count scaled to the race, white with
//! one lap to go, checkered at the end; every car then takes the checkered flag the next
//! time it crosses the line, and writes no samples after. Cautions come from incidents
//! (cars named; about a third of them out), debris, a car stopped on track, and stage
//! ends (see `incidents.rs` and `schedule.rs`); the risk per lap is about 1.7 %, three
//! times that just after a restart. A caution lasts 3 to 8 laps (more at short tracks),
//! pit road opens when the leader first crosses the line under it, and the green waves as
//! the leader crosses the line again. No caution starts so late that it would end the
//! race under yellow, so the last run is green: a fuel-mileage finish when it is longer
//! than a tank.

use super::records::Announcement;
use super::{START_TS, Simulation};
use crate::car::Phase;
use burnbar_core::tracks::Track;
use rand::RngExt;

/// The flag race control shows now (the simulator never shows red).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TrackFlag {
    Green,
    Yellow,
    White,
    Checkered,
}

impl TrackFlag {
    /// The contract's name for the flag.
    pub(super) fn key(self) -> &'static str {
        match self {
            TrackFlag::Green => "green",
            TrackFlag::Yellow => "yellow",
            TrackFlag::White => "white",
            TrackFlag::Checkered => "checkered",
        }
    }
}

/// The caution under way.
#[derive(Debug, Clone, Copy)]
pub(super) struct Caution {
    /// Its number in the race (1 for the first): a team decides once per caution.
    pub(super) id: u32,
    /// Times the leader crossed the line under it.
    pub(super) crossings: u32,
    /// Crossings before the green.
    pub(super) needed: u32,
    pub(super) pit_open: bool,
    /// At a stage end: nearly everyone pits.
    pub(super) stage_break: bool,
}

impl Simulation {
    fn caution_laps(&self) -> u32 {
        ((3.0 + (2.5 / self.ctx.track.length_mi).round()) as u32).clamp(3, 8)
    }

    /// A new caution can still end before the white flag.
    pub(super) fn caution_allowed(&self) -> bool {
        self.flag == TrackFlag::Green
            && self.caution.is_none()
            && self.checkered_ts.is_none()
            && self.leader_lap + self.caution_laps() + 4 < self.laps
    }

    pub(super) fn start_caution(&mut self, stage_break: bool, extra: u32) {
        self.cautions += 1;
        let needed = self.caution_laps() + extra + self.race_rng.random_range(0..=1u32);
        self.caution = Some(Caution {
            id: self.cautions,
            crossings: 0,
            needed,
            pit_open: false,
            stage_break,
        });
        self.flag = TrackFlag::Yellow;
        self.announce(Announcement::Flag {
            flag: TrackFlag::Yellow,
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

    /// Who leads now, and the flags of every lap the leader completed since the last
    /// tick.
    pub(super) fn leader_laps(&mut self, ts: i64) {
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
            self.announce(Announcement::StageEnd {
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
            self.flag = TrackFlag::Green;
            self.restart_lap = l;
            self.announce(Announcement::Flag {
                flag: TrackFlag::Green,
                lap: l,
            });
        }
        if l + 1 == self.laps && self.flag == TrackFlag::Green {
            self.flag = TrackFlag::White;
            self.announce(Announcement::Flag {
                flag: TrackFlag::White,
                lap: l,
            });
        }
        if l >= self.laps {
            self.flag = TrackFlag::Checkered;
            self.checkered_ts = Some(ts);
            self.caution = None;
            self.announce(Announcement::Flag {
                flag: TrackFlag::Checkered,
                lap: l,
            });
        }
    }

    /// The race ends whatever happens: after the checkered flag nobody circles for long,
    /// and a race that runs far past its time ends.
    pub(super) fn end_guards(&mut self, ts: i64) {
        if let Some(c) = self.checkered_ts {
            // Nobody circles for ever after the checkered flag.
            let cap = ((3.0 * self.ctx.lap_time_s).max(60.0) * 1_000.0) as i64;
            if ts - c > cap {
                for i in 0..self.cars.len() {
                    if self.cars[i].in_pit() {
                        let report = self.cars[i].pit_report();
                        self.pit_out(i, ts, report);
                    }
                    if self.cars[i].running() {
                        self.cars[i].phase = Phase::Finished(ts);
                    }
                }
            }
        } else if ts - START_TS > self.time_cap_ms() {
            // A guard that a sane race never meets: end it.
            self.flag = TrackFlag::Checkered;
            self.checkered_ts = Some(ts);
            self.announce(Announcement::Flag {
                flag: TrackFlag::Checkered,
                lap: self.leader_lap,
            });
        }
    }

    fn time_cap_ms(&self) -> i64 {
        ((self.laps as f64 * self.ctx.lap_time_s * 4.0 + 3_600.0) * 1_000.0) as i64
    }
}

/// Stage ends for a race of `laps`: the track's count, the last stage the longest (ending
/// at the checkered flag, without a `stage_end`), dropped when too close to the finish.
pub(super) fn stage_laps(track: &Track, laps: u32) -> Vec<u32> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use burnbar_core::tracks::lookup;

    #[test]
    fn stages_scale_to_the_race_and_leave_room_for_the_finish() {
        let pocono = lookup("pocono").unwrap();
        assert_eq!(stage_laps(pocono, 160), vec![40, 80]);
        assert_eq!(stage_laps(pocono, 8), Vec::<u32>::new());
        let charlotte = lookup("charlotte").unwrap();
        assert_eq!(stage_laps(charlotte, 400), vec![100, 200, 300]);
    }
}
