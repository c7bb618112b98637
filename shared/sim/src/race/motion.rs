//! The cars between ticks: who is around each car (the car ahead, the pace car, the
//! flag), and every car moved in steps of at most 100 ms, split at truth-window edges,
//! its fuel burned counted for its team and the truth.

use super::{MAX_STEP_MS, Simulation, TrackFlag, normal};
use crate::car::{Phase, Surroundings};

impl Simulation {
    /// Who is ahead of whom on track, and the flag each car sees.
    pub(super) fn compute_surroundings(&mut self) {
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
        let caution = self.flag == TrackFlag::Yellow;
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
            let (leader, first_on_track) = (self.leader == Some(i), first == Some(i));
            self.surroundings[i] = match ahead {
                Some(a) => Surroundings {
                    caution,
                    leader,
                    first_on_track,
                    gap_m: (self.cars[a].pos_m(&self.ctx) - pos).rem_euclid(len),
                    ahead_v: self.cars[a].v,
                    ahead_pace: self.cars[a].race_pace(),
                },
                None => Surroundings::alone(caution, leader, first_on_track),
            };
        }
    }

    /// Moves every car from `from` to `to`, in steps of at most 100 ms, split at window
    /// edges.
    pub(super) fn integrate(&mut self, from: i64, to: i64) {
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

    /// A truth window ends: the truth notes every car's fuel and distance.
    fn close_window(&mut self) {
        self.next_window_end += self.cfg.window_ms;
        if let Some(truth) = self.truth.as_mut() {
            let cars = &self.cars;
            truth.close_window(|i| (cars[i].fuel, cars[i].d));
        }
    }

    /// One step for every car, from `a` to `b` (ms): controls (already set at a tick's
    /// `first` step), motion, and the fuel burned for team and truth.
    fn step_all(&mut self, a: i64, b: i64, first: bool) {
        let dt = (b - a) as f64 / 1_000.0;
        let green = matches!(self.flag, TrackFlag::Green | TrackFlag::White);
        for i in 0..self.cars.len() {
            let noise = 1.0 + (0.02 * normal(&mut self.noise_rng)).clamp(-0.06, 0.06);
            let car = &mut self.cars[i];
            if matches!(car.phase, Phase::Out | Phase::Finished(_) | Phase::Parked) {
                continue;
            }
            if !first {
                let around = self.surroundings[i];
                car.control(&self.ctx, &around, dt);
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
}
