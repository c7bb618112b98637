//! Counters and gauges, EMF metrics and JSON logs, all kept off the hot path.
//!
//! The hot path only does atomic adds (and, for a sampled-away record, one uncontended
//! map update). A background task turns the counters into one EMF line per interval
//! (deltas for counters, last values for gauges) on stdout; log lines go through a
//! bounded channel to a writer task on stderr, so a slow log pipe can never stall
//! ingestion (a line that does not fit is counted in `logs_dropped_total`). Per-message
//! warnings are rate-limited with `governor` (the rest are counted in
//! `logs_suppressed_total`).

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use burnbar_core::CarId;
use burnbar_metrics::{MetricSet, Unit};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde_json::{Map, Value, json};
use std::io::Write;
use tokio::sync::mpsc;

use crate::route::channel_names;

/// Which Kinesis stream a writer serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    Telemetry = 0,
    RaceControl = 1,
}

impl StreamKind {
    pub fn name(self) -> &'static str {
        match self {
            StreamKind::Telemetry => "telemetry",
            StreamKind::RaceControl => "race_control",
        }
    }
}

/// Every counter of one replica. Counters only grow; the metrics task reports deltas.
#[derive(Debug, Default)]
pub struct Stats {
    pub messages_received: AtomicU64,
    pub messages_rejected: AtomicU64,
    pub samples_received: AtomicU64,
    pub events_received: AtomicU64,
    /// Samples sampled away (dropped by reason `sampled`).
    pub samples_sampled: AtomicU64,
    /// Samples stamped more than the sampler's future horizon past the wall clock:
    /// forwarded (the processor judges them) but never used to thin later samples.
    pub samples_future_stamped: AtomicU64,
    pub messages_dropped_queue_full: AtomicU64,
    pub messages_dropped_too_large: AtomicU64,
    pub messages_dropped_kinesis: AtomicU64,
    pub messages_dropped_shutdown: AtomicU64,
    /// JetStream messages given back for redelivery after Kinesis refused them.
    pub messages_nacked: AtomicU64,
    /// Messages whose record Kinesis accepted.
    pub messages_delivered: AtomicU64,
    pub records_put: AtomicU64,
    pub putrecords_calls: AtomicU64,
    pub putrecords_errors: AtomicU64,
    /// Entries refused with `ProvisionedThroughputExceededException` (or a whole call
    /// throttled: each of its entries).
    pub entries_throttled: AtomicU64,
    /// Entries sent again after a failure.
    pub entries_retried: AtomicU64,
    pub acks_failed: AtomicU64,
    pub logs_dropped: AtomicU64,
    pub logs_suppressed: AtomicU64,
    /// Messages held (queued or in flight), and their bytes as charged to the budget.
    pub queue_messages: AtomicU64,
    pub queue_bytes: AtomicU64,
    pub sample_interval_ms: AtomicU64,
    /// Millis since `started` of the oldest message each writer is working on (+1; 0 =
    /// none), for the oldest-message-age gauge.
    pub oldest_in_flight: [AtomicU64; 2],
    pub ready: AtomicBool,
    pub draining: AtomicBool,
    rejected_by: Mutex<BTreeMap<&'static str, u64>>,
    sampled_by: Mutex<HashMap<(CarId, u16), u64>>,
    latency: Mutex<Latency>,
    started: OnceInstant,
}

#[derive(Debug, Default, Clone, Copy)]
struct Latency {
    calls: u64,
    sum_ms: f64,
    max_ms: f64,
    /// Largest age (receipt to Kinesis acceptance) of a delivered message.
    age_max_ms: f64,
}

/// The process start, set once.
#[derive(Debug)]
struct OnceInstant(Instant);

impl Default for OnceInstant {
    fn default() -> Self {
        OnceInstant(Instant::now())
    }
}

fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Relaxed);
}

impl Stats {
    pub fn new() -> Arc<Stats> {
        Arc::new(Stats::default())
    }

