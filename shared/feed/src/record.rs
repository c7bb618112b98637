//! The other way: a race's `telemetry-v1` lines written as the official feed's files, so
//! the simulator's races can go through the converter (`burnbar simulate --feed`) and the
//! round trip be compared with the simulator's own race control.
//!
//! [`Recorder`] reads the lines in order (race-control events and samples, faults and
//! all: a line that does not decode is ignored) and, every `every_ms` of race time, takes
//! a snapshot of the race as it stands: the leader's lap, the flag state, each car's laps,
//! last line crossing, status and stops. At the end it gives a final snapshot, the pit
//! data and the flag data. What the feed carries is what the recorder writes:
//!
//! - race time in the snapshots in whole seconds (as the feed's), with the time of day to
//!   the millisecond; in the pit data and flag data to the millisecond;
//! - no white flag (the feed shows none: the last lap runs under green), no incidents,
//!   no fuel;
//! - each stop's box time from the samples (the time between the first and the last
//!   sample standing below 1 mph on pit road, so up to one sample interval short); no
//!   tyres (the lines do not say them yet: the four flags are left out);
//! - a stage end as a flag-data entry `Stage N Conclusion` at its time, in the flag state
//!   then in force;
//! - a car that left the race (`car_out`) with status out, last seen at its last line
//!   crossing.

use std::collections::BTreeMap;

use burnbar_core::contract::{EventKind, Record};
use burnbar_core::decode::decode_line;
use burnbar_core::{CarId, tracks};

use crate::codes::{FeedFlag, Status};
use crate::wire::{Driver, FeedStop, FlagRecord, Lenient, PitRecord, Snapshot, StageInfo, Vehicle};

/// One stop as the recorder saw it (race times in ms).
#[derive(Debug, Clone, Default)]
struct StopRec {
    pit_in: i64,
    lap: u32,
    leader_lap: u32,
    flag_in: i64,
    pit_out: Option<i64>,
    flag_out: Option<i64>,
    /// First and last sample standing still in the box.
    standing: Option<(i64, i64)>,
}

#[derive(Debug, Clone, Default)]
struct CarRec {
    driver: Option<String>,
    laps: u32,
    /// Race time of the last line crossing, ms.
    crossed: Option<i64>,
    out: bool,
    stops: Vec<StopRec>,
}

/// The feed files of a race, built from its `telemetry-v1` lines.
#[derive(Debug, Clone)]
pub struct Recorder {
    every_ms: i64,
    feed_race_id: i64,
    start: Option<i64>,
    next_ms: i64,
    newest_ms: i64,
    track: String,
    scheduled_laps: Option<u32>,
    flag: FeedFlag,
    stage: u32,
    cars: BTreeMap<CarId, CarRec>,
    flags: Vec<FlagRecord>,
    ready: Vec<Snapshot>,
}

impl Recorder {
    /// A snapshot every `every_ms` of race time (at least 1 s), for NASCAR race id
    /// `feed_race_id`.
    pub fn new(every_ms: i64, feed_race_id: i64) -> Recorder {
        let every_ms = every_ms.max(1_000);
        Recorder {
            every_ms,
            feed_race_id,
            start: None,
            next_ms: every_ms,
            newest_ms: 0,
            track: String::new(),
            scheduled_laps: None,
            flag: FeedFlag::WarmUp,
            stage: 1,
            cars: BTreeMap::new(),
            flags: Vec::new(),
            ready: Vec::new(),
        }
    }

    /// Reads one line (without its newline).
    pub fn push_line(&mut self, line: &[u8]) {
        let Ok(rec) = decode_line(line) else {
            return;
        };
        let ts = match &rec {
            Record::Sample(s) => s.ts,
            Record::Event(e) => e.ts,
        };
        if let Some(start) = self.start {
            while ts - start >= self.next_ms {
                let snap = self.snapshot(self.next_ms);
                self.ready.push(snap);
                self.next_ms += self.every_ms;
            }
        }
        match rec {
            Record::Event(e) => self.event(e.ts, e.kind),
            Record::Sample(s) => self.sample(s.car, s.ts, &s.ch),
        }
    }

    /// The snapshots whose time has come since the last call.
    pub fn take_snapshots(&mut self) -> Vec<Snapshot> {
        std::mem::take(&mut self.ready)
    }

