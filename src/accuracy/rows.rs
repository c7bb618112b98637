//! The report's rows, and the targets they are held to (issue 14).

use super::metrics::{Calls, Metrics, Thresholds, quantile, sd};
use super::table::{Fig, Row, Target};

/// The correction trained without a track, scored on that track's training stints:
/// median |error| of stint fuel by physics and corrected (none: no other track of its
/// package to train on), and the share of its windows outside the domain.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CorrectionHeldOut {
    pub physics: f64,
    pub corrected: Option<f64>,
    pub outside: Option<f64>,
}

/// One column of a table: what a variant measured, over one track or pooled.
pub(crate) struct Column<'a> {
    pub m: &'a Metrics,
    /// The same races replayed with the calibration made without their track.
    pub loto: Option<&'a Metrics>,
    pub correction_loto: Option<CorrectionHeldOut>,
}

type R<'a> = Row<Column<'a>>;

fn pct(v: f64) -> String {
    format!("{:.2}%", 100.0 * v)
}

fn gal(v: f64) -> String {
    format!("{v:.2} gal")
}

fn laps(v: f64) -> String {
    format!("{v:.2} laps")
}

/// The stint, pit-entry, laps-to-empty, band and after-the-last-stop rows; `sd_target`
/// is the after-stop target (gallons: 0.15 with pit detail, 0.3 without).
pub(crate) fn error_rows<'a>(sd_target: f64) -> Vec<R<'a>> {
    vec![
        Row::new(
            "stint fuel |error| median",
            Target::at_most(0.015, "1.5%"),
            |c: &Column| Fig::num(quantile(&c.m.stint_err, 0.5), pct),
        ),
        Row::new(
            "stint fuel |error| p90",
            Target::at_most(0.04, "4%"),
            |c: &Column| Fig::num(quantile(&c.m.stint_err, 0.9), pct),
        ),
        Row::new(
            "remaining at pit entry |error| median",
            Target::at_most(0.25, "0.25 gal"),
            |c: &Column| Fig::num(quantile(&c.m.pit_err, 0.5), gal),
        ),
        Row::new(
            "remaining at pit entry |error| p90",
            Target::none(),
            |c: &Column| Fig::num(quantile(&c.m.pit_err, 0.9), gal),
        ),
        Row::new(
            "laps_to_empty 10 laps before dry, median",
            Target::none(),
            |c: &Column| Fig::num(quantile(&c.m.lte_err, 0.5), laps),
        ),
        Row::new(
            "laps_to_empty 10 laps before dry, p90",
            Target::none(),
            |c: &Column| Fig::num(quantile(&c.m.lte_err, 0.9), laps),
        ),
        Row::new(
            "90% band coverage",
            Target::within(0.85, 0.95, "85-95%"),
            |c: &Column| {
                Fig::num(
                    if c.m.band_n == 0 {
                        f64::NAN
                    } else {
                        c.m.coverage()
                    },
                    |v| format!("{:.1}%", 100.0 * v),
                )
            },
        ),
        Row::new(
            "remaining after the last stop, error sd (green finishes)",
            Target::at_most(sd_target, &format!("{sd_target} gal")),
            |c: &Column| Fig::num(c.m.after_stop_sd(), gal),
        ),
        Row::new(
            "  |error| p90 after the last stop",
            Target::none(),
            |c: &Column| {
                let abs: Vec<f64> = c.m.after_stop_err.iter().map(|e| e.abs()).collect();
                Fig::num(quantile(&abs, 0.9), gal)
            },
        ),
        Row::new("  mean error / cars", Target::none(), |c: &Column| {
            let v = &c.m.after_stop_err;
            Fig::text(if v.is_empty() {
                "-".to_owned()
            } else {
                format!(
                    "{:+.2} gal / {}",
                    v.iter().sum::<f64>() / v.len() as f64,
                    v.len()
                )
            })
        }),
        Row::new(
            "  error sd / cars with each last pour known exactly",
            Target::none(),
            |c: &Column| {
                let v = &c.m.after_stop_pour_known_err;
                Fig::text(if v.len() < 2 {
                    "-".to_owned()
                } else {
                    format!("{:.2} gal / {}", sd(v), v.len())
                })
            },
        ),
    ]
}

/// Cars that ran dry called, as a count and a share.
fn dry_called(c: Calls, dry: u32) -> Fig {
    if dry == 0 {
        return Fig::text("0/0");
    }
    let share = c.dry_called as f64 / dry as f64;
    Fig {
        text: format!("{}/{dry} ({:.0}%)", c.dry_called, 100.0 * share),
        value: Some(share),
    }
}

/// False calls per 10 races, with the count.
fn per_10(n: u32, races: usize) -> Fig {
    let rate = 10.0 * n as f64 / races.max(1) as f64;
    Fig {
        text: format!("{rate:.1} ({n} in {races})"),
        value: Some(rate),
    }
}