    pub fn inc(c: &AtomicU64) {
        add(c, 1);
    }

    pub fn add(c: &AtomicU64, n: u64) {
        add(c, n);
    }

    /// Lowers a gauge kept in an atomic (the queue depth).
    pub fn add_neg(c: &AtomicU64, n: u64) {
        c.fetch_sub(n, Relaxed);
    }

    pub fn rejected(&self, code: &'static str) {
        add(&self.messages_rejected, 1);
        *self
            .rejected_by
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(code)
            .or_default() += 1;
    }

    pub fn sampled(&self, car: CarId, channels: u16) {
        add(&self.samples_sampled, 1);
        let mut m = self.sampled_by.lock().unwrap_or_else(|e| e.into_inner());
        // Bounded like the sampler's own memory: a flood of car ids folds into one key.
        let key = if m.len() >= crate::sampler::MAX_KEYS && !m.contains_key(&(car, channels)) {
            (CarId::parse("0000").unwrap_or(car), 0)
        } else {
            (car, channels)
        };
        *m.entry(key).or_default() += 1;
    }

    pub fn putrecords_latency(&self, d: Duration) {
        let ms = d.as_secs_f64() * 1000.0;
        let mut l = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        l.calls += 1;
        l.sum_ms += ms;
        l.max_ms = l.max_ms.max(ms);
    }

    pub fn delivered_age(&self, age: Duration) {
        let ms = age.as_secs_f64() * 1000.0;
        let mut l = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        l.age_max_ms = l.age_max_ms.max(ms);
    }

    /// A writer started on messages received at `received` (the oldest it holds).
    pub fn set_oldest(&self, kind: StreamKind, received: Instant) {
        let ms = received
            .saturating_duration_since(self.started.0)
            .as_millis() as u64
            + 1;
        self.oldest_in_flight[kind as usize].store(ms, Relaxed);
    }

    pub fn clear_oldest(&self, kind: StreamKind) {
        self.oldest_in_flight[kind as usize].store(0, Relaxed);
    }

    /// Age in ms of the oldest message a writer is working on (0 when idle: what waits
    /// in the queue then is younger than the linger).
    pub fn oldest_age_ms(&self) -> u64 {
        let now = self.started.0.elapsed().as_millis() as u64 + 1;
        self.oldest_in_flight
            .iter()
            .map(|a| a.load(Relaxed))
            .filter(|&v| v != 0)
            .map(|v| now.saturating_sub(v))
            .max()
            .unwrap_or(0)
    }

    /// Samples sampled away, by car and channel group: `{"24": {"rpm+throttle_pct": 12}}`.
    pub fn sampled_by_car(&self) -> Value {
        let m = self.sampled_by.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for ((car, ch), n) in m.iter() {
            let name = if *ch == 0 {
                "other".to_owned()
            } else {
                channel_names(*ch)
            };
            out.entry(car.as_str().to_owned())
                .or_default()
                .insert(name, *n);
        }
        json!(out)
    }

