//! The AppSync resolvers (`appsync/*.js`) in node, with a stand-in for
//! `@aws-appsync/utils`: `tests/appsync/resolvers.mjs` checks that they use nothing the
//! APPSYNC_JS runtime refuses, that RaceState (its fuel window and call threshold
//! included) goes through `publishRaceState` and back out of `raceState`, and that the
//! queries skip expired batches. Needs node (`scripts/setup-browser` installs it).

use std::path::Path;
use std::process::Command;

#[test]
fn the_appsync_resolvers_in_node() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/appsync/resolvers.mjs");
    let out = Command::new("node")
        .arg(&script)
        .output()
        .unwrap_or_else(|e| panic!("node did not run ({e}): run scripts/setup-browser"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "tests/appsync/resolvers.mjs:\n{text}");
    assert_eq!(text.matches("ok - ").count(), 4, "{text}");
}
