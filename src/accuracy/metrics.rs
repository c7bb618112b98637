//! What one variant measured: the errors, the band's coverage and the calls, summed
//! over races and written as JSON.

/// The other ways the report makes the run-dry and false-call judgements, besides the
/// estimate's own `save_needed_pct`: (table label, target column, JSON key suffix).
/// 1. laps left counted from the leader's lap rather than the car's own (a proposed
///    contract change; what the updates say is unchanged);
/// 2. the contract's formula on the simulator's own fuel, lap and fuel per green lap
///    instead of the estimate's: what a perfect fuel estimate would be charged with,
///    the same for every variant;
/// 3. both at once.
pub(crate) const ALTERNATIVES: [(&str, &str, &str); 3] = [
    ("leader's laps left", "(proposal)", "leader_laps"),
    ("true fuel's own call", "(floor)", "true_fuel"),
    (
        "true fuel, leader's laps",
        "(floor)",
        "true_fuel_leader_laps",
    ),
];

/// One way of judging the calls: cars that ran dry called in time, and false calls.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Calls {
    pub dry_called: u32,
    pub false_calls: u32,
}

/// What one variant measured (over one race, then over all).
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    pub stint_err: Vec<f64>,
    pub pit_err: Vec<f64>,
    pub lte_err: Vec<f64>,
    pub band_in: u64,
    pub band_n: u64,
    pub dry: u32,
    pub dry_called: u32,
    pub false_calls: u32,
    /// False calls of cars that finished laps down: `fuel-update-v1` counts their laps
    /// left from their own lap, so laps they never run count against their fuel.
    pub false_calls_lapped: u32,
    /// False calls that the true fuel makes too: the contract's formula on the
    /// simulator's fuel in place of the estimate also says ≥ 10 % (the driver then
    /// saved more than the 10 % the contract takes as more than a driver finds).
    pub false_calls_truth: u32,
    /// False calls of cars on the lead lap that the true fuel does not make: the
    /// estimate's own error.
    pub false_calls_estimate: u32,
    /// The two judgements made the other ways of [`ALTERNATIVES`], in its order.
    pub alt: [Calls; ALTERNATIVES.len()],
    /// One line per false call and per car that ran dry, for the curious.
    pub notes: Vec<String>,
}

impl Metrics {
    pub fn absorb(&mut self, o: Metrics) {
        self.stint_err.extend(o.stint_err);
        self.pit_err.extend(o.pit_err);
        self.lte_err.extend(o.lte_err);
        self.band_in += o.band_in;
        self.band_n += o.band_n;
        self.dry += o.dry;
        self.dry_called += o.dry_called;
        self.false_calls += o.false_calls;
        self.false_calls_lapped += o.false_calls_lapped;
        self.false_calls_truth += o.false_calls_truth;
        self.false_calls_estimate += o.false_calls_estimate;
        for (a, b) in self.alt.iter_mut().zip(o.alt) {
            a.dry_called += b.dry_called;
            a.false_calls += b.false_calls;
        }
        self.notes.extend(o.notes);
    }

    pub fn to_json(&self, name: &str, races: usize) -> serde_json::Value {
        // NaN (no sample) becomes null.
        let q = |v: &[f64], p: f64| serde_json::Number::from_f64(quantile(v, p));
        let mut doc = serde_json::json!({
            "name": name,
            "stints": self.stint_err.len(),
            "stint_error_median": q(&self.stint_err, 0.5),
            "stint_error_p90": q(&self.stint_err, 0.9),
            "pit_entries": self.pit_err.len(),
            "pit_entry_error_gal_median": q(&self.pit_err, 0.5),
            "pit_entry_error_gal_p90": q(&self.pit_err, 0.9),
            "laps_to_empty_error_median": q(&self.lte_err, 0.5),
            "laps_to_empty_error_p90": q(&self.lte_err, 0.9),
            "band_windows": self.band_n,
            "band_coverage": self.band_in as f64 / self.band_n.max(1) as f64,
            "ran_dry": self.dry,
            "ran_dry_called": self.dry_called,
            "false_calls": self.false_calls,
            "false_calls_lapped": self.false_calls_lapped,
            "false_calls_truth_too": self.false_calls_truth,
            "false_calls_estimate": self.false_calls_estimate,
            "races": races,
        });
        for ((_, _, key), c) in ALTERNATIVES.iter().zip(&self.alt) {
            doc[format!("ran_dry_called_{key}").as_str()] = c.dry_called.into();
            doc[format!("false_calls_{key}").as_str()] = c.false_calls.into();
        }
        doc
    }

    pub fn stint_median(&self) -> f64 {
        quantile(&self.stint_err, 0.5)
    }
    pub fn pit_median(&self) -> f64 {
        quantile(&self.pit_err, 0.5)
    }
}

/// The `q` quantile of `v` (nearest rank), NaN for none.
pub(crate) fn quantile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}
