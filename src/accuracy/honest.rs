//! Whether the band is honest where the report's totals cannot say (issue 14, items 3
//! and 4): the band's coverage on every track on its own, the fuel after each car's last
//! stop, and the band on a track the calibration was not fitted on.
//!
//! - **Per track**: the 90 % band's coverage of each track's held-out races.
//! - **After the last stop**: for every car of a race whose last run is green to the end
//!   (no yellow or red after the last green), the `remaining_gal` of the first update
//!   after its last `pit_out` against the truth at that window's end: what every
//!   fuel-mileage call of the finish stands on. The signed errors' standard deviation.
//! - **Leave one track out**: calibrate on the training races of every track but one,
//!   replay that one's held-out races with it, and score them (coverage, stint error,
//!   the fuel after the last stop): what a calibration is worth on a track it has never
//!   seen, which every calibration and the embedded defaults are, on air.

use std::collections::BTreeMap;
use std::io::Write;

use burnbar_core::calibrate::{self, StintObs};
use burnbar_core::{Engine, EngineConfig, FuelUpdate, ModelParams};
use serde::Deserialize;

use super::metrics::quantile;
use super::truth::Truth;
use super::{Metrics, RaceSpec, measure, parallel, pit_entries, push_all, simulate};
use crate::Failure;

/// What one variant measured of the band's honesty (over one race, then over all).
#[derive(Debug, Default, Clone)]
pub(crate) struct Honesty {
    /// Per track: (windows inside the band, windows).
    pub band: BTreeMap<String, (u64, u64)>,
    /// Signed errors of `remaining_gal` in the first update after each car's last stop,
    /// in races whose last run is green to the end, gal.
    pub after_last_stop: Vec<f64>,
}

impl Honesty {
    pub fn absorb(&mut self, o: Honesty) {
        for (t, (i, n)) in o.band {
            let e = self.band.entry(t).or_default();
            e.0 += i;
            e.1 += n;
        }
        self.after_last_stop.extend(o.after_last_stop);
    }

    /// `(mean, sd)` of the errors after the last stop; NaN for none.
    fn after_stats(&self) -> (f64, f64) {
        let v = &self.after_last_stop;
        let n = v.len() as f64;
        if v.len() < 2 {
            return (f64::NAN, f64::NAN);
        }
        let mean = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, var.sqrt())
    }

    /// One line: coverage per track, and the errors after the last stop.
    fn line(&self) -> String {
        let tracks: Vec<String> = self
            .band
            .iter()
            .map(|(t, (i, n))| format!("{t} {:.1}%", 100.0 * *i as f64 / (*n).max(1) as f64))
            .collect();
        let (mean, sd) = self.after_stats();
        let abs: Vec<f64> = self.after_last_stop.iter().map(|e| e.abs()).collect();
        format!(
            "coverage {}; after the last stop ({} cars): sd {:.3} gal, mean {:+.3}, |error| p90 {:.2}",
            tracks.join(", "),
            self.after_last_stop.len(),
            sd,
            mean,
            quantile(&abs, 0.9)
        )
    }
}

/// The band's coverage of `updates` on `track`, and the fuel after each car's last stop
/// when the race's last run is green to the end (`race` is its NDJSON).
pub(crate) fn honesty(track: &str, race: &[u8], truth: &Truth, updates: &[FuelUpdate]) -> Honesty {
    let mut h = Honesty::default();
    let (mut inside, mut n) = (0u64, 0u64);
    for u in updates {
        if let Some(t) = truth.at(u.car.as_str(), u.window_end) {
            n += 1;
            if u.remaining_low_gal - 1e-6 <= t.remaining_gal
                && t.remaining_gal <= u.remaining_high_gal + 1e-6
            {
                inside += 1;
            }
        }
    }
    h.band.insert(track.to_owned(), (inside, n));
    let (last_out, green_finish) = stops_and_flags(race);
    if !green_finish {
        return h;
    }
    for (car, ts) in last_out {
        let after = updates
            .iter()
            .filter(|u| u.car.as_str() == car && u.window_end > ts)
            .min_by_key(|u| u.window_end);
        if let Some(u) = after
            && let Some(t) = truth.at(&car, u.window_end)
        {
            h.after_last_stop.push(u.remaining_gal - t.remaining_gal);
        }
    }
    h
}