    /// The end of the race: the snapshots not yet taken, a final one at the newest race
    /// time (rounded up to the second), the pit data and the flag data.
    pub fn finish(mut self) -> (Vec<Snapshot>, Vec<PitRecord>, Vec<FlagRecord>) {
        let mut snaps = self.take_snapshots();
        if self.start.is_some() {
            let end = (self.newest_ms + 999) / 1000 * 1000;
            snaps.push(self.snapshot(end.max(self.next_ms - self.every_ms)));
        }
        let pits = self.pit_data();
        (snaps, pits, self.flags)
    }

    fn event(&mut self, ts: i64, kind: EventKind) {
        if let EventKind::RaceStart(rs) = &kind {
            if self.start.is_none() {
                self.start = Some(ts);
                self.track = rs.track.clone();
                self.scheduled_laps = rs.scheduled_laps;
                for c in &rs.cars {
                    self.cars.entry(*c).or_default();
                }
                for (c, name) in &rs.drivers {
                    self.cars.entry(*c).or_default().driver = Some(name.clone());
                }
            }
            return;
        }
        let Some(start) = self.start else { return };
        let t = ts - start;
        self.newest_ms = self.newest_ms.max(t);
        match kind {
            EventKind::Flag { flag, lap } => {
                let state = FeedFlag::from_contract(flag);
                if state != self.flag {
                    self.flag = state;
                    self.flag_entry(t, lap.unwrap_or(0), None);
                }
            }
            EventKind::StageEnd { stage, lap } => {
                self.stage = self.stage.max(stage + 1);
                let lap = lap.unwrap_or(0);
                self.flag_entry(t, lap, Some(format!("Stage {stage} Conclusion")));
            }
            EventKind::PitIn { car, lap } => {
                let leader_lap = self.leader_lap();
                let flag_in = self.flag.code();
                let c = self.cars.entry(car).or_default();
                c.stops.push(StopRec {
                    pit_in: t,
                    lap: lap.map_or(c.laps, u32::from),
                    leader_lap,
                    flag_in,
                    ..StopRec::default()
                });
            }
            EventKind::PitOut { car, .. } => {
                let flag_out = self.flag.code();
                if let Some(s) = self.open_stop(car) {
                    s.pit_out = Some(t);
                    s.flag_out = Some(flag_out);
                }
            }
            EventKind::CarOut { car, .. } => self.cars.entry(car).or_default().out = true,
            EventKind::Incident { .. } | EventKind::RaceStart(_) => {}
        }
    }

    fn sample(&mut self, car: CarId, ts: i64, ch: &burnbar_core::contract::Channels) {
        let Some(start) = self.start else { return };
        let t = ts - start;
        self.newest_ms = self.newest_ms.max(t);
        let c = self.cars.entry(car).or_default();
        if ch.has(burnbar_core::contract::Channels::LAP) && u32::from(ch.lap) > c.laps {
            c.laps = u32::from(ch.lap);
            c.crossed = Some(t);
        }
        let standing = ch.in_pit() == Some(true)
            && ch.has(burnbar_core::contract::Channels::SPEED)
            && ch.speed_mph < 1.0;
        if standing && let Some(s) = self.open_stop(car) {
            s.standing = Some(s.standing.map_or((t, t), |(a, b)| (a.min(t), b.max(t))));
        }
    }

    /// The car's stop under way (a `pit_in` without its `pit_out`).
    fn open_stop(&mut self, car: CarId) -> Option<&mut StopRec> {
        self.cars
            .get_mut(&car)?
            .stops
            .last_mut()
            .filter(|s| s.pit_out.is_none())
    }

    fn leader_lap(&self) -> u32 {
        self.cars
            .values()
            .filter(|c| !c.out)
            .map(|c| c.laps)
            .max()
            .unwrap_or(0)
    }

    fn flag_entry(&mut self, t: i64, lap: u16, comment: Option<String>) {
        let start = self.start.unwrap_or(0);
        self.flags.push(FlagRecord {
            lap_number: i64::from(lap),
            flag_state: self.flag.code(),
            elapsed_time: t as f64 / 1000.0,
            comment,
            time_of_day: Some(seconds_of_day(start + t)),
            time_of_day_os: Some(iso(start + t)),
        });
    }

