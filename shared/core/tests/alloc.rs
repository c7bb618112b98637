//! "No allocation per sample on the hot path once a car is known" (issue 2): a counting
//! allocator watches a steady stream of samples after a warm-up. What may allocate is
//! per window (the published `FuelUpdate` and the field median), never per sample.

use std::sync::atomic::Ordering;

use burnbar_core::{Engine, EngineConfig, ModelParams};

use burnbar_testalloc::ALLOCS;

// The counter and its allocator: one home, `shared/testalloc`.
#[global_allocator]
static GLOBAL: burnbar_testalloc::Counting = burnbar_testalloc::Counting;

mod steady;

#[test]
fn steady_samples_allocate_only_per_window() {
    // 10 cars at 10 Hz, one lap per 50 s; lines are made up front so that only the
    // engine runs while counting.
    let cars = 10u32;
    let lines: Vec<String> = std::iter::once(
        r#"{"v":1,"kind":"race_start","ts":1750593600000,"race_id":"a","track":"pocono","scheduled_laps":100}"#
            .to_owned(),
    )
    .chain(steady::samples(cars, 6_000))
    .collect();
    let mut engine = Engine::new(EngineConfig::default(), ModelParams::default());
    let mut out = Vec::with_capacity(64);
    let warm = 200 * cars as usize; // 20 s: every car known, buffers at their size
    for l in &lines[..warm] {
        engine.push_line(l.as_bytes(), &mut out).unwrap();
        out.clear();
    }
    let windows_before = engine.counters().windows_closed;
    let before = ALLOCS.load(Ordering::Relaxed);
    for l in &lines[warm..] {
        engine.push_line(l.as_bytes(), &mut out).unwrap();
        out.clear();
    }
    let allocs = ALLOCS.load(Ordering::Relaxed) - before;
    let samples = (lines.len() - warm) as u64;
    let windows = engine.counters().windows_closed - windows_before;
    assert!(windows > 1000, "{windows}");
    // Each published window may allocate its race_id string and the field's figures.
    assert!(
        allocs <= 2 * windows,
        "{allocs} allocations for {samples} samples and {windows} windows"
    );
    eprintln!("{allocs} allocations for {samples} samples, {windows} windows");
}
