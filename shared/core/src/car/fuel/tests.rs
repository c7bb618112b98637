//! The fill and learning rules of `car::fuel`, stop by stop.

use super::*;

/// A stint from a full cell in which the model counted `model_gal` while the car
/// really burned `model_gal × truth`, ended by a weighed fill to the top.
fn weighed_stint(fuel: &mut Fuel, p: &ModelParams, model_gal: f64, truth: f64) {
    fuel.used_stint = model_gal * fuel.stint_eff;
    let burned = model_gal * truth;
    fuel.learn(Some(burned), Some(true));
    fuel.fill(
        Some(burned),
        Some(true),
        PitData::default(),
        None,
        true,
        p,
        0.0,
    );
    fuel.stint_eff = fuel.learned_eff(p, 0.0);
}

#[test]
fn a_car_learns_its_efficiency_from_weighed_stints_shrunk_toward_the_fleet() {
    let p = ModelParams {
        burn_rel_sd: 0.03,
        car_rel_sd: 0.02,
        ..ModelParams::default()
    };
    let mut fuel = Fuel::full(20.0);
    weighed_stint(&mut fuel, &p, 15.0, 1.04);
    // One stint: the posterior mean moves toward 4 % but not all the way.
    let one = fuel.stint_eff;
    assert!(one > 1.01 && one < 1.04, "{one}");
    for _ in 0..9 {
        weighed_stint(&mut fuel, &p, 15.0, 1.04);
    }
    let ten = fuel.stint_eff;
    assert!(ten > one && (ten - 1.04).abs() < 0.005, "{ten}");
    assert_eq!(fuel.learn_n, 10);
    assert!(fuel.start_full);
}

#[test]
fn the_band_narrows_as_a_car_teaches_and_never_below_the_within_car_error() {
    let p = ModelParams {
        burn_rel_sd: 0.03,
        car_rel_sd: 0.02,
        ..ModelParams::default()
    };
    let (tau2, w2) = p.car_variances();
    let after = |n: u32| {
        let mut fuel = Fuel::full(20.0);
        fuel.learn_n = n;
        fuel.burn_rel_sd(&p, 0.0)
    };
    assert!((after(0) - 0.03).abs() < 1e-12);
    let mut last = after(0);
    for n in 1..20 {
        let sd = after(n);
        assert!(sd < last, "{n}: {sd} !< {last}");
        assert!(sd > w2.sqrt());
        last = sd;
    }
    assert!(tau2 > 0.0);
    // The band of a car at the same point of a stint is narrower once it taught.
    let mut fresh = Fuel::full(20.0);
    fresh.used_stint = 10.0;
    let mut taught = fresh;
    taught.learn_n = 5;
    assert!(taught.variance(&p, 0.0) < fresh.variance(&p, 0.0));
}

/// A stint from a cell read as full in which the model counted `model_gal` while the
/// car really burned `model_gal × truth`, ended by a live fuel-only stop (no weight,
/// `tires: 0`) whose crew poured `pour` gallons at `crew` times the fleet's fill rate.
fn standing_stint(
    fuel: &mut Fuel,
    p: &ModelParams,
    model_gal: f64,
    truth: f64,
    pour: Option<f64>,
    crew: f64,
) {
    fuel.used_stint = model_gal * fuel.stint_eff;
    let poured = pour.unwrap_or(model_gal * truth);
    let secs = poured / (p.fill_rate_gps * crew) + p.fill_dead_s;
    fuel.standing_ms = (secs * 1000.0).round() as i64;
    let fuel_only = PitData {
        tires: Some(0),
        box_s: None,
    };
    fuel.fill(None, None, fuel_only, None, true, p, 0.0);
    fuel.stint_eff = fuel.learned_eff(p, 0.0);
}

