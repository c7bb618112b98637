//! The simulator's ground truth of a race (`simulate --truth`), read back by car.

use std::collections::HashMap;

use serde::Deserialize;

/// A car's truth at one window end.
#[derive(Debug, Clone, Copy, Deserialize)]
pub(crate) struct TruthWindow {
    pub ts: i64,
    pub burned_gal: f64,
    pub remaining_gal: f64,
    pub lap: f64,
}

/// A car's truth over one stint.
#[derive(Debug, Clone, Copy, Deserialize)]
pub(crate) struct TruthStint {
    pub stint_start: i64,
    pub stint_end: i64,
    pub burned_gal: f64,
    /// Whether the stop that ended the stint filled the cell (none for the last stint).
    #[serde(default)]
    pub full: Option<bool>,
}

/// The simulator's truth, by car.
#[derive(Debug, Default)]
pub(crate) struct Truth {
    /// In time order.
    pub windows: HashMap<String, Vec<TruthWindow>>,
    pub stints: HashMap<String, Vec<TruthStint>>,
}

impl Truth {
    pub fn parse(bytes: &[u8]) -> Truth {
        #[derive(Deserialize)]
        struct Line {
            car: String,
            #[serde(flatten)]
            rest: serde_json::Value,
        }
        let mut t = Truth::default();
        for l in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let Ok(line) = serde_json::from_slice::<Line>(l) else {
                continue;
            };
            if line.rest.get("stint_start").is_some() {
                if let Ok(s) = serde_json::from_value(line.rest) {
                    t.stints.entry(line.car).or_default().push(s);
                }
            } else if let Ok(w) = serde_json::from_value(line.rest) {
                t.windows.entry(line.car).or_default().push(w);
            }
        }
        for v in t.windows.values_mut() {
            v.sort_by_key(|w| w.ts);
        }
        t
    }

    /// `car`'s windows, in time order (none if the truth has no line of it).
    pub fn windows_of(&self, car: &str) -> &[TruthWindow] {
        self.windows.get(car).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Whether the stop whose `pit_out` is at `ts` filled `car`'s cell, if the truth
    /// says (its stint line ends there).
    pub fn filled_at(&self, car: &str, ts: i64) -> Option<bool> {
        self.stints
            .get(car)?
            .iter()
            .find(|s| s.stint_end == ts)?
            .full
    }

    /// `car`'s truth at the window ending at `ts`, if the truth has it.
    pub fn at(&self, car: &str, ts: i64) -> Option<&TruthWindow> {
        let w = self.windows.get(car)?;
        let i = w.partition_point(|x| x.ts < ts);
        w.get(i).filter(|x| x.ts == ts)
    }
}
