//! Windows published on time, late samples, window edges, duplicates, channels split
//! across records and the miles of a window.

use super::*;

#[test]
fn on_time_windows_publish_the_exact_lines() {
    let lines = on_time_lines();
    let r = run(&lines);
    assert!(r.rejects.is_empty(), "{:?}", r.rejects);
    // Window 0 closes when the car's watermark (max ts − 5 s) reaches its end, T0+5 s:
    // at the sample of T0+10 s, and not one sample earlier.
    let closes_w0 = index_of(&lines, &wot_lap("19", T0 + 10_000));
    for (i, step) in r.steps.iter().enumerate() {
        if i == closes_w0 {
            assert_eq!(step.iter().map(text).collect::<Vec<_>>(), [ON_TIME[0]]);
        } else {
            assert!(step.is_empty(), "line {i} published {step:?}");
        }
    }
    // The rest close at the end of the input.
    assert_eq!(r.tail.iter().map(text).collect::<Vec<_>>(), ON_TIME[1..]);
    assert_eq!(
        *r.counters(),
        Counters {
            records: 152,
            samples: 150,
            events: 2,
            windows_closed: 3,
            ..Counters::default()
        }
    );
    let state = r.engine.race_state("g").expect("race g exists");
    assert_eq!(state.track, "pocono");
    assert_eq!(state.ts, T0);
    assert_eq!(state.cars_running, 1);
    assert!((state.leader_lap - 0.298).abs() < 1e-6);
}

// ---------------------------------------------------------------------------------------
// Late.

#[test]
fn a_sample_for_a_closed_window_is_dropped_and_counted() {
    let base = on_time_lines();
    let closes_w0 = index_of(&base, &wot_lap("19", T0 + 10_000));
    let mut late = base.clone();
    // Window 0 closed at the line before: this sample would change its burn (throttle 0),
    // but it is late and changes nothing.
    late.insert(
        closes_w0 + 1,
        format!(
            r#"{{"v":1,"car":"19","ts":{},"throttle_pct":0,"rpm":4000,"speed_mph":0}}"#,
            T0 + 4_950
        ),
    );
    let r = run(&late);
    assert_eq!(r.lines(), ON_TIME);
    assert!(r.rejects.is_empty());
    let c = r.counters();
    assert_eq!((c.late_samples, c.samples, c.records), (1, 151, 153));
    assert_eq!((c.duplicates, c.merged), (0, 0));
}

#[test]
fn a_sample_behind_but_within_the_lateness_is_not_late() {
    // T0+7 s arrives after T0+10 s: window 1 is still open (the watermark is at T0+5 s).
    let mut lines = on_time_lines();
    let moved = wot_lap("19", T0 + 7_000);
    let at = index_of(&lines, &moved);
    lines.remove(at);
    let after = index_of(&lines, &wot_lap("19", T0 + 10_000));
    lines.insert(after + 1, moved);
    let r = run(&lines);
    assert_eq!(r.lines(), ON_TIME);
    assert_eq!(r.counters().late_samples, 0);
}

// ---------------------------------------------------------------------------------------
// Window edges.

