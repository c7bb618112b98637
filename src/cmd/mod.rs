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
