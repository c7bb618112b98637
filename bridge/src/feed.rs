//! The official-feed source: polls NASCAR's live feed, converts it with `burnbar-feed` and
//! hands the race-control events to the pipeline, which puts them on the race-control
//! stream keyed by race like any other event. Off unless `FEED_LIVE_URL` is set.
//!
//! One task polls, one poll at a time (a slow answer delays the next poll, never doubles
//! it): each round asks for the flag data, the pit data (its URL may name the race,
//! `{series_id}` and `{race_id}` filled from the latest snapshot) and the snapshot, in
//! that order, so the race's clock comes from the flag data when it has it. Every request
//! is conditional (`If-None-Match`, `If-Modified-Since` from the last answer; a body
//! equal to the last one counts as unchanged too) and has a timeout. A round with a
//! failure (an error, a timeout, a status other than 200 or 304) is followed by a wait
//! that grows exponentially with jitter up to `FEED_BACKOFF_MAX_MS`, and starts over at
//! the poll interval after a round without one. The converter's clock is the poller's:
//! a `pit_out` waits `FEED_PIT_WAIT_MS` of it for its pit data.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use burnbar_feed::{Converter, FeedConfig};
use bytes::Bytes;
use reqwest::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior};

/// The source's settings (`FEED_*` in [`crate::config::VARS`]).
#[derive(Debug, Clone, PartialEq)]
pub struct FeedSettings {
    pub live_url: String,
    pub pit_url: Option<String>,
    pub flag_url: Option<String>,
    pub poll: Duration,
    pub timeout: Duration,
    pub backoff_max: Duration,
    pub pit_wait: Duration,
    pub race_id_prefix: String,
}

/// Largest body read from the feed: a Cup snapshot is about 150 KB.
const MAX_BODY_BYTES: usize = 16 << 20;

/// What the source did, as counters (`feed_*` in the bridge's metrics).
#[derive(Debug, Default)]
pub struct FeedStats {
    pub requests: AtomicU64,
    pub not_modified: AtomicU64,
    /// Errors, timeouts and unexpected statuses.
    pub request_errors: AtomicU64,
    pub timeouts: AtomicU64,
    pub files_read: AtomicU64,
    pub files_malformed: AtomicU64,
    pub events: AtomicU64,
    /// Rounds started: never two at once.
    pub rounds: AtomicU64,
}

impl FeedStats {
    pub fn snapshot(&self) -> Value {
        json!({
            "feed_requests_total": self.requests.load(Relaxed),
            "feed_not_modified_total": self.not_modified.load(Relaxed),
            "feed_request_errors_total": self.request_errors.load(Relaxed),
            "feed_timeouts_total": self.timeouts.load(Relaxed),
            "feed_files_read_total": self.files_read.load(Relaxed),
            "feed_files_malformed_total": self.files_malformed.load(Relaxed),
            "feed_events_total": self.events.load(Relaxed),
            "feed_rounds_total": self.rounds.load(Relaxed),
        })
    }
}

/// What the last answer of one URL said, for the next conditional request.
#[derive(Debug, Default)]
struct Validators {
    etag: Option<String>,
    last_modified: Option<String>,
    last_body: Option<Bytes>,
}

/// The poller.
pub struct FeedSource {
    cfg: FeedSettings,
    client: reqwest::Client,
    conv: Converter,
    started: Instant,
    live: Validators,
    pit: Validators,
    flag: Validators,
    pub stats: Arc<FeedStats>,
}

