//! The outputs: files created (never one of the inputs: creating one truncates it) and
//! written as JSON or NDJSON.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use burnbar_core::FuelUpdate;

use crate::Failure;

/// Creates `path` for writing, buffered; `what` names it in the reason.
pub(crate) fn create(path: &Path, what: &str) -> Result<BufWriter<File>, Failure> {
    File::create(path)
        .map(|f| BufWriter::with_capacity(1 << 20, f))
        .map_err(|e| Failure::other(format!("cannot create {what} {}: {e}", path.display())))
}

/// `path` created, or standard output without one.
pub(crate) fn create_or_stdout(path: Option<&Path>, what: &str) -> Result<Box<dyn Write>, Failure> {
    Ok(match path {
        Some(p) => Box::new(create(p, what)?),
        None => Box::new(BufWriter::with_capacity(1 << 20, io::stdout().lock())),
    })
}

/// Refuses an output (`flag`'s file) that is also an input: creating it would truncate
/// it unread.
pub(crate) fn refuse_output_among_inputs(
    flag: &str,
    files: &[PathBuf],
    out: &Path,
) -> Result<(), Failure> {
    if files.iter().any(|f| same_file(f, out)) {
        return Err(Failure::usage(format!(
            "{flag} {} is also an input: it would be overwritten before it is read",
            out.display()
        )));
    }
    Ok(())
}

/// Whether two paths name the same existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    if a.as_os_str() == "-" {
        return false;
    }
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Writes `value` as pretty JSON and a newline to `path`.
pub(crate) fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).expect("plain data serializes");
    std::fs::write(path, text + "\n")
        .map_err(|e| Failure::other(format!("cannot write {}: {e}", path.display())))
}

/// Writes `updates` as NDJSON, one line each.
pub(crate) fn write_updates(out: &mut dyn Write, updates: &[FuelUpdate]) -> io::Result<()> {
    for u in updates {
        serde_json::to_writer(&mut *out, u)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}
