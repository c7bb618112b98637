//! The track table: what the model and the simulator know about each circuit.
//!
//! Lengths are the official ones; the engine package follows the Next Gen rules
//! (`../shared/design/DOMAIN.md`): about 670 hp at most tracks, about 510 hp with the
//! tapered spacer at the drafting tracks (Daytona, Talladega, Atlanta). Typical speeds
//! are rounded from recent race reports and only seed the simulator and the fallbacks
//! of the model (a window with speed but no engine channels); nothing here is fitted.

use serde::{Deserialize, Serialize};

/// Engine package: decides how much air, and so fuel, the engine can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnginePackage {
    /// About 670 hp: intermediate ovals, road courses, short tracks.
    Hp670,
    /// About 510 hp with the tapered spacer: the drafting tracks.
    Hp510,
}

impl EnginePackage {
    /// Every package, in a fixed order (for calibration tables and reports).
    pub const ALL: [EnginePackage; 2] = [EnginePackage::Hp670, EnginePackage::Hp510];

    /// The key used in calibration files and reports.
    pub fn key(self) -> &'static str {
        match self {
            EnginePackage::Hp670 => "hp670",
            EnginePackage::Hp510 => "hp510",
        }
    }
}

/// One circuit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Track {
    /// Key used in `race_start.track` (lower case).
    pub key: &'static str,
    /// Name for people.
    pub name: &'static str,
    /// Lap length in miles.
    pub length_mi: f64,
    /// Engine package run there.
    pub package: EnginePackage,
    /// Typical green-flag average lap speed, mph.
    pub green_speed_mph: f64,
    /// Typical pace-car speed under caution, mph.
    pub pace_speed_mph: f64,
    /// Usual race distance in laps (the points race), used by the simulator's default.
    pub scheduled_laps: u32,
    /// Usual number of stages (the last one ends at the checkered flag).
    pub stages: u32,
}

/// Tracks known by key. `default` is what a race of an unknown track gets.
pub const TRACKS: &[Track] = &[
    Track {
        key: "pocono",
        name: "Pocono Raceway",
        length_mi: 2.5,
        package: EnginePackage::Hp670,
        green_speed_mph: 170.0,
        pace_speed_mph: 60.0,
        scheduled_laps: 160,
        stages: 3,
    },
    Track {
        key: "michigan",
        name: "Michigan International Speedway",
        length_mi: 2.0,
        package: EnginePackage::Hp670,
        green_speed_mph: 182.0,
        pace_speed_mph: 60.0,
        scheduled_laps: 200,
        stages: 3,
    },
    Track {
        key: "charlotte",
        name: "Charlotte Motor Speedway",
        length_mi: 1.5,
        package: EnginePackage::Hp670,
        green_speed_mph: 178.0,
        pace_speed_mph: 55.0,
        scheduled_laps: 400,
        stages: 4,
    },
    Track {
        key: "daytona",
        name: "Daytona International Speedway",
        length_mi: 2.5,
        package: EnginePackage::Hp510,
        green_speed_mph: 188.0,
        pace_speed_mph: 60.0,
        scheduled_laps: 200,
        stages: 3,
    },
    Track {
        key: "talladega",
        name: "Talladega Superspeedway",
        length_mi: 2.66,
        package: EnginePackage::Hp510,
        green_speed_mph: 184.0,
        pace_speed_mph: 60.0,
        scheduled_laps: 188,
        stages: 3,
    },
    Track {
        key: "atlanta",
        name: "Atlanta Motor Speedway",
        length_mi: 1.54,
        package: EnginePackage::Hp510,
        green_speed_mph: 174.0,
        pace_speed_mph: 55.0,
        scheduled_laps: 260,
        stages: 3,
    },
    Track {
        key: "martinsville",
        name: "Martinsville Speedway",
        length_mi: 0.526,
        package: EnginePackage::Hp670,
        green_speed_mph: 94.0,
        pace_speed_mph: 40.0,
        scheduled_laps: 400,
        stages: 3,
    },
    Track {
        key: "iowa",
        name: "Iowa Speedway",
        length_mi: 0.875,
        package: EnginePackage::Hp670,
        green_speed_mph: 132.0,
        pace_speed_mph: 45.0,
        scheduled_laps: 350,
        stages: 3,
    },
    Track {
        key: "nashville",
        name: "Nashville Superspeedway",
        length_mi: 1.33,
        package: EnginePackage::Hp670,
        green_speed_mph: 158.0,
        pace_speed_mph: 50.0,
        scheduled_laps: 300,
        stages: 3,
    },
    DEFAULT_TRACK,
];

/// What a race gets when its track is not in the table (or the race is `unknown`).
pub const DEFAULT_TRACK: Track = Track {
    key: "default",
    name: "Unknown 1.5-mile oval",
    length_mi: 1.5,
    package: EnginePackage::Hp670,
    green_speed_mph: 170.0,
    pace_speed_mph: 55.0,
    scheduled_laps: 267,
    stages: 3,
};

/// The track for a key, case-insensitive; `None` when it is not in the table.
pub fn lookup(key: &str) -> Option<&'static Track> {
    TRACKS.iter().find(|t| t.key.eq_ignore_ascii_case(key))
}

/// The track for a key, or [`DEFAULT_TRACK`] when the key is unknown.
pub fn lookup_or_default(key: &str) -> &'static Track {
    lookup(key).unwrap_or(&DEFAULT_TRACK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_tracks_are_all_there_with_the_right_package() {
        for key in [
            "pocono",
            "michigan",
            "charlotte",
            "daytona",
            "talladega",
            "atlanta",
            "martinsville",
            "iowa",
            "nashville",
            "default",
        ] {
            assert!(lookup(key).is_some(), "{key} missing");
        }
        for key in ["daytona", "talladega", "atlanta"] {
            assert_eq!(lookup(key).unwrap().package, EnginePackage::Hp510);
        }
        assert_eq!(lookup("POCONO").unwrap().length_mi, 2.5);
        assert_eq!(lookup_or_default("nowhere").key, "default");
    }
}
