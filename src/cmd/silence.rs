//! `demo --silence CAR@SECONDS`: a lost feed rehearsed, the car's samples cut from a
//! given race time on.

use serde::Deserialize;

use crate::Failure;

/// A car whose telemetry `demo --silence` cuts, and from when (event time).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Silence {
    car: String,
    from_ts: i64,
}

/// The latest cut `--silence` takes, seconds of race time (ten hours: past any race).
pub(crate) const MAX_SECONDS: f64 = 36_000.0;

/// Reads `CAR@SECONDS`, the seconds (0 to [`MAX_SECONDS`]) counted from `start_ts`;
/// the car must be one of `cars`.
pub(crate) fn parse_silence(s: &str, start_ts: i64, cars: &[String]) -> Result<Silence, Failure> {
    let bad = || {
        Failure::usage(format!(
            "--silence takes CAR@SECONDS, SECONDS 0 to 36000 (e.g. 24@90), got `{s}`"
        ))
    };
    let (car, secs) = s.split_once('@').ok_or_else(bad)?;
    let secs: f64 = secs.parse().map_err(|_| bad())?;
    if car.is_empty() || !secs.is_finite() || !(0.0..=MAX_SECONDS).contains(&secs) {
        return Err(bad());
    }
    if !cars.iter().any(|c| c == car) {
        return Err(Failure::usage(format!(
            "--silence {s}: there is no car {car} in the race (cars: {})",
            cars.join(", ")
        )));
    }
    Ok(Silence {
        car: car.to_owned(),
        from_ts: start_ts + (secs * 1000.0) as i64,
    })
}

/// Whether a simulated line is a sample of a silenced car past its cut.
pub(crate) fn silenced(line: &str, ts: i64, cuts: &[Silence]) -> bool {
    #[derive(Deserialize)]
    struct Head<'a> {
        kind: Option<&'a str>,
        car: Option<&'a str>,
    }
    if !cuts.iter().any(|c| ts >= c.from_ts) {
        return false;
    }
    let Ok(h) = serde_json::from_str::<Head>(line) else {
        return false;
    };
    matches!(h.kind, None | Some("sample"))
        && h.car
            .is_some_and(|car| cuts.iter().any(|c| c.car == car && ts >= c.from_ts))
}
