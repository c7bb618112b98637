//! Incidents and debris under green: the chance of a caution each tick, the cars an
//! incident collects (a car at speed and those close behind it), which of them are out.

use super::Simulation;
use super::records::Announcement;
use super::schedule::Scheduled;
use crate::car::Phase;
use crate::physics::MPS_PER_MPH;
use rand::RngExt;

/// Chance of a caution per green lap, away from restarts.
const CAUTION_PER_LAP: f64 = 0.017;

impl Simulation {
    /// Incidents and debris under green.
    pub(super) fn hazard(&mut self, ts: i64) {
        if !self.caution_allowed() || self.leader_lap < 1 || self.yellow_scheduled() {
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
            self.scheduled.push((ts, Scheduled::Yellow { extra: 0 }));
            return;
        }
        let involved = self.collected(&candidates);
        self.incident(involved, ts);
    }

    /// The cars an incident collects: one of `candidates`, and up to three more close
    /// behind, each the next car back; in car order.
    fn collected(&mut self, candidates: &[usize]) -> Vec<usize> {
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
        involved
    }

    /// The `involved` cars crash (out) or are damaged; the `incident`, and its yellow a
    /// moment later (a lap longer when a car is out).
    fn incident(&mut self, involved: Vec<usize>, ts: i64) {
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
        self.announce(Announcement::Incident {
            cars: involved,
            lap: self.leader_lap,
        });
        let delay = self.race_rng.random_range(1_500..3_500);
        self.scheduled.push((
            ts + delay,
            Scheduled::Yellow {
                extra: u32::from(out > 0),
            },
        ));
    }
}
