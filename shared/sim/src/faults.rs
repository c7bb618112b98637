//! `--faults F`: what a real feed does to samples on the way, never to the race.
//!
//! A share `F` of samples gets one of four faults, chosen evenly:
//!
//! - **duplicated**: the same line twice (a producer retry, a re-delivered batch);
//! - **delayed**: held back and written after later samples, by at most
//!   [`MAX_DELAY_MS`] of event time, and never past a race-control event (a delayed
//!   sample is flushed before the next event, so its order against events holds);
//! - **split**: written as an engine record (`rpm`, `throttle_pct`, `gear`) and a tracking
//!   record (`lap`, `lap_frac`, `speed_mph`, `in_pit`, `gap_ahead_s`, `brake_psi`) with the
//!   same car and `ts`, in either order;
//! - **next to a malformed record**: an extra line, before or after, that the spec
//!   rejects whole (bad JSON, wrong type, out of range, missing car, wrong version, …).
//!
//! The faults draw from their own random stream, so the race (and the truth) is the same
//! for every `F`; and each fault keeps every `(car, ts)` and its values, so merging the
//! records per the spec gives back exactly the samples written without faults.

use crate::output::{self, Channels, LineSink, SampleVals};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// The longest a sample is held back, ms of event time.
pub const MAX_DELAY_MS: i64 = 3_000;

/// How many faults of each kind were injected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct FaultCounts {
    /// Samples written twice.
    pub duplicated: u64,
    /// Samples written late.
    pub delayed: u64,
    /// Samples written as two records.
    pub split: u64,
    /// Invalid lines added.
    pub malformed: u64,
}

#[derive(Debug)]
struct Held {
    release_ts: i64,
    seq: u64,
    ts: i64,
    line: Vec<u8>,
}

/// The fault injector between the race and the output.
#[derive(Debug)]
pub(crate) struct Faults {
    rate: f64,
    rng: ChaCha8Rng,
    held: Vec<Held>,
    seq: u64,
    pub counts: FaultCounts,
    scratch: Vec<u8>,
}

impl Faults {
    pub fn new(rate: f64, rng: ChaCha8Rng) -> Faults {
        Faults {
            rate,
            rng,
            held: Vec::new(),
            seq: 0,
            counts: FaultCounts::default(),
            scratch: Vec::new(),
        }
    }

    /// Writes every held sample (before a race-control event, or at the end).
    pub fn flush_all(&mut self, out: &mut LineSink) {
        self.release(i64::MAX, out);
    }

    /// Writes the held samples whose delay ends before `now` (called before the samples
    /// of tick `now` are written).
    pub fn release(&mut self, now: i64, out: &mut LineSink) {
        if self.held.is_empty() || self.held.iter().all(|h| h.release_ts >= now) {
            return;
        }
        let mut due: Vec<Held> = Vec::new();
        let mut keep = Vec::with_capacity(self.held.len());
        for h in self.held.drain(..) {
            if h.release_ts < now {
                due.push(h);
            } else {
                keep.push(h);
            }
        }
        self.held = keep;
        due.sort_by_key(|h| (h.release_ts, h.seq));
        for h in due {
            out.raw(h.ts, &h.line);
        }
    }

    /// Writes one sample, perhaps with a fault.
    pub fn sample(&mut self, prefix: &[u8], s: &SampleVals, out: &mut LineSink) {
        if self.rate <= 0.0 || self.rng.random::<f64>() >= self.rate {
            out.line(s.ts, |b| output::sample(b, prefix, s, Channels::All));
            return;
        }
        match self.rng.random_range(0..4u8) {
            0 => {
                self.counts.duplicated += 1;
                self.scratch.clear();
                output::sample(&mut self.scratch, prefix, s, Channels::All);
                out.raw(s.ts, &self.scratch);
                out.raw(s.ts, &self.scratch);
            }
            1 => {
                self.counts.delayed += 1;
                let delay = self.rng.random_range(100..=MAX_DELAY_MS);
                let mut line = Vec::with_capacity(200);
                output::sample(&mut line, prefix, s, Channels::All);
                self.seq += 1;
                self.held.push(Held {
                    release_ts: s.ts + delay,
                    seq: self.seq,
                    ts: s.ts,
                    line,
                });
            }
            2 => {
                self.counts.split += 1;
                let (a, b) = if self.rng.random::<bool>() {
                    (Channels::Engine, Channels::Tracking)
                } else {
                    (Channels::Tracking, Channels::Engine)
                };
                out.line(s.ts, |buf| output::sample(buf, prefix, s, a));
                out.line(s.ts, |buf| output::sample(buf, prefix, s, b));
            }
            _ => {
                self.counts.malformed += 1;
                let kind = self.rng.random_range(0..MALFORMED_KINDS);
                let before = self.rng.random::<bool>();
                self.scratch.clear();
                malformed(&mut self.scratch, prefix, s, kind);
                if before {
                    out.raw(s.ts, &self.scratch);
                }
                out.line(s.ts, |b| output::sample(b, prefix, s, Channels::All));
                if !before {
                    out.raw(s.ts, &self.scratch);
                }
            }
        }
    }
}

