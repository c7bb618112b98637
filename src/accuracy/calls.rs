//! The calls (`fuel-update-v1`): a car in its final window is called when its
//! `save_needed_pct` is at least `cant_make_it_pct`. A car that ran dry is **called**
//! when a call was in force at some time from 15 to 5 laps before it did; a call is
//! **false** when the car then finished without another stop and without running dry.
//!
//! Both judgements are made at every threshold of [`Thresholds`], on the estimate's
//! published `save_needed_pct` and on the **floor**: the contract's own figure made on
//! the simulator's fuel, lap and fuel per green lap (the final window entered and left
//! by the same rules, laps left from the leader's lap by the truth), what a perfect
//! fuel estimate would be charged with.

use std::collections::HashMap;

use burnbar_core::FuelUpdate;

use super::metrics::{Metrics, Thresholds};
use super::races::RaceEvents;
use super::truth::{Truth, TruthWindow};

/// What judging a car's calls reads of its race.
pub(crate) struct Judge<'a> {
    truth: &'a Truth,
    events: &'a RaceEvents,
    th: &'a Thresholds,
    /// The leader's lap at each window end by the truth: the largest lap of the cars
    /// with a truth line there.
    leader: HashMap<i64, f64>,
    /// The race's scheduled laps.
    sched: f64,
}

impl<'a> Judge<'a> {
    pub fn new(
        truth: &'a Truth,
        events: &'a RaceEvents,
        th: &'a Thresholds,
        sched: u32,
    ) -> Judge<'a> {
        let mut leader: HashMap<i64, f64> = HashMap::new();
        for w in truth.windows.values().flatten() {
            let l = leader.entry(w.ts).or_insert(w.lap);
            *l = l.max(w.lap);
        }
        Judge {
            truth,
            events,
            th,
            leader,
            sched: f64::from(sched),
        }
    }
}

/// Judges `car`'s calls (its updates `ups` in window order) at every threshold, on the
/// estimate and on the floor: a car that ran dry called in time or not, a car that
/// finished called falsely or not.
pub(crate) fn judge_calls(m: &mut Metrics, j: &Judge, car: &str, ups: &[&FuelUpdate]) {
    let est: Vec<Option<f64>> = ups.iter().map(|u| u.save_needed_pct).collect();
    let floor = true_save_needed(j, car, ups);
    m.calls.resize(j.th.values.len(), Default::default());
    m.floor.resize(j.th.values.len(), Default::default());
    let tw = j.truth.windows_of(car);
    match tw.iter().find(|w| w.remaining_gal <= 0.0) {
        Some(dry) => judge_dry(m, j, car, ups, [&est, &floor], dry),
        None => judge_finish(m, j, car, ups, [&est, &floor]),
    }
}

/// A car that ran dry (at `dry`): called in time at each threshold, on the estimate
/// and on the floor (`saves`, each per update); and its `laps_to_empty` 10 laps before.
fn judge_dry(
    m: &mut Metrics,
    j: &Judge,
    car: &str,
    ups: &[&FuelUpdate],
    [est, floor]: [&[Option<f64>]; 2],
    dry: &TruthWindow,
) {
    m.dry += 1;
    let ups: Vec<&FuelUpdate> = ups
        .iter()
        .copied()
        .filter(|u| u.window_end <= dry.ts)
        .collect();
    for (k, &thr) in j.th.values.iter().enumerate() {
        m.calls[k].dry_called += u32::from(in_force(&ups, est, thr, dry.lap));
        m.floor[k].dry_called += u32::from(in_force(&ups, floor, thr, dry.lap));
    }
    let main = j.th.values[j.th.main];
    let first_call = (0..ups.len()).find(|&i| est[i].is_some_and(|s| s >= main));
    m.notes.push(format!(
        "car {car} ran dry on lap {:.1}; first called on lap {}",
        dry.lap,
        first_call.map_or("-".to_owned(), |i| format!(
            "{:.1} (save {:.1}%)",
            ups[i].lap,
            est[i].unwrap_or(0.0)
        ))
    ));
    let tw = j.truth.windows_of(car);
    if let Some(w) = tw.iter().find(|w| w.lap >= dry.lap - 10.0 && w.ts < dry.ts)
        && let Some(u) = ups.iter().find(|u| u.window_end == w.ts)
        && let Some(lte) = u.laps_to_empty
    {
        m.lte_err.push((lte - (dry.lap - w.lap)).abs());
    }
}

