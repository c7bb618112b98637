//! Pit stops and flags, race-control events that arrive late, and fills of unknown
//! amount.

use super::*;

// ---------------------------------------------------------------------------------------
// Pit stops and flags.

#[test]
fn a_pit_stop_fills_by_weight_or_full() {
    // Cars 1, 2, 3 alike: wide open 0 → 9.9 s; pit_in at 10 s; on pit road, throttle
    // closed at 1500 rpm (1 gal/h), 10 → 11.9 s; pit_out at 12 s; wide open 12 → 19.9 s.
    // Car 1 gets 0.1 gal by weight, car 2 `full: true`, car 3 5 gal by weight (capped).
    let mut lines = vec![race_start(T0, "p", ""), flag(T0, "green")];
    for ts in ticks(T0, T0 + 19_900) {
        if ts == T0 + 10_000 {
            for car in ["1", "2", "3"] {
                lines.push(pit_in(ts, car));
            }
        }
        if ts == T0 + 12_000 {
            lines.push(pit_out(ts, "1", r#","lap":0,"fuel_added_gal":0.1"#));
            lines.push(pit_out(ts, "2", r#","fuel_added_gal":null,"full":true"#));
            lines.push(pit_out(ts, "3", r#","fuel_added_gal":5,"full":null"#));
        }
        for car in ["1", "2", "3"] {
            if (T0 + 10_000..T0 + 12_000).contains(&ts) {
                lines.push(idle_in_pit(car, ts, 0.0));
            } else {
                lines.push(wot(car, ts));
            }
        }
    }
    let r = run(&lines);
    assert!(r.rejects.is_empty(), "{:?}", r.rejects);

    let w = gal(WOT_GPH, 5.0); // a full window at 48.2 gal/h
    // At pit_in (10 s) the stint has burned 2 windows; the cell holds 20 − 2w with a
    // variance (0.04 × 2w)².
    let at_pit_in = 20.0 - 2.0 * w;
    let var_pit_in = (BURN_REL_SD * 2.0 * w).powi(2);
    // Window 2 [10, 15): 2 s at 1 gal/h on pit road, then 3 s at 48.2 after pit_out.
    let w2 = gal(IDLE_GPH, 2.0) + gal(WOT_GPH, 3.0);
    // The new stint counts only fuel after the pit_out ts: 3 s at 48.2.
    let stint2 = gal(WOT_GPH, 3.0);
    let race2 = 2.0 * w + w2;

    // Car 1: the cell holds what it held at pit_in plus the weighed 0.1 gal; its doubt
    // is that of the level at pit_in.
    // Car 2: full (20 gal, no doubt). Car 3: 20 − 2w + 5 > 20 by far more than the
    // doubt, so capped at 20 and full.
    for (car, level, var) in [
        ("1", at_pit_in + 0.1, var_pit_in),
        ("2", 20.0, 0.0),
        ("3", 20.0, 0.0),
    ] {
        let u = r.car(car);
        assert_eq!(u.len(), 4, "car {car}");
        check(
            &u[1],
            &Want {
                window_start: T0 + 5_000,
                samples: 50,
                burn: w,
                used_stint: 2.0 * w,
                used_race: 2.0 * w,
                remaining: at_pit_in,
                half: half_band(0.0, 2.0 * w),
            },
        );
        check(
            &u[2],
            &Want {
                window_start: T0 + 10_000,
                samples: 50,
                burn: w2,
                used_stint: stint2,
                used_race: race2,
                remaining: level - stint2,
                half: half_band(var, stint2),
            },
        );
        check(
            &u[3],
            &Want {
                window_start: T0 + 15_000,
                samples: 50,
                burn: w,
                used_stint: stint2 + w,
                used_race: race2 + w,
                remaining: level - stint2 - w,
                half: half_band(var, stint2 + w),
            },
        );
        assert_eq!(
            flags_and_modes(&u),
            [
                ("green".into(), "normal".into(), false),
                ("green".into(), "normal".into(), false),
                ("green".into(), "pit".into(), true),
                ("green".into(), "normal".into(), false),
            ],
            "car {car}"
        );
    }
}

#[test]
fn the_flag_is_the_one_with_the_largest_share_and_a_tie_goes_to_the_later() {
    // Window 0: green. Window 1 [5, 10): green 5 → 7, yellow 7 → 10: yellow (3 s > 2 s).
    // Window 2 [10, 15): yellow 10 → 12.5, green 12.5 → 15: a tie, the later is green.
    // Window 3 [15, 20): green 15 → 17.5, yellow 17.5 → 20: a tie, the later is yellow.
    let mut lines = vec![race_start(T0, "f", "")];
    for ts in ticks(T0, T0 + 19_900) {
        match ts - T0 {
            0 => lines.push(flag(ts, "green")),
            7_000 => lines.push(flag(ts, "yellow")),
            12_500 => lines.push(flag(ts, "green")),
            17_500 => lines.push(flag(ts, "yellow")),
            _ => {}
        }
        lines.push(wot("1", ts));
    }
    let r = run(&lines);
    let u = r.car("1");
    assert_eq!(
        flags_and_modes(&u),
        [
            ("green".into(), "normal".into(), false),
            ("yellow".into(), "caution".into(), false),
            ("green".into(), "normal".into(), false),
            ("yellow".into(), "caution".into(), false),
        ]
    );
    // Flags do not change the burn: every window is 5 s at 48.2 gal/h.
    for (k, w) in u.iter().enumerate() {
        approx(w, "burn_gal", gal(WOT_GPH, 5.0));
        approx(w, "used_race_gal", gal(WOT_GPH, 5.0 * (k + 1) as f64));
        assert!(w["burn_index"].is_null());
    }
    let state = r.engine.race_state("f").unwrap();
    assert_eq!(state.flag.as_str(), "yellow");
    assert_eq!(state.ts, T0 + 17_500);
}

// ---------------------------------------------------------------------------------------
// Late race-control events.

#[test]
fn a_late_event_applies_from_the_first_open_window_and_is_counted_once() {
    // Cars 1 and 2 wide open 0 → 10 s: window 0 closes for both. Then a yellow of 3 s
    // and a pit_in of car 2 at 2 s arrive: both are late for window 0, which stays as
    // published; they act from 5 s (each car's first open window). Car 2 leaves the pits
    // at 12 s, full, on time.
    let mut lines = vec![race_start(T0, "l", ""), flag(T0, "green")];
    for ts in ticks(T0, T0 + 10_000) {
        lines.push(wot("1", ts));
        lines.push(wot("2", ts));
    }
    lines.push(flag(T0 + 3_000, "yellow"));
    lines.push(pit_in(T0 + 2_000, "2"));
    for ts in ticks(T0 + 10_100, T0 + 14_900) {
        if ts == T0 + 12_000 {
            lines.push(pit_out(ts, "2", r#","full":true"#));
        }
        lines.push(wot("1", ts));
        lines.push(wot("2", ts));
    }
    let r = run(&lines);
    assert_eq!(
        r.counters().late_events,
        2,
        "the yellow is late for two cars but counted once; the pit_in once"
    );
    let c1 = r.car("1");
    assert_eq!(
        flags_and_modes(&c1),
        [
            ("green".into(), "normal".into(), false),
            ("yellow".into(), "caution".into(), false),
            ("yellow".into(), "caution".into(), false),
        ]
    );
    let c2 = r.car("2");
    assert_eq!(
        flags_and_modes(&c2),
        [
            ("green".into(), "normal".into(), false),
            ("yellow".into(), "pit".into(), true),
            ("yellow".into(), "pit".into(), true),
        ]
    );
    // Car 2: the full fill at 12 s starts a new stint of 3 s at 48.2.
    let w = gal(WOT_GPH, 5.0);
    let stint = gal(WOT_GPH, 3.0);
    check(
        &c2[2],
        &Want {
            window_start: T0 + 10_000,
            samples: 50,
            burn: w,
            used_stint: stint,
            used_race: 3.0 * w,
            remaining: 20.0 - stint,
            half: half_band(0.0, stint),
        },
    );
    let state = r.engine.race_state("l").unwrap();
    assert_eq!((state.flag.as_str(), state.ts), ("yellow", T0 + 3_000));
}

#[test]
fn an_on_time_event_after_a_car_out_is_not_late() {
    // Car 1 retires at 7 s (its window [5, 10) closes at once); car 2 runs on. A yellow at
    // 8 s arrives on time: car 2's window [5, 10) is open and gets it. For car 1 it changes
    // nothing (it left the race before 8 s and gets no more updates), so no window it
    // would change has closed: the event is not late (telemetry-v1, "Event time").
    let mut lines = vec![race_start(T0, "l", ""), flag(T0, "green")];
    for ts in ticks(T0, T0 + 14_900) {
        if ts == T0 + 7_000 {
            lines.push(car_out(ts, "1"));
        }
        if ts == T0 + 8_000 {
            lines.push(flag(ts, "yellow"));
        }
        if ts < T0 + 7_000 {
            lines.push(wot("1", ts));
        }
        lines.push(wot("2", ts));
    }
    let r = run(&lines);
    assert_eq!(r.car("1").len(), 2);
    let c2 = r.car("2");
    assert_eq!(
        flags_and_modes(&c2),
        [
            ("green".into(), "normal".into(), false),
            ("green".into(), "normal".into(), false), // green 5 → 8, yellow 8 → 10
            ("yellow".into(), "caution".into(), false),
        ]
    );
    assert_eq!(r.counters().late_events, 0, "no event arrived late");
}

// ---------------------------------------------------------------------------------------
// Fills of unknown amount.

#[test]
fn a_fill_of_unknown_amount_is_estimated_from_standing_time() {
    // Cars 1 and 2: wide open 0 → 19.9 s, pit_in at 20 s, then on pit road with the
    // throttle closed at 1500 rpm (1 gal/h):
    // - car 1 stands (0 mph) at 20.0 s, rolls (20 mph) at 20.1 s, pit_out at 20.2 s: it
    //   stood 0.1 s (the 20.0 s sample held to the next), 0.1 × 1.5 = 0.15 gal;
    // - car 2 stands 20.0 → 22.9 s, rolls at 23.0 s, pit_out at 23.1 s: it stood 3 s,
    //   3 × 1.5 = 4.5 gal, more than the cell takes: full.
    // Both pit_outs carry neither amount nor `full: true`. Then wide open to 29.9 s.
    let mut lines = vec![race_start(T0, "u", ""), flag(T0, "green")];
    for ts in ticks(T0, T0 + 29_900) {
        let ms = ts - T0;
        if ms == 20_000 {
            lines.push(pit_in(ts, "1"));
            lines.push(pit_in(ts, "2"));
        }
        if ms == 20_200 {
            lines.push(pit_out(ts, "1", r#","fuel_added_gal":null,"full":null"#));
        }
        if ms == 23_100 {
            lines.push(pit_out(ts, "2", r#","fuel_added_gal":null,"full":null"#));
        }
        lines.push(match ms {
            20_000 => idle_in_pit("1", ts, 0.0),
            20_100 => idle_in_pit("1", ts, 20.0),
            _ => wot("1", ts),
        });
        lines.push(match ms {
            20_000..=22_900 => idle_in_pit("2", ts, 0.0),
            23_000 => idle_in_pit("2", ts, 20.0),
            _ => wot("2", ts),
        });
    }
    let r = run(&lines);
    assert!(r.rejects.is_empty(), "{:?}", r.rejects);

    // At pit_in both have burned 20 s at 48.2: the cell holds 20 − u0, σ² = (0.04 u0)².
    let u0 = gal(WOT_GPH, 20.0);
    let var0 = (BURN_REL_SD * u0).powi(2);

    // Car 1: level = 20 − u0 + 0.15 (below 20); σ² = var0 + (0.1 × 0.15)².
    let est1 = 0.1 * FILL_RATE_GPS;
    let var1 = var0 + (FILL_REL_SD * est1).powi(2);
    // Window 4 [20, 25): 0.2 s at 1 gal/h on pit road + 4.8 s at 48.2 after pit_out.
    let stint1 = gal(WOT_GPH, 4.8);
    let c1 = r.car("1");
    assert_eq!(c1.len(), 6);
    check(
        &c1[3],
        &Want {
            window_start: T0 + 15_000,
            samples: 50,
            burn: gal(WOT_GPH, 5.0),
            used_stint: u0,
            used_race: u0,
            remaining: 20.0 - u0,
            half: half_band(0.0, u0),
        },
    );
    check(
        &c1[4],
        &Want {
            window_start: T0 + 20_000,
            samples: 50,
            burn: gal(IDLE_GPH, 0.2) + stint1,
            used_stint: stint1,
            used_race: u0 + gal(IDLE_GPH, 0.2) + stint1,
            remaining: 20.0 - u0 + est1 - stint1,
            half: half_band(var1, stint1),
        },
    );
    let width = |u: &Value| {
        u["remaining_high_gal"].as_f64().unwrap() - u["remaining_low_gal"].as_f64().unwrap()
    };
    assert!(
        width(&c1[4]) > width(&c1[3]) + 0.02,
        "the band widens by the estimate's doubt: {} then {}",
        width(&c1[3]),
        width(&c1[4])
    );

    // Car 2: 20 − u0 + 4.5 is far above 20: capped at the capacity, a full cell.
    // Window 4: 3.1 s at 1 gal/h on pit road + 1.9 s at 48.2 after pit_out.
    let stint2 = gal(WOT_GPH, 1.9);
    let c2 = r.car("2");
    assert_eq!(c2.len(), 6);
    check(
        &c2[4],
        &Want {
            window_start: T0 + 20_000,
            samples: 50,
            burn: gal(IDLE_GPH, 3.1) + stint2,
            used_stint: stint2,
            used_race: u0 + gal(IDLE_GPH, 3.1) + stint2,
            remaining: 20.0 - stint2,
            half: half_band(0.0, stint2),
        },
    );
    check(
        &c2[5],
        &Want {
            window_start: T0 + 25_000,
            samples: 50,
            burn: gal(WOT_GPH, 5.0),
            used_stint: stint2 + gal(WOT_GPH, 5.0),
            used_race: u0 + gal(IDLE_GPH, 3.1) + stint2 + gal(WOT_GPH, 5.0),
            remaining: 20.0 - stint2 - gal(WOT_GPH, 5.0),
            half: half_band(0.0, stint2 + gal(WOT_GPH, 5.0)),
        },
    );
    for u in [&c1[4], &c2[4]] {
        assert_eq!((&u["in_pit"], &u["mode"]), (&true.into(), &"pit".into()));
    }
}
