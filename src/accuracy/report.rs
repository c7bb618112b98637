//! What the held-out replays measured, by track and pooled, printed as the report's
//! three tables and written as JSON.

use std::collections::BTreeMap;
use std::io::Write;

use burnbar_core::correction::LeaveOneTrackOut;

use super::metrics::{Metrics, Thresholds};
use super::rows::{
    Column, CorrectionHeldOut, call_rows, error_rows, loto_rows, samples_row, threshold_rows,
};
use super::table::write_table;

/// The variant the per-track tables show: the calibrated physics, what is deployed.
pub(crate) const SHOWN: usize = 1;

/// One held-out race, measured each way.
pub(crate) struct RaceResult {
    pub track: String,
    /// One per variant of the report, in order.
    pub variants: Vec<Metrics>,
    /// Replayed with the calibration made without its track (none without one).
    pub loto: Option<Metrics>,
}

/// Every held-out race summed by track, and the correction's leave-one-track-out.
pub(crate) struct Results {
    pub names: Vec<&'static str>,
    /// In the order of `--tracks`.
    pub tracks: Vec<(String, Vec<Metrics>, Option<Metrics>)>,
    pub correction_loto: LeaveOneTrackOut,
    pub th: Thresholds,
    /// The after-last-stop target, gallons.
    pub sd_target: f64,
}

impl Results {
    pub fn new(
        names: Vec<&'static str>,
        tracks: &[String],
        races: Vec<RaceResult>,
        correction_loto: LeaveOneTrackOut,
        th: Thresholds,
        sd_target: f64,
    ) -> Results {
        let mut by: Vec<(String, Vec<Metrics>, Option<Metrics>)> = tracks
            .iter()
            .map(|t| {
                (
                    t.clone(),
                    names.iter().map(|_| Metrics::default()).collect(),
                    None,
                )
            })
            .collect();
        for r in races {
            let Some(t) = by.iter_mut().find(|t| t.0 == r.track) else {
                continue;
            };
            for (a, b) in t.1.iter_mut().zip(r.variants) {
                a.absorb(b);
            }
            if let Some(l) = r.loto {
                t.2.get_or_insert_with(Metrics::default).absorb(l);
            }
        }
        Results {
            names,
            tracks: by,
            correction_loto,
            th,
            sd_target,
        }
    }

    /// Every track summed, per variant; and the leave-one-track-out replays summed.
    pub fn pooled(&self) -> (Vec<Metrics>, Option<Metrics>) {
        let mut v: Vec<Metrics> = self.names.iter().map(|_| Metrics::default()).collect();
        let mut loto: Option<Metrics> = None;
        for (_, ms, l) in &self.tracks {
            for (a, b) in v.iter_mut().zip(ms) {
                a.absorb(b.clone());
            }
            if let Some(l) = l {
                loto.get_or_insert_with(Metrics::default).absorb(l.clone());
            }
        }
        (v, loto)
    }

    /// The correction's leave-one-track-out of `track`, or pooled for `None`.
    fn correction_held_out(&self, track: Option<&str>) -> Option<CorrectionHeldOut> {
        let l = &self.correction_loto;
        match track {
            Some(t) => l
                .tracks
                .iter()
                .find(|h| h.track == t)
                .map(|h| CorrectionHeldOut {
                    physics: h.physics_median,
                    corrected: h.corrected_median,
                    outside: h
                        .corrected_median
                        .map(|_| h.windows_outside as f64 / h.windows.max(1) as f64),
                }),
            None => l.physics_median.map(|physics| {
                let (out, all) = l
                    .tracks
                    .iter()
                    .filter(|h| h.corrected_median.is_some())
                    .fold((0, 0), |(o, a), h| (o + h.windows_outside, a + h.windows));
                CorrectionHeldOut {
                    physics,
                    corrected: l.corrected_median,
                    outside: Some(out as f64 / all.max(1) as f64),
                }
            }),
        }
    }

    /// The three tables: every variant pooled; the deployed variant by track with the
    /// leave-one-track-out rows; the calls at every threshold by track.
    pub fn write(&self, out: &mut impl Write) -> std::io::Result<()> {
        let (pooled, pooled_loto) = self.pooled();
        let variants: Vec<(String, Column)> = self
            .names
            .iter()
            .zip(&pooled)
            .map(|(n, m)| {
                let c = Column {
                    m,
                    loto: None,
                    correction_loto: None,
                };
                (n.to_string(), c)
            })
            .collect();
        let mut rows = error_rows(self.sd_target);
        rows.extend(call_rows(&self.th));
        rows.push(samples_row());
        write_table(out, "held-out live races, every track", &variants, &rows)?;

        let mut columns: Vec<(String, Column)> = self
            .tracks
            .iter()
            .map(|(t, ms, l)| {
                let c = Column {
                    m: &ms[SHOWN],
                    loto: l.as_ref(),
                    correction_loto: self.correction_held_out(Some(t)),
                };
                (t.clone(), c)
            })
            .collect();
        columns.push((
            "every track".to_owned(),
            Column {
                m: &pooled[SHOWN],
                loto: pooled_loto.as_ref(),
                correction_loto: self.correction_held_out(None),
            },
        ));
        let mut rows = error_rows(self.sd_target);
        rows.extend(call_rows(&self.th));
        rows.extend(loto_rows());
        rows.push(samples_row());
        writeln!(out)?;
        let corner = format!("{}, by track", self.names[SHOWN]);
        write_table(out, &corner, &columns, &rows)?;
        writeln!(out)?;
        let corner = format!("calls ({}), by cant_make_it_pct", self.names[SHOWN]);
        write_table(out, &corner, &columns, &threshold_rows(&self.th))
    }

    /// The figures as JSON: every variant pooled, and by track.
    pub fn to_json(&self) -> serde_json::Value {
        let (pooled, pooled_loto) = self.pooled();
        let th = &self.th;
        let variants = |ms: &[Metrics]| -> Vec<serde_json::Value> {
            self.names
                .iter()
                .zip(ms)
                .map(|(n, m)| m.to_json(n, th))
                .collect()
        };
        let held = |h: Option<CorrectionHeldOut>| {
            h.map(|h| {
                serde_json::json!({
                    "stint_error_median_physics": h.physics,
                    "stint_error_median_corrected": h.corrected,
                    "windows_outside_domain": h.outside,
                })
            })
        };
        let by_track: BTreeMap<&str, serde_json::Value> = self
            .tracks
            .iter()
            .map(|(t, ms, l)| {
                let v = serde_json::json!({
                    "variants": variants(ms),
                    "calibrated_without_track": l.as_ref().map(|l| l.to_json("calibrated without the track", th)),
                    "correction_without_track": held(self.correction_held_out(Some(t))),
                });
                (t.as_str(), v)
            })
            .collect();
        serde_json::json!({
            "races": pooled[0].races,
            "cant_make_it_pct": th.values[th.main],
            "thresholds": th.values,
            "variants": variants(&pooled),
            "by_track": by_track,
            "leave_one_track_out": {
                "calibrated_without_track": pooled_loto.map(|l| l.to_json("calibrated without the track", th)),
                "correction_without_track": held(self.correction_held_out(None)),
            },
        })
    }
}
