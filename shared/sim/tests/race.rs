//! The simulator seen from outside: the records it writes, the truth it keeps, and what
//! a race looks like. Races are short (few cars, few laps, low `hz`) to keep this fast.

mod common;

use burnbar_sim::{CAPACITY_GAL, MAX_DELAY_MS, SimConfig, SimError, Simulation, simulate};
use common::{Run, check_record, events, json_lines, merged_samples, mileage, run};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

/// A 100-lap Pocono race: stage breaks at laps 25 and 50, so unless a late caution comes
/// the last run (40 laps or more) is longer than a tank: a fuel-mileage finish.
fn mileage_race_cfg(seed: u64) -> SimConfig {
    SimConfig {
        track: "pocono".into(),
        laps: Some(100),
        cars: 8,
        hz: 2,
        seed,
        ..SimConfig::default()
    }
}

/// The first such race (from seed 3) whose last green flag flies by lap 62.
fn mileage_race() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        for seed in 3..20 {
            let r = run(&mileage_race_cfg(seed));
            let last_green = events(&r.out)
                .iter()
                .filter(|e| e["kind"] == "flag" && e["flag"] == "green")
                .filter_map(|e| e["lap"].as_i64())
                .next_back()
                .unwrap_or(0);
            if last_green <= 62 {
                return r;
            }
        }
        panic!("no race with a long last run");
    })
}

/// The text of `"key":` up to the next `,` or `}` in a raw line.
fn raw<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!("\"{key}\":");
    let start = line.find(&pat)? + pat.len();
    let rest = &line[start..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(&rest[..end])
}

fn decimals(s: &str) -> Option<usize> {
    let (int, frac) = s.split_once('.')?;
    (int.chars().all(|c| c.is_ascii_digit()) && frac.chars().all(|c| c.is_ascii_digit()))
        .then_some(frac.len())
}

#[test]
fn the_same_config_gives_the_same_bytes() {
    let cfg = SimConfig {
        track: "iowa".into(),
        laps: Some(12),
        cars: 6,
        hz: 5,
        seed: 11,
        faults: 0.3,
        ..SimConfig::default()
    };
    let (a, b) = (run(&cfg), run(&cfg));
    assert_eq!(a.out, b.out);
    assert_eq!(a.truth, b.truth);
    assert_eq!(a.summary, b.summary);
    let other = run(&SimConfig { seed: 12, ..cfg });
    assert_ne!(a.out, other.out, "another seed, another race");
}

#[test]
fn the_iterator_yields_what_simulate_writes() {
    let cfg = SimConfig {
        track: "martinsville".into(),
        laps: Some(6),
        cars: 5,
        hz: 3,
        seed: 2,
        faults: 0.2,
        ..SimConfig::default()
    };
    let mut out = Vec::new();
    let summary = simulate(&cfg, &mut out, None).unwrap();
    let mut sim = Simulation::new(&cfg).unwrap();
    let mut text = String::new();
    let mut last_ts = i64::MIN;
    for (ts, line) in sim.by_ref() {
        assert!(!line.contains('\n'));
        if !line.contains("\"kind\"") && check_record(&line).is_ok() {
            let v: Value = serde_json::from_str(&line).unwrap();
            assert_eq!(v["ts"].as_i64(), Some(ts));
        }
        last_ts = last_ts.max(ts);
        text.push_str(&line);
        text.push('\n');
    }
    assert_eq!(text, String::from_utf8(out).unwrap());
    assert!(sim.is_done());
    assert_eq!(sim.summary(), summary);
    assert_eq!(summary.end_ts, last_ts);
    assert_eq!(summary.records as usize, text.lines().count());
}

