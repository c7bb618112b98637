//! The converter on small hand-made feeds: repeated, missing, late and bad snapshots,
//! unknown codes and tracks, and the wait for pit data.

use serde_json::{Value, json};

use super::*;
use crate::event::Kind;

/// A snapshot at race time `t` s: the leader on `lap`, flag `code`, car 5 with the
/// given stops `(pit_in, pit_out)` and car 7 with `status7`.
fn snap(t: f64, lap: i64, code: i64, stops: &[(f64, f64)], status7: i64) -> Value {
    let stops: Vec<Value> = stops
        .iter()
        .map(|&(i, o)| {
            json!({"pit_in_elapsed_time": i, "pit_in_lap_count": 10, "pit_in_leader_lap": 10,
                   "pit_out_elapsed_time": o, "pit_in_rank": 3, "pit_out_rank": 4})
        })
        .collect();
    json!({
        "race_id": 9001, "series_id": 1, "lap_number": lap, "laps_in_race": 100,
        "laps_to_go": 100 - lap, "elapsed_time": t, "flag_state": code,
        "time_of_day_os": format!("2025-06-22T12:{:02}:{:02}-04:00", (t as i64) / 60, (t as i64) % 60),
        "track_id": 4, "track_name": "Darlington Raceway", "track_length": 1.366,
        "stage": {"stage_num": 1, "finish_at_lap": 30, "laps_in_stage": 30},
        "vehicles": [
            {"vehicle_number": "5", "status": 1, "laps_completed": lap,
             "driver": {"full_name": "A. Driver"}, "pit_stops": stops, "new_field": [1, 2]},
            {"vehicle_number": "7", "status": status7, "laps_completed": lap - 1,
             "vehicle_elapsed_time": t - 1.0, "pit_stops": []}
        ],
        "some_unknown_field": {"x": 1}
    })
}

fn push(c: &mut Converter, v: &Value, now: i64) -> Vec<RcEvent> {
    c.push_file(v.to_string().as_bytes(), now)
}

fn kinds(events: &[RcEvent]) -> Vec<&'static str> {
    events.iter().map(|e| e.kind.name()).collect()
}

/// Race start of every hand-made race: 2025-06-22T12:00:00-04:00.
const START: i64 = 1_750_608_000_000;

#[test]
fn a_race_starts_once_its_clock_runs_and_each_change_is_one_event() {
    let mut c = Converter::new(FeedConfig::default());
    // Before the clock starts: nothing.
    assert!(push(&mut c, &snap(0.0, 0, 8, &[], 1), 0).is_empty());
    assert_eq!(c.counters().snapshots_before_start, 1);
    let a = push(&mut c, &snap(10.0, 0, 1, &[], 1), 0);
    assert_eq!(kinds(&a), ["race_start", "flag"]);
    assert_eq!(a[0].ts, START);
    assert_eq!(a[1].ts, START + 10_000);
    assert_eq!(a[0].race_id, "nascar-9001");
    let Kind::RaceStart {
        track,
        scheduled_laps,
        cars,
        drivers,
        ..
    } = &a[0].kind
    else {
        panic!()
    };
    assert_eq!(
        (track.as_str(), *scheduled_laps, cars.len()),
        ("darlington", Some(100), 2)
    );
    assert_eq!(drivers.values().collect::<Vec<_>>(), ["A. Driver"]);
    // The same snapshot again, and the same state later: nothing.
    assert!(push(&mut c, &snap(10.0, 0, 1, &[], 1), 0).is_empty());
    assert!(push(&mut c, &snap(15.0, 1, 1, &[], 1), 0).is_empty());
    let y = push(&mut c, &snap(20.0, 2, 2, &[], 1), 0);
    assert_eq!(kinds(&y), ["flag"]);
    assert!(matches!(
        y[0].kind,
        Kind::Flag {
            flag: burnbar_core::Flag::Yellow,
            lap: 2
        }
    ));
}

