//! The inputs: files or standard input, opened before anything is written, read line by
//! line without holding a line over 1 MiB, and fed to an engine.

use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Read};
use std::path::PathBuf;

use burnbar_core::{Engine, FuelUpdate, Reject};
use indicatif::ProgressBar;

use crate::Failure;
use crate::serve::feed::FeedLine;

mod chunks;
mod pipelined;

/// The longest line read: a Kinesis record is at most 1 MiB, and no telemetry line is
/// anywhere near it; a longer one is rejected without being held, so that a file
/// without line breaks cannot take the machine's memory.
const MAX_LINE: usize = 1 << 20;

/// What [`read_line_capped`] found.
enum Line {
    Read,
    TooLong,
    End,
}

/// Reads one line into `buf` (without holding more than `max` bytes of it). A longer
/// line is skipped to its end and reported; `buf` then keeps its first `max` bytes.
fn read_line_capped(r: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<Line> {
    buf.clear();
    let mut too_long = false;
    let mut any = false;
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            return Ok(if !any {
                Line::End
            } else if too_long {
                Line::TooLong
            } else {
                Line::Read
            });
        }
        any = true;
        let (take, done) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        if !too_long {
            let room = max.saturating_sub(buf.len());
            buf.extend_from_slice(&chunk[..take.min(room)]);
            too_long = take > room;
        }
        r.consume(take);
        if done {
            return Ok(if too_long { Line::TooLong } else { Line::Read });
        }
    }
}

/// An input's name (for messages) and its reader.
pub(crate) type Input = (String, Box<dyn Read + Send>);

/// A UTF-8 byte-order mark, which some editors put at the start of a file.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A line without the byte-order mark the first line of a file may start with.
fn without_bom(line: &[u8], line_no: u64) -> &[u8] {
    if line_no == 1 {
        line.strip_prefix(BOM).unwrap_or(line)
    } else {
        line
    }
}

/// Opens every input first, so that a missing file, or a folder (which Linux opens, and
/// whose first read fails: after the files before it were replayed), fails before any
/// output is written; `-` is standard input (read from a terminal, it says so on
/// standard error: a command waiting for typed lines must not look hung).
pub(crate) fn open_inputs(files: &[PathBuf]) -> Result<Vec<Input>, Failure> {
    let mut inputs: Vec<Input> = Vec::with_capacity(files.len());
    for f in files {
        if f.as_os_str() == "-" {
            if io::stdin().is_terminal() {
                eprintln!(
                    "burnbar: reading NDJSON from standard input (the terminal): type or paste lines, end with Ctrl-D; or name a file"
                );
            }
            // Unlocked (each read of the 1 MiB buffer locks it): a locked handle cannot go
            // to the reading thread.
            inputs.push(("-".to_owned(), Box::new(io::stdin())));
        } else {
            let file = File::open(f)
                .map_err(|e| Failure::other(format!("cannot open {}: {e}", f.display())))?;
            if file.metadata().is_ok_and(|m| m.is_dir()) {
                return Err(Failure::other(format!(
                    "cannot read {}: it is a folder, not a file",
                    f.display()
                )));
            }
            inputs.push((f.display().to_string(), Box::new(file)));
        }
    }
    Ok(inputs)
}

/// The lines of `inputs` in order, each with its event time (lines over [`MAX_LINE`]
/// are cut there; the engine rejects what does not decode).
pub(crate) fn file_lines(inputs: Vec<Input>) -> impl Iterator<Item = FeedLine> {
    inputs.into_iter().flat_map(|(name, input)| {
        let mut reader = BufReader::with_capacity(1 << 20, input);
        let mut buf = Vec::new();
        let mut line_no = 0;
        std::iter::from_fn(move || {
            loop {
                match read_line_capped(&mut reader, &mut buf, MAX_LINE) {
                    Ok(Line::End) => return None,
                    Ok(_) => {
                        line_no += 1;
                        let text = without_bom(&buf, line_no).trim_ascii();
                        if text.is_empty() {
                            continue;
                        }
                        return Some(FeedLine::from_bytes(text.to_vec()));
                    }
                    Err(e) => {
                        eprintln!("burnbar: reading {name} failed: {e}; the replay stops there");
                        return None;
                    }
                }
            }
        })
    })
}

/// The read buffer of [`feed`]: lines are decoded where they lie in it, so it is also
/// the most of a line held without a copy (a line that crosses its end is copied).
const READ_BUF: usize = 1 << 20;

/// What a fed line gave: nothing to say, or its rejection with the line's text.
pub(crate) type Step<'a> = Result<(), (Reject, &'a [u8])>;