    /// Every counter and gauge, as the health endpoint shows them.
    pub fn snapshot(&self) -> Map<String, Value> {
        let mut m = Map::new();
        let counters: [(&str, &AtomicU64); 21] = [
            ("messages_received_total", &self.messages_received),
            ("messages_rejected_total", &self.messages_rejected),
            ("samples_received_total", &self.samples_received),
            ("events_received_total", &self.events_received),
            ("samples_sampled_total", &self.samples_sampled),
            ("samples_future_stamped_total", &self.samples_future_stamped),
            (
                "messages_dropped_queue_full_total",
                &self.messages_dropped_queue_full,
            ),
            (
                "messages_dropped_too_large_total",
                &self.messages_dropped_too_large,
            ),
            (
                "messages_dropped_kinesis_total",
                &self.messages_dropped_kinesis,
            ),
            (
                "messages_dropped_shutdown_total",
                &self.messages_dropped_shutdown,
            ),
            ("messages_nacked_total", &self.messages_nacked),
            ("messages_delivered_total", &self.messages_delivered),
            ("records_put_total", &self.records_put),
            ("putrecords_calls_total", &self.putrecords_calls),
            ("putrecords_errors_total", &self.putrecords_errors),
            ("entries_throttled_total", &self.entries_throttled),
            ("entries_retried_total", &self.entries_retried),
            ("acks_failed_total", &self.acks_failed),
            ("logs_dropped_total", &self.logs_dropped),
            ("logs_suppressed_total", &self.logs_suppressed),
            ("queue_depth_messages", &self.queue_messages),
        ];
        for (k, c) in counters {
            m.insert(k.to_owned(), json!(c.load(Relaxed)));
        }
        m.insert(
            "queue_depth_bytes".into(),
            json!(self.queue_bytes.load(Relaxed)),
        );
        m.insert(
            "sample_interval_ms".into(),
            json!(self.sample_interval_ms.load(Relaxed)),
        );
        m.insert("oldest_message_age_ms".into(), json!(self.oldest_age_ms()));
        let rejected = self.rejected_by.lock().unwrap_or_else(|e| e.into_inner());
        for (code, n) in rejected.iter() {
            m.insert(format!("messages_rejected_{code}_total"), json!(n));
        }
        m.insert("samples_sampled_by_car".into(), self.sampled_by_car());
        m
    }

    /// The EMF metrics of the interval since `prev` (counters as deltas), and the
    /// snapshot to pass as `prev` next time.
    pub fn metrics(
        &self,
        metrics: &mut MetricSet,
        prev: &Map<String, Value>,
    ) -> Map<String, Value> {
        let snap = self.snapshot();
        for (k, v) in &snap {
            let Some(n) = v.as_u64() else { continue };
            if k.ends_with("_total") {
                let before = prev.get(k).and_then(Value::as_u64).unwrap_or(0);
                metrics.count(k, n.saturating_sub(before));
            } else if k.ends_with("_ms") {
                metrics.set(k, Unit::Milliseconds, n as f64);
            } else if k.ends_with("_bytes") {
                metrics.set(k, Unit::Bytes, n as f64);
            } else {
                metrics.set(k, Unit::Count, n as f64);
            }
        }
        let l = std::mem::take(&mut *self.latency.lock().unwrap_or_else(|e| e.into_inner()));
        metrics.set("putrecords_latency_max_ms", Unit::Milliseconds, l.max_ms);
        let avg = if l.calls == 0 {
            0.0
        } else {
            l.sum_ms / l.calls as f64
        };
        metrics.set("putrecords_latency_avg_ms", Unit::Milliseconds, avg);
        metrics.set("message_age_max_ms", Unit::Milliseconds, l.age_max_ms);
        // By car and channel: a property (searchable in Logs Insights), not a metric per
        // pair, which would be hundreds of metrics for one field.
        metrics.property("samples_sampled_by_car", self.sampled_by_car());
        snap
    }
}

/// Milliseconds since the Unix epoch, for EMF timestamps.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Log lines to stderr through a bounded channel; see the module doc.
#[derive(Debug, Clone)]
pub struct Log {
    tx: mpsc::Sender<String>,
    limiter: Arc<DefaultDirectRateLimiter>,
    stats: Arc<Stats>,
    replica: Arc<str>,
}

/// Log lines waiting for the writer at most.
const LOG_BUFFER: usize = 1024;
/// Per-message warnings per second at most.
const WARNINGS_PER_SECOND: u32 = 20;

