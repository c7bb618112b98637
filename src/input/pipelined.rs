//! [`super::feed`] on more threads: a reading thread reads the inputs, a decoding thread
//! splits and decodes their lines in batches ([`burnbar_core::batch`]), and the calling
//! thread runs the engine on the batches before, in order.
//!
//! Why: decoding is about two thirds of a replay and the engine's window work the rest;
//! one after the other they add up, side by side a replay takes about the longer of the
//! two. What the caller sees is what the single-threaded feed gives, step for step: the
//! same lines with the same numbers and results, the same updates, the same counters,
//! an I/O error after every line read before it, and Ctrl-C after the line at hand.
//!
//! Bounded memory: at most [`CHUNKS`] read buffers and [`DEPTH`] decoded batches wait,
//! each batch at most [`BATCH_LINES`] lines; a thread waits while the queue after it is
//! full, and buffers and batches go back to be filled again (a warm batch allocates
//! nothing for a sample line). A batch is handed on before the decoding thread takes
//! the next buffer (so a slow stream, a pipe or a terminal, is not held back to fill
//! one), so the text it keeps (every line's, for the rejected file: the engine may
//! reject a line that decoded) is at most one buffer's lines and one line copied across
//! its end, each at most 1 MiB.

use std::io::{self, BufRead, Read};
use std::sync::mpsc;
use std::thread;

use burnbar_core::batch::{self, DecodedBatch, Filler};
use burnbar_core::{Engine, FuelUpdate};
use indicatif::ProgressBar;

use super::{Buffered, Input, Step, read_lines, too_long};
use crate::Failure;

/// Lines per batch: enough that handing a batch over (a few microseconds) is nothing
/// beside decoding it (about 0.2 ms), few enough that the engine starts early and a
/// waiting batch is small (72 bytes a line: 0.3 MB).
pub(super) const BATCH_LINES: usize = 4096;

/// Decoded batches that may wait for the engine. Two would keep the engine busy; four
/// absorb the reader's uneven pace (a read of 1 MiB, then its lines).
const DEPTH: usize = 4;

/// Chunks read that may wait for the decoding thread (1 MiB each with the default
/// read buffer).
const CHUNKS: usize = 2;

/// [`super::feed`] with the reading and decoding on other threads; `capacity` is the
/// read buffer, `batch_lines` the most lines a batch holds.
///
/// Three threads: one reads the inputs a buffer at a time, one splits and decodes the
/// lines, this one runs the engine. Why the read apart from decoding: the kernel's copy
/// of each read is about a tenth of the decoding thread's work, which is the critical
/// path, while the engine thread waits for it about 40 % of the time; the reading
/// thread's work fits into those waits.
pub(super) fn feed(
    inputs: Vec<Input>,
    capacity: usize,
    batch_lines: usize,
    engine: &mut Engine,
    progress: &ProgressBar,
    mut on_step: impl FnMut(&str, u64, Step<'_>, &mut Vec<FuelUpdate>) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let (names, readers): (Vec<String>, Vec<_>) = inputs.into_iter().unzip();
    let (chunk_tx, chunk_rx) = mpsc::sync_channel(CHUNKS);
    let (empty_tx, empty_rx) = mpsc::channel();
    let spawn_err = |e: io::Error| Failure::other(format!("cannot start a reading thread: {e}"));
    let reading = thread::Builder::new()
        .name("read".into())
        .spawn(move || read_chunks(readers, capacity, &chunk_tx, &empty_rx))
        .map_err(spawn_err)?;
    let (filler, applier) = batch::pipeline(DEPTH);
    let decoding = {
        let names = names.clone();
        thread::Builder::new()
            .name("decode".into())
            .spawn(move || decode_all(&names, &chunk_rx, &empty_tx, batch_lines.max(1), &filler))
            .map_err(spawn_err)?
    };
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

/// What the reading thread hands on: bytes of an input as read (a buffer and how much
/// of it holds them), the input's end, or its read error.
enum Chunk {
    Bytes(Vec<u8>, usize),
    End,
    Failed(io::Error),
}

/// The reading thread: each input read `capacity` bytes at a time (as `BufReader`
/// reads) into buffers the decoding thread hands back, in order. Stops after the first
/// read error, or when the decoding thread has gone.
fn read_chunks(
    inputs: Vec<Box<dyn Read + Send>>,
    capacity: usize,
    full: &mpsc::SyncSender<Chunk>,
    empty: &mpsc::Receiver<Vec<u8>>,
) {
    for mut input in inputs {
        loop {
            let mut buf = empty.try_recv().unwrap_or_else(|_| vec![0; capacity]);
            let chunk = match input.read(&mut buf) {
                Ok(0) => Chunk::End,
                Ok(n) => Chunk::Bytes(buf, n),
                Err(e) => Chunk::Failed(e),
            };
            let (more, failed) = match &chunk {
                Chunk::Bytes(..) => (true, false),
                Chunk::End => (false, false),
                Chunk::Failed(_) => (false, true),
            };
            if full.send(chunk).is_err() || failed {
                return;
            }
            if !more {
                break;
            }
        }
    }
}

/// One input's bytes as the reading thread hands them on, read in place.
struct Chunks<'a> {
    full: &'a mpsc::Receiver<Chunk>,
    empty: &'a mpsc::Sender<Vec<u8>>,
    buf: Vec<u8>,
    len: usize,
    pos: usize,
    ended: bool,
}

impl Read for Chunks<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let held = self.fill_buf()?;
        let n = held.len().min(out.len());
        out[..n].copy_from_slice(&held[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Chunks<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.len && !self.ended {
            let used = std::mem::take(&mut self.buf);
            if used.capacity() > 0 {
                // The reader gone, the buffer is simply dropped.
                let _ = self.empty.send(used);
            }
            (self.len, self.pos) = (0, 0);
            match self.full.recv() {
                Ok(Chunk::Bytes(buf, n)) => (self.buf, self.len) = (buf, n),
                Ok(Chunk::End) => self.ended = true,
                Ok(Chunk::Failed(e)) => return Err(e),
                Err(_) => return Err(io::Error::other("the reading thread stopped")),
            }
        }
        Ok(&self.buf[self.pos..self.len])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.len);
    }
}

impl Buffered for Chunks<'_> {
    fn holds_nothing(&self) -> bool {
        self.pos == self.len
    }
}

/// The decoding thread: every input's lines decoded into batches, in order. An error
/// ends it after the batches of every line before it were handed on.
fn decode_all(
    names: &[String],
    chunks: &mpsc::Receiver<Chunk>,
    empty: &mpsc::Sender<Vec<u8>>,
    batch_lines: usize,
    filler: &Filler,
) -> Result<(), Failure> {
    // The engine stopped (it failed, or Ctrl-C): its error is the one reported.
    let stopped = || Failure::other("the engine stopped");
    for (source, name) in names.iter().enumerate() {
        let batch = std::cell::RefCell::new(fresh(filler, source));
        let hand_on = || -> Result<(), Failure> {
            let mut b = batch.borrow_mut();
            if b.is_empty() {
                return Ok(());
            }
            let full = std::mem::replace(&mut *b, fresh(filler, source));
            filler.send(full).map_err(|_| stopped())
        };
        let input = Chunks {
            full: chunks,
            empty,
            buf: Vec::new(),
            len: 0,
            pos: 0,
            ended: false,
        };
        read_lines(
            name,
            input,
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
