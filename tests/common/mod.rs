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

/// A path in a scratch folder of this test process (`suite` keeps suites apart).
pub fn tmp(suite: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("burnbar-{suite}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Standard error, as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
