//! The race both replay benches read, so that their figures compare.

use burnbar_sim::SimConfig;

/// A simulated Pocono race of `laps` laps, 40 cars at 10 Hz, seed 7, as NDJSON.
pub fn race(laps: u32) -> Vec<u8> {
    let cfg = SimConfig {
        track: "pocono".into(),
        laps: Some(laps),
        cars: 40,
        hz: 10,
        seed: 7,
        ..SimConfig::default()
    };
    let mut out = Vec::new();
    burnbar_sim::simulate(&cfg, &mut out, None).expect("simulate");
    out
}

/// The non-empty lines of `data`.
pub fn lines(data: &[u8]) -> Vec<&[u8]> {
    data.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect()
}
