//! The fast path (`event/scan.rs`) on bodies written by hand: Lambda's own shape (and the
//! repository's sample events) taken, every refusal falling back whole to the serde path
//! with its reason, and strings checked exactly as serde_json checks them. The generated
//! events that hold both paths to `aws_lambda_events` are in `tests.rs`.

use aws_lambda_events::event::kinesis::KinesisEvent;
use proptest::prelude::*;

use super::KinesisBatch;
use super::tests::same_records;

/// A record as Lambda writes it, with `kinesis` fields `k` (JSON text, spliced in).
fn event_with(k: &str) -> String {
    format!(
        r#"{{"Records":[{{"kinesis":{{"kinesisSchemaVersion":"1.0","partitionKey":"7","sequenceNumber":"4959","data":"eyJ2IjoxfQo=","approximateArrivalTimestamp":1545084650.987}},"eventSource":"aws:kinesis","eventVersion":"1.0","eventID":"shardId-000000000006:4959","eventName":"aws:kinesis:record","awsRegion":"us-east-2"}},{{"kinesis":{{{k}}},"eventName":"aws:kinesis:record","invokeIdentityArn":null}}]}}"#
    )
}

const PLAIN: &str =
    r#""sequenceNumber":"2","data":"QQ==","approximateArrivalTimestamp":1545084650"#;

/// Why the fast path refused `body`, and what the serde path made of it.
fn fell_back(body: &[u8]) -> (super::Fallback, Result<KinesisBatch, String>) {
    let why = KinesisBatch::scan(body).expect_err("the fast path refuses it");
    (
        why,
        KinesisBatch::from_slice(body).map_err(|e| e.to_string()),
    )
}

#[test]
fn the_fast_path_takes_lambdas_shape_whitespace_included() {
    let body = event_with(PLAIN);
    let fast = KinesisBatch::scan(body.as_bytes()).expect("Lambda's shape takes the fast path");
    let r = fast.records();
    assert_eq!(
        (r[0].sequence_number, r[0].data),
        ("4959", &b"{\"v\":1}\n"[..])
    );
    assert_eq!((r[1].sequence_number, r[1].data), ("2", &b"A"[..]));
    drop(r);
    // JSON's four whitespace characters wherever JSON allows them: the same records.
    let spaced = body
        .replace('{', " {\n\t")
        .replace("\":", "\"\r : ")
        .replace(',', " ,\n")
        .replace('[', "[ ")
        .replace(']', "\t]\r\n");
    let spaced = KinesisBatch::scan(spaced.as_bytes()).expect("whitespace stays on the fast path");
    assert_eq!(spaced.records()[1].data, b"A");
    // A form feed is not JSON whitespace: serde refuses it, and so does the event.
    let ff = body.replacen(':', ":\x0c", 1);
    let (why, slow) = fell_back(ff.as_bytes());
    assert_eq!(why, super::Fallback::Syntax);
    assert!(slow.is_err());
    // No records at all, and missing optional fields (sequence number: empty).
    assert_eq!(
        KinesisBatch::scan(b" {\"Records\" : [ ] } ").unwrap().len(),
        0
    );
    let b = KinesisBatch::scan(
        br#"{"Records":[{"kinesis":{"data":"","approximateArrivalTimestamp":0}}]}"#,
    )
    .unwrap();
    assert_eq!(
        (b.records()[0].sequence_number, b.records()[0].data),
        ("", &b""[..])
    );
}

#[test]
fn a_truncated_body_falls_back_and_fails() {
    let body = event_with(PLAIN);
    for end in 0..body.len() {
        let cut = &body.as_bytes()[..end];
        assert!(KinesisBatch::scan(cut).is_err(), "took a body cut at {end}");
        assert!(
            KinesisBatch::from_slice(cut).is_err(),
            "accepted a body cut at {end}"
        );
    }
}

#[test]
fn trailing_garbage_falls_back_and_fails() {
    let body = event_with(PLAIN);
    let (why, slow) = fell_back(format!("{body} x").as_bytes());
    assert_eq!(why, super::Fallback::Trailing);
    assert!(slow.unwrap_err().contains("trailing characters"));
    let (why, slow) = fell_back(format!("{body}{body}").as_bytes());
    assert_eq!(why, super::Fallback::Trailing);
    assert!(slow.is_err());
    assert!(KinesisBatch::scan(format!("{body} \r\n\t").as_bytes()).is_ok());
}