const MALFORMED_KINDS: u8 = 10;

/// An invalid line near sample `s`: every kind is rejected whole by `telemetry-v1`.
fn malformed(buf: &mut Vec<u8>, prefix: &[u8], s: &SampleVals, kind: u8) {
    match kind {
        // Cut short: not JSON.
        0 => {
            output::sample(buf, prefix, s, Channels::All);
            let keep = buf.len() * 2 / 3;
            buf.truncate(keep);
        }
        // Wrong type: a number as a string.
        1 => {
            buf.extend_from_slice(prefix);
            output::int(buf, s.ts);
            buf.extend_from_slice(b",\"speed_mph\":\"");
            output::fixed(buf, s.speed_e1 as i64, 1);
            buf.extend_from_slice(b"\"}");
        }
        // Out of range: a speed no car reaches.
        2 => {
            buf.extend_from_slice(prefix);
            output::int(buf, s.ts);
            buf.extend_from_slice(b",\"speed_mph\":412.7,\"rpm\":");
            output::int(buf, s.rpm as i64);
            buf.push(b'}');
        }
        // Out of range: a lap fraction past 1.
        3 => {
            buf.extend_from_slice(prefix);
            output::int(buf, s.ts);
            buf.extend_from_slice(b",\"lap_frac\":1.25,\"throttle_pct\":50.0}");
        }
        // Missing car.
        4 => {
            buf.extend_from_slice(b"{\"v\":1,\"ts\":");
            output::int(buf, s.ts);
            buf.extend_from_slice(b",\"speed_mph\":");
            output::fixed(buf, s.speed_e1 as i64, 1);
            buf.push(b'}');
        }
        // Wrong contract version.
        5 => {
            output::sample(buf, prefix, s, Channels::All);
            buf[5] = b'2'; // `{"v":1` → `{"v":2`
        }
        // An integer written with a fraction.
        6 => {
            buf.extend_from_slice(prefix);
            output::int(buf, s.ts);
            buf.extend_from_slice(b".0,\"rpm\":");
            output::int(buf, s.rpm as i64);
            buf.push(b'}');
        }
        // Not an object.
        7 => buf.extend_from_slice(b"[1,2,3]"),
        // An empty sample: none of speed, rpm, throttle.
        8 => {
            buf.extend_from_slice(prefix);
            output::int(buf, s.ts);
            buf.extend_from_slice(b",\"lap\":");
            output::int(buf, s.lap as i64);
            buf.push(b'}');
        }
        // A gear that is not an integer.
        _ => {
            buf.extend_from_slice(prefix);
            output::int(buf, s.ts);
            buf.extend_from_slice(b",\"gear\":2.5,\"rpm\":");
            output::int(buf, s.rpm as i64);
            buf.push(b'}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn every_malformed_kind_is_invalid_json_or_breaks_a_rule() {
        let s = SampleVals {
            ts: 1_750_593_600_100,
            lap: 3,
            frac_e4: 12,
            speed_e1: 1700,
            rpm: 9000,
            throttle_e1: 1000,
            brake_psi: 0,
            gear: 5,
            gap_e2: None,
            in_pit: false,
        };
        let prefix = output::sample_prefix("r", "7");
        for kind in 0..MALFORMED_KINDS {
            let mut b = Vec::new();
            malformed(&mut b, &prefix, &s, kind);
            let text = String::from_utf8(b).unwrap();
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            let Some(o) = v.as_object() else { continue };
            let bad = o.get("v") != Some(&serde_json::json!(1))
                || o.get("car").is_none()
                || !o.get("ts").is_some_and(|t| t.is_i64())
                || o.get("speed_mph")
                    .is_some_and(|x| !x.is_number() || x.as_f64() > Some(300.0))
                || o.get("lap_frac").is_some_and(|x| x.as_f64() >= Some(1.0))
                || o.get("gear").is_some_and(|x| !x.is_u64())
                || !(o.contains_key("speed_mph")
                    || o.contains_key("rpm")
                    || o.contains_key("throttle_pct"));
            assert!(bad, "kind {kind} is valid: {text}");
        }
    }

    #[test]
    fn delayed_samples_come_out_in_delay_order_and_all_on_flush() {
        let mut f = Faults::new(1.0, ChaCha8Rng::seed_from_u64(3));
        let mut out = LineSink::default();
        let prefix = output::sample_prefix("r", "7");
        for k in 0..200 {
            let s = SampleVals {
                ts: k * 100,
                lap: 0,
                frac_e4: 0,
                speed_e1: 1,
                rpm: 1,
                throttle_e1: 1,
                brake_psi: 0,
                gear: 1,
                gap_e2: None,
                in_pit: false,
            };
            f.release(s.ts, &mut out);
            f.sample(&prefix, &s, &mut out);
        }
        f.flush_all(&mut out);
        assert!(f.held.is_empty());
        let c = f.counts;
        assert_eq!(c.duplicated + c.delayed + c.split + c.malformed, 200);
        assert!(c.delayed > 20);
    }
}
