//! The same events decoded both ways: by [`KinesisBatch`] and by `aws_lambda_events`'
//! `KinesisEvent`. Generated events vary what valid JSON may vary (field order, escapes
//! in every string, extra fields, optional fields missing or null, numbers or strings
//! for the timestamp) and what makes an event invalid (a wrong type, a missing or
//! duplicated field, data that is not base64).

use aws_lambda_events::event::kinesis::KinesisEvent;
use base64::Engine as _;
use proptest::prelude::*;

use super::KinesisBatch;

/// A JSON string for `s`, each character escaped (`\uXXXX`, or `\/`) where `esc` says.
fn jstr(s: &str, esc: u64) -> String {
    let mut out = String::from("\"");
    for (i, c) in s.chars().enumerate() {
        let escape = esc >> (i % 64) & 1 == 1;
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' if escape => out.push_str("\\/"),
            c if escape || (c as u32) < 0x20 => {
                let mut b = [0u16; 2];
                for u in c.encode_utf16(&mut b) {
                    out.push_str(&format!("\\u{u:04X}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The data field of a record.
#[derive(Debug, Clone)]
enum DataField {
    /// Base64 of these bytes.
    Valid(Vec<u8>),
    /// Any text over base64's alphabet and padding (valid or not).
    Text(String),
    /// A JSON value that is not a string (`5`, `null`, ...), or the field missing.
    Other(Option<&'static str>),
}

/// A field: key, and its value as JSON text (`None` leaves the field out).
type Field = (&'static str, Option<String>);

fn opt_string(key: &'static str) -> impl Strategy<Value = Field> {
    prop_oneof![
        3 => Just(None),
        1 => Just(Some("null".to_owned())),
        4 => ("[ -~é€😀]{0,12}", any::<u64>()).prop_map(|(s, e)| Some(jstr(&s, e))),
        1 => Just(Some("7".to_owned())),
        1 => Just(Some("{\"a\":1}".to_owned())),
    ]
    .prop_map(move |v| (key, v))
}

#[derive(Debug, Clone)]
struct Rec {
    outer: Vec<Field>,
    kinesis: Vec<Field>,
    data: DataField,
    data_esc: u64,
    /// Where the data field goes among the kinesis fields; a second copy of it if set.
    data_at: usize,
    duplicate_data: bool,
    /// A timestamp as Lambda writes it, for the canonical form of the record.
    canon_ts: String,
}

fn rec() -> impl Strategy<Value = Rec> {
    let outer = (
        opt_string("awsRegion"),
        opt_string("eventID"),
        opt_string("eventName"),
        opt_string("eventSource"),
        opt_string("eventSourceARN"),
        opt_string("eventVersion"),
        opt_string("invokeIdentityArn"),
        prop_oneof![
            Just(None),
            Just(Some("{\"x\":[1,{\"y\":null}]}".to_owned()))
        ]
        .prop_map(|v| ("unknownOuter", v)),
    )
        .prop_map(|(a, b, c, d, e, f, g, h)| vec![a, b, c, d, e, f, g, h]);
    let ts = prop_oneof![
        Just(Some("1700000000.123".to_owned())),
        Just(Some("1700000000".to_owned())),
        Just(Some("\"1700000000.5\"".to_owned())),
        Just(Some("1e9".to_owned())),
        Just(Some("null".to_owned())),
        Just(Some("true".to_owned())),
        Just(None),
        Just(Some("-5".to_owned())),
        Just(Some("1e300".to_owned())),
        Just(Some("5e-324".to_owned())),
        Just(Some("\"inf\"".to_owned())),
        Just(Some("\"NaN\"".to_owned())),
        Just(Some("\"+12.5\"".to_owned())),
        Just(Some("\" 12\"".to_owned())),
        // (Not more than 13 digits after the point: aws_lambda_events multiplies them by
        // a million in a u64, which panics in a debug build past that and wraps in a
        // release build, as ours does.)
        Just(Some("0.1234567890123".to_owned())),
        Just(Some("1700000000.9999".to_owned())),
        Just(Some("1700000059.9999".to_owned())),
        Just(Some("99999999999999".to_owned())),
        Just(Some("18446744073709551616".to_owned())),
        Just(Some("-0.0".to_owned())),
        (0u64..u64::MAX, 0u32..100_000).prop_map(|(a, b)| Some(format!("{a}.{b}"))),
        (-1e30f64..1e30).prop_map(|f| Some(format!("{:.3}", f))),
        (0u32..330).prop_map(|e| Some(format!("1e{e}"))),
        (0u64..2_000_000_000_000_000, 1u32..4).prop_map(|(ms, d)| Some(format!(
            "{}.{:0w$}",
            ms / 1000,
            ms % 1000 / 10u64.pow(3 - d),
            w = d as usize
        ))),
        (-1e13f64..1e13).prop_map(|f| Some(format!("{f}"))),
    ]
    .prop_map(|v| ("approximateArrivalTimestamp", v));
    let enc = prop_oneof![
        Just(None),
        Just(Some("\"NONE\"".to_owned())),
        Just(Some("\"KMS\"".to_owned())),
        Just(Some("\"\\u004BMS\"".to_owned())),
        Just(Some("\"kms\"".to_owned())),
        Just(Some("null".to_owned())),
    ]
    .prop_map(|v| ("encryptionType", v));
    let seq = prop_oneof![
        4 => ("[0-9]{1,56}", any::<u64>()).prop_map(|(s, e)| Some(jstr(&s, e))),
        1 => Just(None),
        1 => Just(Some("null".to_owned())),
        1 => Just(Some("495".to_owned())),
    ]
    .prop_map(|v| ("sequenceNumber", v));
    let kinesis = (
        ts,
        enc,
        opt_string("partitionKey"),
        seq,
        opt_string("kinesisSchemaVersion"),
        prop_oneof![Just(None), Just(Some("[\"extra\", 2.5]".to_owned()))]
            .prop_map(|v| ("unknownInner", v)),
    )
        .prop_map(|(a, b, c, d, e, f)| vec![a, b, c, d, e, f]);
    let data = prop_oneof![
        8 => proptest::collection::vec(any::<u8>(), 0..64).prop_map(DataField::Valid),
        3 => "[A-Za-z0-9+/=]{0,12}".prop_map(DataField::Text),
        1 => "[A-Za-z0-9+/=!\\- ]{0,12}".prop_map(DataField::Text),
        1 => "[A-Za-z0-9+/=\u{1}\u{1f}\u{7f}é€]{0,8}".prop_map(DataField::Text),
        1 => prop_oneof![
            Just(Some("5")),
            Just(Some("null")),
            Just(None),
            Just(Some("[\"QQ==\"]")),
            Just(Some("{\"QQ==\": 1}")),
            // Not JSON strings: a raw control character, a lone surrogate.
            Just(Some("\"QQ\u{1}=\"")),
            Just(Some("\"QQ\\uD800==\"")),
            Just(Some("\"\\uDFFF\"")),
            Just(Some("\"QQ\\x==\"")),
        ]
        .prop_map(DataField::Other),
    ];
    (
        outer,
        kinesis,
        data,
        any::<u64>(),
        0..7usize,
        proptest::bool::weighted(0.05),
        canon_ts(),
    )
        .prop_map(
            |(outer, kinesis, data, data_esc, data_at, duplicate_data, canon_ts)| Rec {
                outer,
                kinesis,
                data,
                data_esc,
                data_at,
                duplicate_data,
                canon_ts,
            },
        )
}

/// Arrival times as Lambda writes them (whole seconds, or up to 3 decimals, trailing
/// zeros kept), up to the scanner's 12 digits.
fn canon_ts() -> impl Strategy<Value = String> {
    (0u64..1_000_000_000_000, 0u32..1000, 0usize..4).prop_map(|(s, ms, d)| match d {
        0 => s.to_string(),
        d => format!("{s}.{:0d$}", ms % 10u32.pow(d as u32)),
    })
}

/// The value of a generated string field with its escapes taken out, or `None` if it is
/// not a string (or is null, with `null_ok` false).
fn plain(v: &Option<String>, null_ok: bool) -> Option<String> {
    match serde_json::from_str::<serde_json::Value>(v.as_deref()?).ok()? {
        serde_json::Value::String(s) => Some(jstr(&s.replace(['"', '\\'], ""), 0)),
        serde_json::Value::Null if null_ok => Some("null".to_owned()),
        _ => None,
    }
}

/// `r` as Lambda would write it: the shape the fast path takes (no escapes, known keys
/// once each, strings or null where optional, a plain decimal timestamp). The data stays
/// what was generated, base64 or not (a record that is not base64 is quarantined by
/// either path).
fn canonical(r: &Rec) -> Rec {
    let field = |(k, v): &Field| -> Field {
        let v = match *k {
            "unknownOuter" | "unknownInner" => None,
            "approximateArrivalTimestamp" => Some(r.canon_ts.clone()),
            "encryptionType" => v.clone().filter(|v| v == "\"NONE\"" || v == "\"KMS\""),
            "partitionKey" | "sequenceNumber" => plain(v, false),
            _ => plain(v, true),
        };
        (k, v)
    };
    let mut kinesis: Vec<Field> = r.kinesis.iter().map(field).collect();
    // Required: the timestamp is always there.
    kinesis[0].1 = Some(r.canon_ts.clone());
    Rec {
        outer: r.outer.iter().map(field).collect(),
        kinesis,
        data: match &r.data {
            DataField::Other(_) => DataField::Valid(vec![]),
            // (A control character would be escaped.)
            DataField::Text(t) => DataField::Text(t.replace(|c: char| c < ' ', "")),
            d => d.clone(),
        },
        data_esc: 0,
        data_at: r.data_at,
        duplicate_data: false,
        canon_ts: r.canon_ts.clone(),
    }
}

/// `fields` as a JSON object in this order (`order` rotates and reverses it).
fn object(fields: &[(String, String)], order: u64) -> String {
    let mut f: Vec<&(String, String)> = fields.iter().collect();
    if !f.is_empty() {
        let n = order as usize % f.len();
        f.rotate_left(n);
    }
    if order & 1 << 40 != 0 {
        f.reverse();
    }
    let body: Vec<String> = f.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    format!("{{{}}}", body.join(" ,\n"))
}

/// The event's JSON; with `sanitise`, data that is text becomes valid base64 ("QQ==").
fn render(recs: &[Rec], order: u64, top_extra: bool, sanitise: bool) -> String {
    let rendered: Vec<String> = recs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let key = |k: &str| jstr(k, r.data_esc.rotate_left(i as u32 + 7) & 0x5);
            let mut kin: Vec<(String, String)> = r
                .kinesis
                .iter()
                .filter_map(|(k, v)| v.clone().map(|v| (key(k), v)))
                .collect();
            let data = match &r.data {
                DataField::Valid(b) => Some(jstr(
                    &base64::engine::general_purpose::STANDARD.encode(b),
                    r.data_esc,
                )),
                DataField::Text(_) if sanitise => Some("\"QQ==\"".to_owned()),
                DataField::Text(t) => Some(jstr(t, r.data_esc)),
                DataField::Other(v) => v.map(str::to_owned),
            };
            if let Some(d) = data {
                let at = r.data_at.min(kin.len());
                kin.insert(at, (key("data"), d.clone()));
                if r.duplicate_data {
                    kin.push((key("data"), d));
                }
            }
            let mut outer: Vec<(String, String)> = r
                .outer
                .iter()
                .filter_map(|(k, v)| v.clone().map(|v| (key(k), v)))
                .collect();
            outer.push(("\"kinesis\"".to_owned(), format!("{}", KinObj(&kin))));
            object(&outer, order.rotate_left(i as u32))
        })
        .collect();
    let mut top = vec![(
        "\"Records\"".to_owned(),
        format!("[{}]", rendered.join(",")),
    )];
    if top_extra {
        top.push(("\"Other\"".to_owned(), "{\"Records\": 5}".to_owned()));
    }
    object(&top, order)
}

struct KinObj<'a>(&'a [(String, String)]);

impl std::fmt::Display for KinObj<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(&object(self.0, 3))
    }
}

/// Decodes `text` both ways and holds them to the same answer; the fast path, where it
/// takes the event, to the serde path's records; a canonical event to the fast path.
fn check(recs: &[Rec], order: u64, top_extra: bool, canonical: bool) -> Result<(), TestCaseError> {
    let text = render(recs, order, top_extra, false);
    let theirs = serde_json::from_str::<KinesisEvent>(&text);
    let fast = KinesisBatch::scan(text.as_bytes());
    if canonical {
        prop_assert!(
            fast.is_ok(),
            "the fast path refused ({fast:?}) a canonical event:\n{text}"
        );
    }
    if let Ok(fast) = &fast {
        let slow = serde_json::from_str::<KinesisBatch>(&text);
        prop_assert!(
            slow.is_ok(),
            "the fast path took what serde refuses: {slow:?}\n{text}"
        );
        same_records(fast, &slow.unwrap())?;
    }
    let ours = KinesisBatch::from_slice(text.as_bytes());
    match (&ours, &theirs) {
        (Err(_), Ok(_)) => prop_assert!(false, "we refused what they accept:\n{text}\n{ours:?}"),
        (Err(_), Err(_)) => {}
        (Ok(b), theirs) => {
            let ours = b.records();
            let bad: Vec<usize> = (0..ours.len())
                .filter(|&i| ours[i].undecodable.is_some())
                .collect();
            // A record we keep as undecodable is exactly one the base64 crate refuses.
            for (i, r) in recs.iter().enumerate() {
                if let DataField::Text(t) = &r.data {
                    let valid = base64::engine::general_purpose::STANDARD.decode(t);
                    prop_assert_eq!(valid.is_err(), bad.contains(&i), "{:?}", t);
                    if let Ok(v) = valid {
                        prop_assert_eq!(ours[i].data, &v[..]);
                    } else {
                        let u = ours[i].undecodable.unwrap();
                        prop_assert_eq!(u.text, t.as_bytes());
                        prop_assert!(u.reason.contains("not valid base64"));
                        prop_assert_eq!(ours[i].data, b"");
                    }
                }
            }
            // Without the undecodable data, they accept the event, and agree record by
            // record.
            let theirs = if bad.is_empty() {
                theirs.as_ref().map_err(|e| e.to_string()).cloned()
            } else {
                prop_assert!(theirs.is_err());
                serde_json::from_str::<KinesisEvent>(&render(recs, order, top_extra, true))
                    .map_err(|e| e.to_string())
            };
            let theirs = match theirs {
                Ok(t) => t,
                Err(e) => return Err(TestCaseError::fail(format!("{e}: {text}"))),
            };
            prop_assert_eq!(theirs.records.len(), ours.len());
            for (i, (t, o)) in theirs.records.iter().zip(&ours).enumerate() {
                prop_assert_eq!(&t.kinesis.sequence_number, o.sequence_number);
                // (Text data was held to the base64 crate above; sanitised, theirs is
                // "QQ==" here.)
                if !matches!(recs[i].data, DataField::Text(_)) {
                    prop_assert_eq!(&t.kinesis.data.0[..], o.data);
                }
            }
        }
    }
    Ok(())
}

/// The two paths' batches hold the same records: sequence numbers, data, and for an
/// undecodable record the same reason and text.
pub(super) fn same_records(a: &KinesisBatch, b: &KinesisBatch) -> Result<(), TestCaseError> {
    let (a, b) = (a.records(), b.records());
    prop_assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        prop_assert_eq!(x.sequence_number, y.sequence_number);
        prop_assert_eq!(x.data, y.data);
        prop_assert_eq!(
            x.undecodable.map(|u| (u.reason, u.text)),
            y.undecodable.map(|u| (u.reason, u.text))
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// Two events in three as Lambda writes them (the fast path must take them), the
    /// rest anything JSON allows or refuses (the fast path may take a few: then it must
    /// agree with serde; mostly they fall back).
    #[test]
    fn decodes_what_aws_lambda_events_decodes(
        recs in proptest::collection::vec(rec(), 0..5),
        order in any::<u64>(),
        top_extra in any::<bool>(),
        canonical_event in proptest::bool::weighted(0.67),
    ) {
        if canonical_event {
            let recs: Vec<Rec> = recs.iter().map(canonical).collect();
            check(&recs, order, false, true)?;
        } else {
            check(&recs, order, top_extra, false)?;
        }
    }

    /// Our decoder and the base64 crate (aws_lambda_events') agree on every text over
    /// the alphabet: padding, lengths, and the bits past the last byte.
    #[test]
    fn base64_decoders_agree(t in "[A-Za-z0-9+/=]{0,24}") {
        let theirs = base64::engine::general_purpose::STANDARD.decode(&t).ok();
        let ours = base64_simd::STANDARD.decode_to_vec(&t).ok();
        prop_assert_eq!(theirs, ours);
    }
}

#[test]
fn a_real_event_and_the_buffers_reused() {
    let body = br#"{"Records":[{"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":"7","sequenceNumber":"49590338271490256608559692538361571095921575989136588898","data":"eyJ2IjoxfQo=","approximateArrivalTimestamp":1545084650.987},"eventSource":"aws:kinesis","eventVersion":"1.0","eventID":"shardId-000000000006:49590338271490256608559692538361571095921575989136588898","eventName":"aws:kinesis:record","invokeIdentityArn":"arn:aws:iam::123456789012:role/lambda-role","awsRegion":"us-east-2","eventSourceARN":"arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream"},{"kinesis":{"sequenceNumber":"2","data":"not base64!","approximateArrivalTimestamp":1545084650}}]}"#;
    let b = KinesisBatch::from_slice(body).unwrap();
    let r = b.records();
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].data, b"{\"v\":1}\n");
    assert_eq!(
        r[0].sequence_number,
        "49590338271490256608559692538361571095921575989136588898"
    );
    let u = r[1].undecodable.expect("kept with its reason");
    assert_eq!(u.text, b"not base64!");
    assert!(
        u.reason
            .starts_with("the record's data is not valid base64: "),
        "{}",
        u.reason
    );
    drop(r);
    let cap = b.arena.data.capacity();
    b.recycle();
    // The next event decodes into the same buffer.
    let b = KinesisBatch::from_slice(body).unwrap();
    assert_eq!(b.arena.data.capacity(), cap);
    assert_eq!(b.records()[0].data, b"{\"v\":1}\n");
    // Data that is not UTF-8 is not a JSON string: the event fails.
    let mut bad =
        br#"{"Records":[{"kinesis":{"data":"QQ=","approximateArrivalTimestamp":1}}]}"#.to_vec();
    bad[34] = 0xff;
    assert!(serde_json::from_slice::<KinesisEvent>(&bad).is_err());
    assert!(KinesisBatch::from_slice(&bad).is_err());
    bad[34] = b'=';
    assert!(KinesisBatch::from_slice(&bad).is_ok());
    // Not JSON, or not a Kinesis event: the invocation fails, as before.
    assert!(KinesisBatch::from_slice(b"{\"Records\":[").is_err());
    assert!(KinesisBatch::from_slice(b"{\"records\":[]}").is_err());
}
