//! The dashboard and the Burn Bar graphic in a real headless browser: runs
//! `tests/browser/dashboard.mjs` (Debian's chromium driven by playwright-core) against
//! this build's `burnbar demo`, then a simulated race's fuel calls (none early, the cars
//! that can't make it in the final window) with `burnbar replay --serve`.
//! `scripts/setup-browser` installs both; without them this test fails and says so (it
//! never skips silently).
//!
//! Screenshots and the latency figures go to `$CARGO_TARGET_DIR/browser-artifacts`
//! (or `target/browser-artifacts`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The whole browser run takes about two minutes; past this something hangs.
const LIMIT: Duration = Duration::from_secs(420);

/// What the run writes: the demo's screenshots and latency, then the fuel calls' early
/// and final-window screenshots, then the dashboard at three screen sizes.
const ARTIFACTS: [&str; 10] = [
    "dashboard.png",
    "graphic.png",
    "dashboard-offline.png",
    "latency.json",
    "dashboard-early.png",
    "dashboard-final-window.png",
    "graphic-final-window.png",
    "dashboard-1366x768.png",
    "dashboard-1600x1000.png",
    "dashboard-1920x1080.png",
];

fn artifacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("browser-artifacts")
}

#[test]
fn dashboard_and_graphic_in_a_real_browser() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "the browser test needs chromium at {chromium}: run scripts/setup-browser (apt-get install chromium)"
    );
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "the browser test needs playwright-core in tests/browser/node_modules: run scripts/setup-browser (npm ci)"
    );
    let node_ok = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        node_ok,
        "the browser test needs node: run scripts/setup-browser"
    );
    // A file left by an earlier run must not pass for this run's.
    for name in ARTIFACTS {
        let _ = std::fs::remove_file(artifacts().join(name));
    }
    let mut child = Command::new("node")
        .arg(dir.join("dashboard.mjs"))
        .env("BURNBAR_BIN", env!("CARGO_BIN_EXE_burnbar"))
        .env("ARTIFACTS", artifacts())
        .env("CHROMIUM", &chromium)
        .spawn()
        .expect("start node");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for node") {
            break status;
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            panic!("the browser test did not finish within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        status.success(),
        "the browser test failed ({status}); see its output above"
    );
    for shot in ARTIFACTS {
        assert!(artifacts().join(shot).exists(), "{shot} was not saved");
    }
}
