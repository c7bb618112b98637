//! Ctrl-C (SIGINT) and SIGTERM for the commands that write files: the signal sets a
//! flag that the long loops check (a replay stops at the next line, or within 50 ms
//! while it waits for input, prints its summary so far and exits 130; an output file
//! being written refuses the next write), and the temporary files of the outputs are
//! removed. A command that does not get to a check within [`GRACE`] is ended there, its
//! temporary files removed first, without a summary. `replay`, `calibrate` and `train`
//! read on a thread of their own (`input::chunks`) and never block in a read, so for
//! them that is only when blocked writing (standard output to a reader that has stopped
//! reading, a stalled disk).
//!
//! `demo` and `replay --serve` do not install it: their server stops on the same
//! signals itself (`cmd::dashboard`).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::Duration;

/// How long a command has to stop by itself once signalled.
const GRACE: Duration = Duration::from_secs(3);

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// The exit status for the signal received: 128 + its number (130 for SIGINT).
static CODE: AtomicU8 = AtomicU8::new(130);
/// Temporary files and folders of outputs not yet in place.
static TEMPS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Whether Ctrl-C or SIGTERM has come.
pub(crate) fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// The exit status of an interrupted run: 130 (SIGINT) or 143 (SIGTERM).
pub(crate) fn exit_code() -> u8 {
    CODE.load(Ordering::Relaxed)
}

/// Remembers a temporary path to remove if the process has to be ended.
pub(crate) fn register_temp(path: &Path) {
    if let Ok(mut t) = TEMPS.lock() {
        t.push(path.to_owned());
    }
}

/// Forgets a temporary path (renamed into place, or removed).
pub(crate) fn unregister_temp(path: &Path) {
    if let Ok(mut t) = TEMPS.lock() {
        t.retain(|p| p != path);
    }
}

/// Starts listening for SIGINT and SIGTERM; returns once the handlers are in place, so
/// a signal from then on is caught.
pub(crate) fn install() {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                let _ = ready_tx.send(());
                return;
            };
            let code = rt.block_on(async move { wait(ready_tx).await });
            let Some(code) = code else { return };
            CODE.store(code, Ordering::Relaxed);
            INTERRUPTED.store(true, Ordering::Relaxed);
            std::thread::sleep(GRACE);
            // The command did not stop by itself: remove what it left and end it.
            if let Ok(temps) = TEMPS.lock() {
                for p in temps.iter() {
                    let _ = std::fs::remove_file(p).or_else(|_| std::fs::remove_dir_all(p));
                }
            }
            eprintln!("burnbar: interrupted; earlier files left as they were");
            std::process::exit(i32::from(code));
        });
    if spawned.is_ok() {
        let _ = ready_rx.recv();
    }
}

#[cfg(unix)]
async fn wait(ready: std::sync::mpsc::Sender<()>) -> Option<u8> {
    use tokio::signal::unix::{SignalKind, signal};
    let int = signal(SignalKind::interrupt());
    let term = signal(SignalKind::terminate());
    let _ = ready.send(());
    let (Ok(mut int), Ok(mut term)) = (int, term) else {
        return None;
    };
    tokio::select! {
        _ = int.recv() => Some(130),
        _ = term.recv() => Some(143),
    }
}

#[cfg(not(unix))]
async fn wait(ready: std::sync::mpsc::Sender<()>) -> Option<u8> {
    let _ = ready.send(());
    tokio::signal::ctrl_c().await.ok().map(|()| 130)
}
