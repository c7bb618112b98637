//! What a simulated race is asked for, and why a request is refused.

use burnbar_core::tracks::{self, Shape, Track};

/// A race to simulate. The same config gives the same bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Track key from the track table (`pocono`, `iowa`, …; case-insensitive).
    pub track: String,
    /// Race length in laps; `None` runs the track's scheduled distance.
    pub laps: Option<u32>,
    /// Cars in the field, 1 to 99; 40 is a full Cup field.
    pub cars: u32,
    /// Samples per second per car, 1 to 100; broadcast telemetry runs at about 10 Hz.
    pub hz: u32,
    /// Seed of every random choice of the race.
    pub seed: u64,
    /// Share of samples, 0 to 1, that arrive damaged (duplicated, delayed, split, or next
    /// to a malformed record); the race itself is the same for any value.
    pub faults: f64,
    /// Write `pit_out` as a live feed does: `fuel_added_gal` and `full` null.
    pub live: bool,
    /// Write the official pit data on `pit_out` (`tires`, `box_s`), as NASCAR's feed
    /// times every stop; off, a feed without it. The race is the same either way.
    pub pit_detail: bool,
    /// Width of the truth windows, ms; 5,000 is the pipeline's default window.
    pub window_ms: i64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            track: "pocono".into(),
            laps: None,
            cars: 40,
            hz: 10,
            seed: 1,
            faults: 0.0,
            live: false,
            pit_detail: true,
            window_ms: 5_000,
        }
    }
}

/// Why a race could not be simulated.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The track is not an oval of the track table (the simulator's laps are ovals).
    #[error("unknown track `{0}` (the simulator runs ovals: {known})", known = known_tracks())]
    UnknownTrack(String),
    /// Cars outside 1..=99.
    #[error("cars must be 1 to 99, got {0}")]
    Cars(u32),
    /// Sample rate outside 1..=100.
    #[error("hz must be 1 to 100, got {0}")]
    Hz(u32),
    /// Laps outside 1..=2000 (the contract's lap range).
    #[error("laps must be 1 to 2000, got {0}")]
    Laps(u32),
    /// Fault share outside [0, 1] (or not a number).
    #[error("faults must be within 0 to 1, got {0}")]
    Faults(f64),
    /// Truth windows must have a width.
    #[error("window_ms must be positive, got {0}")]
    WindowMs(i64),
    /// Writing the output failed.
    #[error("writing the race: {0}")]
    Io(#[from] std::io::Error),
}

fn known_tracks() -> String {
    tracks::TRACKS
        .iter()
        .filter(|t| t.shape == Shape::Oval)
        .map(|t| t.key)
        .collect::<Vec<_>>()
        .join(", ")
}

impl SimConfig {
    /// Checks the config; returns its track and race length.
    pub fn validate(&self) -> Result<(&'static Track, u32), SimError> {
        let track = tracks::lookup(&self.track)
            .filter(|t| t.shape == Shape::Oval)
            .ok_or_else(|| SimError::UnknownTrack(self.track.clone()))?;
        if !(1..=99).contains(&self.cars) {
            return Err(SimError::Cars(self.cars));
        }
        if !(1..=100).contains(&self.hz) {
            return Err(SimError::Hz(self.hz));
        }
        let laps = self.laps.unwrap_or(track.scheduled_laps);
        if !(1..=2000).contains(&laps) {
            return Err(SimError::Laps(laps));
        }
        if !(0.0..=1.0).contains(&self.faults) {
            return Err(SimError::Faults(self.faults));
        }
        if self.window_ms <= 0 {
            return Err(SimError::WindowMs(self.window_ms));
        }
        Ok((track, laps))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_configs_are_refused_with_a_reason() {
        let ok = SimConfig::default();
        assert!(ok.validate().is_ok());
        let cases = [
            SimConfig {
                track: "nowhere".into(),
                ..ok.clone()
            },
            SimConfig {
                cars: 0,
                ..ok.clone()
            },
            SimConfig {
                cars: 100,
                ..ok.clone()
            },
            SimConfig {
                hz: 0,
                ..ok.clone()
            },
            SimConfig {
                hz: 101,
                ..ok.clone()
            },
            SimConfig {
                laps: Some(0),
                ..ok.clone()
            },
            SimConfig {
                faults: 1.5,
                ..ok.clone()
            },
            SimConfig {
                faults: f64::NAN,
                ..ok.clone()
            },
            SimConfig {
                window_ms: 0,
                ..ok.clone()
            },
        ];
        for c in cases {
            let e = c.validate().unwrap_err();
            assert!(!e.to_string().is_empty());
        }
        assert!(
            SimConfig {
                track: "nowhere".into(),
                ..ok
            }
            .validate()
            .unwrap_err()
            .to_string()
            .contains("pocono")
        );
    }
}
