//! What the engine records of each stint for calibration, and which stints can measure
//! the model.
//!
//! A stint is a measurement when its weighed fill says what it burned (see the module
//! above) **and** the engine integrated the whole of it. Two things break the second
//! without the weighed numbers showing it, so the recorder watches for them:
//!
//! - **a telemetry gap**: a sample's flow is held for 1 s at most (telemetry-v1 rule 4),
//!   so fuel burned while no sample arrived is counted nowhere. A stint that lost more
//!   than [`MAX_GAP_SHARE`] of its moving time that way reads short by about as much.
//! - **a stop race control did not report**: the car stood in its box (on pit road,
//!   still, not under red) and then ran on for more than [`RUN_AFTER_STOP_MS`] before
//!   the `pit_out` that closes the stint. A fill there (its `pit_out` lost, say) would
//!   make the weighed fill at the stint's end measure only the part after it.
//!
//! Such a stint is not measured, and says why ([`Unmeasured`]): a damaged history then
//! loses those stints, not the fit (fitting them pulled a package's throttle curve to
//! its bound when a twentieth of a file's lines were lost).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::StintObs;
use crate::car::RaceCtx;
use crate::contract::CarId;
use crate::pits::PitData;

/// Most of a stint's moving time that may have gone without telemetry for the stint
/// to measure the model: 2 %, so a gap can bias a measured stint by at most about that,
/// while a stint's error after the fit is about 1.3 % (median). A feed whose samples come
/// further apart than 1 s everywhere loses more than that in every stint, and
/// calibration then says so ("no measured stint", with the count below) rather than
/// fit a model the engine will never integrate the same way.
pub const MAX_GAP_SHARE: f64 = 0.02;

/// Standing this long in the box after a `pit_in`, not under red, is a stop: a tyre
/// change takes longer, and a fuel-only stop too unless its splash is under about 2 gal
/// (1.5 s dead time and the pour at 1.5 gal/s), which is then missed. A car held on pit
/// road under red does not count: no fuel goes in then.
pub const STOP_MIN_MS: i64 = 3_000;

/// Running this long off pit road after a stop without the stint ending is a stop race
/// control did not report: a real stop's `pit_out` comes as the car leaves pit road,
/// well within a minute.
pub const RUN_AFTER_STOP_MS: i64 = 60_000;

/// Why a stint with a weighed fill to the top is still not a measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unmeasured {
    /// More than [`MAX_GAP_SHARE`] of its moving time had no telemetry.
    TelemetryGap,
    /// The car stopped in its box during the stint without a `pit_out`.
    UnreportedStop,
}

/// What a `pit_out` says of the stop that ends a stint, and the telemetry's time in the
/// box.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct StopFacts {
    pub added: Option<f64>,
    pub full: Option<bool>,
    pub pit: PitData,
    pub standing_s: f64,
    /// The fuel the car needed from the stop to the finish (`None` without a schedule).
    pub finish_gal: Option<f64>,
    /// Made under caution (yellow or red).
    pub caution: bool,
}

/// Collects one car's stints while the engine integrates it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StintRecorder {
    start_ts: Option<i64>,
    /// Fuel in the cell at the stint's start, when known.
    start_level: Option<f64>,
    started: bool,
    bins: HashMap<u32, f64>,
    /// Moving time the stint's flow was integrated, and moving time that had none (a gap).
    covered_ms: i64,
    gap_ms: i64,
    /// The standing episode in progress, whether the car has stopped in its box this
    /// stint, and how long it has run off pit road since.
    standing_ms: i64,
    stopped: bool,
    run_after_ms: i64,
    unreported_stop: bool,
    done: Vec<StintObs>,
}

impl StintRecorder {
    /// A recorder for a car that starts the race with a full cell of `capacity`.
    pub fn new(capacity: f64) -> StintRecorder {
        StintRecorder {
            start_level: Some(capacity),
            ..Default::default()
        }
    }

    /// `hours` spent at throttle `theta` (fraction) and `rpm`.
    pub(crate) fn add(&mut self, theta: f32, rpm: f32, hours: f64) {
        let t = (theta.clamp(0.0, 1.0) * 100.0).round() as u32;
        let r = (rpm.clamp(0.0, 12_750.0) / 50.0).round() as u32;
        *self.bins.entry(t << 16 | r).or_default() += hours;
        self.started = true;
    }

    /// `ms` of the stint integrated: `moving` or not, `standing` in the box (still after
    /// race control's `pit_in`, not under red), `in_pit` by the telemetry's channel.
    pub(crate) fn track(&mut self, ms: i64, moving: bool, standing: bool, in_pit: bool) {
        if moving {
            self.covered_ms += ms;
        }
        if standing {
            self.standing_ms += ms;
            if self.standing_ms >= STOP_MIN_MS {
                self.stopped = true;
                self.run_after_ms = 0;
            }
            return;
        }
        self.standing_ms = 0;
        if self.stopped && !in_pit {
            self.run_after_ms += ms;
            if self.run_after_ms > RUN_AFTER_STOP_MS {
                self.unreported_stop = true;
            }
        }
    }

