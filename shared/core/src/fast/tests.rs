use super::*;
use crate::decode::decode_general;

fn same(line: &str) {
    if let Some(raw) = scan_flat(line.as_bytes()) {
        assert_eq!(
            raw.validate(&crate::decode::EventFields::NONE),
            decode_general(line),
            "{line}"
        );
    }
}

#[test]
fn the_fast_path_takes_a_plain_sample_and_agrees_with_the_general_one() {
    let line = r#"{"v":1,"race_id":"r","car":"19","ts":1750593700000,"lap":1,"lap_frac":0.8123,"speed_mph":171.8,"rpm":8940,"throttle_pct":100,"brake_psi":0,"gear":4,"gap_ahead_s":0.42,"in_pit":false,"x":"y","n":null}"#;
    assert!(scan_flat(line.as_bytes()).is_some());
    same(line);
    same(r#" { "v" : 1 , "car" : "7" , "ts" : 1750593700000 , "rpm" : null, "speed_mph": 1e2 } "#);
}

#[test]
fn keys_in_the_expected_order_out_of_it_or_left_out_read_alike() {
    for line in [
        // The simulator's order, an engine record (lap to speed left out), and the
        // same keys shuffled, doubled, spaced, or with a name that only starts alike.
        r#"{"v":1,"race_id":"r","car":"19","ts":1750593700000,"lap":3,"lap_frac":0.5,"speed_mph":171.8,"rpm":8940,"throttle_pct":99.5,"brake_psi":0,"gear":4,"gap_ahead_s":0.42,"in_pit":true}"#,
        r#"{"v":1,"race_id":"r","car":"19","ts":1750593700000,"rpm":8940,"throttle_pct":99.5,"gear":4}"#,
        r#"{"in_pit":false,"ts":1750593700000,"car":"19","v":1,"lap":3,"lap_frac":0.25}"#,
        r#"{"v":1,"car":"19","ts":1750593700000,"rpm":1,"rpm":2,"lap":1,"lap":2}"#,
        r#"{"v" :1,"car": "19","ts":1750593700000,"lap_fracs":1,"lap":2,"speed_mph_x":3}"#,
        r#"{"v":1,"kind":"sample","car":"19","ts":1750593700000,"gear":null}"#,
    ] {
        assert!(scan_flat(line.as_bytes()).is_some(), "{line}");
        same(line);
    }
}

#[test]
fn invalid_utf8_anywhere_goes_to_the_general_path_which_rejects_it() {
    for line in [
        &b"{\"v\":1,\"car\":\"19\",\"ts\":1750593700000,\"rpm\":1,\"x\xff\":2}"[..],
        b"{\"v\":1,\"car\":\"19\",\"ts\":1750593700000,\"rpm\":1,\"x\":\"\xc3\"}",
    ] {
        assert!(scan_flat(line).is_none());
        let r = crate::decode::decode_line(line).unwrap_err();
        assert_eq!(r.code, crate::contract::RejectCode::InvalidJson);
    }
    let ok = "{\"v\":1,\"car\":\"19\",\"ts\":1750593700000,\"rpm\":1,\"pilote\":\"Jérôme\"}";
    assert!(scan_flat(ok.as_bytes()).is_some());
}

#[test]
fn anything_unusual_goes_to_the_general_path() {
    for line in [
        r#"{"v":1,"car":"1\u0039","ts":1750593700000,"rpm":1}"#,
        r#"{"v":1,"car":"19","ts":1750593700000.0,"rpm":1}"#,
        r#"{"v":1,"car":"19","ts":1750593700000,"rpm":1e999}"#,
        r#"{"v":1,"car":"19","ts":1750593700000,"rpm":01}"#,
        r#"{"v":1,"car":"19","ts":1750593700000,"rpm":"1"}"#,
        r#"{"v":1,"car":"19","ts":1750593700000,"rpm":1,"x":[1]}"#,
        r#"{"v":1,"car":"19","ts":1750593700000,"rpm":1} x"#,
        r#"{"v":1,"car":"19","ts":1750593700000,"rpm":1,}"#,
        r#"{"v":1,"kind":"flag","ts":1750593700000,"flag":"green"}"#,
        r#"{"v":-1,"car":"19","ts":1750593700000,"rpm":1}"#,
        r#"{"v":1,"car":"19","ts":1750593700000,"rpm":-}"#,
        r#"[1]"#,
        r#"{"v":1,"car":"19","ts":1750593700000,"rpm":1"#,
    ] {
        assert!(scan_flat(line.as_bytes()).is_none(), "{line}");
    }
}

/// The float the fast path reads from `text` as a whole value, if it answers.
fn fast_float(text: &str) -> Option<f64> {
    let mut p = Scanner {
        s: text.as_bytes(),
        i: 0,
    };
    let v = p.float()?;
    (p.i == text.len()).then_some(v)
}

fn fast_int(text: &str) -> Option<i64> {
    let mut p = Scanner {
        s: text.as_bytes(),
        i: 0,
    };
    let v = p.int()?;
    (p.i == text.len()).then_some(v)
}

#[test]
fn minus_zero_in_an_integer_field_is_the_general_paths_to_reject() {
    // serde_json reads `-0` as the float -0.0, which an integer field refuses; the
    // fast path once read it as 0 and kept the sample.
    let line = r#"{"v":1,"car":"19","ts":1750593700000,"rpm":1,"gear":-0}"#;
    assert!(scan_flat(line.as_bytes()).is_none());
    let r = crate::decode::decode_line(line.as_bytes()).unwrap_err();
    assert_eq!(
        (r.code, r.field),
        (crate::contract::RejectCode::WrongType, Some("gear"))
    );
    // In a float field it is -0.0 either way.
    let line = r#"{"v":1,"car":"19","ts":1750593700000,"rpm":1,"brake_psi":-0}"#;
    same(line);
}

#[test]
fn a_run_of_digits_stops_at_the_first_other_byte_or_the_end() {
    for (t, from, want) in [
        (&b"1750593600000,"[..], 0, (1_750_593_600_000, 13)),
        (b"12:", 0, (12, 2)),
        (b"x7", 1, (7, 1)),
        (b"x", 1, (0, 0)),
        (b"/:", 0, (0, 0)),
        (b"09", 0, (9, 2)),
    ] {
        assert_eq!(digits_at(t, from, 0), want, "{t:?}");
    }
    assert_eq!(
        digits_at(b"25", 0, 7),
        (725, 2),
        "appended to what came before"
    );
}

#[test]
fn the_simulators_numbers_and_the_edges_of_the_exact_path_read_as_parse_does() {
    for t in [
        "0",
        "1",
        "-1",
        "0.0",
        "0.0228",
        "60.0",
        "171.8",
        "0.30",
        "100.0",
        "5281",
        "1750593600000",
        "-0.5",
        "-0.0",
        "9007199254740992",
        "9007199254740993.0",
        "9007199254740993",
        "0.9007199254740993",
        "123456789012345678",
        "1234567890123456789",
        "12345678901234567890",
        "1.2345678901234567890123",
        "0.0000000000000000000001",
        "0.00000000000000000000001",
        "1e5",
        "1E-5",
        "2.5e+3",
        "179769313486231570000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    ] {
        let want: f64 = t.parse().unwrap();
        assert_eq!(fast_float(t).map(f64::to_bits), Some(want.to_bits()), "{t}");
    }
    for t in [
        "1750593600000",
        "0",
        "-7",
        "123456789012345678",
        "9223372036854775807",
    ] {
        assert_eq!(fast_int(t), Some(t.parse().unwrap()), "{t}");
    }
    // Not JSON numbers, not integers, or beyond an i64 / a double: no answer.
    for t in [
        "01", "-01", "1.", ".5", "-", "1e", "1e+", "+1", "00.5", "1e999", "-1e999",
    ] {
        assert_eq!(fast_float(t), None, "{t}");
    }
    // `-0` is a float to serde_json, so not an integer value.
    for t in ["1.0", "1e2", "-0", "9223372036854775808", "01"] {
        assert_eq!(fast_int(t), None, "{t}");
    }
    assert_eq!(
        fast_float("-0").map(f64::to_bits),
        Some((-0.0f64).to_bits())
    );
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            (-20_000i64..20_000).prop_map(|v| v.to_string()),
            (-1e4f64..1e4).prop_map(|v| format!("{v}")),
            (-1e4f64..1e4).prop_map(|v| format!("{v:e}")),
            (0u64..u64::MAX).prop_map(|v| v.to_string()),
            // Decimals of every length around the exact fast path's limits.
            (0u64..100_000_000_000_000_000, 0usize..20, any::<bool>()).prop_map(|(m, k, neg)| {
                let t = m.to_string();
                let k = k.min(t.len() - 1);
                let (a, b) = t.split_at(t.len() - k);
                let sign = if neg { "-" } else { "" };
                if b.is_empty() {
                    format!("{sign}{a}")
                } else {
                    format!("{sign}{a}.{b}")
                }
            }),
            (1u32..99_999, 0u32..9).prop_map(|(m, k)| format!("0.{}{m}", "0".repeat(k as usize))),
            Just("1750593700000".to_owned()),
            Just("1750593700000.0".to_owned()),
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("false".to_owned()),
            Just("\"19\"".to_owned()),
            Just("\"1\\u0039\"".to_owned()),
            Just("\"sample\"".to_owned()),
            Just("[1,2]".to_owned()),
            Just("{\"a\":1}".to_owned()),
            Just("01".to_owned()),
            Just("-".to_owned()),
            Just("1e999".to_owned()),
        ]
    }

    fn key() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "v",
            "kind",
            "race_id",
            "car",
            "ts",
            "lap",
            "lap_frac",
            "speed_mph",
            "rpm",
            "throttle_pct",
            "brake_psi",
            "gear",
            "gap_ahead_s",
            "in_pit",
            "other",
            "flag",
        ])
    }

    /// A decimal as JSON writes it: sign, integer part without leading zeros,
    /// optional fraction of any length, optional exponent.
    fn decimal() -> impl Strategy<Value = String> {
        (
            any::<bool>(),
            prop_oneof![Just("0".to_owned()), "[1-9][0-9]{0,24}"],
            prop::option::of("[0-9]{1,26}"),
            prop::option::of(("[eE]", "[+-]?", "[0-9]{1,3}")),
        )
            .prop_map(|(neg, int, frac, exp)| {
                let mut t = String::new();
                if neg {
                    t.push('-');
                }
                t.push_str(&int);
                if let Some(f) = frac {
                    t.push('.');
                    t.push_str(&f);
                }
                if let Some((e, sign, d)) = exp {
                    t.push_str(&format!("{e}{sign}{d}"));
                }
                t
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 20000, ..ProptestConfig::default() })]

        #[test]
        fn a_decimal_reads_as_str_parse_reads_it(t in decimal()) {
            let want: f64 = t.parse().unwrap();
            match fast_float(&t) {
                Some(v) => prop_assert_eq!(v.to_bits(), want.to_bits(), "{}", t),
                // Only a number beyond a double's range is left to the general path.
                None => prop_assert!(!want.is_finite(), "{}", t),
            }
            if let Some(i) = fast_int(&t) {
                prop_assert_eq!(Some(i), t.parse::<i64>().ok(), "{}", t);
            }
        }

        #[test]
        fn a_doubles_display_reads_back_to_it(bits in any::<u64>(), short in -1e7f64..1e7) {
            for v in [f64::from_bits(bits), short, (short * 100.0).round() / 100.0] {
                if !v.is_finite() {
                    continue;
                }
                for t in [format!("{v}"), format!("{v:e}"), format!("{v:.4}")] {
                    let want: f64 = t.parse().unwrap();
                    prop_assert_eq!(fast_float(&t).map(f64::to_bits), Some(want.to_bits()), "{}", t);
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

        #[test]
        fn both_paths_agree_whenever_the_fast_one_answers(
            fields in prop::collection::vec((key(), value(), " {0,2}"), 0..10),
            base in any::<bool>(),
        ) {
            let mut parts: Vec<String> = Vec::new();
            if base {
                parts.push("\"v\":1,\"car\":\"7\",\"ts\":1750593700000,\"rpm\":8000".to_owned());
            }
            for (k, v, ws) in &fields {
                parts.push(format!("{ws}\"{k}\"{ws}:{ws}{v}{ws}"));
            }
            let line = format!("{{{}}}", parts.join(","));
            if let Some(raw) = scan_flat(line.as_bytes()) {
                prop_assert_eq!(raw.validate(&crate::decode::EventFields::NONE), decode_general(&line), "{}", line);
            }
        }
    }
}

#[test]
fn the_car_read_from_its_bytes_is_what_the_general_path_reads() {
    let base = r#"{"v":1,"ts":1750593700000,"rpm":8940,"#;
    for (cars, fast) in [
        (r#""car":"19""#, true),
        (r#""car":"A1b2""#, true),
        (r#""car":"7","car":"8""#, true),
        (r#""car":null,"car":"7""#, true),
        // Missing in the end: the fast path reads it, validation says so.
        (r#""car":"7","car":null"#, true),
        (r#""car":null"#, true),
        // Not car numbers: the general path names the problem.
        (r#""car":"""#, false),
        (r#""car":"12345""#, false),
        (r#""car":"1-2""#, false),
        (r#""car":"é""#, false),
        (r#""car":7"#, false),
    ] {
        let line = format!("{base}{cars}}}");
        assert_eq!(scan_flat(line.as_bytes()).is_some(), fast, "{line}");
        same(&line);
    }
    let r = crate::decode::decode_line(br#"{"v":1,"ts":1750593700000,"rpm":1,"car":"1-2"}"#);
    assert_eq!(
        r.unwrap_err().code,
        crate::contract::RejectCode::InvalidValue
    );
    let r =
        crate::decode::decode_line(br#"{"v":1,"ts":1750593700000,"rpm":1,"car":"7","car":null}"#);
    assert_eq!(
        r.unwrap_err().code,
        crate::contract::RejectCode::MissingField
    );
}
