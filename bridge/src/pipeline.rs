//! The bridge assembled: ingest loop, two writers, metrics, logs, health, shutdown.
//!
//! ```text
//! NATS ─▶ ingest (decode ▸ route ▸ sample) ─▶ queue (byte budget) ─▶ writer ─▶ Kinesis telemetry
//!                                          └▶ queue (same budget)  ─▶ writer ─▶ Kinesis race-control
//! ```
//!
//! One ingest task and one writer per stream, each writer with one `PutRecords` in
//! flight: within a replica a car's records stay in arrival order (except entries
//! retried after a partial failure, bounded by the retry deadline). The writers gather
//! messages with `chunks_timeout` (size or linger, whichever first), pack, and put.
//!
//! Shutdown: stop reading NATS (core: unsubscribe and take what the client already
//! holds; health turns 503 `draining`), let the writers drain the queue, and give up at the deadline, counting what was left as dropped (`shutdown`);
//! in JetStream mode those messages were never acknowledged and are redelivered to the
//! other replicas.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use async_nats::jetstream::AckKind;
use futures_util::StreamExt;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::UnboundedReceiverStream;

use crate::config::{Config, Mode};
use crate::kinesis::{Outcome, RetryPolicy, Writer};
use crate::queue::{Budget, Item, Refused, batches, pack};
use crate::route::{Routed, Router, channel_names};
use crate::sampler::{Sampler, Verdict};
use crate::source::{Incoming, Messages, subscribe};
use crate::stats::{Log, Stats, StreamKind, metrics_task};

/// Messages a writer takes from the queue at most per round (then packs and puts them in
/// as many calls as the limits need).
pub const CHUNK_MESSAGES: usize = 10_000;

/// Why the bridge could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("health endpoint on {addr}: {err}")]
    Health {
        addr: std::net::SocketAddr,
        err: std::io::Error,
    },
    #[error("{0}")]
    Kinesis(String),
    #[error("NATS: {0}")]
    Nats(String),
    #[error("official feed: {0}")]
    Feed(String),
}

