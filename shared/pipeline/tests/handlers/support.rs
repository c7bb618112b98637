//! A race written out here rather than by the simulator: the mid-race deploy test keeps
//! the previous version's stored items for its first half as a fixture, so its input must
//! not move when the simulator changes.
//!
//! Six cars on a 1 mi oval at 2 Hz for 40 minutes: green running with a throttle that
//! follows the corners, a caution with stops at 15 minutes (weighed fills and live ones,
//! with and without the official pit data), a stage end, a car taken out, a stop that
//! straddles the cut at 20 minutes, and a second caution with stops after it.

/// 2025-06-22T12:00:00Z.
pub const T0: i64 = 1_750_593_600_000;
/// The race's length, and the cut the fixture was written at.
pub const RACE_MS: i64 = 40 * 60_000;
pub const CUT_MS: i64 = 20 * 60_000;

const CARS: [&str; 6] = ["1", "2", "3", "4", "5", "6"];
const TICK_MS: i64 = 500;

/// When a caution is out: (from, to) in ms after T0.
const CAUTIONS: [(i64, i64); 2] = [(14 * 60_000, 17 * 60_000), (29 * 60_000, 32 * 60_000)];

/// One stop: car index, pit_in and pit_out times (ms after T0), and the pit_out's
/// fields after `car`.
struct Stop {
    car: usize,
    pit_in: i64,
    pit_out: i64,
    fields: &'static str,
}

const STOPS: [Stop; 7] = [
    Stop {
        car: 0,
        pit_in: 14 * 60_000 + 40_000,
        pit_out: 14 * 60_000 + 62_000,
        fields: r#","lap":36,"fuel_added_gal":9.5,"full":true,"tires":4,"box_s":12.1"#,
    },
    Stop {
        car: 1,
        pit_in: 14 * 60_000 + 41_000,
        pit_out: 14 * 60_000 + 59_000,
        fields: r#","lap":36,"fuel_added_gal":6.25,"full":false"#,
    },
    Stop {
        car: 2,
        pit_in: 14 * 60_000 + 42_000,
        pit_out: 14 * 60_000 + 63_500,
        fields: r#","lap":35,"fuel_added_gal":null,"full":null,"tires":2,"box_s":10.4"#,
    },
    Stop {
        car: 3,
        pit_in: 14 * 60_000 + 43_000,
        pit_out: 14 * 60_000 + 61_000,
        fields: r#","lap":35,"fuel_added_gal":null,"full":null"#,
    },
    // Straddles the cut: pit_in before it, pit_out after.
    Stop {
        car: 5,
        pit_in: CUT_MS - 6_000,
        pit_out: CUT_MS + 9_000,
        fields: r#","lap":48,"fuel_added_gal":null,"full":null,"tires":0,"box_s":5.2"#,
    },
    Stop {
        car: 0,
        pit_in: 29 * 60_000 + 40_000,
        pit_out: 29 * 60_000 + 58_000,
        fields: r#","lap":72,"fuel_added_gal":8.0,"full":true"#,
    },
    Stop {
        car: 2,
        pit_in: 29 * 60_000 + 42_000,
        pit_out: 29 * 60_000 + 60_000,
        fields: r#","lap":71,"fuel_added_gal":null,"full":null,"tires":4,"box_s":11.0"#,
    },
];

/// Car 5 (index 4) retires at 18 minutes.
const OUT_MS: i64 = 18 * 60_000;

fn under_caution(ms: i64) -> bool {
    CAUTIONS.iter().any(|&(a, b)| ms >= a && ms < b)
}

fn stop_of(car: usize, ms: i64) -> Option<&'static Stop> {
    STOPS
        .iter()
        .find(|s| s.car == car && ms >= s.pit_in && ms < s.pit_out)
}

/// Car `i`'s sample at `ms`, with its distance so far (miles, advanced by the caller).
fn sample(i: usize, ms: i64, miles: f64) -> String {
    let car = CARS[i];
    let ts = T0 + ms;
    let (lap, frac) = (miles.floor() as i64, miles.fract());
    if let Some(stop) = stop_of(i, ms) {
        // Into the box, stationary, out again.
        let speed = if ms - stop.pit_in < 4_000 || stop.pit_out - ms < 3_000 {
            45.0
        } else {
            0.0
        };
        return format!(
            r#"{{"v":1,"race_id":"dep","car":"{car}","ts":{ts},"lap":{lap},"lap_frac":{frac:.4},"speed_mph":{speed:.1},"rpm":3000,"throttle_pct":8,"gear":1,"in_pit":true}}"#
        );
    }
    let (speed, throttle, rpm) = if under_caution(ms) {
        (70.0, 15.0, 3900.0)
    } else {
        // Full throttle on the straights, a lift into each corner, a little more for
        // the later cars (their own driving).
        let corner = (frac * 4.0).fract() > 0.6;
        let lift = if corner { 35.0 + 4.0 * i as f64 } else { 100.0 };
        (
            if corner { 150.0 } else { 175.0 },
            lift,
            7200.0 + 18.0 * lift,
        )
    };
    format!(
        r#"{{"v":1,"race_id":"dep","car":"{car}","ts":{ts},"lap":{lap},"lap_frac":{frac:.4},"speed_mph":{speed:.1},"rpm":{rpm:.0},"throttle_pct":{throttle:.1},"gear":4,"gap_ahead_s":{:.2}}}"#,
        0.3 + 0.1 * i as f64
    )
}

