//! The outputs: checked before anything is opened, written to a temporary file beside
//! the target and renamed into place only when the command succeeds, so that a refused,
//! failed or interrupted run leaves an earlier file of that name as it was.
//!
//! [`check_outputs`] is the one place that refuses an output that is also an input
//! (creating it would lose the input unread), two outputs naming one file (they would
//! overwrite each other), and an output whose folder does not exist.

use std::fs::File;
use std::io::{self, BufWriter, StdoutLock, Write};
use std::path::{Path, PathBuf};

use burnbar_core::FuelUpdate;
use tempfile::{NamedTempFile, TempDir};

use crate::Failure;
use crate::interrupt;

/// An output to check: its flag (for the reason) and its path, if given.
pub(crate) type OutArg<'a> = (&'a str, Option<&'a Path>);

/// Refuses (exit 2) an output that is also one of `inputs`, two outputs naming one
/// file, and an output whose folder does not exist; `-` among the inputs is standard
/// input. Call it before any output is created.
pub(crate) fn check_outputs(inputs: &[&Path], outputs: &[OutArg]) -> Result<(), Failure> {
    let mut seen: Vec<(&str, &Path, PathBuf)> = Vec::new();
    for &(flag, out) in outputs {
        let Some(out) = out else { continue };
        let id = identity(out).ok_or_else(|| {
            let folder = match out.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.display().to_string(),
                _ => ".".to_owned(),
            };
            Failure::usage(format!(
                "{flag} {}: the folder {folder} does not exist",
                out.display()
            ))
        })?;
        if inputs
            .iter()
            .any(|i| i.as_os_str() != "-" && identity(i).is_some_and(|i| i == id))
        {
            return Err(Failure::usage(format!(
                "{flag} {} is also an input: it would be overwritten before it is read",
                out.display()
            )));
        }
        if let Some((other, _, _)) = seen.iter().find(|(_, _, o)| *o == id) {
            return Err(Failure::usage(format!(
                "{other} and {flag} name the same file {}: one would overwrite the other",
                out.display()
            )));
        }
        seen.push((flag, out, id));
    }
    Ok(())
}

/// What a path names, to compare two paths: the file itself once symbolic links are
/// followed, or (not there yet) its folder's real path and its name. `None` when the
/// folder does not exist.
fn identity(p: &Path) -> Option<PathBuf> {
    if let Ok(real) = std::fs::canonicalize(p) {
        return Some(real);
    }
    let name = p.file_name()?;
    let parent = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::canonicalize(parent).ok().map(|d| d.join(name))
}

/// Writes that stop once the run is interrupted (Ctrl-C), so that a long write ends at
/// the next buffer instead of finishing a file that will not be kept.
pub(crate) struct Checked<W: Write>(W);

impl<W: Write> Write for Checked<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if interrupt::interrupted() {
            return Err(io::Error::other("interrupted"));
        }
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// An output file being written: a temporary file beside the target until
/// [`OutFile::commit`] renames it into place; dropped uncommitted, it is removed. A
/// target that exists and is not a regular file (`/dev/null`, a pipe) is written
/// directly: there is nothing of it to keep, and it cannot be replaced.
pub(crate) struct OutFile {
    target: PathBuf,
    what: String,
    inner: Option<Inner>,
}

enum Inner {
    Temp(BufWriter<Checked<NamedTempFile>>),
    Direct(BufWriter<Checked<File>>),
}

impl OutFile {
    /// Starts `path`; `what` names it in reasons.
    pub(crate) fn create(path: &Path, what: &str) -> Result<OutFile, Failure> {
        let fail =
            |e: io::Error| Failure::other(format!("cannot create {what} {}: {e}", path.display()));
        // Follow a symbolic link: the file it points to is what is replaced.
        let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
        let existing = std::fs::metadata(&target).ok();
        if let Some(m) = &existing
            && !m.is_file()
        {
            if m.is_dir() {
                return Err(Failure::usage(format!(
                    "{what} {} is a folder",
                    path.display()
                )));
            }
            let f = File::create(&target).map_err(fail)?;
            return Ok(OutFile {
                target,
                what: what.to_owned(),
                inner: Some(Inner::Direct(BufWriter::with_capacity(1 << 20, Checked(f)))),
            });
        }
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".part")
            .tempfile_in(&dir)
            .map_err(fail)?;
        interrupt::register_temp(tmp.path());
        // The permissions a plain create would give (the temporary file is private).
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = existing.map_or(0o644, |m| m.permissions().mode() & 0o7777);
            let _ = tmp
                .as_file()
                .set_permissions(std::fs::Permissions::from_mode(mode));
        }
        Ok(OutFile {
            target,
            what: what.to_owned(),
            inner: Some(Inner::Temp(BufWriter::with_capacity(1 << 20, Checked(tmp)))),
        })
    }

    /// Flushes the file and puts it in place under its name.
    pub(crate) fn commit(mut self) -> Result<(), Failure> {
        let fail = |e: io::Error| {
            Failure::other(format!(
                "cannot write {} {}: {e}",
                self.what,
                self.target.display()
            ))
        };
        match self.inner.take() {
            Some(Inner::Direct(mut w)) => w.flush().map_err(fail),
            Some(Inner::Temp(w)) => {
                let tmp = w.into_inner().map_err(|e| fail(e.into_error()))?.0;
                let tmp_path = tmp.path().to_owned();
                let res = tmp
                    .as_file()
                    .sync_all()
                    .map_err(fail)
                    .and_then(|()| tmp.persist(&self.target).map_err(|e| fail(e.error)));
                interrupt::unregister_temp(&tmp_path);
                res.map(|_| ())
            }
            None => Ok(()),
        }
    }
}