    /// The race as it stands at race time `t` ms.
    fn snapshot(&self, t: i64) -> Snapshot {
        let start = self.start.unwrap_or(0);
        let table = tracks::lookup(&self.track);
        let leader = self.leader_lap();
        let mut order: Vec<(&CarId, &CarRec)> = self.cars.iter().collect();
        order.sort_by_key(|(_, c)| (c.out, std::cmp::Reverse(c.laps), c.crossed));
        let vehicles = order
            .iter()
            .enumerate()
            .map(|(i, (car, c))| vehicle(car, c, i, t))
            .collect();
        Snapshot {
            race_id: self.feed_race_id,
            series_id: Some(1),
            run_name: Some("burnbar simulation".into()),
            lap_number: i64::from(leader),
            laps_in_race: self.scheduled_laps.map(i64::from),
            laps_to_go: self
                .scheduled_laps
                .map(|l| i64::from(l.saturating_sub(leader))),
            elapsed_time: (t / 1000) as f64,
            flag_state: self.flag.code(),
            time_of_day: Some(seconds_of_day(start + t)),
            time_of_day_os: Some(iso(start + t)),
            track_id: table.and_then(|tr| tr.feed_ids.first().copied()),
            track_name: Some(table.map_or(self.track.clone(), |tr| {
                tr.feed_names.first().copied().unwrap_or(tr.name).to_owned()
            })),
            track_length: table.map(|tr| tr.length_mi),
            stage: Some(StageInfo {
                stage_num: i64::from(self.stage),
                finish_at_lap: None,
                laps_in_stage: None,
            }),
            vehicles: Lenient::new(vehicles),
        }
    }

    fn pit_data(&self) -> Vec<PitRecord> {
        let mut out = Vec::new();
        for (car, c) in &self.cars {
            for s in &c.stops {
                let secs = |ms: i64| ms as f64 / 1000.0;
                let box_s = s.standing.map(|(a, b)| secs(b - a));
                let (box_in, box_out) =
                    s.standing.map_or((-1.0, -1.0), |(a, b)| (secs(a), secs(b)));
                out.push(PitRecord {
                    vehicle_number: car.as_str().to_owned(),
                    driver_name: c.driver.clone(),
                    leader_lap: Some(i64::from(s.leader_lap)),
                    lap_count: Some(i64::from(s.lap)),
                    pit_in_flag_status: Some(s.flag_in),
                    pit_out_flag_status: s.flag_out,
                    pit_in_race_time: secs(s.pit_in),
                    pit_out_race_time: Some(s.pit_out.map_or(-1.0, secs)),
                    total_duration: Some(s.pit_out.map_or(-1.0, |o| secs(o - s.pit_in))),
                    box_stop_race_time: Some(box_in),
                    box_leave_race_time: Some(box_out),
                    pit_stop_duration: Some(box_s.unwrap_or(-1.0)),
                    in_travel_duration: Some(if box_in >= 0.0 {
                        box_in - secs(s.pit_in)
                    } else {
                        -1.0
                    }),
                    out_travel_duration: Some(match s.pit_out {
                        Some(o) if box_out >= 0.0 => secs(o) - box_out,
                        _ => -1.0,
                    }),
                    pit_stop_type: Some("OTHER".into()),
                    // The simulator's lines do not say which tyres were changed: the
                    // four flags are left out, so the converter reads `tires` unknown.
                    left_front_tire_changed: None,
                    left_rear_tire_changed: None,
                    right_front_tire_changed: None,
                    right_rear_tire_changed: None,
                });
            }
        }
        out
    }
}

/// A car in a snapshot at race time `t` ms, in running position `i` (0 first).
fn vehicle(car: &CarId, c: &CarRec, i: usize, t: i64) -> Vehicle {
    let secs = |ms: i64| ms as f64 / 1000.0;
    Vehicle {
        vehicle_number: car.as_str().to_owned(),
        driver: c.driver.clone().map(|n| Driver { full_name: Some(n) }),
        laps_completed: Some(i64::from(c.laps)),
        status: Some(if c.out { Status::Out } else { Status::Running }.code()),
        is_on_track: Some(!c.out),
        running_position: Some(i as i64 + 1),
        vehicle_elapsed_time: c.crossed.map(secs),
        pit_stops: c
            .stops
            .iter()
            .filter(|s| s.pit_in <= t)
            .map(|s| FeedStop {
                pit_in_elapsed_time: secs(s.pit_in),
                pit_in_lap_count: Some(i64::from(s.lap)),
                pit_in_leader_lap: Some(i64::from(s.leader_lap)),
                pit_out_elapsed_time: Some(s.pit_out.filter(|&o| o <= t).map_or(0.0, secs)),
            })
            .collect(),
    }
}

/// Seconds since midnight UTC.
fn seconds_of_day(epoch_ms: i64) -> f64 {
    epoch_ms.rem_euclid(86_400_000) as f64 / 1000.0
}

/// ISO 8601, UTC, to the millisecond.
fn iso(epoch_ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(epoch_ms) * 1_000_000)
        .expect("a time within the contract's range");
    t.format(&time::format_description::well_known::Rfc3339)
        .expect("a date formats")
}
