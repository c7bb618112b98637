//! One replay compared with the truth: the stint fuel, the fuel at pit entry, the band's
//! honesty (its coverage and the fuel after each car's last stop, [`super::honest`]),
//! then the calls ([`super::calls`]).

use std::collections::BTreeMap;

use burnbar_core::FuelUpdate;

use super::calls::{Judge, judge_calls};
use super::honest::{after_last_stop, band_coverage};
use super::metrics::{Metrics, Thresholds};
use super::races::RaceEvents;
use super::truth::Truth;

/// A car's updates in window order, by car.
type ByCar<'a> = BTreeMap<&'a str, Vec<&'a FuelUpdate>>;

/// Compares one replay with the truth; `sched` is the race's scheduled laps, `th` the
/// thresholds the calls are judged at.
pub(crate) fn measure(
    truth: &Truth,
    updates: &[FuelUpdate],
    events: &RaceEvents,
    sched: u32,
    th: &Thresholds,
) -> Metrics {
    let mut by_car: ByCar = BTreeMap::new();
    for u in updates {
        by_car.entry(u.car.as_str()).or_default().push(u);
    }
    for v in by_car.values_mut() {
        v.sort_by_key(|u| u.window_start);
    }
    let judge = Judge::new(truth, events, th, sched);
    let mut m = Metrics {
        races: 1,
        ..Metrics::default()
    };
    stint_errors(&mut m, truth, &by_car);
    pit_entry_errors(&mut m, truth, &by_car, &events.pit_in);
    let green_finish = events.last_run_green();
    for (car, ups) in &by_car {
        band_coverage(&mut m, truth, car, ups);
        if green_finish {
            after_last_stop(&mut m, truth, car, ups, events);
        }
        judge_calls(&mut m, &judge, car, ups);
    }
    m
}

/// Per truth stint of at least 3 gal: the published burn over its span (the windows at
/// its ends pro rata by time) against the fuel burned; relative error.
fn stint_errors(m: &mut Metrics, truth: &Truth, by_car: &ByCar) {
    let empty = Vec::new();
    for (car, stints) in &truth.stints {
        let ups = by_car.get(car.as_str()).unwrap_or(&empty);
        for s in stints.iter().filter(|s| s.burned_gal >= 3.0) {
            let est: f64 = ups
                .iter()
                .map(|u| {
                    let overlap =
                        (u.window_end.min(s.stint_end) - u.window_start.max(s.stint_start)).max(0);
                    u.burn_gal * overlap as f64 / (u.window_end - u.window_start) as f64
                })
                .sum();
            m.stint_err.push((est - s.burned_gal).abs() / s.burned_gal);
        }
    }
}

/// Per `pit_in`: the `remaining_gal` of the car's window holding it against the truth
/// at that window's end; gallons.
fn pit_entry_errors(m: &mut Metrics, truth: &Truth, by_car: &ByCar, pits: &[(String, i64)]) {
    for (car, ts) in pits {
        let Some(ups) = by_car.get(car.as_str()) else {
            continue;
        };
        let i = ups.partition_point(|u| u.window_end <= *ts);
        if let Some(u) = ups.get(i).filter(|u| u.window_start <= *ts)
            && let Some(t) = truth.at(car, u.window_end)
        {
            m.pit_err.push((u.remaining_gal - t.remaining_gal).abs());
        }
    }
}
