//! Adaptive sampling: thins each car's high-rate channels to what 5 s windows need, more
//! as the backlog grows.
//!
//! # What is a channel here
//!
//! Producers send a car's channels in separate records at different rates (an engine
//! record with `rpm` and `throttle_pct` at hundreds of Hz, a tracking record with
//! `speed_mph` and `lap_frac` at 10 Hz). The bridge forwards records unchanged, so the
//! unit it can thin is the record, keyed by **car and channel group** (the set of channels
//! the record carries). Each key is capped independently: thinning the engine records
//! never touches the tracking ones.
//!
//! # The rule
//!
//! By event time: a record is kept when its `ts` is at least one interval (`1 / cap`) past
//! the last kept record of its key, and dropped (counted by car and channel group)
//! otherwise. Event time makes the decision independent of arrival jitter and keeps the
//! kept records evenly spaced, which is what the core's hold-for-at-most-1-s integration
//! wants. The cap falls from `max_hz` to `min_hz` as the queue fills (linearly in rate
//! between the low and high backlog marks). Race-control events never reach the sampler.
//!
//! # The clock
//!
//! Event time is the producer's clock, so one bad clock must not steer the rule: a sample
//! stamped more than [`FUTURE_MS`] past the bridge's wall clock is forwarded unthinned (the
//! processor rejects it as `ts_in_future` or under its own horizon, with the reason kept)
//! and never becomes its key's last kept time (`samples_future_stamped_total`).
//!
//! The cap is per replica: with queue groups each replica sees its share of a car's
//! records, so several replicas together may keep up to their number times the cap.

use std::collections::HashMap;

use burnbar_core::CarId;

use crate::config::SamplingConfig;

/// How far past the wall clock a sample's `ts` may be and still count for thinning: the
/// contract's `ts_in_future` margin. A sample stamped further ahead (a bad clock, the year
/// 9999) is forwarded, for the processor to judge and quarantine, but not remembered: it
/// would otherwise hold its key's last kept time in the future and drop every real sample
/// of the car after it.
pub const FUTURE_MS: i64 = 60_000;

/// What the sampler makes of one sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Forward it; it is the key's last kept sample now.
    Keep,
    /// Too soon after the key's last kept sample: drop it (counted as sampled).
    Thin,
    /// Stamped past the wall clock's horizon: forward it, remember nothing.
    FutureStamped,
}

/// Keys remembered at most. 40 cars times a few channel groups is about a hundred; past
/// this (a flood of distinct car ids) the memory is forgotten, which only lets the next
/// record of each key through.
pub const MAX_KEYS: usize = 4096;

/// The sampler of one replica.
#[derive(Debug)]
pub struct Sampler {
    cfg: SamplingConfig,
    last_kept: HashMap<(CarId, u16), i64>,
}

impl Sampler {
    pub fn new(cfg: SamplingConfig) -> Sampler {
        Sampler {
            cfg,
            last_kept: HashMap::new(),
        }
    }

    /// The cap in Hz at a queue fill of `backlog` (0 empty, 1 full).
    pub fn cap_hz(&self, backlog: f64) -> f64 {
        let c = &self.cfg;
        if backlog <= c.backlog_low {
            c.max_hz
        } else if backlog >= c.backlog_high {
            c.min_hz
        } else {
            let t = (backlog - c.backlog_low) / (c.backlog_high - c.backlog_low);
            c.max_hz + t * (c.min_hz - c.max_hz)
        }
    }

    /// The minimum spacing in ms of kept records of one key at `backlog`.
    pub fn interval_ms(&self, backlog: f64) -> i64 {
        (1000.0 / self.cap_hz(backlog)).round() as i64
    }