/// Calibrated doubts of a fill sized from standing time: 3 % relative, of which
/// `crew_sd` is each crew's own rate.
fn live_params(crew_sd: f64) -> ModelParams {
    ModelParams {
        burn_rel_sd: 0.021,
        car_rel_sd: 0.02,
        fill_rel_sd: 0.032,
        fill_abs_sd: 0.15,
        fill_car_rel_sd: Some(crew_sd),
        ..ModelParams::default()
    }
}

#[test]
fn full_stops_sized_from_standing_time_teach_a_car_its_efficiency_up_to_its_crew() {
    // Fills that standing time sizes to 1 %, of which 0.5 % is the crew: standing
    // time all but weighs them, and a 4 % thrifty car is learned nearly as from
    // weighed stints.
    let p = ModelParams {
        fill_rel_sd: 0.01,
        ..live_params(0.005)
    };
    let mut fuel = Fuel::full(20.0);
    for _ in 0..6 {
        standing_stint(&mut fuel, &p, 18.0, 0.96, None, 1.0);
    }
    let eff = fuel.stint_eff;
    assert!(eff > 0.96 && eff < 0.975, "{eff}");
    assert_eq!(fuel.learn_n, 0, "nothing was weighed");
    assert!(fuel.start_at_cap);
    assert!(
        fuel.burn_rel_sd(&p, 0.0) < 0.015,
        "{}",
        fuel.burn_rel_sd(&p, 0.0)
    );

    // Crews that differ by 3 %: however many stops, the car's own rate hides part of
    // its efficiency, and the factor moves only part of the way.
    let p = live_params(0.03);
    let mut fuel = Fuel::full(20.0);
    for _ in 0..20 {
        standing_stint(&mut fuel, &p, 18.0, 0.96, None, 1.0);
    }
    let eff = fuel.stint_eff;
    assert!(eff > 0.98 && eff < 0.995, "{eff}");
    let sd = fuel.burn_rel_sd(&p, 0.0);
    assert!(sd > 0.015 && sd < 0.021, "{sd}");

    // And a fast crew reads as a thrifty car by the same amount as a thrifty car
    // reads with an average crew: standing time cannot tell the two apart.
    let mut fast = Fuel::full(20.0);
    for _ in 0..20 {
        standing_stint(&mut fast, &p, 18.0, 1.0, None, 1.0 / 0.96);
    }
    assert!(
        (fast.stint_eff - eff).abs() < 0.002,
        "{} vs {eff}",
        fast.stint_eff
    );
}

#[test]
fn a_stop_short_of_full_teaches_nothing_nor_does_the_stint_after_it() {
    let p = live_params(0.005);
    let mut fuel = Fuel::full(20.0);
    // A splash: 6 gal into a cell 15 gal down, far short of the top.
    standing_stint(&mut fuel, &p, 15.0, 1.0, Some(6.0), 1.0);
    assert_eq!(fuel.fill_prec, 0.0);
    assert!(!fuel.start_at_cap);
    assert!(
        (fuel.remaining() - 11.0).abs() < 0.2,
        "{}",
        fuel.remaining()
    );
    // The next stop fills it to the top, but the stint began from a level that
    // was itself only estimated.
    standing_stint(
        &mut fuel,
        &p,
        8.0,
        0.96,
        Some(20.0 - 11.0 + 8.0 * 0.96),
        1.0,
    );
    assert_eq!(fuel.fill_prec, 0.0);
    assert_eq!(fuel.stint_eff, 1.0);
    assert!(fuel.start_at_cap);
}