#[test]
fn a_snapshot_back_in_time_or_of_a_race_over_changes_nothing() {
    let mut c = Converter::new(FeedConfig::default());
    push(&mut c, &snap(10.0, 1, 1, &[], 1), 0);
    push(&mut c, &snap(50.0, 3, 2, &[(40.0, 0.0)], 1), 0);
    // An old snapshot (green, no stop yet) arrives late.
    assert!(push(&mut c, &snap(30.0, 2, 1, &[], 1), 0).is_empty());
    assert_eq!(c.counters().snapshots_stale, 1);
    // A new race: the one before is over, its waiting stops go out, its snapshots are
    // stale from now on.
    let mut other = snap(5.0, 0, 1, &[], 1);
    other["race_id"] = json!(9002);
    let n = push(&mut c, &other, 0);
    assert_eq!(kinds(&n)[..2], ["race_start", "flag"]);
    assert_eq!(n[0].race_id, "nascar-9002");
    assert!(push(&mut c, &snap(60.0, 4, 1, &[], 1), 0).is_empty());
    assert_eq!(c.counters().snapshots_stale, 2);
    assert_eq!(c.counters().races, 2);
}

#[test]
fn a_pit_out_waits_for_its_pit_data_then_goes_out_without_it_and_never_twice() {
    let mut c = Converter::new(FeedConfig::default());
    push(&mut c, &snap(10.0, 1, 2, &[], 1), 1_000);
    let i = push(&mut c, &snap(20.0, 2, 2, &[(18.5, 0.0)], 1), 2_000);
    assert_eq!(kinds(&i), ["pit_in"]);
    assert_eq!(i[0].ts, START + 18_500);
    // Out of pit road: waits for the pit data.
    assert!(push(&mut c, &snap(60.0, 3, 2, &[(18.5, 57.25)], 1), 3_000).is_empty());
    assert!(c.tick(17_999).is_empty());
    let o = c.tick(18_000);
    assert_eq!(kinds(&o), ["pit_out"]);
    assert_eq!(o[0].ts, START + 57_250);
    assert!(matches!(
        o[0].kind,
        Kind::PitOut {
            tires: None,
            box_s: None,
            lap: Some(10),
            ..
        }
    ));
    // The pit data comes late: the stop is not emitted again.
    let pit = json!([{"vehicle_number": "5", "pit_in_race_time": 18.5, "pit_stop_duration": 12.3,
        "left_front_tire_changed": true, "left_rear_tire_changed": true,
        "right_front_tire_changed": true, "right_rear_tire_changed": true}]);
    assert!(push(&mut c, &pit, 20_000).is_empty());
    assert!(push(&mut c, &snap(70.0, 4, 2, &[(18.5, 57.25)], 1), 21_000).is_empty());
    assert!(c.finish().is_empty());
    assert_eq!(c.counters().pit_outs_without_data, 1);
}

