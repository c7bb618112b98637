//! The car blob is a persisted format (postcard, not self-describing, in DynamoDB): a
//! committed blob of each format this build reads pins its layout. A change to the
//! layout of `CarState`, the applied ids or the outbox fails here and says what to do.

use burnbar_pipeline::item::{BLOB_FORMAT, decode_blob, encode_blob};

fn fixture(format: u8) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/fixtures/car-blob-v{format}.hex"))
}

fn read_hex(format: u8) -> Option<Vec<u8>> {
    let text = std::fs::read_to_string(fixture(format)).ok()?;
    let t = text.trim();
    Some(
        (0..t.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&t[i..i + 2], 16).expect("hex"))
            .collect(),
    )
}

/// A blob of this build's format, written by the version that introduced it, decodes
/// and encodes back to the same bytes: the layout is what that version wrote.
#[test]
fn the_car_blob_layout_is_pinned() {
    if std::env::var_os("BURNBAR_BLESS").is_some() && read_hex(BLOB_FORMAT).is_none() {
        // A new format's fixture: the previous format's real item, read and written again.
        let prev = read_hex(BLOB_FORMAT - 1).expect("the previous format's fixture");
        let item = decode_blob(&prev, 7).unwrap();
        let hex: String = encode_blob(&item)
            .unwrap()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        std::fs::write(fixture(BLOB_FORMAT), hex + "\n").unwrap();
    }
    let blob = read_hex(BLOB_FORMAT).unwrap_or_else(|| {
        panic!(
            "no fixture of car blob format {BLOB_FORMAT} ({}): write one from a real item \
             of this format",
            fixture(BLOB_FORMAT).display()
        )
    });
    let advice = format!(
        "the car blob's layout changed against tests/fixtures/car-blob-v{BLOB_FORMAT}.hex: \
         items stored by the deployed version would not decode. Bump BLOB_FORMAT in \
         shared/pipeline/src/item.rs, keep a reader of format {BLOB_FORMAT}, and commit a \
         fixture of the new format"
    );
    let item = decode_blob(&blob, 7).unwrap_or_else(|e| panic!("{advice}: {e}"));
    assert_eq!(encode_blob(&item).unwrap(), blob, "{advice}");
    assert_eq!(item.version, 7);
    assert!(!item.applied.is_empty() && item.state.max_ts.is_some());
}

/// Every earlier format this build reads (a deploy in the middle of a race) decodes.
#[test]
fn the_previous_formats_still_decode() {
    for format in 3..BLOB_FORMAT {
        let blob = read_hex(format).expect("a fixture of each format the reader keeps");
        let item = decode_blob(&blob, 1).unwrap_or_else(|e| panic!("format {format}: {e}"));
        assert!(item.state.max_ts.is_some(), "format {format}");
    }
}
