//! The fill's parameters from weighed stops: the crew's rate and dead time, the tyre
//! changes' times, how often stops take each number of tyres, and the doubts of a fill
//! sized from a stop's time.
//!
//! # Which stops measure what
//!
//! A stop lasts as long as its longer job ([`crate::pits`]). A weighed stop of `a`
//! gallons had a fuel job of `J = dead + a / rate`; it stood `T ≥ J`, equal (give or take
//! the timing noise) when the fuel timed it, longer when the tyres did. So:
//!
//! - the **rate and dead time** come only from stops the fuel timed: `T` within the
//!   noise of `J` and, when the pit data gives the tyres, clearly longer than their
//!   change. A stop the tyres timed says nothing of the rate: a full fill of 8 gal in a
//!   9 s tyre stop read as fuel-timed halves the rate.
//! - the **tyre times** come from stops with tyres whose fuel job was clearly shorter
//!   than the stop: `T` is then the change's.
//!
//! Both need the other, so the fit alternates from a start that needs neither: the lower
//! envelope of `T` against `a` (the 10 % regression quantile: whatever timed the other
//! stops, none stood shorter than its fuel job), then a robust line (Theil–Sen: the
//! median of the pairwise slopes) through the stops read as fuel-timed, the tyre times
//! as medians, and the stops read again, three times.

use std::collections::BTreeMap;

use super::{StintObs, between_groups};
use crate::model::ModelParams;
use crate::pits;
use crate::stats::norm_cdf;

/// How many robust standard deviations past its fuel job a stop may stand and still be
/// read as timed by the fuel.
const FUEL_TIMED_Z: f64 = 2.5;

/// What the fill fit used.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FillCounts {
    /// Weighed stops with a standing time.
    pub weighed: usize,
    /// Of those, read as timed by the fuel: the rate and dead time come from them.
    pub fuel_timed: usize,
    /// Stops with tyres whose time was the tyres' (their fuel job clearly shorter).
    pub tire_timed: usize,
    /// Stops whose tyres the pit data gave (for `tire_shares`).
    pub with_tires: usize,
}

/// One weighed stop: its time in the box, the weighed amount, its tyres, its stint.
#[derive(Debug, Clone, Copy)]
struct Stop<'a> {
    secs: f64,
    added: f64,
    tires: Option<u8>,
    stint: &'a StintObs,
}

/// Fits the fill's parameters of `params` to the weighed stops of `stints` (the
/// package parameters already fitted: the rooms of short stops read the model's burn).
pub(super) fn fit_fills(stints: &[StintObs], params: &mut ModelParams) -> FillCounts {
    let mut counts = FillCounts::default();
    tire_shares(stints, params, &mut counts);
    let stops: Vec<Stop> = stints
        .iter()
        .filter_map(|s| {
            Some(Stop {
                secs: s.secs(),
                added: s.fuel_added_gal?,
                tires: s.tires,
                stint: s,
            })
        })
        .filter(|s| s.secs > 0.5 && s.added > 0.0 && s.secs.is_finite())
        .collect();
    counts.weighed = stops.len();
    if stops.len() < 3 {
        return counts;
    }
    let (mut rate, mut dead) =
        lower_envelope(&stops).unwrap_or((params.fill_rate_gps, params.fill_dead_s));
    // The spread of a fuel-timed stop's time around its fuel job, s; a start.
    let mut sd = 0.5;
    let mut fuel: Vec<Stop> = Vec::new();
    for _ in 0..4 {
        fuel = stops
            .iter()
            .copied()
            .filter(|s| fuel_timed(s, rate, dead, sd, params))
            .collect();
        let Some((r, d)) = theil_sen(&fuel) else {
            break;
        };
        (rate, dead) = (r, d.max(0.0));
        let mut e: Vec<f64> = fuel
            .iter()
            .map(|s| s.secs - dead - s.added / rate)
            .collect();
        sd = (1.4826 * mad(&mut e)).max(0.1);
        tire_times(&stops, rate, dead, sd, params, &mut counts);
    }
    counts.fuel_timed = fuel.len();
    if fuel.len() < 3 {
        return counts;
    }
    params.fill_rate_gps = rate;
    params.fill_dead_s = dead;
    fill_doubts(&fuel, params);
    partial_fills(&stops, &fuel, sd, params);
    late_pours(&stops, sd, params);
    counts
}