impl Drop for OutFile {
    fn drop(&mut self) {
        if let Some(Inner::Temp(w)) = &self.inner {
            interrupt::unregister_temp(w.get_ref().0.path());
        }
        // The temporary file removes itself as it drops.
    }
}

impl Write for OutFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.inner.as_mut() {
            Some(Inner::Temp(w)) => w.write(buf),
            Some(Inner::Direct(w)) => w.write(buf),
            None => Err(io::Error::other("already committed")),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self.inner.as_mut() {
            Some(Inner::Temp(w)) => w.flush(),
            Some(Inner::Direct(w)) => w.flush(),
            None => Ok(()),
        }
    }
}

/// An output file, or standard output without one.
///
/// Standard output is not [`Checked`]: it is a stream, with no earlier file to keep, and
/// what it has been given is its reader's. Its writes are whole lines (a caller writes
/// line after line, and the buffer holds what is not out yet), so an interrupted run
/// that flushes it ([`Out::flush_stream`]) ends it on a whole line with every update
/// written before the stop; a [`Checked`] writer would refuse the rest of the buffer
/// and cut the stream mid-line.
pub(crate) enum Out {
    File(OutFile),
    Stdout(BufWriter<StdoutLock<'static>>),
}

impl Out {
    /// `path` started (see [`OutFile`]), or standard output without one.
    pub(crate) fn create(path: Option<&Path>, what: &str) -> Result<Out, Failure> {
        Ok(match path {
            Some(p) => Out::File(OutFile::create(p, what)?),
            None => Out::Stdout(BufWriter::with_capacity(1 << 20, io::stdout().lock())),
        })
    }

    /// Flushes standard output (a file is left to [`Out::commit`]): what was written
    /// reaches its reader now. For a stream whose input has caught up with its source
    /// (a live feed), so that updates are not held back until the buffer fills.
    pub(crate) fn flush_stream(&mut self) -> io::Result<()> {
        match self {
            Out::File(_) => Ok(()),
            Out::Stdout(w) => w.flush(),
        }
    }

    /// Flushes, and puts a file in place.
    pub(crate) fn commit(self) -> Result<(), Failure> {
        match self {
            Out::File(f) => f.commit(),
            Out::Stdout(mut w) => w
                .flush()
                .map_err(|e| Failure::other(format!("writing standard output failed: {e}"))),
        }
    }
}

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Out::File(f) => f.write(buf),
            Out::Stdout(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Out::File(f) => f.flush(),
            Out::Stdout(w) => w.flush(),
        }
    }
}

/// An output folder being written (`simulate --feed`): a temporary folder beside the
/// target until [`OutDir::commit`] moves its files in; dropped uncommitted, it is
/// removed. Files of the target that the run does not write are left as they are.
pub(crate) struct OutDir {
    target: PathBuf,
    tmp: Option<TempDir>,
}

impl OutDir {
    /// Starts folder `path` (`flag` names it in reasons).
    pub(crate) fn create(path: &Path, flag: &str) -> Result<OutDir, Failure> {
        if path.exists() && !path.is_dir() {
            return Err(Failure::usage(format!(
                "{flag} {} is a file, not a folder",
                path.display()
            )));
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".part")
            .tempdir_in(&dir)
            .map_err(|e| {
                Failure::other(format!(
                    "cannot create {flag} folder {}: {e}",
                    path.display()
                ))
            })?;
        interrupt::register_temp(tmp.path());
        Ok(OutDir {
            target: path.to_owned(),
            tmp: Some(tmp),
        })
    }

    /// The folder named on the command line.
    pub(crate) fn target(&self) -> &Path {
        &self.target
    }

    /// Where the files go until the commit.
    pub(crate) fn path(&self) -> &Path {
        self.tmp.as_ref().expect("not committed").path()
    }

    /// Puts the folder in place: renamed when there was none, else its files moved in.
    pub(crate) fn commit(mut self) -> Result<(), Failure> {
        let tmp = self.tmp.take().expect("not committed");
        let fail = |e: io::Error| {
            Failure::other(format!(
                "cannot write folder {}: {e}",
                self.target.display()
            ))
        };
        let tmp_path = tmp.path().to_owned();
        let res = if !self.target.exists() {
            let kept = tmp.keep();
            std::fs::rename(&kept, &self.target).map_err(fail)
        } else {
            let moved = std::fs::read_dir(tmp.path()).and_then(|entries| {
                for e in entries {
                    let e = e?;
                    std::fs::rename(e.path(), self.target.join(e.file_name()))?;
                }
                Ok(())
            });
            moved.map_err(fail)
        };
        interrupt::unregister_temp(&tmp_path);
        res
    }
}

impl Drop for OutDir {
    fn drop(&mut self) {
        if let Some(t) = &self.tmp {
            interrupt::unregister_temp(t.path());
        }
    }
}

/// Writes `value` as pretty JSON and a newline to `path`, in place only once whole.
pub(crate) fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).expect("plain data serializes");
    let mut f = OutFile::create(path, "file")?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.write_all(b"\n"))
        .map_err(|e| Failure::other(format!("cannot write {}: {e}", path.display())))?;
    f.commit()
}

/// Writes `updates` as NDJSON, one line each.
pub(crate) fn write_updates(out: &mut dyn Write, updates: &[FuelUpdate]) -> io::Result<()> {
    for u in updates {
        serde_json::to_writer(&mut *out, u)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}
