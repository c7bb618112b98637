//! The buffer of a car's open windows: samples held until their window closes, added in
//! any order and merged by `(car, ts)`, and whether a sample comes too late.

use serde::{Deserialize, Serialize};

use super::CarState;
use crate::contract::Channels;

/// A sample waiting in an open window: 40 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Held {
    pub ts: i64,
    pub ch: Channels,
}

/// What adding a sample did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insert {
    New,
    /// Same `(car, ts)`, nothing new.
    Duplicate,
    /// Same `(car, ts)`, new fields added.
    Merged,
}

impl CarState {
    /// A car first seen after the silent-car rule closed windows up to `boundary` has
    /// those windows closed too.
    pub fn close_through(&mut self, boundary: i64) {
        self.closed_through = self.closed_through.max(boundary);
    }

    /// Whether a sample at `ts` would be late (its window has closed for this car).
    pub fn is_late(&self, ts: i64) -> bool {
        self.retired || ts < self.closed_through
    }

    /// Number of samples held in open windows.
    pub fn held(&self) -> usize {
        self.buf.len()
    }

    /// Whether the car has samples waiting in open windows.
    pub fn has_open_windows(&self) -> bool {
        !self.buf.is_empty()
    }

    /// The car's position (`lap + lap_frac`) at its last sample before `t` (a window's
    /// end), as well as it is known: a sample held in an open window, else the last
    /// integrated position, else the furthest the car has been seen; none for a car that
    /// never sent a lap.
    pub fn position_at(&self, t: i64) -> Option<f64> {
        let i = self.buf.partition_point(|h| h.ts < t);
        self.buf
            .range(..i)
            .rev()
            .find_map(|h| h.ch.position())
            .or(self.last_pos)
            .or_else(|| self.position())
    }

    /// Whether adding a sample at `ts` can move [`CarState::position_at`]`(t)`: a sample
    /// before `t` can, and any sample while the car has no integrated position (its
    /// furthest arrival is then the fallback). Closing a window can too (not asked here).
    pub fn insert_moves_position_at(&self, ts: i64, t: i64) -> bool {
        ts < t || self.last_pos.is_none()
    }

    /// The furthest the car has been seen, once it has sent a lap.
    pub fn position(&self) -> Option<f64> {
        (self.arrival_pos > 0.0 || self.last_pos.is_some()).then_some(self.arrival_pos)
    }

    /// Adds a sample that is not late, merging by `(car, ts)`.
    pub fn insert(&mut self, ts: i64, ch: &Channels) -> Insert {
        if let Some(pos) = ch.position() {
            self.arrival_pos = self.arrival_pos.max(pos);
        }
        self.max_ts = Some(self.max_ts.map_or(ts, |m| m.max(ts)));
        match self.buf.back() {
            None => {
                self.buf.push_back(Held { ts, ch: *ch });
                Insert::New
            }
            Some(b) if b.ts < ts => {
                self.buf.push_back(Held { ts, ch: *ch });
                Insert::New
            }
            _ => match self.buf.binary_search_by_key(&ts, |h| h.ts) {
                Ok(i) => {
                    if self.buf[i].ch.merge_from(ch) {
                        Insert::Merged
                    } else {
                        Insert::Duplicate
                    }
                }
                Err(i) => {
                    self.buf.insert(i, Held { ts, ch: *ch });
                    Insert::New
                }
            },
        }
    }
}