#[test]
fn a_stop_as_long_as_a_full_fill_is_judged_full_or_short_by_how_often_crews_stop_short() {
    // 5 % of stops end short, by 3 gal on average; the margin's doubt is 0.7 gal.
    let odds = |m: f64| short_odds(m, 0.49, 0.05, 3.0);
    assert!(odds(0.0) < 0.02, "{}", odds(0.0));
    assert!(odds(-1.5) > 0.1, "{}", odds(-1.5));
    assert!(odds(-3.0) > 0.9, "{}", odds(-3.0));
    let mut last = 1.0;
    for k in -30..=20 {
        let o = odds(k as f64 / 10.0);
        assert!(o <= last && (0.0..=1.0).contains(&o), "{k}: {o}");
        last = o;
    }
    assert_eq!(short_odds(-1.0, 0.49, 0.0, 3.0), 0.0);
    // Far out in either tail, and with tiny rooms, it stays a probability.
    for (m, v, room) in [
        (0.5, 4.0, 0.05),
        (-50.0, 0.01, 3.0),
        (50.0, 0.01, 3.0),
        (0.0, 4.0, 0.001),
    ] {
        let o = short_odds(m, v, 0.1, room);
        assert!(
            o.is_finite() && (0.0..=1.0).contains(&o),
            "{m} {v} {room}: {o}"
        );
    }
    assert_eq!(short_odds(-0.5, 0.0, 0.1, 3.0), 1.0);
    assert_eq!(short_odds(0.5, 0.0, 0.1, 3.0), 0.0);
    // The Mills ratio on both sides of its switch to the series.
    assert!((mills(4.99) / mills(5.01) - 5.01 / 4.99).abs() < 0.01);

    // A full stop of a car burning as the model says: with the crews' habits known
    // its band after the stop is a fraction of the shortfall doubt kept without.
    let stop = |p: &ModelParams| {
        let mut fuel = Fuel::full(20.0);
        standing_stint(&mut fuel, p, 18.0, 1.0, None, 1.0);
        assert_eq!(fuel.remaining(), 20.0);
        fuel.variance(p, 0.0).sqrt()
    };
    let known = ModelParams {
        fill_partial_share: Some(0.05),
        fill_partial_room_gal: Some(3.0),
        ..live_params(0.03)
    };
    let (with, without) = (stop(&known), stop(&live_params(0.03)));
    assert!(with < 0.25 * without, "{with} vs {without}");
}

#[test]
fn splashes_unknown_levels_and_absurd_weights_teach_nothing() {
    let p = ModelParams::default();
    let mut fuel = Fuel::full(20.0);
    // A splash: too short a stint to measure a percentage.
    fuel.used_stint = 2.0;
    fuel.learn(Some(2.0), Some(true));
    // Not filled to the top: the level after is unknown.
    fuel.used_stint = 12.0;
    fuel.learn(Some(12.0), Some(false));
    // A mistyped weight: 40 % off.
    fuel.learn(Some(12.0 * 1.4), Some(true));
    // A stint that began from a level that was not surely full.
    fuel.start_full = false;
    fuel.learn(Some(12.0), Some(true));
    assert_eq!(fuel.learn_n, 0);
    assert_eq!(fuel.learned_eff(&p, 0.0), 1.0);
}

/// A live stop (no weight, `full` null) on a cell holding `base` gal, `base_var`
/// gal² of doubt, after a stint that began full and burned what it lost by the model; the
/// telemetry measured `measured_s` in the box and the pit data gave `pit`. The fill's
/// level and variance, and whether it taught the car.
fn live_stop(base: f64, base_var: f64, measured_s: f64, pit: PitData) -> (f64, f64, bool) {
    let p = ModelParams::default();
    let mut fuel = Fuel::full(20.0);
    fuel.used_stint = 20.0 - base;
    fuel.pit_in = Some((base, base_var));
    fuel.standing_ms = (measured_s * 1000.0).round() as i64;
    fuel.fill(None, None, pit, None, true, &p, 0.0);
    (
        fuel.stint_start_gal,
        fuel.stint_start_var,
        fuel.fill_prec > 0.0,
    )
}

fn pit(tires: Option<u8>, box_s: f64) -> PitData {
    PitData {
        tires,
        box_s: Some(box_s),
    }
}

