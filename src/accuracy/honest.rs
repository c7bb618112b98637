//! Whether the band is honest where the report's totals cannot say (issue 14, items 3
//! and 4): the band's coverage on every track on its own, the fuel after each car's last
//! stop, and the band on a track the calibration was not fitted on.
//!
//! - **Per track**: the 90 % band's coverage of each track's held-out races (the report
//!   sums [`band_coverage`] by track as well as over every track).
//! - **After the last stop**: for every car of a race whose last run is green to the end
//!   (no yellow or red after the last green), the `remaining_gal` of the first update
//!   after its last `pit_out` against the truth at that window's end
//!   ([`after_last_stop`]): what every fuel-mileage call of the finish stands on. The
//!   signed errors' standard deviation, mean and |error| p90; and the same error with
//!   each last pour known exactly (none after a fill to the top, the error going in
//!   after a pour short of it), with its count: how much of it the level going in
//!   leaves. Not a floor: the crews' habit can read past the error going in.
//! - **Leave one track out**: calibrate on the training races of every track but one
//!   ([`super::calibrations`]), replay that one's held-out races with it, and score them
//!   with the same measures (coverage, stint error, pit entry, the fuel after the last
//!   stop): what a calibration is worth on a track it has never seen, which every
//!   calibration and the embedded defaults are, on air.

use burnbar_core::FuelUpdate;

use super::metrics::Metrics;
use super::races::RaceEvents;
use super::truth::Truth;

/// Per published window the truth has: whether the true fuel lies within the band.
pub(super) fn band_coverage(m: &mut Metrics, truth: &Truth, car: &str, ups: &[&FuelUpdate]) {
    for u in ups {
        if let Some(t) = truth.at(car, u.window_end) {
            m.band_n += 1;
            if u.remaining_low_gal - 1e-6 <= t.remaining_gal
                && t.remaining_gal <= u.remaining_high_gal + 1e-6
            {
                m.band_in += 1;
            }
        }
    }
}