#[test]
fn faults_change_what_arrives_never_what_happened() {
    let base = SimConfig {
        track: "nashville".into(),
        laps: Some(12),
        cars: 6,
        hz: 5,
        seed: 7,
        ..SimConfig::default()
    };
    let clean = run(&base);
    let clean_samples = merged_samples(&clean.out);
    assert_eq!(clean_samples.len() as u64, clean.summary.samples);
    for faults in [0.3, 1.0] {
        let faulty = run(&SimConfig {
            faults,
            ..base.clone()
        });
        assert_eq!(faulty.truth, clean.truth, "the truth does not see faults");
        assert_eq!(merged_samples(&faulty.out), clean_samples);
        assert_eq!(events(&faulty.out), events(&clean.out));
        let f = faulty.summary.faults;
        assert!(
            f.duplicated > 0 && f.delayed > 0 && f.split > 0 && f.malformed > 0,
            "{f:?}"
        );
        let invalid = faulty
            .out
            .lines()
            .filter(|l| check_record(l).is_err())
            .count();
        assert_eq!(invalid as u64, f.malformed);
        assert!(faulty.summary.records > clean.summary.records);
        // Delayed by at most 3 s of event time, and never past a race-control event:
        // every sample older than an event still comes before it, every newer one after.
        let mut newest = i64::MIN;
        let mut last_event_ts = i64::MIN;
        for line in faulty.out.lines() {
            let Ok(v) = check_record(line) else { continue };
            let ts = v["ts"].as_i64().unwrap();
            if v.get("kind").is_some() {
                assert!(ts >= newest, "an event after a newer sample");
                last_event_ts = ts;
                continue;
            }
            assert!(
                ts >= last_event_ts,
                "a sample older than an event it followed"
            );
            assert!(
                ts >= newest.saturating_sub(MAX_DELAY_MS),
                "delayed more than 3 s: {line}"
            );
            newest = newest.max(ts);
        }
    }
}