/// A stop of a car read at `level` gal (and `var` gal² of doubt) at pit_in, after a
/// stint from a full cell, with the pit data `pit`, the fuel the finish needs from the
/// stop (`finish`, when known), under green or caution: the level the fill leaves and
/// its standard deviation.
fn stop_at(
    (level, var): (f64, f64),
    pit: PitData,
    finish: Option<f64>,
    green: bool,
    p: &ModelParams,
) -> (f64, f64) {
    let mut fuel = Fuel::full(20.0);
    fuel.used_stint = 20.0 - level;
    fuel.pit_in = Some((level, var));
    fuel.fill(None, None, pit, finish, green, p, 0.0);
    (fuel.remaining(), fuel.stint_start_var.sqrt())
}

#[test]
fn the_official_box_time_sizes_a_fuel_only_stop_rather_than_the_telemetry() {
    // Defaults: 1.5 gal/s after 1.5 s, 10 % doubt. 5.1 s in the box: 1.5 · 3.6 = 5.4
    // gal on 5 gal, variance (0.1 · 5.4)² = 0.2916; the telemetry's 3 s is ignored.
    let (level, var, _) = live_stop(5.0, 0.0, 3.0, pit(Some(0), 5.1));
    assert!((level - 10.4).abs() < 1e-9, "{level}");
    assert!((var - 0.2916).abs() < 1e-9, "{var}");
    // Without box_s the telemetry's time sizes it: 1.5 · 1.5 = 2.25 gal.
    let telemetry = PitData {
        tires: Some(0),
        box_s: None,
    };
    let (level, _, _) = live_stop(5.0, 0.0, 3.0, telemetry);
    assert!((level - 7.25).abs() < 1e-9, "{level}");
}

#[test]
fn a_short_stop_no_longer_than_its_tyre_change_says_only_that_the_fuel_took_at_most_that_long() {
    // Two tyres (5 s ± √(0.5² + 0.2²) = 0.5385) and 5.1 s in the box, 15 gal of room:
    // the fuel took at most 5.1 s, so at most 5.4 gal went in.
    // Odds (`pits`): z = 0.1857; a tenth of changes fumbled, 6 s ± 1, z = −0.9. So
    // g = 0.9 · φ(z) / 0.5385 + 0.1 · φ(−0.9) = 0.6819 and G = 0.9 · Φ(z) + 0.1 ·
    // Φ(−0.9) = 0.5347: the fuel 1.5 · G = 0.8020 against the tyres g · 5.4 = 3.683,
    // the fuel timed it at 0.1788.
    // Read as the fuel's: 10.4, variance 0.2916. Read as the tyres': anywhere in
    // [5, 10.4], 7.7 with variance 5.4² / 12 = 2.43.
    // Mixed: 0.1788 · 10.4 + 0.8212 · 7.7 = 8.183; variance 0.1788 · 0.2916 +
    // 0.8212 · 2.43 + 0.1788 · 0.8212 · 2.7² = 3.118.
    let (level, var, taught) = live_stop(5.0, 0.0, 5.3, pit(Some(2), 5.1));
    assert!((level - 8.183).abs() < 0.002, "{level}");
    assert!((var - 3.118).abs() < 0.005, "{var}");
    assert!(!taught);
    // Far longer than two tyres take: the fuel's (9.1 s: 11.4 gal), but for the doubt
    // of a fumble of four seconds.
    let (level, _, _) = live_stop(5.0, 0.0, 9.3, pit(Some(2), 9.1));
    assert!((level - 16.4).abs() < 0.05, "{level}");
}

