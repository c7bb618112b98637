//! The round trip: a simulated race, written as the official feed's files by the
//! recorder, converted back, against the simulator's own race control.
//!
//! Equal up to what the feed carries (`record.rs`, `convert`): with the pit data and
//! flag data, every flag (but white, which the feed has no code for), stage end,
//! `pit_in` and `pit_out` to the millisecond; a `pit_out`'s lap is its `pit_in`'s (the
//! feed does not count laps at pit-out), so within one lap of the simulator's; a
//! `car_out` at the car's last line crossing, so no later than the simulator's. From the
//! snapshots alone, flags and stage ends come with the snapshot that first shows them:
//! at most one snapshot interval late.

use std::collections::BTreeSet;

use burnbar_core::contract::{EventKind, Record};
use burnbar_core::decode::decode_line;
use burnbar_core::{CarId, Flag};
use burnbar_feed::record::Recorder;
use burnbar_feed::wire::Lenient;
use burnbar_feed::{Converter, FeedConfig, Kind, RcEvent};
use burnbar_sim::SimConfig;

const EVERY_MS: i64 = 5_000;

/// Each `pit_in` and each `pit_out` as (car, ts, lap).
type Stops = (BTreeSet<(CarId, i64, u32)>, Vec<(CarId, i64, u32)>);

struct Trip {
    sim: Vec<(i64, EventKind)>,
    converted: Vec<RcEvent>,
}

fn trip(cfg: &SimConfig, with_aux: bool) -> Trip {
    let mut race = Vec::new();
    burnbar_sim::simulate(cfg, &mut race, None).unwrap();
    let mut rec = Recorder::new(EVERY_MS, 424_242);
    let mut sim = Vec::new();
    let mut snaps = Vec::new();
    for line in race.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        rec.push_line(line);
        snaps.extend(rec.take_snapshots());
        if let Ok(Record::Event(e)) = decode_line(line) {
            sim.push((e.ts, e.kind));
        }
    }
    let (last, pits, flags) = rec.finish();
    snaps.extend(last);
    let mut c = Converter::new(FeedConfig::default());
    let mut converted = Vec::new();
    if with_aux {
        converted.extend(c.push_pit_data(&Lenient::new(pits), 0));
        converted.extend(c.push_flag_data(&Lenient::new(flags), 0));
    }
    for s in &snaps {
        // Through the bytes, as files would go.
        let bytes = serde_json::to_vec(s).unwrap();
        converted.extend(c.push_file(&bytes, (s.elapsed_time * 1000.0) as i64));
    }
    converted.extend(c.finish());
    assert!(c.counters().malformed.is_empty(), "{:?}", c.counters());
    Trip { sim, converted }
}

fn cfg(track: &str, laps: u32, seed: u64) -> SimConfig {
    SimConfig {
        track: track.into(),
        laps: Some(laps),
        cars: 12,
        hz: 4,
        seed,
        live: true,
        ..SimConfig::default()
    }
}

fn flags_of_sim(t: &Trip) -> Vec<(i64, Flag, u32)> {
    t.sim
        .iter()
        .filter_map(|(ts, k)| match k {
            EventKind::Flag { flag, lap } if *flag != Flag::White => {
                Some((*ts, *flag, u32::from(lap.unwrap_or(0))))
            }
            _ => None,
        })
        .collect()
}

fn flags_of(t: &Trip) -> Vec<(i64, Flag, u32)> {
    t.converted
        .iter()
        .filter_map(|e| match e.kind {
            Kind::Flag { flag, lap } => Some((e.ts, flag, lap)),
            _ => None,
        })
        .collect()
}

fn stops_of_sim(t: &Trip) -> Stops {
    let mut ins = BTreeSet::new();
    let mut outs = Vec::new();
    for (ts, k) in &t.sim {
        match k {
            EventKind::PitIn { car, lap } => {
                ins.insert((*car, *ts, u32::from(lap.unwrap())));
            }
            EventKind::PitOut { car, lap, .. } => outs.push((*car, *ts, u32::from(lap.unwrap()))),
            _ => {}
        }
    }
    outs.sort();
    (ins, outs)
}

fn stops_of(t: &Trip) -> Stops {
    let mut ins = BTreeSet::new();
    let mut outs = Vec::new();
    for e in &t.converted {
        match e.kind {
            Kind::PitIn { car, lap } => {
                ins.insert((car, e.ts, lap.unwrap()));
            }
            Kind::PitOut { car, lap, .. } => outs.push((car, e.ts, lap.unwrap())),
            _ => {}
        }
    }
    outs.sort();
    (ins, outs)
}

