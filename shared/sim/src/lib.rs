//! `burnbar-sim`: a deterministic NASCAR Cup race, written as `telemetry-v1` NDJSON, with
//! its ground truth.
//!
//! Cup cars carry no fuel sensor, so the Burn Bar is an estimate; to test an estimate
//! one needs races whose fuel is known. This crate makes them: a field of cars on a lap
//! profile of a real track (length, engine package, typical and pace speeds, race
//! distance and stages from `burnbar_core::tracks`), with drafting, fuel saving and
//! pushing, cautions, pit stops as crews make them (tyres and fuel side by side, the
//! longer job timing the stop, each crew at its own speed) with the official pit data on
//! `pit_out`, and fuel-mileage finishes where a gambler can run dry. The same
//! [`SimConfig`] always gives the same bytes.
//!
//! # The truth is a different model from the estimator's
//!
//! The estimator models fuel from air flow (fuel ∝ VE(rpm) · (1 − (1 − θ)^k) · rpm).
//! The simulator's fuel comes from energy instead, a Willans line: fuel power = (brake
//! power + friction + pumping) / indicated efficiency, with brake power from the forces
//! on the car (drag, drafting, grip, braking, mass with its fuel) and each car's own
//! efficiency spread and noise. So a test that the estimator recovers the truth is not a
//! formula checked against itself. The numbers land inside the public figures of
//! `../shared/design/DOMAIN.md` (green ≈ 4.4–4.7 mpg at Pocono, 35–38 laps a tank there,
//! about 105–110 at Iowa and 74 at Nashville, 12–14 mpg under caution) and the tests hold
//! them there.
//!
//! # Layout
//!
//! - [`config`](SimConfig): what a race is asked for, and [`SimError`].
//! - `physics`: the engine (Willans line), body and gearing: the ground truth.
//! - `profile`: each track's lap as straights and corners; the speed trace of a lap.
//! - `track`: what the simulator knows about the race's track (gearing, pit road, pace).
//! - `car`: one car: the driver's controller (profile, draft, caution line, saving), its
//!   motion and its pit stop, a file each.
//! - `field`: the cars, numbers, fictional drivers and how they differ.
//! - `race`: the race one tick at a time, [`Simulation`]: flags and cautions, incidents,
//!   what is scheduled, strategy, pit stops, motion and the records written, a file each.
//! - `faults`: what `faults` does to samples on the way.
//! - `truth`: the truth lines.
//! - `output`: fast writing of records.
//!
//! # Use
//!
//! ```
//! use burnbar_sim::{SimConfig, simulate};
//! let cfg = SimConfig { track: "iowa".into(), laps: Some(3), cars: 4, hz: 2, ..SimConfig::default() };
//! let (mut out, mut truth) = (Vec::new(), Vec::new());
//! let summary = simulate(&cfg, &mut out, Some(&mut truth)).unwrap();
//! assert_eq!(summary.laps, 3);
//! assert!(String::from_utf8(out).unwrap().starts_with("{\"v\":1,\"kind\":\"race_start\""));
//! ```

mod car;
mod config;
mod faults;
mod field;
mod output;
mod physics;
mod profile;
mod race;
mod track;
mod truth;

pub use config::{SimConfig, SimError};
pub use faults::{FaultCounts, MAX_DELAY_MS};
pub use field::car_numbers;
pub use physics::CAPACITY_GAL;
pub use race::{START_TS, Simulation};

use std::io::Write;

/// What a run wrote.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct SimSummary {
    /// The race's `race_id`.
    pub race_id: String,
    /// Track key.
    pub track: String,
    /// Lines written (samples, events, and the extra lines faults add).
    pub records: u64,
    /// Distinct samples, one per car and `ts`.
    pub samples: u64,
    /// Race-control events.
    pub events: u64,
    /// Laps the winner completed.
    pub laps: u32,
    /// Cars whose cell ran dry, in the order they did.
    pub ran_dry: Vec<String>,
    /// Cautions (stage breaks included).
    pub cautions: u32,
    /// Pit stops completed (`pit_out`s).
    pub pit_stops: u32,
    /// `ts` of the last tick.
    pub end_ts: i64,
    /// Faults injected, by kind.
    pub faults: FaultCounts,
}

/// Simulates a race into `out` as NDJSON (and its ground truth into `truth`, if given);
/// memory stays bounded whatever the race's length.
pub fn simulate(
    cfg: &SimConfig,
    out: &mut dyn Write,
    mut truth: Option<&mut dyn Write>,
) -> Result<SimSummary, SimError> {
    let mut sim = Simulation::new(cfg)?;
    if truth.is_some() {
        sim.record_truth();
    }
    // The lines of many ticks gather in the simulation's own buffer and go out in
    // blocks of about 1 MB: one copy, few writes.
    let mut truth_buf: Vec<u8> = Vec::new();
    loop {
        let more = sim.advance();
        let sink = sim.take_bytes();
        if sink.buf.len() >= 1 << 20 || !more {
            out.write_all(&sink.buf)?;
            let n = sink.lines.len() as u64;
            sink.clear();
            sim.count_records(n);
        }
        if let Some(t) = truth.as_deref_mut() {
            for line in sim.take_truth() {
                truth_buf.extend_from_slice(line.as_bytes());
                truth_buf.push(b'\n');
            }
            if truth_buf.len() >= 1 << 16 || !more {
                t.write_all(&truth_buf)?;
                truth_buf.clear();
            }
        }
        if !more {
            break;
        }
    }
    out.flush()?;
    if let Some(t) = truth {
        t.flush()?;
    }
    Ok(sim.summary())
}
