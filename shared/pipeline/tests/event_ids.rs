//! Stored event ids are a persisted format (events are stored under them; car items keep
//! the ids of the events applied to them): this build's ids and the previous format's,
//! which it still recognises after a deploy, are pinned by committed fixtures.

use burnbar_core::contract::{Event, Record};
use burnbar_core::decode::decode_line;
use burnbar_core::event_key::{EVENT_ID_FORMAT, legacy_id};

const LINES: &str = include_str!("fixtures/event-lines.ndjson");

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn ids(f: impl Fn(&Event) -> String) -> String {
    let mut out = String::new();
    for line in LINES.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(Record::Event(e)) = decode_line(line.as_bytes()) else {
            panic!("not an event: {line}");
        };
        out += &format!("{}\n", f(&e));
    }
    out
}

#[test]
fn this_builds_event_ids_are_pinned() {
    let got = ids(burnbar_pipeline::race::event_id);
    let name = format!("event-ids-v{EVENT_ID_FORMAT}.txt");
    if std::env::var_os("BURNBAR_BLESS").is_some() {
        std::fs::write(fixture(&name), &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(fixture(&name)).unwrap_or_default();
    assert!(
        got == want,
        "stored event ids changed against tests/fixtures/{name}: events stored before a \
         deploy would be applied again. Bump EVENT_ID_FORMAT in \
         shared/core/src/event_key.rs, teach the reader the previous ids (legacy_id), and \
         bless the new fixture with BURNBAR_BLESS=1"
    );
}

#[test]
fn the_previous_formats_ids_are_still_computed_exactly() {
    let want = std::fs::read_to_string(fixture("event-ids-v1.txt")).unwrap();
    assert_eq!(
        ids(legacy_id),
        want,
        "legacy_id no longer gives the ids format 1 stored"
    );
    // Format 2 keys the same events differently: the reader needs both.
    assert_ne!(ids(burnbar_pipeline::race::event_id), want);
}