#[test]
fn with_pit_and_flag_data_the_round_trip_is_the_simulators_race_control() {
    for (track, laps, seed) in [
        ("iowa", 120, 7),
        ("pocono", 40, 3),
        ("martinsville", 150, 11),
    ] {
        let t = trip(&cfg(track, laps, seed), true);
        // The race.
        let Some(EventKind::RaceStart(rs)) = t.sim.first().map(|e| &e.1) else {
            panic!()
        };
        let Kind::RaceStart {
            track: key,
            scheduled_laps,
            cars,
            drivers,
            ..
        } = &t.converted[0].kind
        else {
            panic!()
        };
        assert_eq!(
            (key.as_str(), *scheduled_laps),
            (rs.track.as_str(), rs.scheduled_laps)
        );
        assert_eq!(t.converted[0].ts, t.sim[0].0);
        let mut sim_cars = rs.cars.clone();
        sim_cars.sort();
        assert_eq!(cars, &sim_cars);
        assert_eq!(drivers.len(), rs.drivers.len());
        // Flags, to the millisecond, with the leader's laps.
        let (want, got) = (flags_of_sim(&t), flags_of(&t));
        assert!(want.len() >= 3, "{track}: {want:?}");
        assert_eq!(got, want, "{track}");
        // Stage ends.
        let sim_stages: Vec<(i64, u32, Option<u32>)> = t
            .sim
            .iter()
            .filter_map(|(ts, k)| match k {
                EventKind::StageEnd { stage, lap } => Some((*ts, *stage, lap.map(u32::from))),
                _ => None,
            })
            .collect();
        let stages: Vec<(i64, u32, Option<u32>)> = t
            .converted
            .iter()
            .filter_map(|e| match e.kind {
                Kind::StageEnd { stage, lap } => Some((e.ts, stage, lap)),
                _ => None,
            })
            .collect();
        assert_eq!(stages, sim_stages, "{track}");
        // Stops: every pit_in to the millisecond with its lap; every pit_out to the
        // millisecond, its lap within one.
        let (sim_in, sim_out) = stops_of_sim(&t);
        let (ins, outs) = stops_of(&t);
        assert!(!sim_in.is_empty(), "{track}");
        assert_eq!(ins, sim_in, "{track}");
        assert_eq!(outs.len(), sim_out.len(), "{track}");
        for (a, b) in outs.iter().zip(&sim_out) {
            assert_eq!((a.0, a.1), (b.0, b.1), "{track}");
            assert!(b.2 - a.2 <= 1, "{track}: {a:?} {b:?}");
        }
        // Every pit_out has the box time the samples show.
        assert!(
            t.converted
                .iter()
                .all(|e| !matches!(e.kind, Kind::PitOut { box_s: None, .. }))
        );
        // Retirements: the same cars, stamped at or before the simulator's.
        let sim_out: Vec<(CarId, i64)> = t
            .sim
            .iter()
            .filter_map(|(ts, k)| match k {
                EventKind::CarOut { car, .. } => Some((*car, *ts)),
                _ => None,
            })
            .collect();
        for (car, ts) in &sim_out {
            let e = t
                .converted
                .iter()
                .find(|e| matches!(e.kind, Kind::CarOut { car: c } if c == *car))
                .unwrap_or_else(|| panic!("{track}: car_out of {car}"));
            assert!(e.ts <= *ts, "{track}: {car}");
        }
        assert_eq!(
            t.converted
                .iter()
                .filter(|e| matches!(e.kind, Kind::CarOut { .. }))
                .count(),
            sim_out.len()
        );
    }
}

#[test]
fn from_the_snapshots_alone_flags_come_within_one_snapshot() {
    let t = trip(&cfg("iowa", 120, 7), false);
    let (want, got) = (flags_of_sim(&t), flags_of(&t));
    assert_eq!(got.len(), want.len(), "{got:?}\n{want:?}");
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.1, w.1);
        assert!(g.0 >= w.0 && g.0 < w.0 + EVERY_MS + 1_000, "{g:?} {w:?}");
        assert!(g.2 >= w.2 && g.2 <= w.2 + 1, "{g:?} {w:?}");
    }
    // Stops are in the snapshots themselves: the same to the millisecond.
    let (sim_in, _) = stops_of_sim(&t);
    let (ins, _) = stops_of(&t);
    assert_eq!(ins, sim_in);
    // Without the pit data, no box time: every pit_out went out after its wait.
    assert!(
        t.converted
            .iter()
            .any(|e| matches!(e.kind, Kind::PitOut { box_s: None, .. }))
    );
}
