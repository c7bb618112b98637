//! Real races' feed files (`tests/fixtures/feed/`, see its README) through the converter.
//! Every expectation is read from the files themselves: each car's stops, the flag
//! changes and their leader's laps, the cars that retired, and the race as the final
//! snapshot states it (laps to go, stage, cars running), which replaying the converted
//! events with no telemetry must reproduce.

use std::collections::BTreeMap;
use std::path::PathBuf;

use burnbar_core::contract::Record;
use burnbar_core::decode::decode_line;
use burnbar_core::{Engine, EngineConfig, ModelParams};
use burnbar_feed::wire::{FlagRecord, PitRecord, Snapshot, epoch_ms, ms};
use burnbar_feed::{Converter, FeedConfig, FeedFile, Kind, RcEvent};
use serde_json::Value;

const RACE_CONTROL: &str = include_str!("../../../tests/spec/schema/race-control-v1.schema.json");

fn dir(race: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/feed")
        .join(race)
}

fn read(race: &str, file: &str) -> Option<Vec<u8>> {
    std::fs::read(dir(race).join(file)).ok()
}

fn json(race: &str, file: &str) -> Option<Value> {
    read(race, file).map(|b| serde_json::from_slice(&b).unwrap())
}

/// Pit data and flag data first (they name no race), then the snapshot, then the end.
fn convert(race: &str) -> (Vec<RcEvent>, Converter) {
    let mut c = Converter::new(FeedConfig::default());
    let mut out = Vec::new();
    for f in [
        "live-pit-data.json",
        "live-flag-data.json",
        "live-feed.json",
    ] {
        if let Some(bytes) = read(race, f) {
            out.extend(c.push_file(&bytes, 0));
        }
    }
    out.extend(c.finish());
    (out, c)
}

const RACES: [&str; 3] = [
    "chicagoland-2026-5651",
    "darlington-2025-5575",
    "atlanta-2023-5272",
];

#[test]
fn every_line_is_race_control_v1_and_decodes() {
    let schema: Value = serde_json::from_str(RACE_CONTROL).unwrap();
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    for race in RACES {
        let (events, c) = convert(race);
        assert!(events.len() > 50, "{race}: {}", events.len());
        for e in &events {
            let line = e.to_json();
            let v: Value = serde_json::from_str(&line).unwrap();
            if let Err(err) = validator.validate(&v) {
                panic!("{race}: {line}: {err}");
            }
            assert!(
                matches!(decode_line(line.as_bytes()), Ok(Record::Event(_))),
                "{line}"
            );
        }
        assert!(c.counters().malformed.is_empty(), "{race}");
        assert!(c.counters().unknown_flag_codes.is_empty(), "{race}");
    }
}

#[test]
fn each_cars_stops_become_that_many_pit_in_and_pit_out_with_their_laps() {
    for race in RACES {
        let feed = json(race, "live-feed.json").unwrap();
        let (events, _) = convert(race);
        for v in feed["vehicles"].as_array().unwrap() {
            let car = v["vehicle_number"].as_str().unwrap();
            let stops: Vec<&Value> = v["pit_stops"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["pit_in_elapsed_time"].as_f64().unwrap() > 0.0)
                .collect();
            let laps: Vec<Option<u32>> = stops
                .iter()
                .map(|s| s["pit_in_lap_count"].as_u64().map(|l| l as u32))
                .collect();
            let outs = stops
                .iter()
                .filter(|s| s["pit_out_elapsed_time"].as_f64().unwrap_or(0.0) > 0.0)
                .count();
            let ins: Vec<Option<u32>> = events
                .iter()
                .filter_map(|e| match &e.kind {
                    Kind::PitIn { car: c, lap } if c.as_str() == car => Some(*lap),
                    _ => None,
                })
                .collect();
            let out_laps: Vec<Option<u32>> = events
                .iter()
                .filter_map(|e| match &e.kind {
                    Kind::PitOut { car: c, lap, .. } if c.as_str() == car => Some(*lap),
                    _ => None,
                })
                .collect();
            assert_eq!(ins, laps, "{race} car {car}");
            assert_eq!(out_laps.len(), outs, "{race} car {car}");
            assert!(!stops.is_empty() || ins.is_empty());
        }
    }
}

