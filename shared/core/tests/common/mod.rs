//! A small, deterministic multi-car race for the property and schema tests: a race_start,
//! flags (with a caution), pit stops of every fill kind, a car_out, 2–5 cars at 10 Hz with
//! random throttle, rpm, speed and lap progress, split channels and short dropouts.
//!
//! The whole race is a pure function of [`RaceGen`], so a failing case is reproduced from
//! the values proptest prints.

#![allow(dead_code)] // each test crate uses a different part

use burnbar_core::{Engine, EngineConfig, FuelUpdate, ModelParams};

/// 2025-06-22T12:00:00Z, a multiple of the 5 s window.
pub const T0: i64 = 1_750_593_600_000;
pub const RACE: &str = "prop-race";

/// What to generate.
#[derive(Debug, Clone)]
pub struct RaceGen {
    /// Seeds every random choice of the race.
    pub seed: u64,
    /// 2–5 cars.
    pub cars: usize,
    /// Length of the race, seconds of event time.
    pub secs: i64,
    pub capacity_gal: f64,
    /// A yellow (with an incident) and the green after it.
    pub caution: bool,
    /// Pit stops, for about half the cars.
    pub pits: bool,
    /// One car retires.
    pub car_out: bool,
    /// Some cars send engine and tracking channels as separate records with the same ts.
    pub split: bool,
}

/// One input line and what the tests need to know about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub text: String,
    pub ts: i64,
    /// A race-control event (never moved by the reordering property).
    pub event: bool,
}

/// splitmix64: tiny, fast and good enough for test data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    /// Uniform in lo..hi (integers).
    pub fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo) as u64) as i64
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

const NAMES: [&str; 5] = ["19", "00", "5", "11", "48"];
const TRACK_MI: f64 = 0.5;

#[derive(Debug, Clone)]
struct Pit {
    car: usize,
    pit_in: i64,
    stand_from: i64,
    stand_to: i64,
    pit_out: i64,
}

#[derive(Debug, Clone)]
struct CarSim {
    name: &'static str,
    phase_ms: i64,
    split: bool,
    throttle: f64,
    rpm_base: f64,
    pos: f64,
    gap_until: i64,
    out_at: Option<i64>,
}