    /// What to do with a sample of `car` carrying `channels` at `ts`, with the queue at
    /// `backlog` and the wall clock at `now_ms`. Always forwarded when sampling is off.
    pub fn admit(
        &mut self,
        car: CarId,
        channels: u16,
        ts: i64,
        backlog: f64,
        now_ms: i64,
    ) -> Verdict {
        if !self.cfg.enabled {
            return Verdict::Keep;
        }
        if ts > now_ms.saturating_add(FUTURE_MS) {
            return Verdict::FutureStamped;
        }
        let interval = self.interval_ms(backlog);
        let key = (car, channels);
        match self.last_kept.get_mut(&key) {
            Some(last) => {
                if ts >= *last + interval {
                    *last = ts;
                    Verdict::Keep
                } else {
                    Verdict::Thin
                }
            }
            None => {
                if self.last_kept.len() >= MAX_KEYS {
                    self.last_kept.clear();
                }
                self.last_kept.insert(key, ts);
                Verdict::Keep
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burnbar_core::contract::Channels;

    fn cfg() -> SamplingConfig {
        SamplingConfig {
            enabled: true,
            max_hz: 10.0,
            min_hz: 2.0,
            backlog_low: 0.25,
            backlog_high: 0.75,
        }
    }

    #[test]
    fn the_cap_falls_with_the_backlog() {
        let s = Sampler::new(cfg());
        assert_eq!(s.cap_hz(0.0), 10.0);
        assert_eq!(s.cap_hz(0.25), 10.0);
        assert_eq!(s.cap_hz(0.5), 6.0);
        assert_eq!(s.cap_hz(0.9), 2.0);
        assert_eq!(s.interval_ms(0.0), 100);
        assert_eq!(s.interval_ms(1.0), 500);
    }

    #[test]
    fn each_car_and_channel_group_is_capped_on_its_own() {
        let mut s = Sampler::new(cfg());
        let car = CarId::parse("9").unwrap();
        let other = CarId::parse("10").unwrap();
        let engine = Channels::RPM | Channels::THROTTLE;
        let tracking = Channels::SPEED | Channels::LAP_FRAC;
        let t0 = 1_750_593_600_000;
        // 200 Hz engine records for 1 s: 10 kept (every 100 ms).
        let kept = (0..200)
            .filter(|i| s.admit(car, engine, t0 + i * 5, 0.0, NOW) == Verdict::Keep)
            .count();
        assert_eq!(kept, 10);
        // Tracking records at 10 Hz of the same car are untouched, as is another car.
        assert!((0..10).all(|i| s.admit(car, tracking, t0 + i * 100, 0.0, NOW) == Verdict::Keep));
        assert_eq!(s.admit(other, engine, t0 + 3, 0.0, NOW), Verdict::Keep);
        // An older record than the last kept one is dropped.
        assert_eq!(s.admit(car, engine, t0, 0.0, NOW), Verdict::Thin);
    }

    /// A wall clock for the tests: 2025-06-22T12:10:00Z.
    const NOW: i64 = 1_750_594_200_000;

    #[test]
    fn a_sample_stamped_in_the_far_future_does_not_silence_the_car() {
        let mut s = Sampler::new(cfg());
        let car = CarId::parse("9").unwrap();
        let engine = Channels::RPM | Channels::THROTTLE;
        let t0 = NOW - 10_000;
        assert_eq!(s.admit(car, engine, t0, 0.0, NOW), Verdict::Keep);
        // The year 9999, and a minute and a bit ahead: forwarded, not remembered.
        let y9999 = 253_402_300_799_000;
        assert_eq!(
            s.admit(car, engine, y9999, 0.0, NOW),
            Verdict::FutureStamped
        );
        assert_eq!(
            s.admit(car, engine, NOW + FUTURE_MS + 1, 0.0, NOW),
            Verdict::FutureStamped
        );
        // The car's real samples go on being kept at the cap.
        let kept = (1..=20)
            .filter(|i| s.admit(car, engine, t0 + i * 50, 0.0, NOW) == Verdict::Keep)
            .count();
        assert_eq!(kept, 10);
        // Up to the horizon a sample still counts (clocks differ a little).
        assert_eq!(
            s.admit(car, engine, NOW + FUTURE_MS, 0.0, NOW),
            Verdict::Keep
        );
    }

    #[test]
    fn off_keeps_everything() {
        let mut s = Sampler::new(SamplingConfig {
            enabled: false,
            ..cfg()
        });
        let car = CarId::parse("1").unwrap();
        assert!((0..100).all(|i| s.admit(car, Channels::RPM, i, 1.0, NOW) == Verdict::Keep));
    }

    /// Fuel used per car (the last update's `used_race_gal`) over a whole race, feeding
    /// the engine every line, or only the lines the sampler keeps at `backlog`.
    fn fuel_per_car(
        lines: &[(i64, String)],
        sampler: Option<(&mut Sampler, f64)>,
    ) -> (std::collections::BTreeMap<String, f64>, usize) {
        use burnbar_core::{Engine, EngineConfig, ModelParams};
        let mut engine = Engine::new(EngineConfig::default(), ModelParams::default());
        let mut router = crate::route::Router::default();
        let mut updates = Vec::new();
        let mut fed = 0;
        let mut sampler = sampler;
        for (_, line) in lines {
            if let Some((s, backlog)) = sampler.as_mut() {
                match router.route(line.as_bytes()) {
                    Ok(crate::route::Routed::Sample { car, ts, channels }) => {
                        if s.admit(car, channels, ts, *backlog, i64::MAX) == Verdict::Thin {
                            continue;
                        }
                    }
                    Ok(crate::route::Routed::Event { .. }) => {}
                    Err(_) => continue,
                }
            }
            fed += 1;
            let _ = engine.push_line(line.as_bytes(), &mut updates);
        }
        engine.finish(&mut updates);
        let mut used = std::collections::BTreeMap::new();
        for u in &updates {
            used.insert(u.car.as_str().to_owned(), u.used_race_gal);
        }
        (used, fed)
    }

    /// The accuracy check: a simulated race at 50 Hz, run through the engine in
    /// full and sampled at the default caps (with no backlog, and at full backlog), gives
    /// per-car fuel totals within 1 %.
    #[test]
    fn fuel_from_sampled_input_stays_within_one_percent_of_full_input() {
        let sim = burnbar_sim::SimConfig {
            track: "pocono".into(),
            laps: Some(6),
            cars: 8,
            hz: 50,
            seed: 21,
            ..burnbar_sim::SimConfig::default()
        };
        let lines: Vec<(i64, String)> = burnbar_sim::Simulation::new(&sim).unwrap().collect();
        let (full, n_full) = fuel_per_car(&lines, None);
        assert_eq!(full.len(), 8);
        let defaults = crate::config::Config::default().sampling;
        for backlog in [0.0, 1.0] {
            let mut s = Sampler::new(defaults);
            let hz = s.cap_hz(backlog);
            let (sampled, n) = fuel_per_car(&lines, Some((&mut s, backlog)));
            assert!(
                n < n_full / 4,
                "sampling at {hz} Hz kept {n} of {n_full} lines"
            );
            let mut worst: f64 = 0.0;
            for (car, f) in &full {
                let g = sampled[car];
                let err = (g - f).abs() / f;
                worst = worst.max(err);
                assert!(
                    err < 0.01,
                    "car {car} at {hz} Hz: {g:.4} gal sampled, {f:.4} gal full ({:.2} %)",
                    err * 100.0
                );
            }
            eprintln!(
                "sampled at {hz} Hz: kept {n} of {n_full} lines, worst per-car fuel error {:.3} %",
                worst * 100.0
            );
        }
    }
}
