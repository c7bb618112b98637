//! The table of every variable the bridge reads: its name, its default and why. Parsing
//! ([`super::Config::from_lookup`]), `--help` and `docs/bridge.md` all come from it.

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