/// Feeds every line of `inputs` to `engine` in order, in bounded memory; `on_step` gets
/// each line's file, number and result, and the updates it closed.
///
/// On a machine of two cores or more the lines are read and decoded on a second thread
/// while this one runs the engine ([`pipelined`]); what `on_step` sees is the same
/// either way, in the same order. A rejection's text is given only with `keep_text`
/// (else it may be empty: keeping it costs a copy of every line on that path).
///
/// The inputs are read on a thread of their own either way ([`chunks`]), so that this
/// thread never blocks in a read: `on_wait` runs when every line read so far has been
/// fed and the input has nothing more yet (it is waiting for its source: time for a
/// caller to flush what it wrote), and Ctrl-C ends a wait for input within 50 ms.
pub(crate) fn feed(
    inputs: Vec<Input>,
    engine: &mut Engine,
    progress: &ProgressBar,
    keep_text: bool,
    on_step: impl FnMut(&str, u64, Step<'_>, &mut Vec<FuelUpdate>) -> Result<(), Failure>,
    on_wait: impl FnMut() -> Result<(), Failure>,
) -> Result<(), Failure> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores > 1 {
        pipelined::feed(
            inputs,
            READ_BUF,
            pipelined::BATCH_LINES,
            keep_text,
            engine,
            progress,
            on_step,
            on_wait,
        )
    } else {
        feed_buffered(inputs, READ_BUF, engine, progress, on_step, on_wait)
    }
}

/// The rejection of a line too long to hold.
fn too_long() -> Reject {
    burnbar_core::engine::unread(&format!(
        "the line is longer than {MAX_LINE} bytes (a Kinesis record is at most 1 MiB)"
    ))
}

/// Reads `input`'s lines in order, in bounded memory: `line` gets each line's number,
/// its text (without the newline, the surrounding whitespace and a first line's
/// byte-order mark) and whether it was too long to hold (its text is then the first
/// [`MAX_LINE`] bytes); blank lines are counted, not given. `before_read` runs before
/// every read that may wait for input, so that a caller gathering lines can hand them
/// on first; it is told whether the read will wait ([`Buffered::would_wait`]). A read
/// that fails because Ctrl-C came is [`Failure::interrupted`].
///
/// Why in place: copying every line out of the read buffer before decoding it was the
/// largest single cost of a replay after decoding (a `memmove` at 7.8 % of the profile).
/// Every line that ends inside the buffer is given where it lies; only a line that
/// crosses the buffer's end (one per buffer) goes through the copying reader, which also
/// keeps the [`MAX_LINE`] cap. A line in the buffer is at most `capacity` bytes with its
/// newline, so with `capacity <= MAX_LINE` the cap reads the same either way.
fn read_lines(
    name: &str,
    mut reader: impl Buffered,
    mut line: impl FnMut(u64, &[u8], bool) -> Result<(), Failure>,
    mut before_read: impl FnMut(bool) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let mut copied = Vec::with_capacity(4096);
    let mut line_no: u64 = 0;
    let read_err = |e: io::Error| {
        if crate::interrupt::interrupted() {
            Failure::interrupted()
        } else {
            Failure::other(format!("reading {name} failed: {e}"))
        }
    };
    let mut give = |raw: &[u8], too_long: bool, line_no: u64| {
        let text = without_bom(raw, line_no).trim_ascii();
        if text.is_empty() && !too_long {
            return Ok(());
        }
        line(line_no, text, too_long)
    };
    loop {
        if reader.holds_nothing() {
            before_read(reader.would_wait())?;
        }
        let chunk = reader.fill_buf().map_err(read_err)?;
        if chunk.is_empty() {
            break;
        }
        let mut used = 0;
        for end in memchr::memchr_iter(b'\n', chunk) {
            line_no += 1;
            give(&chunk[used..=end], false, line_no)?;
            used = end + 1;
        }
        if used > 0 {
            reader.consume(used);
            continue;
        }
        // No line end in what the buffer holds: the line crosses it, copied.
        before_read(false)?;
        let too_long =
            match read_line_capped(&mut reader, &mut copied, MAX_LINE).map_err(read_err)? {
                Line::End => break,
                Line::Read => false,
                Line::TooLong => true,
            };
        line_no += 1;
        give(&copied, too_long, line_no)?;
    }
    before_read(false)
}

/// A buffered reader that tells whether its next `fill_buf` has to read.
trait Buffered: BufRead {
    fn holds_nothing(&self) -> bool;
    /// Whether the next `fill_buf` would wait for its input (nothing held and nothing
    /// read ahead); when it cannot tell, yes.
    fn would_wait(&mut self) -> bool {
        self.holds_nothing()
    }
}

