use super::*;

fn rejected(line: &str) -> Reject {
    decode_line(line.as_bytes()).expect_err(line)
}

#[test]
fn a_full_sample_decodes_with_every_channel() {
    let rec = decode_line(br#"{"v":1,"car":"19","ts":1750593700000,"lap":1,"lap_frac":0.8123,"speed_mph":171.8,"rpm":8940,"throttle_pct":104,"brake_psi":0,"gear":4,"gap_ahead_s":0.42,"in_pit":false,"extra":{"a":[1]}}"#).unwrap();
    let Record::Sample(s) = rec else { panic!() };
    assert_eq!(s.car.as_str(), "19");
    assert_eq!(s.ts, 1750593700000);
    assert_eq!(s.ch.lap, 1);
    assert_eq!(s.ch.throttle_pct, 100.0, "105 reads as 100");
    assert_eq!(s.ch.in_pit(), Some(false));
    assert!(s.race_id.is_none());
}

#[test]
fn null_is_absent_and_kind_may_come_last() {
    let rec = decode_line(
        br#"{"v":1,"car":"7","ts":1750593700000,"rpm":null,"speed_mph":100,"kind":"sample"}"#,
    )
    .unwrap();
    let Record::Sample(s) = rec else { panic!() };
    assert!(!s.ch.has(Channels::RPM));
    assert!(s.ch.has(Channels::SPEED));
}

#[test]
fn rejections_name_the_field() {
    let r = rejected(r#"{"v":1,"car":"19","ts":1750593700000,"throttle_pct":"full"}"#);
    assert_eq!(
        (r.code, r.field),
        (RejectCode::WrongType, Some("throttle_pct"))
    );
    let r = rejected(r#"{"v":1,"car":"19","ts":1750593700000.0,"rpm":8900}"#);
    assert_eq!((r.code, r.field), (RejectCode::WrongType, Some("ts")));
    let r = rejected(r#"{"v":1,"car":"19","ts":1750593700000,"rpm":1e999}"#);
    assert_eq!((r.code, r.field), (RejectCode::NotFinite, Some("rpm")));
    let r = rejected(r#"{"v":1,"car":"19","ts":1750593700000,"rpm":-40}"#);
    assert_eq!((r.code, r.field), (RejectCode::OutOfRange, Some("rpm")));
    let r = rejected(r#"{"v":1,"kind":"pit_out","ts":1750593700000}"#);
    assert_eq!((r.code, r.field), (RejectCode::MissingField, Some("car")));
    let r = rejected(r#"{"v":1,"kind":"lap_time","ts":1750593700000}"#);
    assert_eq!(r.code, RejectCode::UnknownKind);
    let r = rejected(r#"{"v":1,"car":"19","ts":1750593700000,"rpm":8900} x"#);
    assert_eq!(r.code, RejectCode::InvalidJson);
    let r = rejected(r#"null"#);
    assert_eq!(r.code, RejectCode::NotObject);
}

#[test]
fn an_event_only_field_on_a_sample_is_ignored_whatever_its_type() {
    let rec =
        decode_line(br#"{"v":1,"car":"7","ts":1750593700000,"rpm":9000,"flag":5,"track":[1]}"#);
    assert!(matches!(rec, Ok(Record::Sample(_))));
}

#[test]
fn escaped_strings_are_read() {
    let rec = decode_line(
        br#"{"v":1,"car":"\u0031\u0039","race_id":"a\"b","ts":1750593700000,"rpm":9000}"#,
    )
    .unwrap();
    let Record::Sample(s) = rec else { panic!() };
    assert_eq!(s.car.as_str(), "19");
    assert_eq!(s.race_id.as_deref(), Some("a\"b"));
}

#[test]
fn race_start_reads_drivers_and_cars() {
    let rec = decode_line(br#"{"v":1,"kind":"race_start","ts":1750593600000,"race_id":"r","track":"pocono","cars":["1","19"],"drivers":{"19":"C. Briscoe"}}"#).unwrap();
    let Record::Event(Event {
        kind: EventKind::RaceStart(rs),
        ..
    }) = rec
    else {
        panic!()
    };
    assert_eq!(rs.cars.len(), 2);
    assert_eq!(rs.drivers[0].1, "C. Briscoe");
    assert_eq!(rs.fuel_capacity_gal, None);
}

#[test]
fn merge_keeps_the_value_seen_first() {
    let mut a = Channels {
        rpm: 9000.0,
        present: Channels::RPM,
        ..Default::default()
    };
    let b = Channels {
        rpm: 1.0,
        speed_mph: 100.0,
        present: Channels::RPM | Channels::SPEED,
        ..Default::default()
    };
    assert!(a.merge_from(&b));
    assert_eq!(a.rpm, 9000.0);
    assert_eq!(a.speed_mph, 100.0);
    assert!(!a.merge_from(&b), "nothing new the second time");
}

#[test]
fn a_race_start_past_its_limits_is_out_of_range_naming_the_field() {
    let start = |extra: &str| {
        format!(r#"{{"v":1,"kind":"race_start","ts":1750593600000,"race_id":"r"{extra}}}"#)
    };
    let cars = |n: usize| {
        (0..n)
            .map(|i| format!("\"{i}\""))
            .collect::<Vec<_>>()
            .join(",")
    };
    let drivers = |n: usize| {
        (0..n)
            .map(|i| format!("\"{i}\":\"D\""))
            .collect::<Vec<_>>()
            .join(",")
    };
    for (extra, field) in [
        (format!(r#","track":"{}""#, "t".repeat(65)), "track"),
        (format!(r#","track":"t","cars":[{}]"#, cars(201)), "cars"),
        (
            format!(r#","track":"t","drivers":{{{}}}"#, drivers(201)),
            "drivers",
        ),
        (
            format!(r#","track":"t","drivers":{{"1":"{}"}}"#, "n".repeat(101)),
            "drivers",
        ),
    ] {
        let r = rejected(&start(&extra));
        assert_eq!(
            (r.code, r.field),
            (RejectCode::OutOfRange, Some(field)),
            "{r}"
        );
    }
    // At the limits, accepted.
    let line = start(&format!(
        r#","track":"{}","cars":[{}],"drivers":{{{}}}"#,
        "t".repeat(64),
        cars(200),
        drivers(200)
    ));
    assert!(decode_line(line.as_bytes()).is_ok());
}

#[test]
fn a_pit_out_reads_tires_and_box_s_within_their_ranges() {
    let ok = decode_line(
        br#"{"v":1,"kind":"pit_out","ts":1750593700000,"car":"5","tires":4,"box_s":11.6}"#,
    )
    .unwrap();
    let Record::Event(Event {
        kind: EventKind::PitOut { tires, box_s, .. },
        ..
    }) = ok
    else {
        panic!()
    };
    assert_eq!((tires, box_s), (Some(4), Some(11.6)));
    for (line, field) in [
        (
            r#"{"v":1,"kind":"pit_out","ts":1750593700000,"car":"5","tires":5}"#,
            "tires",
        ),
        (
            r#"{"v":1,"kind":"pit_out","ts":1750593700000,"car":"5","tires":2.5}"#,
            "tires",
        ),
        (
            r#"{"v":1,"kind":"pit_out","ts":1750593700000,"car":"5","box_s":-1}"#,
            "box_s",
        ),
        (
            r#"{"v":1,"kind":"pit_out","ts":1750593700000,"car":"5","box_s":3601}"#,
            "box_s",
        ),
    ] {
        assert_eq!(rejected(line).field, Some(field), "{line}");
    }
}

#[test]
fn the_fast_path_knows_the_sample_fields_and_leaves_the_event_ones_to_the_general_path() {
    let sample = [
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
        "anything_else",
    ];
    for k in sample {
        assert!(Key::from_str(k).on_samples(), "{k}");
    }
    let event_only = [
        "track",
        "track_length_mi",
        "scheduled_laps",
        "fuel_capacity_gal",
        "cars",
        "drivers",
        "flag",
        "fuel_added_gal",
        "full",
        "tires",
        "box_s",
        "stage",
        "reason",
    ];
    for k in event_only {
        assert!(!Key::from_str(k).on_samples(), "{k}");
        // A sample that carries one still decodes as a sample (the general path's rule).
        let line = format!(r#"{{"v":1,"car":"7","ts":1750593700000,"rpm":9000,"{k}":1}}"#);
        assert!(crate::fast::scan_flat(line.as_bytes()).is_none(), "{k}");
        assert!(
            matches!(decode_line(line.as_bytes()), Ok(Record::Sample(_))),
            "{k}"
        );
    }
}
