//! The fit's tests: synthetic stints whose truth is known.

use super::*;

/// Stints whose measured fuel is exactly what `truth` gives for their points.
fn synthetic(truth: &PackageParams, n: usize) -> Vec<StintObs> {
    (0..n)
        .map(|i| {
            // Mixes of wide open, part throttle and caution running, different per
            // stint so that both parameters show.
            let caution = 0.05 + 0.4 * (i as f64 / n as f64);
            let points = vec![
                (1.0, 9000.0, 0.25 * (1.0 - caution)),
                (0.55, 7600.0, 0.05),
                (0.2, 4200.0, 0.25 * caution),
                (0.12, 3800.0, 0.1 * caution),
            ];
            // Two tracks, alternating.
            StintObs::weighed_for_test(
                format!("r{}", i % 2),
                ["pocono", "michigan"][i % 2],
                i,
                points,
                truth,
                1.0,
            )
        })
        .collect()
}

#[test]
fn a_fit_recovers_known_parameters() {
    let base = ModelParams::default();
    let truth = PackageParams {
        wot_gph_per_krpm: base.hp670.wot_gph_per_krpm * 1.06,
        throttle_k: base.hp670.throttle_k * 0.85,
        ..base.hp670
    };
    let stints = synthetic(&truth, 20);
    let fit = fit(&stints, &base, false).unwrap();
    let got = fit.params.hp670;
    assert!(
        (got.wot_gph_per_krpm / truth.wot_gph_per_krpm - 1.0).abs() < 0.01,
        "{got:?} vs {truth:?}"
    );
    assert!(
        (got.throttle_k / truth.throttle_k - 1.0).abs() < 0.03,
        "{got:?} vs {truth:?}"
    );
    assert_eq!(fit.used, vec![(EnginePackage::Hp670, 20)]);
    assert_eq!(fit.params.hp510, base.hp510, "no 510 data: unchanged");
    assert_eq!(fit.params.fitted_on, ["michigan", "pocono"]);
}

#[test]
fn stints_weighed_wrong_are_set_aside_and_widen_no_band() {
    let base = ModelParams::default();
    let truth = PackageParams {
        wot_gph_per_krpm: base.hp670.wot_gph_per_krpm * 1.04,
        throttle_k: base.hp670.throttle_k * 0.9,
        ..base.hp670
    };
    let mut stints = synthetic(&truth, 30);
    // The cars' own spread, ±1.5 % (deterministic), and two stops weighed wrong:
    // half the fuel (a typo), and a crew that stopped short but reported full.
    for (i, s) in stints.iter_mut().enumerate() {
        let m = s.measured_gal.unwrap();
        s.measured_gal = Some(m * (1.0 + 0.015 * ((i * 7 % 5) as f64 - 2.0) / 2.0));
    }
    let wrong = |s: &mut StintObs, k: f64| s.measured_gal = s.measured_gal.map(|m| m * k);
    wrong(&mut stints[3], 0.5);
    wrong(&mut stints[17], 0.7);
    let fit = fit(&stints, &base, false).unwrap();
    assert_eq!(fit.outliers, 2);
    assert_eq!(fit.set_aside, [3, 17], "which ones, for the stint table");
    assert_eq!(fit.used, vec![(EnginePackage::Hp670, 28)]);
    let got = fit.params.hp670;
    assert!(
        (got.wot_gph_per_krpm / truth.wot_gph_per_krpm - 1.0).abs() < 0.01,
        "{got:?} vs {truth:?}"
    );
    assert!(
        (got.throttle_k / truth.throttle_k - 1.0).abs() < 0.05,
        "{got:?} vs {truth:?}"
    );
    // The band is the cars' spread, not the two bad weights' (about 0.17 with them).
    assert!(fit.params.burn_rel_sd < 0.02, "{}", fit.params.burn_rel_sd);
}

#[test]
fn the_fits_own_doubt_is_large_where_its_stints_barely_separate_the_parameters() {
    let base = ModelParams::default();
    // `n` stints with ±1.5 % noise whose caution share spans `spread` from 5 %.
    let noisy = |n: usize, spread: f64| -> Vec<StintObs> {
        let mut v = synthetic(&base.hp670, n);
        for (i, s) in v.iter_mut().enumerate() {
            let caution = 0.05 + spread * (i as f64 / n as f64);
            s.points = vec![
                (1.0, 9000.0, 0.25 * (1.0 - caution)),
                (0.55, 7600.0, 0.05),
                (0.2, 4200.0, 0.25 * caution),
                (0.12, 3800.0, 0.1 * caution),
            ];
            let truth = s.estimate(&base.hp670);
            s.measured_gal = Some(truth * (1.0 + 0.015 * ((i * 7 % 5) as f64 - 2.0) / 2.0));
        }
        v
    };
    let doubt = |stints: &[StintObs]| fit(stints, &base, false).unwrap().params.hp670.fit_rel_sd;
    let narrow = doubt(&noisy(40, 0.05));
    let wide = doubt(&noisy(40, 0.4));
    assert!(narrow > 3.0 * wide, "narrow mix {narrow}, wide {wide}");
    // Four times the stints, half the doubt (the noise pattern repeats, so about).
    let more = doubt(&noisy(160, 0.4));
    assert!((more / wide - 0.5).abs() < 0.1, "{more} against {wide}");
    // And it reaches the band on the fitted tracks too, shared by the race's cars.
    let params = fit(&noisy(40, 0.05), &base, false).unwrap().params;
    let v = params.off_track_var("pocono", EnginePackage::Hp670);
    assert!((v - narrow * narrow).abs() < 1e-12, "{v}");
    assert_eq!(params.off_track_var("pocono", EnginePackage::Hp510), 0.0);
    assert_eq!(
        ModelParams::default().off_track_var("pocono", EnginePackage::Hp670),
        0.0
    );
}