impl<R: Read> Buffered for BufReader<R> {
    fn holds_nothing(&self) -> bool {
        self.buffer().is_empty()
    }
}

/// The input's reader for [`read_lines`], reading `capacity` bytes at a time.
#[cfg(test)]
fn buffered(input: Box<dyn Read + Send>, capacity: usize) -> BufReader<Box<dyn Read + Send>> {
    debug_assert!(
        capacity <= MAX_LINE,
        "a line in the buffer is within the cap"
    );
    BufReader::with_capacity(capacity, input)
}

/// [`feed`] with the engine on this thread, the reading on another, with a read buffer
/// of `capacity` bytes.
fn feed_buffered(
    inputs: Vec<Input>,
    capacity: usize,
    engine: &mut Engine,
    progress: &ProgressBar,
    mut on_step: impl FnMut(&str, u64, Step<'_>, &mut Vec<FuelUpdate>) -> Result<(), Failure>,
    mut on_wait: impl FnMut() -> Result<(), Failure>,
) -> Result<(), Failure> {
    let mut updates: Vec<FuelUpdate> = Vec::new();
    let (names, readers): (Vec<String>, Vec<_>) = inputs.into_iter().unzip();
    // On a failure the reading thread is not waited for: it may be waiting for input
    // that never comes (it stops at its next hand-over).
    let (ends, reading) = chunks::spawn(readers, capacity.min(MAX_LINE))?;
    for name in names {
        let step = |line_no: u64, text: &[u8], is_too_long: bool| -> Result<(), Failure> {
            if crate::interrupt::interrupted() {
                return Err(Failure::interrupted());
            }
            let res = if is_too_long {
                engine.push_decoded(Err(too_long()), &mut updates)
            } else {
                engine.push_line(text, &mut updates)
            };
            on_step(&name, line_no, res.map_err(|r| (r, text)), &mut updates)?;
            updates.clear();
            if line_no.is_multiple_of(1 << 16) {
                progress.set_message(format!("{name}: {line_no} lines"));
            }
            Ok(())
        };
        let before_read = |waits: bool| if waits { on_wait() } else { Ok(()) };
        read_lines(&name, chunks::Chunks::new(&ends), step, before_read)?;
    }
    // Every input's end was read: the reader has ended.
    if let Err(panic) = reading.join() {
        std::panic::resume_unwind(panic);
    }
    Ok(())
}

/// Feeds every line of `inputs` to `engine` for what the engine records (stints,
/// features), publishing nothing; then closes its windows. Input whose every line was
/// rejected is refused; any rejected line is reported on standard error with its count
/// by reason and the first one's place ([`rejected_notice`]): `calibrate` and `train`
/// have no `--rejected` file, and a fit from a damaged history must not pass for one
/// from a whole history.
pub(crate) fn feed_quietly(inputs: Vec<Input>, engine: &mut Engine) -> Result<(), Failure> {
    let names: Vec<String> = inputs.iter().map(|(n, _)| n.clone()).collect();
    let mut first: Option<String> = None;
    // Only the reason and the place are reported: no line's text is kept.
    let on_step = |name: &str, line_no: u64, step: Step<'_>, _: &mut Vec<FuelUpdate>| {
        if let (None, Err((reason, _))) = (&first, &step) {
            first = Some(format!("{name} line {line_no}: {reason}"));
        }
        Ok(())
    };
    feed(
        inputs,
        engine,
        &ProgressBar::hidden(),
        false,
        on_step,
        || Ok(()),
    )?;
    refuse_all_rejected(engine, &names.join(", "))?;
    if let Some(notice) = rejected_notice(engine, first.as_deref()) {
        eprintln!("burnbar: {notice}");
    }
    engine.finish(&mut Vec::new());
    Ok(())
}

/// What a fit says of the lines it could not read: how many of how many, by reason, and
/// the first one. The fit goes on without them, and the stints they broke (a lost
/// sample's fuel, a lost `pit_out`) are left out by calibration itself
/// (`calibrate::Unmeasured`); `None` when every line was read.
pub(crate) fn rejected_notice(engine: &Engine, first: Option<&str>) -> Option<String> {
    let c = engine.counters();
    if c.rejected == 0 {
        return None;
    }
    let by: Vec<String> = c
        .rejected_by
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    Some(format!(
        "{} of {} lines rejected ({}), the first at {}; fitted on the rest, without the stints they broke",
        c.rejected,
        c.records,
        by.join(", "),
        first.unwrap_or("an unknown line")
    ))
}

