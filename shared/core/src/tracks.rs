//! The track table: what the model and the simulator know about each circuit.
//!
//! Lengths are the official ones; the engine package follows the Next Gen rules
//! (`../shared/design/DOMAIN.md`): about 670 hp at most tracks, about 510 hp with the
//! tapered spacer at the drafting tracks (Daytona, Talladega, Atlanta). Typical speeds
//! are rounded from recent race reports and only seed the simulator and the fallbacks
//! of the model (a window with speed but no engine channels); nothing here is fitted.
//!
//! The table holds every oval, road course and street course of the 2025 and 2026 Cup
//! schedules (exhibitions included: the Clash at Bowman Gray, the All-Star races at
//! North Wilkesboro and Dover). Lengths, and the feed's `track_id` and `track_name`, are
//! from the official feed's own files where one shows them (the 2023 race list, whose
//! `scheduled_distance / scheduled_laps` gives each lap, and the archived snapshots under
//! `tests/fixtures/feed/`); the rest from the announcements: Circuit of the Americas'
//! 2.3-mile National course from 2025, Mexico City's 2.42-mile layout (2025), the
//! 3.4-mile Naval Base Coronado street course in San Diego (2026), Indianapolis's
//! 2.5-mile oval, Chicagoland's 1.5 miles. Iowa, Indianapolis, Mexico City and San Diego
//! are found by name only: no feed file at hand shows their ids. The simulator runs ovals
//! only; the speeds of road and street courses are rough, and nothing reads them.
//!
//! Not modelled: from 2026 the road courses and the ovals under 1.5 miles run about
//! 750 hp (NASCAR, October 2025). The model knows two packages, so those venues keep
//! 670 hp here.

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
    /// Oval, road course or street course.
    pub shape: Shape,
    /// The official feed's `track_id`s for this circuit, where a feed file shows one.
    pub feed_ids: &'static [i64],
    /// The official feed's `track_name`s for this circuit (compared by their letters and
    /// digits, whatever the case).
    pub feed_names: &'static [&'static str],
}