/// Runs the bridge until `shutdown` completes, then drains. Returns once everything is
/// written or the drain deadline passed.
pub async fn run(
    cfg: Config,
    nats: async_nats::Client,
    kinesis: aws_sdk_kinesis::Client,
    stats: Arc<Stats>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let (log, log_task) = Log::new(stats.clone(), &cfg.replica_id);
    let log_task = tokio::spawn(log_task);

    let listener = TcpListener::bind(cfg.health_addr)
        .await
        .map_err(|err| StartError::Health {
            addr: cfg.health_addr,
            err,
        })?;
    let health = tokio::spawn(crate::health::serve(listener, stats.clone()));

    let retry = RetryPolicy {
        min_delay: cfg.retry_min_delay,
        max_delay: cfg.retry_max_delay,
        deadline: cfg.retry_deadline,
    };
    let writers = [
        (StreamKind::Telemetry, cfg.telemetry_stream.clone()),
        (StreamKind::RaceControl, cfg.race_control_stream.clone()),
    ]
    .map(|(kind, stream)| {
        (
            kind,
            Writer::new(kinesis.clone(), stream, retry, stats.clone(), log.clone()),
        )
    });
    for (_, w) in &writers {
        w.check().await.map_err(StartError::Kinesis)?;
    }
    let messages = subscribe(&nats, &cfg).await.map_err(StartError::Nats)?;
    let (feed, messages) = with_feed(&cfg, &log, messages)?;
    // A round trip, so the server has the subscription before health says ok.
    nats.flush()
        .await
        .map_err(|e| StartError::Nats(format!("flush after subscribing: {e}")))?;

    let (stop_tx, stop_rx) = watch::channel(false);
    let metrics = tokio::spawn(metrics_task(
        stats.clone(),
        cfg.replica_id.clone(),
        cfg.metrics_interval,
        stop_rx,
    ));
    let budget = Budget::new(cfg.queue_max_bytes, stats.clone());
    let mut txs = Vec::new();
    let mut handles = Vec::new();
    for (kind, w) in writers {
        let (tx, rx) = mpsc::unbounded_channel();
        txs.push(tx);
        handles.push(tokio::spawn(write_loop(
            rx,
            w,
            kind,
            cfg.clone(),
            stats.clone(),
            log.clone(),
        )));
    }
    let [tel_tx, rc_tx]: [mpsc::UnboundedSender<Item>; 2] = match txs.try_into() {
        Ok(a) => a,
        Err(_) => unreachable!("two writers"),
    };

    stats.ready.store(true, Relaxed);
    log.info(
        "info",
        "bridge started",
        &[
            ("mode", json!(format!("{:?}", cfg.mode))),
            ("subjects", json!(cfg.subjects)),
            ("telemetry_stream", json!(cfg.telemetry_stream)),
            ("race_control_stream", json!(cfg.race_control_stream)),
            ("sampling", json!(cfg.sampling.enabled)),
        ],
    );

    let mut ingest = Ingest {
        cfg: &cfg,
        stats: &stats,
        log: &log,
        budget: &budget,
        router: Router::default(),
        sampler: Sampler::new(cfg.sampling),
        tel_tx: &tel_tx,
        rc_tx: &rc_tx,
    };
    ingest.run(&nats, messages, shutdown).await;

    // Drain.
    stats.draining.store(true, Relaxed);
    log.info(
        "info",
        "draining",
        &[
            ("queued", json!(stats.queue_messages.load(Relaxed))),
            (
                "deadline_ms",
                json!(cfg.shutdown_deadline.as_millis() as u64),
            ),
        ],
    );
    drop(ingest);
    drop((tel_tx, rc_tx));
    let deadline = tokio::time::Instant::now() + cfg.shutdown_deadline;
    for h in handles {
        let abort = h.abort_handle();
        if tokio::time::timeout_at(deadline, h).await.is_err() {
            abort.abort();
        }
    }
    // What is still held was not written (the aborted writers dropped it; JetStream will
    // redeliver it elsewhere).
    let left = stats.queue_messages.load(Relaxed);
    Stats::add(&stats.messages_dropped_shutdown, left);
    log.info(
        "info",
        "bridge stopped",
        &[
            ("delivered", json!(stats.messages_delivered.load(Relaxed))),
            ("dropped_at_shutdown", json!(left)),
        ],
    );
    let _ = feed.stop.send(true);
    if let Some(t) = feed.task {
        let _ = t.await;
    }
    let _ = stop_tx.send(true);
    let _ = metrics.await;
    health.abort();
    drop(log);
    let _ = log_task.await;
    Ok(())
}

/// The official-feed source's task, and how to stop it.
struct FeedRun {
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Starts the official-feed source when it is configured, its events joining the NATS
/// messages (as race-control events they go to the race-control stream, keyed by race).
fn with_feed(
    cfg: &Config,
    log: &Log,
    messages: Messages,
) -> Result<(FeedRun, Messages), StartError> {
    let (stop, stop_rx) = watch::channel(false);
    let Some(settings) = cfg.feed.clone() else {
        return Ok((FeedRun { stop, task: None }, messages));
    };
    let source = crate::feed::FeedSource::new(settings).map_err(StartError::Feed)?;
    let (tx, rx) = mpsc::channel::<bytes::Bytes>(1024);
    let log = log.clone();
    let task = tokio::spawn(source.run(tx, stop_rx, move |msg, detail| {
        log.warn(msg, &[("detail", detail)]);
    }));
    let feed = futures_util::stream::unfold(rx, |mut rx| async move {
        let payload = rx.recv().await?;
        Some((Ok(Incoming { payload, ack: None }), rx))
    });
    let merged: Messages = Box::pin(futures_util::stream::select(messages, feed));
    Ok((
        FeedRun {
            stop,
            task: Some(task),
        },
        merged,
    ))
}

/// The ingest loop's state.
struct Ingest<'a> {
    cfg: &'a Config,
    stats: &'a Arc<Stats>,
    log: &'a Log,
    budget: &'a Budget,
    router: Router,
    sampler: Sampler,
    tel_tx: &'a mpsc::UnboundedSender<Item>,
    rc_tx: &'a mpsc::UnboundedSender<Item>,
}

