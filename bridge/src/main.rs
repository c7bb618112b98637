//! `burnbar-bridge`: reads its configuration from the environment and runs the bridge.

use std::process::ExitCode;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_smithy_http_client::tls;
use burnbar_bridge::config::VARS;
use burnbar_bridge::nats::redact_url;
use burnbar_bridge::stats::Stats;
use burnbar_bridge::{Config, run};

fn help() -> String {
    let mut s = String::from(
        "burnbar-bridge: NATS into Kinesis with adaptive sampling.\n\n\
         Configured by environment variables (unset or empty means the default):\n\n",
    );
    for v in VARS {
        s.push_str(&format!(
            "  {} (default {:?})\n      {}\n",
            v.name, v.default, v.doc
        ));
    }
    s.push_str(
        "\nAWS credentials, region and endpoint come from the usual AWS variables \
         (AWS_REGION, AWS_ENDPOINT_URL, the ECS task role).\n\
         Exit status: 0 stopped cleanly, 2 bad configuration, 1 any other failure.\n",
    );
    s
}

fn main() -> ExitCode {
    if std::env::args().skip(1).any(|a| a == "--help" || a == "-h") {
        print!("{}", help());
        return ExitCode::SUCCESS;
    }
    if let Some(a) = std::env::args().nth(1) {
        eprintln!(
            "burnbar-bridge: unexpected argument `{a}` (configuration is by environment; see --help)"
        );
        return ExitCode::from(2);
    }
    let cfg = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("burnbar-bridge: bad configuration: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("burnbar-bridge: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(start(cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "{}",
                burnbar_metrics::log_line("error", "bridge failed", None, &[("error", e.into())])
            );
            ExitCode::FAILURE
        }
    }
}

async fn start(cfg: Config) -> Result<(), String> {
    // The URL is shown redacted everywhere (it may carry a password), the credentials
    // by their method only.
    let server = cfg.nats.url.redacted();
    eprintln!(
        "{}",
        burnbar_metrics::log_line(
            "info",
            "connecting to NATS",
            None,
            &[
                ("servers", server.clone().into()),
                ("auth", cfg.nats.auth.method().into()),
                (
                    "tls",
                    if cfg.nats.tls.required || cfg.nats.tls.ca.is_some() {
                        "required"
                    } else {
                        "auto"
                    }
                    .into()
                ),
            ],
        )
    );
    let scratch = std::env::temp_dir().join(format!("burnbar-bridge-{}", std::process::id()));
    let nats = cfg
        .nats
        .options(&format!("burnbar-bridge {}", cfg.replica_id), &scratch)
        .await
        .map_err(|e| e.to_string())?
        .connect(cfg.nats.url.expose())
        .await
        .map_err(|e| {
            format!(
                "connecting to NATS at {server}: {}",
                redact_url(&e.to_string())
            )
        })?;
    // rustls on ring (see Cargo.toml); the SDK's retries off, the bridge has its own
    // (see `kinesis`); one attempt may not outlive its timeout.
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(cfg.request_timeout)
                .connect_timeout(cfg.request_timeout)
                .build(),
        )
        .load()
        .await;
    let kinesis = aws_sdk_kinesis::Client::new(&sdk);
    let stats = Stats::new();
    run(cfg, nats.clone(), kinesis, stats, shutdown_signal())
        .await
        .map_err(|e| e.to_string())?;
    // Push out what the client still buffers (the last acknowledgements): one lost here
    // would only mean a redelivery, but there is no reason to cause it.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), nats.flush()).await;
    Ok(())
}

/// SIGTERM (ECS stopping the task) or Ctrl-C.
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = term => {},
        _ = tokio::signal::ctrl_c() => {},
    }
}