/// Exit 1 when lines were read and every one was rejected: the input is not
/// telemetry-v1 NDJSON (a binary, a CSV, another format), and a run that read nothing
/// must not look like a success.
pub(crate) fn refuse_all_rejected(engine: &Engine, what: &str) -> Result<(), Failure> {
    let c = engine.counters();
    if c.records == 0 || c.rejected < c.records {
        return Ok(());
    }
    let by: Vec<String> = c
        .rejected_by
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    Err(Failure::other(format!(
        "every one of the {} lines of {what} was rejected ({}): is it telemetry-v1 NDJSON? nothing written",
        c.records,
        by.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burnbar_core::{EngineConfig, ModelParams};

    /// Every line of `data` read with a buffer of `capacity` ([`read_lines`]): line
    /// number, text, and what [`feed_buffered`] made of it, the rejection's code or `ok`
    /// (a rejection carrying the same text).
    pub(super) fn steps(data: &[u8], capacity: usize) -> Vec<(u64, Vec<u8>, String)> {
        let input = |data: &[u8]| -> Input {
            (
                "t".to_owned(),
                Box::new(std::io::Cursor::new(data.to_vec())),
            )
        };
        let mut read = Vec::new();
        let (_, r) = input(data);
        read_lines(
            "t",
            buffered(r, capacity),
            |n, text, _| {
                read.push((n, text.to_vec()));
                Ok(())
            },
            |_| Ok(()),
        )
        .unwrap_or_else(|_| panic!("reading failed"));
        let mut engine = Engine::new(EngineConfig::default(), ModelParams::default());
        let mut fed = Vec::new();
        feed_buffered(
            vec![input(data)],
            capacity,
            &mut engine,
            &ProgressBar::hidden(),
            |_, n, res, _| {
                fed.push(match res {
                    Ok(()) => (n, None, "ok".to_owned()),
                    Err((r, text)) => (n, Some(text.to_vec()), r.code.as_str().to_owned()),
                });
                Ok(())
            },
            || Ok(()),
        )
        .unwrap_or_else(|_| panic!("feeding failed"));
        assert_eq!(read.len(), fed.len());
        read.into_iter()
            .zip(fed)
            .map(|((n, text), (m, rejected, what))| {
                assert_eq!(n, m);
                if let Some(r) = rejected {
                    assert_eq!(r, text, "a rejection carries the line's text");
                }
                (n, text, what)
            })
            .collect()
    }

    #[test]
    fn lines_read_in_place_or_across_the_buffer_end_read_alike() {
        let sample = |ts: u64| {
            format!(
                r#"{{"v":1,"race_id":"r","car":"7","ts":{ts},"rpm":8000,"throttle_pct":100.0}}"#
            )
        };
        let data = format!(
            "\u{feff}{}\r\n\n  \n{}\nnot json\n{}",
            sample(1750593600000),
            sample(1750593600100),
            sample(1750593600200),
        );
        let whole = steps(data.as_bytes(), READ_BUF);
        let texts: Vec<(u64, &str, &str)> = whole
            .iter()
            .map(|(n, t, w)| (*n, std::str::from_utf8(t).unwrap(), w.as_str()))
            .collect();
        // The mark and the CR are gone, blank lines counted but not fed, and the last
        // line needs no newline.
        let s0 = sample(1750593600000);
        let s1 = sample(1750593600100);
        let s2 = sample(1750593600200);
        assert_eq!(
            texts,
            vec![
                (1, s0.as_str(), "ok"),
                (4, s1.as_str(), "ok"),
                (5, "not json", "invalid_json"),
                (6, s2.as_str(), "ok"),
            ]
        );
        for capacity in 1..=data.len() + 1 {
            assert_eq!(
                steps(data.as_bytes(), capacity),
                whole,
                "buffer of {capacity}"
            );
        }
    }

    #[test]
    fn a_line_over_the_cap_is_rejected_and_the_next_one_still_read() {
        let good = r#"{"v":1,"car":"7","ts":1750593600000,"rpm":8000}"#;
        let mut data = vec![b'x'; MAX_LINE + 10];
        data.push(b'\n');
        data.extend_from_slice(good.as_bytes());
        data.push(b'\n');
        for capacity in [64, READ_BUF] {
            let s = steps(&data, capacity);
            assert_eq!(s.len(), 2, "buffer of {capacity}");
            assert_eq!(
                (s[0].0, s[0].1.len(), s[0].2.as_str()),
                (1, MAX_LINE, "invalid_json")
            );
            assert_eq!(
                (s[1].0, s[1].1.as_slice(), s[1].2.as_str()),
                (2, good.as_bytes(), "ok")
            );
        }
    }
}
