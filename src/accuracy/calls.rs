//! The run-dry and false-call judgements of one car: the estimate's own call, and the
//! other ways of [`ALTERNATIVES`] (laps left from the leader's lap, the contract's
//! formula on the simulator's own fuel).

use std::collections::HashMap;

use burnbar_core::FuelUpdate;

use super::metrics::{ALTERNATIVES, Metrics};
use super::truth::{Truth, TruthWindow};

/// What judging a car's calls reads of its race.
pub(crate) struct Judge<'a> {
    truth: &'a Truth,
    /// The leader's lap at each window end: the largest lap any car published for it.
    leader: HashMap<i64, f64>,
    /// The race's scheduled laps.
    sched: f64,
}

impl<'a> Judge<'a> {
    pub fn new(truth: &'a Truth, updates: &[FuelUpdate], sched: u32) -> Judge<'a> {
        let mut leader: HashMap<i64, f64> = HashMap::new();
        for u in updates {
            let l = leader.entry(u.window_end).or_insert(u.lap);
            *l = l.max(u.lap);
        }
        Judge {
            truth,
            leader,
            sched: sched as f64,
        }
    }

    /// The leader's lap at window end `ts`, or `own` if that is further.
    fn leader_lap(&self, ts: i64, own: f64) -> f64 {
        self.leader.get(&ts).map_or(own, |l| l.max(own))
    }
}

/// A way of calling a car at an update: whether it says "can't make it".
type Call<'a> = &'a dyn Fn(&FuelUpdate) -> bool;

/// The estimate's own call: `save_needed_pct` ≥ 10 (`fuel-update-v1`'s "can't make it").
fn called(u: &FuelUpdate) -> bool {
    u.save_needed_pct.is_some_and(|s| s >= 10.0)
}

/// Judges `car`'s calls (its updates `ups` in window order, its `pit_in` times `pits`):
/// a car that ran dry called in time or not, a car that finished called falsely or not.
pub(crate) fn judge_calls(
    m: &mut Metrics,
    j: &Judge,
    car: &str,
    ups: &[&FuelUpdate],
    pits: &[i64],
) {
    let tw = j.truth.windows_of(car);
    // "Can't make it" with laps left counted from the leader's lap.
    let called_leader = |u: &FuelUpdate| {
        calls_with(
            u,
            j.sched - j.leader_lap(u.window_end, u.lap),
            u.remaining_gal,
        )
    };
    // The contract's call on the simulator's own fuel, laps and fuel per green lap.
    let true_fpl = true_fuel_per_green_lap(tw, ups);
    // With `from_leader`, laps left are counted from the leader's lap instead.
    let called_true_with = |u: &FuelUpdate, from_leader: bool| {
        let (Some(t), Some(&fpl)) = (j.truth.at(car, u.window_end), true_fpl.get(&u.window_end))
        else {
            return false;
        };
        let lap = if from_leader {
            j.leader_lap(u.window_end, t.lap)
        } else {
            t.lap
        };
        let left = j.sched - lap;
        left > 0.0 && t.remaining_gal <= 0.9 * left * fpl
    };
    let called_true = |u: &FuelUpdate| called_true_with(u, false);
    let called_true_leader = |u: &FuelUpdate| called_true_with(u, true);
    let alternatives: [Call; ALTERNATIVES.len()] =
        [&called_leader, &called_true, &called_true_leader];
    match tw.iter().find(|w| w.remaining_gal <= 0.0) {
        Some(dry) => judge_dry(m, car, ups, tw, pits, dry, alternatives),
        None => judge_finish(m, j, car, ups, tw, alternatives),
    }
}

/// A car that ran dry (at `dry`): called in its last stint at least 5 laps before, each
/// way; and its `laps_to_empty` 10 laps before.
fn judge_dry(
    m: &mut Metrics,
    car: &str,
    ups: &[&FuelUpdate],
    tw: &[TruthWindow],
    pits: &[i64],
    dry: &TruthWindow,
    alternatives: [Call; ALTERNATIVES.len()],
) {
    m.dry += 1;
    // The last stint: after the car's last pit entry before it ran dry.
    let from = pits
        .iter()
        .copied()
        .filter(|&p| p < dry.ts)
        .max()
        .unwrap_or(i64::MIN);
    let last_stint = || {
        ups.iter()
            .filter(move |u| u.window_start > from && u.window_end <= dry.ts)
    };
    let in_time = |u: &&FuelUpdate| u.lap <= dry.lap - 5.0;
    let first_call = last_stint().find(|u| called(u));
    m.dry_called += u32::from(first_call.is_some_and(in_time));
    for (calls, called) in m.alt.iter_mut().zip(alternatives) {
        let in_time = last_stint().find(|u| called(u)).is_some_and(in_time);
        calls.dry_called += u32::from(in_time);
    }
    m.notes.push(format!(
        "car {car} ran dry on lap {:.1}; first called on lap {}",
        dry.lap,
        first_call.map_or("-".to_owned(), |u| format!(
            "{:.1} (save {:.1}%)",
            u.lap,
            u.save_needed_pct.unwrap_or(0.0)
        ))
    ));
    if let Some(w) = tw.iter().find(|w| w.lap >= dry.lap - 10.0 && w.ts < dry.ts)
        && let Some(u) = ups.iter().find(|u| u.window_end == w.ts)
        && let Some(lte) = u.laps_to_empty
    {
        m.lte_err.push((lte - (dry.lap - w.lap)).abs());
    }
}

/// A car that did not run dry: a false call if it was called in the last 20 laps and
/// finished without a stop in them, each way; the estimate's false calls told apart
/// (laps down, the true fuel calling too).
fn judge_finish(
    m: &mut Metrics,
    j: &Judge,
    car: &str,
    ups: &[&FuelUpdate],
    tw: &[TruthWindow],
    alternatives: [Call; ALTERNATIVES.len()],
) {
    let sched = j.sched;
    let late: Vec<&FuelUpdate> = ups
        .iter()
        .copied()
        .filter(|u| u.lap >= sched - 20.0)
        .collect();
    let finished = tw.last().is_some_and(|w| w.lap >= sched - 1.0);
    let stopped = late.iter().any(|u| u.in_pit);
    let lapped = tw.last().is_some_and(|w| w.lap < sched - 0.5);
    if !finished || stopped {
        return;
    }
    for (calls, called) in m.alt.iter_mut().zip(alternatives) {
        calls.false_calls += u32::from(late.iter().any(|u| called(u)));
    }
    let Some(first_call) = late.iter().find(|u| called(u)) else {
        return;
    };
    m.false_calls += 1;
    m.false_calls_lapped += u32::from(lapped);
    // The same formula on the true fuel, with the update's own laps left.
    let truth_too = late.iter().any(|u| {
        called(u)
            && j.truth
                .at(car, u.window_end)
                .is_some_and(|t| calls_with(u, sched - u.lap, t.remaining_gal))
    });
    m.false_calls_truth += u32::from(truth_too);
    m.false_calls_estimate += u32::from(!truth_too && !lapped);
    let u = first_call;
    let t = j.truth.at(car, u.window_end);
    m.notes.push(format!(
        "false call: car {car} on lap {:.1}, save {:.1}%, remaining {:.2} gal (truth {}), laps_to_empty {}; finished lap {:.1} with {:.2} gal{}{}",
        u.lap,
        u.save_needed_pct.unwrap_or(0.0),
        u.remaining_gal,
        t.map_or("-".to_owned(), |t| format!("{:.2}", t.remaining_gal)),
        u.laps_to_empty.map_or("-".to_owned(), |l| format!("{l:.1}")),
        tw.last().map_or(0.0, |w| w.lap),
        tw.last().map_or(0.0, |w| w.remaining_gal),
        if lapped { "; laps down" } else { "" },
        if truth_too { "; the true fuel calls too" } else { "" },
    ));
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

/// `fuel-update-v1`'s "can't make it" (`save_needed_pct` ≥ 10) recomputed for `left`
/// laps and `fuel` gallons, the update's fuel per green lap recovered from its
/// `laps_to_empty`.
fn calls_with(u: &FuelUpdate, left: f64, fuel: f64) -> bool {
    if u.save_needed_pct.is_none() || left <= 0.0 {
        return false;
    }
    match u.laps_to_empty {
        Some(lte) if lte > 0.0 => 100.0 * (1.0 - fuel * lte / (u.remaining_gal * left)) >= 10.0,
        // No fuel per lap to recover (the estimate is empty): any fuel short is a call.
        _ => fuel <= 0.0,
    }
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
