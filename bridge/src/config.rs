//! Configuration from the environment: every variable, its default and why, in one table.
//!
//! The container service sets environment variables; the bridge reads them once at start
//! and refuses to run on a bad value, naming the variable (exit status 2). [`VARS`] is the
//! single list: parsing, `--help` and the table in `docs/bridge.md` all come from it (a
//! test checks that page names every variable).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::nats::{CaSource, NatsAuth, NatsSettings, NatsTls, NatsUrl, Secret, redact_url};

/// Variables whose values are secrets: an error about one never shows its value.
pub const SECRET_VARS: &[&str] = &[
    "NATS_CREDS",
    "NATS_NKEY_SEED",
    "NATS_PASSWORD",
    "NATS_TOKEN",
    "NATS_TLS_CA",
];

/// Kinesis service limits for `PutRecords` (AWS documentation, "Kinesis Data Streams
/// quotas"): records per call, bytes per call (data plus partition keys), bytes per record
/// (data plus partition key), and the longest partition key.
pub const KINESIS_MAX_RECORDS: usize = 500;
pub const KINESIS_MAX_CALL_BYTES: usize = 5 * 1024 * 1024;
pub const KINESIS_MAX_RECORD_BYTES: usize = 1024 * 1024;
pub const KINESIS_MAX_KEY_BYTES: usize = 256;

/// One environment variable: its name, its default and the reason for that default.
#[derive(Debug, Clone, Copy)]
pub struct Var {
    pub name: &'static str,
    pub default: &'static str,
    pub doc: &'static str,
}

