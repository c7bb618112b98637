//! The lines the race writes: `race_start`, race control's events (announced during a
//! tick, written together before its samples), and each car's sample.

use super::{Simulation, TrackFlag, normal};
use crate::car::PitReport;
use crate::output::{self, SampleVals};
use crate::physics::{CAPACITY_GAL, MPS_PER_MPH};

/// A race-control event to write at this tick (`telemetry-v1`'s events, cars by index).
#[derive(Debug, Clone)]
pub(super) enum Announcement {
    Flag {
        flag: TrackFlag,
        lap: u32,
    },
    PitIn {
        car: usize,
        lap: u32,
    },
    PitOut {
        car: usize,
        lap: u32,
        report: PitReport,
    },
    Incident {
        cars: Vec<usize>,
        lap: u32,
    },
    StageEnd {
        stage: u32,
        lap: u32,
    },
    CarOut {
        car: usize,
        reason: &'static str,
    },
}

impl Simulation {
    /// Race control announces `a`: written with the tick's other events.
    pub(super) fn announce(&mut self, a: Announcement) {
        self.announcements.push(a);
    }

    /// The tick's race-control events, before its samples.
    pub(super) fn write_announcements(&mut self, ts: i64) {
        if !self.announcements.is_empty() {
            // A delayed sample never crosses a race-control event.
            self.faults.flush_all(&mut self.sink);
            for ev in std::mem::take(&mut self.announcements) {
                self.write_event(ts, &ev);
            }
        }
    }

    /// Every reporting car's sample at `ts` (through the faults), its controls set for
    /// the step of `first_dt` seconds that follows.
    pub(super) fn write_samples(&mut self, ts: i64, first_dt: f64) {
        for i in 0..self.cars.len() {
            if !self.cars[i].reporting(ts) {
                continue;
            }
            let around = self.surroundings[i];
            self.cars[i].control(&self.ctx, &around, first_dt);
            let s = self.sample_vals(i, ts);
            self.faults.sample(&self.prefixes[i], &s, &mut self.sink);
            self.summary.samples += 1;
            self.teams[i].last_ts = ts;
            if let Some(t) = self.truth.as_mut() {
                t.sampled(i);
            }
        }
    }

    /// Car `i`'s sample at `ts`, with the sensors' noise.
    fn sample_vals(&mut self, i: usize, ts: i64) -> SampleVals {
        let rng = &mut self.noise_rng;
        let car = &self.cars[i];
        let c = car.ctrl;
        let lap = car.lap();
        let frac_e4 = ((car.d - car.d.floor()) * 10_000.0)
            .floor()
            .clamp(0.0, 9_999.0) as u32;
        let rpm = if c.rpm > 0.0 {
            (c.rpm + 12.0 * normal(rng)).round().clamp(0.0, 12_000.0) as u32
        } else {
            0
        };
        let mut throttle = c.throttle * 100.0;
        if throttle > 0.5 && throttle < 99.5 {
            throttle += 0.3 * normal(rng);
        }
        let throttle_e1 = (throttle.clamp(0.0, 100.0) * 10.0).round() as u32;
        let around = &self.surroundings[i];
        let gap_e2 = if around.leader {
            None
        } else {
            let gap_s = around.gap_m / car.v.max(30.0 * MPS_PER_MPH);
            Some((gap_s.min(600.0) * 100.0).round() as u32)
        };
        SampleVals {
            ts,
            lap,
            frac_e4,
            speed_e1: (car.v / MPS_PER_MPH * 10.0).round() as u32,
            rpm,
            throttle_e1,
            brake_psi: c.brake_psi.round().clamp(0.0, 3_000.0) as u32,
            gear: c.gear,
            gap_e2,
            in_pit: car.in_pit(),
        }
    }