#[test]
fn window_edges_belong_to_the_window_that_starts_there() {
    // Car 7: samples at 0, 4.999, 5.000, 9.999 and 10.000 s. Car 8: 4.5, 5.2 and 10 s.
    let s = |car: &str, ms: i64| wot(car, T0 + ms);
    let lines = vec![
        race_start(T0, "e", ""),
        s("7", 0),
        s("8", 4_500),
        s("7", 4_999),
        s("7", 5_000),
        s("8", 5_200),
        s("7", 9_999),
        s("7", 10_000),
        s("8", 10_000),
        // After window 0 of car 8 closed: 4.999 s is late, 5.000 s is window 1's.
        s("8", 4_999),
        s("8", 5_000),
    ];
    let r = run(&lines);
    assert!(r.rejects.is_empty(), "{:?}", r.rejects);
    // Car 7's watermark is 9.999 − 5 = 4.999 s: window 0 [0, 5) stays open; at 10.000 s
    // the watermark is exactly 5.000 s = window_end, and window 0 closes in that step.
    assert!(r.steps[6].is_empty());
    assert_eq!(
        Run::keys(&r.steps[7]),
        [("e".into(), "7".into(), T0)],
        "window 0 of car 7 closes exactly when max_ts − lateness = window_end"
    );
    assert_eq!(Run::keys(&r.steps[8]), [("e".into(), "8".into(), T0)]);
    assert!(r.steps[9].is_empty() && r.steps[10].is_empty());
    assert_eq!(r.counters().late_samples, 1);

    // Each sample's flow is held until the next sample, for at most 1 s, and an interval
    // that crosses an edge is split there.
    // Car 7, window 0: 0 → 1 s held, 4.999 → 5.000 (the edge) = 1.001 s; window 1:
    // 5.000 → 6.000, 9.999 → 10.000 = 1.001 s; window 2: 10.000 → 11.000 = 1 s.
    let b = |s: f64| gal(WOT_GPH, s);
    let c7 = r.car("7");
    assert_eq!(c7.len(), 3);
    let mut used = 0.0;
    for (u, (ws, samples, secs)) in c7.iter().zip([
        (T0, 2, 1.001),
        (T0 + 5_000, 2, 1.001),
        (T0 + 10_000, 1, 1.0),
    ]) {
        used += b(secs);
        check(
            u,
            &Want {
                window_start: ws,
                samples,
                burn: b(secs),
                used_stint: used,
                used_race: used,
                remaining: 20.0 - used,
                half: half_band(0.0, used),
            },
        );
    }
    // Car 8, window 0: 4.5 → 5.0 (the hold to 5.5 is cut at the edge) = 0.5 s.
    // Window 1: 5.000 → 5.200 (the sample at the edge), 5.2 → 6.2 = 1.2 s; its samples
    // are 5.000 and 5.200 (4.999 was late). Window 2: 10 → 11 = 1 s.
    let c8 = r.car("8");
    assert_eq!(c8.len(), 3);
    let mut used = 0.0;
    for (u, (ws, samples, secs)) in
        c8.iter()
            .zip([(T0, 1, 0.5), (T0 + 5_000, 2, 1.2), (T0 + 10_000, 1, 1.0)])
    {
        used += b(secs);
        check(
            u,
            &Want {
                window_start: ws,
                samples,
                burn: b(secs),
                used_stint: used,
                used_race: used,
                remaining: 20.0 - used,
                half: half_band(0.0, used),
            },
        );
    }
    // The end of the input closes the rest in order of window_end, then car.
    assert_eq!(
        Run::keys(&r.tail),
        [
            ("e".into(), "7".into(), T0 + 5_000),
            ("e".into(), "8".into(), T0 + 5_000),
            ("e".into(), "7".into(), T0 + 10_000),
            ("e".into(), "8".into(), T0 + 10_000),
        ]
    );
}

#[test]
fn one_step_is_ordered_by_window_end_then_car_bytes() {
    let mut lines = vec![race_start(T0, "o", "")];
    for ts in ticks(T0, T0 + 7_000) {
        for car in ["2", "10", "1"] {
            lines.push(wot(car, ts));
        }
    }
    let r = run(&lines);
    assert!(r.steps.iter().all(Vec::is_empty), "the watermark is at 2 s");
    let got: Vec<(String, i64)> = r
        .tail
        .iter()
        .map(|u| (u.car.to_string(), u.window_end - T0))
        .collect();
    let want: Vec<(String, i64)> = [
        ("1", 5_000),
        ("10", 5_000),
        ("2", 5_000),
        ("1", 10_000),
        ("10", 10_000),
        ("2", 10_000),
    ]
    .into_iter()
    .map(|(c, e)| (c.to_owned(), e))
    .collect();
    assert_eq!(got, want, "\"1\" < \"10\" < \"2\" in byte order");
}

// ---------------------------------------------------------------------------------------
// Duplicates.

#[test]
fn a_repeated_record_is_a_duplicate_and_changes_nothing() {
    let base = on_time_lines();
    let mut lines = Vec::new();
    for line in &base {
        lines.push(line.clone());
        // Every sample on a whole second is sent twice: 15 duplicates.
        let whole_second = (0..15).any(|k| *line == wot_lap("19", T0 + k * 1_000));
        if whole_second {
            lines.push(line.clone());
        }
    }
    // Re-sent later, while its window (1) is still open: a 16th duplicate.
    let after = index_of(&lines, &wot_lap("19", T0 + 10_000));
    lines.insert(after + 1, wot_lap("19", T0 + 6_000));
    // Re-sent after its window (0) closed: late, not a duplicate.
    lines.insert(after + 2, wot_lap("19", T0 + 2_000));
    // A race-control event re-sent.
    lines.push(flag(T0, "green"));
    let r = run(&lines);
    assert_eq!(r.lines(), ON_TIME);
    let c = r.counters();
    assert_eq!(
        (c.duplicates, c.merged, c.late_samples, c.duplicate_events),
        (16, 0, 1, 1)
    );
}