/// Every variable the bridge reads.
pub const VARS: &[Var] = &[
    Var {
        name: "NATS_URL",
        default: "nats://127.0.0.1:4222",
        doc: "NATS server(s), comma-separated. Default: a local server, for development.",
    },
    Var {
        name: "NATS_CREDS_FILE",
        default: "",
        doc: "A NATS `.creds` file (JWT and nkey seed, as `nsc` writes it). At most one of \
              the credential variables may be set.",
    },
    Var {
        name: "NATS_CREDS",
        default: "",
        doc: "The content of a `.creds` file, for a secret injected into the environment \
              (on ECS from Secrets Manager). Never logged.",
    },
    Var {
        name: "NATS_NKEY_SEED",
        default: "",
        doc: "An nkey seed (`SU...`) to sign the server's challenge with. Never logged.",
    },
    Var {
        name: "NATS_USER",
        default: "",
        doc: "User name, with NATS_PASSWORD.",
    },
    Var {
        name: "NATS_PASSWORD",
        default: "",
        doc: "Password, with NATS_USER (on ECS from Secrets Manager). Never logged.",
    },
    Var {
        name: "NATS_TOKEN",
        default: "",
        doc: "An authentication token. Never logged.",
    },
    Var {
        name: "NATS_TLS",
        default: "auto",
        doc: "`auto` (TLS when the server asks for it or the URL is `tls://`) or `required` \
              (refuse a server without TLS). A CA makes it `required`.",
    },
    Var {
        name: "NATS_TLS_CA_FILE",
        default: "",
        doc: "PEM file of the CA that signed the NATS server's certificate.",
    },
    Var {
        name: "NATS_TLS_CA",
        default: "",
        doc: "The same CA as PEM content (from a secret); written to a private file at start.",
    },
    Var {
        name: "NATS_TLS_CERT_FILE",
        default: "",
        doc: "Client certificate (PEM) for servers that verify clients, with NATS_TLS_KEY_FILE.",
    },
    Var {
        name: "NATS_TLS_KEY_FILE",
        default: "",
        doc: "The client certificate's private key (PEM), with NATS_TLS_CERT_FILE.",
    },
    Var {
        name: "BRIDGE_MODE",
        default: "core",
        doc: "`core` (queue-group subscribe, at-most-once, as the platform publishes) or \
              `jetstream` (durable pull consumer, acknowledged after Kinesis accepted).",
    },
    Var {
        name: "NATS_SUBJECTS",
        default: "burnbar.telemetry.>,burnbar.race-control.>",
        doc: "Subjects to subscribe to in core mode, comma-separated (JetStream mode reads \
              the whole of JS_STREAM). Records are routed by content (sample or event), not \
              by subject, so one subject may carry both.",
    },
    Var {
        name: "NATS_QUEUE_GROUP",
        default: "burnbar-bridge",
        doc: "Queue group (core mode): replicas in one group share the messages, each \
              delivered to one of them.",
    },
    Var {
        name: "JS_STREAM",
        default: "TELEMETRY",
        doc: "JetStream stream to consume (jetstream mode); the platform owns it, the bridge \
              only reads.",
    },
    Var {
        name: "JS_CONSUMER",
        default: "burnbar-bridge",
        doc: "Durable pull consumer shared by all replicas (created if missing): a dead \
              replica's unacknowledged messages go to the others.",
    },
    Var {
        name: "JS_ACK_WAIT_MS",
        default: "2000",
        doc: "Acknowledgement wait. Redelivery after a replica dies must land inside the \
              processor's 5 s lateness; JetStream's 30 s default would arrive late and be \
              dropped. 2 s leaves room for the bridge's own linger and retries.",
    },
    Var {
        name: "JS_MAX_ACK_PENDING",
        default: "20000",
        doc: "Messages a replica may hold unacknowledged: about 5 s of a 10x race load \
              (40 cars x 100 Hz), so the bounded queue, not the server, is what throttles.",
    },
    Var {
        name: "KINESIS_TELEMETRY_STREAM",
        default: "burnbar-telemetry",
        doc: "Stream for samples (partition key: car).",
    },
    Var {
        name: "KINESIS_RACE_CONTROL_STREAM",
        default: "burnbar-race-control",
        doc: "Stream for race-control events (partition key: race).",
    },
    Var {
        name: "QUEUE_MAX_BYTES",
        default: "33554432",
        doc: "Byte budget of the queue between NATS and Kinesis, messages held until \
              Kinesis accepted them included (each counts its size plus 128 bytes). 32 MiB \
              is over 20 s of a 10x race load: memory stays flat whatever arrives.",
    },
    Var {
        name: "MAX_MESSAGE_BYTES",
        default: "1048320",
        doc: "Largest message accepted: a Kinesis record is at most 1 MiB with its \
              partition key (at most 256 bytes), so anything larger could never be written.",
    },
    Var {
        name: "LINGER_MS",
        default: "100",
        doc: "How long to gather messages before a PutRecords call: packs about one \
              sample per car at 10 Hz into each record at 1x, many more at 10x, and adds \
              at most 0.1 s to a 5 s window's latency.",
    },
    Var {
        name: "PACK_MAX_BYTES",
        default: "25000",
        doc: "Largest packed record. Kinesis bills PUT payload units of 25 KB, so bigger \
              records save nothing and only delay a car's samples.",
    },
    Var {
        name: "BATCH_MAX_RECORDS",
        default: "500",
        doc: "Records per PutRecords call: the service limit, fewest calls.",
    },
    Var {
        name: "BATCH_MAX_BYTES",
        default: "5242880",
        doc: "Bytes per PutRecords call (data plus partition keys): the service limit.",
    },
    Var {
        name: "RETRY_MIN_DELAY_MS",
        default: "50",
        doc: "First backoff after throttled entries: a shard's per-second budget refills \
              continuously, so a short wait usually suffices.",
    },
    Var {
        name: "RETRY_MAX_DELAY_MS",
        default: "800",
        doc: "Longest single backoff (jittered, doubling from the minimum).",
    },
    Var {
        name: "RETRY_DEADLINE_MS",
        default: "2500",
        doc: "Total retry time for one batch. Retried entries land after later ones, so \
              this bounds the reordering (well inside the 5 s lateness); past it a sample \
              would be late anyway. Then core mode drops (counted), JetStream naks.",
    },
    Var {
        name: "REQUEST_TIMEOUT_MS",
        default: "2000",
        doc: "Timeout of one PutRecords attempt; below the retry deadline so a hung call \
              still gets a retry.",
    },
    Var {
        name: "SAMPLING",
        default: "on",
        doc: "`on` or `off`: adaptive sampling of samples (events are never sampled).",
    },
    Var {
        name: "SAMPLE_MAX_HZ",
        default: "10",
        doc: "Rate cap per car and channel group with no backlog. The core holds a value \
              at most 1 s and integrates in 5 s windows; 10 Hz is the broadcast rate and \
              keeps the estimate exact, while RPM at hundreds of Hz adds nothing.",
    },
    Var {
        name: "SAMPLE_MIN_HZ",
        default: "4",
        doc: "Rate cap per car and channel group at full backlog. At 4 Hz the fuel totals \
              stay within 1 % of the full input (shown on the simulator by a test).",
    },
    Var {
        name: "SAMPLE_BACKLOG_LOW",
        default: "0.25",
        doc: "Queue fill (share of QUEUE_MAX_BYTES) below which the cap is SAMPLE_MAX_HZ.",
    },
    Var {
        name: "SAMPLE_BACKLOG_HIGH",
        default: "0.75",
        doc: "Queue fill above which the cap is SAMPLE_MIN_HZ; between the two it falls \
              linearly in rate, leaving a quarter of the queue to absorb bursts before \
              anything is dropped as `queue_full`.",
    },
    Var {
        name: "HEALTH_ADDR",
        default: "0.0.0.0:8080",
        doc: "Address of the health endpoint (`GET /healthz`) for the ECS health check.",
    },
    Var {
        name: "METRICS_INTERVAL_MS",
        default: "10000",
        doc: "How often EMF metrics are written to stdout: fine enough for a race, cheap \
              enough to be noise.",
    },
    Var {
        name: "SHUTDOWN_DEADLINE_MS",
        default: "20000",
        doc: "Time to drain the queue on SIGTERM: below ECS's 30 s stop timeout, after \
              which the task is killed.",
    },
    Var {
        name: "REPLICA_ID",
        default: "",
        doc: "Name in logs and the metric dimension; empty means the host name \
              (the task's), or `bridge`.",
    },
    Var {
        name: "FEED_LIVE_URL",
        default: "",
        doc: "NASCAR official live feed's snapshot URL (`live-feed.json`). Empty: the \
              official-feed source is off (the default: a broadcaster with its own race \
              control publishes it on NATS). Set: the bridge polls it, converts it and puts \
              the race-control events on the race-control stream (docs/feed.md). Run it in \
              one replica only: two would put every event twice (harmless, the \
              race-control function keys events, but twice the cost).",
    },
    Var {
        name: "FEED_PIT_URL",
        default: "",
        doc: "The feed's pit data URL (`live-pit-data.json`); `{series_id}` and \
              `{race_id}` are filled from the latest snapshot. Empty: no pit data, so \
              `pit_out` goes without `tires` and `box_s`.",
    },
    Var {
        name: "FEED_FLAG_URL",
        default: "",
        doc: "The feed's flag data URL (`live-flag-data.json`). Empty: flags come from the \
              snapshots alone, stamped up to one poll late, and the race's clock from the \
              first snapshot (to the second).",
    },
    Var {
        name: "FEED_POLL_MS",
        default: "5000",
        doc: "Time between polls: the feed changes every few seconds and the processor's \
              windows are 5 s, so polling faster buys nothing.",
    },
    Var {
        name: "FEED_TIMEOUT_MS",
        default: "3000",
        doc: "Timeout of each request, below the poll interval so a slow answer costs at \
              most one poll.",
    },
    Var {
        name: "FEED_BACKOFF_MAX_MS",
        default: "60000",
        doc: "Longest wait after failed rounds (the wait doubles from the poll interval, \
              with jitter): a feed that is down is asked once a minute, not hammered.",
    },
    Var {
        name: "FEED_PIT_WAIT_MS",
        default: "15000",
        doc: "How long a `pit_out` waits for its stop's pit data before it goes without \
              `tires` and `box_s`: the pit data usually follows within a few polls.",
    },
    Var {
        name: "FEED_RACE_ID_PREFIX",
        default: "nascar-",
        doc: "Put before NASCAR's numeric race id to make the events' `race_id`.",
    },
];