    /// The `race_start` line.
    pub(super) fn write_race_start(&mut self, ts: i64) {
        let track = self.ctx.track;
        let (race_id, laps) = (&self.race_id, self.laps);
        let cars = &self.cars;
        self.sink.line(ts, |b| {
            output::event_head(b, "race_start", ts, race_id);
            output::field(b, "track", |b| output::string(b, track.key));
            output::field(b, "track_length_mi", |b| {
                b.extend_from_slice(format!("{}", track.length_mi).as_bytes())
            });
            output::field(b, "scheduled_laps", |b| output::int(b, laps as i64));
            output::field(b, "fuel_capacity_gal", |b| {
                output::int(b, CAPACITY_GAL as i64)
            });
            output::field(b, "cars", |b| {
                b.push(b'[');
                for (k, c) in cars.iter().enumerate() {
                    if k > 0 {
                        b.push(b',');
                    }
                    output::string(b, &c.p.number);
                }
                b.push(b']');
            });
            output::field(b, "drivers", |b| {
                b.push(b'{');
                for (k, c) in cars.iter().enumerate() {
                    if k > 0 {
                        b.push(b',');
                    }
                    output::string(b, &c.p.number);
                    b.push(b':');
                    output::string(b, &c.p.driver);
                }
                b.push(b'}');
            });
            b.push(b'}');
        });
        self.summary.events += 1;
    }

    /// One race-control event's line.
    fn write_event(&mut self, ts: i64, ev: &Announcement) {
        let (race_id, live, pit_detail) = (&self.race_id, self.cfg.live, self.cfg.pit_detail);
        let cars = &self.cars;
        let num = |i: usize| cars[i].p.number.as_str();
        self.sink.line(ts, |b| match ev {
            Announcement::Flag { flag, lap } => {
                output::event_head(b, "flag", ts, race_id);
                output::field(b, "flag", |b| output::string(b, flag.key()));
                output::field(b, "lap", |b| output::int(b, *lap as i64));
                b.push(b'}');
            }
            Announcement::PitIn { car, lap } => {
                output::event_head(b, "pit_in", ts, race_id);
                output::field(b, "car", |b| output::string(b, num(*car)));
                output::field(b, "lap", |b| output::int(b, *lap as i64));
                b.push(b'}');
            }
            Announcement::PitOut { car, lap, report } => {
                output::event_head(b, "pit_out", ts, race_id);
                output::field(b, "car", |b| output::string(b, num(*car)));
                output::field(b, "lap", |b| output::int(b, *lap as i64));
                pit_out_fields(b, report, live, pit_detail);
                b.push(b'}');
            }
            Announcement::Incident {
                cars: involved,
                lap,
            } => {
                output::event_head(b, "incident", ts, race_id);
                output::field(b, "cars", |b| {
                    b.push(b'[');
                    for (k, &c) in involved.iter().enumerate() {
                        if k > 0 {
                            b.push(b',');
                        }
                        output::string(b, num(c));
                    }
                    b.push(b']');
                });
                output::field(b, "lap", |b| output::int(b, *lap as i64));
                b.push(b'}');
            }
            Announcement::StageEnd { stage, lap } => {
                output::event_head(b, "stage_end", ts, race_id);
                output::field(b, "stage", |b| output::int(b, *stage as i64));
                output::field(b, "lap", |b| output::int(b, *lap as i64));
                b.push(b'}');
            }
            Announcement::CarOut { car, reason } => {
                output::event_head(b, "car_out", ts, race_id);
                output::field(b, "car", |b| output::string(b, num(*car)));
                output::field(b, "reason", |b| output::string(b, reason));
                b.push(b'}');
            }
        });
        self.summary.events += 1;
    }
}

/// A `pit_out`'s fill and pit data: the weighed amount and `full` (null on a live feed),
/// then, as the official pit data gives them, the tyres changed and the time stood in the
/// box to a tenth of a second (left out without pit data).
fn pit_out_fields(b: &mut Vec<u8>, r: &PitReport, live: bool, pit_detail: bool) {
    if live {
        b.extend_from_slice(b",\"fuel_added_gal\":null,\"full\":null");
    } else {
        output::field(b, "fuel_added_gal", |b| output::float(b, r.added, 2));
        output::field(b, "full", |b| {
            b.extend_from_slice(if r.full { b"true" } else { b"false" })
        });
    }
    if pit_detail {
        output::field(b, "tires", |b| output::int(b, i64::from(r.tires)));
        output::field(b, "box_s", |b| output::float(b, r.box_s, 1));
    }
}
