//! Properties of the engine on generated multi-car races (`common::generate`): the
//! output does not depend on how records are delayed within the lateness, repeated, or
//! cut into batches, and every update is sane.
//!
//! Case counts are modest and the proptest seed is fixed, so the file runs in seconds and
//! the same cases run every time; no failure file is written.

mod common;

use std::collections::HashMap;

use burnbar_core::{Engine, FuelUpdate};
use common::{Line, RaceGen, Rng, engine, generate, replay, texts, wire};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0x6275_726e_6261_7221),
        max_shrink_iters: 32,
        ..ProptestConfig::default()
    }
}

fn race() -> impl Strategy<Value = RaceGen> {
    (
        any::<u64>(),
        2usize..=5,
        60i64..=120,
        prop::sample::select(vec![0.5, 18.0, 20.0]),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(seed, cars, secs, capacity_gal, caution, pits, car_out, split)| RaceGen {
                seed,
                cars,
                secs,
                capacity_gal,
                caution,
                pits,
                car_out,
                split,
            },
        )
}

/// Equal update lists, or the first difference (whole lists are too long to print).
fn same(want: &[String], got: &[String]) -> Result<(), TestCaseError> {
    if let Some(i) = (0..want.len().min(got.len())).find(|&i| want[i] != got[i]) {
        return Err(TestCaseError::fail(format!(
            "update {i} differs:\n want {}\n  got {}",
            want[i], got[i]
        )));
    }
    if want.len() != got.len() {
        return Err(TestCaseError::fail(format!(
            "{} updates, want {}; first extra or missing: {:?}",
            got.len(),
            want.len(),
            want.get(got.len()).or(got.get(want.len()))
        )));
    }
    Ok(())
}

/// Each car's updates in publication order, cars one after the other: moving a car's
/// records changes when its windows close relative to other cars' (the global order), but
/// not which updates it gets, nor their order.
fn by_car(updates: &[FuelUpdate]) -> Vec<String> {
    let mut sorted: Vec<&FuelUpdate> = updates.iter().collect();
    sorted.sort_by(|a, b| (&a.race_id, a.car).cmp(&(&b.race_id, b.car)));
    sorted
        .into_iter()
        .map(|u| serde_json::to_string(u).expect("a FuelUpdate serializes"))
        .collect()
}

/// Moves records: each `(index, slot)` puts `lines[index]` right after the record that
/// was at `slot` (`slot >= index`), keeping everything else in place.
fn rearrange(lines: &[Line], moves: &[(usize, usize)], copy: bool) -> Vec<Line> {
    let mut keyed: Vec<((usize, u8, usize), Line)> = lines
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, l)| ((i, 0, i), l))
        .collect();
    for (n, &(i, slot)) in moves.iter().enumerate() {
        assert!(slot >= i);
        let key = (slot, 1, if copy { lines.len() + n } else { i });
        if copy {
            keyed.push((key, lines[i].clone()));
        } else {
            keyed[i].0 = key;
        }
    }
    keyed.sort_by_key(|(k, _)| *k);
    keyed.into_iter().map(|(_, l)| l).collect()
}

/// Delays some sample records by at most 3 s of event time: each moves past samples whose
/// ts is at most 3 s after its own, and never past a race-control event.
fn delay(lines: &[Line], seed: u64, share: f64) -> (Vec<Line>, usize) {
    let mut rng = Rng::new(seed);
    let mut moves = Vec::new();
    for i in 0..lines.len() {
        if lines[i].event || !rng.chance(share) {
            continue;
        }
        let limit = lines[i].ts + rng.int(1, 3_001);
        let mut j = i;
        while j + 1 < lines.len() && !lines[j + 1].event && lines[j + 1].ts <= limit {
            j += 1;
        }
        if j > i {
            moves.push((i, rng.int(i as i64 + 1, j as i64 + 1) as usize));
        }
    }
    (rearrange(lines, &moves, false), moves.len())
}

/// Delivers each car's samples `lag` ms late relative to the rest (each car keeping its
/// own order, as Kinesis does per partition key), but never past a race-control event:
/// a record with ts before an event still arrives before it.
fn lag_cars(lines: &[Line], lags: &HashMap<String, i64>) -> Vec<Line> {
    // The ts of the next event at or after each line.
    let mut next_event = vec![i64::MAX; lines.len()];
    let mut next = i64::MAX;
    for i in (0..lines.len()).rev() {
        if lines[i].event {
            next = lines[i].ts;
        }
        next_event[i] = next;
    }
    let mut keyed: Vec<((i64, u8, usize), &Line)> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if l.event {
                return ((l.ts, 0, i), l);
            }
            let lag = lags.get(&car_of(&l.text)).copied().unwrap_or(0);
            // Events come first at equal keys, so stop 1 ms short of the next event
            // unless the sample is itself at that event's ts (it already follows it).
            let limit = if next_event[i] > l.ts {
                next_event[i] - 1
            } else {
                i64::MAX
            };
            (((l.ts + lag).min(limit), 1, i), l)
        })
        .collect();
    keyed.sort_by_key(|(k, _)| *k);
    keyed.into_iter().map(|(_, l)| l.clone()).collect()
}

