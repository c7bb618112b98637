//! Writing `telemetry-v1` records: samples straight into a reused byte buffer, events and
//! truth lines by hand so every number has the decimals the spec promises.
//!
//! A race is millions of samples, so a sample is written without allocating: a per-car
//! prefix (`{"v":1,"race_id":…,"car":…,"ts":`) is built once, and every number is a
//! scaled integer written with `itoa` (`speed_e1 = 1713` is `171.3`). Writing scaled
//! integers also makes "the same values" exact: a sample written whole, or split into an
//! engine and a tracking record, carries the same digits.

/// Lines of one step of the race, with the event time of each.
#[derive(Debug, Default)]
pub(crate) struct LineSink {
    /// The lines, each ended by `\n`.
    pub buf: Vec<u8>,
    /// Per line: its `ts` and the offset just past its `\n`.
    pub lines: Vec<(i64, usize)>,
}

impl LineSink {
    /// Appends one line written by `write` (which must not write a newline).
    pub fn line(&mut self, ts: i64, write: impl FnOnce(&mut Vec<u8>)) {
        write(&mut self.buf);
        self.buf.push(b'\n');
        self.lines.push((ts, self.buf.len()));
    }

    /// Appends a line already written (without its newline).
    pub fn raw(&mut self, ts: i64, line: &[u8]) {
        self.line(ts, |b| b.extend_from_slice(line));
    }

    pub fn clear(&mut self) {
        self.buf.clear();
        self.lines.clear();
    }
}

/// An integer.
pub(crate) fn int(buf: &mut Vec<u8>, v: i64) {
    let mut b = itoa::Buffer::new();
    buf.extend_from_slice(b.format(v).as_bytes());
}

/// `scaled / 10^decimals` with exactly `decimals` decimals (`fixed(b, 1713, 1)` is `171.3`).
pub(crate) fn fixed(buf: &mut Vec<u8>, scaled: i64, decimals: u32) {
    if decimals == 0 {
        int(buf, scaled);
        return;
    }
    if scaled < 0 {
        buf.push(b'-');
    }
    let s = scaled.unsigned_abs();
    let p = 10u64.pow(decimals);
    let mut b = itoa::Buffer::new();
    buf.extend_from_slice(b.format(s / p).as_bytes());
    buf.push(b'.');
    let frac = b.format(s % p).as_bytes();
    for _ in frac.len()..decimals as usize {
        buf.push(b'0');
    }
    buf.extend_from_slice(frac);
}

/// A finite float rounded to `decimals` decimals.
pub(crate) fn float(buf: &mut Vec<u8>, v: f64, decimals: u32) {
    fixed(buf, round_scaled(v, decimals), decimals);
}

/// `v` rounded to `decimals` decimals as a scaled integer (`-0` becomes `0`).
pub(crate) fn round_scaled(v: f64, decimals: u32) -> i64 {
    let r = (v * 10f64.powi(decimals as i32)).round() as i64;
    if r == 0 { 0 } else { r }
}

/// A JSON string (quotes and escapes included).
pub(crate) fn string(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    for c in s.chars() {
        match c {
            '"' => buf.extend_from_slice(b"\\\""),
            '\\' => buf.extend_from_slice(b"\\\\"),
            c if (c as u32) < 0x20 => {
                buf.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes());
            }
            c => {
                let mut tmp = [0u8; 4];
                buf.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
            }
        }
    }
    buf.push(b'"');
}

/// One sample's channel values as written (scaled integers), so the same sample always
/// has the same digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SampleVals {
    pub ts: i64,
    pub lap: u32,
    /// `lap_frac` × 10⁴, truncated so it stays below 1.
    pub frac_e4: u32,
    pub speed_e1: u32,
    pub rpm: u32,
    pub throttle_e1: u32,
    pub brake_psi: u32,
    pub gear: u8,
    /// `gap_ahead_s` × 100; `None` for the leader.
    pub gap_e2: Option<u32>,
    pub in_pit: bool,
}

/// Which channels a sample record carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Channels {
    /// Everything.
    All,
    /// The engine logger's record: rpm, throttle, gear.
    Engine,
    /// The tracking record: position, speed, pit, gap, brake.
    Tracking,
}

/// The fixed start of a car's sample records, up to and including `"ts":`.
pub(crate) fn sample_prefix(race_id: &str, car: &str) -> Vec<u8> {
    let mut b = Vec::with_capacity(64);
    b.extend_from_slice(b"{\"v\":1,\"race_id\":");
    string(&mut b, race_id);
    b.extend_from_slice(b",\"car\":");
    string(&mut b, car);
    b.extend_from_slice(b",\"ts\":");
    b
}

