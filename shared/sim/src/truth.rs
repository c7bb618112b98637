//! The ground truth, as NDJSON an accuracy report can join against `FuelUpdate`s.
//!
//! - One **window line** per car per window `[end − window_ms, end)` of event time
//!   (aligned to the epoch, as the pipeline's windows are) in which the car wrote at
//!   least one sample: `{"car","ts","burned_gal","remaining_gal","lap"}` with `ts` the
//!   window's end, the fuel burned inside the window, the fuel in the cell at `ts`, and
//!   `lap + lap_frac` at `ts`. Those are exactly the windows the pipeline publishes.
//! - One **stint line** per stint, at the end: `{"car","stint_start","stint_end",
//!   "burned_gal","added_gal","full","tires","box_s","fuel_s","tire_s"}`. A stint runs
//!   from a fill (the race start, or a `pit_out`'s `ts`) to the next `pit_out`'s `ts`, or
//!   to the car's last sample (the finish, or its `car_out`). The rest describe the stop
//!   that ends it (null for the last stint): `added_gal` what was poured, `full` whether
//!   that filled the cell, `tires` the tyres changed, `box_s` the seconds the car stood
//!   still in its box (exact: the `pit_out` event gives it to a tenth), `fuel_s` the fuel
//!   job (dead time and pour) and `tire_s` the tyre change (0 without one): the stop was
//!   timed by the fuel when `fuel_s` ≥ `tire_s`, and `box_s` is the longer of the two, a
//!   little time for the jack, up to a step of the simulation.
//!
//! Window lines are sorted by `(ts, car)`, stint lines by `(car, stint_start)`; numbers
//! have 4 decimals.

use crate::car::PitReport;
use crate::output;

#[derive(Debug, Clone, Copy)]
struct Stint {
    start: i64,
    end: i64,
    burned: f64,
    /// The stop that ended it (none for the last stint).
    stop: Option<PitReport>,
}

#[derive(Debug)]
struct CarTruth {
    name: String,
    window_burned: f64,
    sampled: bool,
    stint_start: i64,
    stint_burned: f64,
    stints: Vec<Stint>,
}

/// Collects the truth while the race runs.
#[derive(Debug)]
pub(crate) struct Truth {
    window_ms: i64,
    /// End of the window now open.
    pub next_end: i64,
    cars: Vec<CarTruth>,
    /// Lines ready to hand out, in order.
    pub pending: Vec<String>,
}

impl Truth {
    /// `cars` in byte order of their numbers (the window lines' order within a `ts`).
    pub fn new(window_ms: i64, start_ts: i64, cars: &[String]) -> Truth {
        Truth {
            window_ms,
            next_end: start_ts - start_ts.rem_euclid(window_ms) + window_ms,
            cars: cars
                .iter()
                .map(|c| CarTruth {
                    name: c.clone(),
                    window_burned: 0.0,
                    sampled: false,
                    stint_start: start_ts,
                    stint_burned: 0.0,
                    stints: Vec::new(),
                })
                .collect(),
            pending: Vec::new(),
        }
    }

    /// Car `i` burned `gal` in the open window.
    pub fn burn(&mut self, i: usize, gal: f64) {
        let c = &mut self.cars[i];
        c.window_burned += gal;
        c.stint_burned += gal;
    }

    /// Car `i` wrote a sample in the open window.
    pub fn sampled(&mut self, i: usize) {
        self.cars[i].sampled = true;
    }

    /// The stop `report` ended car `i`'s stint at `ts` (its `pit_out`).
    pub fn fill(&mut self, i: usize, ts: i64, report: &PitReport) {
        let c = &mut self.cars[i];
        c.stints.push(Stint {
            start: c.stint_start,
            end: ts,
            burned: c.stint_burned,
            stop: Some(*report),
        });
        c.stint_start = ts;
        c.stint_burned = 0.0;
    }

    /// Closes the open window (its end is `next_end`); `state(i)` gives car `i`'s
    /// remaining fuel and `lap + lap_frac` at that instant.
    pub fn close_window(&mut self, state: impl Fn(usize) -> (f64, f64)) {
        let ts = self.next_end;
        for (i, c) in self.cars.iter_mut().enumerate() {
            if c.sampled {
                let (remaining, lap) = state(i);
                let mut b = Vec::with_capacity(96);
                b.extend_from_slice(b"{\"car\":");
                output::string(&mut b, &c.name);
                output::field(&mut b, "ts", |b| output::int(b, ts));
                output::field(&mut b, "burned_gal", |b| {
                    output::float(b, c.window_burned, 4)
                });
                output::field(&mut b, "remaining_gal", |b| output::float(b, remaining, 4));
                output::field(&mut b, "lap", |b| output::float(b, lap, 4));
                b.push(b'}');
                self.pending.push(String::from_utf8(b).unwrap_or_default());
            }
            c.window_burned = 0.0;
            c.sampled = false;
        }
        self.next_end += self.window_ms;
    }

    /// The race is over: `end(i)` is car `i`'s last sample `ts`; queues the stint lines.
    pub fn finish(&mut self, end: impl Fn(usize) -> i64) {
        for (i, c) in self.cars.iter_mut().enumerate() {
            c.stints.push(Stint {
                start: c.stint_start,
                end: end(i).max(c.stint_start),
                burned: c.stint_burned,
                stop: None,
            });
            for s in &c.stints {
                let mut b = Vec::with_capacity(128);
                b.extend_from_slice(b"{\"car\":");
                output::string(&mut b, &c.name);
                output::field(&mut b, "stint_start", |b| output::int(b, s.start));
                output::field(&mut b, "stint_end", |b| output::int(b, s.end));
                output::field(&mut b, "burned_gal", |b| output::float(b, s.burned, 4));
                stop_fields(&mut b, s.stop.as_ref());
                b.push(b'}');
                self.pending.push(String::from_utf8(b).unwrap_or_default());
            }
        }
    }
}

/// A stint line's description of the stop that ended it: nulls for none.
fn stop_fields(b: &mut Vec<u8>, stop: Option<&PitReport>) {
    let Some(r) = stop else {
        for k in ["added_gal", "full", "tires", "box_s", "fuel_s", "tire_s"] {
            output::field(b, k, |b| b.extend_from_slice(b"null"));
        }
        return;
    };
    output::field(b, "added_gal", |b| output::float(b, r.added, 4));
    output::field(b, "full", |b| {
        b.extend_from_slice(if r.full { b"true" } else { b"false" })
    });
    output::field(b, "tires", |b| output::int(b, i64::from(r.tires)));
    output::field(b, "box_s", |b| output::float(b, r.box_s, 4));
    output::field(b, "fuel_s", |b| output::float(b, r.fuel_s, 4));
    output::field(b, "tire_s", |b| output::float(b, r.tire_s, 4));
}
