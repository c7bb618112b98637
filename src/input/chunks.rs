//! Reading on a thread of its own: a reading thread reads each input a buffer at a time
//! and hands the buffers on in order; [`Chunks`] reads an input's lines out of them in
//! place, as a `BufReader` would.
//!
//! Why a thread even for the single-threaded feed: a read of a pipe or a terminal can
//! wait for its input indefinitely, and a thread blocked in `read` cannot look at
//! Ctrl-C. Reading elsewhere, the thread that runs the engine waits on a channel in
//! short slices instead, checks for Ctrl-C between them (so `replay` can print its
//! summary so far), and can tell when the input has caught up with its source (no
//! buffer waiting: [`Buffered::would_wait`]), which is when `replay` flushes its
//! standard output. The read buffers go back to the reading thread once read, so it
//! allocates only while the queue fills: at most [`CHUNKS`] + 2 buffers exist.

use std::io::{self, BufRead, Read};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use super::Buffered;
use crate::Failure;

/// Chunks read that may wait for the lines' reader (1 MiB each with the default read
/// buffer).
pub(super) const CHUNKS: usize = 2;

/// How long a wait for input lasts before Ctrl-C is looked at again.
const TICK: Duration = Duration::from_millis(50);

/// What the reading thread hands on: bytes of an input as read (a buffer and how much
/// of it holds them), the input's end, or its read error.
pub(super) enum Chunk {
    Bytes(Vec<u8>, usize),
    End,
    Failed(io::Error),
}

/// The two ends between the reading thread and the lines' reader.
pub(super) struct Reading {
    full: mpsc::Receiver<Chunk>,
    empty: mpsc::Sender<Vec<u8>>,
}

/// Starts the reading thread on `inputs` (in order), reading `capacity` bytes at a time.
/// It stops after the first read error, or once the returned ends are dropped; it is not
/// waited for (it may be waiting for input that never comes).
pub(super) fn spawn(
    inputs: Vec<Box<dyn Read + Send>>,
    capacity: usize,
) -> Result<(Reading, thread::JoinHandle<()>), Failure> {
    let (full_tx, full_rx) = mpsc::sync_channel(CHUNKS);
    let (empty_tx, empty_rx) = mpsc::channel();
    let handle = thread::Builder::new()
        .name("read".into())
        .spawn(move || read_chunks(inputs, capacity, &full_tx, &empty_rx))
        .map_err(|e| Failure::other(format!("cannot start a reading thread: {e}")))?;
    let ends = Reading {
        full: full_rx,
        empty: empty_tx,
    };
    Ok((ends, handle))
}

/// The reading thread: each input read `capacity` bytes at a time (as `BufReader`
/// reads) into buffers handed back, in order. Stops after the first read error, or when
/// the other end has gone.
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
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
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

/// One input's bytes as the reading thread hands them on, read in place. A wait for
/// the next buffer ends with an error once Ctrl-C has come.
pub(super) struct Chunks<'a> {
    ends: &'a Reading,
    buf: Vec<u8>,
    len: usize,
    pos: usize,
    ended: bool,
    /// The next chunk, taken early by [`Buffered::would_wait`].
    next: Option<Chunk>,
}

impl<'a> Chunks<'a> {
    /// The next input's bytes.
    pub(super) fn new(ends: &'a Reading) -> Chunks<'a> {
        Chunks {
            ends,
            buf: Vec::new(),
            len: 0,
            pos: 0,
            ended: false,
            next: None,
        }
    }

    /// The next chunk: waits in slices of [`TICK`], and fails once Ctrl-C has come.
    fn next_chunk(&mut self) -> io::Result<Chunk> {
        if let Some(c) = self.next.take() {
            return Ok(c);
        }
        loop {
            match self.ends.full.recv_timeout(TICK) {
                Ok(c) => return Ok(c),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if crate::interrupt::interrupted() {
                        return Err(io::Error::other("interrupted"));
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(io::Error::other("the reading thread stopped"));
                }
            }
        }
    }
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
                let _ = self.ends.empty.send(used);
            }
            (self.len, self.pos) = (0, 0);
            match self.next_chunk()? {
                Chunk::Bytes(buf, n) => (self.buf, self.len) = (buf, n),
                Chunk::End => self.ended = true,
                Chunk::Failed(e) => return Err(e),
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

    fn would_wait(&mut self) -> bool {
        if !self.holds_nothing() || self.ended || self.next.is_some() {
            return false;
        }
        match self.ends.full.try_recv() {
            Ok(c) => {
                self.next = Some(c);
                false
            }
            Err(mpsc::TryRecvError::Empty) => true,
            // The reading thread's end: the next read does not wait.
            Err(mpsc::TryRecvError::Disconnected) => false,
        }
    }
}