impl Ingest<'_> {
    async fn run(
        &mut self,
        nats: &async_nats::Client,
        mut messages: Messages,
        shutdown: impl Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        loop {
            let next = tokio::select! {
                biased;
                _ = &mut shutdown => break,
                m = messages.next() => m,
            };
            match next {
                Some(Ok(m)) => self.one(m).await,
                Some(Err(e)) => self.log.warn("consumer error", &[("error", json!(e))]),
                None => {
                    self.log.info("error", "NATS subscription ended", &[]);
                    return;
                }
            }
        }
        self.stats.draining.store(true, Relaxed);
        match self.cfg.mode {
            // Core NATS: unsubscribe but take what the client already holds (it would be
            // lost otherwise; nobody redelivers core messages), within the deadline.
            Mode::Core => {
                if let Err(e) = nats.drain().await {
                    self.log.info(
                        "warn",
                        "NATS drain failed",
                        &[("error", json!(e.to_string()))],
                    );
                }
                let deadline = tokio::time::Instant::now() + self.cfg.shutdown_deadline;
                while let Ok(Some(m)) = tokio::time::timeout_at(deadline, messages.next()).await {
                    if let Ok(m) = m {
                        self.one(m).await;
                    }
                }
            }
            // JetStream: messages pulled but not taken are never acknowledged and go to
            // the other replicas after the ack wait; the connection stays open for the
            // acknowledgements of what is being written.
            Mode::JetStream => drop(messages),
        }
    }

    /// Handles one message: reject, sample away, or queue.
    async fn one(&mut self, m: Incoming) {
        let received = Instant::now();
        Stats::inc(&self.stats.messages_received);
        let jetstream = self.cfg.mode == Mode::JetStream;
        if m.payload.len() > self.cfg.max_message_bytes {
            Stats::inc(&self.stats.messages_dropped_too_large);
            self.log.warn(
                "message too large for a Kinesis record, dropped",
                &[
                    ("bytes", json!(m.payload.len())),
                    ("max_bytes", json!(self.cfg.max_message_bytes)),
                ],
            );
            terminate(m.ack, self.stats).await;
            return;
        }
        let routed = match self.router.route(&m.payload) {
            Ok(r) => r,
            Err(rej) => {
                self.stats.rejected(rej.code.as_str());
                let head =
                    String::from_utf8_lossy(&m.payload[..m.payload.len().min(200)]).into_owned();
                self.log.warn(
                    "message rejected",
                    &[
                        ("reason", json!(rej.code.as_str())),
                        ("field", json!(rej.field)),
                        ("detail", json!(rej.detail)),
                        ("message_head", json!(head)),
                    ],
                );
                terminate(m.ack, self.stats).await;
                return;
            }
        };
        match routed {
            Routed::Sample { car, ts, channels } => {
                Stats::inc(&self.stats.samples_received);
                let backlog = self.budget.fill();
                self.stats
                    .sample_interval_ms
                    .store(self.sampler.interval_ms(backlog) as u64, Relaxed);
                let now_ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64);
                let verdict = self.sampler.admit(car, channels, ts, backlog, now_ms);
                if verdict == Verdict::FutureStamped {
                    Stats::inc(&self.stats.samples_future_stamped);
                }
                if verdict == Verdict::Thin {
                    self.stats.sampled(car, channels);
                    // Dropped on purpose and counted: done with, not to be redelivered.
                    if let Some(a) = m.ack
                        && a.ack().await.is_err()
                    {
                        Stats::inc(&self.stats.acks_failed);
                    }
                    return;
                }
                let key = car.as_str().to_owned();
                let res = if jetstream {
                    self.budget
                        .push(self.tel_tx, key, m.payload, m.ack, received)
                        .await
                } else {
                    self.budget
                        .try_push(self.tel_tx, key, m.payload, m.ack, received)
                };
                if let Err(r) = res {
                    let reason = match r {
                        Refused::Full => "queue_full",
                        Refused::Closed => "shutdown",
                    };
                    match r {
                        Refused::Full => Stats::inc(&self.stats.messages_dropped_queue_full),
                        Refused::Closed => Stats::inc(&self.stats.messages_dropped_shutdown),
                    }
                    self.log.warn(
                        "sample dropped",
                        &[
                            ("reason", json!(reason)),
                            ("car", json!(car.as_str())),
                            ("channels", json!(channel_names(channels))),
                        ],
                    );
                }
            }
            Routed::Event { race, kind } => {
                Stats::inc(&self.stats.events_received);
                // Events are never sampled and wait for room rather than being dropped.
                if self
                    .budget
                    .push(self.rc_tx, race, m.payload, m.ack, received)
                    .await
                    .is_err()
                {
                    Stats::inc(&self.stats.messages_dropped_shutdown);
                    self.log
                        .warn("event dropped at shutdown", &[("kind", json!(kind))]);
                }
            }
        }
    }
}