/// How messages are consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Core NATS queue-group subscription: at-most-once, as the platform publishes.
    Core,
    /// JetStream durable pull consumer: at-least-once, acknowledged after Kinesis.
    JetStream,
}

/// Sampling settings (see [`crate::sampler`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplingConfig {
    pub enabled: bool,
    pub max_hz: f64,
    pub min_hz: f64,
    pub backlog_low: f64,
    pub backlog_high: f64,
}

/// Everything the bridge is told; see [`VARS`] for each field's reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Servers, credentials and TLS (see [`crate::nats`]); secrets print as `***`.
    pub nats: NatsSettings,
    pub mode: Mode,
    pub subjects: Vec<String>,
    pub queue_group: String,
    pub js_stream: String,
    pub js_consumer: String,
    pub js_ack_wait: Duration,
    pub js_max_ack_pending: i64,
    pub telemetry_stream: String,
    pub race_control_stream: String,
    pub queue_max_bytes: usize,
    pub max_message_bytes: usize,
    pub linger: Duration,
    pub pack_max_bytes: usize,
    pub batch_max_records: usize,
    pub batch_max_bytes: usize,
    pub retry_min_delay: Duration,
    pub retry_max_delay: Duration,
    pub retry_deadline: Duration,
    pub request_timeout: Duration,
    pub sampling: SamplingConfig,
    pub health_addr: SocketAddr,
    pub metrics_interval: Duration,
    pub shutdown_deadline: Duration,
    pub replica_id: String,
    /// The official-feed source, when `FEED_LIVE_URL` is set.
    pub feed: Option<crate::feed::FeedSettings>,
}

