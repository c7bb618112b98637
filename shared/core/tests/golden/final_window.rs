//! The final fuel window: a full cell reaches the finish, and `save_needed_pct` says by
//! how much a car must save to get there.

use super::*;

/// A 0.25 mi track (a lap every 5 s) with a 5 gal cell and 80 laps scheduled: cars 1 and
/// 3 leave the line at T0 at 8000 and 9000 rpm; car 4, at 8000 rpm, leaves it one lap
/// (5 s) later and runs a lap down. `extra` lines are added after the samples of the
/// instant they name.
fn final_window_lines(to_ms: i64, extra: &[(i64, String)]) -> Vec<String> {
    let mut lines = vec![
        race_start(
            T0,
            "f",
            r#","track_length_mi":0.25,"scheduled_laps":80,"fuel_capacity_gal":5"#,
        ),
        flag(T0, "green"),
    ];
    for ts in ticks(T0, T0 + to_ms) {
        for (car, rpm, late) in [("1", 8000, 0), ("3", 9000, 0), ("4", 8000, 5_000)] {
            let ms = ts - T0 - late;
            if ms < 0 {
                continue;
            }
            let (lap, frac) = (ms / 5_000, (ms % 5_000) as f64 / 5_000.0);
            lines.push(format!(
                r#"{{"v":1,"car":"{car}","ts":{ts},"lap":{lap},"lap_frac":{frac},"speed_mph":180,"rpm":{rpm},"throttle_pct":100}}"#
            ));
        }
        lines.extend(
            extra
                .iter()
                .filter(|(t, _)| *t == ts)
                .map(|(_, l)| l.clone()),
        );
    }
    lines
}

#[test]
fn in_the_final_window_the_saving_is_counted_from_the_leaders_lap() {
    let r = run(&final_window_lines(34_900, &[]));
    // Window [30, 35), closed at the end of input: cars 1 and 3 at lap 6.98, car 4 at
    // 5.98. The leader's lap is 6.98, so 80 − 6.98 = 73.02 laps are left for everyone,
    // car 4 too: the race ends when the leader takes the flag.
    let left = 80.0 - 6.98;
    let lap_gal = gal(WOT_GPH, 5.0);
    assert!(left * lap_gal <= 5.0, "a full cell reaches the finish");
    for (car, seconds) in [("1", 35.0), ("4", 30.0)] {
        let u = &r.car(car).last().unwrap().clone();
        assert_eq!(u["window_start"], T0 + 30_000);
        let remaining = 5.0 - gal(WOT_GPH, seconds);
        let want = 100.0 * (1.0 - remaining / (left * lap_gal));
        assert!(want > 0.0);
        approx(u, "save_needed_pct", want);
    }
    // From its own lap car 4 would have been charged for one more lap.
    let own = 100.0 * (1.0 - (5.0 - gal(WOT_GPH, 30.0)) / ((80.0 - 5.98) * lap_gal));
    let got = r.car("4").last().unwrap()["save_needed_pct"]
        .as_f64()
        .unwrap();
    assert!(own - got > 0.5, "own lap {own}, leader's lap {got}");
    // Car 3 burns more a lap: 73.02 of its laps need more than the cell holds, so it is
    // not in its final window yet (it must stop again whatever it saves).
    let lap3 = gal(wot_gph_at(9000.0), 5.0);
    assert!(left * lap3 > 5.0);
    assert!(r.car("3").last().unwrap()["save_needed_pct"].is_null());

    // The race's view: the same leader's lap; the fuel window opens where a full cell
    // reaches the finish at the median of the three cars' fuel per green lap (car 1 and
    // car 4 burn alike, so the median is lap_gal); the call threshold rides along.
    let s = r.engine.race_state("f").unwrap();
    approx_f(s.leader_lap, 6.98);
    approx_f(s.laps_to_go.unwrap(), left);
    approx_f(s.fuel_window_lap.unwrap(), 80.0 - 5.0 / lap_gal);
    assert_eq!(s.cant_make_it_pct, 15.0);
}