#[test]
fn pit_data_in_time_gives_the_pit_out_its_tyres_and_box_time() {
    let mut c = Converter::new(FeedConfig::default());
    push(&mut c, &snap(10.0, 1, 2, &[(8.0, 0.0)], 1), 0);
    assert!(push(&mut c, &snap(40.0, 2, 2, &[(8.0, 38.0)], 1), 1_000).is_empty());
    // Pit data not yet timed (-1): still waiting.
    let untimed =
        json!([{"vehicle_number": "5", "pit_in_race_time": 8.0, "pit_stop_duration": -1}]);
    assert!(push(&mut c, &untimed, 5_000).is_empty());
    let timed = json!([{"vehicle_number": "5", "pit_in_race_time": 8.0, "pit_stop_duration": 9.1234,
        "left_front_tire_changed": false, "left_rear_tire_changed": false,
        "right_front_tire_changed": true, "right_rear_tire_changed": true}]);
    let o = push(&mut c, &timed, 6_000);
    assert_eq!(kinds(&o), ["pit_out"]);
    assert!(
        o[0].to_json()
            .ends_with(r#""lap":10,"fuel_added_gal":null,"full":null,"tires":2,"box_s":9.123}"#),
        "{}",
        o[0].to_json()
    );
    assert_eq!(c.counters().pit_outs_with_data, 1);
}

#[test]
fn a_car_out_comes_once_after_its_own_waiting_pit_out() {
    let mut c = Converter::new(FeedConfig::default());
    push(&mut c, &snap(10.0, 1, 1, &[], 1), 0);
    let mut s = snap(30.0, 2, 1, &[], 3);
    s["vehicles"][1]["pit_stops"] =
        json!([{"pit_in_elapsed_time": 25.0, "pit_out_elapsed_time": 29.5}]);
    let e = push(&mut c, &s, 0);
    assert_eq!(kinds(&e), ["pit_in", "pit_out", "car_out"]);
    // Stamped with the last time the feed saw the car: the end of its stop.
    assert_eq!(e[2].ts, START + 29_500);
    // Still out in later snapshots, or back running: nothing more of it.
    assert!(push(&mut c, &snap(40.0, 3, 1, &[], 3), 0).is_empty());
    assert!(push(&mut c, &snap(50.0, 4, 1, &[], 1), 0).is_empty());
    assert_eq!(c.counters().events["car_out"], 1);
}

#[test]
fn an_unknown_flag_code_is_reported_not_guessed() {
    let mut c = Converter::new(FeedConfig::default());
    push(&mut c, &snap(10.0, 1, 1, &[], 1), 0);
    c.take_reports();
    assert!(push(&mut c, &snap(20.0, 99, 5, &[], 1), 0).is_empty());
    assert!(push(&mut c, &snap(25.0, 99, 5, &[], 1), 0).is_empty());
    let reports = c.take_reports();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(reports[0].contains("unknown flag code 5"), "{reports:?}");
    assert_eq!(c.counters().unknown_flag_codes[&5], 2);
    // The flag in force did not change: yellow is a change from green.
    assert_eq!(
        kinds(&push(&mut c, &snap(30.0, 99, 2, &[], 1), 0)),
        ["flag"]
    );
    // An unknown status is reported too, and the car stays in the race.
    assert!(push(&mut c, &snap(35.0, 99, 2, &[], 6), 0).is_empty());
    assert_eq!(c.counters().unknown_status_codes[&6], 1);
}

#[test]
fn a_malformed_file_is_counted_with_its_reason_and_the_next_one_is_read() {
    let mut c = Converter::new(FeedConfig::default());
    assert!(c.push_file(b"{\"race_id\":", 0).is_empty());
    let mut bad = snap(10.0, 1, 1, &[], 1);
    bad["elapsed_time"] = json!("ten");
    assert!(push(&mut c, &bad, 0).is_empty());
    let mut no_time = snap(10.0, 1, 1, &[], 1);
    no_time.as_object_mut().unwrap().remove("time_of_day_os");
    assert!(push(&mut c, &no_time, 0).is_empty());
    assert_eq!(
        c.counters().malformed,
        [("bad_field", 1), ("no_time_of_day", 1), ("not_json", 1)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    );
    assert_eq!(c.take_reports().len(), 3);
    assert_eq!(
        kinds(&push(&mut c, &snap(10.0, 1, 1, &[], 1), 0)),
        ["race_start", "flag"]
    );
}

#[test]
fn an_unknown_track_runs_on_the_defaults_and_is_counted() {
    let mut c = Converter::new(FeedConfig::default());
    let mut s = snap(10.0, 1, 1, &[], 1);
    s["track_id"] = json!(777);
    s["track_name"] = json!("Nowhere Park");
    s["track_length"] = json!(0.9);
    let e = push(&mut c, &s, 0);
    let Kind::RaceStart {
        track,
        track_length_mi,
        ..
    } = &e[0].kind
    else {
        panic!()
    };
    assert_eq!(
        (track.as_str(), *track_length_mi),
        ("nowhere-park", Some(0.9))
    );
    assert_eq!(c.counters().unknown_tracks, 1);
    assert!(c.take_reports()[0].contains("not in the track table"));
}

#[test]
fn stage_ends_come_once_from_the_snapshots_stage_number() {
    let mut c = Converter::new(FeedConfig::default());
    push(&mut c, &snap(10.0, 1, 1, &[], 1), 0);
    let mut s = snap(700.0, 33, 1, &[], 1);
    s["stage"] = json!({"stage_num": 2, "finish_at_lap": 65, "laps_in_stage": 35});
    let e = push(&mut c, &s, 0);
    assert_eq!(kinds(&e), ["stage_end"]);
    assert!(matches!(
        e[0].kind,
        Kind::StageEnd {
            stage: 1,
            lap: Some(30)
        }
    ));
    assert!(push(&mut c, &s, 0).is_empty());
}
