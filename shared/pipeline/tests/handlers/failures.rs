//! Malformed records, store and publish failures, the outbox, conflicting writers, and
//! the close-to-acknowledgement timing of each window.

use super::*;

#[tokio::test]
async fn a_malformed_record_is_quarantined_and_the_rest_applied() {
    let steps = race(3, 2, 13);
    let p = processor();
    send_events(&p, &steps[0].events, 1).await;
    let mut lines = steps[1].samples.clone();
    lines.extend(steps[2].samples.iter().cloned());
    let good = lines.len();
    lines.insert(good / 2, "{\"v\":1,\"car\":\"9\",\"ts\":\"soon\"}".into());
    lines.insert(good / 2 + 1, "not json".into());
    let (failed, m) = send(&p, &records(&lines, 100)).await;
    assert_eq!(failed, None, "a bad record never blocks the shard");
    let q = p.quarantine.items.lock().unwrap().clone();
    assert_eq!(q.len(), 2);
    assert_eq!(q[0].code, "wrong_type");
    assert_eq!(q[0].field.as_deref(), Some("ts"));
    assert_eq!(q[0].sequence_number, format!("{:020}", 100 + good / 2));
    assert_eq!(q[1].code, "invalid_json");
    assert_eq!(q[1].line, "not json");
    assert_eq!(m.get("records_rejected_total"), Some(2.0));
    assert_eq!(m.get("records_rejected_invalid_json_total"), Some(1.0));
    assert_eq!(m.get("samples_total"), Some(good as f64));
    // Every good sample is held in its car's open windows.
    let held: usize = p.store.cars().values().map(|i| i.state.held()).sum();
    assert_eq!(held, good);
}

#[tokio::test]
async fn a_store_failure_fails_from_the_first_record_it_touched_and_redelivery_completes() {
    let steps = race(4, 3, 14);
    let reference = processor();
    let p = processor();
    for (i, s) in steps.iter().enumerate().take(40) {
        let recs = records(&s.samples, 1_000 + 10_000 * i as u64);
        assert_eq!(send(&reference, &recs).await.0, None);
        if i == 20 {
            // Car of the 3rd record: its save fails (throttled past every retry).
            let car: serde_json::Value = serde_json::from_slice(&recs[2].1).unwrap();
            let car = CarId::parse(car["car"].as_str().unwrap()).unwrap();
            p.store.fail_next_save(
                car,
                PortError::Retryable("ProvisionedThroughputExceeded".into()),
            );
            let (failed, _) = send(&p, &recs).await;
            let first = recs
                .iter()
                .position(|(_, d)| {
                    serde_json::from_slice::<serde_json::Value>(d).unwrap()["car"] == car.as_str()
                })
                .unwrap();
            assert_eq!(failed.as_deref(), Some(recs[first].0.as_str()));
            let resp = BatchResponse::from_first_failed(failed);
            assert_eq!(
                serde_json::to_string(&resp).unwrap(),
                format!(
                    r#"{{"batchItemFailures":[{{"itemIdentifier":"{}"}}]}}"#,
                    recs[first].0
                )
            );
            // Lambda delivers again from that record.
            assert_eq!(send(&p, &recs[first..]).await.0, None);
        } else {
            assert_eq!(send(&p, &recs).await.0, None);
        }
        if !s.events.is_empty() {
            send_events(&reference, &s.events, 5).await;
            send_events(&p, &s.events, 5).await;
        }
    }
    assert_eq!(states(&p), states(&reference));
    assert_eq!(shown(&p), shown(&reference));
}