/// The car's first update after its last stop (`pit_out`): its `remaining_gal` less the
/// truth at that window's end, signed. What the fill was judged to be, once the crew is
/// done: the estimate the rest of the race rests on. Beside it, what that error would be
/// had the pour been weighed ([`Metrics::after_stop_pour_known_err`]): how much of it
/// the level going in leaves, which the stop's time cannot size (only the crews' habit,
/// a level to leave with, reads past it). `ups` in window order; the caller
/// checks that the race's last run is green to the end
/// ([`RaceEvents::last_run_green`]).
pub(super) fn after_last_stop(
    m: &mut Metrics,
    truth: &Truth,
    car: &str,
    ups: &[&FuelUpdate],
    events: &RaceEvents,
) {
    let Some(stop) = RaceEvents::of(&events.pit_out, car).max() else {
        return;
    };
    let i = ups.partition_point(|u| u.window_end <= stop);
    let Some((u, t)) = ups
        .get(i)
        .and_then(|u| Some((u, truth.at(car, u.window_end)?)))
    else {
        return;
    };
    m.after_stop_err.push(u.remaining_gal - t.remaining_gal);
    // The same car with its last pour weighed: after a fill to the top, exact; after a
    // pour short of it, the level going in and its error, carried. The level going in
    // is the last window that ended by the stop's `pit_in` (one holding `pit_in` could
    // hold the start of the pour too, on a short pit road). A short pour without such a
    // window is left out, so the row gives its count.
    let pit_in = RaceEvents::of(&events.pit_in, car)
        .filter(|&ts| ts <= stop)
        .max();
    let going_in = pit_in.and_then(|ts| {
        let u = ups[..ups.partition_point(|u| u.window_end <= ts)].last()?;
        let t = truth.at(car, u.window_end)?;
        Some(u.remaining_gal - t.remaining_gal)
    });
    match truth.filled_at(car, stop) {
        Some(true) => m.after_stop_pour_known_err.push(0.0),
        Some(false) => m.after_stop_pour_known_err.extend(going_in),
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(car: &str, window_end: i64, remaining: f64) -> FuelUpdate {
        serde_json::from_value(serde_json::json!({
            "v": 1, "race_id": "r", "car": car, "seq": window_end / 5000 - 1,
            "window_start": window_end - 5000, "window_end": window_end,
            "lap": 0.0, "flag": "green", "in_pit": false, "samples": 50, "miles": 0.2,
            "burn_gal": 0.1, "burn_rate_gph": 72.0, "mpg_window": null, "mpg_lap": null,
            "mpg_stint": null, "used_stint_gal": 0.1, "used_race_gal": 0.1,
            "remaining_gal": remaining, "remaining_low_gal": remaining - 0.5,
            "remaining_high_gal": remaining + 0.5, "laps_to_empty": null,
            "save_needed_pct": null, "burn_index": null, "mode": "normal", "model": "physics"
        }))
        .expect("a valid update")
    }

    #[test]
    fn the_fuel_after_the_last_stop_is_measured_beside_what_a_weighed_pour_would_leave() {
        // Two cars stop at the same times: car 9 pours short of the top, car 7 fills.
        // Both go in read 0.3 gal high, and leave read 0.4 gal low.
        let mut truth = String::new();
        for car in ["7", "9"] {
            for (ts, left) in [
                (10_000, 10.0),
                (15_000, 9.8),
                (25_000, 15.5),
                (30_000, 15.3),
            ] {
                truth += &format!(
                    "{{\"car\":\"{car}\",\"ts\":{ts},\"burned_gal\":0.2,\"remaining_gal\":{left},\"lap\":1.0}}\n"
                );
            }
            let full = car == "7";
            truth += &format!(
                "{{\"car\":\"{car}\",\"stint_start\":0,\"stint_end\":20000,\"burned_gal\":10.0,\"added_gal\":5.7,\"full\":{full}}}\n"
            );
        }
        let truth = Truth::parse(truth.as_bytes());
        let events = RaceEvents::parse(
            br#"{"v":1,"kind":"flag","ts":1,"flag":"green"}
{"v":1,"kind":"pit_in","ts":12000,"car":"7"}
{"v":1,"kind":"pit_in","ts":12000,"car":"9"}
{"v":1,"kind":"pit_out","ts":20000,"car":"7"}
{"v":1,"kind":"pit_out","ts":20000,"car":"9"}
"#,
        );
        let mut m = Metrics::default();
        for car in ["7", "9"] {
            let ups = [
                update(car, 10_000, 10.3),
                update(car, 15_000, 10.5),
                update(car, 25_000, 15.1),
                update(car, 30_000, 14.9),
            ];
            let ups: Vec<&FuelUpdate> = ups.iter().collect();
            after_last_stop(&mut m, &truth, car, &ups, &events);
        }
        let close = |a: &[f64], b: &[f64]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-9)
        };
        // The first update after pit_out (the window ending at 25 s), against the truth.
        assert!(
            close(&m.after_stop_err, &[-0.4, -0.4]),
            "{:?}",
            m.after_stop_err
        );
        // Weighed, the fill leaves nothing and the short pour the 0.3 gal going in
        // (the last window ended by pit_in at 12 s: the one ending at 10 s).
        assert!(
            close(&m.after_stop_pour_known_err, &[0.0, 0.3]),
            "{:?}",
            m.after_stop_pour_known_err
        );
    }

    #[test]
    fn a_race_is_green_to_the_end_when_no_caution_follows_its_last_green() {
        let race = br#"{"v":1,"kind":"flag","ts":1,"flag":"green"}
{"v":1,"kind":"pit_out","ts":5,"car":"7"}
{"v":1,"kind":"flag","ts":10,"flag":"yellow"}
{"v":1,"kind":"pit_out","ts":12,"car":"7"}
{"v":1,"kind":"pit_out","ts":13,"car":"9"}
{"v":1,"kind":"flag","ts":20,"flag":"green"}
{"v":1,"kind":"flag","ts":30,"flag":"checkered"}
{"v":1,"car":"7","ts":31,"rpm":8000}
"#;
        let e = RaceEvents::parse(race);
        assert!(e.last_run_green());
        assert_eq!(RaceEvents::of(&e.pit_out, "7").max(), Some(12));
        assert_eq!(RaceEvents::of(&e.pit_out, "9").max(), Some(13));
        let under_yellow = b"{\"v\":1,\"kind\":\"flag\",\"ts\":1,\"flag\":\"green\"}\n{\"v\":1,\"kind\":\"flag\",\"ts\":9,\"flag\":\"yellow\"}\n";
        assert!(!RaceEvents::parse(under_yellow).last_run_green());
    }
}
