//! `burnbar feed` and `simulate --feed` as a user runs them: real races' files to
//! race-control NDJSON, and a simulated race through the feed and back.

use std::path::{Path, PathBuf};

mod common;

use common::{burnbar, stderr};

fn fixture(race: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/feed")
        .join(race)
}

fn kinds(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["kind"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[test]
fn feed_converts_a_real_race_whatever_the_order_of_its_files() {
    let dir = fixture("chicagoland-2026-5651");
    let f = |n: &str| dir.join(n).display().to_string();
    // The snapshot first on the command line: pit data and flag data are read first anyway.
    let a = burnbar(&[
        "feed",
        &f("live-feed.json"),
        &f("live-pit-data.json"),
        &f("live-flag-data.json"),
    ]);
    assert!(a.status.success(), "{}", stderr(&a));
    let b = burnbar(&[
        "feed",
        &f("live-flag-data.json"),
        &f("live-pit-data.json"),
        &f("live-feed.json"),
    ]);
    assert_eq!(a.stdout, b.stdout);
    let text = String::from_utf8(a.stdout.clone()).unwrap();
    let k = kinds(&text);
    assert_eq!(k[0], "race_start");
    assert_eq!(k.iter().filter(|k| *k == "car_out").count(), 2);
    assert_eq!(k.iter().filter(|k| *k == "stage_end").count(), 2);
    assert!(k.iter().filter(|k| *k == "pit_out").count() > 200);
    let err = stderr(&a);
    assert!(
        err.contains("1 snapshots") && err.contains("malformed: none"),
        "{err}"
    );
}

#[test]
fn a_malformed_file_is_counted_and_skipped() {
    let bad = common::tmp("feed", "bad.json");
    std::fs::write(&bad, "{\"race_id\": 12, \"vehicles\": ").unwrap();
    let good = fixture("darlington-2025-5575").join("live-feed.json");
    let o = burnbar(&[
        "feed",
        &bad.display().to_string(),
        &good.display().to_string(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("malformed: not_json 1"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains(&format!(
            "burnbar feed: {}: feed file skipped (not_json)",
            bad.display()
        )),
        "the skipped file is named: {}",
        stderr(&o)
    );
    assert!(kinds(&String::from_utf8(o.stdout).unwrap()).contains(&"car_out".to_owned()));
    let missing = burnbar(&["feed", "/nonexistent/live-feed.json"]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(burnbar(&["feed"]).status.code(), Some(2));
}

/// Every file skipped: exit 1 with one line saying so, nothing written, an earlier
/// output left as it was (as `replay` when every line is rejected).
#[test]
fn a_run_whose_every_file_is_skipped_fails() {
    let bad = common::tmp("feed", "all-bad.json");
    std::fs::write(&bad, "{\"race_id\": 12, \"vehicles\": ").unwrap();
    let bad_list = common::tmp("feed", "all-bad-list.json");
    std::fs::write(&bad_list, "[{\"vehicle_number\": ").unwrap();
    let out = common::tmp("feed", "all-bad-out.ndjson");
    std::fs::write(&out, b"earlier\n").unwrap();
    let (bad, bad_list) = (bad.display().to_string(), bad_list.display().to_string());
    let o = burnbar(&["feed", &bad, &bad_list]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let err = stderr(&o);
    let reasons: Vec<&str> = err.lines().filter(|l| l.starts_with("burnbar: ")).collect();
    assert_eq!(reasons.len(), 1, "{err}");
    assert!(
        reasons[0].contains("every one of the 2 feed files was skipped (not_json 2)"),
        "{err}"
    );
    let o = burnbar(&["feed", &bad, "--out", &out.display().to_string()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(std::fs::read(&out).unwrap(), b"earlier\n");
}

#[test]
fn a_simulated_race_goes_through_the_feed_and_back() {
    let dir = common::tmp("feed", "sim-feed");
    let _ = std::fs::remove_dir_all(&dir);
    let race = common::tmp("feed", "sim.ndjson");
    let o = burnbar(&[
        "simulate",
        "--track",
        "iowa",
        "--laps",
        "40",
        "--cars",
        "8",
        "--hz",
        "2",
        "--seed",
        "5",
        "--live",
        "--out",
        &race.display().to_string(),
        "--feed",
        &dir.display().to_string(),
        "--feed-every",
        "10",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    files.sort();
    assert!(files.len() > 50, "{}", files.len());
    assert!(files.iter().any(|f| f.ends_with("live-pit-data.json")));
    let mut args = vec!["feed"];
    args.extend(files.iter().map(String::as_str));
    let back = burnbar(&args);
    assert!(back.status.success(), "{}", stderr(&back));
    let converted = kinds(&String::from_utf8(back.stdout).unwrap());
    // The simulator's own race control, less what the feed cannot carry.
    let sim = std::fs::read_to_string(&race).unwrap();
    let own: Vec<String> = kinds(
        &sim.lines()
            .filter(|l| l.contains("\"kind\""))
            .filter(|l| !l.contains("\"incident\"") && !l.contains("\"white\""))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    let count = |v: &[String], k: &str| v.iter().filter(|x| *x == k).count();
    for k in [
        "race_start",
        "flag",
        "pit_in",
        "pit_out",
        "stage_end",
        "car_out",
    ] {
        assert_eq!(count(&converted, k), count(&own, k), "{k}");
    }
    // --feed-every without --feed is refused.
    assert_eq!(
        burnbar(&["simulate", "--feed-every", "5"]).status.code(),
        Some(2)
    );
}
