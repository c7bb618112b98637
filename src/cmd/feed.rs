//! `burnbar feed`: NASCAR official live-feed files to `telemetry-v1` race-control NDJSON
//! (`docs/feed.md`).
//!
//! The files are told apart by their content. Pit data and flag data (lists) are read
//! first, whatever their place among the arguments: they time what the snapshots show
//! (the race's clock, the box time of each stop). Then the snapshots, in the order given,
//! each at its own race time as the converter's clock; then every `pit_out` still waiting
//! goes out. One snapshot is in memory at a time.

use std::io::Write;
use std::path::{Path, PathBuf};

use burnbar_feed::wire::ms;
use burnbar_feed::{Converter, FeedConfig, FeedFile, RcEvent};
use clap::Args;

use crate::Failure;
use crate::output::{Out, check_outputs};

#[derive(Args, Debug)]
pub struct FeedArgs {
    /// Live-feed files: snapshots (`live-feed.json`, in time order, or one final one),
    /// pit data (`live-pit-data.json`) and flag data (`live-flag-data.json`).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Write the events here [default: standard output].
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(a: FeedArgs) -> Result<(), Failure> {
    let inputs: Vec<&Path> = a.files.iter().map(PathBuf::as_path).collect();
    check_outputs(&inputs, &[("--out", a.out.as_deref())])?;
    let mut c = Converter::new(FeedConfig::default());
    let mut events = Vec::new();
    let mut skipped = 0;
    // Pit data and flag data first; snapshots are read again after, one at a time.
    let mut snapshots = Vec::new();
    for path in &a.files {
        let bytes = read(path)?;
        if is_list(&bytes) {
            let before = malformed(&c);
            events.extend(c.push_file(&bytes, 0));
            skipped += usize::from(malformed(&c) > before);
            report(&mut c, Some(path));
        } else {
            snapshots.push(path);
        }
    }
    let mut out = Out::create(a.out.as_deref(), "output file")?;
    write(&mut out, &events)?;
    for path in snapshots {
        let bytes = read(path)?;
        let now = match FeedFile::parse(&bytes) {
            Ok(FeedFile::Snapshot(s)) => ms(s.elapsed_time),
            _ => 0,
        };
        let before = malformed(&c);
        let batch = c.push_file(&bytes, now);
        skipped += usize::from(malformed(&c) > before);
        write(&mut out, &batch)?;
        report(&mut c, Some(path));
    }
    write(&mut out, &c.finish())?;
    report(&mut c, None);
    summary(&c, a.files.len());
    // Every file skipped: nothing was converted, and a run that read nothing must not
    // look like a success (as `replay` when every line is rejected); the output is
    // dropped unwritten.
    if skipped == a.files.len() {
        let n = &c.counters().malformed;
        let by: Vec<String> = n.iter().map(|(k, v)| format!("{k} {v}")).collect();
        return Err(Failure::other(format!(
            "every one of the {} feed files was skipped ({}): are they NASCAR live-feed files? nothing written",
            a.files.len(),
            by.join(", ")
        )));
    }
    out.commit()?;
    Ok(())
}

/// The files skipped so far, each counted once by its reason.
fn malformed(c: &Converter) -> u64 {
    c.counters().malformed.values().sum()
}

fn read(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure::other(format!("cannot read {}: {e}", path.display())))
}

/// A JSON list (pit data, flag data), by its first character.
fn is_list(bytes: &[u8]) -> bool {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[')
}

fn write(out: &mut dyn Write, events: &[RcEvent]) -> Result<(), Failure> {
    for e in events {
        writeln!(out, "{}", e.to_json())
            .map_err(|e| Failure::other(format!("writing the events failed: {e}")))?;
    }
    Ok(())
}

/// What the converter has to say, each line naming the file it read it in (a skipped
/// file must be found among many).
fn report(c: &mut Converter, path: Option<&PathBuf>) {
    for r in c.take_reports() {
        match path {
            Some(p) => eprintln!("burnbar feed: {}: {r}", p.display()),
            None => eprintln!("burnbar feed: {r}"),
        }
    }
}

/// One line on standard error: what was read, skipped and written.
fn summary(c: &Converter, files: usize) {
    let n = c.counters();
    let join = |m: &dyn Fn() -> Vec<String>| {
        let v = m();
        if v.is_empty() {
            "none".to_owned()
        } else {
            v.join(", ")
        }
    };
    eprintln!(
        "burnbar feed: {files} files, {} snapshots ({} stale, {} before the start), {} pit records, {} flag records; malformed: {}; events: {}; pit_out with pit data {}, without {}; unknown flag codes: {}; unknown statuses: {}; unknown tracks: {}",
        n.snapshots,
        n.snapshots_stale,
        n.snapshots_before_start,
        n.pit_records,
        n.flag_records,
        join(&|| n
            .malformed
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect()),
        join(&|| n.events.iter().map(|(k, v)| format!("{k} {v}")).collect()),
        n.pit_outs_with_data,
        n.pit_outs_without_data,
        join(&|| n
            .unknown_flag_codes
            .iter()
            .map(|(k, v)| format!("{k} ({v})"))
            .collect()),
        join(&|| n
            .unknown_status_codes
            .iter()
            .map(|(k, v)| format!("{k} ({v})"))
            .collect()),
        n.unknown_tracks,
    );
}
