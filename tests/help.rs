//! `docs/cli.md`'s synopsis, `--help` and the README agree: every command of the
//! top-level help is in the synopsis and back, each command's flags in its `--help` are
//! the synopsis' flags for it, and the README shows the same synopsis.

use std::collections::BTreeSet;
use std::path::Path;

fn burnbar(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_burnbar"))
        .args(args)
        .output()
        .expect("run burnbar")
}

/// The first ```text block of `page`.
fn synopsis(page: &str) -> String {
    let mut lines = page.lines().skip_while(|l| !l.starts_with("```text"));
    lines.next().expect("a ```text synopsis block");
    lines
        .take_while(|l| !l.starts_with("```"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

/// `--flag` words of `text`.
fn flags(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("--") {
        let after = &rest[i + 2..];
        let end = after
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
            .unwrap_or(after.len());
        let name = &after[..end];
        let before_ok = i == 0 || !rest[..i].ends_with(|c: char| c.is_alphanumeric());
        if before_ok && !name.is_empty() && name.starts_with(|c: char| c.is_ascii_lowercase()) {
            out.insert(name.to_owned());
        }
        rest = &after[end..];
    }
    out
}

/// The synopsis per command: its name and its text (continuation lines included).
fn commands(synopsis: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in synopsis.lines() {
        if let Some(rest) = line.strip_prefix("burnbar ") {
            let name = rest.split_whitespace().next().unwrap().to_owned();
            out.push((name, rest.to_owned()));
        } else if let Some(last) = out.last_mut() {
            last.1.push(' ');
            last.1.push_str(line);
        }
    }
    out
}

/// The option flags of a `--help` (its lines that start with a flag), without help and
/// version.
fn help_flags(help: &str) -> BTreeSet<String> {
    help.lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("--") || l.starts_with('-') && l.contains(", --"))
        .filter_map(|l| {
            // `-h, --help`: the long flag after the short one.
            let l = if l.starts_with("--") {
                l
            } else {
                l.split_once(", ").map_or(l, |(_, r)| r)
            };
            flags(l.split_whitespace().next()?).into_iter().next()
        })
        .filter(|f| f != "help" && f != "version")
        .collect()
}

#[test]
fn each_command_help_matches_the_synopsis() {
    let cli = read("docs/cli.md");
    let syn = synopsis(&cli);
    let cmds = commands(&syn);
    let top = String::from_utf8(burnbar(&["--help"]).stdout).unwrap();
    let listed: BTreeSet<String> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|c| c != "help")
        .collect();
    let in_synopsis: BTreeSet<String> = cmds.iter().map(|c| c.0.clone()).collect();
    assert_eq!(
        listed, in_synopsis,
        "the commands of --help and of docs/cli.md's synopsis differ"
    );
    for (cmd, text) in &cmds {
        let help = String::from_utf8(burnbar(&[cmd.as_str(), "--help"]).stdout).unwrap();
        assert_eq!(
            help_flags(&help),
            flags(text),
            "`burnbar {cmd} --help` and docs/cli.md's synopsis list different flags:\n{help}"
        );
    }
}

#[test]
fn the_readme_shows_the_same_synopsis() {
    assert_eq!(
        synopsis(&read("README.md")),
        synopsis(&read("docs/cli.md")),
        "README.md's command-line synopsis differs from docs/cli.md's"
    );
}

#[test]
fn the_flag_reader_reads_flags() {
    assert_eq!(
        flags("FILE ... [--out FILE] [--feed DIR [--feed-every SECONDS]] a--b"),
        ["feed", "feed-every", "out"]
            .map(str::to_owned)
            .into_iter()
            .collect()
    );
    let help = "Options:\n      --out <OUT>\n          Write\n  -h, --help\n          Print help\n";
    assert_eq!(help_flags(help), ["out".to_owned()].into_iter().collect());
}
