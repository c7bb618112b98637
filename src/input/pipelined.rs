//! [`super::feed`] on more threads: a reading thread reads the inputs, a decoding thread
//! splits and decodes their lines in batches ([`burnbar_core::batch`]), and the calling
//! thread runs the engine on the batches before, in order.
//!
//! Why: decoding is about two thirds of a replay and the engine's window work the rest;
//! one after the other they add up, side by side a replay takes about the longer of the
//! two. What the caller sees is what the single-threaded feed gives, step for step: the
//! same lines with the same numbers and results, the same updates, the same counters,
//! an I/O error after every line read before it, and Ctrl-C after the line at hand (or
//! within [`TICK`] while waiting for input).
//!
//! Bounded memory: at most [`chunks::CHUNKS`] read buffers and [`DEPTH`] decoded batches wait,
//! each batch at most [`BATCH_LINES`] lines; a thread waits while the queue after it is
//! full, and buffers and batches go back to be filled again (a warm batch allocates
//! nothing for a sample line). A batch is handed on before the decoding thread takes
//! the next buffer (so a slow stream, a pipe or a terminal, is not held back to fill
//! one), so the text it keeps (every line's, for the rejected file: the engine may
//! reject a line that decoded) is at most one buffer's lines and one line copied across
//! its end, each at most 1 MiB.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use burnbar_core::batch::{self, Filler, Next};
use burnbar_core::{Engine, FuelUpdate};
use indicatif::ProgressBar;

use super::chunks::{self, Chunks, Reading};
use super::{Input, Step, read_lines, too_long};
use crate::Failure;

/// Lines per batch: enough that handing a batch over (a few microseconds) is nothing
/// beside decoding it (about 0.2 ms), few enough that the engine starts early and a
/// waiting batch is small (72 bytes a line: 0.3 MB).
pub(super) const BATCH_LINES: usize = 4096;

/// Decoded batches that may wait for the engine. Two would keep the engine busy; four
/// absorb the reader's uneven pace (a read of 1 MiB, then its lines).
const DEPTH: usize = 4;

/// How long the engine's thread waits for a batch before it looks at Ctrl-C again.
const TICK: Duration = Duration::from_millis(50);

/// [`super::feed`] with the reading and decoding on other threads; `capacity` is the
/// read buffer, `batch_lines` the most lines a batch holds, `keep_text` whether a
/// rejected line's text is wanted (else it is given empty: see
/// [`DecodedBatch::keep_text`]).
///
/// `on_wait` runs when the input has caught up with its source (the decoding thread
/// found no more read when it handed a batch on) and this thread has applied every batch
/// before; a wait for a batch is cut into slices of [`TICK`], and Ctrl-C ends it. (Not
/// merely when no batch is waiting: on a file that is half the batches, as the decoding
/// thread is the slower.)
///
/// Three threads: one reads the inputs a buffer at a time, one splits and decodes the
/// lines, this one runs the engine. Why the read apart from decoding: the kernel's copy
/// of each read is about a tenth of the decoding thread's work, which is the critical
/// path, while the engine thread waits for it about 40 % of the time; the reading
/// thread's work fits into those waits.
#[allow(clippy::too_many_arguments)]
pub(super) fn feed(
    inputs: Vec<Input>,
    capacity: usize,
    batch_lines: usize,
    keep_text: bool,
    engine: &mut Engine,
    progress: &ProgressBar,
    mut on_step: impl FnMut(&str, u64, Step<'_>, &mut Vec<FuelUpdate>) -> Result<(), Failure>,
    mut on_wait: impl FnMut() -> Result<(), Failure>,
) -> Result<(), Failure> {
    let (names, readers): (Vec<String>, Vec<_>) = inputs.into_iter().unzip();
    let (ends, reading) = chunks::spawn(readers, capacity)?;
    let (filler, applier) = batch::pipeline(DEPTH);
    let input_waits = Arc::new(AtomicBool::new(false));
    let decoding = {
        let names = names.clone();
        let waits = Arc::clone(&input_waits);
        let batch_lines = batch_lines.max(1);
        thread::Builder::new()
            .name("decode".into())
            .spawn(move || decode_all(&names, &ends, batch_lines, keep_text, &filler, &waits))
            .map_err(|e: io::Error| {
                Failure::other(format!("cannot start a decoding thread: {e}"))
            })?
    };
    let mut updates: Vec<FuelUpdate> = Vec::new();
    'batches: loop {
        let mut batch = match applier.try_recv() {
            Next::Batch(b) => b,
            Next::Done => break,
            Next::Waiting => loop {
                // Checked again after each slice: the decoding thread may get to the
                // input's end of what it has only while this one waits.
                if input_waits.swap(false, Ordering::Relaxed) {
                    on_wait()?;
                }
                match applier.recv_timeout(TICK) {
                    Next::Batch(b) => break b,
                    Next::Done => break 'batches,
                    Next::Waiting if crate::interrupt::interrupted() => {
                        return Err(Failure::interrupted());
                    }
                    Next::Waiting => {}
                }
            },
        };
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
        // On an error the decoder's next hand-over fails and it stops, and then the
        // reader's; they are not waited for, as the reader may be waiting for input (a
        // terminal) that never comes.
        applied?;
        applier.recycle(batch);
    }
    // Every batch applied: the decoder has ended, with or without an I/O error.
    let res = match decoding.join() {
        Ok(res) => res,
        Err(panic) => std::panic::resume_unwind(panic),
    };
    if res.is_ok() {
        // Every input's end was read: the reader has ended too.
        if let Err(panic) = reading.join() {
            std::panic::resume_unwind(panic);
        }
    }
    res
}

/// The decoding thread: every input's lines decoded into batches, in order. An error
/// ends it after the batches of every line before it were handed on.
fn decode_all(
    names: &[String],
    ends: &Reading,
    batch_lines: usize,
    keep_text: bool,
    filler: &Filler,
    input_waits: &AtomicBool,
) -> Result<(), Failure> {
    // The engine stopped (it failed, or Ctrl-C): its error is the one reported.
    let stopped = || Failure::other("the engine stopped");
    for (source, name) in names.iter().enumerate() {
        let fresh = || {
            let mut b = filler.empty();
            b.source = source;
            b.keep_text(keep_text);
            b
        };
        let batch = std::cell::RefCell::new(fresh());
        let hand_on = || -> Result<(), Failure> {
            let mut b = batch.borrow_mut();
            if b.is_empty() {
                return Ok(());
            }
            let full = std::mem::replace(&mut *b, fresh());
            filler.send(full).map_err(|_| stopped())
        };
        read_lines(
            name,
            Chunks::new(ends),
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
            |waits| {
                // Set before the hand-over, so the engine's thread sees it once it has
                // the batch.
                if waits {
                    input_waits.store(true, Ordering::Relaxed);
                }
                hand_on()
            },
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
