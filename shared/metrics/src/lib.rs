//! Metrics in CloudWatch Embedded Metric Format (EMF), shared by the Lambda functions and
//! the ingest bridge.
//!
//! # Why EMF
//!
//! A Lambda function's stdout goes to CloudWatch Logs; a log line in EMF becomes metrics
//! with no API call, no client and no network on the hot path. A [`MetricSet`] collects
//! counters and gauges in memory (plain adds into a map) and [`MetricSet::emit`] writes them
//! as **one** line at the end of an invocation (or, in a long-running service, from a
//! background flush), so recording a metric can never block or fail the work it measures.
//!
//! # Names
//!
//! Counters are named `<noun>_<verb>_total` (`records_rejected_total`); a value split by a
//! reason or channel is a second metric named after it (`records_rejected_total.missing_field`
//! would not be a valid metric dimension value, so reasons become their own metric name:
//! `records_rejected_invalid_json_total`), which keeps every metric in one directive with
//! the function's dimension.
//!
//! Format: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::{Map, Value, json};

/// The unit CloudWatch shows with a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
    Bytes,
    Percent,
    None,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::Bytes => "Bytes",
            Unit::Percent => "Percent",
            Unit::None => "None",
        }
    }
}

/// EMF allows at most 100 metrics per directive; more are split over several lines.
const MAX_METRICS_PER_LINE: usize = 100;
/// EMF allows at most 100 values in one metric's array; more samples of a distribution
/// go on further lines (CloudWatch merges them: nothing is dropped).
pub const MAX_VALUES_PER_METRIC: usize = 100;

/// Metrics of one invocation (or one flush interval), written as EMF.
#[derive(Debug, Clone)]
pub struct MetricSet {
    namespace: String,
    dimensions: Vec<(String, String)>,
    values: BTreeMap<String, (Unit, f64)>,
    /// Distributions: every sample kept, written as EMF value arrays, so CloudWatch
    /// computes percentiles (p99) over them rather than over one value per line.
    samples: BTreeMap<String, (Unit, Vec<f64>)>,
    properties: Map<String, Value>,
}

impl MetricSet {
    /// A set in `namespace` whose metrics all carry these dimensions (e.g. `Function`).
    pub fn new(namespace: &str, dimensions: &[(&str, &str)]) -> Self {
        MetricSet {
            namespace: namespace.to_owned(),
            dimensions: dimensions
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            values: BTreeMap::new(),
            samples: BTreeMap::new(),
            properties: Map::new(),
        }
    }

    /// Adds `n` to a counter (created at 0). Counters that stay 0 are still written, so a
    /// dashboard sees "nothing rejected" rather than a gap.
    pub fn count(&mut self, name: &str, n: u64) {
        self.add(name, Unit::Count, n as f64);
    }

    /// Adds `v` to a metric of any unit.
    pub fn add(&mut self, name: &str, unit: Unit, v: f64) {
        // Look up before inserting: a metric already recorded costs no allocation.
        if let Some(e) = self.values.get_mut(name) {
            e.1 += v;
        } else {
            self.values.insert(name.to_owned(), (unit, v));
        }
    }

    /// Sets a gauge (a latency, a size, a depth): the last value wins.
    pub fn set(&mut self, name: &str, unit: Unit, v: f64) {
        self.values.insert(name.to_owned(), (unit, v));
    }

    /// Adds one sample to a distribution (a latency per window): written as EMF's array
    /// of values, so a dashboard's p99 is over the samples themselves.
    pub fn sample(&mut self, name: &str, unit: Unit, v: f64) {
        if let Some(e) = self.samples.get_mut(name) {
            e.1.push(v);
        } else {
            self.samples.insert(name.to_owned(), (unit, vec![v]));
        }
    }

    /// Adds another set's values into this one (work done in parallel, each part with its
    /// own set): counters and sums add; a gauge named `*_max` keeps the larger value; any
    /// other gauge takes `other`'s; a distribution's samples are appended. Properties are
    /// left as they are.
    pub fn merge(&mut self, other: &MetricSet) {
        for (name, &(unit, v)) in &other.values {
            match self.values.get_mut(name) {
                Some(e) if name.ends_with("_max") => e.1 = e.1.max(v),
                Some(e) if unit == Unit::Count => e.1 += v,
                Some(e) => *e = (unit, v),
                None => {
                    self.values.insert(name.clone(), (unit, v));
                }
            }
        }
        for (name, (unit, vs)) in &other.samples {
            self.samples
                .entry(name.clone())
                .or_insert_with(|| (*unit, Vec::new()))
                .1
                .extend_from_slice(vs);
        }
    }