/// Whether a weighed stop reads as timed by its fuel: it stood no longer than its fuel
/// job allows (the noise `sd` aside), and, when its tyres are known, clearly longer
/// than their change.
fn fuel_timed(s: &Stop, rate: f64, dead: f64, sd: f64, p: &ModelParams) -> bool {
    let e = s.secs - dead - s.added / rate;
    if e > FUEL_TIMED_Z * sd || e < -4.0 * FUEL_TIMED_Z * sd {
        return false;
    }
    match s.tires {
        Some(k) if k > 0 => {
            let (tau, tsd) = pits::tire_time(k, p);
            s.secs > tau + FUEL_TIMED_Z * tsd
        }
        _ => true,
    }
}

/// The shares of stops by tyres changed (none, one or three, two, four), from every
/// stop the pit data gave them for; at least 20 stops, else `params` keeps its own.
fn tire_shares(stints: &[StintObs], params: &mut ModelParams, counts: &mut FillCounts) {
    let mut n = [0usize; 4];
    for k in stints.iter().filter_map(|s| s.tires) {
        n[match k {
            0 => 0,
            2 => 2,
            4 => 3,
            _ => 1,
        }] += 1;
    }
    let total: usize = n.iter().sum();
    counts.with_tires = total;
    if total >= 20 {
        params.tire_shares = n.map(|c| c as f64 / total as f64);
    }
}

/// The tyre changes' times: per number of tyres, the median time of the stops whose
/// fuel job ended clearly before the car left (at least 5 of them, else the time
/// stays); their spread, relative, pooled over every number.
fn tire_times(
    stops: &[Stop],
    rate: f64,
    dead: f64,
    sd: f64,
    params: &mut ModelParams,
    counts: &mut FillCounts,
) {
    let mut by: BTreeMap<u8, Vec<f64>> = BTreeMap::new();
    for s in stops {
        let Some(k) = s.tires.filter(|k| *k > 0) else {
            continue;
        };
        if s.secs - dead - s.added / rate > FUEL_TIMED_Z * sd {
            by.entry(if k == 3 { 1 } else { k.min(4) })
                .or_default()
                .push(s.secs);
        }
    }
    let mut rel = Vec::new();
    counts.tire_timed = 0;
    for (k, mut times) in by {
        if times.len() < 5 {
            continue;
        }
        counts.tire_timed += times.len();
        let tau = median(&mut times);
        rel.extend(times.iter().map(|t| t / tau - 1.0));
        match k {
            4 => params.tire_four_s = tau,
            2 => params.tire_two_s = tau,
            _ => params.tire_odd_s = tau,
        }
    }
    if rel.len() >= 5 {
        params.tire_rel_sd = (1.4826 * mad(&mut rel)).max(0.005);
    }
}

/// The doubt of a fill sized from a stop's time, from the fuel-timed stops: relative
/// and absolute parts ([`super::fill_doubt`]), and how much of the relative part is
/// each crew's own rate, the same at every stop of its race (one-way analysis of
/// variance of the log ratios weighed / estimated of the larger stops, where the work
/// around the pour is small, grouped by car in its race).
fn fill_doubts(fuel: &[Stop], params: &mut ModelParams) {
    let (rate, dead) = (params.fill_rate_gps, params.fill_dead_s);
    let pairs: Vec<(f64, f64)> = fuel.iter().map(|s| (s.secs, s.added)).collect();
    let (rel, abs) = super::fill_doubt(&pairs, rate, dead);
    params.fill_rel_sd = rel;
    params.fill_abs_sd = abs;
    let mut by_car: BTreeMap<(&str, &str), Vec<f64>> = BTreeMap::new();
    for s in fuel {
        let est = pits::pour_reading(s.secs, params);
        if est >= 5.0 {
            by_car
                .entry((s.stint.race_id.as_str(), s.stint.car.as_str()))
                .or_default()
                .push((s.added / est).ln());
        }
    }
    params.fill_car_rel_sd =
        between_groups(by_car.values()).map(|between| between.min(params.fill_rel_sd));
}