impl FeedSource {
    pub fn new(cfg: FeedSettings) -> Result<FeedSource, String> {
        let client = reqwest::Client::builder()
            .user_agent("burnbar-bridge")
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout)
            .build()
            .map_err(|e| format!("feed HTTP client: {e}"))?;
        let conv = Converter::new(FeedConfig {
            pit_data_wait_ms: cfg.pit_wait.as_millis() as i64,
            race_id_prefix: cfg.race_id_prefix.clone(),
            ..FeedConfig::default()
        });
        Ok(FeedSource {
            cfg,
            client,
            conv,
            started: Instant::now(),
            live: Validators::default(),
            pit: Validators::default(),
            flag: Validators::default(),
            stats: Arc::new(FeedStats::default()),
        })
    }

    /// Polls until `stop` turns true, sending each event as one NDJSON line; `report`
    /// hears what an operator should (a request failed, a file was malformed, a code or
    /// track is unknown).
    pub async fn run(
        mut self,
        tx: mpsc::Sender<Bytes>,
        mut stop: watch::Receiver<bool>,
        report: impl Fn(&str, Value),
    ) {
        let mut every = tokio::time::interval(self.cfg.poll);
        every.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut backoff = None;
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                _ = every.tick() => {}
            }
            let failed = self.round(&tx, &report).await;
            if tx.is_closed() {
                break;
            }
            if !failed {
                backoff = None;
                continue;
            }
            let delays = backoff.get_or_insert_with(|| {
                ExponentialBuilder::default()
                    .with_min_delay(self.cfg.poll)
                    .with_max_delay(self.cfg.backoff_max)
                    .with_jitter()
                    .without_max_times()
                    .build()
            });
            let wait = delays.next().unwrap_or(self.cfg.backoff_max);
            tokio::select! {
                _ = stop.changed() => break,
                _ = tokio::time::sleep(wait) => {}
            }
            every.reset();
        }
    }

    /// One round: flag data, pit data, snapshot, then the converter's clock. Whether a
    /// request failed.
    async fn round(&mut self, tx: &mpsc::Sender<Bytes>, report: &impl Fn(&str, Value)) -> bool {
        self.stats.rounds.fetch_add(1, Relaxed);
        let mut failed = false;
        if let Some(url) = self.cfg.flag_url.clone() {
            failed |= self.fetch_and_push(&url, Which::Flag, tx, report).await;
        }
        if let Some(url) = self.pit_url() {
            failed |= self.fetch_and_push(&url, Which::Pit, tx, report).await;
        }
        let live = self.cfg.live_url.clone();
        failed |= self.fetch_and_push(&live, Which::Live, tx, report).await;
        let events = self.conv.tick(self.now_ms());
        self.send(events, tx, report).await;
        failed
    }

    /// The pit data URL with the race filled in; `None` while it names a race no snapshot
    /// has given yet.
    fn pit_url(&self) -> Option<String> {
        let t = self.cfg.pit_url.as_ref()?;
        if !t.contains('{') {
            return Some(t.clone());
        }
        let (race, series) = self.conv.feed_race()?;
        Some(
            t.replace("{race_id}", &race.to_string())
                .replace("{series_id}", &series.unwrap_or(1).to_string()),
        )
    }

    fn now_ms(&self) -> i64 {
        self.started.elapsed().as_millis() as i64
    }

    async fn fetch_and_push(
        &mut self,
        url: &str,
        which: Which,
        tx: &mpsc::Sender<Bytes>,
        report: &impl Fn(&str, Value),
    ) -> bool {
        match self.fetch(url, which).await {
            Ok(None) => false,
            Ok(Some(body)) => {
                self.stats.files_read.fetch_add(1, Relaxed);
                let before = self.conv.counters().malformed.values().sum::<u64>();
                let events = self.conv.push_file(&body, self.now_ms());
                let after = self.conv.counters().malformed.values().sum::<u64>();
                self.stats
                    .files_malformed
                    .fetch_add(after - before, Relaxed);
                self.send(events, tx, report).await;
                false
            }
            Err(e) => {
                report("feed request failed", json!({"url": url, "error": e}));
                true
            }
        }
    }

    /// New content of `url`, `None` when unchanged.
    async fn fetch(&mut self, url: &str, which: Which) -> Result<Option<Bytes>, String> {
        let v = match which {
            Which::Live => &mut self.live,
            Which::Pit => &mut self.pit,
            Which::Flag => &mut self.flag,
        };
        self.stats.requests.fetch_add(1, Relaxed);
        let mut req = self.client.get(url);
        if let Some(e) = &v.etag {
            req = req.header(IF_NONE_MATCH, e);
        }
        if let Some(m) = &v.last_modified {
            req = req.header(IF_MODIFIED_SINCE, m);
        }
        let fail = |stats: &FeedStats, e: reqwest::Error| {
            stats.request_errors.fetch_add(1, Relaxed);
            if e.is_timeout() {
                stats.timeouts.fetch_add(1, Relaxed);
            }
            e.to_string()
        };
        let resp = req.send().await.map_err(|e| fail(&self.stats, e))?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_MODIFIED {
            self.stats.not_modified.fetch_add(1, Relaxed);
            return Ok(None);
        }
        if !status.is_success() {
            self.stats.request_errors.fetch_add(1, Relaxed);
            return Err(format!("HTTP {status}"));
        }
        if resp
            .content_length()
            .is_some_and(|l| l as usize > MAX_BODY_BYTES)
        {
            self.stats.request_errors.fetch_add(1, Relaxed);
            return Err(format!("body over {MAX_BODY_BYTES} bytes"));
        }
        let header = |name| {
            resp.headers()
                .get(name)
                .and_then(|h: &reqwest::header::HeaderValue| h.to_str().ok())
                .map(str::to_owned)
        };
        let (etag, modified) = (header(ETAG), header(LAST_MODIFIED));
        let body = resp.bytes().await.map_err(|e| fail(&self.stats, e))?;
        v.etag = etag;
        v.last_modified = modified;
        if v.last_body.as_ref() == Some(&body) {
            self.stats.not_modified.fetch_add(1, Relaxed);
            return Ok(None);
        }
        v.last_body = Some(body.clone());
        Ok(Some(body))
    }

    async fn send(
        &mut self,
        events: Vec<burnbar_feed::RcEvent>,
        tx: &mpsc::Sender<Bytes>,
        report: &impl Fn(&str, Value),
    ) {
        for line in self.conv.take_reports() {
            report("feed", json!({"detail": line}));
        }
        for e in events {
            self.stats.events.fetch_add(1, Relaxed);
            if tx.send(Bytes::from(e.to_json())).await.is_err() {
                return;
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Which {
    Live,
    Pit,
    Flag,
}