    /// The current value of a metric, if recorded.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.values.get(name).map(|(_, v)| *v)
    }

    /// The samples of a distribution so far (empty if none).
    pub fn samples(&self, name: &str) -> &[f64] {
        self.samples.get(name).map_or(&[], |(_, v)| v.as_slice())
    }

    /// A searchable property of the line that is not a metric (a request id, a race id).
    pub fn property(&mut self, key: &str, value: impl Into<Value>) {
        self.properties.insert(key.to_owned(), value.into());
    }

    /// Whether no metric was recorded.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty() && self.samples.is_empty()
    }

    /// The EMF lines (usually one) for these metrics at `timestamp_ms`, without newlines.
    /// A distribution's first [`MAX_VALUES_PER_METRIC`] samples go with the other
    /// metrics; the rest follow on lines of their own, 100 values each.
    pub fn to_lines(&self, timestamp_ms: i64) -> Vec<String> {
        // (name, unit, value): scalars, then each distribution's first chunk.
        let mut first: Vec<(&str, Unit, Value)> = self
            .values
            .iter()
            .map(|(n, (u, v))| (n.as_str(), *u, finite(*v)))
            .collect();
        let mut rest: Vec<(&str, Unit, Value)> = Vec::new();
        for (n, (u, vs)) in &self.samples {
            for (i, chunk) in vs.chunks(MAX_VALUES_PER_METRIC).enumerate() {
                let arr = Value::Array(chunk.iter().map(|v| finite(*v)).collect());
                if i == 0 {
                    first.push((n.as_str(), *u, arr));
                } else {
                    rest.push((n.as_str(), *u, arr));
                }
            }
        }
        first.sort_by(|a, b| a.0.cmp(b.0));
        let mut lines: Vec<String> = first
            .chunks(MAX_METRICS_PER_LINE)
            .map(|chunk| self.line(chunk, timestamp_ms))
            .collect();
        lines.extend(rest.chunks(1).map(|c| self.line(c, timestamp_ms)));
        lines
    }

    /// One EMF line with `metrics` (at most [`MAX_METRICS_PER_LINE`]).
    fn line(&self, metrics: &[(&str, Unit, Value)], timestamp_ms: i64) -> String {
        let dims: Vec<&str> = self.dimensions.iter().map(|(k, _)| k.as_str()).collect();
        let mut root = self.properties.clone();
        for (k, v) in &self.dimensions {
            root.insert(k.clone(), Value::String(v.clone()));
        }
        let mut defs = Vec::with_capacity(metrics.len());
        for (name, unit, v) in metrics {
            defs.push(json!({"Name": name, "Unit": unit.as_str()}));
            root.insert((*name).to_owned(), v.clone());
        }
        root.insert(
            "_aws".to_owned(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": [dims],
                    "Metrics": defs,
                }]
            }),
        );
        Value::Object(root).to_string()
    }

    /// Writes the lines to `out` in one `write_all` per line. Errors are returned, not
    /// panicked on; a caller that must never fail on metrics ignores them.
    pub fn write_to(&self, out: &mut impl Write, timestamp_ms: i64) -> std::io::Result<()> {
        for line in self.to_lines(timestamp_ms) {
            let mut buf = line.into_bytes();
            buf.push(b'\n');
            out.write_all(&buf)?;
        }
        out.flush()
    }

    /// Writes the lines to stdout (where Lambda's log agent picks EMF up) and clears the
    /// values, keeping namespace, dimensions and properties. A failed write is dropped:
    /// metrics never fail the work they describe.
    pub fn emit(&mut self, timestamp_ms: i64) {
        let stdout = std::io::stdout();
        let _ = self.write_to(&mut stdout.lock(), timestamp_ms);
        self.values.clear();
        self.samples.clear();
    }
}

/// EMF values must be numbers; a NaN or infinity (a division by zero upstream) becomes 0
/// rather than an invalid line that CloudWatch would drop whole.
fn finite(v: f64) -> Value {
    if v.is_finite() { json!(v) } else { json!(0.0) }
}

/// One structured JSON log line: `{"level", "msg", "request_id"?, ...fields}`.
///
/// Lambda puts stdout and stderr into the same log stream; functions write logs to stderr
/// so that a log line can never be mistaken for an EMF directive.
pub fn log_line(
    level: &str,
    msg: &str,
    request_id: Option<&str>,
    fields: &[(&str, Value)],
) -> String {
    let mut root = Map::new();
    root.insert("level".to_owned(), Value::String(level.to_owned()));
    root.insert("msg".to_owned(), Value::String(msg.to_owned()));
    if let Some(id) = request_id {
        root.insert("request_id".to_owned(), Value::String(id.to_owned()));
    }
    for (k, v) in fields {
        root.insert((*k).to_owned(), v.clone());
    }
    Value::Object(root).to_string()
}