/// How often crews stop short of the top, and by how much: among the fuel-timed stops
/// (the reading `Fuel::fill` judges full or short by the time), and among the stops the
/// tyres timed whose time would have let the fuel reach the top (which count as full
/// live). The room of a stop is the capacity less its start level less the fitted
/// model's burn; at least 10 stops of a kind, else `None`.
fn partial_fills(stops: &[Stop], fuel: &[Stop], sd: f64, params: &mut ModelParams) {
    let p: &ModelParams = params;
    let reported = |s: &&Stop| s.stint.full.is_some();
    let room_before = |s: &Stop| Some(s.stint.capacity_gal - level_before(s, p)?);
    let fuel_kind: Vec<&Stop> = fuel.iter().filter(reported).collect();
    let fuel_short = short_share(&fuel_kind, &room_before);
    let (rate, dead) = (p.fill_rate_gps, p.fill_dead_s);
    let tire_kind: Vec<&Stop> = stops
        .iter()
        .filter(reported)
        .filter(|s| s.secs - dead - s.added / rate > FUEL_TIMED_Z * sd)
        .filter(|s| room_before(s).is_some_and(|r| pits::pour_reading(s.secs, p) >= r))
        .collect();
    let tire_short = short_share(&tire_kind, &room_before);
    (params.fill_partial_share, params.fill_partial_room_gal) = fuel_short;
    (params.tire_short_share, params.tire_short_room_gal) = tire_short;
}

/// The level in the cell before a weighed stop's fill: the stint's known start less the
/// fitted model's burn; `None` when the start is not known.
fn level_before(s: &Stop, p: &ModelParams) -> Option<f64> {
    Some(s.stint.start_gal? - s.stint.estimate(p.package(s.stint.package)))
}

/// How much more than the finish needs a crew pours when its time allows more: among
/// the weighed green stops the tyres timed (the fuel job clearly shorter than the stop;
/// under caution crews top up while the field waits, a different habit) whose
/// time could not fill the cell but allowed more than the car needed to the finish
/// (`finish_gal` less the level before, which the stint's start level and the fitted
/// model's burn give), the weighed amount less that need. The median and 1.4826 · MAD
/// (at least 0.1 gal) of at least 10 such stops, else `None`: the estimator then takes
/// the pour as anywhere from the need to what the time allowed.
///
/// The need is the estimator's own live reading (the leader's lap and the car's fuel
/// per green lap as they stood at the stop), so the margin measured is against what the
/// estimator will subtract it from, its doubts included.
fn late_pours(stops: &[Stop], sd: f64, params: &mut ModelParams) {
    const MIN_STOPS: usize = 10;
    let p: &ModelParams = params;
    let (rate, dead) = (p.fill_rate_gps, p.fill_dead_s);
    let mut margins: Vec<f64> = stops
        .iter()
        .filter(|s| s.secs - dead - s.added / rate > FUEL_TIMED_Z * sd)
        .filter(|s| !s.stint.caution)
        .filter_map(|s| {
            let level = level_before(s, p)?;
            let room = s.stint.capacity_gal - level;
            let need = s.stint.finish_gal? - level;
            let allowed = pits::pour_reading(s.secs, p);
            // As the estimator reads such a stop (`Fuel::fill`): a time that would have
            // reached the top counts as full; a need the time could not cover leaves the
            // crew no choice to measure.
            (allowed < room && need > 0.0 && need < allowed).then_some(s.added - need)
        })
        .collect();
    if margins.len() < MIN_STOPS {
        (params.late_pour_margin_gal, params.late_pour_margin_sd_gal) = (None, None);
        return;
    }
    let spread = (1.4826 * mad(&mut margins)).clamp(0.1, 22.0);
    let margin = median(&mut margins).clamp(-22.0, 22.0);
    params.late_pour_margin_gal = Some(margin);
    params.late_pour_margin_sd_gal = Some(spread);
    params.late_pour_fill_gap_gal = fill_gap(stops, margin, spread, params);
}

