//! What one variant measured: the errors, the band's coverage and the calls, summed
//! over races and written as JSON.

/// The call thresholds the report judges at (`cant_make_it_pct`, in percent): 10, 15,
/// 20 and the deployment's own, in order, once each.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Thresholds {
    pub values: Vec<f64>,
    /// The deployment's (`--cant-make-it-pct`), an index into `values`.
    pub main: usize,
}

impl Thresholds {
    /// The table's thresholds with the deployment's `main` among them.
    pub fn with(main: f64) -> Thresholds {
        let mut values = vec![10.0, 15.0, 20.0, main];
        values.sort_by(f64::total_cmp);
        values.dedup();
        let main = values.iter().position(|&v| v == main).unwrap_or(0);
        Thresholds { values, main }
    }
}

/// The two judgements of the calls at one threshold.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct Calls {
    /// Cars that ran dry with a call in force at some time from 15 to 5 laps before.
    pub dry_called: u32,
    /// Cars called in their final window that then finished without another stop and
    /// without running dry.
    pub false_calls: u32,
}

/// What one variant measured (over one race, then over all).
#[derive(Debug, Default, Clone)]
pub(crate) struct Metrics {
    pub races: usize,
    pub stint_err: Vec<f64>,
    pub pit_err: Vec<f64>,
    pub lte_err: Vec<f64>,
    /// Estimate − truth of `remaining_gal` in each car's first update after its last
    /// stop, in races whose last run is green to the end; gallons, signed.
    pub after_stop_err: Vec<f64>,
    /// What [`Metrics::after_stop_err`] would be with each last stop's pour known
    /// exactly (weighed): the error going in, which a pour short of the top carries,
    /// and none after a fill to the top; gallons, signed.
    pub after_stop_pour_known_err: Vec<f64>,
    pub band_in: u64,
    pub band_n: u64,
    pub dry: u32,
    /// The calls on the estimate's `save_needed_pct`, per threshold of [`Thresholds`].
    pub calls: Vec<Calls>,
    /// The floor: the contract's call made on the simulator's own fuel, lap and fuel
    /// per green lap, per threshold.
    pub floor: Vec<Calls>,
    /// False calls at the deployment's threshold that the floor makes too (the driver
    /// then saved more than the threshold).
    pub false_truth_too: u32,
    /// One line per false call and per car that ran dry, for the curious.
    pub notes: Vec<String>,
}

impl Metrics {
    pub fn absorb(&mut self, o: Metrics) {
        self.races += o.races;
        self.stint_err.extend(o.stint_err);
        self.pit_err.extend(o.pit_err);
        self.lte_err.extend(o.lte_err);
        self.after_stop_err.extend(o.after_stop_err);
        self.after_stop_pour_known_err
            .extend(o.after_stop_pour_known_err);
        self.band_in += o.band_in;
        self.band_n += o.band_n;
        self.dry += o.dry;
        add_calls(&mut self.calls, &o.calls);
        add_calls(&mut self.floor, &o.floor);
        self.false_truth_too += o.false_truth_too;
        self.notes.extend(o.notes);
    }

    pub fn stint_median(&self) -> f64 {
        quantile(&self.stint_err, 0.5)
    }

    pub fn pit_median(&self) -> f64 {
        quantile(&self.pit_err, 0.5)
    }

    pub fn coverage(&self) -> f64 {
        self.band_in as f64 / self.band_n.max(1) as f64
    }

    /// The standard deviation of [`Metrics::after_stop_err`] (NaN for fewer than two).
    pub fn after_stop_sd(&self) -> f64 {
        sd(&self.after_stop_err)
    }

    /// The figures as JSON; `th` names the thresholds of the calls.
    pub fn to_json(&self, name: &str, th: &Thresholds) -> serde_json::Value {
        // NaN (no sample) becomes null.
        let num = serde_json::Number::from_f64;
        let q = |v: &[f64], p: f64| num(quantile(v, p));
        let calls = |c: &[Calls]| -> Vec<serde_json::Value> {
            th.values
                .iter()
                .zip(c)
                .map(|(t, c)| {
                    serde_json::json!({
                        "cant_make_it_pct": t,
                        "ran_dry_called": c.dry_called,
                        "false_calls": c.false_calls,
                    })
                })
                .collect()
        };
        let main = self.calls.get(th.main).copied().unwrap_or_default();
        let floor = self.floor.get(th.main).copied().unwrap_or_default();
        serde_json::json!({
            "name": name,
            "races": self.races,
            "stints": self.stint_err.len(),
            "stint_error_median": q(&self.stint_err, 0.5),
            "stint_error_p90": q(&self.stint_err, 0.9),
            "pit_entries": self.pit_err.len(),
            "pit_entry_error_gal_median": q(&self.pit_err, 0.5),
            "pit_entry_error_gal_p90": q(&self.pit_err, 0.9),
            "laps_to_empty_error_median": q(&self.lte_err, 0.5),
            "laps_to_empty_error_p90": q(&self.lte_err, 0.9),
            "band_windows": self.band_n,
            "band_coverage": num(self.coverage()),
            "after_last_stop_cars": self.after_stop_err.len(),
            "after_last_stop_error_sd_gal": num(self.after_stop_sd()),
            "after_last_stop_pour_known_cars": self.after_stop_pour_known_err.len(),
            "after_last_stop_pour_known_sd_gal": num(sd(&self.after_stop_pour_known_err)),
            "ran_dry": self.dry,
            "ran_dry_called": main.dry_called,
            "false_calls": main.false_calls,
            "false_calls_truth_too": self.false_truth_too,
            "floor_ran_dry_called": floor.dry_called,
            "floor_false_calls": floor.false_calls,
            "calls": calls(&self.calls),
            "floor_calls": calls(&self.floor),
        })
    }
}

fn add_calls(to: &mut Vec<Calls>, from: &[Calls]) {
    if to.len() < from.len() {
        to.resize(from.len(), Calls::default());
    }
    for (a, b) in to.iter_mut().zip(from) {
        a.dry_called += b.dry_called;
        a.false_calls += b.false_calls;
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

/// The sample standard deviation of `v`, NaN for fewer than two.
pub(crate) fn sd(v: &[f64]) -> f64 {
    if v.len() < 2 {
        return f64::NAN;
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deployments_threshold_joins_the_tables_once() {
        assert_eq!(
            Thresholds::with(15.0),
            Thresholds {
                values: vec![10.0, 15.0, 20.0],
                main: 1
            }
        );
        let t = Thresholds::with(12.5);
        assert_eq!(t.values, [10.0, 12.5, 15.0, 20.0]);
        assert_eq!(t.main, 1);
    }

    #[test]
    fn races_and_calls_add_up() {
        let mut a = Metrics::default();
        let one = || Metrics {
            races: 1,
            calls: vec![
                Calls {
                    dry_called: 1,
                    false_calls: 2,
                },
                Calls::default(),
            ],
            after_stop_err: vec![0.1, -0.1],
            ..Metrics::default()
        };
        a.absorb(one());
        a.absorb(one());
        assert_eq!(a.races, 2);
        assert_eq!(a.calls[0].false_calls, 4);
        assert_eq!(a.calls.len(), 2);
        assert!((a.after_stop_sd() - (0.04_f64 / 3.0).sqrt()).abs() < 1e-12);
    }
}
