//! The AppSync resolvers (`appsync/*.js`):
//!
//! - linted with AWS's `@aws-appsync/eslint-plugin`, `recommended` rules
//!   (`tests/appsync/eslint.config.mjs`): what the APPSYNC_JS runtime refuses (`continue`,
//!   `try`, `while`, unsupported built-in methods such as `String.padStart`, functions
//!   passed where the runtime takes none, recursion, ...), so AppSync never rejects the code
//!   at deploy time or fails it at run time;
//! - unit-tested in node's test runner (`tests/appsync/resolvers.test.js`) against
//!   `@aws-appsync/utils`, the package the resolvers import, whose `util` a small stand-in
//!   of the runtime fills (`tests/appsync/runtime.js`): the IAM-only mutations (the
//!   writer's role and nobody else), the TTL filters of the queries, RaceState's round
//!   trip, and the `history` bound.
//!
//! Needs node and the packages of `tests/appsync/package-lock.json`:
//! `bash scripts/setup-browser && bash scripts/setup-appsync` (`scripts/test-all` runs both).

use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn installed() -> bool {
    root()
        .join("tests/appsync/node_modules/@aws-appsync/eslint-plugin")
        .is_dir()
}

fn output(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("{cmd:?} did not run ({e}): run scripts/setup-browser and scripts/setup-appsync")
    });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn the_resolvers_pass_the_appsync_eslint_plugin() {
    assert!(installed(), "run scripts/setup-appsync");
    let (ok, text) = output(
        Command::new(root().join("tests/appsync/node_modules/.bin/eslint"))
            .args([
                "--max-warnings",
                "0",
                "-c",
                "tests/appsync/eslint.config.mjs",
                "appsync/",
            ])
            .current_dir(root()),
    );
    assert!(ok, "eslint (@aws-appsync/eslint-plugin):\n{text}");
}

#[test]
fn the_resolvers_unit_tests_pass_in_node() {
    assert!(installed(), "run scripts/setup-appsync");
    let (ok, text) = output(
        Command::new("node")
            .args([
                "--import",
                "./register.mjs",
                "--test",
                "--test-reporter=tap",
                "resolvers.test.js",
            ])
            .current_dir(root().join("tests/appsync")),
    );
    assert!(ok, "tests/appsync/resolvers.test.js:\n{text}");
    // Every test ran (none skipped by a filter or lost to a load error).
    assert!(text.contains("# fail 0"), "{text}");
    let pass: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("# pass "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(pass >= 20, "only {pass} resolver tests passed:\n{text}");
}

/// The pages' rule for a link's `?api=` / `?realtime=` (issue 15 item 9): only the page's
/// own server, its configured API, or one config.json lists (`tests/appsync/pages.test.js`,
/// the module `web/appsync.js` as the pages load it).
#[test]
fn a_link_cannot_point_the_pages_at_another_server() {
    assert!(installed(), "run scripts/setup-appsync");
    let (ok, text) = output(
        Command::new("node")
            .args([
                "--import",
                "./register.mjs",
                "--test",
                "--test-reporter=tap",
                "pages.test.js",
            ])
            .current_dir(root().join("tests/appsync")),
    );
    assert!(ok, "tests/appsync/pages.test.js:\n{text}");
    assert!(
        text.contains("# fail 0") && text.contains("# pass 3"),
        "{text}"
    );
}