#[tokio::test]
async fn a_failed_publish_is_retried_from_the_outbox_on_redelivery() {
    let steps = race(3, 3, 15);
    let reference = processor();
    let p = processor();
    let mut failed_once = false;
    for (i, s) in steps.iter().enumerate() {
        let recs = records(&s.samples, 1_000 + 10_000 * i as u64);
        send(&reference, &recs).await;
        let failing = (30..40).contains(&i) && !failed_once;
        *p.publisher.fail_with.lock().unwrap() =
            failing.then(|| PortError::Retryable("503".into()));
        let (failed, m) = send(&p, &recs).await;
        if failing && m.get("publish_failures_total") == Some(1.0) {
            failed_once = true;
            assert!(failed.is_some(), "a failed publish fails the records");
            *p.publisher.fail_with.lock().unwrap() = None;
            assert_eq!(
                send(&p, &recs).await.0,
                None,
                "redelivery publishes the outbox"
            );
        }
        if !s.events.is_empty() {
            send_events(&reference, &s.events, 5).await;
            send_events(&p, &s.events, 5).await;
        }
    }
    assert!(failed_once, "the publisher failed while updates were due");
    assert_eq!(shown(&p), shown(&reference));
}

/// Issue 16 item 3: each window the processor closes is timed once, from its close to the
/// writer's acknowledgement (`window_close_to_ack_ms`, one sample per window); a publish
/// that fails acknowledges nothing, and the outbox's later publish is not timed again.
#[tokio::test]
async fn each_closed_window_is_timed_once_to_the_writers_acknowledgement() {
    let steps = race(3, 3, 15);
    let p = processor();
    let (mut timed, mut closed, mut failed_once) = (0usize, 0.0, false);
    for (i, s) in steps.iter().enumerate() {
        let recs = records(&s.samples, 1_000 + 10_000 * i as u64);
        let failing = (30..40).contains(&i) && !failed_once;
        *p.publisher.fail_with.lock().unwrap() =
            failing.then(|| PortError::Retryable("503".into()));
        let (_, m) = send(&p, &recs).await;
        let lat = m.samples("window_close_to_ack_ms");
        let windows = m.get("windows_closed_total").unwrap_or(0.0);
        closed += windows;
        if m.get("publish_failures_total") == Some(1.0) {
            failed_once = true;
            assert!(windows > 0.0);
            assert!(lat.is_empty(), "nothing acknowledged, nothing timed");
            *p.publisher.fail_with.lock().unwrap() = None;
            let (first_failed, m) = send(&p, &recs).await;
            assert_eq!(first_failed, None);
            assert!(m.get("updates_published_total").unwrap_or(0.0) > 0.0);
            assert!(
                m.samples("window_close_to_ack_ms").is_empty(),
                "an update from the outbox closed in an earlier invocation"
            );
            closed -= windows;
            continue;
        }
        assert_eq!(lat.len() as f64, windows, "one sample per window closed");
        assert!(lat.iter().all(|v| v.is_finite() && *v >= 0.0), "{lat:?}");
        timed += lat.len();
    }
    assert!(failed_once, "the publisher failed while updates were due");
    assert!(timed > 0);
    assert_eq!(timed as f64, closed);
}

#[tokio::test]
async fn a_conflicting_writer_is_resolved_by_reading_again_without_a_lost_update() {
    let steps = race(2, 2, 16);
    let p = processor();
    send_events(&p, &steps[0].events, 1).await;
    let recs = records(&steps[3].samples, 10);
    let car: serde_json::Value = serde_json::from_slice(&recs[0].1).unwrap();
    let car = CarId::parse(car["car"].as_str().unwrap()).unwrap();
    send(&p, &records(&steps[2].samples, 5)).await;
    p.store.conflict_next_saves(car, 2);
    let (failed, m) = send(&p, &recs).await;
    assert_eq!(failed, None);
    assert_eq!(m.get("conditional_write_retries_total"), Some(2.0));
    // The simulated race has its own id (from its race_start).
    let (_, item) = p
        .store
        .cars()
        .into_iter()
        .find(|((_, c), _)| *c == car)
        .unwrap();
    assert!(
        item.state.max_ts.unwrap()
            >= serde_json::from_slice::<serde_json::Value>(&recs[0].1).unwrap()["ts"]
                .as_i64()
                .unwrap()
    );
    // A conflict on every attempt gives up and fails the records (none applied).
    p.store.conflict_next_saves(car, 3);
    let (failed, _) = send(&p, &records(&steps[4].samples, 20)).await;
    assert!(failed.is_some());
}