/// Whether a call (`save[i]` ≥ `thr`) was in force at some time from 15 to 5 laps
/// before `dry_lap`: update `i` is in force from its lap to the next update's.
fn in_force(ups: &[&FuelUpdate], save: &[Option<f64>], thr: f64, dry_lap: f64) -> bool {
    let (from, to) = (dry_lap - 15.0, dry_lap - 5.0);
    ups.iter().enumerate().any(|(i, u)| {
        let until = ups.get(i + 1).map_or(f64::INFINITY, |n| n.lap);
        save[i].is_some_and(|s| s >= thr) && u.lap <= to && until > from
    })
}

/// A car that did not run dry: if it finished (race control did not take it out), a
/// false call at each threshold, on the estimate and on the floor, is a call in an
/// update after its last stop.
fn judge_finish(
    m: &mut Metrics,
    j: &Judge,
    car: &str,
    ups: &[&FuelUpdate],
    [est, floor]: [&[Option<f64>]; 2],
) {
    if j.events.out.iter().any(|c| c == car) {
        return;
    }
    let last_stop = RaceEvents::of(&j.events.pit_out, car)
        .max()
        .unwrap_or(i64::MIN);
    let after = ups.partition_point(|u| u.window_start < last_stop);
    let called = |save: &[Option<f64>], thr: f64| {
        (after..ups.len()).find(|&i| save[i].is_some_and(|s| s >= thr))
    };
    for (k, &thr) in j.th.values.iter().enumerate() {
        m.calls[k].false_calls += u32::from(called(est, thr).is_some());
        m.floor[k].false_calls += u32::from(called(floor, thr).is_some());
    }
    let main = j.th.values[j.th.main];
    let Some(i) = called(est, main) else {
        return;
    };
    let truth_too = called(floor, main).is_some();
    m.false_truth_too += u32::from(truth_too);
    let (u, tw) = (ups[i], j.truth.windows_of(car));
    let t = j.truth.at(car, u.window_end);
    let leader = tw
        .last()
        .map_or(0.0, |w| j.leader.get(&w.ts).copied().unwrap_or(w.lap));
    m.notes.push(format!(
        "false call: car {car} on lap {:.1}, save {:.1}%, remaining {:.2} gal (truth {}), laps_to_empty {}; finished lap {:.1} ({:.1} down) with {:.2} gal{}",
        u.lap,
        est[i].unwrap_or(0.0),
        u.remaining_gal,
        t.map_or("-".to_owned(), |t| format!("{:.2}", t.remaining_gal)),
        u.laps_to_empty.map_or("-".to_owned(), |l| format!("{l:.1}")),
        tw.last().map_or(0.0, |w| w.lap),
        leader - tw.last().map_or(0.0, |w| w.lap),
        tw.last().map_or(0.0, |w| w.remaining_gal),
        if truth_too { "; the true fuel calls too" } else { "" },
    ));
}

/// The contract's `save_needed_pct` on the simulator's own figures at each of `car`'s
/// updates: its true fuel and fuel per green lap, laps left from the leader's lap by
/// the truth, in its final window by the same rule (entered once a full cell reaches
/// the finish at its fuel per green lap, left at its next `pit_out`); `None` outside
/// it or without a figure.
fn true_save_needed(j: &Judge, car: &str, ups: &[&FuelUpdate]) -> Vec<Option<f64>> {
    let tw = j.truth.windows_of(car);
    let fpl = true_fuel_per_green_lap(tw, ups);
    let mut pit_outs: Vec<i64> = RaceEvents::of(&j.events.pit_out, car).collect();
    pit_outs.sort_unstable();
    let capacity = j.events.capacity_gal;
    let mut in_final = false;
    let mut prev_end = i64::MIN;
    ups.iter()
        .map(|u| {
            let ts = u.window_end;
            // A pit_out up to this window's end leaves the final window.
            let i = pit_outs.partition_point(|&p| p <= prev_end);
            if pit_outs.get(i).is_some_and(|&p| p <= ts) {
                in_final = false;
            }
            prev_end = ts;
            let (t, per_lap) = (j.truth.at(car, ts)?, *fpl.get(&ts)?);
            let leader = j.leader.get(&ts).copied().unwrap_or(t.lap).max(t.lap);
            let left = (j.sched - leader).max(0.0);
            in_final |= left * per_lap <= capacity;
            if !in_final {
                return None;
            }
            Some(if left <= 0.0 {
                0.0
            } else {
                (100.0 * (1.0 - t.remaining_gal / (left * per_lap))).max(0.0)
            })
        })
        .collect()
}