#[test]
fn a_stop_timed_by_its_tyres_counts_full_where_the_time_allowed_the_top_and_teaches_nothing() {
    // 11.4 gal of room and four tyres in 9.1 s: the time allowed 1.5 · 7.6 = 11.4 gal,
    // so the stop counts as full. Read as the fuel's it is a fill to the top that
    // measures the car's burn (its doubt, uncalibrated: the shortfall of N(0, (0.1 ·
    // 11.4)²) below the top, half its variance, 0.6498); the tyres all but surely
    // timed it (odds 0.13), so it teaches nothing. The tyres' reading's doubt: 10 %
    // of such stops stop short, by up to the whole room: 0.1 · 11.4² / 3 = 4.332.
    let (level, var, taught) = live_stop(8.6, 0.0, 9.3, pit(Some(4), 9.1));
    assert_eq!(level, 20.0);
    assert!(!taught);
    let w = crate::pits::fuel_timed_odds(
        9.1,
        Some(4),
        StopNeed::default(),
        20.0,
        &ModelParams::default(),
    );
    let want = w * 0.6498 + (1.0 - w) * 4.332;
    assert!((var - want).abs() < 0.01 * var, "{var} {want} {w}");
    // The same stop with no tyre changed is a fuel-timed fill to the top: it teaches.
    let (level, _, taught) = live_stop(8.6, 0.0, 9.3, pit(Some(0), 9.1));
    assert_eq!(level, 20.0);
    assert!(taught);
    // `full: false`: the crew stopped short, whatever the time allowed.
    let p = ModelParams::default();
    let mut fuel = Fuel::full(20.0);
    fuel.pit_in = Some((8.6, 0.0));
    fuel.fill(None, Some(false), pit(Some(4), 9.1), None, true, &p, 0.0);
    assert!(
        fuel.remaining() < 20.0 && !fuel.start_at_cap,
        "{}",
        fuel.remaining()
    );
}

#[test]
fn without_the_tyres_a_stop_carries_the_doubt_of_both_readings() {
    let (fuel_only, fuel_var, _) = live_stop(5.0, 0.0, 5.3, pit(Some(0), 5.1));
    let (two, _, _) = live_stop(5.0, 0.0, 5.3, pit(Some(2), 5.1));
    let (unknown, var, taught) = live_stop(5.0, 0.0, 5.3, pit(None, 5.1));
    assert!(
        two < unknown && unknown < fuel_only,
        "{two} {unknown} {fuel_only}"
    );
    assert!(var > 2.0 * fuel_var, "{var} {fuel_var}");
    assert!(!taught);
    // A stop far from every tyre change reads as the fuel's: 14 s, 18.75 gal.
    let (level, var, _) = live_stop(1.0, 0.0, 14.2, pit(None, 14.0));
    let (fuel_level, fuel_var, _) = live_stop(1.0, 0.0, 14.2, pit(Some(0), 14.0));
    assert!((level - fuel_level).abs() < 0.01 && (var - fuel_var).abs() < 0.05);
}

#[test]
fn a_crew_pours_at_least_what_the_finish_needs_as_far_as_the_time_allows() {
    // Four tyres, 9.3 s, 1 gal at pit_in: at most 1.5 · 7.8 = 11.7 gal. With the
    // finish 12 gal away, the crew poured at least 11 gal: the stop reads as the
    // fuel's at high odds and the level is near 12.7; without it, near 1 + 11.7 / 2.
    let p = ModelParams::default();
    let stop = |finish: Option<f64>| stop_at((1.0, 0.0), pit(Some(4), 9.3), finish, true, &p).0;
    let (free, needed) = (stop(None), stop(Some(12.0)));
    assert!(free < 9.0, "{free}");
    assert!(needed > 12.0 && needed <= 12.7 + 1e-9, "{needed}");
    // A finish beyond what the time allowed: the crew poured all it could.
    assert!((stop(Some(30.0)) - 12.7).abs() < 1e-9);
}

