//! The inputs: files or standard input, opened before anything is written, read line by
//! line without holding a line over 1 MiB, and fed to an engine.

use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Read};
use std::path::PathBuf;

use burnbar_core::{Engine, FuelUpdate, Reject};
use indicatif::ProgressBar;

use crate::Failure;
use crate::serve::feed::FeedLine;

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
pub(crate) type Input = (String, Box<dyn Read>);

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

/// Opens every input first, so that a missing file fails before any output is written;
/// `-` is standard input (read from a terminal, it says so on standard error: a command
/// waiting for typed lines must not look hung).
pub(crate) fn open_inputs(files: &[PathBuf]) -> Result<Vec<Input>, Failure> {
    let mut inputs: Vec<Input> = Vec::with_capacity(files.len());
    for f in files {
        if f.as_os_str() == "-" {
            if io::stdin().is_terminal() {
                eprintln!(
                    "burnbar: reading NDJSON from standard input (the terminal): type or paste lines, end with Ctrl-D; or name a file"
                );
            }
            inputs.push(("-".to_owned(), Box::new(io::stdin().lock())));
        } else {
            let file = File::open(f)
                .map_err(|e| Failure::other(format!("cannot open {}: {e}", f.display())))?;
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

/// Feeds every line of `inputs` to `engine` in order, in bounded memory; `on_step` gets
/// each line's file, number, text and result, and the updates it closed.
pub(crate) fn feed(
    inputs: Vec<Input>,
    engine: &mut Engine,
    progress: &ProgressBar,
    mut on_step: impl FnMut(
        &str,
        u64,
        &[u8],
        Result<(), Reject>,
        &mut Vec<FuelUpdate>,
    ) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let mut updates: Vec<FuelUpdate> = Vec::new();
    let mut line = Vec::with_capacity(4096);
    for (name, input) in inputs {
        let mut reader = BufReader::with_capacity(1 << 20, input);
        let mut line_no: u64 = 0;
        loop {
            let status = read_line_capped(&mut reader, &mut line, MAX_LINE)
                .map_err(|e| Failure::other(format!("reading {name} failed: {e}")))?;
            let too_long = match status {
                Line::End => break,
                Line::Read => false,
                Line::TooLong => true,
            };
            line_no += 1;
            if crate::interrupt::interrupted() {
                return Err(Failure::interrupted());
            }
            let text = without_bom(&line, line_no).trim_ascii();
            if text.is_empty() && !too_long {
                continue;
            }
            let res = if too_long {
                Err(engine.reject_unread(&format!(
                    "the line is longer than {MAX_LINE} bytes (a Kinesis record is at most 1 MiB)"
                )))
            } else {
                engine.push_line(text, &mut updates)
            };
            on_step(&name, line_no, text, res, &mut updates)?;
            updates.clear();
            if line_no.is_multiple_of(1 << 16) {
                progress.set_message(format!("{name}: {line_no} lines"));
            }
        }
    }
    Ok(())
}

/// Feeds every line of `inputs` to `engine` for what the engine records (stints,
/// features), publishing nothing; then closes its windows. Input whose every line was
/// rejected is refused.
pub(crate) fn feed_quietly(inputs: Vec<Input>, engine: &mut Engine) -> Result<(), Failure> {
    let names: Vec<String> = inputs.iter().map(|(n, _)| n.clone()).collect();
    feed(inputs, engine, &ProgressBar::hidden(), |_, _, _, _, _| {
        Ok(())
    })?;
    refuse_all_rejected(engine, &names.join(", "))?;
    engine.finish(&mut Vec::new());
    Ok(())
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
