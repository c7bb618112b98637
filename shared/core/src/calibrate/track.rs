//! The spread of the model's burn between tracks: what a calibration used on a track it
//! was not fitted on must own to. Its own residuals cannot show it (every fitted track's
//! quirks are in the fit), so each track is left out in turn: the package is fitted on
//! its other tracks, and the mean error of the left-out track's stints is one draw of
//! how far off a new track is.

use std::collections::BTreeMap;

use super::{StintObs, fit_package};
use crate::model::ModelParams;

/// `(relative sd between tracks, tracks left out)`: the root mean square of the
/// left-out tracks' mean log errors (measured against the fit without them), over every
/// package with measured stints on at least two tracks; `None` when none has. The mean
/// error of a track also carries the noise of its few cars: the estimate keeps it, as a
/// new track's first cars do too.
pub(super) fn between_tracks(measured: &[&StintObs], base: &ModelParams) -> Option<(f64, usize)> {
    let mut by_pkg: BTreeMap<_, BTreeMap<&str, Vec<&StintObs>>> = BTreeMap::new();
    for s in measured.iter().filter(|s| !s.track.is_empty()) {
        by_pkg
            .entry(s.package)
            .or_default()
            .entry(s.track.as_str())
            .or_default()
            .push(*s);
    }
    let mut squares = Vec::new();
    for (pkg, tracks) in &by_pkg {
        if tracks.len() < 2 {
            continue;
        }
        for (left, own) in tracks {
            let others: Vec<&StintObs> = tracks
                .iter()
                .filter(|(t, _)| *t != left)
                .flat_map(|(_, v)| v.iter().copied())
                .collect();
            let fitted = fit_package(&others, base.package(*pkg));
            let logs: Vec<f64> = own
                .iter()
                .filter_map(|s| {
                    let m = s.measured_gal?;
                    let e = s.estimate(&fitted);
                    (m > 0.0 && e > 0.0).then(|| (m / e).ln())
                })
                .collect();
            if !logs.is_empty() {
                let mean = logs.iter().sum::<f64>() / logs.len() as f64;
                squares.push(mean * mean);
            }
        }
    }
    if squares.is_empty() {
        return None;
    }
    let sd = (squares.iter().sum::<f64>() / squares.len() as f64).sqrt();
    Some((sd.max(0.005), squares.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stint of `gal` measured on `track`, the model (base parameters) counting it
    /// `1 / bias` times too low: mostly wide open.
    fn stint(track: &str, i: usize, bias: f64) -> StintObs {
        let base = ModelParams::default();
        let caution = 0.05 + 0.03 * (i % 7) as f64;
        let points = vec![
            (1.0, 9000.0, 0.3 * (1.0 - caution)),
            (0.2, 4200.0, 0.3 * caution),
        ];
        StintObs::weighed_for_test(
            format!("{track}-{}", i % 3),
            track,
            i,
            points,
            &base.hp670,
            bias,
        )
    }

    #[test]
    fn tracks_that_burn_alike_show_little_spread_and_tracks_that_differ_show_it() {
        let base = ModelParams::default();
        let same: Vec<StintObs> = ["pocono", "michigan", "charlotte"]
            .iter()
            .flat_map(|t| (0..12).map(move |i| stint(t, i, 1.0)))
            .collect();
        let refs: Vec<&StintObs> = same.iter().collect();
        let (sd, n) = between_tracks(&refs, &base).unwrap();
        assert_eq!(n, 3);
        assert!(sd < 0.006, "{sd}");
        // One track burns 4 % more than the others: left out, it is 4 % (or more) off,
        // and the others a share of it.
        let differ: Vec<StintObs> = [("pocono", 1.04), ("michigan", 1.0), ("charlotte", 1.0)]
            .iter()
            .flat_map(|&(t, b)| (0..12).map(move |i| stint(t, i, b)))
            .collect();
        let refs: Vec<&StintObs> = differ.iter().collect();
        let (sd, _) = between_tracks(&refs, &base).unwrap();
        assert!(sd > 0.02 && sd < 0.05, "{sd}");
        // One track of the package: nothing to leave out.
        let one: Vec<&StintObs> = refs
            .iter()
            .copied()
            .filter(|s| s.track == "pocono")
            .collect();
        assert_eq!(between_tracks(&one, &base), None);
    }
}
