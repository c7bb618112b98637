//! Runs one race and prints how fast it was written and what its truth says.
//!
//! `cargo run --release -p burnbar-sim --example sim_stats -- [track] [laps] [cars] [hz] [seed]`
//! (`SIM_OUT=dir` also writes `race.ndjson` and `truth.ndjson` there).

#[path = "../tests/common/mod.rs"]
mod common;

use burnbar_sim::{SimConfig, simulate};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).cloned();
    let cfg = SimConfig {
        track: arg(0).unwrap_or_else(|| "pocono".into()),
        laps: arg(1).and_then(|s| s.parse().ok()),
        cars: arg(2).and_then(|s| s.parse().ok()).unwrap_or(40),
        hz: arg(3).and_then(|s| s.parse().ok()).unwrap_or(10),
        seed: arg(4).and_then(|s| s.parse().ok()).unwrap_or(1),
        ..SimConfig::default()
    };
    // Throughput: straight to a sink, as `burnbar simulate --out` would to a file.
    let t0 = Instant::now();
    let s = simulate(&cfg, &mut std::io::sink(), None).expect("simulate");
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "{}: {} laps, {} samples, {} records, {} events in {:.2} s: {:.2} M samples/s",
        s.race_id,
        s.laps,
        s.samples,
        s.records,
        s.events,
        secs,
        s.samples as f64 / secs / 1e6
    );
    println!(
        "cautions {}, pit stops {}, ran dry {:?}, race time {:.0} min",
        s.cautions,
        s.pit_stops,
        s.ran_dry,
        (s.end_ts - burnbar_sim::START_TS) as f64 / 60_000.0
    );
    if let Ok(dir) = std::env::var("SIM_OUT") {
        // Keep the race and its truth for a look by hand.
        let mut out = std::fs::File::create(format!("{dir}/race.ndjson")).expect("create");
        let mut truth = std::fs::File::create(format!("{dir}/truth.ndjson")).expect("create");
        simulate(&cfg, &mut out, Some(&mut truth)).expect("simulate");
    }
    if s.samples > 2_000_000 {
        return;
    }
    let run = common::run(&cfg);
    let m = common::mileage(&run, cfg.window_ms);
    println!(
        "green {:.2} mpg ({:.3} gal/lap, {:.1} laps per tank), caution {:.2} mpg",
        m.green_mpg(),
        m.length_mi / m.green_mpg(),
        m.laps_per_tank(),
        m.caution_mpg()
    );
    for e in common::events(&run.out) {
        let k = e["kind"].as_str().unwrap();
        if k != "race_start" && k != "pit_in" {
            println!("{e}");
        }
    }
}