fn car_of(text: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(text).expect("generated lines are JSON");
    v["car"].as_str().unwrap_or_default().to_owned()
}

/// Sends some records again, each at a random later place in the stream.
fn repeat(lines: &[Line], seed: u64, count: usize) -> Vec<Line> {
    let mut rng = Rng::new(seed);
    let moves: Vec<(usize, usize)> = (0..count)
        .map(|_| {
            let i = rng.int(0, lines.len() as i64) as usize;
            // Mostly soon after (a re-sent batch), sometimes much later.
            let slot = if rng.chance(0.7) {
                (i + rng.int(0, 40) as usize).min(lines.len() - 1)
            } else {
                rng.int(i as i64, lines.len() as i64) as usize
            };
            (i, slot)
        })
        .collect();
    rearrange(lines, &moves, true)
}

proptest! {
    #![proptest_config(config(24))]

    /// (a) Kinesis and the ingest bridge may reorder a car's records a little: within the
    /// 5 s lateness nothing is late and the windows decide the same burns.
    #[test]
    fn delaying_samples_up_to_3_s_gives_the_same_updates(
        g in race(),
        seed in any::<u64>(),
        share in 0.02f64..0.3,
    ) {
        let lines = generate(&g);
        let want = by_car(&replay(texts(&lines)));
        let (delayed, moved) = delay(&lines, seed, share);
        prop_assert!(moved > 0);
        prop_assert_eq!(delayed.len(), lines.len());
        same(&want, &by_car(&replay(texts(&delayed))))?;
    }

    /// (a) The same, the way Kinesis delivers: whole cars trail the others by up to one
    /// window (each car's samples in their own order), events in their place.
    #[test]
    fn cars_trailing_each_other_by_less_than_a_window_give_the_same_updates(
        g in race(),
        lag_ms in proptest::collection::vec(0i64..4_900, 5),
    ) {
        let lines = generate(&g);
        let want = by_car(&replay(texts(&lines)));
        let cars: Vec<String> = {
            let mut c: Vec<String> = lines.iter().filter(|l| !l.event).map(|l| car_of(&l.text)).collect();
            c.sort();
            c.dedup();
            c
        };
        let lags: HashMap<String, i64> = cars.into_iter().zip(lag_ms).collect();
        let lagged = lag_cars(&lines, &lags);
        prop_assert_eq!(lagged.len(), lines.len());
        same(&want, &by_car(&replay(texts(&lagged))))?;
    }

    /// (b) A repeated record (a producer re-send, a batch handed over again) changes
    /// nothing, whether it comes right after the first copy or much later.
    #[test]
    fn repeating_records_gives_the_same_updates(
        g in race(),
        seed in any::<u64>(),
        count in 1usize..200,
    ) {
        let lines = generate(&g);
        let want = wire(&replay(texts(&lines)));
        let repeated = repeat(&lines, seed, count);
        same(&want, &wire(&replay(texts(&repeated))))?;
    }

    /// (c) The output does not depend on how the input is cut into batches (a fresh
    /// output Vec per batch, as a Lambda invocation has), nor on the engine being
    /// cloned and carried on from the copy between two batches.
    #[test]
    fn cutting_the_input_into_batches_gives_the_same_updates(
        g in race(),
        seed in any::<u64>(),
    ) {
        let lines = generate(&g);
        let want = wire(&replay(texts(&lines)));
        let mut rng = Rng::new(seed);
        let mut e = engine();
        let mut got: Vec<FuelUpdate> = Vec::new();
        let mut at = 0;
        while at < lines.len() {
            let n = (rng.int(1, 2_000) as usize).min(lines.len() - at);
            let mut batch = Vec::new();
            for l in &lines[at..at + n] {
                let _ = e.push_line(l.text.as_bytes(), &mut batch);
            }
            got.extend(batch);
            at += n;
            if rng.chance(0.3) {
                // A restart from a copy of the state.
                let copy: Engine = e.clone();
                e = copy;
            }
        }
        let mut last = Vec::new();
        e.finish(&mut last);
        got.extend(last);
        same(&want, &wire(&got))?;
    }

    /// (d) Every update is sane: finite numbers, a band around the estimate inside
    /// [0, capacity], totals that only grow and are sums of published burns, seq rising,
    /// each step ordered by window_end then car.
    #[test]
    fn every_update_is_sane(g in race()) {
        let lines = generate(&g);
        let mut e = engine();
        let mut all: Vec<FuelUpdate> = Vec::new();
        let mut step = Vec::new();
        let order = |step: &[FuelUpdate]| -> Result<(), TestCaseError> {
            for w in step.windows(2) {
                prop_assert!(
                    (w[0].window_end, w[0].car) <= (w[1].window_end, w[1].car),
                    "step out of order: {:?} then {:?}", (w[0].window_end, w[0].car), (w[1].window_end, w[1].car)
                );
            }
            Ok(())
        };
        for l in &lines {
            step.clear();
            let res = e.push_line(l.text.as_bytes(), &mut step);
            prop_assert!(res.is_ok(), "the generator writes valid records: {} {:?}", l.text, res);
            order(&step)?;
            all.append(&mut step);
        }
        e.finish(&mut step);
        order(&step)?;
        all.append(&mut step);
        prop_assert!(!all.is_empty());
        let c = e.counters();
        // (late_events is not checked here: an on-time event after a car_out counts as
        // late, see golden/pits_and_flags.rs `an_on_time_event_after_a_car_out_is_not_late`.)
        prop_assert_eq!(
            (c.rejected, c.late_samples),
            (0, 0),
            "the generator writes valid records in time"
        );

        let cap = g.capacity_gal;
        let mut per_car: HashMap<String, (i64, f64, f64)> = HashMap::new();
        for (u, text) in all.iter().zip(wire(&all)) {
            let numbers = [
                ("lap", Some(u.lap)),
                ("miles", Some(u.miles)),
                ("burn_gal", Some(u.burn_gal)),
                ("burn_rate_gph", Some(u.burn_rate_gph)),
                ("mpg_window", u.mpg_window),
                ("mpg_lap", u.mpg_lap),
                ("mpg_stint", u.mpg_stint),
                ("used_stint_gal", Some(u.used_stint_gal)),
                ("used_race_gal", Some(u.used_race_gal)),
                ("remaining_gal", Some(u.remaining_gal)),
                ("remaining_low_gal", Some(u.remaining_low_gal)),
                ("remaining_high_gal", Some(u.remaining_high_gal)),
                ("laps_to_empty", u.laps_to_empty),
                ("save_needed_pct", u.save_needed_pct),
                ("burn_index", u.burn_index),
            ];
            for (name, x) in numbers {
                if let Some(x) = x {
                    prop_assert!(x.is_finite() && x >= 0.0, "{name} = {x} in {text}");
                }
            }
            // The band, before and after the wire's rounding.
            prop_assert!(
                0.0 <= u.remaining_low_gal
                    && u.remaining_low_gal <= u.remaining_gal
                    && u.remaining_gal <= u.remaining_high_gal
                    && u.remaining_high_gal <= cap,
                "band {} ≤ {} ≤ {} within [0, {cap}]: {text}",
                u.remaining_low_gal, u.remaining_gal, u.remaining_high_gal
            );
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            let f = |k: &str| v[k].as_f64().unwrap();
            prop_assert!(
                0.0 <= f("remaining_low_gal")
                    && f("remaining_low_gal") <= f("remaining_gal")
                    && f("remaining_gal") <= f("remaining_high_gal")
                    && f("remaining_high_gal") <= cap,
                "{text}"
            );
            prop_assert_eq!(u.window_end - u.window_start, 5_000);
            prop_assert_eq!(u.seq * 5_000, u.window_start);
            prop_assert!(u.samples >= 1);
            prop_assert!(u.used_stint_gal <= u.used_race_gal + 1e-9, "{text}");
            // Mode follows the documented precedence.
            let caution = matches!(u.flag.as_str(), "yellow" | "red" | "checkered");
            if caution {
                prop_assert!(u.burn_index.is_none(), "burn_index under caution: {text}");
            }
            let mode = v["mode"].as_str().unwrap();
            if u.in_pit {
                prop_assert_eq!(mode, "pit");
            } else if caution {
                prop_assert_eq!(mode, "caution");
            }

            let key = format!("{}/{}", u.race_id, u.car);
            let (seq, used, burns) = per_car
                .entry(key)
                .or_insert((i64::MIN, 0.0, 0.0));
            prop_assert!(u.seq > *seq, "seq {} after {}: {text}", u.seq, *seq);
            prop_assert!(u.used_race_gal >= *used, "used_race_gal went down: {text}");
            *burns += u.burn_gal;
            // Totals are sums of published burns (fuel-update-v1, "Windows").
            prop_assert!(
                (u.used_race_gal - *burns).abs() <= 1e-9 * (1.0 + *burns),
                "used_race_gal {} but the published burns sum to {}: {text}",
                u.used_race_gal, *burns
            );
            *seq = u.seq;
            *used = u.used_race_gal;
        }
    }
}