/// Every line of the race with its `ts`, in arrival order (samples of an instant, then
/// the race-control events stamped at it).
pub fn lines() -> Vec<(i64, String)> {
    let mut out = vec![(
        T0,
        format!(
            r#"{{"v":1,"kind":"race_start","ts":{T0},"race_id":"dep","track":"dep-oval","track_length_mi":1.0,"scheduled_laps":100,"fuel_capacity_gal":18,"cars":["1","2","3","4","5","6"],"drivers":{{"1":"A. One","2":"B. Two"}}}}"#
        ),
    )];
    out.push((
        T0,
        format!(r#"{{"v":1,"kind":"flag","race_id":"dep","ts":{T0},"flag":"green","lap":0}}"#),
    ));
    let mut miles = [0.0_f64; 6];
    let mut ms = 0;
    while ms <= RACE_MS {
        for (i, m) in miles.iter_mut().enumerate() {
            if i == 4 && ms > OUT_MS {
                continue;
            }
            out.push((T0 + ms, sample(i, ms, *m)));
            let mph = if stop_of(i, ms).is_some() {
                8.0
            } else if under_caution(ms) {
                70.0
            } else {
                160.0 - 0.8 * i as f64
            };
            *m += mph * TICK_MS as f64 / 3_600_000.0;
        }
        out.extend(events_at(ms).into_iter().map(|l| (T0 + ms, l)));
        ms += TICK_MS;
    }
    out
}

/// The race-control lines stamped at `ms`.
fn events_at(ms: i64) -> Vec<String> {
    let ts = T0 + ms;
    let mut ev = Vec::new();
    for (n, &(from, to)) in CAUTIONS.iter().enumerate() {
        let lap = 34 + 36 * n;
        if ms == from {
            ev.push(format!(
                r#"{{"v":1,"kind":"flag","race_id":"dep","ts":{ts},"flag":"yellow","lap":{lap}}}"#
            ));
        }
        if ms == to {
            ev.push(format!(
                r#"{{"v":1,"kind":"flag","race_id":"dep","ts":{ts},"flag":"green","lap":{}}}"#,
                lap + 5
            ));
        }
    }
    for s in &STOPS {
        let car = CARS[s.car];
        if ms == s.pit_in {
            ev.push(format!(
                r#"{{"v":1,"kind":"pit_in","race_id":"dep","ts":{ts},"car":"{car}"}}"#
            ));
        }
        if ms == s.pit_out {
            ev.push(format!(
                r#"{{"v":1,"kind":"pit_out","race_id":"dep","ts":{ts},"car":"{car}"{}}}"#,
                s.fields
            ));
        }
    }
    if ms == 16 * 60_000 {
        ev.push(format!(
            r#"{{"v":1,"kind":"stage_end","race_id":"dep","ts":{ts},"stage":1,"lap":38}}"#
        ));
    }
    if ms == OUT_MS {
        ev.push(format!(
            r#"{{"v":1,"kind":"car_out","race_id":"dep","ts":{ts},"car":"5","reason":"engine"}}"#
        ));
        ev.push(format!(
            r#"{{"v":1,"kind":"incident","race_id":"dep","ts":{ts},"cars":["5"],"lap":44}}"#
        ));
    }
    if ms == RACE_MS {
        ev.push(format!(
            r#"{{"v":1,"kind":"flag","race_id":"dep","ts":{ts},"flag":"checkered","lap":98}}"#
        ));
    }
    ev
}

/// Cars whose fuel the previous version sized before the cut from a stop with no weighed
/// amount, with the `ts` of their next stop's `pit_out` after the cut (when they get one):
/// until then their band carries the doubt that version gave the fill.
pub fn unweighed_before_cut() -> Vec<(&'static str, Option<i64>)> {
    let unweighed = |s: &Stop| s.fields.contains("\"fuel_added_gal\":null");
    STOPS
        .iter()
        .filter(|s| s.pit_out < CUT_MS && unweighed(s))
        .map(|s| {
            let next = STOPS
                .iter()
                .filter(|n| n.car == s.car && n.pit_in >= CUT_MS)
                .map(|n| T0 + n.pit_out)
                .min();
            (CARS[s.car], next)
        })
        .collect()
}
