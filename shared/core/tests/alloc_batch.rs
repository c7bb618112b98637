//! "No allocation per sample" (issue 2) for the pipelined replay's batches: a counting
//! allocator watches a warm batch filled with samples and applied, again and again. Its
//! own binary: the counter is process-wide, and `alloc.rs`'s test must not count these.

use std::sync::atomic::Ordering;

use burnbar_core::{Engine, EngineConfig, ModelParams};

use burnbar_testalloc::ALLOCS;

#[global_allocator]
static GLOBAL: burnbar_testalloc::Counting = burnbar_testalloc::Counting;

mod steady;

/// The pipelined replay's batches (`burnbar_core::batch`): once a batch has been filled
/// and applied, filling it again with sample lines allocates nothing; what the engine
/// allocates is per window, as above.
#[test]
fn a_warm_batch_decodes_and_applies_samples_without_allocating() {
    use burnbar_core::batch::DecodedBatch;
    let cars = 10u32;
    let lines: Vec<String> = steady::samples(cars, 3_000).collect();
    let mut engine = Engine::new(EngineConfig::default(), ModelParams::default());
    let mut out = Vec::with_capacity(64);
    let mut batch = DecodedBatch::new();
    let mut run = |batch: &mut DecodedBatch, engine: &mut Engine, chunk: &[String]| {
        for (i, l) in chunk.iter().enumerate() {
            batch.push_line(i as u64, l.as_bytes());
        }
        batch
            .apply(engine, &mut out, |_, res, out| {
                out.clear();
                res.map_err(|(r, _)| r)
            })
            .expect("every sample is accepted");
    };
    let (warm, rest) = lines.split_at(200 * cars as usize);
    run(&mut batch, &mut engine, warm);
    let windows_before = engine.counters().windows_closed;
    let before = ALLOCS.load(Ordering::Relaxed);
    for chunk in rest.chunks(warm.len()) {
        run(&mut batch, &mut engine, chunk);
    }
    let allocs = ALLOCS.load(Ordering::Relaxed) - before;
    let windows = engine.counters().windows_closed - windows_before;
    assert!(windows > 400, "{windows}");
    assert!(
        allocs <= 2 * windows,
        "{allocs} allocations for {} samples and {windows} windows",
        rest.len()
    );
    eprintln!(
        "{allocs} allocations for {} samples, {windows} windows",
        rest.len()
    );
}
