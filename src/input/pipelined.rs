//! [`super::feed`] on two threads: a reading thread reads the inputs and decodes their
//! lines in batches ([`burnbar_core::batch`]) while the calling thread runs the engine
//! on the batches before, in order.
//!
//! Why: decoding is about two thirds of a replay and the engine's window work the rest;
//! one after the other they add up, side by side a replay takes about the longer of the
//! two. What the caller sees is what the single-threaded feed gives, step for step: the
//! same lines with the same numbers and results, the same updates, the same counters,
//! an I/O error after every line read before it, and Ctrl-C after the line at hand.
//!
//! Bounded memory: at most [`DEPTH`] decoded batches wait, each at most
//! [`BATCH_LINES`] lines; the reading thread waits while the queue is full, and the
//! batches go back to it to be filled again (a warm batch allocates nothing for a
//! sample line). A batch is handed on before every read of the input (so a slow stream,
//! a pipe or a terminal, is not held back to fill one), so the text it keeps (the
//! rejected lines', for the rejected file) is at most one read buffer's lines and one
//! line copied across its end, each at most 1 MiB.

use std::thread;

use burnbar_core::batch::{self, DecodedBatch, Filler};
use burnbar_core::{Engine, FuelUpdate};
use indicatif::ProgressBar;

use super::{Input, Step, read_lines, too_long};
use crate::Failure;

/// Lines per batch: enough that handing a batch over (a few microseconds) is nothing
/// beside decoding it (about 0.2 ms), few enough that the engine starts early and a
/// waiting batch is small (72 bytes a line: 0.3 MB).
pub(super) const BATCH_LINES: usize = 4096;

/// Decoded batches that may wait for the engine. Two would keep the engine busy; four
/// absorb the reader's uneven pace (a read of 1 MiB, then its lines).
const DEPTH: usize = 4;

/// [`super::feed`] with the reading and decoding on a second thread; `capacity` is the
/// read buffer, `batch_lines` the most lines a batch holds.
pub(super) fn feed(
    inputs: Vec<Input>,
    capacity: usize,
    batch_lines: usize,
    engine: &mut Engine,
    progress: &ProgressBar,
    mut on_step: impl FnMut(&str, u64, Step<'_>, &mut Vec<FuelUpdate>) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let names: Vec<String> = inputs.iter().map(|(n, _)| n.clone()).collect();
    let (filler, applier) = batch::pipeline(DEPTH);
    let reader = thread::Builder::new()
        .name("reader".into())
        .spawn(move || read_all(inputs, capacity, batch_lines.max(1), &filler))
        .map_err(|e| Failure::other(format!("cannot start the reading thread: {e}")))?;
    let mut updates: Vec<FuelUpdate> = Vec::new();
    while let Some(mut batch) = applier.recv() {
        let name = &names[batch.source];
        let applied = batch.apply(engine, &mut updates, |line_no, res, updates| {
            on_step(name, line_no, res, updates)?;
            updates.clear();
            if line_no.is_multiple_of(1 << 16) {
                progress.set_message(format!("{name}: {line_no} lines"));
            }
            if crate::interrupt::interrupted() {
                return Err(Failure::interrupted());
            }
            Ok(())
        });
        // On an error the reader's next hand-over fails and it stops; it is not waited
        // for, as it may be waiting for input (a terminal) that never comes.
        applied?;
        applier.recycle(batch);
    }
    // Every batch applied: the reader has ended, with or without an I/O error.
    match reader.join() {
        Ok(res) => res,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// The reading thread: every input's lines decoded into batches, in order. An error
/// ends it after the batches of every line before it were handed on.
fn read_all(
    inputs: Vec<Input>,
    capacity: usize,
    batch_lines: usize,
    filler: &Filler,
) -> Result<(), Failure> {
    // The engine stopped (it failed, or Ctrl-C): its error is the one reported.
    let stopped = || Failure::other("the engine stopped");
    for (source, (name, input)) in inputs.into_iter().enumerate() {
        let batch = std::cell::RefCell::new(fresh(filler, source));
        let hand_on = || -> Result<(), Failure> {
            let mut b = batch.borrow_mut();
            if b.is_empty() {
                return Ok(());
            }
            let full = std::mem::replace(&mut *b, fresh(filler, source));
            filler.send(full).map_err(|_| stopped())
        };
        read_lines(
            &name,
            input,
            capacity,
            |line_no, text, is_too_long| {
                let full = {
                    let mut b = batch.borrow_mut();
                    if is_too_long {
                        b.push_rejected(line_no, text, too_long());
                    } else {
                        b.push_line(line_no, text);
                    }
                    b.len() >= batch_lines
                };
                if full { hand_on() } else { Ok(()) }
            },
            hand_on,
        )?;
    }
    Ok(())
}

/// An empty batch for lines of input `source`.
fn fresh(filler: &Filler, source: usize) -> DecodedBatch {
    let mut b = filler.empty();
    b.source = source;
    b
}

#[cfg(test)]
mod tests;