/// What kind of circuit a track is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    Oval,
    /// A permanent road course.
    RoadCourse,
    /// A temporary circuit on streets or a base's roads.
    StreetCourse,
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
        shape: Shape::Oval,
        feed_ids: &[198],
        feed_names: &["Pocono Raceway"],
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
        shape: Shape::Oval,
        feed_ids: &[133],
        feed_names: &["Michigan International Speedway"],
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
        shape: Shape::Oval,
        feed_ids: &[162],
        feed_names: &["Charlotte Motor Speedway"],
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
        shape: Shape::Oval,
        feed_ids: &[105],
        feed_names: &["Daytona International Speedway"],
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
        shape: Shape::Oval,
        feed_ids: &[82],
        feed_names: &["Talladega Superspeedway"],
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
        shape: Shape::Oval,
        feed_ids: &[111],
        feed_names: &["Atlanta Motor Speedway", "EchoPark Speedway"],
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
        shape: Shape::Oval,
        feed_ids: &[22],
        feed_names: &["Martinsville Speedway"],
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
        shape: Shape::Oval,
        feed_ids: &[],
        feed_names: &["Iowa Speedway"],
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
        shape: Shape::Oval,
        feed_ids: &[52],
        feed_names: &["Nashville Superspeedway"],
    },
    Track {
        key: "darlington",
        name: "Darlington Raceway",
        length_mi: 1.366,
        package: EnginePackage::Hp670,
        green_speed_mph: 160.0,
        pace_speed_mph: 55.0,
        scheduled_laps: 293,
        stages: 3,
        shape: Shape::Oval,
        feed_ids: &[4],
        feed_names: &["Darlington Raceway"],
    },
    Track {
        key: "bristol",
        name: "Bristol Motor Speedway",
        length_mi: 0.533,
        package: EnginePackage::Hp670,
        green_speed_mph: 122.0,
        pace_speed_mph: 40.0,
        scheduled_laps: 500,
        stages: 3,
        shape: Shape::Oval,
        feed_ids: &[14],
        feed_names: &["Bristol Motor Speedway"],
    },
    Track {
        key: "richmond",
        name: "Richmond Raceway",
        length_mi: 0.75,
        package: EnginePackage::Hp670,
        green_speed_mph: 118.0,
        pace_speed_mph: 40.0,
        scheduled_laps: 400,
        stages: 3,
        shape: Shape::Oval,
        feed_ids: &[26],
        feed_names: &["Richmond Raceway"],
    },
    Track {
        key: "homestead",
        name: "Homestead-Miami Speedway",
        length_mi: 1.5,
        package: EnginePackage::Hp670,
        green_speed_mph: 165.0,
        pace_speed_mph: 55.0,
        scheduled_laps: 267,
        stages: 3,
        shape: Shape::Oval,
        feed_ids: &[40],
        feed_names: &["Homestead-Miami Speedway"],
    },
    Track {
        key: "kansas",
        name: "Kansas Speedway",
        length_mi: 1.5,
        package: EnginePackage::Hp670,
        green_speed_mph: 175.0,
        pace_speed_mph: 55.0,
        scheduled_laps: 267,
        stages: 3,
        shape: Shape::Oval,
        feed_ids: &[41],
        feed_names: &["Kansas Speedway"],
    },
    Track {
        key: "las_vegas",
        name: "Las Vegas Motor Speedway",
        length_mi: 1.5,
        package: EnginePackage::Hp670,
        green_speed_mph: 178.0,
        pace_speed_mph: 55.0,
        scheduled_laps: 267,
        stages: 3,
        shape: Shape::Oval,
        feed_ids: &[42],
        feed_names: &["Las Vegas Motor Speedway"],
    },
    Track {
        key: "texas",
        name: "Texas Motor Speedway",
        length_mi: 1.5,
        package: EnginePackage::Hp670,
        green_speed_mph: 180.0,
        pace_speed_mph: 55.0,
        scheduled_laps: 267,
        stages: 3,
        shape: Shape::Oval,
        feed_ids: &[43],
        feed_names: &["Texas Motor Speedway"],
    },
    Track {
        key: "gateway",
        name: "World Wide Technology Raceway",
        length_mi: 1.25,
        package: EnginePackage::Hp670,
        green_speed_mph: 132.0,
        pace_speed_mph: 45.0,
        scheduled_laps: 240,
        stages: 3,
        shape: Shape::Oval,
        feed_ids: &[45],
        feed_names: &["World Wide Technology Raceway", "Gateway"],
    },
    Track {
        key: "phoenix",
        name: "Phoenix Raceway",
        length_mi: 1.0,
        package: EnginePackage::Hp670,
        green_speed_mph: 127.0,
        pace_speed_mph: 45.0,
        scheduled_laps: 312,
        stages: 3,
        shape: Shape::Oval,
        feed_ids: &[84],
        feed_names: &["Phoenix Raceway"],
    },
    Track {
        key: "dover",
        name: "Dover Motor Speedway",
        length_mi: 1.0,
        package: EnginePackage::Hp670,
        green_speed_mph: 150.0,
        pace_speed_mph: 50.0,
        scheduled_laps: 400,
        stages: 3,
        shape: Shape::Oval,
        feed_ids: &[103],
        feed_names: &["Dover Motor Speedway", "Dover International Speedway"],
    },
    Track {
        key: "new_hampshire",
        name: "New Hampshire Motor Speedway",
        length_mi: 1.058,
        package: EnginePackage::Hp670,
        green_speed_mph: 127.0,
        pace_speed_mph: 45.0,
        scheduled_laps: 301,
        stages: 3,
        shape: Shape::Oval,
        feed_ids: &[138],
        feed_names: &["New Hampshire Motor Speedway"],
    },
    Track {
        key: "north_wilkesboro",
        name: "North Wilkesboro Speedway",
        length_mi: 0.625,
        package: EnginePackage::Hp670,
        green_speed_mph: 115.0,
        pace_speed_mph: 40.0,
        scheduled_laps: 400,
        stages: 3,
        shape: Shape::Oval,
        feed_ids: &[177],
        feed_names: &["North Wilkesboro Speedway"],
    },
    Track {
        key: "chicagoland",
        name: "Chicagoland Speedway",
        length_mi: 1.5,
        package: EnginePackage::Hp670,
        green_speed_mph: 175.0,
        pace_speed_mph: 55.0,
        scheduled_laps: 267,
        stages: 3,
        shape: Shape::Oval,
        feed_ids: &[39],
        feed_names: &["Chicagoland Speedway"],
    },
    Track {
        key: "indianapolis",
        name: "Indianapolis Motor Speedway",
        length_mi: 2.5,
        package: EnginePackage::Hp670,
        green_speed_mph: 175.0,
        pace_speed_mph: 60.0,
        scheduled_laps: 160,
        stages: 3,
        shape: Shape::Oval,
        feed_ids: &[],
        feed_names: &["Indianapolis Motor Speedway"],
    },
    Track {
        key: "bowman_gray",
        name: "Bowman Gray Stadium",
        length_mi: 0.25,
        package: EnginePackage::Hp670,
        green_speed_mph: 60.0,
        pace_speed_mph: 30.0,
        scheduled_laps: 200,
        stages: 1,
        shape: Shape::Oval,
        feed_ids: &[159],
        feed_names: &["Bowman Gray Stadium"],
    },
    Track {
        key: "sonoma",
        name: "Sonoma Raceway",
        length_mi: 1.99,
        package: EnginePackage::Hp670,
        green_speed_mph: 92.0,
        pace_speed_mph: 45.0,
        scheduled_laps: 110,
        stages: 3,
        shape: Shape::RoadCourse,
        feed_ids: &[99],
        feed_names: &["Sonoma Raceway"],
    },
    Track {
        key: "watkins_glen",
        name: "Watkins Glen International",
        length_mi: 2.45,
        package: EnginePackage::Hp670,
        green_speed_mph: 120.0,
        pace_speed_mph: 50.0,
        scheduled_laps: 90,
        stages: 3,
        shape: Shape::RoadCourse,
        feed_ids: &[157],
        feed_names: &["Watkins Glen International"],
    },
    Track {
        key: "charlotte_roval",
        name: "Charlotte Motor Speedway Road Course",
        length_mi: 2.32,
        package: EnginePackage::Hp670,
        green_speed_mph: 100.0,
        pace_speed_mph: 45.0,
        scheduled_laps: 109,
        stages: 3,
        shape: Shape::RoadCourse,
        feed_ids: &[210],
        feed_names: &[
            "Charlotte Motor Speedway Road Course",
            "Charlotte Roval",
            "Charlotte Motor Speedway ROVAL",
        ],
    },
    Track {
        key: "cota",
        name: "Circuit of The Americas",
        length_mi: 2.3,
        package: EnginePackage::Hp670,
        green_speed_mph: 90.0,
        pace_speed_mph: 45.0,
        scheduled_laps: 95,
        stages: 3,
        shape: Shape::RoadCourse,
        feed_ids: &[214],
        feed_names: &["Circuit of The Americas"],
    },
    Track {
        key: "mexico_city",
        name: "Autódromo Hermanos Rodríguez",
        length_mi: 2.42,
        package: EnginePackage::Hp670,
        green_speed_mph: 100.0,
        pace_speed_mph: 45.0,
        scheduled_laps: 100,
        stages: 3,
        shape: Shape::RoadCourse,
        feed_ids: &[],
        feed_names: &[
            "Autódromo Hermanos Rodríguez",
            "Autodromo Hermanos Rodriguez",
        ],
    },
    Track {
        key: "chicago_street",
        name: "Chicago Street Course",
        length_mi: 2.2,
        package: EnginePackage::Hp670,
        green_speed_mph: 85.0,
        pace_speed_mph: 40.0,
        scheduled_laps: 100,
        stages: 3,
        shape: Shape::StreetCourse,
        feed_ids: &[218],
        feed_names: &["Chicago Street Race", "Chicago Street Course"],
    },
    Track {
        key: "san_diego",
        name: "Naval Base Coronado street course",
        length_mi: 3.4,
        package: EnginePackage::Hp670,
        green_speed_mph: 90.0,
        pace_speed_mph: 45.0,
        scheduled_laps: 75,
        stages: 3,
        shape: Shape::StreetCourse,
        feed_ids: &[],
        feed_names: &["Naval Base Coronado", "San Diego Street Course"],
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
    shape: Shape::Oval,
    feed_ids: &[],
    feed_names: &[],
};

