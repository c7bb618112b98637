//! The behaviour lock: `burnbar replay`'s exact output on a fixed set of simulated races
//! (clean, with faults, live, three tracks), compared by hash with the committed
//! `tests/fixtures/behaviour.txt`.
//!
//! A refactoring must leave every byte of every update as it was. A change that means to
//! alter the output (a contract change, a better estimate) updates the fixture on
//! purpose: run the test with `BURNBAR_BLESS=1`, and say in the commit why the bytes
//! moved.

use std::collections::BTreeMap;
use std::path::Path;

mod common;

use common::{burnbar, stderr, tmp};

/// The races: a name and the `simulate` arguments. Each is short enough for the suite
/// and long enough for green-flag stops, cautions and (with faults) every kind of damage.
const RACES: &[(&str, &[&str])] = &[
    (
        "pocono-clean",
        &[
            "--track", "pocono", "--laps", "50", "--cars", "8", "--hz", "4", "--seed", "21",
        ],
    ),
    (
        "michigan-faults",
        &[
            "--track", "michigan", "--laps", "60", "--cars", "8", "--hz", "4", "--seed", "22",
            "--faults", "0.05",
        ],
    ),
    (
        "daytona-live",
        &[
            "--track", "daytona", "--laps", "60", "--cars", "8", "--hz", "4", "--seed", "23",
            "--live",
        ],
    ),
    (
        "iowa-live-faults",
        &[
            "--track", "iowa", "--laps", "150", "--cars", "6", "--hz", "2", "--seed", "24",
            "--live", "--faults", "0.03",
        ],
    ),
];

/// FNV-1a, 64 bits: stable across builds and platforms (unlike `DefaultHasher`).
fn fnv(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/behaviour.txt")
}

#[test]
fn replay_output_is_byte_for_byte_what_it_was() {
    let mut got = BTreeMap::new();
    for (name, args) in RACES {
        let race = tmp("behaviour", &format!("{name}.ndjson"));
        let out = tmp("behaviour", &format!("{name}.out"));
        let mut sim = vec!["simulate"];
        sim.extend_from_slice(args);
        sim.extend(["--out", race.to_str().unwrap()]);
        let o = burnbar(&sim);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let o = burnbar(&[
            "replay",
            race.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let bytes = std::fs::read(&out).unwrap();
        assert!(bytes.len() > 10_000, "{name}: only {} bytes", bytes.len());
        got.insert(
            name.to_string(),
            format!(
                "{} {}",
                fnv(&bytes),
                bytes.split(|&b| b == b'\n').count() - 1
            ),
        );
    }
    let text: String = got.iter().map(|(n, h)| format!("{n} {h}\n")).collect();
    if std::env::var_os("BURNBAR_BLESS").is_some() {
        std::fs::write(fixture(), &text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(fixture()).expect("tests/fixtures/behaviour.txt");
    assert_eq!(
        text, want,
        "replay output changed (name, FNV-1a of the updates, lines); if the change is \
         meant, run with BURNBAR_BLESS=1 and say why in the commit"
    );
}
