//! Decoding on one thread, the engine on another: lines decoded in batches that own
//! what their records borrow, handed over in order through a bounded queue, and the
//! emptied batches handed back to be filled again.
//!
//! Why: decoding a line ([`decode_line`]) is pure and about two thirds of a replay's
//! work; the engine's window work is the rest and needs the engine's state. On two
//! cores the two can overlap, so a replay runs at about the slower of the two instead of
//! their sum. Everything the engine sees stays the same and in the same order:
//! [`Engine::push_decoded`] of a batch's records is exactly [`Engine::push_line`] of the
//! lines they came from.
//!
//! A [`Record`] borrows from its line (a sample's `race_id`), so a batch cannot keep
//! records once the read buffer moves on. It keeps an owned form instead: a sample's
//! `race_id` is copied into one string per batch (once per run of lines of the same
//! race, so a batch of one race stores it once), events are owned already, and every
//! line's text is copied into one buffer per batch, each line keeping its range in it.
//! The text is for the `--rejected` file: a line can be rejected by the engine after it
//! decoded (a sample's `ts_in_future`, a car past the race's limit, an event too long
//! after its race's start), which only the engine's state can tell, so a batch cannot
//! know which lines it will need, and keeps them all. That copy is a cost of its own
//! (docs/benchmarks.md), paid only by a caller that wants the text: a batch told not to
//! keep it ([`DecodedBatch::keep_text`]; a replay without `--rejected`, `calibrate`)
//! gives every line's text as empty. The buffers are cleared, not freed, between uses:
//! a batch that has been round once allocates nothing for a sample line.

use std::sync::mpsc;
use std::time::Duration;

use crate::contract::{CarId, Channels, Event, Record, Reject, Sample};
use crate::decode::decode_line;
use crate::engine::Engine;
use crate::update::FuelUpdate;

use std::borrow::Cow;

/// Decoded lines, each with the caller's tag (a line number), in the order pushed.
#[derive(Debug, Default)]
pub struct DecodedBatch {
    /// Which input the lines came from (the caller's number; a batch is one input's).
    pub source: usize,
    lines: Vec<Slot>,
    /// The race ids of the batch's samples, one after the other.
    race_ids: String,
    /// Where the last race id stored lies in `race_ids`.
    last_race: Option<(u32, u32)>,
    /// The text of the lines, one after the other (none when `skip_text`).
    text: Vec<u8>,
    /// Whether the lines' text is left out ([`DecodedBatch::keep_text`]).
    skip_text: bool,
}

#[derive(Debug)]
struct Slot {
    tag: u64,
    /// The line's range in `text`.
    text: (u32, u32),
    what: What,
}

/// A line as decoded, owning what the [`Record`] borrowed.
#[derive(Debug)]
enum What {
    Sample {
        /// Its range in `race_ids`.
        race_id: Option<(u32, u32)>,
        car: CarId,
        ts: i64,
        ch: Channels,
    },
    /// Boxed: events are rare, and a slot stays the size of a sample.
    Event(Box<Event>),
    Rejected(Box<Reject>),
}

/// One line of a batch given back in order: its tag, what it decoded to (for
/// [`Engine::push_decoded`]), and its text (for a rejection, the decoder's or the
/// engine's; empty when the batch keeps no text).
#[derive(Debug)]
pub struct DecodedLine<'a> {
    pub tag: u64,
    pub record: Result<Record<'a>, Reject>,
    pub text: &'a [u8],
}

impl DecodedBatch {
    pub fn new() -> DecodedBatch {
        DecodedBatch::default()
    }

    /// Whether the lines' text is kept (it is unless told otherwise): a caller that never
    /// looks at a rejected line's text saves the copy of every line. Lasts across
    /// [`DecodedBatch::clear`].
    pub fn keep_text(&mut self, keep: bool) {
        self.skip_text = !keep;
    }

    /// Lines held.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Empties the batch, keeping its buffers.
    pub fn clear(&mut self) {
        self.lines.clear();
        self.race_ids.clear();
        self.last_race = None;
        self.text.clear();
    }