/// A variable with a value the bridge cannot use.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{var}={value:?}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub value: String,
    pub reason: String,
}

impl Default for Config {
    fn default() -> Self {
        Config::from_lookup(|_| None).expect("the defaults are valid")
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads variables through `get` (unset or empty means the default).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let r = Reader { get: &get };
        let sampling = SamplingConfig {
            enabled: r.parse("SAMPLING", |s| match s {
                "on" | "true" | "1" => Ok(true),
                "off" | "false" | "0" => Ok(false),
                _ => Err("must be `on` or `off`".to_owned()),
            })?,
            max_hz: r.positive_f64("SAMPLE_MAX_HZ")?,
            min_hz: r.positive_f64("SAMPLE_MIN_HZ")?,
            backlog_low: r.share("SAMPLE_BACKLOG_LOW")?,
            backlog_high: r.share("SAMPLE_BACKLOG_HIGH")?,
        };
        if sampling.min_hz > sampling.max_hz {
            return Err(r.error(
                "SAMPLE_MIN_HZ",
                format!("must not exceed SAMPLE_MAX_HZ ({})", sampling.max_hz),
            ));
        }
        if sampling.backlog_low >= sampling.backlog_high {
            return Err(r.error(
                "SAMPLE_BACKLOG_LOW",
                format!(
                    "must be below SAMPLE_BACKLOG_HIGH ({})",
                    sampling.backlog_high
                ),
            ));
        }
        let cfg = Config {
            nats: nats_settings(&r)?,
            mode: r.parse("BRIDGE_MODE", |s| match s {
                "core" => Ok(Mode::Core),
                "jetstream" => Ok(Mode::JetStream),
                _ => Err("must be `core` or `jetstream`".to_owned()),
            })?,
            subjects: r.parse("NATS_SUBJECTS", |s| {
                let v: Vec<String> = s
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                if v.is_empty() {
                    Err("must name at least one subject".to_owned())
                } else if v.iter().any(|s| s.contains(' ')) {
                    Err("a subject cannot contain spaces".to_owned())
                } else {
                    Ok(v)
                }
            })?,
            queue_group: r.text("NATS_QUEUE_GROUP")?,
            js_stream: r.text("JS_STREAM")?,
            js_consumer: r.text("JS_CONSUMER")?,
            js_ack_wait: r.millis("JS_ACK_WAIT_MS", 100, 60_000)?,
            js_max_ack_pending: r.int("JS_MAX_ACK_PENDING", 1, 10_000_000)? as i64,
            telemetry_stream: r.text("KINESIS_TELEMETRY_STREAM")?,
            race_control_stream: r.text("KINESIS_RACE_CONTROL_STREAM")?,
            queue_max_bytes: r.int("QUEUE_MAX_BYTES", 1 << 20, 1 << 34)?,
            max_message_bytes: r.int(
                "MAX_MESSAGE_BYTES",
                64,
                KINESIS_MAX_RECORD_BYTES - KINESIS_MAX_KEY_BYTES,
            )?,
            linger: r.millis("LINGER_MS", 1, 2_000)?,
            pack_max_bytes: r.int(
                "PACK_MAX_BYTES",
                1,
                KINESIS_MAX_RECORD_BYTES - KINESIS_MAX_KEY_BYTES,
            )?,
            batch_max_records: r.int("BATCH_MAX_RECORDS", 1, KINESIS_MAX_RECORDS)?,
            batch_max_bytes: r.int(
                "BATCH_MAX_BYTES",
                KINESIS_MAX_RECORD_BYTES,
                KINESIS_MAX_CALL_BYTES,
            )?,
            retry_min_delay: r.millis("RETRY_MIN_DELAY_MS", 1, 10_000)?,
            retry_max_delay: r.millis("RETRY_MAX_DELAY_MS", 1, 60_000)?,
            retry_deadline: r.millis("RETRY_DEADLINE_MS", 0, 600_000)?,
            request_timeout: r.millis("REQUEST_TIMEOUT_MS", 50, 60_000)?,
            sampling,
            health_addr: r.parse("HEALTH_ADDR", |s| {
                s.parse::<SocketAddr>()
                    .map_err(|e| format!("not a socket address (host:port): {e}"))
            })?,
            metrics_interval: r.millis("METRICS_INTERVAL_MS", 100, 3_600_000)?,
            shutdown_deadline: r.millis("SHUTDOWN_DEADLINE_MS", 0, 600_000)?,
            replica_id: {
                let v = r.raw("REPLICA_ID");
                if v.is_empty() {
                    get("HOSTNAME")
                        .filter(|h| !h.is_empty())
                        .unwrap_or_else(|| "bridge".to_owned())
                } else {
                    v
                }
            },
            feed: feed_settings(&r)?,
        };
        if cfg.retry_min_delay > cfg.retry_max_delay {
            return Err(r.error(
                "RETRY_MIN_DELAY_MS",
                "must not exceed RETRY_MAX_DELAY_MS".to_owned(),
            ));
        }
        if cfg.queue_max_bytes < 2 * cfg.max_message_bytes {
            return Err(r.error(
                "QUEUE_MAX_BYTES",
                format!(
                    "must hold at least two of the largest messages (2 x MAX_MESSAGE_BYTES = {})",
                    2 * cfg.max_message_bytes
                ),
            ));
        }
        Ok(cfg)
    }
}