#[test]
fn one_track_is_refused_for_a_fit_every_track_will_use_unless_asked_for() {
    let base = ModelParams::default();
    let mut stints = synthetic(&base.hp670, 12);
    for s in &mut stints {
        s.track = "pocono".into();
    }
    let e = fit(&stints, &base, false).unwrap_err();
    assert_eq!(
        e,
        FitError::OneTrack {
            track: "pocono".into(),
            stints: 12
        }
    );
    let msg = e.to_string();
    assert!(
        msg.contains("pocono") && msg.contains("--single-track"),
        "{msg}"
    );
    let fit = fit(&stints, &base, true).unwrap();
    assert_eq!(fit.params.fitted_on, ["pocono"]);
    // A race without a `race_start` names no track: it makes no second one.
    stints[0].track = String::new();
    assert!(matches!(
        super::fit(&stints, &base, false),
        Err(FitError::OneTrack { .. })
    ));
}

#[test]
fn a_calibration_file_round_trips_with_its_tracks_and_old_files_still_read() {
    let base = ModelParams::default();
    let stints = synthetic(&base.hp670, 12);
    let p = fit(&stints, &base, false).unwrap().params;
    let json = serde_json::to_string(&p).unwrap();
    let back: ModelParams = serde_json::from_str(&json).unwrap();
    assert_eq!(back, p);
    // A file written before `fitted_on` existed reads as fitted on no track.
    let mut old: serde_json::Value = serde_json::from_str(&json).unwrap();
    old.as_object_mut().unwrap().remove("fitted_on");
    let back: ModelParams = serde_json::from_value(old).unwrap();
    assert!(back.fitted_on.is_empty());
    assert_eq!(back.hp670, p.hp670);
}

#[test]
fn the_fill_rate_and_dead_time_come_from_weighed_amount_on_standing_time() {
    let base = ModelParams::default();
    let mut stints = synthetic(&base.hp670, 5);
    for (i, s) in stints.iter_mut().enumerate() {
        s.standing_s = 4.0 + i as f64 * 2.0;
        s.fuel_added_gal = Some(1.4 * (s.standing_s - 0.6));
    }
    let fit = fit(&stints, &base, false).unwrap();
    assert!(
        (fit.params.fill_rate_gps - 1.4).abs() < 1e-9,
        "{:?}",
        fit.params
    );
    assert!(
        (fit.params.fill_dead_s - 0.6).abs() < 1e-9,
        "{:?}",
        fit.params
    );
    assert_eq!(fit.fills.fuel_timed, 5);
}

#[test]
fn the_crews_own_fill_rate_is_told_from_the_stop_to_stop_doubt() {
    // 12 cars in two races, 5 weighed stops each: each crew pours at its own rate
    // (spread 3 %), and each stop varies by 1 % around it.
    let base = ModelParams::default();
    let mut stints = synthetic(&base.hp670, 60);
    let crew = |c: usize| {
        1.0 + 0.03
            * [
                -1.5, -1.0, -0.5, -0.2, 0.0, 0.3, 0.6, 1.0, 1.4, -0.8, 0.9, -0.1,
            ][c]
    };
    let stop = |k: usize| 1.0 + 0.01 * [-1.0, 0.5, 1.2, -0.4, -0.3][k];
    for (i, s) in stints.iter_mut().enumerate() {
        let (c, k) = (i % 12, i / 12);
        s.race_id = format!("r{}", c % 2);
        s.car = format!("{c}");
        s.standing_s = 9.0 + (i % 7) as f64;
        s.fuel_added_gal = Some(1.5 * crew(c) * stop(k) * (s.standing_s - 0.5));
    }
    let fit = fit(&stints, &base, false).unwrap();
    let between = fit.params.fill_car_rel_sd.expect("measured");
    let (b2, w2) = fit.params.fill_variances();
    assert!((between - 0.03).abs() < 0.008, "{between} {:?}", fit.params);
    assert!(w2.sqrt() < 0.015, "stop to stop {}", w2.sqrt());
    assert!((b2 - between * between).abs() < 1e-12);
}

#[test]
fn how_often_and_how_far_crews_stop_short_comes_from_weighed_stops() {
    let base = ModelParams::default();
    let mut stints = synthetic(&base.hp670, 40);
    // Every fourth stop ends short of the top, by 2 or 4 gal.
    for (i, s) in stints.iter_mut().enumerate().filter(|(i, _)| i % 4 == 3) {
        let burned = s.estimate(&base.hp670);
        let room = if i % 8 == 3 { 2.0 } else { 4.0 };
        s.full = Some(false);
        s.measured_gal = None;
        s.fuel_added_gal = Some(burned - room);
    }
    // Fuel-only stops: each stood its fuel job (1.5 s, then 1.5 gal/s), ± 0.1 s.
    for (i, s) in stints.iter_mut().enumerate() {
        s.tires = Some(0);
        s.standing_s = 1.5 + s.fuel_added_gal.unwrap() / 1.5 + 0.1 * ((i % 3) as f64 - 1.0);
    }
    let fit = fit(&stints, &base, false).unwrap();
    assert_eq!(fit.params.fill_partial_share, Some(0.25));
    let room = fit.params.fill_partial_room_gal.unwrap();
    assert!((room - 3.0).abs() < 0.05, "{room}");
    fit.params.validate().unwrap();
}

#[test]
fn no_measured_stint_is_refused_with_the_reason() {
    let base = ModelParams::default();
    let mut stints = synthetic(&base.hp670, 3);
    for s in &mut stints {
        s.measured_gal = None;
    }
    let e = fit(&stints, &base, false).unwrap_err();
    assert!(e.to_string().contains("fuel_added_gal"), "{e}");
}