#[test]
fn a_late_stop_with_time_to_spare_pours_the_finishs_need_and_the_crews_margin() {
    // Four tyres, 9.0 s, 1 gal at pit_in: the time allows 1.5 · 7.5 = 11.25 gal; the
    // finish needs 5 gal from here (4 gal more). A crew that pours its need and 1 gal
    // leaves the car at 6 gal; read as anywhere from the need to what the time
    // allowed (1 + (4 + 11.25) / 2 = 8.6), mixed with the small odds that the fuel
    // timed the stop (12.25), the level is above 8 gal give or take 2.
    let calibrated = ModelParams {
        late_pour_margin_gal: Some(1.0),
        late_pour_margin_sd_gal: Some(0.3),
        ..ModelParams::default()
    };
    let stop = |p: &ModelParams, base_var: f64| {
        stop_at((1.0, base_var), pit(Some(4), 9.0), Some(5.0), true, p)
    };
    let (uniform, uniform_sd) = stop(&ModelParams::default(), 0.0);
    assert!(uniform > 8.0 && uniform_sd > 2.0, "{uniform} {uniform_sd}");
    let (level, sd) = stop(&calibrated, 0.0);
    assert!((level - 6.0).abs() < 0.15, "{level}");
    // The margin's doubt, and the small odds that the fuel timed the stop after all
    // (a crew that follows no habit): a third of the uniform reading's.
    assert!(sd < 1.0, "{sd}");
    // The level is the need plus the margin whatever the doubt of the level at
    // pit_in, which the need was measured from.
    let (_, sd_doubtful_base) = stop(&calibrated, 1.0);
    assert!(sd_doubtful_base < 1.0, "{sd_doubtful_base}");
    // Mid-race, the need beyond what the time allowed: the margin plays no part.
    let (level, _) = stop_at((1.0, 0.0), pit(Some(4), 9.0), Some(80.0), true, &calibrated);
    assert!((level - 12.25).abs() < 1e-9, "{level}");
}

#[test]
fn a_late_stop_for_tyres_of_a_car_that_holds_the_finishs_fuel_pours_little() {
    // Four tyres in 9.0 s, 4 gal read at pit_in, the finish needs 3.5 gal from here:
    // nothing more is needed. The crews' habit is to leave with the need and the
    // margin (1 gal), so the car leaves with about 4.5 gal, not with half of the
    // 11.25 gal the tyre change left time for (as uniform pours from none read it).
    let calibrated = ModelParams {
        late_pour_margin_gal: Some(1.0),
        late_pour_margin_sd_gal: Some(0.3),
        ..ModelParams::default()
    };
    let stop = |p: &ModelParams, finish: f64| {
        stop_at((4.0, 0.04), pit(Some(4), 9.0), Some(finish), true, p)
    };
    let (uniform, uniform_sd) = stop(&ModelParams::default(), 3.5);
    assert!(uniform > 8.0, "{uniform}");
    // The small odds that the fuel timed the stop after all (a crew that follows no
    // habit and poured the 11.25 gal) keep a little of that reading and its doubt.
    let (level, sd) = stop(&calibrated, 3.5);
    assert!((level - 4.5).abs() < 0.25, "{level}");
    assert!(sd < uniform_sd / 2.0, "{sd} {uniform_sd}");
    // With the margin already in the cell, the habit pours nothing.
    let (level, _) = stop(&calibrated, 2.0);
    assert!((level - 4.0).abs() < 0.25, "{level}");
    // Under caution crews top up while the field waits: the habit does not speak,
    // the fuel ran the whole stop and the car leaves with all the time allowed.
    let (level, _) = stop_at(
        (4.0, 0.04),
        pit(Some(4), 9.0),
        Some(3.5),
        false,
        &calibrated,
    );
    assert!((level - 15.25).abs() < 1e-9, "{level}");
}