#[test]
fn every_record_is_valid_telemetry_v1() {
    let r = mileage_race();
    let lines: Vec<&str> = r.out.lines().collect();
    let first: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(first["kind"], "race_start");
    assert!(
        first["race_id"]
            .as_str()
            .unwrap()
            .starts_with("sim-pocono-")
    );
    assert_eq!(first["track"], "pocono");
    assert_eq!(first["track_length_mi"], 2.5);
    assert_eq!(first["scheduled_laps"], 100);
    assert_eq!(first["fuel_capacity_gal"], 20);
    assert_eq!(first["ts"], 1_750_593_600_000i64);
    let cars: Vec<&str> = first["cars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(cars.len(), 8);
    let mut sorted = cars.clone();
    sorted.sort();
    assert_eq!(cars, sorted, "cars in byte order");
    let mut last_ts = 0;
    let mut no_gap_per_ts: BTreeMap<i64, usize> = BTreeMap::new();
    let mut car_order: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for line in &lines {
        let v = check_record(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let ts = v["ts"].as_i64().unwrap();
        assert!(ts >= last_ts, "records in event-time order");
        last_ts = ts;
        if v.get("kind").is_some() {
            continue;
        }
        for k in [
            "lap",
            "lap_frac",
            "speed_mph",
            "rpm",
            "throttle_pct",
            "brake_psi",
            "gear",
            "in_pit",
        ] {
            assert!(v.get(k).is_some(), "{k} missing: {line}");
        }
        assert!(
            v["lap"].is_u64() && v["rpm"].is_u64() && v["gear"].is_u64() && v["brake_psi"].is_u64()
        );
        assert_eq!(decimals(raw(line, "lap_frac").unwrap()), Some(4), "{line}");
        assert_eq!(decimals(raw(line, "speed_mph").unwrap()), Some(1), "{line}");
        assert_eq!(
            decimals(raw(line, "throttle_pct").unwrap()),
            Some(1),
            "{line}"
        );
        if let Some(g) = raw(line, "gap_ahead_s") {
            assert_eq!(decimals(g), Some(2), "{line}");
        } else {
            *no_gap_per_ts.entry(ts).or_default() += 1;
        }
        car_order
            .entry(ts)
            .or_default()
            .push(v["car"].as_str().unwrap().to_string());
    }
    assert!(
        no_gap_per_ts.values().all(|&n| n == 1),
        "only the leader has no gap"
    );
    assert!(no_gap_per_ts.len() as f64 > 0.95 * car_order.len() as f64);
    for (ts, order) in car_order {
        let mut s = order.clone();
        s.sort();
        assert_eq!(order, s, "samples of a tick in car order at {ts}");
    }
    let kinds: BTreeSet<String> = events(&r.out)
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    for k in ["race_start", "flag", "pit_in", "pit_out", "stage_end"] {
        assert!(kinds.contains(k), "no {k}");
    }
}

#[test]
fn the_race_reads_like_a_race() {
    let r = mileage_race();
    let evs = events(&r.out);
    let flags: Vec<(&str, i64)> = evs
        .iter()
        .filter(|e| e["kind"] == "flag")
        .map(|e| (e["flag"].as_str().unwrap(), e["lap"].as_i64().unwrap()))
        .collect();
    assert_eq!(flags[0], ("green", 0));
    assert_eq!(flags[flags.len() - 2], ("white", 99));
    assert_eq!(flags[flags.len() - 1], ("checkered", 100));
    let stages: Vec<i64> = evs
        .iter()
        .filter(|e| e["kind"] == "stage_end")
        .map(|e| e["lap"].as_i64().unwrap())
        .collect();
    assert_eq!(stages, vec![25, 50]);
    // Each stage end under green is followed by a yellow at the same instant.
    let mut flag = "green";
    for (i, e) in evs.iter().enumerate() {
        if e["kind"] == "flag" {
            flag = e["flag"].as_str().unwrap();
        }
        if e["kind"] == "stage_end" && flag == "green" {
            assert_eq!(evs[i + 1]["flag"], "yellow");
            assert_eq!(evs[i + 1]["ts"], e["ts"]);
        }
    }
    assert_eq!(r.summary.laps, 100);
    // Physics on track: pace laps slow and low-revving, green laps fast, braking in the
    // corners, the whole rpm band used.
    let samples = merged_samples(&r.out);
    let yellow_ts: Vec<(i64, i64)> = {
        let mut spans = Vec::new();
        let mut start = None;
        for e in &evs {
            match (e["kind"].as_str(), e["flag"].as_str()) {
                (Some("flag"), Some("yellow")) => start = e["ts"].as_i64(),
                (Some("flag"), Some(_)) => {
                    if let Some(s) = start.take() {
                        spans.push((s, e["ts"].as_i64().unwrap()));
                    }
                }
                _ => {}
            }
        }
        spans
    };
    let in_yellow = |ts: i64| yellow_ts.iter().any(|&(a, b)| ts >= a + 30_000 && ts < b);
    let (mut caution, mut green, mut braking, mut full) = (Vec::new(), Vec::new(), 0, 0);
    for ((_, ts), s) in &samples {
        if s["in_pit"] == true || s["speed_mph"].as_f64().unwrap() < 20.0 {
            continue;
        }
        let (speed, rpm) = (s["speed_mph"].as_f64().unwrap(), s["rpm"].as_f64().unwrap());
        if in_yellow(*ts) {
            caution.push((speed, rpm, s["throttle_pct"].as_f64().unwrap()));
        } else if yellow_ts.iter().all(|&(a, b)| *ts < a || *ts > b + 60_000) {
            green.push((speed, rpm));
            braking += usize::from(s["brake_psi"].as_f64().unwrap() > 300.0);
            full += usize::from(s["throttle_pct"].as_f64().unwrap() >= 99.0);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let c_speed = mean(&caution.iter().map(|c| c.0).collect::<Vec<_>>());
    let c_rpm = mean(&caution.iter().map(|c| c.1).collect::<Vec<_>>());
    let c_thr = mean(&caution.iter().map(|c| c.2).collect::<Vec<_>>());
    assert!((50.0..80.0).contains(&c_speed), "caution speed {c_speed}");
    assert!((3_000.0..5_500.0).contains(&c_rpm), "caution rpm {c_rpm}");
    assert!(c_thr < 25.0, "caution throttle {c_thr}");
    let g_speed = mean(&green.iter().map(|g| g.0).collect::<Vec<_>>());
    assert!((160.0..180.0).contains(&g_speed), "green speed {g_speed}");
    let mut rpms: Vec<f64> = green.iter().map(|g| g.1).collect();
    rpms.sort_by(f64::total_cmp);
    let (p05, p95) = (rpms[rpms.len() / 20], rpms[rpms.len() * 19 / 20]);
    assert!(
        p05 > 6_800.0 && p95 < 9_700.0 && p95 > 8_800.0,
        "rpm {p05}..{p95}"
    );
    let share = |n: usize| n as f64 / green.len() as f64;
    assert!(
        (0.03..0.2).contains(&share(braking)),
        "braking share {}",
        share(braking)
    );
    assert!(
        (0.1..0.6).contains(&share(full)),
        "full-throttle share {}",
        share(full)
    );
}

#[test]
fn the_truth_adds_up() {
    let r = mileage_race();
    let truth = json_lines(&r.truth);
    let (windows, stints): (Vec<&Value>, Vec<&Value>) =
        truth.iter().partition(|t| t.get("ts").is_some());
    assert!(!windows.is_empty() && !stints.is_empty());
    // Window lines first, by (ts, car); then stint lines by (car, stint_start).
    let first_stint = truth
        .iter()
        .position(|t| t.get("stint_start").is_some())
        .unwrap();
    assert!(
        truth[first_stint..]
            .iter()
            .all(|t| t.get("stint_start").is_some())
    );
    let wkeys: Vec<(i64, String)> = windows
        .iter()
        .map(|w| {
            (
                w["ts"].as_i64().unwrap(),
                w["car"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(wkeys.windows(2).all(|p| p[0] < p[1]));
    let skeys: Vec<(String, i64)> = stints
        .iter()
        .map(|s| {
            (
                s["car"].as_str().unwrap().to_string(),
                s["stint_start"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(skeys.windows(2).all(|p| p[0] < p[1]));
    for w in &windows {
        let rem = w["remaining_gal"].as_f64().unwrap();
        assert!((0.0..=CAPACITY_GAL).contains(&rem), "{w}");
        assert!(w["burned_gal"].as_f64().unwrap() >= 0.0);
        assert_eq!(w["ts"].as_i64().unwrap() % 5_000, 0);
    }
    // Burned per car: the windows and the stints agree.
    let mut by_window: BTreeMap<String, f64> = BTreeMap::new();
    for w in &windows {
        *by_window
            .entry(w["car"].as_str().unwrap().into())
            .or_default() += w["burned_gal"].as_f64().unwrap();
    }
    let mut by_stint: BTreeMap<String, f64> = BTreeMap::new();
    for s in &stints {
        *by_stint
            .entry(s["car"].as_str().unwrap().into())
            .or_default() += s["burned_gal"].as_f64().unwrap();
    }
    for (car, b) in &by_window {
        assert!(
            (b - by_stint[car]).abs() < 0.02,
            "{car}: {b} vs {}",
            by_stint[car]
        );
    }
    // Every fill ends a stint at its pit_out, with the weighed amount.
    let all = events(&r.out);
    let pit_outs: Vec<&Value> = all.iter().filter(|e| e["kind"] == "pit_out").collect();
    assert!(!pit_outs.is_empty());
    for p in pit_outs {
        let car = p["car"].as_str().unwrap();
        let ts = p["ts"].as_i64().unwrap();
        let s = stints
            .iter()
            .find(|s| s["car"] == car && s["stint_end"] == ts)
            .unwrap_or_else(|| panic!("no stint ends at {p}"));
        let (added, weighed) = (
            s["added_gal"].as_f64().unwrap(),
            p["fuel_added_gal"].as_f64().unwrap(),
        );
        assert!((added - weighed).abs() <= 0.005 + 1e-9, "{s} vs {p}");
        assert_eq!(s["full"], p["full"]);
        assert!(
            stints
                .iter()
                .any(|n| n["car"] == car && n["stint_start"] == ts),
            "next stint starts at the fill"
        );
    }
    // A car listed as run dry shows an empty cell in the truth.
    for car in &r.summary.ran_dry {
        assert!(
            windows
                .iter()
                .any(|w| w["car"] == car.as_str() && w["remaining_gal"].as_f64() < Some(0.01))
        );
    }
    // Away from pit road the cell only empties, window by window.
    let pit_windows: BTreeSet<(String, i64)> = merged_samples(&r.out)
        .iter()
        .filter(|(_, s)| s["in_pit"] == true)
        .map(|((car, ts), _)| (car.clone(), ts - ts % 5_000 + 5_000))
        .collect();
    let fills: BTreeSet<(String, i64)> = stints
        .iter()
        .map(|s| {
            (
                s["car"].as_str().unwrap().into(),
                s["stint_end"].as_i64().unwrap()
                    - s["stint_end"].as_i64().unwrap().rem_euclid(5_000)
                    + 5_000,
            )
        })
        .collect();
    let mut prev: BTreeMap<String, (i64, f64)> = BTreeMap::new();
    for w in &windows {
        let car: String = w["car"].as_str().unwrap().into();
        let (ts, rem) = (
            w["ts"].as_i64().unwrap(),
            w["remaining_gal"].as_f64().unwrap(),
        );
        if let Some(&(pts, prem)) = prev.get(&car)
            && pts == ts - 5_000
            && !fills.contains(&(car.clone(), ts))
            && !pit_windows.contains(&(car.clone(), ts))
        {
            let burned = w["burned_gal"].as_f64().unwrap();
            assert!((prem - burned - rem).abs() < 3e-4, "{w}: {prem} - {burned}");
        }
        prev.insert(car, (ts, rem));
    }
}

#[test]
fn a_long_last_run_is_a_fuel_mileage_finish() {
    let r = mileage_race();
    let truth = json_lines(&r.truth);
    let evs = events(&r.out);
    let last_green = evs
        .iter()
        .rfind(|e| e["kind"] == "flag" && e["flag"] == "green")
        .unwrap();
    let (restart_ts, restart_lap) = (
        last_green["ts"].as_i64().unwrap(),
        last_green["lap"].as_f64().unwrap(),
    );
    assert!(
        100.0 - restart_lap > 36.0,
        "last run {}",
        100.0 - restart_lap
    );
    let m = mileage(r, 5_000);
    let per_lap = m.length_mi / m.green_mpg();
    let mut short = Vec::new();
    for t in truth.iter().filter(|t| {
        t.get("ts").and_then(Value::as_i64) == Some(restart_ts - restart_ts % 5_000 + 5_000)
    }) {
        let car = t["car"].as_str().unwrap();
        let need = (100.0 - t["lap"].as_f64().unwrap()) * per_lap;
        if t["remaining_gal"].as_f64().unwrap() < need {
            short.push(car.to_string());
        }
    }
    assert!(!short.is_empty(), "nobody short on fuel");
    // Each short car stopped again under green, or saved its way home, or ran dry.
    for car in &short {
        let stopped = evs.iter().any(|e| {
            e["kind"] == "pit_out"
                && e["car"] == car.as_str()
                && e["ts"].as_i64().unwrap() > restart_ts
        });
        let dry = r.summary.ran_dry.contains(car);
        let finished = truth.iter().any(|t| {
            t["car"] == car.as_str()
                && t.get("lap")
                    .and_then(Value::as_f64)
                    .is_some_and(|l| l >= 100.0)
        });
        assert!(stopped || dry || finished, "{car}");
    }
    assert!(
        truth
            .iter()
            .filter_map(|t| t.get("remaining_gal"))
            .all(|x| x.as_f64().unwrap() >= 0.0)
    );
}

#[test]
fn green_and_caution_mileage_match_the_public_figures() {
    let cfg = |track: &str, laps: u32| SimConfig {
        track: track.into(),
        laps: Some(laps),
        cars: 8,
        hz: 1,
        seed: 9,
        ..SimConfig::default()
    };
    let pocono = mileage(&run(&cfg("pocono", 30)), 5_000);
    assert!(
        (4.0..=5.5).contains(&pocono.green_mpg()),
        "pocono green {:.2} mpg",
        pocono.green_mpg()
    );
    assert!(
        (10.0..=16.0).contains(&pocono.caution_mpg()),
        "pocono caution {:.2} mpg",
        pocono.caution_mpg()
    );
    assert!(
        (34.0..=40.0).contains(&pocono.laps_per_tank()),
        "pocono {:.1} laps",
        pocono.laps_per_tank()
    );
    let iowa = mileage(&run(&cfg("iowa", 40)), 5_000);
    assert!(
        (100.0..=120.0).contains(&iowa.laps_per_tank()),
        "iowa {:.1} laps",
        iowa.laps_per_tank()
    );
    assert!(
        (10.0..=16.0).contains(&iowa.caution_mpg()),
        "iowa caution {:.2} mpg",
        iowa.caution_mpg()
    );
    // Nashville's reported window (75–80 laps) likely includes some saving: a soft check.
    let nashville = mileage(&run(&cfg("nashville", 40)), 5_000);
    assert!(
        (68.0..=88.0).contains(&nashville.laps_per_tank()),
        "nashville {:.1} laps",
        nashville.laps_per_tank()
    );
}

#[test]
fn live_feeds_do_not_know_the_fill() {
    let cfg = SimConfig {
        track: "martinsville".into(),
        laps: Some(90),
        cars: 5,
        hz: 1,
        seed: 4,
        ..SimConfig::default()
    };
    let weighed = run(&cfg);
    let live = run(&SimConfig { live: true, ..cfg });
    let outs: Vec<&str> = live
        .out
        .lines()
        .filter(|l| l.contains("\"pit_out\""))
        .collect();
    assert!(!outs.is_empty());
    for l in &outs {
        assert!(
            l.contains(",\"fuel_added_gal\":null,\"full\":null,\"tires\":"),
            "{l}"
        );
    }
    // Otherwise the same race, byte for byte, the pit data too.
    let strip = |s: &str| -> Vec<String> {
        s.lines()
            .map(
                |l| match (l.find(",\"fuel_added_gal\""), l.find(",\"tires\"")) {
                    (Some(i), Some(j)) => format!("{}{}", &l[..i], &l[j..]),
                    _ => l.to_string(),
                },
            )
            .collect()
    };
    assert_eq!(strip(&weighed.out), strip(&live.out));
    assert_eq!(weighed.truth, live.truth);
}

#[test]
fn bad_configs_fail_before_writing() {
    let mut out = Vec::new();
    for cfg in [
        SimConfig {
            track: "monaco".into(),
            ..SimConfig::default()
        },
        SimConfig {
            cars: 0,
            ..SimConfig::default()
        },
        SimConfig {
            cars: 100,
            ..SimConfig::default()
        },
        SimConfig {
            hz: 0,
            ..SimConfig::default()
        },
        SimConfig {
            faults: -0.1,
            ..SimConfig::default()
        },
    ] {
        assert!(simulate(&cfg, &mut out, None).is_err());
        assert!(Simulation::new(&cfg).is_err());
    }
    assert!(out.is_empty());
    assert!(matches!(
        Simulation::new(&SimConfig {
            track: "monaco".into(),
            ..SimConfig::default()
        }),
        Err(SimError::UnknownTrack(_))
    ));
    // A road course is in the track table, but the simulator's laps are ovals.
    assert!(matches!(
        Simulation::new(&SimConfig {
            track: "sonoma".into(),
            ..SimConfig::default()
        }),
        Err(SimError::UnknownTrack(_))
    ));
}

#[test]
fn a_write_error_is_reported() {
    struct Broken;
    impl std::io::Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk full"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let cfg = SimConfig {
        laps: Some(2),
        cars: 2,
        hz: 1,
        ..SimConfig::default()
    };
    assert!(matches!(
        simulate(&cfg, &mut Broken, None),
        Err(SimError::Io(_))
    ));
}