/// The official-feed source's settings; `None` (off) without `FEED_LIVE_URL`.
fn feed_settings(r: &Reader<'_>) -> Result<Option<crate::feed::FeedSettings>, ConfigError> {
    let url = |name: &str| -> Result<Option<String>, ConfigError> {
        let v = r.raw(name);
        if v.is_empty() {
            Ok(None)
        } else if v.starts_with("http://") || v.starts_with("https://") {
            Ok(Some(v))
        } else {
            Err(r.error(name, "must be an http:// or https:// URL".to_owned()))
        }
    };
    let Some(live_url) = url("FEED_LIVE_URL")? else {
        return Ok(None);
    };
    let poll = r.millis("FEED_POLL_MS", 500, 600_000)?;
    let timeout = r.millis("FEED_TIMEOUT_MS", 100, 60_000)?;
    if timeout > poll {
        return Err(r.error(
            "FEED_TIMEOUT_MS",
            format!("must not exceed FEED_POLL_MS ({} ms)", poll.as_millis()),
        ));
    }
    Ok(Some(crate::feed::FeedSettings {
        live_url,
        pit_url: url("FEED_PIT_URL")?,
        flag_url: url("FEED_FLAG_URL")?,
        poll,
        timeout,
        backoff_max: r.millis("FEED_BACKOFF_MAX_MS", 500, 3_600_000)?,
        pit_wait: r.millis("FEED_PIT_WAIT_MS", 0, 600_000)?,
        race_id_prefix: r.parse("FEED_RACE_ID_PREFIX", |s| {
            if s.len() <= 40 && s.chars().all(|c| c.is_ascii_graphic()) {
                Ok(s.to_owned())
            } else {
                Err("must be at most 40 printable characters".to_owned())
            }
        })?,
    }))
}

