//! What closes a window besides the watermark: a silent car, a `car_out`, a second
//! `race_start`.

use super::*;

// ---------------------------------------------------------------------------------------
// A silent car.

#[test]
fn a_silent_car_closes_when_the_race_passes_its_window_end_by_60_s() {
    // Car 1 sends 0 → 2 s and goes silent; car 2 sends 0 → 65 s.
    let mut lines = vec![race_start(T0, "s", "")];
    for ts in ticks(T0, T0 + 65_000) {
        if ts <= T0 + 2_000 {
            lines.push(wot("1", ts));
        }
        lines.push(wot("2", ts));
    }
    // After the silent close, a car-1 sample of its closed window is late.
    lines.push(wot("1", T0 + 4_000));
    let r = run(&lines);
    let at_64_9 = index_of(&lines, &wot("2", T0 + 64_900));
    let at_65 = index_of(&lines, &wot("2", T0 + 65_000));
    assert!(
        r.steps[..=at_64_9]
            .iter()
            .flatten()
            .all(|u| u.car.as_str() != "1"),
        "car 1's window 0 ends at 5 s: still open while the race is at 64.9 s"
    );
    // At 65 s the race's newest ts is 60 s past car 1's window end: it closes, in the
    // same step as car 2's window [55, 60) (watermark 60 s), ordered by window_end.
    assert_eq!(
        Run::keys(&r.steps[at_65]),
        [
            ("s".into(), "1".into(), T0),
            ("s".into(), "2".into(), T0 + 55_000),
        ]
    );
    // 21 samples, 0 → 2 s, the last held 1 s: 3 s at 48.2 gal/h.
    let c1 = r.car("1");
    assert_eq!(c1.len(), 1);
    let used = gal(WOT_GPH, 3.0);
    check(
        &c1[0],
        &Want {
            window_start: T0,
            samples: 21,
            burn: used,
            used_stint: used,
            used_race: used,
            remaining: 20.0 - used,
            half: half_band(0.0, used),
        },
    );
    assert_eq!(r.counters().late_samples, 1);
}

// ---------------------------------------------------------------------------------------
// car_out.

#[test]
fn car_out_closes_the_open_windows_at_once_and_later_samples_are_late() {
    let mut lines = vec![race_start(T0, "o", r#","cars":["1","2"]"#)];
    for ts in ticks(T0, T0 + 9_000) {
        if ts <= T0 + 7_000 {
            lines.push(wot("1", ts));
        }
        lines.push(wot("2", ts));
    }
    lines.push(car_out(T0 + 9_000, "1"));
    let out_at = lines.len() - 1;
    for ts in ticks(T0 + 9_100, T0 + 14_900) {
        lines.push(wot("1", ts));
        lines.push(wot("2", ts));
    }
    let r = run(&lines);
    // Car 1's watermark was at 2 s: both its windows were open. car_out closes them.
    assert_eq!(
        Run::keys(&r.steps[out_at]),
        [
            ("o".into(), "1".into(), T0),
            ("o".into(), "1".into(), T0 + 5_000),
        ]
    );
    let c1 = r.car("1");
    assert_eq!(c1.len(), 2, "no update after car_out");
    let w0 = gal(WOT_GPH, 5.0);
    // Window 1: 21 samples, 5 → 7 s, the last held 1 s: 3 s.
    let w1 = gal(WOT_GPH, 3.0);
    for (u, (ws, samples, used)) in c1.iter().zip([(T0, 50, w0), (T0 + 5_000, 21, w0 + w1)]) {
        check(
            u,
            &Want {
                window_start: ws,
                samples,
                burn: if ws == T0 { w0 } else { w1 },
                used_stint: used,
                used_race: used,
                remaining: 20.0 - used,
                half: half_band(0.0, used),
            },
        );
    }
    assert_eq!(
        r.counters().late_samples,
        59,
        "car 1 sent 9.1 → 14.9 s after car_out"
    );
    assert_eq!(r.car("2").len(), 3);
    let state = r.engine.race_state("o").unwrap();
    assert_eq!((state.cars_running, state.ts), (1, T0 + 9_000));
}

// ---------------------------------------------------------------------------------------
// A second race_start.

#[test]
fn a_new_race_closes_every_open_window_of_the_race_before() {
    let mut lines = vec![race_start(T0, "a", "")];
    lines.extend(ticks(T0, T0 + 7_000).map(|ts| wot("1", ts)));
    let b_at = lines.len();
    lines.push(format!(
        r#"{{"v":1,"kind":"race_start","ts":{},"race_id":"b","track":"michigan"}}"#,
        T0 + 8_000
    ));
    // Samples without race_id now belong to race b.
    lines.extend(ticks(T0 + 8_000, T0 + 9_900).map(|ts| wot("1", ts)));
    let r = run(&lines);
    assert_eq!(
        Run::keys(&r.steps[b_at]),
        [
            ("a".into(), "1".into(), T0),
            ("a".into(), "1".into(), T0 + 5_000),
        ]
    );
    // Race a: 5 s, then 5 → 7 s + 1 s hold = 3 s.
    let a: Vec<&FuelUpdate> = r.updates().filter(|u| u.race_id == "a").collect();
    assert_eq!(a.len(), 2);
    approx(&wire(a[1]), "used_race_gal", gal(WOT_GPH, 8.0));
    // Race b starts with a full cell: 8 → 9.9 s + 0.1 s = 2 s in window [5, 10).
    let b: Vec<Value> = r.updates().filter(|u| u.race_id == "b").map(wire).collect();
    assert_eq!(b.len(), 1);
    let used = gal(WOT_GPH, 2.0);
    check(
        &b[0],
        &Want {
            window_start: T0 + 5_000,
            samples: 20,
            burn: used,
            used_stint: used,
            used_race: used,
            remaining: 20.0 - used,
            half: half_band(0.0, used),
        },
    );
    assert_eq!(r.engine.race_ids().collect::<Vec<_>>(), ["a", "b"]);
}