#[test]
fn a_repeated_key_with_other_values_keeps_the_first_and_merges_new_fields() {
    let mut lines = on_time_lines();
    // Same (car, ts) as the T0+2 s sample: rpm, throttle and speed differ (the first
    // values win) and `in_pit` is new (merged). Then the T0+3 s key again with only
    // fields it already has: nothing new, a duplicate, whatever the values.
    let at = index_of(&lines, &wot_lap("19", T0 + 2_000));
    lines.insert(
        at + 1,
        format!(
            r#"{{"v":1,"car":"19","ts":{},"throttle_pct":0,"rpm":4000,"speed_mph":0,"in_pit":true}}"#,
            T0 + 2_000
        ),
    );
    let at = index_of(&lines, &wot_lap("19", T0 + 3_000));
    lines.insert(
        at + 1,
        format!(
            r#"{{"v":1,"car":"19","ts":{},"throttle_pct":0,"rpm":4000}}"#,
            T0 + 3_000
        ),
    );
    let r = run(&lines);
    let c = r.counters();
    assert_eq!((c.merged, c.duplicates), (1, 1));
    let got = r.car("19");
    let want: Vec<Value> = ON_TIME
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Windows 1 and 2 are untouched.
    assert_eq!(got[1..], want[1..]);
    // Window 0: the same burn (first values), but the merged in_pit makes it a pit window.
    let mut w0 = want[0].clone();
    w0["in_pit"] = true.into();
    w0["mode"] = "pit".into();
    assert_eq!(got[0], w0);
}

// ---------------------------------------------------------------------------------------
// Channels split across records.

#[test]
fn channels_split_across_records_are_one_sample() {
    let head = || vec![race_start(T0, "g", ""), flag(T0, "green")];
    let mut engine_first = head();
    let mut tracking_first = head();
    for ts in ticks(T0, T0 + 14_900) {
        engine_first.push(engine_rec("19", ts));
        engine_first.push(tracking_rec("19", ts));
        tracking_first.push(tracking_rec("19", ts));
        tracking_first.push(engine_rec("19", ts));
    }
    for lines in [engine_first, tracking_first] {
        let r = run(&lines);
        assert_eq!(r.lines(), ON_TIME);
        let c = r.counters();
        assert_eq!((c.samples, c.merged, c.duplicates), (300, 150, 0));
    }
}

// ---------------------------------------------------------------------------------------
// Miles.

#[test]
fn miles_come_from_lap_progress_else_from_speed() {
    // Car 1 reports 100 mph but moves 0.002 lap per 100 ms (180 mph at Pocono); car 2
    // reports 100 mph and no position. Window 1 (every interval has a position before it):
    // car 1 drives 0.1 lap × 2.5 mi = 0.25 mi, car 2 100 mph × 5 s = 0.13889 mi.
    let mut lines = vec![race_start(T0, "m", "")];
    for ts in ticks(T0, T0 + 14_900) {
        let (lap, frac) = pos(ts);
        lines.push(format!(
            r#"{{"v":1,"car":"1","ts":{ts},"lap":{lap},"lap_frac":{frac},"speed_mph":100,"rpm":8000,"throttle_pct":100}}"#
        ));
        lines.push(format!(
            r#"{{"v":1,"car":"2","ts":{ts},"speed_mph":100,"rpm":8000,"throttle_pct":100}}"#
        ));
    }
    let r = run(&lines);
    let burn = gal(WOT_GPH, 5.0);
    let c1 = &r.car("1")[1];
    approx(c1, "miles", 0.1 * POCONO_MI);
    approx(c1, "mpg_window", 0.25 / burn);
    approx(c1, "lap", 0.198);
    let c2 = &r.car("2")[1];
    approx(c2, "miles", 100.0 * 5.0 / 3600.0);
    approx(c2, "mpg_window", 100.0 / WOT_GPH);
    assert_eq!(c2["lap"], 0.0, "no position: lap 0");
}
