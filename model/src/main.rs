//! `burnbar-model serve`: the correction model on SageMaker's container contract.
//!
//! SageMaker starts the container as `docker run IMAGE serve`, sends requests to port
//! 8080 and stops it with SIGTERM. The model is loaded before the server listens: a
//! missing or invalid artifact stops the container at once with the reason, which
//! SageMaker shows in the endpoint's CloudWatch logs.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use burnbar_metrics::log;
use burnbar_model::{DEFAULT_MODEL_PATH, DEFAULT_PORT};
use clap::{Args, Parser, Subcommand};
use serde_json::json;
use tokio::signal::unix::{SignalKind, signal};

#[derive(Parser)]
#[command(name = "burnbar-model", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the correction model: GET /ping, POST /invocations (SageMaker's contract).
    Serve(Serve),
}

#[derive(Args)]
struct Serve {
    /// Address to listen on (all interfaces: SageMaker connects from outside the
    /// container).
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED))]
    bind: IpAddr,
    /// Port to listen on [default: SAGEMAKER_BIND_TO_PORT if set (inference
    /// pipelines), else 8080]. 0 picks a free port (the log line says which).
    #[arg(long)]
    port: Option<u16>,
    /// The model artifact written by `burnbar train` [default: MODEL_PATH if set, else
    /// /opt/ml/model/correction.json, where SageMaker extracts model.tar.gz].
    #[arg(long)]
    model: Option<PathBuf>,
}

fn main() -> ExitCode {
    let Command::Serve(args) = Cli::parse().command;
    match serve(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(reason) => {
            eprintln!("burnbar-model: {reason}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: Serve) -> Result<(), String> {
    let path = args
        .model
        .or_else(|| env("MODEL_PATH").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_MODEL_PATH));
    let port = match (args.port, env("SAGEMAKER_BIND_TO_PORT")) {
        (Some(p), _) => p,
        (None, Some(v)) => v
            .parse()
            .map_err(|_| format!("SAGEMAKER_BIND_TO_PORT={v:?} is not a port number"))?,
        (None, None) => DEFAULT_PORT,
    };
    let model = Arc::new(burnbar_model::load(&path)?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    rt.block_on(async {
        // The handlers are installed before the server listens: a SIGTERM at any time
        // after the "listening" line is a graceful stop, never the default kill.
        let mut term =
            signal(SignalKind::terminate()).map_err(|e| format!("cannot handle SIGTERM: {e}"))?;
        let mut int =
            signal(SignalKind::interrupt()).map_err(|e| format!("cannot handle SIGINT: {e}"))?;
        let addr = SocketAddr::new(args.bind, port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        log(
            "info",
            "listening",
            None,
            &[
                ("addr", json!(local.to_string())),
                ("model", json!(path.display().to_string())),
                ("packages", json!(burnbar_model::trained_packages(&model))),
                ("tracks", json!(burnbar_model::trained_tracks(&model))),
            ],
        );
        let shutdown = async move {
            let sig = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            log("info", "stopping", None, &[("signal", json!(sig))]);
        };
        burnbar_model::server::serve(listener, model, shutdown)
            .await
            .map_err(|e| format!("the server failed: {e}"))?;
        log("info", "stopped", None, &[]);
        Ok(())
    })
}

/// An environment variable, unset when empty.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}