#[test]
fn a_control_character_or_bad_utf8_in_a_string_falls_back_and_fails() {
    for body in [
        event_with(PLAIN).replace("aws:kinesis:record\",\"i", "aws:kinesis\u{1}:record\",\"i"),
        event_with(
            "\"sequenceNumber\":\"2\n\",\"data\":\"QQ==\",\"approximateArrivalTimestamp\":1",
        ),
        event_with("\"partitionKey\":\"a\tb\",\"data\":\"QQ==\",\"approximateArrivalTimestamp\":1"),
        event_with("\"data\":\"QQ=\u{1f}\",\"approximateArrivalTimestamp\":1"),
    ] {
        let (why, slow) = fell_back(body.as_bytes());
        assert_eq!(why, super::Fallback::Text, "{body}");
        assert!(slow.unwrap_err().contains("control character"), "{body}");
    }
    let mut body =
        event_with(r#""partitionKey":"ab","data":"QQ==","approximateArrivalTimestamp":1"#)
            .into_bytes();
    let at = body.windows(4).position(|w| w == b"\"ab\"").unwrap() + 1;
    body[at] = 0xff;
    let (why, slow) = fell_back(&body);
    assert_eq!(why, super::Fallback::Text);
    assert!(slow.is_err());
    assert!(serde_json::from_slice::<KinesisEvent>(&body).is_err());
    // DEL is not a control character to JSON: the fast path takes it.
    let del = event_with(
        "\"partitionKey\":\"a\u{7f}\",\"data\":\"QQ==\",\"approximateArrivalTimestamp\":1",
    );
    assert!(KinesisBatch::scan(del.as_bytes()).is_ok());
}

#[test]
fn duplicate_or_missing_fields_fall_back_and_fail() {
    let dup = event_with(r#""data":"QQ==","data":"QQ==","approximateArrivalTimestamp":1"#);
    let (why, slow) = fell_back(dup.as_bytes());
    assert_eq!(why, super::Fallback::DuplicateKey);
    assert!(slow.unwrap_err().contains("duplicate field `data`"));
    let dup =
        event_with(PLAIN).replacen("\"eventSource\":", "\"eventName\":null,\"eventSource\":", 1);
    let (why, slow) = fell_back(dup.as_bytes());
    assert_eq!(why, super::Fallback::DuplicateKey);
    assert!(slow.unwrap_err().contains("duplicate field `eventName`"));

    let no_kinesis = r#"{"Records":[{"eventName":"aws:kinesis:record"}]}"#;
    let (why, slow) = fell_back(no_kinesis.as_bytes());
    assert_eq!(why, super::Fallback::Missing);
    assert!(slow.unwrap_err().contains("missing field `kinesis`"));
    let (why, slow) = fell_back(event_with(r#""data":"QQ==""#).as_bytes());
    assert_eq!(why, super::Fallback::Missing);
    assert!(
        slow.unwrap_err()
            .contains("missing field `approximateArrivalTimestamp`")
    );
    let (why, slow) = fell_back(event_with(r#""approximateArrivalTimestamp":1"#).as_bytes());
    assert_eq!(why, super::Fallback::Missing);
    assert!(slow.unwrap_err().contains("missing field `data`"));
    let (why, slow) = fell_back(b"{}");
    assert_eq!(why, super::Fallback::Missing);
    assert!(slow.unwrap_err().contains("missing field `Records`"));
    // Null where the field is not optional: serde refuses it.
    let (why, slow) = fell_back(
        event_with(r#""partitionKey":null,"data":"QQ==","approximateArrivalTimestamp":1"#)
            .as_bytes(),
    );
    assert_eq!(why, super::Fallback::Syntax);
    assert!(slow.is_err());
}

#[test]
fn undecodable_data_is_quarantined_with_the_same_reason_on_both_paths() {
    let body =
        event_with(r#""sequenceNumber":"2","data":"not base64!","approximateArrivalTimestamp":1"#);
    let fast = KinesisBatch::scan(body.as_bytes()).expect("stays on the fast path");
    let slow: KinesisBatch = serde_json::from_str(&body).unwrap();
    let (f, s) = (fast.records(), slow.records());
    let (fu, su) = (f[1].undecodable.unwrap(), s[1].undecodable.unwrap());
    assert_eq!(fu.text, b"not base64!");
    assert_eq!(fu.reason, su.reason);
    assert_eq!(
        fu.reason,
        "the record's data is not valid base64: Invalid symbol 32, offset 3."
    );
    assert_eq!(f[1].data, b"");
    // The records around it decode.
    assert_eq!(f[0].data, b"{\"v\":1}\n");
}

#[test]
fn escapes_unknown_keys_and_unusual_forms_fall_back_and_decode_the_same() {
    use super::Fallback::*;
    let cases: [(String, super::Fallback); 7] = [
        // `//8=` with its slashes escaped: bytes ff ff.
        (
            event_with(r#""sequenceNumber":"2","data":"\/\/8=","approximateArrivalTimestamp":1"#),
            Escape,
        ),
        (
            event_with(
                r#""sequenceNumber":"4\u00395","data":"QQ==","approximateArrivalTimestamp":1"#,
            ),
            Escape,
        ),
        (
            event_with(
                r#""sequenceNumber":"2","data":"QQ==","approximateArrivalTimestamp":1,"extra":[1,{"a":null}]"#,
            ),
            UnknownKey,
        ),
        (
            event_with(r#""sequenceNumber":"2","data":"QQ==","approximateArrivalTimestamp":1e9"#),
            Number,
        ),
        (
            event_with(
                r#""sequenceNumber":"2","data":"QQ==","approximateArrivalTimestamp":"1545084650.5""#,
            ),
            Number,
        ),
        (
            event_with(
                r#""sequenceNumber":"2","data":"QQ==","approximateArrivalTimestamp":1,"encryptionType":"\u004BMS""#,
            ),
            Escape,
        ),
        (
            format!(r#"{{"Other":{{"Records":5}},"Records":[{{"kinesis":{{{PLAIN}}}}}]}}"#),
            UnknownKey,
        ),
    ];
    for (body, want) in cases {
        let (why, slow) = fell_back(body.as_bytes());
        assert_eq!(why, want, "{body}");
        let slow = slow.unwrap_or_else(|e| panic!("serde decodes {body}: {e}"));
        let theirs: KinesisEvent = serde_json::from_str(&body).unwrap();
        let r = slow.records();
        assert_eq!(r.len(), theirs.records.len());
        for (o, t) in r.iter().zip(&theirs.records) {
            assert_eq!(o.sequence_number, t.kinesis.sequence_number);
            assert_eq!(o.data, &t.kinesis.data.0[..]);
        }
    }
    let r = KinesisBatch::from_slice(
        event_with(
            r#""sequenceNumber":"4\u00395","data":"\/\/8=","approximateArrivalTimestamp":1"#,
        )
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(
        (r.records()[1].sequence_number, r.records()[1].data),
        ("495", &[0xff, 0xff][..])
    );
    // Forms serde refuses fall back too, and fail.
    // (Four decimals: aws_lambda_events reads them as milliseconds, over 999.)
    for ts in ["-5", "01", "1.", "\"inf\"", "1e400", "1545084650.1234"] {
        let body = event_with(&format!(
            r#""data":"QQ==","approximateArrivalTimestamp":{ts}"#
        ));
        let (why, slow) = fell_back(body.as_bytes());
        assert_eq!(why, Number, "{ts}");
        assert!(slow.is_err(), "{ts}");
    }
    let body =
        event_with(r#""data":"QQ==","approximateArrivalTimestamp":1,"encryptionType":"kms""#);
    let (why, slow) = fell_back(body.as_bytes());
    assert_eq!(why, EncryptionType);
    assert!(slow.is_err());
}

proptest! {
    /// The fast path's string check (eight bytes at a time, then byte by byte) against
    /// serde_json's, on raw bytes of every kind at every position and length: a string
    /// is taken exactly when serde_json reads it (UTF-8, no control character).
    #[test]
    fn strings_checked_as_serde_json_checks_them(
        s in proptest::collection::vec(
            prop_oneof![
                4 => Just(b'a'), 1 => Just(b' '), 1 => Just(0x7f), 1 => Just(0x01),
                1 => Just(0x1f), 1 => Just(0xc3), 1 => Just(0xa9), 1 => Just(0xff),
                1 => Just(0x80), 1 => Just(0xe2),
            ],
            0..40,
        ),
        at in 0..2usize,
    ) {
        let key = ["partitionKey", "sequenceNumber"][at];
        let mut body = event_with(&format!(r#""{key}":"@","data":"QQ==","approximateArrivalTimestamp":1"#))
            .into_bytes();
        let p = body.iter().position(|&b| b == b'@').unwrap();
        body.splice(p..p + 1, s.iter().copied());
        let theirs = serde_json::from_slice::<KinesisEvent>(&body);
        match KinesisBatch::scan(&body) {
            Ok(b) => {
                let theirs = theirs.expect("serde_json reads what the fast path took");
                prop_assert_eq!(b.records()[1].sequence_number, &theirs.records[1].kinesis.sequence_number);
            }
            Err(why) => {
                prop_assert_eq!(why, super::Fallback::Text);
                prop_assert!(theirs.is_err());
                prop_assert!(KinesisBatch::from_slice(&body).is_err());
            }
        }
    }
}

/// The repository's sample Kinesis events (what the functions' end-to-end tests invoke
/// them with, pretty-printed as `sam local generate-event` writes them) take the fast
/// path, and decode to the serde path's records.
#[test]
fn the_sample_events_take_the_fast_path() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events");
    for name in [
        "telemetry-processor.json",
        "telemetry-processor-bad.json",
        "race-control.json",
        "race-control-bad.json",
    ] {
        let body = std::fs::read(dir.join(name)).unwrap();
        let fast = KinesisBatch::scan(&body).unwrap_or_else(|why| panic!("{name}: {why:?}"));
        let slow: KinesisBatch = serde_json::from_slice(&body).unwrap();
        assert!(!fast.is_empty(), "{name}");
        same_records(&fast, &slow).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

proptest! {
    /// The strings Lambda repeats in every record (region, ARNs, versions, …) are
    /// compared with the last record's value and only checked again when they differ:
    /// a value that changes from record to record, into a prefix or an extension of the
    /// last, into `null`, a control character or broken UTF-8, is still read exactly as
    /// serde_json reads it.
    #[test]
    fn repeated_strings_are_checked_whenever_they_change(
        values in proptest::collection::vec(
            prop_oneof![
                Just(&b"\"arn:aws:kinesis\""[..]), Just(&b"\"arn:aws:kinesis\""[..]),
                Just(&b"\"arn:aws:kinesi\""[..]), Just(&b"\"arn:aws:kinesisx\""[..]),
                Just(&b"\"arn:aws:kinesis\x01\""[..]), Just(&b"\"arn:aws:kinesis\xff\""[..]),
                Just(&b"\"arn:aws:kines\x1fs\""[..]), Just(&b"null"[..]), Just(&b"\"\""[..]),
            ],
            1..5,
        ),
        field in prop_oneof![
            Just("awsRegion"), Just("eventName"), Just("eventSource"), Just("eventSourceARN"),
            Just("eventVersion"), Just("invokeIdentityArn"), Just("kinesisSchemaVersion"),
        ],
    ) {
        let mut body = b"{\"Records\":[".to_vec();
        for (n, v) in values.iter().enumerate() {
            if n > 0 {
                body.push(b',');
            }
            let (outer, inner) = if field == "kinesisSchemaVersion" {
                (String::new(), format!("\"{field}\":"))
            } else {
                (format!("\"{field}\":"), String::new())
            };
            body.extend_from_slice(b"{");
            body.extend_from_slice(outer.as_bytes());
            if !outer.is_empty() {
                body.extend_from_slice(v);
                body.push(b',');
            }
            body.extend_from_slice(b"\"kinesis\":{");
            body.extend_from_slice(inner.as_bytes());
            if !inner.is_empty() {
                body.extend_from_slice(v);
                body.push(b',');
            }
            body.extend_from_slice(
                format!(r#""sequenceNumber":"{n}","data":"QQ==","approximateArrivalTimestamp":1}}}}"#)
                    .as_bytes(),
            );
        }
        body.extend_from_slice(b"]}");
        let theirs = serde_json::from_slice::<KinesisEvent>(&body);
        match KinesisBatch::scan(&body) {
            Ok(fast) => {
                prop_assert!(theirs.is_ok(), "serde_json refuses what the fast path took");
                let slow: KinesisBatch = serde_json::from_slice(&body).unwrap();
                same_records(&fast, &slow)?;
            }
            Err(why) => {
                prop_assert_eq!(why, super::Fallback::Text);
                prop_assert!(theirs.is_err());
            }
        }
    }

    /// The scanner takes a timestamp by its syntax alone (at most 12 digits and 3
    /// decimals) without computing it: every such number is one the serde path reads as
    /// valid seconds.
    #[test]
    fn every_plain_timestamp_the_scanner_takes_is_valid_seconds(
        int in 0u64..1_000_000_000_000,
        decimals in proptest::option::of((1usize..4, 0u64..1000)),
    ) {
        let text = match decimals {
            None => int.to_string(),
            Some((d, f)) => format!("{int}.{:0d$}", f % 10u64.pow(d as u32)),
        };
        let body = event_with(&format!(
            r#""sequenceNumber":"2","data":"QQ==","approximateArrivalTimestamp":{text}"#
        ));
        prop_assert!(KinesisBatch::scan(body.as_bytes()).is_ok(), "{}", text);
        let secs: f64 = serde_json::from_str(&text).unwrap();
        prop_assert!(super::seconds_valid(secs).is_ok(), "{}", text);
        prop_assert!(serde_json::from_slice::<KinesisEvent>(body.as_bytes()).is_ok(), "{}", text);
    }
}

proptest! {
    /// The inlined compare of keys and repeated values is `==` for every length and
    /// every position of a difference.
    #[test]
    fn the_word_compare_is_equality(
        a in proptest::collection::vec(any::<u8>(), 0..100),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        prop_assert!(super::scan::same(&a, &a));
        if !a.is_empty() {
            let mut b = a.clone();
            b[flip.index(a.len())] ^= 1 << bit;
            prop_assert!(!super::scan::same(&a, &b));
            prop_assert!(!super::scan::same(&a, &a[1..]));
        }
    }
}