/// How near the top a crew's late pour may come before it fills the cell instead
/// (`late_pour_fill_gap_gal`): among the weighed green stops whose need to the finish is
/// known and whose habit (the need and `margin`) would leave them within a few gallons of
/// the top either way, each reported full or short, the gap `g` that makes the reports
/// likeliest when a crew fills with odds `Φ((g − gap) / sd)`, `gap` being the room left
/// by the habit's pour (`sd` the margin's spread: the need is known no better). The
/// maximum of that likelihood over `g` on a grid of 0.01 gal; `None` without at least 10
/// such stops, both reported full and short among them (nothing to tell the gap by).
fn fill_gap(stops: &[Stop], margin: f64, sd: f64, p: &ModelParams) -> Option<f64> {
    const NEAR_GAL: f64 = 3.0;
    let gaps: Vec<(f64, bool)> = stops
        .iter()
        .filter(|s| !s.stint.caution)
        .filter_map(|s| {
            let level = level_before(s, p)?;
            let room = s.stint.capacity_gal - level;
            let need = s.stint.finish_gal? - level;
            let gap = room - (need + margin);
            (need > 0.0 && gap.abs() < NEAR_GAL).then_some((gap, s.stint.full?))
        })
        .collect();
    let filled = gaps.iter().filter(|g| g.1).count();
    if gaps.len() < 10 || filled == 0 || filled == gaps.len() {
        return None;
    }
    let log_lik = |g: f64| -> f64 {
        gaps.iter()
            .map(|&(gap, full)| {
                let q = norm_cdf((g - gap) / sd).clamp(1e-12, 1.0 - 1e-12);
                if full { q.ln() } else { (1.0 - q).ln() }
            })
            .sum()
    };
    let steps = (2.0 * NEAR_GAL / 0.01).round() as i32;
    (0..=steps)
        .map(|i| {
            let g = -NEAR_GAL + 0.01 * f64::from(i);
            (g, log_lik(g))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(g, _)| g)
}

/// The share of `stops` reported short (`full: false`) and their mean shortfall, gal
/// (the room before less what went in, at least 0.05); `None`s below 10 stops.
fn short_share(
    stops: &[&Stop],
    room_before: &dyn Fn(&Stop) -> Option<f64>,
) -> (Option<f64>, Option<f64>) {
    if stops.len() < 10 {
        return (None, None);
    }
    let short: Vec<&&Stop> = stops
        .iter()
        .filter(|s| s.stint.full == Some(false))
        .collect();
    let rooms: Vec<f64> = short
        .iter()
        .filter_map(|s| Some((room_before(s)? - s.added).max(0.05)))
        .collect();
    let share = short.len() as f64 / stops.len() as f64;
    let room = (!rooms.is_empty()).then(|| rooms.iter().sum::<f64>() / rooms.len() as f64);
    (Some(share), room)
}

/// A start for the fuel's line that no tyre-timed stop can bend: the 10 % regression
/// quantile of the time against the weighed amount, `T = dead + a / rate` (no stop
/// stands shorter than its fuel job, whatever timed it), over rates of 0.3 to 5 gal/s.
fn lower_envelope(stops: &[Stop]) -> Option<(f64, f64)> {
    const Q: f64 = 0.1;
    let mut best: Option<(f64, f64, f64)> = None;
    let mut u = vec![0.0; stops.len()];
    for i in 0..=240 {
        let rate = 0.3 * (5.0f64 / 0.3).powf(i as f64 / 240.0);
        for (ui, s) in u.iter_mut().zip(stops) {
            *ui = s.secs - s.added / rate;
        }
        let mut sorted = u.clone();
        sorted.sort_by(f64::total_cmp);
        let c = sorted[((sorted.len() - 1) as f64 * Q).round() as usize];
        let loss: f64 = u
            .iter()
            .map(|x| {
                let r = x - c;
                if r >= 0.0 { Q * r } else { (Q - 1.0) * r }
            })
            .sum();
        if best.is_none_or(|b| loss < b.0) {
            best = Some((loss, rate, c));
        }
    }
    best.map(|(_, rate, dead)| (rate, dead.max(0.0)))
}

/// The Theil–Sen line of the weighed amount on the time, `a = rate · (T − dead)`: the
/// median of the slopes of pairs at least 0.5 s apart, and the median intercept.
/// `(rate, dead)`; `None` with fewer than 3 stops or no positive slope. Over 1,500
/// stops, every k-th (the pairs grow as the square).
fn theil_sen(stops: &[Stop]) -> Option<(f64, f64)> {
    if stops.len() < 3 {
        return None;
    }
    let step = stops.len().div_ceil(1500);
    let pts: Vec<(f64, f64)> = stops
        .iter()
        .step_by(step)
        .map(|s| (s.secs, s.added))
        .collect();
    let mut slopes = Vec::with_capacity(pts.len() * pts.len() / 2);
    for (i, a) in pts.iter().enumerate() {
        for b in &pts[i + 1..] {
            let dt = b.0 - a.0;
            if dt.abs() >= 0.5 {
                slopes.push((b.1 - a.1) / dt);
            }
        }
    }
    if slopes.is_empty() {
        return None;
    }
    let rate = median(&mut slopes);
    if !(rate.is_finite() && rate > 0.0) {
        return None;
    }
    let mut icpt: Vec<f64> = pts.iter().map(|(t, a)| t - a / rate).collect();
    Some((rate, median(&mut icpt)))
}

/// The median (the mean of the middle two for an even count); NaN for none.
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    crate::stats::median_sorted(v)
}