    /// Decodes `line` ([`decode_line`]) and keeps what it decoded to, under `tag`.
    pub fn push_line(&mut self, tag: u64, line: &[u8]) {
        let what = match decode_line(line) {
            Ok(Record::Sample(s)) => What::Sample {
                race_id: s.race_id.map(|id| self.store_race_id(&id)),
                car: s.car,
                ts: s.ts,
                ch: s.ch,
            },
            Ok(Record::Event(e)) => What::Event(Box::new(e)),
            Err(reject) => What::Rejected(Box::new(reject)),
        };
        let text = self.store_text(line);
        self.lines.push(Slot { tag, text, what });
    }

    /// Keeps a line already rejected without decoding (one too long to hold, say: the
    /// engine counts its [`crate::engine::unread`] rejection as any other), with its text.
    pub fn push_rejected(&mut self, tag: u64, text: &[u8], reject: Reject) {
        let text = self.store_text(text);
        self.lines.push(Slot {
            tag,
            text,
            what: What::Rejected(Box::new(reject)),
        });
    }

    /// `line` copied to the end of `text`, and its range there.
    fn store_text(&mut self, line: &[u8]) -> (u32, u32) {
        if self.skip_text {
            return (0, 0);
        }
        // A batch's lines are read from one buffer of at most 1 MiB and one line across
        // its end, also at most 1 MiB: far from 4 GiB (a caller pushing 4 GiB of lines
        // into one batch is a bug, and stops here).
        let at = |n: usize| u32::try_from(n).expect("a batch's text is under 4 GiB");
        let start = at(self.text.len());
        self.text.extend_from_slice(line);
        (start, at(self.text.len()))
    }

    /// `id`'s range in `race_ids`: the last one stored when it is the same.
    fn store_race_id(&mut self, id: &str) -> (u32, u32) {
        if let Some((a, b)) = self.last_race
            && &self.race_ids[a as usize..b as usize] == id
        {
            return (a, b);
        }
        // A race id is at most 64 characters (256 bytes): 4 GiB of them is 16 million
        // lines of distinct races in one batch, far past any batch's size.
        let at = |n: usize| u32::try_from(n).expect("a batch's race ids are under 4 GiB");
        let start = at(self.race_ids.len());
        self.race_ids.push_str(id);
        let range = (start, at(self.race_ids.len()));
        self.last_race = Some(range);
        range
    }

    /// Takes the lines out in order, each as [`Engine::push_decoded`] takes it. Once the
    /// iterator is dropped the batch holds no lines; the text they borrowed stays until
    /// [`DecodedBatch::clear`] (which [`DecodedBatch::apply`] and [`Applier::recycle`]
    /// call).
    pub fn drain(&mut self) -> impl Iterator<Item = DecodedLine<'_>> {
        let DecodedBatch {
            lines,
            race_ids,
            last_race,
            text,
            ..
        } = self;

        *last_race = None;
        let (race_ids, text) = (&*race_ids, &*text);
        lines.drain(..).map(move |slot| {
            let record = match slot.what {
                What::Sample {
                    race_id,
                    car,
                    ts,
                    ch,
                } => {
                    let race_id =
                        race_id.map(|(a, b)| Cow::Borrowed(&race_ids[a as usize..b as usize]));
                    let s = Sample {
                        race_id,
                        car,
                        ts,
                        ch,
                    };
                    Ok(Record::Sample(s))
                }
                What::Event(e) => Ok(Record::Event(*e)),
                What::Rejected(reject) => Err(*reject),
            };
            let (a, b) = slot.text;
            DecodedLine {
                tag: slot.tag,
                record,
                text: &text[a as usize..b as usize],
            }
        })
    }

    /// Runs every line through `engine` in order, as [`Engine::push_line`] would, and
    /// calls `step` after each with the line, its result and the updates it closed
    /// (which `step` should clear). Stops at `step`'s first error. Leaves the batch empty.
    pub fn apply<E>(
        &mut self,
        engine: &mut Engine,
        updates: &mut Vec<FuelUpdate>,
        mut step: impl FnMut(u64, Result<(), (Reject, &[u8])>, &mut Vec<FuelUpdate>) -> Result<(), E>,
    ) -> Result<(), E> {
        let res = self.drain().try_for_each(|l| {
            let res = engine
                .push_decoded(l.record, updates)
                .map_err(|r| (r, l.text));
            step(l.tag, res, updates)
        });
        self.clear();
        res
    }
}