/// NATS servers, credentials (at most one method) and TLS.
fn nats_settings(r: &Reader<'_>) -> Result<NatsSettings, ConfigError> {
    let url = NatsUrl::new(r.text("NATS_URL")?);
    let set = |name: &str| Some(r.raw(name)).filter(|v| !v.is_empty());
    let mut methods: Vec<(&'static str, NatsAuth)> = Vec::new();
    if let Some(p) = set("NATS_CREDS_FILE") {
        methods.push(("NATS_CREDS_FILE", NatsAuth::CredsFile(PathBuf::from(p))));
    }
    if let Some(c) = set("NATS_CREDS") {
        methods.push(("NATS_CREDS", NatsAuth::Creds(Secret::new(c))));
    }
    if let Some(seed) = set("NATS_NKEY_SEED") {
        if !seed.starts_with("SU") {
            return Err(r.error(
                "NATS_NKEY_SEED",
                "must be a user nkey seed (it starts with SU)".to_owned(),
            ));
        }
        methods.push(("NATS_NKEY_SEED", NatsAuth::Nkey(Secret::new(seed))));
    }
    match (set("NATS_USER"), set("NATS_PASSWORD")) {
        (Some(user), Some(password)) => methods.push((
            "NATS_USER",
            NatsAuth::UserPassword {
                user,
                password: Secret::new(password),
            },
        )),
        (None, None) => {}
        (Some(_), None) => {
            return Err(r.error("NATS_USER", "needs NATS_PASSWORD as well".to_owned()));
        }
        (None, Some(_)) => {
            return Err(r.error("NATS_PASSWORD", "needs NATS_USER as well".to_owned()));
        }
    }
    if let Some(t) = set("NATS_TOKEN") {
        methods.push(("NATS_TOKEN", NatsAuth::Token(Secret::new(t))));
    }
    if methods.len() > 1 {
        let names: Vec<&str> = methods.iter().map(|m| m.0).collect();
        return Err(r.error(
            methods[1].0,
            format!(
                "only one NATS credential may be set, found {}",
                names.join(" and ")
            ),
        ));
    }
    let auth = methods.pop().map_or(NatsAuth::None, |m| m.1);
    let ca = match (set("NATS_TLS_CA_FILE"), set("NATS_TLS_CA")) {
        (Some(_), Some(_)) => {
            return Err(r.error(
                "NATS_TLS_CA",
                "set NATS_TLS_CA_FILE or NATS_TLS_CA, not both".to_owned(),
            ));
        }
        (Some(p), None) => Some(CaSource::File(PathBuf::from(p))),
        (None, Some(pem)) if pem.contains("-----BEGIN CERTIFICATE-----") => {
            Some(CaSource::Pem(Secret::new(pem)))
        }
        (None, Some(_)) => {
            return Err(r.error(
                "NATS_TLS_CA",
                "must be PEM (-----BEGIN CERTIFICATE-----)".to_owned(),
            ));
        }
        (None, None) => None,
    };
    let client = match (set("NATS_TLS_CERT_FILE"), set("NATS_TLS_KEY_FILE")) {
        (Some(c), Some(k)) => Some((PathBuf::from(c), PathBuf::from(k))),
        (None, None) => None,
        (Some(_), None) => {
            return Err(r.error(
                "NATS_TLS_CERT_FILE",
                "needs NATS_TLS_KEY_FILE as well".to_owned(),
            ));
        }
        (None, Some(_)) => {
            return Err(r.error(
                "NATS_TLS_KEY_FILE",
                "needs NATS_TLS_CERT_FILE as well".to_owned(),
            ));
        }
    };
    let required = r.parse("NATS_TLS", |s| match s {
        "auto" => Ok(false),
        "required" => Ok(true),
        _ => Err("must be `auto` or `required`".to_owned()),
    })?;
    Ok(NatsSettings {
        url,
        auth,
        tls: NatsTls {
            required,
            ca,
            client,
        },
    })
}

/// Looks variables up and turns bad values into [`ConfigError`]s.
struct Reader<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
}