/// The track for a key, case-insensitive; `None` when it is not in the table.
pub fn lookup(key: &str) -> Option<&'static Track> {
    TRACKS.iter().find(|t| t.key.eq_ignore_ascii_case(key))
}

/// The track for a key, or [`DEFAULT_TRACK`] when the key is unknown.
pub fn lookup_or_default(key: &str) -> &'static Track {
    lookup(key).unwrap_or(&DEFAULT_TRACK)
}

/// The track the official feed names by `track_id` or `track_name` (the id first, then
/// the name by its letters and digits whatever the case); `None` when the table has
/// neither.
pub fn lookup_feed(track_id: Option<i64>, track_name: Option<&str>) -> Option<&'static Track> {
    if let Some(id) = track_id
        && let Some(t) = TRACKS.iter().find(|t| t.feed_ids.contains(&id))
    {
        return Some(t);
    }
    let name = fold(track_name?);
    if name.is_empty() {
        return None;
    }
    TRACKS
        .iter()
        .find(|t| t.feed_names.iter().any(|n| fold(n) == name))
}

/// A name's letters and digits, lower case (`"Homestead-Miami Speedway"` →
/// `"homesteadmiamispeedway"`).
fn fold(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
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

    #[test]
    fn every_cup_venue_of_2025_and_2026_is_found_by_the_feeds_name() {
        // The venues of the two schedules, as the feed or the schedule names them.
        let venues = [
            ("Bowman Gray Stadium", "bowman_gray", Shape::Oval),
            ("Daytona International Speedway", "daytona", Shape::Oval),
            ("EchoPark Speedway", "atlanta", Shape::Oval),
            ("Atlanta Motor Speedway", "atlanta", Shape::Oval),
            ("Circuit of The Americas", "cota", Shape::RoadCourse),
            ("Phoenix Raceway", "phoenix", Shape::Oval),
            ("Las Vegas Motor Speedway", "las_vegas", Shape::Oval),
            ("Homestead-Miami Speedway", "homestead", Shape::Oval),
            ("Martinsville Speedway", "martinsville", Shape::Oval),
            ("Darlington Raceway", "darlington", Shape::Oval),
            ("Bristol Motor Speedway", "bristol", Shape::Oval),
            ("Talladega Superspeedway", "talladega", Shape::Oval),
            ("Texas Motor Speedway", "texas", Shape::Oval),
            ("Kansas Speedway", "kansas", Shape::Oval),
            ("North Wilkesboro Speedway", "north_wilkesboro", Shape::Oval),
            ("Charlotte Motor Speedway", "charlotte", Shape::Oval),
            (
                "Charlotte Motor Speedway ROVAL",
                "charlotte_roval",
                Shape::RoadCourse,
            ),
            ("Nashville Superspeedway", "nashville", Shape::Oval),
            ("Michigan International Speedway", "michigan", Shape::Oval),
            (
                "Autodromo Hermanos Rodriguez",
                "mexico_city",
                Shape::RoadCourse,
            ),
            ("Pocono Raceway", "pocono", Shape::Oval),
            ("Chicago Street Race", "chicago_street", Shape::StreetCourse),
            ("Sonoma Raceway", "sonoma", Shape::RoadCourse),
            ("Dover Motor Speedway", "dover", Shape::Oval),
            ("Indianapolis Motor Speedway", "indianapolis", Shape::Oval),
            ("Iowa Speedway", "iowa", Shape::Oval),
            (
                "Watkins Glen International",
                "watkins_glen",
                Shape::RoadCourse,
            ),
            ("Richmond Raceway", "richmond", Shape::Oval),
            ("World Wide Technology Raceway", "gateway", Shape::Oval),
            ("New Hampshire Motor Speedway", "new_hampshire", Shape::Oval),
            ("Naval Base Coronado", "san_diego", Shape::StreetCourse),
            ("Chicagoland Speedway", "chicagoland", Shape::Oval),
        ];
        for (name, key, shape) in venues {
            let t = lookup_feed(None, Some(name)).unwrap_or_else(|| panic!("{name}"));
            assert_eq!((t.key, t.shape), (key, shape), "{name}");
            assert!(t.length_mi > 0.2 && t.length_mi < 3.5, "{name}");
        }
        assert_eq!(
            lookup_feed(None, Some("homestead miami SPEEDWAY"))
                .unwrap()
                .key,
            "homestead"
        );
        assert!(lookup_feed(None, Some("Indianapolis Motor Speedway Road Course")).is_none());
        assert!(lookup_feed(None, Some("")).is_none());
    }

    #[test]
    fn the_feeds_track_id_finds_the_track_before_its_name() {
        // Ids and lengths as the archived snapshots give them.
        assert_eq!(lookup_feed(Some(4), None).unwrap().length_mi, 1.366);
        assert_eq!(lookup_feed(Some(39), Some("x")).unwrap().key, "chicagoland");
        assert_eq!(
            lookup_feed(Some(111), None).unwrap().package,
            EnginePackage::Hp510
        );
        assert_eq!(
            lookup_feed(Some(99_999), Some("Sonoma Raceway"))
                .unwrap()
                .key,
            "sonoma"
        );
        assert!(lookup_feed(Some(99_999), None).is_none());
        // Keys and ids are unique.
        let mut keys: Vec<_> = TRACKS.iter().map(|t| t.key).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), TRACKS.len());
        let mut ids: Vec<_> = TRACKS.iter().flat_map(|t| t.feed_ids).collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n);
    }
}