/// Writes one sample record (no newline).
pub(crate) fn sample(buf: &mut Vec<u8>, prefix: &[u8], s: &SampleVals, ch: Channels) {
    buf.extend_from_slice(prefix);
    int(buf, s.ts);
    if ch != Channels::Engine {
        buf.extend_from_slice(b",\"lap\":");
        int(buf, s.lap as i64);
        buf.extend_from_slice(b",\"lap_frac\":");
        fixed(buf, s.frac_e4 as i64, 4);
        buf.extend_from_slice(b",\"speed_mph\":");
        fixed(buf, s.speed_e1 as i64, 1);
    }
    if ch != Channels::Tracking {
        buf.extend_from_slice(b",\"rpm\":");
        int(buf, s.rpm as i64);
        buf.extend_from_slice(b",\"throttle_pct\":");
        fixed(buf, s.throttle_e1 as i64, 1);
    }
    if ch != Channels::Engine {
        buf.extend_from_slice(b",\"brake_psi\":");
        int(buf, s.brake_psi as i64);
    }
    if ch != Channels::Tracking {
        buf.extend_from_slice(b",\"gear\":");
        int(buf, s.gear as i64);
    }
    if ch != Channels::Engine {
        if let Some(g) = s.gap_e2 {
            buf.extend_from_slice(b",\"gap_ahead_s\":");
            fixed(buf, g as i64, 2);
        }
        buf.extend_from_slice(if s.in_pit {
            b",\"in_pit\":true}"
        } else {
            b",\"in_pit\":false}"
        });
    } else {
        buf.push(b'}');
    }
}

/// The common head of a race-control event: `{"v":1,"kind":…,"ts":…,"race_id":…`.
pub(crate) fn event_head(buf: &mut Vec<u8>, kind: &str, ts: i64, race_id: &str) {
    buf.extend_from_slice(b"{\"v\":1,\"kind\":");
    string(buf, kind);
    buf.extend_from_slice(b",\"ts\":");
    int(buf, ts);
    buf.extend_from_slice(b",\"race_id\":");
    string(buf, race_id);
}

/// `,"name":` then the value written by `value`.
pub(crate) fn field(buf: &mut Vec<u8>, name: &str, value: impl FnOnce(&mut Vec<u8>)) {
    buf.push(b',');
    string(buf, name);
    buf.push(b':');
    value(buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut b = Vec::new();
        f(&mut b);
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn fixed_point_numbers_keep_their_decimals() {
        assert_eq!(text(|b| fixed(b, 1713, 1)), "171.3");
        assert_eq!(text(|b| fixed(b, 5, 4)), "0.0005");
        assert_eq!(text(|b| fixed(b, 0, 2)), "0.00");
        assert_eq!(text(|b| fixed(b, -1234, 2)), "-12.34");
        assert_eq!(text(|b| fixed(b, 1000, 1)), "100.0");
        assert_eq!(text(|b| float(b, 17.845, 2)), "17.85");
        assert_eq!(text(|b| float(b, -0.00001, 4)), "0.0000");
        assert_eq!(text(|b| string(b, "a\"b\\c\n")), "\"a\\\"b\\\\c\\u000a\"");
    }

    #[test]
    fn a_split_sample_carries_the_same_digits_as_the_whole() {
        let s = SampleVals {
            ts: 1_750_593_600_100,
            lap: 12,
            frac_e4: 4123,
            speed_e1: 1713,
            rpm: 8874,
            throttle_e1: 1000,
            brake_psi: 0,
            gear: 5,
            gap_e2: Some(42),
            in_pit: false,
        };
        let p = sample_prefix("sim-pocono-1", "24");
        let whole: serde_json::Value =
            serde_json::from_str(&text(|b| sample(b, &p, &s, Channels::All))).unwrap();
        let mut merged: serde_json::Map<String, serde_json::Value> = serde_json::Map::new();
        for ch in [Channels::Engine, Channels::Tracking] {
            let part: serde_json::Value =
                serde_json::from_str(&text(|b| sample(b, &p, &s, ch))).unwrap();
            for (k, v) in part.as_object().unwrap() {
                merged.insert(k.clone(), v.clone());
            }
        }
        assert_eq!(whole, serde_json::Value::Object(merged));
        assert_eq!(whole["gap_ahead_s"], serde_json::json!(0.42));
        assert_eq!(whole["throttle_pct"], serde_json::json!(100.0));
    }
}
