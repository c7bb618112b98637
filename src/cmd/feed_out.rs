//! `simulate --feed DIR`: the race's lines, as they are written, also go to the
//! official-feed recorder (`burnbar_feed::record`), and its snapshots to `DIR` as they
//! come: `live-feed-SSSSSS.json` (race time in seconds, so the names sort in time
//! order), then `live-pit-data.json` and `live-flag-data.json` at the end.

use std::io::{self, Write};

use burnbar_feed::record::Recorder;
use burnbar_feed::wire::Snapshot;

use crate::Failure;
use crate::output::{Out, OutDir};

/// The race's output, with or without the feed beside it.
pub enum Tee {
    Plain(Out),
    Feed(Box<FeedWriter>),
}

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Tee::Plain(w) => w.write(buf),
            Tee::Feed(f) => f.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Tee::Plain(w) => w.flush(),
            Tee::Feed(f) => f.out.flush(),
        }
    }
}

/// Passes the bytes on and feeds each complete line to the recorder.
pub struct FeedWriter {
    out: Out,
    dir: OutDir,
    rec: Recorder,
    partial: Vec<u8>,
    written: usize,
}

impl FeedWriter {
    /// The race's output `out`, and the feed's files in `dir` (put in place when the
    /// race is).
    pub fn new(out: Out, dir: OutDir, every_ms: i64, feed_race_id: i64) -> FeedWriter {
        FeedWriter {
            out,
            dir,
            rec: Recorder::new(every_ms, feed_race_id),
            partial: Vec::new(),
            written: 0,
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write_all(buf)?;
        let mut rest = buf;
        while let Some(i) = rest.iter().position(|&b| b == b'\n') {
            if self.partial.is_empty() {
                self.rec.push_line(&rest[..i]);
            } else {
                self.partial.extend_from_slice(&rest[..i]);
                let line = std::mem::take(&mut self.partial);
                self.rec.push_line(&line);
            }
            rest = &rest[i + 1..];
        }
        self.partial.extend_from_slice(rest);
        for s in self.rec.take_snapshots() {
            self.snapshot(&s)?;
        }
        Ok(buf.len())
    }

    fn snapshot(&mut self, s: &Snapshot) -> io::Result<()> {
        if crate::interrupt::interrupted() {
            return Err(io::Error::other("interrupted"));
        }
        let name = format!("live-feed-{:06}.json", s.elapsed_time as i64);
        std::fs::write(self.dir.path().join(name), serde_json::to_vec(s)?)?;
        self.written += 1;
        Ok(())
    }

    /// The last line, the final snapshot, the pit data and the flag data; the folder
    /// put in place. Gives back the race's output, to be put in place by the caller.
    pub fn finish(mut self) -> Result<Out, Failure> {
        let fail = |e: io::Error| Failure::other(format!("writing the feed failed: {e}"));
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.rec.push_line(&line);
        }
        let rec = std::mem::replace(&mut self.rec, Recorder::new(1_000, 1));
        let (snaps, pits, flags) = rec.finish();
        for s in &snaps {
            self.snapshot(s).map_err(fail)?;
        }
        let pit_json = serde_json::to_vec(&pits).expect("plain data serializes");
        let flag_json = serde_json::to_vec(&flags).expect("plain data serializes");
        std::fs::write(self.dir.path().join("live-pit-data.json"), pit_json).map_err(fail)?;
        std::fs::write(self.dir.path().join("live-flag-data.json"), flag_json).map_err(fail)?;
        let FeedWriter {
            out, dir, written, ..
        } = self;
        let target = dir.target().to_owned();
        dir.commit()?;
        eprintln!(
            "burnbar simulate: {} feed snapshots, {} stops and {} flag changes written to {}",
            written,
            pits.len(),
            flags.len(),
            target.display()
        );
        Ok(out)
    }
}