/// Each car's last `pit_out` ts, and whether the race's last run is green to the end:
/// no `yellow` or `red` after its last `green`.
fn stops_and_flags(race: &[u8]) -> (BTreeMap<String, i64>, bool) {
    #[derive(Deserialize)]
    struct Ev<'a> {
        kind: &'a str,
        car: Option<String>,
        flag: Option<&'a str>,
        ts: i64,
    }
    let mut last_out = BTreeMap::new();
    let (mut last_green, mut last_caution) = (i64::MIN, i64::MIN);
    for l in race.split(|&b| b == b'\n') {
        if !l.windows(7).any(|w| w == b"\"kind\":") {
            continue;
        }
        let Ok(e) = serde_json::from_slice::<Ev>(l) else {
            continue;
        };
        match (e.kind, e.flag) {
            ("pit_out", _) => {
                if let Some(c) = e.car {
                    last_out.insert(c, e.ts);
                }
            }
            ("flag", Some("green")) => last_green = last_green.max(e.ts),
            ("flag", Some("yellow" | "red")) => last_caution = last_caution.max(e.ts),
            _ => {}
        }
    }
    (last_out, last_green > last_caution)
}

/// What leaving one track out measured: per track left out, the report's figures and
/// the band's honesty on its held-out races, with the calibration fitted without it.
pub(crate) struct LeftOut {
    pub track: String,
    pub metrics: Metrics,
    pub honesty: Honesty,
}

/// For every track of `tracks` (when there are two or more): calibrate on the training
/// stints of the others (`stints`, from `base`), replay the track's held-out races of
/// `test` with that calibration, and measure them.
pub(crate) fn leave_one_track_out(
    tracks: &[String],
    stints: &[StintObs],
    base: &ModelParams,
    test: &[RaceSpec],
    jobs: usize,
) -> Result<Vec<LeftOut>, Failure> {
    if tracks.len() < 2 {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for track in tracks {
        let others: Vec<StintObs> = stints
            .iter()
            .filter(|s| &s.track != track)
            .cloned()
            .collect();
        let single = tracks.len() == 2;
        let params = calibrate::fit(&others, base, single)
            .map_err(|e| Failure::other(format!("calibrating without {track}: {e}")))?
            .params;
        let races: Vec<RaceSpec> = test.iter().filter(|r| &r.track == track).cloned().collect();
        let per_race = parallel(&races, jobs, |r| {
            let (race, truth, summary) = simulate(r, true)?;
            let truth = Truth::parse(&truth);
            let pits = pit_entries(&race);
            let mut engine = Engine::new(EngineConfig::default(), params.clone());
            let updates = push_all(&mut engine, &race);
            Ok((
                measure(&truth, &updates, &pits, summary.laps),
                honesty(&r.track, &race, &truth, &updates),
            ))
        })?;
        let mut left = LeftOut {
            track: track.clone(),
            metrics: Metrics::default(),
            honesty: Honesty::default(),
        };
        for (m, h) in per_race {
            left.metrics.absorb(m);
            left.honesty.absorb(h);
        }
        out.push(left);
    }
    Ok(out)
}

/// The lines of this module's figures: per variant, then per track left out.
pub(crate) fn write_honesty(
    out: &mut impl Write,
    names: &[&str],
    honesty: &[Honesty],
    left_out: &[LeftOut],
) -> std::io::Result<()> {
    writeln!(out)?;
    for (name, h) in names.iter().zip(honesty) {
        writeln!(out, "{name}: {}", h.line())?;
    }
    for l in left_out {
        let m = &l.metrics;
        writeln!(
            out,
            "calibrated without {}: {}; stint |error| median {:.2}% p90 {:.2}%, pit entry median {:.2} gal",
            l.track,
            l.honesty.line(),
            100.0 * quantile(&m.stint_err, 0.5),
            100.0 * quantile(&m.stint_err, 0.9),
            quantile(&m.pit_err, 0.5)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_race_is_green_to_the_end_when_no_caution_follows_its_last_green() {
        let race = br#"{"v":1,"kind":"flag","ts":1,"flag":"green"}
{"v":1,"kind":"pit_out","ts":5,"car":"7"}
{"v":1,"kind":"flag","ts":10,"flag":"yellow"}
{"v":1,"kind":"pit_out","ts":12,"car":"7"}
{"v":1,"kind":"pit_out","ts":13,"car":"9"}
{"v":1,"kind":"flag","ts":20,"flag":"green"}
{"v":1,"kind":"flag","ts":30,"flag":"checkered"}
{"v":1,"car":"7","ts":31,"rpm":8000}
"#;
        let (last, green) = stops_and_flags(race);
        assert!(green);
        assert_eq!(last.get("7"), Some(&12));
        assert_eq!(last.get("9"), Some(&13));
        let under_yellow = b"{\"v\":1,\"kind\":\"flag\",\"ts\":1,\"flag\":\"green\"}\n{\"v\":1,\"kind\":\"flag\",\"ts\":9,\"flag\":\"yellow\"}\n";
        assert!(!stops_and_flags(under_yellow).1);
    }
}