/// Writes [`log_line`] to stderr; a failed write is dropped.
pub fn log(level: &str, msg: &str, request_id: Option<&str>, fields: &[(&str, Value)]) {
    let mut line = log_line(level, msg, request_id, fields);
    line.push('\n');
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_valid_emf_with_every_metric_declared_and_valued() {
        let mut m = MetricSet::new("burnbar", &[("Function", "telemetry-processor")]);
        m.count("records_in_total", 3);
        m.count("records_in_total", 2);
        m.count("records_rejected_total", 0);
        m.set("invocation_latency_ms", Unit::Milliseconds, 12.5);
        m.property("request_id", "abc");
        let lines = m.to_lines(1_750_000_000_000);
        assert_eq!(lines.len(), 1);
        let v: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(v["Function"], "telemetry-processor");
        assert_eq!(v["records_in_total"], 5.0);
        assert_eq!(v["records_rejected_total"], 0.0);
        assert_eq!(v["invocation_latency_ms"], 12.5);
        assert_eq!(v["request_id"], "abc");
        let d = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(v["_aws"]["Timestamp"], 1_750_000_000_000i64);
        assert_eq!(d["Namespace"], "burnbar");
        assert_eq!(d["Dimensions"], json!([["Function"]]));
        let names: Vec<&str> = d["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "invocation_latency_ms",
                "records_in_total",
                "records_rejected_total"
            ]
        );
        assert_eq!(d["Metrics"][0]["Unit"], "Milliseconds");
    }

    #[test]
    fn more_than_100_metrics_split_into_valid_lines_and_non_finite_values_become_zero() {
        let mut m = MetricSet::new("burnbar", &[("Function", "f")]);
        for i in 0..150 {
            m.count(&format!("m{i:03}_total"), 1);
        }
        m.set("bad", Unit::None, f64::NAN);
        let lines = m.to_lines(0);
        assert_eq!(lines.len(), 2);
        let total: usize = lines
            .iter()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                v["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                    .as_array()
                    .unwrap()
                    .len()
            })
            .sum();
        assert_eq!(total, 151);
        assert!(lines[0].contains("\"bad\":0.0"));
    }

    #[test]
    fn a_distribution_is_written_as_value_arrays_of_at_most_100_and_loses_no_sample() {
        let mut m = MetricSet::new("burnbar", &[("Function", "f")]);
        m.count("x_total", 1);
        for i in 0..250 {
            m.sample("lat_ms", Unit::Milliseconds, f64::from(i));
        }
        m.sample("other_ms", Unit::Milliseconds, 7.0);
        assert_eq!(m.samples("lat_ms").len(), 250);
        let lines = m.to_lines(0);
        assert_eq!(
            lines.len(),
            3,
            "the scalars and first chunks, then two more chunks"
        );
        let mut all = Vec::new();
        for l in &lines {
            let v: Value = serde_json::from_str(l).unwrap();
            let d = &v["_aws"]["CloudWatchMetrics"][0];
            for def in d["Metrics"].as_array().unwrap() {
                let name = def["Name"].as_str().unwrap();
                assert!(v[name].is_number() || v[name].is_array(), "{name} valued");
            }
            if let Some(a) = v["lat_ms"].as_array() {
                assert!(a.len() <= MAX_VALUES_PER_METRIC);
                all.extend(a.iter().map(|x| x.as_f64().unwrap()));
            }
        }
        let want: Vec<f64> = (0..250).map(f64::from).collect();
        assert_eq!(all, want);
        let v: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(v["other_ms"], json!([7.0]));
        assert_eq!(v["x_total"], 1.0);
        m.emit(0);
        assert!(m.is_empty());
    }

    #[test]
    fn emit_clears_values_but_keeps_dimensions() {
        let mut m = MetricSet::new("burnbar", &[("Function", "f")]);
        m.count("x_total", 1);
        let mut out = Vec::new();
        m.write_to(&mut out, 5).unwrap();
        assert!(out.ends_with(b"\n"));
        m.emit(5);
        assert!(m.is_empty());
        m.count("y_total", 1);
        assert!(m.to_lines(5)[0].contains("\"Function\":\"f\""));
    }

    #[test]
    fn merged_sets_add_counters_and_keep_the_larger_max() {
        let mut a = MetricSet::new("burnbar", &[]);
        a.count("cars_written_total", 2);
        a.set("car_item_bytes_max", Unit::Bytes, 900.0);
        a.set("depth", Unit::Count, 1.0);
        let mut b = MetricSet::new("other", &[]);
        b.count("cars_written_total", 3);
        b.count("new_total", 1);
        b.set("car_item_bytes_max", Unit::Bytes, 700.0);
        b.add("write_units_total", Unit::Count, 1.5);
        a.merge(&b);
        assert_eq!(a.get("cars_written_total"), Some(5.0));
        assert_eq!(a.get("new_total"), Some(1.0));
        assert_eq!(a.get("car_item_bytes_max"), Some(900.0));
        assert_eq!(a.get("write_units_total"), Some(1.5));
        b.set("car_item_bytes_max", Unit::Bytes, 1_200.0);
        a.merge(&b);
        assert_eq!(a.get("car_item_bytes_max"), Some(1_200.0));
    }

    #[test]
    fn log_lines_are_json_with_the_request_id() {
        let l = log_line(
            "warn",
            "record rejected",
            Some("req-1"),
            &[("code", json!("invalid_json"))],
        );
        let v: Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["level"], "warn");
        assert_eq!(v["request_id"], "req-1");
        assert_eq!(v["code"], "invalid_json");
    }
}
