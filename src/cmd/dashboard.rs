//! What `demo` and `replay --serve` share: the dashboard served on 127.0.0.1 while a
//! feed runs through the engine at `--speed`, until Ctrl-C or SIGTERM.

use std::io::{self, IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use burnbar_core::Engine;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::watch;

use crate::Failure;
use crate::serve::{self, feed::FeedEnd, feed::FeedLine};

/// `--speed` must be a positive number; past 1000 × no pacing is left to see.
pub(crate) fn check_speed(speed: f64) -> Result<(), Failure> {
    if speed.is_finite() && speed > 0.0 && speed <= 1000.0 {
        Ok(())
    } else {
        Err(Failure::usage(format!(
            "--speed must be above 0 and at most 1000, got {speed}"
        )))
    }
}

/// Serves the dashboard on 127.0.0.1:`port` while `lines` run through `engine` at
/// `speed`; returns on Ctrl-C (or SIGTERM), after the race if it ends first.
/// `cars`: some of the race's car numbers, for the graphic's example address (without,
/// the graphic shows the first four in running order).
pub(crate) fn serve_feed(
    what: &str,
    lines: impl Iterator<Item = FeedLine>,
    mut engine: Engine,
    port: u16,
    speed: f64,
    cars: &[String],
) -> Result<(), Failure> {
    let graphic = if cars.is_empty() {
        "graphic.html (the first four in running order; ?cars=N,N,… chooses)".to_owned()
    } else {
        format!("graphic.html?cars={}", cars.join(","))
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::other(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, port))
            .await
            .map_err(|e| Failure::other(format!("cannot listen on 127.0.0.1:{port}: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Failure::other(format!("cannot read the listening address: {e}")))?;
        let hub = Arc::new(serve::Hub::new(serve::LOCAL_API_KEY).map_err(Failure::other)?);
        let (stop_tx, stop) = watch::channel(false);
        tokio::spawn(async move {
            wait_for_signal().await;
            let _ = stop_tx.send(true);
        });
        let server = tokio::spawn(serve::serve(listener, hub.clone(), stop.clone()));
        println!(
            "burnbar {what}: dashboard at http://{addr}/ , Burn Bar graphic at http://{addr}/{graphic} (Ctrl-C stops)"
        );
        let _ = io::stdout().flush();
        let progress = spinner();
        let (end, stats) =
            serve::feed::run(lines, &mut engine, &hub, speed, stop.clone(), &progress).await;
        progress.finish_and_clear();
        if end == FeedEnd::Finished {
            eprintln!(
                "burnbar {what}: the race is over ({} updates in {} batches); still serving at http://{addr}/ until Ctrl-C",
                stats.updates, stats.batches
            );
        }
        let mut stop2 = stop.clone();
        let _ = stop2.wait_for(|s| *s).await;
        match server.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(Failure::other(format!("the server failed: {e}"))),
            Err(e) => return Err(Failure::other(format!("the server failed: {e}"))),
        }
        eprintln!(
            "burnbar {what}: stopped ({} lines, {} rejected, {} updates published)",
            stats.lines, stats.rejected, stats.updates
        );
        Ok(())
    })
}

/// A spinner with the time elapsed on standard error when it is a terminal, else
/// nothing.
fn spinner() -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new_spinner();
    pb.set_style(
        ProgressStyle::with_template("{spinner} {elapsed} {msg}")
            .expect("static progress template"),
    );
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}

/// Ctrl-C, or SIGTERM (how service managers and test harnesses stop a process).
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