/// The two ends of a decoding pipeline ([`pipeline`]).
///
/// The filling side takes an empty batch ([`Filler::empty`]: one handed back, or a new
/// one while none is), fills it and sends it; the applying side receives batches in the
/// order sent and hands each back once applied. At most `depth` filled batches wait,
/// so memory stays bounded whatever the input's size: a sender blocks while the queue
/// is full.
#[derive(Debug)]
pub struct Filler {
    full: mpsc::SyncSender<DecodedBatch>,
    empty: mpsc::Receiver<DecodedBatch>,
}

/// The applying end of a pipeline ([`pipeline`]).
#[derive(Debug)]
pub struct Applier {
    full: mpsc::Receiver<DecodedBatch>,
    empty: mpsc::Sender<DecodedBatch>,
}

/// A pipeline whose queue holds at most `depth` filled batches (at least one).
pub fn pipeline(depth: usize) -> (Filler, Applier) {
    let (full_tx, full_rx) = mpsc::sync_channel(depth.max(1));
    let (empty_tx, empty_rx) = mpsc::channel();
    (
        Filler {
            full: full_tx,
            empty: empty_rx,
        },
        Applier {
            full: full_rx,
            empty: empty_tx,
        },
    )
}

/// What [`Applier::try_recv`] and [`Applier::recv_timeout`] found.
#[derive(Debug)]
pub enum Next {
    Batch(DecodedBatch),
    /// None yet: the filler is still at work (or waiting for its input).
    Waiting,
    /// The filler is gone and every batch it sent was received.
    Done,
}

/// The applying side has gone (it stopped early): nothing more is worth decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

impl Filler {
    /// An empty batch to fill: one handed back when there is one, else a new one (so at
    /// most `depth` + 2 batches ever exist).
    pub fn empty(&self) -> DecodedBatch {
        self.empty.try_recv().unwrap_or_default()
    }

    /// Sends a filled batch; waits while `depth` are waiting already.
    pub fn send(&self, batch: DecodedBatch) -> Result<(), Closed> {
        self.full.send(batch).map_err(|_| Closed)
    }
}

impl Applier {
    /// The next batch in order; `None` once the filler is gone and every batch it sent
    /// was received.
    pub fn recv(&self) -> Option<DecodedBatch> {
        self.full.recv().ok()
    }

    /// The next batch if one is waiting ([`Next::Waiting`] if not yet), without waiting.
    pub fn try_recv(&self) -> Next {
        match self.full.try_recv() {
            Ok(b) => Next::Batch(b),
            Err(mpsc::TryRecvError::Empty) => Next::Waiting,
            Err(mpsc::TryRecvError::Disconnected) => Next::Done,
        }
    }

    /// The next batch, waiting at most `wait` for it: so that a caller waiting for a
    /// slow input can look up now and then (Ctrl-C, say).
    pub fn recv_timeout(&self, wait: Duration) -> Next {
        match self.full.recv_timeout(wait) {
            Ok(b) => Next::Batch(b),
            Err(mpsc::RecvTimeoutError::Timeout) => Next::Waiting,
            Err(mpsc::RecvTimeoutError::Disconnected) => Next::Done,
        }
    }

    /// Hands an applied batch back to be filled again (emptied here).
    pub fn recycle(&self, mut batch: DecodedBatch) {
        batch.clear();
        // The filler gone, the batch is simply dropped.
        let _ = self.empty.send(batch);
    }
}

#[cfg(test)]
mod tests;
