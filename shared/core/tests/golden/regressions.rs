//! Regressions found in review: each input once broke the engine.

use super::*;

#[test]
fn a_ts_near_the_end_of_time_is_rejected_not_wrapped() {
    let lines = vec![
        r#"{"v":1,"car":"1","ts":9223372036854775000,"rpm":9000}"#.to_owned(),
        wot("1", T0),
    ];
    let r = run(&lines);
    assert_eq!(r.rejects.len(), 1);
    assert_eq!(r.rejects[0].1.code, RejectCode::OutOfRange);
    assert_eq!(r.rejects[0].1.field, Some("ts"));
    assert_eq!(r.car("1").len(), 1, "the next record goes on");
}

#[test]
fn the_pit_data_times_a_stop_and_one_no_longer_than_its_tyres_bounds_the_pour_only() {
    // Cars 1, 2, 3: wide open 0 → 899.9 s, pit_in at 900 s, standing still (0 mph, idle
    // at 1 gal/h) 900.0 → 902.9 s, rolling at 903.0 s, pit_out at 903.1 s, wide open
    // after. The telemetry measures 3 s in the box; the pit data says otherwise:
    // - car 1: no tyres, 4.0 s: the fuel's time, 4 × 1.5 = 6 gal;
    // - car 2: two tyres, 5.0 s, just what two take (5 s ± √(0.5² + 0.2²)): z = 0; a
    //   tenth of changes fumbled, 6 s ± 1: z = −1. So the fuel timed it at odds 1.5 · G
    //   / (1.5 · G + g · 7.5), with G = 0.9 · Φ(0) + 0.1 · Φ(−1) and g = 0.9 · φ(0) / σ
    //   + 0.1 · φ(−1);
    // - car 3: four tyres, 9.0 s: at most 13.5 gal, more than the room: full.
    let mut lines = vec![race_start(T0, "t", ""), flag(T0, "green")];
    let extra = [
        (r#","tires":0,"box_s":4.0"#, "1"),
        (r#","tires":2,"box_s":5.0"#, "2"),
        (r#","tires":4,"box_s":9.0"#, "3"),
    ];
    for ts in ticks(T0, T0 + 909_900) {
        let ms = ts - T0;
        for (x, car) in extra {
            if ms == 900_000 {
                lines.push(pit_in(ts, car));
            }
            if ms == 903_100 {
                lines.push(pit_out(ts, car, &format!(r#","fuel_added_gal":null{x}"#)));
            }
            lines.push(match ms {
                900_000..=902_900 => idle_in_pit(car, ts, 0.0),
                903_000 => idle_in_pit(car, ts, 20.0),
                _ => wot(car, ts),
            });
        }
    }
    let r = run(&lines);
    assert!(r.rejects.is_empty(), "{:?}", r.rejects);

    // At pit_in: u0 burned, the cell holds 20 − u0 = 7.95 (room 12.05), σ² = (0.04 u0)².
    let u0 = gal(WOT_GPH, 900.0);
    let (base, var0) = (20.0 - u0, (BURN_REL_SD * u0).powi(2));
    // Window [900, 905): 3.1 s idle on pit road, 1.9 s wide open after pit_out.
    let stint = gal(WOT_GPH, 1.9);
    let after = |car: &str| {
        r.car(car)
            .into_iter()
            .find(|u| u["window_start"] == T0 + 900_000)
    };

    // Car 1: 6 gal, σ² = var0 + (0.1 · 6)².
    let c1 = after("1").unwrap();
    approx(&c1, "remaining_gal", base + 6.0 - stint);
    let var1 = var0 + (FILL_REL_SD * 6.0).powi(2);
    approx(
        &c1,
        "remaining_low_gal",
        base + 6.0 - stint - half_band(var1, stint),
    );

    // Car 2: read as the fuel's, 7.5 gal (σ² var0 + 0.75²); as the tyres', anywhere in
    // [0, 7.5] (7.5 × 1.1645 = 8.73 is short of the room): 3.75, σ² var0 + 7.5² / 12.
    // The level is their mixture, its variance both doubts and the readings' distance.
    let sd = (0.5f64 * 0.5 + 0.2 * 0.2).sqrt();
    let phi = |z: f64| (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
    // Φ(−1), the fumbled change's share done by 5 s.
    let cdf_fumble = 0.158_655_25;
    let g = 0.9 * phi(0.0) / sd + 0.1 * phi(-1.0);
    let (f, t) = (1.5 * (0.9 * 0.5 + 0.1 * cdf_fumble), g * 7.5);
    let w = f / (f + t);
    let (lf, vf) = (base + 7.5, var0 + 0.75f64.powi(2));
    let (lt, vt) = (base + 3.75, var0 + 7.5f64.powi(2) / 12.0);
    let level = w * lf + (1.0 - w) * lt;
    let var2 = w * vf + (1.0 - w) * vt + w * (1.0 - w) * (lf - lt).powi(2);
    let c2 = after("2").unwrap();
    approx(&c2, "remaining_gal", level - stint);
    approx(
        &c2,
        "remaining_high_gal",
        level - stint + half_band(var2, stint),
    );
    assert!(w > 0.1 && w < 0.15, "{w}");

    // Car 3: the time allowed the top, so the stop counts as full; its band reaches
    // down by the doubt that the crew stopped short, up to the top.
    let c3 = after("3").unwrap();
    approx(&c3, "remaining_gal", 20.0 - stint);
    approx(&c3, "remaining_high_gal", 20.0);
    let low = c3["remaining_low_gal"].as_f64().unwrap();
    assert!(low < 20.0 - stint - 1.0, "{low}");
}

#[test]
fn a_late_pit_in_keeps_the_standing_time_measured_before_it() {
    // Wide open for 300 s, then on pit road at idle (1.0 gal/h) from 300 s to 320 s,
    // standing still in the box 302 s → 303 s (1 s at 1.5 gal/s = 1.5 gal, far short of full). The
    // race-control feed lags: pit_in (300 s) and pit_out (306 s) arrive only at 316 s,
    // after the car's windows up to 310 s closed, so both act at 310 s. The fill must
    // still count the 1 s stood before that.
    let mut lines = vec![race_start(T0, "p", "")];
    let mut held_events = vec![pit_in(T0 + 300_000, "1"), pit_out(T0 + 306_000, "1", "")];
    for ts in ticks(T0, T0 + 319_900) {
        if ts == T0 + 316_000 {
            lines.append(&mut held_events);
        }
        if ts < T0 + 300_000 {
            lines.push(wot("1", ts));
        } else {
            let still = (T0 + 302_000..T0 + 303_000).contains(&ts);
            lines.push(idle_in_pit("1", ts, if still { 0.0 } else { 40.0 }));
        }
    }
    let r = run(&lines);
    assert_eq!(r.counters().late_events, 2);
    // At 310 s the cell held 20 − 300 s wide open − 10 s idle; the fill adds 1.5 gal;
    // then 10 s more idle to the last window's end (320 s).
    let at_pit_in = 20.0 - gal(WOT_GPH, 300.0) - gal(IDLE_GPH, 10.0);
    let want = at_pit_in + 1.5 - gal(IDLE_GPH, 10.0);
    let last = r.car("1").pop().unwrap();
    approx(&last, "remaining_gal", want);
    approx(&last, "used_stint_gal", gal(IDLE_GPH, 10.0));
}

#[test]
fn while_the_car_stands_in_its_box_the_band_holds_what_the_crew_may_have_poured() {
    // Wide open for 300 s; pit_in at 300 s; on pit road at idle (1.0 gal/h), rolling
    // 300.0 → 302.9 s, standing 303.0 → 304.9 s, rolling again; pit_out at 308 s
    // (amount unknown); wide open from 308 s. The window [300, 305) closes with the car
    // 2 s into its stop: the contract counts the fill at pit_out, so `remaining_gal`
    // is still the level at pit_in less the idle burn, but the cell may already hold up
    // to 2 s × 1.5 gal/s (at the rate's upper bound, 1 + 1.645 × 10 %) more, and the
    // band's top says so. Its bottom does not move: the crew may not have started.
    let mut lines = vec![race_start(T0, "s", "")];
    for ts in ticks(T0, T0 + 319_900) {
        if ts == T0 + 300_000 {
            lines.push(pit_in(ts, "1"));
        }
        if ts == T0 + 308_000 {
            lines.push(pit_out(ts, "1", r#","fuel_added_gal":null,"full":null"#));
        }
        let ms = ts - T0;
        lines.push(match ms {
            0..300_000 | 308_000.. => wot("1", ts),
            303_000..305_000 => idle_in_pit("1", ts, 0.0),
            _ => idle_in_pit("1", ts, 40.0),
        });
    }
    let r = run(&lines);
    assert!(r.rejects.is_empty(), "{:?}", r.rejects);
    let c = r.car("1");
    let stop = &c[60];
    assert_eq!(stop["window_start"], T0 + 300_000);
    let used = gal(WOT_GPH, 300.0) + gal(IDLE_GPH, 5.0);
    let half = half_band(0.0, used);
    approx(stop, "remaining_gal", 20.0 - used);
    approx(stop, "remaining_low_gal", 20.0 - used - half);
    let pour = 2.0 * FILL_RATE_GPS * (1.0 + Z90 * FILL_REL_SD);
    approx(stop, "remaining_high_gal", 20.0 - used + half + pour);

    // The window before the stop has no pour in its band.
    approx(
        &c[59],
        "remaining_high_gal",
        20.0 - gal(WOT_GPH, 300.0) + half_band(0.0, gal(WOT_GPH, 300.0)),
    );

    // After pit_out the fill is counted on the level at pit_in (2 s × 1.5 = 3 gal,
    // short of the top) and the band is the fill's own doubt again, without the pour
    // of a stop under way.
    let after = &c[61];
    assert_eq!(after["window_start"], T0 + 305_000);
    let used_after = gal(WOT_GPH, 2.0);
    let level = 20.0 - gal(WOT_GPH, 300.0) + 3.0;
    let fill_var = (BURN_REL_SD * gal(WOT_GPH, 300.0)).powi(2) + (FILL_REL_SD * 3.0).powi(2);
    approx(after, "remaining_gal", level - used_after);
    approx(
        after,
        "remaining_high_gal",
        level - used_after + half_band(fill_var, used_after),
    );
}

#[test]
fn standing_on_pit_road_without_a_stop_pours_nothing_into_the_band() {
    // The car idles still on pit road (its samples say `in_pit`) for the first 10 s,
    // with no pit_in: no stop is open, so no crew pours, and the band is the burn's
    // doubt alone.
    let mut lines = vec![race_start(T0, "n", "")];
    for ts in ticks(T0, T0 + 19_900) {
        lines.push(if ts < T0 + 10_000 {
            idle_in_pit("1", ts, 0.0)
        } else {
            wot("1", ts)
        });
    }
    let r = run(&lines);
    for u in r.car("1") {
        let used = u["used_stint_gal"].as_f64().unwrap();
        approx(
            &u,
            "remaining_high_gal",
            (20.0 - used + half_band(0.0, used)).min(20.0),
        );
    }
    // With a stop open, the same 10 s would have raised the top by up to 15 gal.
}

#[test]
fn a_race_control_clock_a_day_ahead_does_not_make_the_race_late() {
    let mut lines = vec![race_start(T0, "c", "")];
    for ts in ticks(T0, T0 + 19_900) {
        if ts == T0 + 5_000 {
            lines.push(flag(T0 + 86_400_000, "yellow"));
        }
        lines.push(wot("1", ts));
    }
    let r = run(&lines);
    assert_eq!(r.counters().late_samples, 0);
    assert_eq!(r.car("1").len(), 4);
}

#[test]
fn a_re_sent_race_start_of_an_older_race_does_not_take_unlabelled_records() {
    let a = r#"{"v":1,"kind":"race_start","ts":1750593600000,"race_id":"A","track":"pocono"}"#;
    let b = r#"{"v":1,"kind":"race_start","ts":1750680000000,"race_id":"B","track":"iowa"}"#;
    let mut lines = vec![a.to_owned()];
    lines.push(wot("1", T0 + 100));
    lines.push(b.to_owned());
    lines.push(a.to_owned());
    for ts in ticks(T0 + 86_400_000, T0 + 86_400_000 + 9_900) {
        lines.push(wot("1", ts));
    }
    let r = run(&lines);
    assert!(r.rejects.is_empty(), "{:?}", r.rejects);
    assert_eq!(r.counters().duplicate_events, 1);
    let in_b = r.updates().filter(|u| u.race_id == "B").count();
    assert_eq!(in_b, 2);
}

#[test]
fn lap_without_lap_frac_is_published_as_the_lap() {
    let mut lines = vec![race_start(T0, "l", r#","scheduled_laps":100"#)];
    for ts in ticks(T0, T0 + 4_900) {
        lines.push(format!(
            r#"{{"v":1,"car":"1","ts":{ts},"lap":42,"rpm":8000,"throttle_pct":100}}"#
        ));
    }
    let r = run(&lines);
    assert_eq!(r.car("1")[0]["lap"], 42.0);
    assert_eq!(r.engine.race_state("l").unwrap().leader_lap, 42.0);
}

#[test]
fn a_lap_with_a_gap_in_the_telemetry_is_not_a_green_lap() {
    // Laps of 50 s; the car's feed drops out for 20 s during its second lap. Lap 1 is a
    // clean green lap; lap 2 is not, so fuel per green lap stays lap 1's.
    let mut lines = vec![race_start(T0, "g", r#","scheduled_laps":100"#)];
    for ts in ticks(T0, T0 + 110_000) {
        if (T0 + 60_000..T0 + 80_000).contains(&ts) {
            continue;
        }
        lines.push(wot_lap("1", ts));
    }
    let r = run(&lines);
    let u = r.car("1");
    let last = u.last().unwrap();
    // One green lap: 50 s at 48.2 gal/h, so laps_to_empty = remaining / that.
    let lap_gal = gal(WOT_GPH, 50.0);
    let remaining = last["remaining_gal"].as_f64().unwrap();
    approx(last, "laps_to_empty", remaining / lap_gal);
}

#[test]
fn a_late_older_flag_does_not_override_a_newer_one() {
    // Yellow at 20 s arrives on time; green at 5 s arrives after the car's windows up to
    // 25 s closed. From the first open window on, yellow (the later flag) is in force.
    let mut lines = vec![race_start(T0, "f2", "")];
    for ts in ticks(T0, T0 + 44_900) {
        if ts == T0 + 20_000 {
            lines.push(flag(ts, "yellow"));
        }
        if ts == T0 + 31_000 {
            lines.push(flag(T0 + 5_000, "green"));
        }
        lines.push(wot("1", ts));
    }
    let r = run(&lines);
    let u = r.car("1");
    for w in &u[5..] {
        assert_eq!(w["flag"], "yellow", "{w}");
    }
    assert_eq!(r.counters().late_events, 1);
}

#[test]
fn mpg_is_null_when_the_published_burn_is_zero() {
    let mut lines = vec![race_start(T0, "z", "")];
    for ts in ticks(T0, T0 + 4_900) {
        lines.push(format!(
            r#"{{"v":1,"car":"1","ts":{ts},"rpm":1,"throttle_pct":0.01,"speed_mph":180}}"#
        ));
    }
    let p = reference_params();
    let mut engine = Engine::new(
        EngineConfig::default(),
        ModelParams {
            hp670: burnbar_core::model::PackageParams {
                idle_gph: 0.0,
                ..p.hp670
            },
            ..p
        },
    );
    let mut out = Vec::new();
    for l in &lines {
        engine.push_line(l.as_bytes(), &mut out).unwrap();
    }
    engine.finish(&mut out);
    let w = wire(&out[0]);
    assert_eq!(w["burn_gal"], 0.0);
    assert!(w["mpg_window"].is_null(), "{w}");
    assert!(w["mpg_stint"].is_null(), "{w}");
}

#[test]
fn a_car_first_seen_behind_the_silent_boundary_is_late() {
    let mut lines = vec![race_start(T0, "s2", "")];
    for ts in ticks(T0, T0 + 90_000) {
        lines.push(wot("1", ts));
    }
    lines.push(wot("2", T0 + 1_000));
    let r = run(&lines);
    assert_eq!(r.counters().late_samples, 1);
    assert!(r.car("2").is_empty());
}
