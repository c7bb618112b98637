//! The `burnbar` command as a user runs it (`../shared/spec/cli.md`): help, exit codes,
//! one-line reasons, byte-identical output, the summary and `--rejected`.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use common::{burnbar, stderr};

fn tmp(name: &str) -> PathBuf {
    common::tmp("cli", name)
}

fn spec(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/spec/examples")
        .join(path)
        .display()
        .to_string()
}

#[test]
fn every_command_answers_help() {
    for args in [
        &["--help"][..],
        &["simulate", "--help"],
        &["replay", "--help"],
        &["calibrate", "--help"],
        &["demo", "--help"],
        &["train", "--help"],
        &["accuracy", "--help"],
    ] {
        let o = burnbar(args);
        assert!(o.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("Usage"),
            "{args:?}"
        );
    }
}

#[test]
fn bad_arguments_exit_2_with_one_line() {
    for args in [
        &["replay", "--window-ms", "abc"][..],
        &["replay", "--no-such-flag"],
        &["frobnicate"],
        &["replay", "--window-ms", "0"],
        &["simulate", "--track", "the-moon", "--laps", "1"],
        &["simulate", "--faults", "2"],
        &["replay", "--cant-make-it-pct", "60"],
        &["demo", "--cant-make-it-pct", "4"],
    ] {
        let o = burnbar(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("burnbar: "), "{err}");
    }
}

#[test]
fn an_unreadable_calibration_file_exits_2_and_a_missing_input_exits_1() {
    let o = burnbar(&[
        "replay",
        "--calibration",
        "/nonexistent/cal.json",
        &spec("samples.ndjson"),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("calibration"));

    let bad = tmp("bad-cal.json");
    std::fs::write(&bad, r#"{"hp670": 3}"#).unwrap();
    let o = burnbar(&[
        "replay",
        "--calibration",
        bad.to_str().unwrap(),
        &spec("samples.ndjson"),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(stderr(&o).trim_end().lines().count(), 1);

    let o = burnbar(&["replay", "/nonexistent/race.ndjson"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(stderr(&o).trim_end().lines().count(), 1);
}

#[test]
fn a_calibration_file_with_default_values_gives_the_default_output() {
    let cal = tmp("default-cal.json");
    std::fs::write(
        &cal,
        serde_json::to_string_pretty(&burnbar_core::ModelParams::default()).unwrap(),
    )
    .unwrap();
    let race = tmp("cal-race.ndjson");
    let o = burnbar(&[
        "simulate",
        "--laps",
        "3",
        "--cars",
        "4",
        "--seed",
        "5",
        "--out",
        race.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let plain = burnbar(&["replay", race.to_str().unwrap()]);
    let with = burnbar(&[
        "replay",
        "--calibration",
        cal.to_str().unwrap(),
        race.to_str().unwrap(),
    ]);
    assert!(plain.status.success() && with.status.success());
    assert!(!plain.stdout.is_empty());
    assert_eq!(plain.stdout, with.stdout);
}

#[test]
fn the_same_input_gives_the_same_bytes() {
    let a = burnbar(&[
        "simulate", "--laps", "3", "--cars", "5", "--seed", "11", "--faults", "0.05",
    ]);
    let b = burnbar(&[
        "simulate", "--laps", "3", "--cars", "5", "--seed", "11", "--faults", "0.05",
    ]);
    assert!(a.status.success(), "{}", stderr(&a));
    assert!(!a.stdout.is_empty());
    assert_eq!(a.stdout, b.stdout, "simulate is deterministic");

    let race = tmp("same.ndjson");
    std::fs::write(&race, &a.stdout).unwrap();
    let r1 = burnbar(&["replay", race.to_str().unwrap()]);
    let r2 = burnbar(&["replay", race.to_str().unwrap()]);
    assert!(r1.status.success(), "{}", stderr(&r1));
    assert!(!r1.stdout.is_empty());
    assert_eq!(r1.stdout, r2.stdout, "replay is deterministic");

    // Standard input reads the same as the file.
    let mut child = Command::new(env!("CARGO_BIN_EXE_burnbar"))
        .args(["replay", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&a.stdout).unwrap();
    let piped = child.wait_with_output().unwrap();
    assert_eq!(piped.stdout, r1.stdout);
}

#[test]
fn the_summary_names_every_counter_and_rejected_lines_are_kept_with_reasons() {
    let rejected = tmp("rejected.ndjson");
    let out = tmp("updates.ndjson");
    let o = burnbar(&[
        "replay",
        // Samples first: read after race control (53 minutes ahead of them) they would
        // be late by the silent-car rule. They go to race `unknown`, whose windows the
        // race_start then closes.
        &spec("samples.ndjson"),
        &spec("race-control.ndjson"),
        &spec("rejected.ndjson"),
        "--rejected",
        rejected.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    for key in [
        "records read",
        "samples",
        "events",
        "rejected            13",
        "duplicates",
        "merged",
        "late samples",
        "late events",
        "windows closed",
        "cars",
        "records per second",
    ] {
        assert!(err.contains(key), "summary lacks {key:?}:\n{err}");
    }
    assert!(err.contains("ts_in_future 1"), "{err}");
    let kept = std::fs::read_to_string(&rejected).unwrap();
    let kept: Vec<serde_json::Value> = kept
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(kept.len(), 13);
    assert_eq!(kept[0]["reason"], "unsupported_version");
    assert_eq!(kept[0]["field"], "v");
    assert_eq!(kept[9]["record"], "not json at all");
    assert_eq!(kept[12]["reason"], "ts_in_future");
    // The good samples went through despite the bad lines around them.
    let updates = std::fs::read_to_string(&out).unwrap();
    assert!(
        updates
            .lines()
            .any(|l| l.contains("\"car\":\"19\"") && l.contains("\"race_id\":\"unknown\"")),
        "{updates}"
    );
}

#[test]
fn an_output_that_is_also_an_input_is_refused_before_anything_is_written() {
    let race = tmp("self.ndjson");
    std::fs::copy(spec("samples.ndjson"), &race).unwrap();
    let before = std::fs::read(&race).unwrap();
    let o = burnbar(&[
        "replay",
        race.to_str().unwrap(),
        "--out",
        race.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(stderr(&o).trim_end().lines().count(), 1);
    assert_eq!(std::fs::read(&race).unwrap(), before, "the input is intact");
}

#[test]
fn a_line_too_long_to_be_a_record_is_rejected_and_the_next_goes_on() {
    let race = tmp("long.ndjson");
    let mut data = Vec::new();
    data.extend_from_slice(b"{\"v\":1,\"car\":\"1\",\"ts\":1750593700000,\"rpm\":8000,\"x\":\"");
    data.extend(std::iter::repeat_n(b'a', 3 << 20));
    data.extend_from_slice(b"\"}\n");
    data.extend_from_slice(b"{\"v\":1,\"car\":\"1\",\"ts\":1750593700100,\"rpm\":8000}\n");
    std::fs::write(&race, data).unwrap();
    let o = burnbar(&["replay", race.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("records read        2"), "{err}");
    assert!(
        err.contains("rejected            1 (invalid_json 1)"),
        "{err}"
    );
    assert!(err.contains("samples             1"), "{err}");
}

#[test]
fn no_command_is_a_one_line_reason() {
    let o = burnbar(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o).trim_end().lines().count(), 1, "{}", stderr(&o));
}