#[test]
fn the_final_window_holds_until_the_next_pit_out_and_is_then_tested_again() {
    // Car 1 pushes from 30 s on (9000 rpm, 53.04 gal/h): its fuel per green lap climbs
    // from lap_gal to lap9 over its next three laps. It stops at 50 s for a full cell.
    let lap_gal = gal(WOT_GPH, 5.0);
    let lap9 = gal(wot_gph_at(9000.0), 5.0);
    let extra = [
        (T0 + 50_000, pit_in(T0 + 50_000, "1")),
        (
            T0 + 50_000,
            pit_out(T0 + 50_000, "1", r#","fuel_added_gal":0.8,"full":true"#),
        ),
    ];
    let lines: Vec<String> = final_window_lines(59_900, &extra)
        .into_iter()
        .map(|l| {
            let ts: i64 = serde_json::from_str::<Value>(&l).unwrap()["ts"]
                .as_i64()
                .unwrap();
            if l.contains(r#""car":"1","#) && l.contains("rpm") && ts >= T0 + 30_000 {
                l.replace(r#""rpm":8000"#, r#""rpm":9000"#)
            } else {
                l
            }
        })
        .collect();
    let r = run(&lines);
    let by_start = |ws: i64| {
        r.car("1")
            .into_iter()
            .find(|u| u["window_start"] == ws)
            .unwrap()
    };
    // Entered at [25, 30): 80 − 5.98 laps at lap_gal fit in 5 gal.
    assert!((80.0 - 5.98) * lap_gal <= 5.0);
    assert!(by_start(T0 + 20_000)["save_needed_pct"].is_null());
    assert!(!by_start(T0 + 25_000)["save_needed_pct"].is_null());
    // At [45, 50) a fresh test would say no (70.02 laps at lap9 need 5.16 gal), but the
    // car stays in its final window until it stops: the call stands.
    assert!((80.0 - 9.98) * lap9 > 5.0);
    let remaining = 5.0 - gal(WOT_GPH, 30.0) - gal(wot_gph_at(9000.0), 20.0);
    approx(
        &by_start(T0 + 45_000),
        "save_needed_pct",
        100.0 * (1.0 - remaining / ((80.0 - 9.98) * lap9)),
    );
    // After the pit_out the test is made again, and a full cell no longer reaches the
    // finish at lap9: no figure until it does.
    assert!((80.0 - 11.98) * lap9 > 5.0);
    for ws in [T0 + 50_000, T0 + 55_000] {
        assert!(by_start(ws)["save_needed_pct"].is_null(), "window {ws}");
    }
}

#[test]
fn one_sample_far_ahead_neither_ends_the_race_nor_silences_the_calls() {
    // At 30 s a stray sample puts car 9 on lap 79 of 80 (a bad transponder read).
    let stray = r#"{"v":1,"car":"9","ts":1750593630000,"lap":79,"lap_frac":0.5,"speed_mph":180,"rpm":8000,"throttle_pct":100}"#;
    let clean = run(&final_window_lines(34_900, &[]));
    let r = run(&final_window_lines(
        34_900,
        &[(T0 + 30_000, stray.to_string())],
    ));
    for car in ["1", "4"] {
        let (a, b) = (
            clean.car(car).last().unwrap().clone(),
            r.car(car).last().unwrap().clone(),
        );
        assert_eq!(a["save_needed_pct"], b["save_needed_pct"], "car {car}");
        assert!(
            b["save_needed_pct"].as_f64().unwrap() > 0.0,
            "car {car}: {b}"
        );
    }
    let s = r.engine.race_state("f").unwrap();
    approx_f(s.leader_lap, 6.98);
    approx_f(s.laps_to_go.unwrap(), 80.0 - 6.98);
}

#[test]
fn race_control_gives_the_leaders_lap_a_floor() {
    // A yellow at 32 s says the leader is on lap 10 (the telemetry lags, or the leader
    // sends none): laps left count from lap 10 from then on.
    let yellow = r#"{"v":1,"kind":"flag","ts":1750593632000,"flag":"yellow","lap":10}"#;
    let r = run(&final_window_lines(
        34_900,
        &[(T0 + 32_000, yellow.to_string())],
    ));
    let s = r.engine.race_state("f").unwrap();
    approx_f(s.leader_lap, 10.0);
    let u = r.car("1").last().unwrap().clone();
    // The throttle stays open under the yellow: the cell holds 5 − 35 s at WOT_GPH.
    let lap_gal = gal(WOT_GPH, 5.0);
    let remaining = 5.0 - gal(WOT_GPH, 35.0);
    approx(
        &u,
        "save_needed_pct",
        100.0 * (1.0 - remaining / (70.0 * lap_gal)),
    );
}

#[track_caller]
fn approx_f(got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 0.5e-4 + 1e-9,
        "got {got}, want {want:.6}"
    );
}
