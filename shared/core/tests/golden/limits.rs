//! Records refused for their time or for the size of the field: `ts_in_future`, a
//! race-control event 72 h after the race start, the 201st car.

use super::*;

// ---------------------------------------------------------------------------------------
// ts_in_future.

#[test]
fn a_sample_far_in_the_future_is_rejected_and_the_rest_goes_on() {
    let base = on_time_lines();
    let mut lines = base.clone();
    let at = index_of(&lines, &wot_lap("19", T0 + 5_000));
    // The race's newest ts is T0+5 s: 65.001 s is 60.001 s past it; 70 s for another car.
    lines.insert(
        at + 1,
        format!(r#"{{"v":1,"car":"19","ts":{},"rpm":8000}}"#, T0 + 65_001),
    );
    lines.insert(
        at + 2,
        format!(r#"{{"v":1,"car":"20","ts":{},"rpm":8000}}"#, T0 + 70_000),
    );
    let r = run(&lines);
    assert_eq!(r.rejects.len(), 2);
    for (i, rej) in &r.rejects {
        assert!(*i == at + 1 || *i == at + 2);
        assert_eq!((rej.code, rej.field), (RejectCode::TsInFuture, Some("ts")));
    }
    assert_eq!(r.lines(), ON_TIME, "the records around it go on");
    let c = r.counters();
    assert_eq!((c.records, c.samples, c.rejected), (154, 150, 2));
    assert_eq!(c.rejected_by.get("ts_in_future"), Some(&2));
    assert_eq!(r.engine.cars(), 1, "a rejected record creates no car");
}

#[test]
fn a_sample_exactly_60_s_ahead_is_accepted() {
    let mut lines = vec![race_start(T0, "g", "")];
    lines.extend(ticks(T0, T0 + 5_000).map(|ts| wot("19", ts)));
    lines.push(wot("19", T0 + 65_000));
    let r = run(&lines);
    assert!(r.rejects.is_empty(), "{:?}", r.rejects);
}

#[test]
fn the_race_start_counts_as_the_newest_ts_of_its_race() {
    // telemetry-v1, rule 1: "A sample whose ts is more than 60 s past the largest ts seen
    // so far in its race (samples and race-control events) is rejected as ts_in_future."
    // The race_start is a race-control event of race r.
    let lines = vec![
        race_start(T0, "r", ""),
        format!(r#"{{"v":1,"car":"1","ts":{},"rpm":8000}}"#, T0 + 60_001),
    ];
    let r = run(&lines);
    let codes: Vec<_> = r.rejects.iter().map(|(i, rej)| (*i, rej.code)).collect();
    assert_eq!(codes, [(1, RejectCode::TsInFuture)]);
}

#[test]
fn a_race_takes_at_most_200_cars_and_the_rest_of_the_field_goes_on() {
    let mut lines = vec![race_start(T0, "m", "")];
    for c in 0..201 {
        lines.push(wot(&c.to_string(), T0 + 100));
    }
    // A pit stop of a further car is refused the same way.
    lines.push(pit_in(T0 + 200, "Z9"));
    for c in 0..201 {
        lines.push(wot(&c.to_string(), T0 + 12_000));
    }
    let r = run(&lines);
    let refused: Vec<(usize, RejectCode, Option<&str>)> = r
        .rejects
        .iter()
        .map(|(i, rej)| (*i, rej.code, rej.field))
        .collect();
    assert_eq!(
        refused,
        [
            (201, RejectCode::TooManyCars, Some("car")),
            (202, RejectCode::TooManyCars, Some("car")),
            (403, RejectCode::TooManyCars, Some("car")),
        ]
    );
    assert_eq!(r.counters().rejected_by["too_many_cars"], 3);
    // The 200 cars run on: each closed its first window.
    assert_eq!(r.engine.cars(), 200);
    let cars: std::collections::BTreeSet<_> = r.updates().map(|u| u.car).collect();
    assert_eq!(cars.len(), 200);
}

#[test]
fn a_race_control_event_72_h_after_the_race_start_is_refused() {
    let lines = vec![
        race_start(T0, "h", ""),
        flag(T0 + 72 * 3_600_000, "yellow"),
        flag(T0 + 72 * 3_600_000 + 1, "red"),
    ];
    let r = run(&lines);
    let refused: Vec<_> = r.rejects.iter().map(|(i, rej)| (*i, rej.code)).collect();
    assert_eq!(refused, [(2, RejectCode::TsInFuture)]);
    let s = r.engine.race_state("h").unwrap();
    assert_eq!((s.flag.as_str(), s.ts), ("yellow", T0 + 72 * 3_600_000));
}