#[test]
fn the_flag_changes_and_leaders_laps_are_the_flag_datas_in_order() {
    let race = "chicagoland-2026-5651";
    let flags: Vec<FlagRecord> =
        serde_json::from_value(json(race, "live-flag-data.json").unwrap()).unwrap();
    // What the file says, read plainly: warm-up is no race-control flag, `4` (finish)
    // and `9` (not active, after the start) are the checkered flag; a state repeated is
    // no change.
    let mut expected = Vec::new();
    let mut last = None;
    for f in &flags {
        let name = match f.flag_state {
            1 => "green",
            2 => "yellow",
            3 => "red",
            4 | 9 => "checkered",
            _ => continue,
        };
        if last != Some(f.flag_state) {
            // Each change's time of day is the event's time (the green, waved as the
            // clock starts, is stamped with the clock's start).
            let ts = (f.elapsed_time > 0.0)
                .then(|| epoch_ms(f.time_of_day_os.as_deref().unwrap()).unwrap());
            expected.push((name.to_string(), f.lap_number as u32, ts));
            last = Some(f.flag_state);
        }
    }
    let (events, _) = convert(race);
    let got: Vec<(String, u32, i64)> = events
        .iter()
        .filter_map(|e| match e.kind {
            Kind::Flag { flag, lap } => Some((flag.as_str().to_string(), lap, e.ts)),
            _ => None,
        })
        .collect();
    assert_eq!(got.len(), expected.len(), "{got:?}");
    for ((name, lap, ts), (gn, gl, gts)) in expected.iter().zip(&got) {
        assert_eq!((name, lap), (gn, gl));
        if let Some(ts) = ts {
            assert!((ts - gts).abs() <= 2, "{name} at lap {lap}: {ts} vs {gts}");
        }
    }
    assert_eq!(
        got.last().unwrap().1,
        201,
        "the last flag carries the final lap"
    );
    // The stage ends, from race control's words in the flag data.
    let stages: Vec<(u32, Option<u32>)> = events
        .iter()
        .filter_map(|e| match e.kind {
            Kind::StageEnd { stage, lap } => Some((stage, lap)),
            _ => None,
        })
        .collect();
    assert_eq!(stages, vec![(1, Some(45)), (2, Some(90))]);
}

#[test]
fn a_final_snapshot_alone_gives_the_state_it_shows() {
    // Darlington: the final snapshot's cold track after the race distance is the
    // checkered flag with the leader's final lap; stage 3 under way means stages 1 and 2
    // ended (stage 2 at the lap stage 3 started).
    let (events, _) = convert("darlington-2025-5575");
    let flags: Vec<_> = events
        .iter()
        .filter_map(|e| match e.kind {
            Kind::Flag { flag, lap } => Some((flag.as_str(), lap)),
            _ => None,
        })
        .collect();
    assert_eq!(flags, vec![("checkered", 367)]);
    let stages: Vec<_> = events
        .iter()
        .filter_map(|e| match e.kind {
            Kind::StageEnd { stage, lap } => Some((stage, lap)),
            _ => None,
        })
        .collect();
    assert_eq!(stages, vec![(1, None), (2, Some(230))]);
    // Atlanta mid-race: green, on the leader's lap.
    let (events, _) = convert("atlanta-2023-5272");
    assert!(events.iter().any(|e| matches!(
        e.kind,
        Kind::Flag {
            flag: burnbar_core::Flag::Green,
            lap: 233
        }
    )));
}

