//! A Kinesis event with a record whose data is not base64, decoded as the functions
//! decode the Runtime API body ([`KinesisBatch`]) and handed to each stream handler:
//! that record is quarantined with its reason and text, and the rest of the batch is
//! processed as if it were not there.

use std::time::Duration;

use base64::Engine as _;
use burnbar_lambda::event::KinesisBatch;
use burnbar_metrics::MetricSet;
use burnbar_pipeline::memory::{MemoryProcessor, MemoryPublisher, MemoryQuarantine, MemoryStore};
use burnbar_pipeline::{Control, ProcessorConfig};
use tokio::time::Instant;

fn record(seq: &str, data: &str) -> String {
    format!(
        r#"{{"kinesis":{{"partitionKey":"p","sequenceNumber":"{seq}","data":"{data}","approximateArrivalTimestamp":1700000000.5}},"eventSource":"aws:kinesis"}}"#
    )
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn event(records: &[String]) -> KinesisBatch {
    KinesisBatch::from_slice(format!(r#"{{"Records":[{}]}}"#, records.join(",")).as_bytes())
        .expect("a valid event")
}

fn dl() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

const START: &str =
    r#"{"v":1,"kind":"race_start","ts":1700000000000,"race_id":"r1","track":"iowa","cars":["7"]}"#;

#[tokio::test]
async fn a_record_that_is_not_base64_is_quarantined_and_the_rest_goes_on() {
    let store = MemoryStore::new();
    let publisher = MemoryPublisher::default();
    let quarantine = MemoryQuarantine::default();

    // Race control: a race start between two undecodable records.
    let ctl = Control::new(&store, &publisher, &quarantine, ProcessorConfig::default());
    let ev = event(&[
        record("1", "%%%"),
        record("2", &b64(START)),
        record("3", "QQ="),
    ]);
    let mut m = MetricSet::new("t", &[]);
    let out = ctl.handle(&ev.records(), dl(), &mut m).await;
    assert_eq!(out.first_failed, None, "nothing to deliver again");
    assert_eq!(
        m.get("events_new_total"),
        Some(1.0),
        "the good record is stored"
    );
    {
        let q = quarantine.items.lock().unwrap();
        let got: Vec<(&str, &str, Option<&str>, &str)> = q
            .iter()
            .map(|q| {
                (
                    q.sequence_number.as_str(),
                    q.code.as_str(),
                    q.field.as_deref(),
                    q.line.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("1", "invalid_base64", Some("data"), "%%%"),
                ("3", "invalid_base64", Some("data"), "QQ=")
            ]
        );
        assert!(q[0].detail.contains("not valid base64"), "{}", q[0].detail);
    }
    assert_eq!(
        m.get("records_rejected_invalid_base64_total"),
        Some(1.0 + 1.0)
    );

    // Telemetry: samples of car 7 around an undecodable record.
    let p: MemoryProcessor =
        MemoryProcessor::in_memory(store.snapshot(), None, ProcessorConfig::default());
    let sample = |ts: i64| {
        format!(
            r#"{{"v":1,"ts":{ts},"car":"7","race_id":"r1","lap":1,"speed_mph":170.5,"rpm":8900,"throttle_pct":100}}"#
        )
    };
    let lines: Vec<String> = (0..3)
        .map(|i| sample(1_700_000_001_000 + i * 100))
        .collect();
    let ev = event(&[
        record("10", &b64(&lines[..2].join("\n"))),
        record("11", "eyJ2Ijox fQ=="),
        record("12", &b64(&lines[2])),
    ]);
    let mut m = MetricSet::new("t", &[]);
    let out = p.handle(&ev.records(), dl(), &mut m).await;
    assert_eq!(out.first_failed, None);
    assert_eq!(
        m.get("records_in_total"),
        Some(3.0),
        "every good line is read"
    );
    let q = p.quarantine.items.lock().unwrap();
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!(
        (
            q[0].sequence_number.as_str(),
            q[0].code.as_str(),
            q[0].line.as_str()
        ),
        ("11", "invalid_base64", "eyJ2Ijox fQ==")
    );
}
