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
//!   signed errors' standard deviation, mean and |error| p90.
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
/// done: the estimate the rest of the race rests on. `ups` in window order; the caller
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
    if let Some(u) = ups.get(i)
        && let Some(t) = truth.at(car, u.window_end)
    {
        m.after_stop_err.push(u.remaining_gal - t.remaining_gal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
