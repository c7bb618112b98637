//! The EMF line of one invocation: every function writes its metrics as one line at the
//! end, in namespace `burnbar` with the dimension `Function`, the request id as a
//! property and the invocation's latency.

use std::time::Instant;

use burnbar_metrics::{MetricSet, Unit};

use crate::clock::now_ms;

/// The metrics namespace of every function.
pub const NAMESPACE: &str = "burnbar";

/// An empty metric set of `function` (namespace [`NAMESPACE`], dimension `Function`).
pub fn metric_set(function: &str) -> MetricSet {
    MetricSet::new(NAMESPACE, &[("Function", function)])
}

/// One invocation's metrics, from its start to the line written at its end.
#[derive(Debug)]
pub struct Invocation {
    pub metrics: MetricSet,
    started: Instant,
}

impl Invocation {
    /// Starts the clock of an invocation of `function` with the request's id.
    pub fn start(function: &str, request_id: &str) -> Invocation {
        let started = Instant::now();
        let mut metrics = metric_set(function);
        metrics.property("request_id", request_id);
        Invocation { metrics, started }
    }

    /// Records `invocation_latency_ms` and writes the line (stdout, where Lambda's log
    /// agent picks EMF up).
    pub fn end(mut self) {
        self.metrics.set(
            "invocation_latency_ms",
            Unit::Milliseconds,
            self.started.elapsed().as_secs_f64() * 1000.0,
        );
        self.metrics.emit(now_ms());
    }
}
