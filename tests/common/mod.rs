//! Helpers the end-to-end tests share: run the built `burnbar`, make scratch files.

use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs the `burnbar` binary of this build with `args`.
pub fn burnbar(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_burnbar"))
        .args(args)
        .output()
        .expect("run burnbar")
}

/// A path in the scratch folder of `suite`, under cargo's per-target scratch directory:
/// every run reuses the same names, so races simulated by the tests (hundreds of MB) are
/// overwritten by the next run instead of piling up in the system's temp folder.
pub fn tmp(suite: &str, name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("burnbar-{suite}"));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Standard error, as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
