//! `burnbar replay` on standard input and output, as a live feed uses it: updates reach
//! the reader while the input waits for its source, Ctrl-C or SIGTERM on a replay
//! waiting for input still prints the summary so far, and an interrupted replay to
//! standard output ends its stream on a whole line holding every update it closed.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

mod common;

use common::{burnbar, stderr};

/// A simulated race (3 laps, 10 cars), its lines.
fn race(name: &str) -> Vec<u8> {
    let path: PathBuf = common::tmp("replay-io", name);
    let o = burnbar(&[
        "simulate",
        "--laps",
        "3",
        "--cars",
        "10",
        "--seed",
        "4",
        "--out",
        path.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::read(&path).unwrap()
}

/// `burnbar replay -` with its three streams piped (on one core: `taskset -c 0`, the
/// single-threaded feed), and a thread that sends each line of its standard output as
/// it comes.
fn replay(one_core: bool) -> (Child, mpsc::Receiver<String>) {
    let bin = env!("CARGO_BIN_EXE_burnbar");
    let mut cmd = if one_core {
        let mut c = Command::new("taskset");
        c.args(["-c", "0", bin]);
        c
    } else {
        Command::new(bin)
    };
    let mut child = cmd
        .args(["replay", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).split(b'\n') {
            let Ok(line) = line else { return };
            if tx
                .send(String::from_utf8_lossy(&line).into_owned())
                .is_err()
            {
                return;
            }
        }
    });
    (child, rx)
}

fn signal(child: &Child, sig: &str) {
    let killed = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
}

/// The number after `label` in the summary.
fn summary_count(err: &str, label: &str) -> usize {
    let line = err
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no {label:?} in the summary: {err}"));
    line[label.len()..].trim().parse().unwrap()
}

/// Every line is a whole update, and there are as many as the summary's windows closed.
fn whole_updates(lines: &[String], err: &str) {
    for l in lines {
        let v: serde_json::Value =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("a cut line {l:?}: {e}"));
        assert!(v.get("window_end").is_some(), "{l}");
    }
    assert_eq!(
        lines.len(),
        summary_count(err, "windows closed"),
        "every update closed was written: {err}"
    );
}

/// Half a race written and the input left open: its updates come out while the replay
/// waits, and a signal then ends it with its summary so far.
fn waiting_replay_stops_on(sig: &str, code: i32, one_core: bool) {
    let data = race(&format!("waiting{code}{one_core}.ndjson"));
    let half = &data[..data.len() / 2];
    let half = &half[..=half.iter().rposition(|&b| b == b'\n').unwrap()];
    let (mut child, lines) = replay(one_core);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(half).unwrap();
    stdin.flush().unwrap();
    // Updates reach the reader while the input is waiting: not held in a buffer.
    let first = lines.recv_timeout(Duration::from_secs(10));
    let flushed = first.is_ok();
    let mut got: Vec<String> = first.into_iter().collect();
    std::thread::sleep(Duration::from_millis(500));
    signal(&child, sig);
    // The input stays open until the replay has ended.
    let status = child.wait().unwrap();
    drop(stdin);
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    got.extend(lines.iter());
    assert_eq!(status.code(), Some(code), "{err}");
    assert!(err.contains("records read"), "the summary so far: {err}");
    assert_eq!(
        summary_count(&err, "records read"),
        half.split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count(),
        "every line written was read: {err}"
    );
    whole_updates(&got, &err);
    assert!(flushed, "no update within 10 s of half a race written");
}

#[test]
fn ctrl_c_on_a_replay_waiting_for_input_prints_its_summary() {
    waiting_replay_stops_on("-INT", 130, false);
}

#[test]
fn sigterm_on_a_replay_waiting_for_input_prints_its_summary() {
    waiting_replay_stops_on("-TERM", 143, false);
}

#[test]
fn on_one_core_too() {
    waiting_replay_stops_on("-INT", 130, true);
    flowing_replay_stops_on_a_whole_line(true);
}

/// Ctrl-C while lines keep coming: standard output ends on a whole line and holds every
/// update closed before the stop.
#[test]
fn an_interrupted_replay_to_standard_output_ends_on_a_whole_line() {
    flowing_replay_stops_on_a_whole_line(false);
}

fn flowing_replay_stops_on_a_whole_line(one_core: bool) {
    let data = race(&format!("flowing{one_core}.ndjson"));
    let (mut child, lines) = replay(one_core);
    let mut stdin = child.stdin.take().unwrap();
    // A feed that never ends: the race, then its samples again (duplicates) until the
    // replay stops.
    let feeder = std::thread::spawn(move || while stdin.write_all(&data).is_ok() {});
    let mut got: Vec<String> = Vec::new();
    std::thread::sleep(Duration::from_millis(1500));
    signal(&child, "-INT");
    let status = child.wait().unwrap();
    feeder.join().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    got.extend(lines.iter());
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    whole_updates(&got, &err);
}