/// The calls at the deployment's threshold, on the estimate and on the floor.
pub(crate) fn call_rows<'a>(th: &Thresholds) -> Vec<R<'a>> {
    let (k, t) = (th.main, th.values[th.main]);
    vec![
        Row::new(
            format!("cars run dry, called 15-5 laps before ({t}%)"),
            Target::at_least(0.9, "90%"),
            move |c: &Column| dry_called(c.m.calls[k], c.m.dry),
        ),
        Row::new(
            format!("false calls per 10 races ({t}%)"),
            Target::at_most(1.0, "1"),
            move |c: &Column| per_10(c.m.calls[k].false_calls, c.m.races),
        ),
        Row::new(
            "  of which the true fuel calls too",
            Target::none(),
            |c: &Column| Fig::text(c.m.false_truth_too.to_string()),
        ),
        Row::new(
            format!("floor: cars run dry, called ({t}%)"),
            Target::note("floor"),
            move |c: &Column| dry_called(c.m.floor[k], c.m.dry),
        ),
        Row::new(
            format!("floor: false calls per 10 races ({t}%)"),
            Target::note("floor"),
            move |c: &Column| per_10(c.m.floor[k].false_calls, c.m.races),
        ),
    ]
}

/// The calls at every threshold: the estimate's, held to the targets, and the floor's.
pub(crate) fn threshold_rows<'a>(th: &Thresholds) -> Vec<R<'a>> {
    let mut rows = Vec::new();
    for (k, &t) in th.values.iter().enumerate() {
        let mark = if k == th.main { " (deployed)" } else { "" };
        rows.push(Row::new(
            format!("{t}%{mark}: cars run dry, called"),
            Target::at_least(0.9, "90%"),
            move |c: &Column| dry_called(c.m.calls[k], c.m.dry),
        ));
        rows.push(Row::new(
            format!("{t}%{mark}: false calls per 10 races"),
            Target::at_most(1.0, "1"),
            move |c: &Column| per_10(c.m.calls[k].false_calls, c.m.races),
        ));
        rows.push(Row::new(
            format!("{t}%{mark}: floor, cars run dry, called"),
            Target::note("floor"),
            move |c: &Column| dry_called(c.m.floor[k], c.m.dry),
        ));
        rows.push(Row::new(
            format!("{t}%{mark}: floor, false calls per 10 races"),
            Target::note("floor"),
            move |c: &Column| per_10(c.m.floor[k].false_calls, c.m.races),
        ));
    }
    rows
}

/// The leave-one-track-out rows: the track's races with the calibration made without
/// it, and the correction trained without it.
pub(crate) fn loto_rows<'a>() -> Vec<R<'a>> {
    let loto = |f: fn(&Metrics) -> Fig| move |c: &Column| c.loto.map_or(Fig::text("-"), f);
    vec![
        Row::new(
            "track left out of calibration: 90% band coverage",
            Target::at_least(0.85, "85%"),
            loto(|m| {
                Fig::num(
                    if m.band_n == 0 {
                        f64::NAN
                    } else {
                        m.coverage()
                    },
                    |v| format!("{:.1}%", 100.0 * v),
                )
            }),
        ),
        Row::new(
            "track left out of calibration: stint |error| median",
            Target::none(),
            loto(|m| Fig::num(m.stint_median(), pct)),
        ),
        Row::new(
            "track left out of calibration: stint |error| p90",
            Target::none(),
            loto(|m| Fig::num(quantile(&m.stint_err, 0.9), pct)),
        ),
        Row::new(
            "track left out of calibration: pit entry |error| median",
            Target::none(),
            loto(|m| Fig::num(m.pit_median(), gal)),
        ),
        Row::new(
            "track left out of calibration: after the last stop, error sd",
            Target::none(),
            loto(|m| Fig::num(m.after_stop_sd(), gal)),
        ),
        Row::new(
            "track left out of the correction: stint |error| median (physics)",
            Target::none(),
            |c: &Column| {
                Fig::text(
                    c.correction_loto
                        .map_or("-".to_owned(), |h| match h.corrected {
                            Some(v) => format!("{} ({})", pct(v), pct(h.physics)),
                            None => format!("- ({})", pct(h.physics)),
                        }),
                )
            },
        ),
        Row::new(
            "  its windows outside the correction's domain",
            Target::none(),
            |c: &Column| {
                Fig::text(
                    c.correction_loto
                        .and_then(|h| h.outside)
                        .map_or("-".to_owned(), |v| format!("{:.1}%", 100.0 * v)),
                )
            },
        ),
    ]
}

/// How many of each the figures rest on.
pub(crate) fn samples_row<'a>() -> R<'a> {
    Row::new(
        "samples: races / stints / pit entries / dry cars",
        Target::none(),
        |c: &Column| {
            let m = c.m;
            Fig::text(format!(
                "{} / {} / {} / {}",
                m.races,
                m.stint_err.len(),
                m.pit_err.len(),
                m.dry
            ))
        },
    )
}