#[test]
fn the_cars_that_retired_get_car_out_once_and_after_their_stops() {
    for race in RACES {
        let feed = json(race, "live-feed.json").unwrap();
        let mut retired: Vec<String> = feed["vehicles"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["status"] == 3)
            .map(|v| v["vehicle_number"].as_str().unwrap().to_string())
            .collect();
        retired.sort();
        let (events, _) = convert(race);
        let mut outs: Vec<String> = events
            .iter()
            .filter_map(|e| match &e.kind {
                Kind::CarOut { car } => Some(car.as_str().to_string()),
                _ => None,
            })
            .collect();
        outs.sort();
        assert_eq!(outs, retired, "{race}");
        assert!(!retired.is_empty());
        // In the stream, nothing of a car follows its car_out.
        for car in &retired {
            let i = events
                .iter()
                .position(|e| matches!(&e.kind, Kind::CarOut { car: c } if c.as_str() == car))
                .unwrap();
            assert!(
                !events[i + 1..].iter().any(|e| matches!(&e.kind,
                    Kind::PitIn { car: c, .. } | Kind::PitOut { car: c, .. } if c.as_str() == car)),
                "{race} {car}"
            );
        }
    }
}

#[test]
fn replaying_the_events_with_no_telemetry_gives_the_race_the_file_shows() {
    for race in RACES {
        let feed = json(race, "live-feed.json").unwrap();
        let (events, c) = convert(race);
        let mut engine = Engine::new(EngineConfig::default(), ModelParams::default());
        let mut out = Vec::new();
        for e in &events {
            engine.push_line(e.to_json().as_bytes(), &mut out).unwrap();
        }
        engine.finish(&mut out);
        let state = engine.race_state(c.race_id().unwrap()).unwrap();
        let running = feed["vehicles"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["status"] != 3)
            .count() as u32;
        assert_eq!(
            state.laps_to_go,
            Some(feed["laps_to_go"].as_f64().unwrap()),
            "{race}"
        );
        assert_eq!(
            state.stage as i64,
            feed["stage"]["stage_num"].as_i64().unwrap(),
            "{race}"
        );
        assert_eq!(state.cars_running, running, "{race}");
        assert_eq!(
            state.track,
            match race {
                "chicagoland-2026-5651" => "chicagoland",
                "darlington-2025-5575" => "darlington",
                _ => "atlanta",
            }
        );
    }
}

#[test]
fn pit_outs_carry_the_pit_datas_box_time_and_tyres_or_go_out_without_them() {
    let race = "chicagoland-2026-5651";
    let recs: Vec<PitRecord> =
        serde_json::from_value(json(race, "live-pit-data.json").unwrap()).unwrap();
    let by_stop: BTreeMap<(String, i64), &PitRecord> = recs
        .iter()
        .map(|r| ((r.vehicle_number.clone(), ms(r.pit_in_race_time)), r))
        .collect();
    let (events, c) = convert(race);
    let mut pit_in_ms: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let anchor = events[0].ts;
    for e in &events {
        if let Kind::PitIn { car, .. } = &e.kind {
            pit_in_ms
                .entry(car.as_str().to_string())
                .or_default()
                .push(e.ts - anchor);
        }
    }
    let mut with = 0;
    for e in events.iter() {
        let Kind::PitOut {
            car, tires, box_s, ..
        } = &e.kind
        else {
            continue;
        };
        // The stop this pit_out ends: the car's latest pit_in before it.
        let pin = *pit_in_ms[car.as_str()]
            .iter()
            .filter(|&&t| t < e.ts - anchor)
            .max()
            .unwrap();
        let rec = by_stop.get(&(car.as_str().to_string(), pin));
        match rec.filter(|r| r.pit_stop_duration.unwrap_or(-1.0) >= 0.0) {
            Some(r) => {
                with += 1;
                assert_eq!(*box_s, r.pit_stop_duration, "{car} {pin}");
                assert_eq!(*tires, r.tires(), "{car} {pin}");
            }
            None => assert_eq!((*tires, *box_s), (None, None), "{car} {pin}"),
        }
    }
    assert!(with > 150, "{with}");
    assert_eq!(c.counters().pit_outs_with_data, with);
    assert!(c.counters().pit_outs_without_data > 0);
    // Four-tyre stops are the rule under caution: most stops with data changed four.
    let four = events
        .iter()
        .filter(|e| matches!(e.kind, Kind::PitOut { tires: Some(4), .. }))
        .count();
    assert!(four * 2 > with as usize, "{four} of {with}");
}

