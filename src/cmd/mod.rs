//! The commands, one a file: each its arguments (as clap reads them) and its `run`.
//!
//! `demo` and `replay --serve` share [`dashboard`], the dashboard served while a feed
//! runs; `demo --silence` is read by [`silence`].

pub mod accuracy;
pub mod calibrate;
pub mod dashboard;
pub mod demo;
pub mod feed;
pub mod feed_out;
pub mod replay;
pub mod silence;
pub mod simulate;
pub mod train;

use std::fmt::Display;
use std::num::IntErrorKind;

/// The reader of a whole-number flag from `lo` to `hi`: `"1.5" is not a whole number (1
/// to 100)`, `0 is outside 1 to 100`, as the decimal flags below say it (clap's own
/// reader says only "invalid digit found in string", without the range). The text is
/// read as an `i128`, which holds every flag's type, so that `-1` for a `u64` and
/// `18446744073709551616` are refused for their range, not for their digits.
pub fn whole<T>(lo: T, hi: T) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static
where
    T: Copy + Display + Into<i128> + TryFrom<i128> + Send + Sync + 'static,
{
    move |s: &str| {
        let outside = |v: &dyn Display| format!("{v} is outside {lo} to {hi}");
        let v: i128 = s
            .parse()
            .map_err(|e: std::num::ParseIntError| match e.kind() {
                IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => outside(&s),
                _ => format!("{s:?} is not a whole number ({lo} to {hi})"),
            })?;
        if v < lo.into() || v > hi.into() {
            return Err(outside(&v));
        }
        T::try_from(v).map_err(|_| outside(&v))
    }
}

/// Reads `--cant-make-it-pct`: the saving at which a car in its final window is called
/// (`fuel-update-v1`), 5 to 50.
pub fn parse_cant_make_it_pct(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number (5 to 50)"))?;
    if burnbar_core::engine::CANT_MAKE_IT_PCT_RANGE.contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is outside 5 to 50"))
    }
}

/// Reads `--speed`: times real time, above 0 and at most 1000 (past that no pacing is
/// left to see).
pub fn parse_speed(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("--speed must be a number above 0 and at most 1000, got {s:?}"))?;
    if v.is_finite() && v > 0.0 && v <= 1000.0 {
        Ok(v)
    } else {
        Err(format!("--speed must be above 0 and at most 1000, got {v}"))
    }
}

/// Reads a share from 0 to 1 (`simulate --faults`).
pub fn parse_fraction(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number (0 to 1)"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is outside 0 to 1"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_number_flag_gives_its_range_for_every_wrong_value() {
        let hz = whole(1u32, 100);
        assert_eq!(hz("10"), Ok(10));
        assert_eq!(hz("1"), Ok(1));
        assert_eq!(hz("100"), Ok(100));
        assert_eq!(
            hz("1.5"),
            Err("\"1.5\" is not a whole number (1 to 100)".into())
        );
        assert_eq!(hz(""), Err("\"\" is not a whole number (1 to 100)".into()));
        assert_eq!(hz("0"), Err("0 is outside 1 to 100".into()));
        assert_eq!(hz("-3"), Err("-3 is outside 1 to 100".into()));
        assert_eq!(hz("101"), Err("101 is outside 1 to 100".into()));
        let seed = whole(0u64, u64::MAX);
        assert_eq!(seed("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(
            seed("-1"),
            Err("-1 is outside 0 to 18446744073709551615".into())
        );
        assert_eq!(
            seed("18446744073709551616"),
            Err("18446744073709551616 is outside 0 to 18446744073709551615".into())
        );
        // Past what an i128 holds: still its range, not its digits.
        let huge = "9".repeat(60);
        assert_eq!(
            seed(&huge),
            Err(format!("{huge} is outside 0 to 18446744073709551615"))
        );
        assert_eq!(
            seed(&format!("-{huge}")),
            Err(format!("-{huge} is outside 0 to 18446744073709551615"))
        );
        let window = whole(100i64, 600_000);
        assert_eq!(
            window("abc"),
            Err("\"abc\" is not a whole number (100 to 600000)".into())
        );
        assert_eq!(window("-5"), Err("-5 is outside 100 to 600000".into()));
    }
}