impl Log {
    /// The logger and the task that writes its lines (run it until the logger and all its
    /// clones are dropped).
    pub fn new(
        stats: Arc<Stats>,
        replica: &str,
    ) -> (Log, impl std::future::Future<Output = ()> + Send + 'static) {
        let (tx, mut rx) = mpsc::channel::<String>(LOG_BUFFER);
        let quota =
            Quota::per_second(NonZeroU32::new(WARNINGS_PER_SECOND).unwrap_or(NonZeroU32::MIN));
        let log = Log {
            tx,
            limiter: Arc::new(RateLimiter::direct(quota)),
            stats,
            replica: replica.into(),
        };
        let task = async move {
            while let Some(line) = rx.recv().await {
                // Take what else is waiting, and write it all on a blocking thread, so a
                // slow stderr pipe never holds a runtime worker.
                let mut buf = line;
                buf.push('\n');
                while let Ok(more) = rx.try_recv() {
                    buf.push_str(&more);
                    buf.push('\n');
                }
                let _ = tokio::task::spawn_blocking(move || {
                    let _ = std::io::stderr().lock().write_all(buf.as_bytes());
                })
                .await;
            }
        };
        (log, task)
    }

    /// A lifecycle line (start, stop, errors of the whole bridge): never rate-limited.
    pub fn info(&self, level: &str, msg: &str, fields: &[(&str, Value)]) {
        let mut all = vec![("replica", json!(&*self.replica))];
        all.extend(fields.iter().cloned());
        let line = burnbar_metrics::log_line(level, msg, None, &all);
        if self.tx.try_send(line).is_err() {
            Stats::inc(&self.stats.logs_dropped);
        }
    }

    /// A per-message warning (a rejected message, a failed entry): rate-limited.
    pub fn warn(&self, msg: &str, fields: &[(&str, Value)]) {
        if self.limiter.check().is_err() {
            Stats::inc(&self.stats.logs_suppressed);
            return;
        }
        self.info("warn", msg, fields);
    }
}

/// Writes the EMF line every `interval` until `stop` fires, then once more.
pub async fn metrics_task(
    stats: Arc<Stats>,
    replica: String,
    interval: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut set = MetricSet::new("burnbar", &[("Service", "bridge")]);
    set.property("replica", replica.as_str());
    let mut prev = Map::new();
    let mut tick = tokio::time::interval(interval);
    tick.tick().await;
    loop {
        let last = tokio::select! {
            _ = tick.tick() => false,
            _ = stop.changed() => true,
        };
        prev = stats.metrics(&mut set, &prev);
        let mut buf = String::new();
        for line in set.to_lines(now_ms()) {
            buf.push_str(&line);
            buf.push('\n');
        }
        let _ = tokio::task::spawn_blocking(move || {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(buf.as_bytes());
            let _ = out.flush();
        })
        .await;
        set = MetricSet::new("burnbar", &[("Service", "bridge")]);
        set.property("replica", replica.as_str());
        if last || *stop.borrow() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_become_deltas_and_drops_are_by_car_and_channel() {
        let s = Stats::new();
        Stats::add(&s.messages_received, 5);
        s.rejected("invalid_json");
        let car = CarId::parse("24").unwrap();
        s.sampled(car, burnbar_core::contract::Channels::RPM);
        s.sampled(car, burnbar_core::contract::Channels::RPM);
        let mut set = MetricSet::new("burnbar", &[("Service", "bridge")]);
        let prev = s.metrics(&mut set, &Map::new());
        assert_eq!(set.get("messages_received_total"), Some(5.0));
        assert_eq!(set.get("messages_rejected_invalid_json_total"), Some(1.0));
        assert_eq!(set.get("samples_sampled_total"), Some(2.0));
        Stats::add(&s.messages_received, 2);
        let mut set = MetricSet::new("burnbar", &[("Service", "bridge")]);
        s.metrics(&mut set, &prev);
        assert_eq!(set.get("messages_received_total"), Some(2.0));
        assert_eq!(s.sampled_by_car(), json!({"24": {"rpm": 2}}));
        let line = &set.to_lines(0)[0];
        assert!(line.contains("\"samples_sampled_by_car\""), "{line}");
    }
}