/// The median absolute deviation from the median.
fn mad(v: &mut [f64]) -> f64 {
    let m = median(v);
    let mut d: Vec<f64> = v.iter().map(|x| (x - m).abs()).collect();
    median(&mut d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracks::EnginePackage;

    /// A weighed stop of `added` gal that stood `secs` with `tires`, ending a stint of
    /// car `i` that began full and burned `added` (a fill to the top) unless `short`.
    fn stop(i: usize, added: f64, secs: f64, tires: Option<u8>, short: bool) -> StintObs {
        StintObs {
            race_id: format!("r{}", i % 4),
            track: "pocono".into(),
            car: format!("{}", i % 40),
            package: EnginePackage::Hp670,
            start_ts: 0,
            end_ts: 1,
            measured_gal: None,
            unmeasured: None,
            fuel_added_gal: Some(added),
            full: Some(!short),
            standing_s: secs + 0.3,
            tires,
            box_s: Some(secs),
            start_gal: Some(20.0),
            capacity_gal: 20.0,
            finish_gal: None,
            caution: false,
            points: Vec::new(),
        }
    }

    #[test]
    fn calibration_measures_how_much_more_than_the_finish_needs_a_crew_pours() {
        let mut p = ModelParams {
            fill_rate_gps: 1.5,
            fill_dead_s: 1.5,
            ..ModelParams::default()
        };
        // Late four-tyre stops of 9 s (the time allows 11.25 gal) in stints whose model
        // burn is 0 (no points): the level before is the start, 20 − room.
        let late = |i: usize, need: f64, margin: f64| {
            let mut s = stop(i, need + margin, 9.0 + 0.2 * jitter(i), Some(4), true);
            let level = 20.0 - 16.0;
            s.start_gal = Some(level);
            s.finish_gal = Some(level + need);
            s
        };
        let stints: Vec<StintObs> = (0..30)
            .map(|i| late(i, 2.0 + 0.2 * (i % 20) as f64, 1.2 + 0.3 * jitter(i)))
            .collect();
        let stops = stops_of(&stints);
        late_pours(&stops, 0.2, &mut p);
        let margin = p.late_pour_margin_gal.expect("30 late stops");
        let sd = p.late_pour_margin_sd_gal.expect("30 late stops");
        assert!((margin - 1.2).abs() < 0.1, "{margin}");
        assert!(sd > 0.1 && sd < 0.5, "{sd}");
        // Stops whose need the time could not cover, without a schedule, or under
        // caution measure nothing: too few, and the estimator keeps its uniform reading.
        let mut blind = ModelParams {
            fill_rate_gps: 1.5,
            fill_dead_s: 1.5,
            late_pour_margin_gal: Some(3.0),
            ..ModelParams::default()
        };
        let too_far: Vec<StintObs> = (0..30).map(|i| late(i, 14.0, 0.0)).collect();
        // Stops under caution, where crews top up while the field waits: another habit.
        let caution: Vec<StintObs> = (0..30)
            .map(|i| StintObs {
                caution: true,
                ..late(i, 3.0, 1.0)
            })
            .collect();
        let unscheduled: Vec<StintObs> = (0..30)
            .map(|i| StintObs {
                finish_gal: None,
                ..late(i, 3.0, 1.0)
            })
            .collect();
        for set in [&too_far, &unscheduled, &caution] {
            let stops = stops_of(set);
            late_pours(&stops, 0.2, &mut blind);
            assert_eq!(blind.late_pour_margin_gal, None);
        }
    }

    #[test]
    fn calibration_measures_how_near_the_top_a_late_crew_fills_the_cell() {
        let mut p = ModelParams {
            fill_rate_gps: 1.5,
            fill_dead_s: 1.5,
            ..ModelParams::default()
        };
        // Late green stops of cars 4 gal into a 20 gal cell (16 gal of room), the habit
        // (the need and 1 gal) leaving from 2 gal too little room to 2.5 gal of it: the
        // crews fill the cell when the habit would leave less than 0.6 gal of room.
        let stints: Vec<StintObs> = (0..60)
            .map(|i| {
                let gap = -2.0 + 4.5 * i as f64 / 59.0;
                let need = 16.0 - 1.0 - gap;
                let filled = gap < 0.6;
                let added = if filled { 16.0 } else { need + 1.0 };
                let mut s = stop(i, added, 1.5 + added / 1.5, Some(0), !filled);
                s.start_gal = Some(4.0);
                s.finish_gal = Some(4.0 + need);
                s
            })
            .collect();
        let stops = stops_of(&stints);
        let gap = fill_gap(&stops, 1.0, 0.3, &p).expect("60 late stops");
        assert!((gap - 0.6).abs() < 0.1, "{gap}");
        // All short or all full, nothing tells the gap; under caution, another habit.
        let short: Vec<Stop> = stops
            .iter()
            .filter(|s| s.stint.full == Some(false))
            .copied()
            .collect();
        assert_eq!(fill_gap(&short, 1.0, 0.3, &p), None);
        let caution: Vec<StintObs> = stints
            .iter()
            .map(|s| StintObs {
                caution: true,
                ..s.clone()
            })
            .collect();
        let stops = stops_of(&caution);
        assert_eq!(fill_gap(&stops, 1.0, 0.3, &p), None);
        p.late_pour_fill_gap_gal = Some(gap);
        assert!(p.validate().is_ok());
    }

    /// The weighed stops of `stints`, as `fit_fills` reads them.
    fn stops_of(stints: &[StintObs]) -> Vec<Stop<'_>> {
        stints
            .iter()
            .map(|s| Stop {
                secs: s.secs(),
                added: s.fuel_added_gal.unwrap(),
                tires: s.tires,
                stint: s,
            })
            .collect()
    }

    /// A small deterministic jitter in [-1, 1].
    fn jitter(i: usize) -> f64 {
        ((i * 7919) % 201) as f64 / 100.0 - 1.0
    }

    /// The history: most weighed stops full fills timed by four tyres (9 s give
    /// or take 0.3), a few full fills long enough to be timed by the fuel, and fuel-only
    /// splashes; true rate 1.5 gal/s after 1.5 s. The same with a fast crew history
    /// (2 gal/s after 1 s, tyres 8 s).
    fn history(rate: f64, dead: f64, four: f64, tires_known: bool) -> Vec<StintObs> {
        let t = |k: u8| tires_known.then_some(k);
        let mut v = Vec::new();
        for i in 0..150 {
            // Full fills of 35 to 65 % of what the tyre change's time allows (3.9 to 7.3
            // gal in 9 s at 1.5 gal/s after 1.5): the tyres timed them.
            let added = (0.35 + 0.3 * (i % 13) as f64 / 12.0) * rate * (four - dead);
            v.push(stop(i, added, four + 0.3 * jitter(i), t(4), false));
        }
        for i in 0..30 {
            // Full fills of 15 to 19 gal, four tyres: timed by the fuel.
            let added = 15.0 + 4.0 * (i % 9) as f64 / 8.0;
            let secs = dead + added / rate + 0.15 * jitter(i + 500);
            v.push(stop(i, added, secs, t(4), false));
        }
        for i in 0..20 {
            // Fuel-only splashes of 2 to 8 gal, short of the top.
            let added = 2.0 + 6.0 * (i % 11) as f64 / 10.0;
            let secs = dead + added / rate + 0.15 * jitter(i + 900);
            v.push(stop(i, added, secs, t(0), true));
        }
        v
    }

    #[test]
    fn the_rate_comes_from_the_stops_the_fuel_timed_and_the_tyre_time_from_the_others() {
        for (rate, dead, four) in [(1.5, 1.5, 9.0), (2.0, 1.0, 8.0), (1.2, 2.0, 10.0)] {
            for known in [true, false] {
                let stints = history(rate, dead, four, known);
                let mut p = ModelParams::default();
                let counts = fit_fills(&stints, &mut p);
                let what = format!("{rate} {dead} {four} {known}: {p:?} {counts:?}");
                assert!((p.fill_rate_gps / rate - 1.0).abs() < 0.03, "{what}");
                assert!((p.fill_dead_s - dead).abs() < 0.25, "{what}");
                assert_eq!(counts.weighed, 200);
                assert!((40..=50).contains(&counts.fuel_timed), "{what}");
                if known {
                    assert!((p.tire_four_s - four).abs() < 0.1, "{what}");
                    assert!(p.tire_rel_sd < 0.04, "{what}");
                    assert_eq!(counts.with_tires, 200);
                    assert_eq!(p.tire_shares, [0.1, 0.0, 0.0, 0.9]);
                } else {
                    assert_eq!(p.tire_four_s, 9.0, "no pit data: the default stays");
                    assert_eq!(p.tire_shares, ModelParams::default().tire_shares);
                }
            }
        }
    }

    #[test]
    fn how_often_a_tyre_timed_stop_that_could_have_filled_stopped_short() {
        let mut stints = history(1.5, 1.5, 9.0, true);
        // A fifth of the tyre-timed fills were splashes 3 gal short of the top. Without
        // points the model burns nothing: the room is the capacity less the start, at
        // most 7.3 + 3 gal, and the time allowed at least 1.5 · (8.7 − 1.5) = 10.8: every
        // one could have filled.
        for s in stints.iter_mut().take(150).step_by(5) {
            s.full = Some(false);
            s.start_gal = Some(20.0 - s.fuel_added_gal.unwrap() - 3.0);
        }
        let mut p = ModelParams::default();
        fit_fills(&stints, &mut p);
        assert_eq!(p.tire_short_share, Some(0.2));
        let room = p.tire_short_room_gal.unwrap();
        assert!((room - 3.0).abs() < 1e-9, "{room}");
        // Among the fuel-timed ones, the splashes are short: 20 of 50.
        assert_eq!(p.fill_partial_share, Some(0.4));
    }
}