    /// `ms` of the stint's moving time without telemetry (the held flow ran out).
    pub(crate) fn gap(&mut self, ms: i64) {
        self.gap_ms += ms;
    }

    /// Why the stint so far could not measure the model, if it could not.
    fn unmeasured(&self) -> Option<Unmeasured> {
        let total = (self.covered_ms + self.gap_ms) as f64;
        if self.gap_ms as f64 > MAX_GAP_SHARE * total {
            Some(Unmeasured::TelemetryGap)
        } else if self.unreported_stop {
            Some(Unmeasured::UnreportedStop)
        } else {
            None
        }
    }

    /// The stop `stop` ends the stint at `ts`.
    pub(crate) fn close_stint(&mut self, car: CarId, ctx: &RaceCtx, ts: i64, stop: StopFacts) {
        let StopFacts {
            added,
            full,
            pit,
            standing_s,
            finish_gal,
            caution,
        } = stop;
        let weighed = match (self.start_level, added, full) {
            (Some(start), Some(added), Some(true)) => Some(start - (ctx.capacity_gal - added)),
            _ => None,
        }
        .filter(|m| *m > 0.0);
        let unmeasured = weighed.and(self.unmeasured());
        let measured = weighed.filter(|_| unmeasured.is_none());
        let mut points: Vec<(f32, f32, f64)> = self
            .bins
            .drain()
            .map(|(k, h)| ((k >> 16) as f32 / 100.0, (k & 0xffff) as f32 * 50.0, h))
            .collect();
        // Deterministic order, whatever the hash map's.
        points.sort_by(|a, b| (a.0, a.1).partial_cmp(&(b.0, b.1)).expect("finite bins"));
        if self.started {
            self.done.push(StintObs {
                race_id: ctx.race_id.to_owned(),
                // Filled in by the engine, which knows the race's track.
                track: String::new(),
                car: car.as_str().to_owned(),
                package: ctx.package,
                start_ts: self.start_ts.unwrap_or(i64::MIN),
                end_ts: ts,
                measured_gal: measured,
                unmeasured,
                fuel_added_gal: added,
                full,
                standing_s,
                tires: pit.tires,
                box_s: pit.box_s,
                start_gal: self.start_level,
                capacity_gal: ctx.capacity_gal,
                finish_gal,
                caution,
                points,
            });
        }
        self.start_ts = Some(ts);
        self.start_level = (full == Some(true)).then_some(ctx.capacity_gal);
        self.started = false;
        self.covered_ms = 0;
        self.gap_ms = 0;
        self.standing_ms = 0;
        self.stopped = false;
        self.run_after_ms = 0;
        self.unreported_stop = false;
    }

    /// The stints closed so far.
    pub fn take(&mut self) -> Vec<StintObs> {
        std::mem::take(&mut self.done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A recorder `ms` into a stint of green running.
    fn running(ms: i64) -> StintRecorder {
        let mut r = StintRecorder::new(20.0);
        r.track(ms, true, false, false);
        r
    }

    #[test]
    fn a_stint_that_lost_more_than_its_share_of_moving_time_does_not_measure() {
        // 30 minutes of running: 2 % is 36 s.
        let mut r = running(1_800_000);
        r.gap(35_000);
        assert_eq!(r.unmeasured(), None, "35 s of 30 min is within the share");
        r.gap(2_000);
        assert_eq!(r.unmeasured(), Some(Unmeasured::TelemetryGap));
    }

    #[test]
    fn a_stop_in_the_box_then_a_minute_of_running_is_a_stop_nobody_reported() {
        let mut r = running(600_000);
        // In the box 12 s, down pit road 20 s: a stop whose pit_out is still to come.
        r.track(12_000, false, true, true);
        r.track(20_000, true, false, true);
        assert_eq!(r.unmeasured(), None);
        r.track(RUN_AFTER_STOP_MS, true, false, false);
        assert_eq!(r.unmeasured(), None, "a minute after the stop, just");
        r.track(1, true, false, false);
        assert_eq!(r.unmeasured(), Some(Unmeasured::UnreportedStop));
    }

    #[test]
    fn standing_briefly_is_not_a_stop_and_standing_time_is_not_moving_time() {
        let mut r = running(600_000);
        // A car slowed to a stop in its box for under 3 s, then away.
        r.track(STOP_MIN_MS - 1, false, true, true);
        r.track(600_000, true, false, false);
        assert_eq!(r.unmeasured(), None);
        // Fifteen minutes parked count for nothing in the share a gap is judged by:
        // 20 minutes moving, so 24 s of gap is within 2 % and 25 s past it (with the
        // parked time counted, 25 s would be 1.2 %).
        r.track(900_000, false, false, true);
        r.gap(24_000);
        assert_eq!(r.unmeasured(), None);
        r.gap(1_000);
        assert_eq!(r.unmeasured(), Some(Unmeasured::TelemetryGap));
    }
}
