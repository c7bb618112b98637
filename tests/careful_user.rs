//! The command line as a careful user finds it (issue 19): one test per finding that
//! failed before. Files are safe (a refused, failed or interrupted run leaves earlier
//! files as they were; two outputs on one file, or an output on an input, are refused),
//! exits are honest (every line rejected is a failure; missing arguments are named; a
//! byte-order mark is read), numbers are range-checked, help states the ranges.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{burnbar, stderr};

fn tmp(name: &str) -> PathBuf {
    common::tmp("careful", name)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

const KEEP: &[u8] = b"an earlier file, to be kept\n";

/// A file with known contents, as an earlier run left it.
fn earlier(name: &str) -> PathBuf {
    earlier_at(tmp(name))
}

/// The same at `p`.
fn earlier_at(p: PathBuf) -> PathBuf {
    std::fs::write(&p, KEEP).unwrap();
    p
}

/// No temporary output (`.NAME.*.part`) is left in `dir`.
fn no_temporaries(dir: &Path) {
    let left: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".part"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

fn one_line(err: &str) {
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.starts_with("burnbar: "), "{err}");
}

/// Item 1: a refused command leaves the file it would have written as it was.
#[test]
fn a_refused_simulate_leaves_earlier_files_untouched() {
    for (flag, bad) in [
        ("--out", &["--laps", "0"][..]),
        ("--out", &["--track", "the-moon"]),
        ("--out", &["--hz", "0"]),
        ("--out", &["--cars", "0"]),
        ("--truth", &["--laps", "0"]),
        ("--truth", &["--track", "the-moon"]),
    ] {
        // A folder of its own: other tests' outputs are under way in the shared one.
        let keep = earlier_at(common::tmp("careful-refused", "keep.ndjson"));
        let mut args = vec!["simulate", flag, s(&keep)];
        args.extend_from_slice(bad);
        let o = burnbar(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        one_line(&stderr(&o));
        assert_eq!(std::fs::read(&keep).unwrap(), KEEP, "{args:?}");
    }
    no_temporaries(common::tmp("careful-refused", "x").parent().unwrap());
}

/// Item 1: a successful run replaces an earlier file whole, and leaves no temporary
/// file (a failed one leaves the earlier file: `input_with_every_line_rejected_fails`).
#[test]
fn outputs_are_replaced_only_by_a_run_that_succeeds() {
    let out = earlier_at(common::tmp("careful-replaced", "replaced.ndjson"));
    let race = tmp("small.ndjson");
    let o = burnbar(&["simulate", "--laps", "2", "--cars", "3", "--out", s(&race)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = burnbar(&["replay", s(&race), "--out", s(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let written = std::fs::read(&out).unwrap();
    assert_ne!(written, KEEP);
    assert!(written.starts_with(b"{\""), "the updates replaced the file");
    no_temporaries(out.parent().unwrap());
}

/// Item 2: two outputs naming one file, or an output naming an input, exit 2.
#[test]
fn two_outputs_on_one_file_are_refused() {
    let same = earlier("same.ndjson");
    let dot = format!("{}/./same.ndjson", same.parent().unwrap().display());
    let race = tmp("inputs.ndjson");
    std::fs::write(&race, b"not json\n{\"v\":1}\n").unwrap();
    let cal = tmp("cal-input.json");
    std::fs::write(
        &cal,
        serde_json::to_string(&burnbar_core::ModelParams::default()).unwrap(),
    )
    .unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec![
            "simulate",
            "--laps",
            "1",
            "--out",
            s(&same),
            "--truth",
            s(&same),
        ],
        vec![
            "simulate",
            "--laps",
            "1",
            "--out",
            s(&same),
            "--truth",
            &dot,
        ],
        vec![
            "replay",
            s(&race),
            "--out",
            s(&same),
            "--rejected",
            s(&same),
        ],
        vec!["replay", s(&race), "--out", s(&same), "--rejected", &dot],
        vec![
            "replay",
            s(&race),
            "--calibration",
            s(&cal),
            "--out",
            s(&cal),
        ],
        vec!["calibrate", s(&race), "--from", s(&cal), "--out", s(&cal)],
        vec![
            "train",
            s(&race),
            "--calibration",
            s(&cal),
            "--out",
            s(&cal),
        ],
        vec!["accuracy", "--json", s(&same), "--correction-out", s(&same)],
    ];
    for args in cases {
        let before_cal = std::fs::read(&cal).unwrap();
        let o = burnbar(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        one_line(&stderr(&o));
        assert_eq!(std::fs::read(&same).unwrap(), KEEP, "{args:?}");
        assert_eq!(std::fs::read(&cal).unwrap(), before_cal, "{args:?}");
    }
}

/// Item 3: Ctrl-C during a replay ends it with its summary so far, exit 130; the
/// earlier output stays as it was and no temporary file is left.
#[test]
fn an_interrupted_replay_stops_cleanly_with_its_summary() {
    let race = tmp("sigint-race.ndjson");
    let o = burnbar(&[
        "simulate",
        "--laps",
        "3",
        "--cars",
        "10",
        "--seed",
        "4",
        "--out",
        s(&race),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines = std::fs::read(&race).unwrap();
    let dir = tmp("sigint");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("updates.ndjson");
    let rejected = dir.join("rejected.ndjson");
    std::fs::write(&out, KEEP).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_burnbar"))
        .args(["replay", "-", "--out", s(&out), "--rejected", s(&rejected)])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A feed that never ends: the race again and again, until the replay stops.
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || while stdin.write_all(&lines).is_ok() {});
    // The temporary output is there: the replay is under way.
    let started = Instant::now();
    while !std::fs::read_dir(&dir)
        .unwrap()
        .any(|e| e.unwrap().file_name().to_string_lossy().ends_with(".part"))
    {
        assert!(started.elapsed() < Duration::from_secs(20), "no replay");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let o = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(err.contains("records read"), "the summary so far: {err}");
    assert!(err.contains("interrupted"), "{err}");
    assert_eq!(
        std::fs::read(&out).unwrap(),
        KEEP,
        "the earlier output is kept"
    );
    assert!(!rejected.exists(), "no rejected file was put in place");
    no_temporaries(&dir);
}

/// Item 4: training states the real rule, per engine package.
#[test]
fn train_and_accuracy_state_their_needs_per_engine_package() {
    // One track of each engine package and one training race each: one race a package.
    // (The default tracks hold two of each package, so `--train-races 1` alone is enough.)
    let o = burnbar(&[
        "accuracy",
        "--tracks",
        "pocono,talladega",
        "--train-races",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    one_line(&err);
    assert!(
        err.contains("2 training races per engine package") && err.contains("hp510 has 1"),
        "{err}"
    );

    let p = tmp("train-p.ndjson");
    let d = tmp("train-d.ndjson");
    for (track, out) in [("pocono", &p), ("daytona", &d)] {
        let o = burnbar(&[
            "simulate",
            "--track",
            track,
            "--laps",
            "60",
            "--cars",
            "10",
            "--out",
            s(out),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let o = burnbar(&[
        "train",
        s(&p),
        s(&d),
        "--out",
        s(&tmp("train-correction.json")),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    one_line(&err);
    assert!(
        err.contains("from at least 2 races")
            && err.contains("hp510 has")
            && err.contains("from 1 race"),
        "{err}"
    );
}

/// Item 5: missing required arguments are named.
#[test]
fn missing_arguments_are_named() {
    for (args, names) in [
        (&["calibrate", "p.ndjson"][..], &["--out"][..]),
        (&["train"], &["--out", "FILES"]),
        (&["replay", "f.ndjson", "--speed", "5"], &["--serve"]),
        (&["feed"], &["FILES"]),
    ] {
        let o = burnbar(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = stderr(&o);
        one_line(&err);
        for n in names {
            assert!(err.contains(n), "{args:?} should name {n}: {err}");
        }
    }
    let o = burnbar(&[]);
    let err = stderr(&o);
    for c in [
        "simulate",
        "replay",
        "calibrate",
        "demo",
        "train",
        "accuracy",
        "feed",
    ] {
        assert!(err.contains(c), "no command: {err}");
    }
}

/// Item 6: input whose every line is rejected exits 1 with one line, outputs untouched.
#[test]
fn input_with_every_line_rejected_fails() {
    let out = earlier("all-rejected-out.ndjson");
    let rej = earlier("all-rejected-rej.ndjson");
    let o = burnbar(&[
        "replay",
        env!("CARGO_BIN_EXE_burnbar"),
        "--out",
        s(&out),
        "--rejected",
        s(&rej),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("rejected"), "{err}");
    assert_eq!(
        err.lines().filter(|l| l.starts_with("burnbar: ")).count(),
        1,
        "{err}"
    );
    assert_eq!(std::fs::read(&out).unwrap(), KEEP);
    assert_eq!(std::fs::read(&rej).unwrap(), KEEP);
    // calibrate and train say the same.
    for cmd in ["calibrate", "train"] {
        let o = burnbar(&[cmd, env!("CARGO_BIN_EXE_burnbar"), "--out", s(&out)]);
        assert_eq!(o.status.code(), Some(1), "{cmd}: {}", stderr(&o));
        assert!(stderr(&o).contains("was rejected"), "{}", stderr(&o));
        assert_eq!(std::fs::read(&out).unwrap(), KEEP);
    }
}

/// Item 6: a UTF-8 byte-order mark costs nothing.
#[test]
fn a_byte_order_mark_is_accepted() {
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/spec/examples/samples.ndjson");
    let plain = std::fs::read(&spec).unwrap();
    let bom = tmp("bom.ndjson");
    let mut data = b"\xEF\xBB\xBF".to_vec();
    data.extend_from_slice(&plain);
    std::fs::write(&bom, data).unwrap();
    let a = burnbar(&["replay", s(&spec)]);
    let b = burnbar(&["replay", s(&bom)]);
    assert!(a.status.success() && b.status.success(), "{}", stderr(&b));
    assert_eq!(a.stdout, b.stdout);
    assert!(
        stderr(&b).contains("rejected            0"),
        "{}",
        stderr(&b)
    );
}

/// Item 6: reading standard input from a terminal says so (a pseudo-terminal from
/// `script`, whose input ends at once).
#[test]
fn reading_a_terminal_says_so() {
    if Command::new("script").arg("--version").output().is_err() {
        panic!("this test needs `script` (util-linux)");
    }
    let cmd = format!("{} replay", env!("CARGO_BIN_EXE_burnbar"));
    let o = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(all.contains("standard input (the terminal)"), "{all}");
}

/// Item 7: values no one could mean are refused with their range; negative numbers
/// are read as numbers.
#[test]
fn numbers_are_range_checked_with_the_range_in_the_message() {
    for (args, range) in [
        (&["replay", "--lateness-ms", "999999999999"][..], "600000"),
        (&["replay", "--window-ms", "-5"], "600000"),
        (&["simulate", "--laps", "-1"], "2000"),
        (
            &["simulate", "--seed", "-1"],
            "-1 is outside 0 to 18446744073709551615",
        ),
        (
            &["demo", "--seed", "-1"],
            "-1 is outside 0 to 18446744073709551615",
        ),
        (
            &["accuracy", "--seed", "-1"],
            "-1 is outside 0 to 1000000000000",
        ),
        (
            &["simulate", "--seed", "18446744073709551616"],
            "18446744073709551616 is outside 0 to 18446744073709551615",
        ),
        (
            &["simulate", "--hz", "1.5"],
            "\"1.5\" is not a whole number (1 to 100)",
        ),
        (
            &["simulate", "--laps", "abc"],
            "\"abc\" is not a whole number (1 to 2000)",
        ),
        (
            &["replay", "--window-ms", "abc", "x"],
            "\"abc\" is not a whole number (100 to 600000)",
        ),
        (&["demo", "--port", "65536"], "65536 is outside 0 to 65535"),
        (
            &["accuracy", "--jobs", "two"],
            "\"two\" is not a whole number (1 to 256)",
        ),
        (&["simulate", "--faults", "-0.5"], "0 to 1"),
        (&["simulate", "--cars", "100"], "99"),
        (&["demo", "--speed", "-2"], "1000"),
        (&["demo", "--silence", "999@10"], "no car 999"),
        (&["demo", "--silence", "24@-10"], "36000"),
        (&["accuracy", "--cars", "0"], "99"),
        (&["accuracy", "--jobs", "0"], "256"),
    ] {
        let o = burnbar(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        one_line(&err);
        assert!(err.contains(range), "{args:?}: {err}");
        assert!(!err.contains("unexpected argument"), "{args:?}: {err}");
    }
    // -0 is a number.
    let o = burnbar(&["simulate", "--laps", "1", "--cars", "1", "--faults", "-0"]);
    assert!(o.status.success(), "{}", stderr(&o));

    // A calibration file's numbers too.
    let mut cal = serde_json::to_value(burnbar_core::ModelParams::default()).unwrap();
    cal["hp670"]["wot_gph_per_krpm"] = serde_json::json!(1e300);
    let path = tmp("huge-cal.json");
    std::fs::write(&path, cal.to_string()).unwrap();
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/spec/examples/samples.ndjson");
    let o = burnbar(&["replay", "--calibration", s(&path), s(&spec)]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    one_line(&err);
    assert!(
        err.contains("hp670.wot_gph_per_krpm") && err.contains("at most 50"),
        "{err}"
    );
}

/// Item 10: the top-level help names every command; each command's help its ranges.
#[test]
fn help_lists_every_command_and_the_ranges() {
    let top = String::from_utf8(burnbar(&["--help"]).stdout).unwrap();
    // Its description once named two commands of seven.
    let about = top.lines().next().unwrap();
    assert!(
        about.starts_with("Real-time fuel analytics") && !about.contains("(simulate, replay)"),
        "{about}"
    );
    for c in [
        "simulate",
        "replay",
        "calibrate",
        "demo",
        "train",
        "accuracy",
        "feed",
    ] {
        assert!(top.contains(&format!("  {c}")), "--help lacks {c}:\n{top}");
    }
    for (cmd, ranges) in [
        (
            "simulate",
            &["1 to 2000", "1 to 99", "1 to 100", "0 to 1", "1 to 3600"][..],
        ),
        (
            "replay",
            &["100 to 600000", "0 to 600000", "5 to 50", "at most 1000"],
        ),
        (
            "demo",
            &["at most 1000", "5 to 50", "0 to 36000", "0 to 65535"],
        ),
        (
            "accuracy",
            &["1 to 100", "1 to 99", "1 to 2000", "1 to 256"],
        ),
    ] {
        let help = String::from_utf8(burnbar(&[cmd, "--help"]).stdout).unwrap();
        let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
        for r in ranges {
            assert!(flat.contains(r), "{cmd} --help lacks {r:?}:\n{help}");
        }
    }
}

/// A folder given as an input is refused before any output is opened, like a missing
/// file: exit 1, one line naming it, nothing on standard output, outputs as they were
/// (a replay once wrote the updates of the files before it, then failed on it).
#[test]
fn a_folder_given_as_input_is_refused_before_any_output() {
    let race = tmp("before-a-folder.ndjson");
    let o = burnbar(&["simulate", "--laps", "2", "--cars", "3", "--out", s(&race)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let dir = tmp("a-folder");
    std::fs::create_dir_all(&dir).unwrap();
    let out = earlier("folder-out.ndjson");
    let cases: Vec<Vec<&str>> = vec![
        vec!["replay", s(&race), s(&dir)],
        vec!["replay", s(&race), s(&dir), "--out", s(&out)],
        vec!["calibrate", s(&race), s(&dir), "--out", s(&out)],
        vec!["train", s(&race), s(&dir), "--out", s(&out)],
        vec!["feed", s(&dir), "--out", s(&out)],
        vec!["feed", s(&dir)],
    ];
    for args in cases {
        let o = burnbar(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        one_line(&err);
        assert!(err.contains(s(&dir)), "{args:?}: {err}");
        assert!(o.stdout.is_empty(), "{args:?} wrote to standard output");
        assert_eq!(std::fs::read(&out).unwrap(), KEEP, "{args:?}");
    }
}

/// docs/cli.md states the range of every number of a calibration file, as the model
/// checks it (it once left out the tyre, track and late-pour fields).
#[test]
fn the_guide_lists_every_calibration_range() {
    let guide =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/cli.md")).unwrap();
    let flat = guide.split_whitespace().collect::<Vec<_>>().join(" ");
    for (name, lo, hi, lo_open) in burnbar_core::model::PARAM_RANGES {
        let range = format!(
            "`{name}` {}{lo} to {hi}",
            if lo_open { "above " } else { "" }
        );
        assert!(flat.contains(&range), "docs/cli.md lacks {range:?}");
    }
}
