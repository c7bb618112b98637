//! Green laps: mpg_lap, laps_to_empty, save_needed_pct, burn_index, mode.

use super::*;

/// A 0.25 mi track, 400 laps scheduled; cars 1, 2, 3 at throttle 100 % and 8000, 7000,
/// 9000 rpm, all at 180 mph: a lap every 5 s, 0.02 lap per 100 ms, the line crossed
/// exactly at each window's start.
fn short_track_lines(to_ms: i64) -> Vec<String> {
    let mut lines = vec![
        race_start(
            T0,
            "q",
            r#","track_length_mi":0.25,"scheduled_laps":400,"fuel_capacity_gal":20"#,
        ),
        flag(T0, "green"),
    ];
    for ts in ticks(T0, T0 + to_ms) {
        let ms = ts - T0;
        let (lap, frac) = (ms / 5_000, (ms % 5_000) as f64 / 5_000.0);
        for (car, rpm) in [("1", 8000), ("2", 7000), ("3", 9000)] {
            lines.push(format!(
                r#"{{"v":1,"car":"{car}","ts":{ts},"lap":{lap},"lap_frac":{frac},"speed_mph":180,"rpm":{rpm},"throttle_pct":100}}"#
            ));
        }
    }
    lines
}

#[test]
fn green_laps_give_mpg_lap_laps_to_empty_save_needed_and_burn_index() {
    let r = run(&short_track_lines(34_900));
    // Window [30, 35): every lap so far was green and burned gph × 5 s; the car has
    // burned 35 s; its last sample (34.9 s) is at lap 6.98, so 400 − 6.98 laps are left.
    // burn_index: each car's last green lap before 30 − 5 = 25 s, over the median of the
    // three figures (car 1's): gph / 48.2 for the same miles.
    for (car, rpm, mode) in [
        ("1", 8000.0, "normal"),
        ("2", 7000.0, "saving"),
        ("3", 9000.0, "pushing"),
    ] {
        let gph = wot_gph_at(rpm);
        let lap_gal = gal(gph, 5.0);
        let used = gal(gph, 35.0);
        let remaining = 20.0 - used;
        let u = &r.car(car)[6];
        assert_eq!(u["window_start"], T0 + 30_000);
        approx(u, "lap", 6.98);
        approx(u, "miles", 0.25);
        approx(u, "burn_gal", lap_gal);
        approx(u, "mpg_window", 0.25 / lap_gal);
        approx(u, "mpg_lap", 0.25 / lap_gal);
        approx(u, "mpg_stint", 7.0 * 0.25 / used);
        approx(u, "remaining_gal", remaining);
        approx(u, "laps_to_empty", remaining / lap_gal);
        // 400 − 6.98 laps at lap_gal is more than a 20 gal cell: before the final
        // window, where every car must stop again, no saving figure means anything.
        assert!((400.0 - 6.98) * lap_gal > 20.0);
        assert!(u["save_needed_pct"].is_null(), "car {car}: {u}");
        approx(u, "burn_index", gph / WOT_GPH);
        assert_eq!(u["mode"], mode, "car {car}: burn_index {}", u["burn_index"]);
    }
    assert!(
        (wot_gph_at(7000.0) / WOT_GPH) < 0.96 && (wot_gph_at(9000.0) / WOT_GPH) > 1.04,
        "the inputs straddle the saving and pushing thresholds"
    );
    // Before anyone has a green lap that ended before window_start − 5 s: null.
    for car in ["1", "2", "3"] {
        assert!(r.car(car)[0]["burn_index"].is_null());
    }
}

#[test]
fn the_first_lap_from_the_race_start_is_a_completed_lap() {
    // fuel-update-v1: mpg_lap is "over the car's last completed lap, whatever the flag;
    // null before its first". Every car is seen from the race start at lap 0, lap_frac 0
    // (a full cell, nothing burned), and completes lap 0 at 5 s: the window [5, 10) comes
    // after its first completed lap, which burned 5 s at its flow for 0.25 mi.
    let r = run(&short_track_lines(14_900));
    for (car, rpm) in [("1", 8000.0), ("2", 7000.0), ("3", 9000.0)] {
        let u = &r.car(car)[1];
        assert_eq!(u["window_start"], T0 + 5_000);
        let lap_gal = gal(wot_gph_at(rpm), 5.0);
        assert!(
            u["mpg_lap"].is_number(),
            "car {car}: lap 0 was completed at 5 s, mpg_lap is null: {u}"
        );
        approx(u, "mpg_lap", 0.25 / lap_gal);
        approx(u, "laps_to_empty", (20.0 - 2.0 * lap_gal) / lap_gal);
    }
}

#[test]
fn different_events_at_the_same_instant_all_count_and_a_repeat_does_not() {
    // Yellow then red at 7 s: red is in force from 7 s (it arrived later at the same ts),
    // so window 1 [5, 10) is red for 3 s of 5. Two stage ends at one instant move the stage
    // twice; the repeated red changes nothing and is counted as a duplicate event.
    let stage = |ts: i64, n: u32| format!(r#"{{"v":1,"kind":"stage_end","ts":{ts},"stage":{n}}}"#);
    let mut lines = vec![race_start(T0, "s", "")];
    for ts in ticks(T0, T0 + 14_900) {
        if ts == T0 + 7_000 {
            lines.push(flag(ts, "yellow"));
            lines.push(flag(ts, "red"));
            lines.push(flag(ts, "red"));
            lines.push(stage(ts, 1));
            lines.push(stage(ts, 2));
        }
        lines.push(wot("1", ts));
    }
    let r = run(&lines);
    let u = r.car("1");
    assert_eq!(u[1]["flag"], "red");
    let state = r.engine.race_state("s").unwrap();
    assert_eq!(state.flag.as_str(), "red");
    assert_eq!(state.stage, 3);
    assert_eq!(r.engine.counters().duplicate_events, 1);
    assert_eq!(r.engine.counters().events, 6);
}
