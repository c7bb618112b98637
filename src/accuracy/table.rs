//! The report's table: one row per figure, one column per variant, and the target.

use std::io::Write;

use super::metrics::{ALTERNATIVES, Metrics, quantile};

/// One row: its label, its target, and its figure for a variant.
struct Row {
    label: String,
    target: &'static str,
    value: Box<dyn Fn(&Metrics) -> String>,
}

impl Row {
    fn new(
        label: impl Into<String>,
        target: &'static str,
        value: impl Fn(&Metrics) -> String + 'static,
    ) -> Row {
        Row {
            label: label.into(),
            target,
            value: Box::new(value),
        }
    }
}

fn pct(v: f64) -> String {
    format!("{:.2}%", 100.0 * v)
}

fn gal(v: f64) -> String {
    format!("{v:.2} gal")
}

fn laps(v: f64) -> String {
    format!("{v:.2} laps")
}

/// A count of `races` as a rate per 10 races, with the count.
fn per_10(n: u32, races: usize) -> String {
    format!("{:.1} ({n} in {races})", 10.0 * n as f64 / races as f64)
}

/// Writes the table of `totals` (one per variant of `names`) over `races` races.
pub(crate) fn write_table(
    out: &mut impl Write,
    names: &[&str],
    totals: &[Metrics],
    races: usize,
) -> std::io::Result<()> {
    let mut rows = error_rows();
    rows.extend(call_rows(races));
    // The other judgements of the calls go before the samples row.
    rows.extend(alternative_rows(races));
    rows.push(Row::new(
        "samples: stints / pit entries / dry cars",
        "",
        |m| format!("{} / {} / {}", m.stint_err.len(), m.pit_err.len(), m.dry),
    ));
    let widths: Vec<usize> = names.iter().map(|n| n.len().max(18)).collect();
    let lw = rows
        .iter()
        .map(|r| r.label.chars().count())
        .max()
        .unwrap_or(0);
    write!(out, "| {:<lw$} |", "held-out live races")?;
    for (n, w) in names.iter().zip(&widths) {
        write!(out, " {n:<w$} |")?;
    }
    writeln!(out, " target     |")?;
    write!(out, "|{}|", "-".repeat(lw + 2))?;
    for w in &widths {
        write!(out, "{}|", "-".repeat(w + 2))?;
    }
    writeln!(out, "------------|")?;
    for Row {
        label,
        target,
        value,
    } in &rows
    {
        write!(out, "| {label:<lw$} |")?;
        for (m, w) in totals.iter().zip(&widths) {
            write!(out, " {:<w$} |", value(m))?;
        }
        writeln!(out, " {target:<10} |")?;
    }
    Ok(())
}

/// The estimate's errors: stint fuel, fuel at pit entry, laps to empty, the band.
fn error_rows() -> Vec<Row> {
    vec![
        Row::new("stint fuel |error| median", "<= 2%", |m| {
            pct(quantile(&m.stint_err, 0.5))
        }),
        Row::new("stint fuel |error| p90", "<= 5%", |m| {
            pct(quantile(&m.stint_err, 0.9))
        }),
        Row::new("remaining at pit entry |error| median", "<= 0.4 gal", |m| {
            gal(quantile(&m.pit_err, 0.5))
        }),
        Row::new("remaining at pit entry |error| p90", "", |m| {
            gal(quantile(&m.pit_err, 0.9))
        }),
        Row::new("laps_to_empty 10 laps before dry, median", "", |m| {
            laps(quantile(&m.lte_err, 0.5))
        }),
        Row::new("laps_to_empty 10 laps before dry, p90", "", |m| {
            laps(quantile(&m.lte_err, 0.9))
        }),
        Row::new("90% band coverage", "85-95%", |m| {
            pct(m.band_in as f64 / m.band_n.max(1) as f64)
        }),
    ]
}

/// The estimate's own calls: cars that ran dry called, false calls and what they were.
fn call_rows(races: usize) -> Vec<Row> {
    vec![
        Row::new("cars run dry, called >= 5 laps before", ">= 90%", |m| {
            format!(
                "{}/{} ({})",
                m.dry_called,
                m.dry,
                if m.dry > 0 {
                    pct(m.dry_called as f64 / m.dry as f64)
                } else {
                    "-".into()
                }
            )
        }),
        Row::new("false calls per 10 races", "<= 1", move |m| {
            per_10(m.false_calls, races)
        }),
        Row::new("  of which cars that finished laps down", "", |m| {
            format!("{}", m.false_calls_lapped)
        }),
        Row::new("  of which the true fuel calls too", "", |m| {
            format!("{}", m.false_calls_truth)
        }),
        Row::new("  of which neither (the estimate's error)", "", |m| {
            format!("{}", m.false_calls_estimate)
        }),
    ]
}

/// The calls judged the other ways of [`ALTERNATIVES`]: two rows each.
fn alternative_rows(races: usize) -> Vec<Row> {
    let mut rows = Vec::new();
    for (i, (label, target, _)) in ALTERNATIVES.iter().enumerate() {
        rows.push(Row::new(
            format!("{label}: cars run dry, called"),
            target,
            move |m| format!("{}/{}", m.alt[i].dry_called, m.dry),
        ));
        rows.push(Row::new(
            format!("{label}: false calls per 10"),
            target,
            move |m| per_10(m.alt[i].false_calls, races),
        ));
    }
    rows
}