#[test]
fn under_caution_a_crew_tops_up_as_far_as_the_stop_allows() {
    // Four tyres in 9.4 s with 7 gal read at pit_in, as calibrated crews pour
    // (1.5 gal/s after 1.5 s, 3 % between crews, 8 % of full-length stops short by
    // 11.6 gal on average): the fleet's rate pours 11.85 gal in that time, 1.15 gal
    // short of the room; a crew 10 % faster filled the cell. Under green with the
    // finish's need unknown, where the tyres may have timed the stop and a splash may
    // end anywhere up to what the time allowed, the level reads well short of the
    // top; under caution the fuel ran the whole stop, so the time sizes the pour,
    // judged full by the room as a fuel-timed stop of that length is.
    let p = ModelParams {
        fill_rel_sd: 0.03,
        fill_abs_sd: 0.3,
        fill_partial_share: Some(0.08),
        fill_partial_room_gal: Some(11.6),
        ..ModelParams::default()
    };
    let stop =
        |green: bool, tires: Option<u8>| stop_at((7.0, 0.04), pit(tires, 9.4), None, green, &p);
    let (green, _) = stop(true, Some(4));
    assert!(green < 17.0, "{green}");
    for tires in [Some(4), Some(2), None] {
        let (caution, sd) = stop(false, tires);
        assert!(caution == 20.0, "{tires:?}: {caution}");
        assert!(sd < 1.0, "{tires:?}: {sd}");
    }
    // Where the time allowed far less than the room, the pour is what it allowed.
    let short = pit(Some(4), 5.5);
    let (level, _) = stop_at(
        (1.0, 0.0),
        short,
        Some(80.0),
        false,
        &ModelParams::default(),
    );
    assert!((level - 7.0).abs() < 1e-9, "{level}");
}

#[test]
fn a_late_green_splash_is_read_by_its_time_and_the_crews_habit_together() {
    // A fuel-only stop with 3 gal read at pit_in (give or take 0.4) and 8 gal needed
    // to the finish from here: the crews' habit (1 gal over the need, give or take
    // 0.3) leaves the car at 9 gal. The time (6 s: 6.75 gal at 1.5 gal/s after 1.5 s)
    // reads 9.75 with the doubt of the level going in and of the crew's rate; the two
    // readings together sit between, nearer the surer habit, with less doubt than
    // the time's alone.
    let time_only = ModelParams {
        fill_rel_sd: 0.03,
        fill_abs_sd: 0.3,
        ..ModelParams::default()
    };
    let habit = ModelParams {
        late_pour_margin_gal: Some(1.0),
        late_pour_margin_sd_gal: Some(0.3),
        ..time_only.clone()
    };
    let splash = |secs: f64, finish: f64, green: bool, p: &ModelParams| {
        stop_at((3.0, 0.16), pit(Some(0), secs), Some(finish), green, p)
    };
    let (alone, alone_sd) = splash(6.0, 8.0, true, &time_only);
    assert!((alone - 9.75).abs() < 1e-9, "{alone}");
    let (both, both_sd) = splash(6.0, 8.0, true, &habit);
    assert!(both > 9.0 && both < 9.4, "{both}");
    assert!(both_sd < alone_sd, "{both_sd} {alone_sd}");
    // A time far from the habit (12.75 gal poured) is a crew that followed none: the
    // time reads the level as it would alone.
    let (level, _) = splash(10.0, 8.0, true, &habit);
    assert!((level - 15.75).abs() < 0.05, "{level}");
    // Under caution the habit does not speak: the time sizes the pour.
    let (level, _) = splash(6.0, 8.0, false, &habit);
    assert!((level - 9.75).abs() < 1e-9, "{level}");
    // A habit that comes within the crews' fill gap of the top (16.9 of 17 gal of
    // room, gap 0.5) is a crew that filled the cell: a stop as long as a full fill
    // reads full, where without the gap the habit's 19.9 pulled it below the top.
    let gap = ModelParams {
        late_pour_fill_gap_gal: Some(0.5),
        ..habit.clone()
    };
    let full_secs = 1.5 + 17.0 / 1.5;
    let (filled, _) = splash(full_secs, 18.9, true, &gap);
    let (no_gap, _) = splash(full_secs, 18.9, true, &habit);
    assert!(filled > 19.8, "{filled}");
    assert!(no_gap < filled, "{no_gap} {filled}");
}

