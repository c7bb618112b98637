//! The cache against the cars' states: races of a few cars whose samples come reordered
//! (within and beyond the lateness), with silent gaps, retirements, flags and pit stops,
//! so that the cars close their windows in every order. In these tests every cached
//! leader's lap and field median is checked against the one computed from the cars'
//! states ([`super::CHECKED`]): a stale entry panics.

use proptest::prelude::*;

use crate::{Engine, EngineConfig, FuelUpdate, ModelParams};

const T0: i64 = 1_750_593_600_000;

#[derive(Debug, Clone)]
enum Op {
    Sample {
        car: usize,
        /// How far the race's clock moves on first.
        dt: i64,
        /// How far the sample's `ts` is from the clock (reordering, late samples).
        jitter: i64,
        lap: bool,
        frac: bool,
        throttle: u16,
    },
    CarOut(usize),
    Flag {
        yellow: bool,
    },
    PitIn(usize),
    PitOut(usize),
}

fn op(cars: usize) -> impl Strategy<Value = Op> {
    let sample = (
        0..cars,
        prop_oneof![40 => 0i64..300, 1 => 20_000i64..70_000],
        prop_oneof![6 => Just(0i64), 2 => -8_000i64..500],
        prop::bool::weighted(0.9),
        prop::bool::weighted(0.8),
        0u16..=1000,
    )
        .prop_map(|(car, dt, jitter, lap, frac, throttle)| Op::Sample {
            car,
            dt,
            jitter,
            lap,
            frac,
            throttle,
        });
    // About one retirement a race: more would leave most races without cars.
    prop_oneof![
        600 => sample,
        1 => (0..cars).prop_map(Op::CarOut),
        20 => any::<bool>().prop_map(|yellow| Op::Flag { yellow }),
        20 => (0..cars).prop_map(Op::PitIn),
        20 => (0..cars).prop_map(Op::PitOut),
    ]
}

fn race() -> impl Strategy<Value = (usize, Vec<Op>)> {
    (3usize..8).prop_flat_map(|cars| (Just(cars), prop::collection::vec(op(cars), 200..1500)))
}

/// The race's lines: each car laps every 3 s of its own time, so that green laps (and
/// with them figures) come in every few windows.
fn lines(cars: usize, ops: &[Op]) -> Vec<String> {
    let ids: Vec<String> = (0..cars).map(|c| format!("\"{}\"", c + 1)).collect();
    let mut out = vec![format!(
        r#"{{"v":1,"kind":"race_start","ts":{T0},"race_id":"r","track":"pocono","scheduled_laps":60,"cars":[{}]}}"#,
        ids.join(",")
    )];
    let mut t = T0;
    let mut pos: Vec<f64> = (0..cars).map(|c| c as f64 * 0.3).collect();
    let mut last: Vec<i64> = vec![T0; cars];
    for op in ops {
        let lead = pos.iter().copied().fold(0.0, f64::max).floor();
        out.push(match *op {
            Op::Sample {
                car,
                dt,
                jitter,
                lap,
                frac,
                throttle,
            } => {
                t += dt;
                pos[car] += (t - last[car]) as f64 / 3000.0;
                last[car] = t;
                let p = pos[car];
                let mut l = format!(
                    r#"{{"v":1,"race_id":"r","car":"{}","ts":{}"#,
                    car + 1,
                    (t + jitter).max(T0)
                );
                if lap {
                    l += &format!(r#","lap":{}"#, p.floor());
                }
                if frac {
                    l += &format!(r#","lap_frac":{:.4}"#, p.fract());
                }
                l += &format!(
                    r#","speed_mph":160.0,"rpm":8500,"throttle_pct":{:.1}}}"#,
                    f64::from(throttle) / 10.0
                );
                l
            }
            Op::CarOut(car) => format!(
                r#"{{"v":1,"kind":"car_out","ts":{t},"race_id":"r","car":"{}"}}"#,
                car + 1
            ),
            Op::Flag { yellow } => format!(
                r#"{{"v":1,"kind":"flag","ts":{t},"race_id":"r","flag":"{}","lap":{lead}}}"#,
                if yellow { "yellow" } else { "green" }
            ),
            Op::PitIn(car) => format!(
                r#"{{"v":1,"kind":"pit_in","ts":{t},"race_id":"r","car":"{}"}}"#,
                car + 1
            ),
            Op::PitOut(car) => format!(
                r#"{{"v":1,"kind":"pit_out","ts":{t},"race_id":"r","car":"{}","fuel_added_gal":5.0,"full":false}}"#,
                car + 1
            ),
        });
    }
    out
}

fn replay(lines: &[String]) -> Vec<FuelUpdate> {
    let mut engine = Engine::new(EngineConfig::default(), ModelParams::default());
    let mut out = Vec::new();
    for l in lines {
        let _ = engine.push_line(l.as_bytes(), &mut out);
    }
    engine.finish(&mut out);
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn cached_leader_laps_and_medians_are_the_uncached_ones((cars, ops) in race()) {
        // Every window's leader's lap and median comes through the checked cache, which
        // panics on a stale entry.
        let out = replay(&lines(cars, &ops));
        prop_assert!(!out.is_empty());
    }
}

/// The races above do reach what the cache serves: medians of three figures or more, and
/// final windows (entered from the leader's lap).
#[test]
fn the_races_reach_medians_and_final_windows() {
    let ops: Vec<Op> = (0..1200)
        .map(|i| Op::Sample {
            car: i % 4,
            dt: 120,
            jitter: if i % 7 == 0 { -3_000 } else { 0 },
            lap: true,
            frac: true,
            throttle: (i % 1000) as u16,
        })
        .collect();
    let out = replay(&lines(4, &ops));
    assert!(out.iter().any(|u| u.burn_index.is_some()), "no median");
    assert!(
        out.iter().any(|u| u.save_needed_pct.is_some()),
        "no final window"
    );
}