impl Reader<'_> {
    fn var(name: &str) -> &'static Var {
        VARS.iter()
            .find(|v| v.name == name)
            .unwrap_or_else(|| panic!("{name} is missing from VARS"))
    }

    fn raw(&self, name: &str) -> String {
        match (self.get)(name) {
            Some(v) if !v.trim().is_empty() => v.trim().to_owned(),
            _ => Reader::var(name).default.to_owned(),
        }
    }

    /// An error naming the variable; a secret's value is shown as `***`, a URL's user
    /// information is redacted.
    fn error(&self, name: &str, reason: String) -> ConfigError {
        let raw = self.raw(name);
        let value = if SECRET_VARS.contains(&name) {
            "***".to_owned()
        } else if name == "NATS_URL" {
            redact_url(&raw)
        } else {
            raw
        };
        ConfigError {
            var: Reader::var(name).name,
            value,
            reason,
        }
    }

    fn parse<T>(
        &self,
        name: &str,
        f: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        let v = self.raw(name);
        f(&v).map_err(|reason| self.error(name, reason))
    }

    fn text(&self, name: &str) -> Result<String, ConfigError> {
        self.parse(name, |s| {
            if s.is_empty() {
                Err("must not be empty".to_owned())
            } else {
                Ok(s.to_owned())
            }
        })
    }

    fn int(&self, name: &str, min: usize, max: usize) -> Result<usize, ConfigError> {
        self.parse(name, |s| {
            let n: usize = s.parse().map_err(|_| "must be a whole number".to_owned())?;
            if (min..=max).contains(&n) {
                Ok(n)
            } else {
                Err(format!("must be within {min} to {max}"))
            }
        })
    }

    fn millis(&self, name: &str, min: usize, max: usize) -> Result<Duration, ConfigError> {
        self.int(name, min, max)
            .map(|ms| Duration::from_millis(ms as u64))
    }

    fn positive_f64(&self, name: &str) -> Result<f64, ConfigError> {
        self.parse(name, |s| match s.parse::<f64>() {
            Ok(x) if x.is_finite() && x > 0.0 && x <= 10_000.0 => Ok(x),
            _ => Err("must be a number above 0 and at most 10000".to_owned()),
        })
    }

    fn share(&self, name: &str) -> Result<f64, ConfigError> {
        self.parse(name, |s| match s.parse::<f64>() {
            Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
            _ => Err("must be a number from 0 to 1".to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn nats_credentials_are_one_method_and_their_secrets_never_show() {
        assert_eq!(Config::default().nats.auth, NatsAuth::None);
        let c = with(&[("NATS_USER", "bridge"), ("NATS_PASSWORD", "hunter2")]).unwrap();
        assert_eq!(c.nats.auth.method(), "user and password");
        assert!(!format!("{c:?}").contains("hunter2"));
        let c = with(&[("NATS_CREDS_FILE", "/run/secrets/bridge.creds")]).unwrap();
        assert_eq!(
            c.nats.auth,
            NatsAuth::CredsFile("/run/secrets/bridge.creds".into())
        );
        // Two methods: refused, naming both; a secret's value is never in the message.
        let e = with(&[
            ("NATS_TOKEN", "t0ken-value"),
            ("NATS_NKEY_SEED", "SUAKEYSEEDVALUE"),
        ])
        .unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("NATS_NKEY_SEED and NATS_TOKEN"), "{msg}");
        assert!(
            !msg.contains("t0ken-value") && !msg.contains("SUAKEY"),
            "{msg}"
        );
        let e = with(&[("NATS_NKEY_SEED", "not-a-seed")]).unwrap_err();
        assert_eq!((e.var, e.value.as_str()), ("NATS_NKEY_SEED", "***"));
        let e = with(&[("NATS_PASSWORD", "hunter2")]).unwrap_err();
        assert_eq!(e.var, "NATS_PASSWORD");
        assert!(!e.to_string().contains("hunter2"));
        // A password in the URL is redacted when the configuration is shown.
        let c = with(&[("NATS_URL", "nats://bridge:hunter2@nats.internal:4222")]).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
        assert_eq!(c.nats.url.redacted(), "nats://***@nats.internal:4222");
    }

    #[test]
    fn nats_tls_settings_are_checked() {
        assert!(!Config::default().nats.tls.required);
        let c = with(&[("NATS_TLS", "required")]).unwrap();
        assert!(c.nats.tls.required);
        let c = with(&[("NATS_TLS_CA_FILE", "/etc/nats/ca.pem")]).unwrap();
        assert_eq!(
            c.nats.tls.ca,
            Some(CaSource::File("/etc/nats/ca.pem".into()))
        );
        let e = with(&[("NATS_TLS", "yes")]).unwrap_err();
        assert_eq!(e.var, "NATS_TLS");
        let e = with(&[("NATS_TLS_CA", "not pem")]).unwrap_err();
        assert_eq!((e.var, e.value.as_str()), ("NATS_TLS_CA", "***"));
        let e = with(&[("NATS_TLS_CERT_FILE", "/c.pem")]).unwrap_err();
        assert!(e.to_string().contains("NATS_TLS_KEY_FILE"), "{e}");
        let e = with(&[
            ("NATS_TLS_CA_FILE", "/a"),
            ("NATS_TLS_CA", "-----BEGIN CERTIFICATE-----"),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("not both"), "{e}");
    }

    #[test]
    fn defaults_are_valid_and_within_kinesis_limits() {
        let c = Config::default();
        assert_eq!(c.mode, Mode::Core);
        assert_eq!(c.js_ack_wait, Duration::from_secs(2));
        assert!(c.batch_max_records <= KINESIS_MAX_RECORDS);
        assert!(c.batch_max_bytes <= KINESIS_MAX_CALL_BYTES);
        assert!(c.retry_deadline < Duration::from_secs(5));
        assert!(c.sampling.enabled);
        assert_eq!(
            c.subjects,
            ["burnbar.telemetry.>", "burnbar.race-control.>"]
        );
    }

    #[test]
    fn bad_values_name_the_variable_and_the_problem() {
        let e = with(&[("BRIDGE_MODE", "kafka")]).unwrap_err();
        assert_eq!(e.var, "BRIDGE_MODE");
        assert!(e.to_string().contains("`core` or `jetstream`"), "{e}");
        let e = with(&[("BATCH_MAX_RECORDS", "501")]).unwrap_err();
        assert_eq!(e.var, "BATCH_MAX_RECORDS");
        assert!(e.to_string().contains("1 to 500"), "{e}");
        let e = with(&[("LINGER_MS", "soon")]).unwrap_err();
        assert!(e.to_string().contains("whole number"), "{e}");
        let e = with(&[("SAMPLE_MIN_HZ", "20")]).unwrap_err();
        assert_eq!(e.var, "SAMPLE_MIN_HZ");
        let e = with(&[("HEALTH_ADDR", "localhost")]).unwrap_err();
        assert_eq!(e.var, "HEALTH_ADDR");
        let e = with(&[("NATS_SUBJECTS", " , ")]).unwrap_err();
        assert_eq!(e.var, "NATS_SUBJECTS");
    }

    #[test]
    fn values_are_read_and_trimmed() {
        let c = with(&[
            ("BRIDGE_MODE", "jetstream"),
            ("JS_ACK_WAIT_MS", " 1000 "),
            ("SAMPLING", "off"),
            ("NATS_SUBJECTS", "a.b, c.>"),
            ("REPLICA_ID", "r1"),
        ])
        .unwrap();
        assert_eq!(c.mode, Mode::JetStream);
        assert_eq!(c.js_ack_wait, Duration::from_secs(1));
        assert!(!c.sampling.enabled);
        assert_eq!(c.subjects, ["a.b", "c.>"]);
        assert_eq!(c.replica_id, "r1");
    }

    #[test]
    fn the_feed_source_is_off_by_default_and_checked_when_on() {
        assert_eq!(Config::default().feed, None);
        let on = |extra: &[(&str, &str)]| {
            let mut m: HashMap<String, String> = [("FEED_LIVE_URL", "https://x/live-feed.json")]
                .iter()
                .chain(extra)
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            m.insert("HOSTNAME".into(), "h".into());
            Config::from_lookup(|k| m.get(k).cloned())
        };
        let f = on(&[(
            "FEED_PIT_URL",
            "https://x/series_{series_id}/{race_id}/p.json",
        )])
        .unwrap()
        .feed
        .unwrap();
        assert_eq!(f.poll, Duration::from_secs(5));
        assert_eq!(f.pit_wait, Duration::from_secs(15));
        assert_eq!(f.flag_url, None);
        assert_eq!(
            on(&[("FEED_FLAG_URL", "ftp://x")]).unwrap_err().var,
            "FEED_FLAG_URL"
        );
        assert_eq!(
            on(&[("FEED_TIMEOUT_MS", "6000")]).unwrap_err().var,
            "FEED_TIMEOUT_MS"
        );
    }
}
