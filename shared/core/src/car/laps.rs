//! Lap bookkeeping: the last lap's fuel, the last green laps, the recent green-lap
//! figures, and the field median of `burn_index` they feed.

use serde::{Deserialize, Serialize};

use super::cache::CHECKED;
use super::{CarState, Field};

/// A car first seen this close to the line (fraction of a lap) is taken to have been
/// seen from the lap's start: at 10 Hz a car covers well under 1 % of any Cup track
/// between two samples, so at most that much of the lap's fuel goes uncounted.
const FIRST_LAP_FRAC: f64 = 0.01;

/// Laps: the last lap's fuel, the last three green laps, recent green-lap figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Laps {
    cur: Option<u16>,
    /// The current lap's start was seen (a crossing), so its fuel can be known.
    started: bool,
    start_used: f64,
    /// Some of the current lap ran under caution or on pit road.
    pub(super) dirty: bool,
    pub(super) last_lap_gal: Option<f64>,
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
    /// The mean fuel of the last green laps (up to three), once there is one.
    pub(super) fn fuel_per_green_lap(&self) -> Option<f64> {
        (self.green_n > 0)
            .then(|| self.green[..self.green_n as usize].iter().sum::<f64>() / self.green_n as f64)
    }

    /// The fuel per mile of the last green lap that ended before `cutoff`.
    fn figure_before(&self, cutoff: i64) -> Option<f64> {
        figure_before(&self.recent[..self.recent_n as usize], cutoff)
    }

    /// A sample with lap number `lap` at `ts`, with `used` burned in the race so far.
    pub(super) fn on_lap(&mut self, lap: u16, frac: f64, ts: i64, used: f64, length_mi: f64) {
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

impl CarState {
    /// This car's recent green-lap figures, `(lap end ts, gal per mile)`, oldest first:
    /// what a race-level store keeps for other shards' `burn_index` ([`Field::Stored`]).
    /// Empty for a retired car (it leaves the field median).
    pub fn recent_green_figures(&self) -> Vec<(i64, f64)> {
        if self.retired {
            return Vec::new();
        }
        let mut v = self.laps.recent[..self.laps.recent_n as usize].to_vec();
        v.sort_by_key(|&(end, _)| end);
        v
    }

    /// This car's fuel per mile over its last green lap that ended before `cutoff`.
    pub fn green_figure_before(&self, cutoff: i64) -> Option<f64> {
        if self.retired {
            return None;
        }
        self.laps.figure_before(cutoff)
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
pub(super) fn burn_index(car: &CarState, cutoff: i64, field: &Field) -> Option<f64> {
    let own = car.green_figure_before(cutoff)?;
    let median = match field {
        Field::Cars {
            before,
            after,
            cache: Some(cache),
        } => {
            let m = cache.borrow_mut().field_median(own, cutoff, before, after);
            if CHECKED {
                assert_eq!(
                    m.map(f64::to_bits),
                    cars_median(own, cutoff, before, after).map(f64::to_bits),
                    "the cached figures before {cutoff} are stale"
                );
            }
            m
        }
        Field::Cars {
            before,
            after,
            cache: None,
        } => cars_median(own, cutoff, before, after),
        Field::Stored { figures: map, .. } => median_with(
            own,
            map.iter()
                .filter(|(c, _)| **c != car.car)
                .filter_map(|(_, list)| figure_before(list, cutoff)),
        ),
    }?;
    (median > 0.0).then(|| own / median)
}

/// The field median from the other cars' states themselves.
fn cars_median(own: f64, cutoff: i64, before: &[CarState], after: &[CarState]) -> Option<f64> {
    median_with(
        own,
        before
            .iter()
            .chain(after)
            .filter_map(|c| c.green_figure_before(cutoff)),
    )
}

/// The median of the `others` figures and `own`; none with fewer than three.
pub(super) fn median_with(own: f64, others: impl Iterator<Item = f64>) -> Option<f64> {
    // The upper bound: the number of other cars (one allocation, not a doubling run).
    let mut figures: Vec<f64> = Vec::with_capacity(others.size_hint().1.unwrap_or(0) + 1);
    figures.extend(others);
    figures.push(own);
    if figures.len() < 3 {
        return None;
    }
    figures.sort_by(f64::total_cmp);
    Some(crate::stats::median_sorted(&figures))
}
