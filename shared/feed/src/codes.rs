//! The feed's codes: flag states and running statuses.
//!
//! The codes are read from what the archived files show (`tests/fixtures/feed/`), not
//! from guesses. In the Chicagoland flag data, `8` comes before the green at elapsed 0,
//! `1` and `2` alternate with the stage ends and cautions, `4` appears the instant the
//! leader finishes (0.3 s before the leader's own crossing time) and `9` four minutes
//! later; open projects that read the same feed name them warm-up (`8`), finish (`4`) and
//! not active or cold track (`9`), and red is `3`. In the snapshots, status `1` is a car
//! running and `3` a car out (off the track and laps down for good). Any other code is
//! reported and changes nothing: in particular no white flag code shows in any file, so
//! none is mapped.

use burnbar_core::Flag;

/// A flag state the converter knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FeedFlag {
    Green,
    Yellow,
    Red,
    /// The leader took the checkered flag.
    Finish,
    /// Cars on track before the start (pace and warm-up laps): no race-control flag.
    WarmUp,
    /// The track is not active: before the race, nothing; after it started, the race is
    /// over, so the contract's `checkered` stays in force.
    Cold,
}

impl FeedFlag {
    pub fn from_code(code: i64) -> Option<FeedFlag> {
        Some(match code {
            1 => FeedFlag::Green,
            2 => FeedFlag::Yellow,
            3 => FeedFlag::Red,
            4 => FeedFlag::Finish,
            8 => FeedFlag::WarmUp,
            9 => FeedFlag::Cold,
            _ => return None,
        })
    }

    /// The feed's code (what the recorder writes).
    pub fn code(self) -> i64 {
        match self {
            FeedFlag::Green => 1,
            FeedFlag::Yellow => 2,
            FeedFlag::Red => 3,
            FeedFlag::Finish => 4,
            FeedFlag::WarmUp => 8,
            FeedFlag::Cold => 9,
        }
    }

    /// The contract's flag once the race has started; `None` for warm-up.
    pub fn contract(self) -> Option<Flag> {
        match self {
            FeedFlag::Green => Some(Flag::Green),
            FeedFlag::Yellow => Some(Flag::Yellow),
            FeedFlag::Red => Some(Flag::Red),
            FeedFlag::Finish | FeedFlag::Cold => Some(Flag::Checkered),
            FeedFlag::WarmUp => None,
        }
    }

    /// The feed's state for a contract flag (what the recorder writes). The feed has no
    /// white flag: the last lap runs under green.
    pub fn from_contract(flag: Flag) -> FeedFlag {
        match flag {
            Flag::Green | Flag::White => FeedFlag::Green,
            Flag::Yellow => FeedFlag::Yellow,
            Flag::Red => FeedFlag::Red,
            Flag::Checkered => FeedFlag::Finish,
        }
    }
}

/// A car's running status the converter knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Running,
    /// Out of the race: `car_out`, once.
    Out,
}

impl Status {
    pub fn from_code(code: i64) -> Option<Status> {
        match code {
            1 => Some(Status::Running),
            3 => Some(Status::Out),
            _ => None,
        }
    }

    pub fn code(self) -> i64 {
        match self {
            Status::Running => 1,
            Status::Out => 3,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_round_trip_and_others_are_unknown() {
        for c in [1, 2, 3, 4, 8, 9] {
            assert_eq!(FeedFlag::from_code(c).unwrap().code(), c);
        }
        for c in [0, 5, 6, 7, 10, -1] {
            assert_eq!(FeedFlag::from_code(c), None, "{c}");
        }
        assert_eq!(FeedFlag::WarmUp.contract(), None);
        assert_eq!(FeedFlag::Cold.contract(), Some(Flag::Checkered));
        assert_eq!(Status::from_code(3), Some(Status::Out));
        assert_eq!(Status::from_code(2), None);
    }
}