#[test]
fn a_crew_that_reports_stopping_short_is_never_read_at_the_top_by_its_habit() {
    // The habit within the fill gap of the top (as in the test above) reads a full
    // cell; reported short (`full: false`, no weight), the same stop stays below it.
    let p = ModelParams {
        fill_rel_sd: 0.03,
        fill_abs_sd: 0.3,
        late_pour_margin_gal: Some(1.0),
        late_pour_margin_sd_gal: Some(0.3),
        late_pour_fill_gap_gal: Some(0.5),
        ..ModelParams::default()
    };
    let mut fuel = Fuel::full(20.0);
    fuel.used_stint = 17.0;
    fuel.pit_in = Some((3.0, 0.16));
    let secs = 1.5 + 16.6 / 1.5;
    fuel.fill(
        None,
        Some(false),
        pit(Some(0), secs),
        Some(18.9),
        true,
        &p,
        0.0,
    );
    assert!(fuel.remaining() < 19.9, "{}", fuel.remaining());
    let (full, _) = stop_at((3.0, 0.16), pit(Some(0), secs), Some(18.9), true, &p);
    assert!(full > fuel.remaining(), "{full}");
}

#[test]
fn a_crews_earlier_full_stops_teach_its_rate_for_the_pours_to_come() {
    // Crews that differ by 3 %, cars by 2 %: a crew 4 % faster than the fleet, on an
    // average car, makes four full fuel-only stops.
    let p = live_params(0.03);
    let crew = 1.04;
    let mut taught = Fuel::full(20.0);
    for _ in 0..4 {
        standing_stint(&mut taught, &p, 18.0, 1.0, None, crew);
    }
    assert!(taught.fill_prec > 0.0);
    // Each stop read at the fleet's rate said the stint burned 4 % less than the model;
    // the rate's prior is the wider, so it takes most of that: ρ²/(ρ² + τ² + 1/Σ) of
    // ln 1.04 = 0.0009 / (0.0009 + 0.0004 + 0.00019) · 0.0392 = 0.0237 (Σ, the stops'
    // precision, 5,400: each stop's doubt is its pour's, the start level's and the
    // model's), and its doubt shrinks below the fleet's.
    let (mean, var) = taught.crew_rate(&p, 0.0);
    assert!(
        (taught.fill_prec - 5400.0).abs() < 100.0,
        "{}",
        taught.fill_prec
    );
    assert!((mean - 0.0237).abs() < 0.001, "{mean}");
    assert!(var < 0.5 * 0.03f64.powi(2), "{var}");
    // Before any lesson: the fleet's rate and doubt.
    assert_eq!(Fuel::full(20.0).crew_rate(&p, 0.0), (0.0, 0.03f64.powi(2)));

    // A late fuel-only splash of 8 gal by that crew on 3 gal: 11 gal after it. The fleet's
    // rate reads 7.7 gal (10.7); the crew's as its stops taught it reads nearer, with a
    // narrower band.
    let splash = |fuel: &Fuel| {
        let mut f = *fuel;
        f.used_stint = f.stint_start_gal - 3.0;
        f.pit_in = Some((3.0, 0.04));
        f.standing_ms = ((8.0 / (p.fill_rate_gps * crew) + p.fill_dead_s) * 1000.0).round() as i64;
        let fuel_only = PitData {
            tires: Some(0),
            box_s: None,
        };
        f.fill(None, None, fuel_only, None, true, &p, 0.0);
        (f.remaining(), f.stint_start_var)
    };
    let (fresh, fresh_var) = splash(&Fuel::full(20.0));
    let (read, var) = splash(&taught);
    assert!((fresh - 10.69).abs() < 0.02, "{fresh}");
    assert!((read - 11.0).abs() < 0.15, "{read}");
    assert!(var < fresh_var, "{var} !< {fresh_var}");
    // What the stop teaches is still read at the fleet's rate: a crew's lessons do not
    // feed on themselves (the splash, short of the top, teaches nothing anyway; a full
    // stop's lesson is the same whatever the crew's reading).
    let mut again = taught;
    standing_stint(&mut again, &p, 18.0, 1.0, None, crew);
    let mut first = Fuel::full(20.0);
    standing_stint(&mut first, &p, 18.0, 1.0, None, crew);
    assert!(((again.fill_sum / again.fill_prec) - (first.fill_sum / first.fill_prec)).abs() < 1e-9);
}
