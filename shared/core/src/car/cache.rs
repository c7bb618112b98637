//! What the engine caches of a race's field for the windows closing now: every car's
//! position at one window end (the leader's lap) and every car's green-lap figure
//! before one cutoff (the field median of `burn_index`).
//!
//! Why: the cars of a race close the windows ending at one time one after the other,
//! and each closing car read every other car's position and figure: 40 × 40 buffer
//! searches and a sort of 40 figures per window end (the position search 3.7 % of a
//! replay's profile, the figures and their sort about 4 % of the engine's time).
//! Cached, each car is read once per window end, again only when its state changed, and
//! the figures stay sorted.
//!
//! The cache is exact only as long as whoever holds the cars calls
//! [`FieldCache::refresh`] for a car after a window of it closed or it retired (its
//! samples leave the buffer for `last_pos`, which holds channels differently, and its
//! laps move on), and [`FieldCache::refresh_position`] after a sample was added that
//! [`CarState::insert_moves_position_at`] says can move its position. Another window end
//! or cutoff, or another number of cars, rebuilds it. In tests and in builds with debug
//! assertions every answer is checked against the uncached one ([`CHECKED`]).

use super::CarState;
use crate::race;
use crate::stats::median_sorted;

/// Whether each cached answer is checked against the one computed from the cars' states
/// (and a difference panics): in this crate's tests and in builds with debug assertions
/// (every test of a crate built on this one).
pub(super) const CHECKED: bool = cfg!(any(test, debug_assertions));

/// The cars' values at one time, by index in the race; empty until built.
#[derive(Debug, Clone, Default)]
struct At {
    t: i64,
    at: Vec<Option<f64>>,
}

impl At {
    /// Whether the entries are those of `n` cars at `t`.
    fn holds(&self, t: i64, n: usize) -> bool {
        self.t == t && self.at.len() == n
    }
}

/// See the module's documentation.
#[derive(Debug, Clone, Default)]
pub struct FieldCache {
    /// [`CarState::position_at`] of each car (none for a retired car).
    positions: At,
    /// [`CarState::green_figure_before`] of each car.
    figures: At,
    /// The figures that are some, sorted by [`f64::total_cmp`].
    sorted: Vec<f64>,
    /// The closing car's field of figures, reused.
    scratch: Vec<f64>,
}

fn position(car: &CarState, t: i64) -> Option<f64> {
    if car.retired {
        None
    } else {
        car.position_at(t)
    }
}

/// Where `v` goes in `sorted`, by [`f64::total_cmp`].
fn rank(sorted: &[f64], v: f64) -> usize {
    sorted.partition_point(|x| x.total_cmp(&v).is_lt())
}

impl FieldCache {
    /// The window end the positions are at, once built.
    pub fn positions_t(&self) -> Option<i64> {
        (!self.positions.at.is_empty()).then_some(self.positions.t)
    }

    /// Car `i`'s entries again, after a window of it closed or it retired.
    pub fn refresh(&mut self, i: usize, car: &CarState) {
        self.refresh_position(i, car);
        let cutoff = self.figures.t;
        if let Some(e) = self.figures.at.get_mut(i) {
            let new = car.green_figure_before(cutoff);
            if new.map(f64::to_bits) != e.map(f64::to_bits) {
                if let Some(old) = *e {
                    self.sorted.remove(rank(&self.sorted, old));
                }
                if let Some(v) = new {
                    self.sorted.insert(rank(&self.sorted, v), v);
                }
                *e = new;
            }
        }
    }

    /// Car `i`'s position again, after a sample was added to it.
    pub fn refresh_position(&mut self, i: usize, car: &CarState) {
        let t = self.positions.t;
        if let Some(p) = self.positions.at.get_mut(i) {
            *p = position(car, t);
        }
    }

    /// The leader's lap at `t` for the car closing between `before` and `after`, at
    /// `own` ([`super::Field::leader_lap`]).
    pub(super) fn leader_lap(
        &mut self,
        own: Option<f64>,
        t: i64,
        flag_lap: Option<f64>,
        before: &[CarState],
        after: &[CarState],
    ) -> f64 {
        let me = before.len();
        let p = &mut self.positions;
        if !p.holds(t, me + 1 + after.len()) {
            p.t = t;
            p.at.clear();
            p.at.extend(before.iter().map(|c| position(c, t)));
            // The closing car's own entry: read fresh, refreshed once it has closed.
            p.at.push(None);
            p.at.extend(after.iter().map(|c| position(c, t)));
        }
        let others = p.at[..me].iter().chain(&p.at[me + 1..]).flatten();
        race::leader_lap(own.into_iter().chain(others.copied()), flag_lap)
    }

    /// The median of the figures before `cutoff` of the car closing between `before`
    /// and `after`, at `own`, and of the others that have one; none with fewer than
    /// three ([`super::laps::median_with`]).
    pub(super) fn field_median(
        &mut self,
        own: f64,
        cutoff: i64,
        before: &[CarState],
        after: &[CarState],
    ) -> Option<f64> {
        let me = before.len();
        let f = &mut self.figures;
        if !f.holds(cutoff, me + 1 + after.len()) {
            f.t = cutoff;
            f.at.clear();
            f.at.extend(before.iter().map(|c| c.green_figure_before(cutoff)));
            f.at.push(None);
            f.at.extend(after.iter().map(|c| c.green_figure_before(cutoff)));
            self.sorted.clear();
            self.sorted.extend(f.at.iter().flatten());
            self.sorted.sort_by(f64::total_cmp);
        }
        let s = &mut self.scratch;
        s.clear();
        s.extend_from_slice(&self.sorted);
        // The closing car's entry may be stale: its own figure replaces it.
        if let Some(stale) = f.at[me] {
            s.remove(rank(s, stale));
        }
        s.insert(rank(s, own), own);
        (s.len() >= 3).then(|| median_sorted(s))
    }
}

#[cfg(test)]
mod tests;