/// The final snapshot as it stood at race time `t`: stops begun by then (those not yet
/// over still on pit road), nobody out yet, the flag data's state at `t`.
fn cut(fin: &Snapshot, flags: &[FlagRecord], t: f64) -> Snapshot {
    let mut s = fin.clone();
    s.elapsed_time = t;
    let at = flags.iter().rev().find(|f| f.elapsed_time <= t);
    s.flag_state = at.map_or(8, |f| f.flag_state);
    s.lap_number = at.map_or(0, |f| f.lap_number);
    s.stage = None;
    for v in &mut s.vehicles.items {
        v.pit_stops.retain(|p| p.pit_in_elapsed_time <= t);
        for p in &mut v.pit_stops {
            if p.pit_out_elapsed_time.unwrap_or(0.0) > t {
                p.pit_out_elapsed_time = Some(0.0);
            }
        }
        v.status = Some(1);
        v.vehicle_elapsed_time = None;
    }
    s
}

#[test]
fn a_sequence_cut_from_the_real_race_gives_the_same_events_as_its_final_snapshot() {
    let race = "chicagoland-2026-5651";
    let Ok(FeedFile::Snapshot(fin)) = FeedFile::parse(&read(race, "live-feed.json").unwrap())
    else {
        panic!("a snapshot")
    };
    let pit = FeedFile::parse(&read(race, "live-pit-data.json").unwrap()).unwrap();
    let flag = FeedFile::parse(&read(race, "live-flag-data.json").unwrap()).unwrap();
    let FeedFile::FlagData(flags) = &flag else {
        panic!()
    };
    let (alone, _) = convert(race);
    // Every 5 s of race time, with some snapshots missing, some read twice and some out
    // of order (one going back in time); then the final one.
    let mut c = Converter::new(FeedConfig::default());
    let mut seq = Vec::new();
    seq.extend(c.push(&pit, 0));
    seq.extend(c.push(&flag, 0));
    let mut times: Vec<f64> = (0..1900)
        .map(|k| k as f64 * 5.0)
        .filter(|t| *t < fin.elapsed_time)
        .collect();
    times.retain(|t| (*t as i64) % 35 != 0);
    times.swap(400, 401);
    times.insert(900, times[700]);
    for &t in &times {
        let snap = cut(&fin, &flags.items, t);
        seq.extend(c.push_snapshot(&snap, ms(t)));
        seq.extend(c.push_snapshot(&snap, ms(t)));
    }
    seq.extend(c.push_snapshot(&fin, ms(fin.elapsed_time)));
    seq.extend(c.finish());
    assert!(c.counters().snapshots_stale >= 2);
    let lines = |v: &[RcEvent]| {
        let mut l: Vec<String> = v.iter().map(RcEvent::to_json).collect();
        l.sort();
        l
    };
    // The race_start came from the first snapshot after the clock started, not the
    // final one; everything else is the same event with the same time.
    let (a, s) = (lines(&alone[1..]), lines(&seq[1..]));
    assert_eq!(a.len(), s.len());
    assert_eq!(a, s);
    assert_eq!(alone[0].ts, seq[0].ts);
}

#[test]
fn converting_twice_gives_the_same_bytes() {
    for race in RACES {
        let (a, _) = convert(race);
        let (b, _) = convert(race);
        let text = |v: &[RcEvent]| v.iter().map(|e| e.to_json() + "\n").collect::<String>();
        assert_eq!(text(&a), text(&b));
    }
}