/// The race's NDJSON lines in file order: events placed at their ts, before the samples
/// of the same ts.
pub fn generate(g: &RaceGen) -> Vec<Line> {
    let mut rng = Rng::new(g.seed);
    let end = T0 + g.secs * 1_000;
    let names = &NAMES[..g.cars];
    let mut events: Vec<(i64, String)> = Vec::new();

    let laps = rng.int(20, 200);
    let cars_json = names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(",");
    events.push((
        T0,
        format!(
            r#"{{"v":1,"kind":"race_start","ts":{T0},"race_id":"{RACE}","track":"test-oval","track_length_mi":{TRACK_MI},"scheduled_laps":{laps},"fuel_capacity_gal":{},"cars":[{cars_json}],"drivers":{{"{}":"A. Driver","{}":"B. Driver"}}}}"#,
            g.capacity_gal, names[0], names[1]
        ),
    ));
    events.push((
        T0,
        format!(r#"{{"v":1,"kind":"flag","ts":{T0},"flag":"green","lap":0}}"#),
    ));

    let mut caution: Option<(i64, i64)> = None;
    if g.caution {
        let y = T0 + rng.int(15_000, (g.secs - 30) * 1_000);
        let gr = y + rng.int(8_000, 20_000);
        caution = Some((y, gr));
        events.push((
            y - 500,
            format!(
                r#"{{"v":1,"kind":"incident","ts":{},"cars":["{}"],"lap":3}}"#,
                y - 500,
                names[rng.int(0, g.cars as i64) as usize]
            ),
        ));
        events.push((
            y,
            format!(r#"{{"v":1,"kind":"flag","ts":{y},"flag":"yellow","lap":3}}"#),
        ));
        events.push((
            gr,
            format!(r#"{{"v":1,"kind":"flag","ts":{gr},"flag":"green"}}"#),
        ));
    }
    let stage_ts = T0 + rng.int(20_000, g.secs * 1_000 - 5_000);
    events.push((
        stage_ts,
        format!(r#"{{"v":1,"kind":"stage_end","ts":{stage_ts},"stage":1}}"#),
    ));

    // The car that retires (if any) makes no pit stop, so that no event names a car
    // after its car_out.
    let retire = g.car_out.then(|| {
        (
            rng.int(0, g.cars as i64) as usize,
            T0 + rng.int(30_000, g.secs * 1_000 - 5_000),
        )
    });
    let mut pits: Vec<Pit> = Vec::new();
    if g.pits {
        for (car, &name) in names.iter().enumerate() {
            if retire.is_some_and(|(c, _)| c == car) || !rng.chance(0.6) {
                continue;
            }
            let pit_in = T0 + rng.int(10_000, (g.secs - 25) * 1_000);
            let stand_from = pit_in + rng.int(1_000, 3_000);
            let stand_to = stand_from + rng.int(100, 6_000);
            let pit_out = stand_to + rng.int(500, 3_000);
            pits.push(Pit {
                car,
                pit_in,
                stand_from,
                stand_to,
                pit_out,
            });
            events.push((
                pit_in,
                format!(r#"{{"v":1,"kind":"pit_in","ts":{pit_in},"car":"{name}","lap":4}}"#),
            ));
            let fill = match rng.int(0, 4) {
                0 => format!(r#","fuel_added_gal":{:.2}"#, rng.range(0.0, 12.0)),
                1 => r#","fuel_added_gal":null,"full":true"#.to_owned(),
                2 => r#","fuel_added_gal":null,"full":null"#.to_owned(),
                _ => r#","full":false"#.to_owned(),
            };
            events.push((
                pit_out,
                format!(r#"{{"v":1,"kind":"pit_out","ts":{pit_out},"car":"{name}"{fill}}}"#),
            ));
        }
    }

    let mut sims: Vec<CarSim> = names
        .iter()
        .map(|&name| CarSim {
            name,
            phase_ms: rng.int(0, 100),
            split: g.split && rng.chance(0.5),
            throttle: rng.range(60.0, 100.0),
            rpm_base: rng.range(7_000.0, 9_200.0),
            pos: rng.range(0.0, 0.3),
            gap_until: i64::MIN,
            out_at: None,
        })
        .collect();
    if let Some((car, at)) = retire {
        sims[car].out_at = Some(at);
        events.push((
            at,
            format!(
                r#"{{"v":1,"kind":"car_out","ts":{at},"car":"{}","reason":"engine"}}"#,
                sims[car].name
            ),
        ));
    }
    let mut samples: Vec<(i64, String)> = Vec::new();
    let mut k = 0i64;
    while T0 + k * 100 < end {
        for (ci, car) in sims.iter_mut().enumerate() {
            let ts = T0 + k * 100 + car.phase_ms;
            if ts >= end || car.out_at.is_some_and(|t| ts >= t) {
                continue;
            }
            if ts < car.gap_until {
                continue;
            }
            if rng.chance(0.002) {
                // A dropout of 1.2–2.5 s: channels go missing after their 1 s hold.
                car.gap_until = ts + rng.int(1_200, 2_500);
                continue;
            }
            let pit = pits
                .iter()
                .find(|p| p.car == ci && ts >= p.pit_in && ts < p.pit_out);
            let yellow = caution.is_some_and(|(y, gr)| ts >= y && ts < gr);
            car.throttle = (car.throttle + rng.range(-12.0, 12.0)).clamp(-5.0, 105.0);
            let (throttle, rpm, speed) = if let Some(p) = pit {
                let standing = ts >= p.stand_from && ts < p.stand_to;
                if standing {
                    (0.0, rng.range(1_200.0, 1_800.0), 0.0)
                } else {
                    (rng.range(0.0, 25.0), rng.range(2_500.0, 4_500.0), 45.0)
                }
            } else if yellow {
                (
                    rng.range(10.0, 35.0),
                    rng.range(3_500.0, 5_000.0),
                    rng.range(55.0, 75.0),
                )
            } else {
                let t = car.throttle.clamp(0.0, 100.0);
                (
                    car.throttle,
                    (car.rpm_base - 1_500.0 + 15.0 * t + rng.range(-150.0, 150.0))
                        .clamp(0.0, 12_000.0),
                    (120.0 + 0.7 * t + rng.range(-3.0, 3.0)).clamp(0.0, 300.0),
                )
            };
            car.pos += speed * 0.1 / 3600.0 / TRACK_MI;
            // Position on a 1e-4 lap grid, so that lap_frac is written exactly and stays < 1.
            let units = (car.pos * 10_000.0).floor() as i64;
            let (lap, frac) = (units / 10_000, units % 10_000);
            let in_pit = pit.is_some();
            let name = car.name;
            let mut engine = format!(r#""rpm":{rpm:.1}"#);
            if !rng.chance(0.03) {
                // Sometimes the throttle channel is missing: it is held, or defaulted.
                engine.push_str(&format!(r#","throttle_pct":{throttle:.1}"#));
            }
            let tracking = format!(
                r#""lap":{lap},"lap_frac":0.{frac:04},"speed_mph":{speed:.2},"in_pit":{in_pit},"gap_ahead_s":{:.2}"#,
                rng.range(0.0, 3.0)
            );
            if car.split {
                let e = format!(r#"{{"v":1,"car":"{name}","ts":{ts},{engine},"gear":4}}"#);
                let t = format!(r#"{{"v":1,"kind":"sample","car":"{name}","ts":{ts},{tracking}}}"#);
                if rng.chance(0.5) {
                    samples.push((ts, e));
                    samples.push((ts, t));
                } else {
                    samples.push((ts, t));
                    samples.push((ts, e));
                }
            } else {
                let race = if rng.chance(0.1) {
                    format!(r#","race_id":"{RACE}""#)
                } else {
                    String::new()
                };
                samples.push((
                    ts,
                    format!(r#"{{"v":1,"car":"{name}","ts":{ts}{race},{engine},{tracking}}}"#),
                ));
            }
        }
        k += 1;
    }

    // Events first at equal ts; otherwise by ts (stable: generation order).
    let mut lines: Vec<(i64, u8, usize, String)> = Vec::new();
    for (i, (ts, text)) in events.into_iter().enumerate() {
        lines.push((ts, 0, i, text));
    }
    for (i, (ts, text)) in samples.into_iter().enumerate() {
        lines.push((ts, 1, i, text));
    }
    lines.sort_by_key(|l| (l.0, l.1, l.2));
    lines
        .into_iter()
        .map(|(ts, kind, _, text)| Line {
            text,
            ts,
            event: kind == 0,
        })
        .collect()
}

/// A fresh engine with the default configuration and model.
pub fn engine() -> Engine {
    Engine::new(EngineConfig::default(), ModelParams::default())
}

/// Replays lines through one engine and returns every update, `finish` included.
pub fn replay<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<FuelUpdate> {
    let mut e = engine();
    let mut out = Vec::new();
    for line in lines {
        let _ = e.push_line(line.as_bytes(), &mut out);
    }
    e.finish(&mut out);
    out
}

/// The updates as a subscriber receives them: one JSON line each.
pub fn wire(updates: &[FuelUpdate]) -> Vec<String> {
    updates
        .iter()
        .map(|u| serde_json::to_string(u).expect("a FuelUpdate serializes"))
        .collect()
}

pub fn texts(lines: &[Line]) -> impl Iterator<Item = &str> {
    lines.iter().map(|l| l.text.as_str())
}
