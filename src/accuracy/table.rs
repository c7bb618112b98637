//! A printed table: one row per figure, one column per variant or track, and the
//! target, each figure marked met (✓) or missed (✗) where it has one.

use std::io::Write;

/// A figure: as printed, and the number its target judges (none: nothing to judge).
pub(crate) struct Fig {
    pub text: String,
    pub value: Option<f64>,
}

impl Fig {
    /// A figure without a number to judge.
    pub fn text(text: impl Into<String>) -> Fig {
        Fig {
            text: text.into(),
            value: None,
        }
    }

    /// `v` printed by `fmt`; NaN (no sample) is "n/a" and judged by nothing.
    pub fn num(v: f64, fmt: impl Fn(f64) -> String) -> Fig {
        if v.is_nan() {
            Fig::text("n/a")
        } else {
            Fig {
                text: fmt(v),
                value: Some(v),
            }
        }
    }
}

/// What a figure should be.
pub(crate) struct Target {
    pub text: String,
    met: Option<Box<dyn Fn(f64) -> bool>>,
}

impl Target {
    pub fn none() -> Target {
        Target {
            text: String::new(),
            met: None,
        }
    }

    /// At most `v`, written `text`.
    pub fn at_most(v: f64, text: &str) -> Target {
        Target {
            text: format!("<= {text}"),
            met: Some(Box::new(move |x| x <= v + 1e-12)),
        }
    }

    pub fn at_least(v: f64, text: &str) -> Target {
        Target {
            text: format!(">= {text}"),
            met: Some(Box::new(move |x| x >= v - 1e-12)),
        }
    }

    pub fn within(lo: f64, hi: f64, text: &str) -> Target {
        Target {
            text: text.to_owned(),
            met: Some(Box::new(move |x| lo - 1e-12 <= x && x <= hi + 1e-12)),
        }
    }

    /// A label in the target column that judges nothing ("floor", "(info)").
    pub fn note(text: &str) -> Target {
        Target {
            text: text.to_owned(),
            met: None,
        }
    }

    /// Whether `f` meets it; `None` when there is nothing to judge.
    pub fn met(&self, f: &Fig) -> Option<bool> {
        Some(self.met.as_ref()?(f.value?))
    }
}

/// One row: its label, its target, and its figure for a column of type `C`.
pub(crate) struct Row<C> {
    pub label: String,
    pub target: Target,
    pub value: Box<dyn Fn(&C) -> Fig>,
}

impl<C> Row<C> {
    pub fn new(
        label: impl Into<String>,
        target: Target,
        value: impl Fn(&C) -> Fig + 'static,
    ) -> Row<C> {
        Row {
            label: label.into(),
            target,
            value: Box::new(value),
        }
    }
}

/// Writes a Markdown table: `corner` over the labels, one column per `(name, column)`.
pub(crate) fn write_table<C>(
    out: &mut impl Write,
    corner: &str,
    columns: &[(String, C)],
    rows: &[Row<C>],
) -> std::io::Result<()> {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            columns
                .iter()
                .map(|(_, c)| {
                    let f = (r.value)(c);
                    match r.target.met(&f) {
                        Some(true) => format!("{} ✓", f.text),
                        Some(false) => format!("{} ✗", f.text),
                        None => f.text,
                    }
                })
                .collect()
        })
        .collect();
    let width = |s: &str| s.chars().count();
    let lw = rows
        .iter()
        .map(|r| width(&r.label))
        .chain([width(corner)])
        .max()
        .unwrap_or(0);
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, (n, _))| {
            cells
                .iter()
                .map(|r| width(&r[i]))
                .chain([width(n)])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let tw = rows
        .iter()
        .map(|r| width(&r.target.text))
        .chain([6])
        .max()
        .unwrap_or(6);
    let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w.saturating_sub(width(s))));
    write!(out, "| {} |", pad(corner, lw))?;
    for ((n, _), w) in columns.iter().zip(&widths) {
        write!(out, " {} |", pad(n, *w))?;
    }
    writeln!(out, " {} |", pad("target", tw))?;
    write!(out, "|{}|", "-".repeat(lw + 2))?;
    for w in &widths {
        write!(out, "{}|", "-".repeat(w + 2))?;
    }
    writeln!(out, "{}|", "-".repeat(tw + 2))?;
    for (r, row) in rows.iter().zip(&cells) {
        write!(out, "| {} |", pad(&r.label, lw))?;
        for (c, w) in row.iter().zip(&widths) {
            write!(out, " {} |", pad(c, *w))?;
        }
        writeln!(out, " {} |", pad(&r.target.text, tw))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_marked_against_their_targets_and_columns_line_up() {
        let rows: Vec<Row<f64>> = vec![
            Row::new("error", Target::at_most(0.015, "1.5%"), |v: &f64| {
                Fig::num(*v, |x| format!("{:.2}%", 100.0 * x))
            }),
            Row::new(
                "coverage",
                Target::within(0.85, 0.95, "85-95%"),
                |v: &f64| Fig::num(0.9 + v, |x| format!("{:.1}%", 100.0 * x)),
            ),
            Row::new("samples", Target::none(), |_: &f64| Fig::text("12")),
        ];
        let mut out = Vec::new();
        let cols = vec![
            ("a".to_owned(), 0.01),
            ("long name".to_owned(), 0.02),
            ("c".to_owned(), f64::NAN),
        ];
        write_table(&mut out, "figures", &cols, &rows).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert!(
            lines[2].contains("1.00% ✓") && lines[2].contains("2.00% ✗"),
            "{text}"
        );
        assert!(
            lines[3].contains("91.0% ✓") && lines[3].contains("92.0% ✓"),
            "{text}"
        );
        // No sample: "n/a", judged by nothing.
        assert!(lines[2].contains("| n/a |"), "{text}");
        assert!(lines[2].ends_with("| <= 1.5% |"), "{text}");
        let bars = |l: &str| {
            l.char_indices()
                .filter(|(_, c)| *c == '|')
                .map(|(i, _)| l[..i].chars().count())
                .collect::<Vec<_>>()
        };
        for l in &lines {
            assert_eq!(bars(l), bars(lines[0]), "{text}");
        }
    }
}