/// The simulator's own fuel per green lap at each of the car's window ends: the mean
/// true burn of its last three green laps (`fuel-update-v1`'s definition), a lap being
/// green when every window it spans is green or white and off pit road by the car's
/// updates. Lap ends are placed within their window by the true lap, pro rata.
///
/// Two small departures from the engine's own green laps: a window's flag is the one
/// in force for most of it, so a caution shorter than half a window does not spoil a
/// lap, and the first lap never counts (no line before it). Both matter little to the
/// judgements of the last 20 laps, which read the last three green laps.
fn true_fuel_per_green_lap(tw: &[TruthWindow], ups: &[&FuelUpdate]) -> HashMap<i64, f64> {
    // The simulator writes no truth line for a window the car sent nothing in, and
    // its burn is lost with it: a lap with a gap is not measured.
    let window_ms = ups.first().map_or(0, |u| u.window_end - u.window_start);
    let clean: HashMap<i64, bool> = ups
        .iter()
        .map(|u| (u.window_end, !u.flag.is_caution() && !u.in_pit))
        .collect();
    let mut out = HashMap::new();
    let mut green_laps: Vec<f64> = Vec::new();
    // Burn so far, and at the last line crossing (None before the first).
    let mut burned = 0.0;
    let mut at_line: Option<f64> = None;
    let mut lap_clean = true;
    let mut prev: Option<&TruthWindow> = None;
    for w in tw {
        let before = burned;
        burned += w.burned_gal;
        let this_clean = clean.get(&w.ts).copied().unwrap_or(false)
            && prev.is_none_or(|p| w.ts - p.ts == window_ms);
        lap_clean &= this_clean;
        if let Some(p) = prev
            && w.lap.floor() > p.lap.floor()
            && w.lap > p.lap
        {
            let share = (w.lap.floor() - p.lap) / (w.lap - p.lap);
            let line = before + share * w.burned_gal;
            if let Some(start) = at_line
                && lap_clean
            {
                green_laps.push(line - start);
            }
            at_line = Some(line);
            lap_clean = this_clean;
        }
        let n = green_laps.len().min(3);
        if n > 0 {
            out.insert(
                w.ts,
                green_laps[green_laps.len() - n..].iter().sum::<f64>() / n as f64,
            );
        }
        prev = Some(w);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(window_end: i64, flag: &str, in_pit: bool) -> FuelUpdate {
        serde_json::from_value(serde_json::json!({
            "v": 1, "race_id": "r", "car": "9", "seq": window_end / 5000 - 1,
            "window_start": window_end - 5000, "window_end": window_end,
            "lap": 0.0, "flag": flag, "in_pit": in_pit, "samples": 50, "miles": 0.2,
            "burn_gal": 0.1, "burn_rate_gph": 72.0, "mpg_window": null, "mpg_lap": null,
            "mpg_stint": null, "used_stint_gal": 0.1, "used_race_gal": 0.1,
            "remaining_gal": 19.9, "remaining_low_gal": 19.8, "remaining_high_gal": 20.0,
            "laps_to_empty": null, "save_needed_pct": null, "burn_index": null,
            "mode": "normal", "model": "physics"
        }))
        .expect("a valid update")
    }

    /// `laps` laps of 10 windows each, the line crossed 40 % into a window, plus one
    /// window past the last line. Lap k burns `0.5 + 0.1 k` at an even rate: with a
    /// burn rising evenly from lap to lap, placing each line pro rata within its window
    /// gives every lap's burn exactly (what one lap gains at a line, the next loses
    /// at the other), while a line placed at a window's edge would be 0.6 % off. The
    /// car's update for a window carries the flag of the lap the window ends in.
    fn race(laps: usize, flags: &[&str]) -> (Vec<TruthWindow>, Vec<FuelUpdate>) {
        let lap_at = |i: usize| if i == 0 { 0.0 } else { (i as f64 - 0.4) / 10.0 };
        let rate = |l: f64| 0.5 + 0.1 * l.floor();
        let (mut tw, mut ups) = (Vec::new(), Vec::new());
        let mut remaining = 20.0;
        for i in 1..=laps * 10 + 1 {
            let (a, b) = (lap_at(i - 1), lap_at(i));
            // The burn between laps a and b, split at the line between them if any.
            let line = b.floor().max(a);
            let burned = rate(a) * (line - a) + rate(b) * (b - line);
            remaining -= burned;
            let ts = 5000 * i as i64;
            tw.push(TruthWindow {
                ts,
                burned_gal: burned,
                remaining_gal: remaining,
                lap: b,
            });
            let k = (b.floor() as usize).min(flags.len() - 1);
            ups.push(update(ts, flags[k], false));
        }
        (tw, ups)
    }

    #[track_caller]
    fn exactly(fpl: &HashMap<i64, f64>, ts: i64, want: f64) {
        let got = fpl.get(&ts).copied();
        assert!(
            got.is_some_and(|g| (g - want).abs() < 1e-9),
            "at {ts}: {got:?}, want {want}"
        );
    }

    #[test]
    fn true_fuel_per_green_lap_is_the_mean_of_the_last_three_green_laps() {
        // Lap 3 is under caution.
        let flags = [
            "green", "green", "green", "yellow", "green", "green", "green",
        ];
        let (tw, ups) = race(7, &flags);
        let refs: Vec<&FuelUpdate> = ups.iter().collect();
        let fpl = true_fuel_per_green_lap(&tw, &refs);
        // Lap 0 has no line before it: no figure until lap 1 is done.
        assert!(!fpl.contains_key(&tw[5].ts));
        assert!(!fpl.contains_key(&tw[15].ts));
        exactly(&fpl, tw[25].ts, 0.6);
        // Lap 2 shares a window with the caution lap, so after it only lap 1 counts.
        exactly(&fpl, tw[45].ts, 0.6);
        // Laps 1 and 4, then the last three green laps: 4, 5 and 6.
        exactly(&fpl, tw[55].ts, 0.75);
        exactly(&fpl, tw.last().unwrap().ts, 1.0);
    }

    #[test]
    fn a_lap_on_pit_road_or_with_a_gap_is_not_a_green_lap() {
        let (tw, ups) = race(6, &["green"; 6]);
        let fpl_with = |ups: &[&FuelUpdate], tw: &[TruthWindow]| true_fuel_per_green_lap(tw, ups);
        let (after_lap2, after_lap3, after_lap4) = (tw[31].ts, tw[45].ts, tw[55].ts);

        // Lap 2 passes pit road at its middle: after it, lap 1 alone; after lap 3, laps
        // 1 and 3.
        let mut pit = ups.clone();
        pit[25].in_pit = true;
        let refs: Vec<&FuelUpdate> = pit.iter().collect();
        let fpl = fpl_with(&refs, &tw);
        exactly(&fpl, after_lap2, 0.6);
        exactly(&fpl, after_lap3, 0.7);

        // On pit road in the window that holds line 3 only: both laps 2 and 3 touch it.
        let mut pit = ups.clone();
        pit[30].in_pit = true;
        let refs: Vec<&FuelUpdate> = pit.iter().collect();
        exactly(&fpl_with(&refs, &tw), after_lap4, 0.75);

        // A window of lap 3 with no update (the car sent no samples) leaves lap 3 out,
        // and so does a window missing from the truth (its burn is lost with it).
        // After lap 4: laps 1, 2 and 4.
        let without_lap3 = (0.6 + 0.7 + 0.9) / 3.0;
        let refs: Vec<&FuelUpdate> = ups.iter().filter(|u| u.window_end != tw[35].ts).collect();
        exactly(&fpl_with(&refs, &tw), after_lap4, without_lap3);
        let mut gap = tw.clone();
        gap.remove(35);
        let refs: Vec<&FuelUpdate> = ups.iter().collect();
        exactly(&fpl_with(&refs, &gap), after_lap4, without_lap3);
        // Without any of these, laps 1 to 3 then 2 to 4.
        exactly(&fpl_with(&refs, &tw), after_lap3, 0.7);
        exactly(&fpl_with(&refs, &tw), after_lap4, 0.8);
    }
}
