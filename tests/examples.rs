//! Every command example of the README and `docs/` runs: each fenced shell block that
//! names `burnbar` or `cargo run` is run with bash in a scratch folder (one per page,
//! the page's blocks in order, so a later block may use an earlier one's files), with
//! this build's `burnbar` on the PATH and `cargo run [--release] -- ARGS` running it
//! too. An example that fails, or runs longer than [`LIMIT`], fails the test.
//!
//! A block that cannot run here carries the marker `<!-- no-run: REASON -->` on the line
//! before its fence (it needs AWS, a server that runs until Ctrl-C, minutes of work);
//! the reason is required.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longest an example may take (a debug build; the docs promise under a minute with a
/// release one).
const LIMIT: Duration = Duration::from_secs(120);

const MARKER: &str = "<!-- no-run:";

/// A fenced block of a page.
struct Block {
    line: usize,
    lang: String,
    text: String,
    no_run: Option<String>,
}

fn blocks(page: &str) -> Vec<Block> {
    let lines: Vec<&str> = page.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let t = lines[i].trim_start();
        if let Some(lang) = t.strip_prefix("```") {
            let start = i;
            let mut body = Vec::new();
            i += 1;
            while i < lines.len() && !lines[i].trim_start().starts_with("```") {
                body.push(lines[i]);
                i += 1;
            }
            let no_run = start
                .checked_sub(1)
                .map(|p| lines[p].trim())
                .and_then(|p| p.strip_prefix(MARKER))
                .map(|r| r.trim_end_matches("-->").trim().to_owned());
            out.push(Block {
                line: start + 1,
                lang: lang.trim().to_owned(),
                text: body.join("\n"),
                no_run,
            });
        }
        i += 1;
    }
    out
}

/// Whether a block is a command example: shell, naming the command.
fn is_example(b: &Block) -> bool {
    matches!(b.lang.as_str(), "sh" | "bash" | "shell" | "console" | "")
        && (b.text.contains("burnbar ") || b.text.contains("cargo run"))
}

fn pages() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

/// A folder with `burnbar` (this build) and a `cargo` that runs it for `cargo run`.
fn bin_dir(scratch: &Path) -> PathBuf {
    let bin = scratch.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let link = bin.join("burnbar");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_burnbar"), &link).unwrap();
    let cargo = bin.join("cargo");
    std::fs::write(
        &cargo,
        "#!/bin/sh\n\
         # The examples' `cargo run [--release] -- ARGS`: this build's burnbar runs ARGS.\n\
         if [ \"$1\" = run ]; then\n\
           while [ $# -gt 0 ] && [ \"$1\" != -- ]; do shift; done\n\
           [ \"$1\" = -- ] && shift\n\
           exec burnbar \"$@\"\n\
         fi\n\
         echo \"examples test: only cargo run is run here, not: cargo $*\" >&2\n\
         exit 127\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

#[test]
fn every_command_example_in_the_readme_and_docs_runs() {
    let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("burnbar-examples");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).unwrap();
    let bin = bin_dir(&scratch);
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let started = Instant::now();
    let (mut ran, mut skipped, mut failures) = (0, 0, Vec::new());
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        let name = page.file_name().unwrap().to_string_lossy().into_owned();
        let dir = scratch.join(name.trim_end_matches(".md"));
        std::fs::create_dir_all(&dir).unwrap();
        for b in blocks(&text).into_iter().filter(is_example) {
            let at = format!("{name}:{}", b.line);
            if let Some(reason) = &b.no_run {
                assert!(!reason.is_empty(), "{at}: a no-run marker needs its reason");
                skipped += 1;
                continue;
            }
            ran += 1;
            let out = dir.join(format!("stdout-{}.txt", b.line));
            let t0 = Instant::now();
            let mut child = Command::new("bash")
                .args(["-e", "-o", "pipefail", "-c", &b.text])
                .current_dir(&dir)
                .env("PATH", &path)
                .stdin(Stdio::null())
                .stdout(File::create(&out).unwrap())
                .stderr(Stdio::piped())
                .spawn()
                .expect("run bash");
            let err_pipe = child.stderr.take().unwrap();
            let err_reader = std::thread::spawn(move || {
                let mut s = String::new();
                let _ = std::io::Read::read_to_string(&mut { err_pipe }, &mut s);
                s
            });
            let status = loop {
                if let Some(st) = child.try_wait().unwrap() {
                    break Some(st);
                }
                if t0.elapsed() > LIMIT {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                std::thread::sleep(Duration::from_millis(50));
            };
            let err = err_reader.join().unwrap();
            match status {
                Some(st) if st.success() => {
                    eprintln!("ok - {at} ({:.1} s)", t0.elapsed().as_secs_f64());
                }
                Some(st) => failures.push(format!(
                    "{at} failed ({st}):\n{}\n--- stderr:\n{err}",
                    b.text
                )),
                None => failures.push(format!(
                    "{at} ran over {LIMIT:?} (mark it <!-- no-run: REASON --> if it must):\n{}",
                    b.text
                )),
            }
        }
    }
    eprintln!(
        "{ran} examples ran, {skipped} marked no-run, in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(
        ran >= 4,
        "only {ran} examples found: is the extraction broken?"
    );
}

#[test]
fn the_block_reader_finds_markers() {
    let page = "text\n\n<!-- no-run: needs AWS -->\n```sh\nburnbar demo\n```\n\n```sh\nburnbar simulate\n```\n";
    let b = blocks(page);
    assert_eq!(b.len(), 2);
    assert_eq!(b[0].no_run.as_deref(), Some("needs AWS"));
    assert_eq!(b[1].no_run, None);
    assert!(b.iter().all(is_example));
}