/// Stops redelivery of a message that can never be written (JetStream `term`).
async fn terminate(ack: Option<async_nats::jetstream::message::Acker>, stats: &Stats) {
    if let Some(a) = ack
        && a.ack_with(AckKind::Term).await.is_err()
    {
        Stats::inc(&stats.acks_failed);
    }
}

/// One writer: chunks of the queue, packed, put, settled.
async fn write_loop(
    rx: mpsc::UnboundedReceiver<Item>,
    writer: Writer,
    kind: StreamKind,
    cfg: Config,
    stats: Arc<Stats>,
    log: Log,
) {
    let chunks = tokio_stream::StreamExt::chunks_timeout(
        UnboundedReceiverStream::new(rx),
        CHUNK_MESSAGES,
        cfg.linger,
    );
    tokio::pin!(chunks);
    while let Some(chunk) = chunks.next().await {
        let Some(first) = chunk.first() else { continue };
        stats.set_oldest(kind, first.received);
        let entries = pack(chunk, cfg.pack_max_bytes);
        for batch in batches(entries, cfg.batch_max_records, cfg.batch_max_bytes) {
            let outcome = writer.put(batch).await;
            settle(outcome, kind, &cfg, &stats, &log).await;
        }
        stats.clear_oldest(kind);
    }
}

/// Acknowledges what Kinesis accepted; drops (core) or naks (JetStream) what it refused.
async fn settle(out: Outcome, kind: StreamKind, cfg: &Config, stats: &Stats, log: &Log) {
    let now = Instant::now();
    for e in out.accepted {
        Stats::add(&stats.messages_delivered, e.items.len() as u64);
        for item in e.items {
            stats.delivered_age(now.saturating_duration_since(item.received));
            if let Some(a) = item.ack
                && a.ack().await.is_err()
            {
                Stats::inc(&stats.acks_failed);
            }
        }
    }
    for (e, reason) in out.failed {
        let n = e.items.len() as u64;
        log.warn(
            "record not written",
            &[
                ("stream", json!(kind.name())),
                ("key", json!(e.key)),
                ("messages", json!(n)),
                ("reason", json!(reason)),
            ],
        );
        match cfg.mode {
            Mode::Core => Stats::add(&stats.messages_dropped_kinesis, n),
            Mode::JetStream => {
                Stats::add(&stats.messages_nacked, n);
                for item in e.items {
                    if let Some(a) = item.ack
                        && a.ack_with(AckKind::Nak(None)).await.is_err()
                    {
                        Stats::inc(&stats.acks_failed);
                    }
                }
            }
        }
    }
}
