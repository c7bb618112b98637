//! What a race refuses: samples too far ahead of the whole race (`ts_in_future`), a car
//! beyond its 200.

use super::*;

#[tokio::test]
async fn ts_in_future_is_judged_against_the_whole_race_not_the_batch() {
    // Each car on its own shard: every invocation holds one car's samples.
    let t0 = 1_750_593_600_000i64;
    let p = processor();
    let start = format!(
        r#"{{"v":1,"kind":"race_start","ts":{t0},"race_id":"r","track":"iowa","cars":["1","2","3"]}}"#
    );
    assert_eq!(send_events(&p, &[start], 1).await, None);
    // Car 1 runs two minutes at 1 Hz, ten seconds an invocation; no event since the start.
    for b in 0..12 {
        let lines: Vec<String> = (1..=10)
            .map(|i| sample("1", t0 + (b * 10 + i) * 1000, t0))
            .collect();
        assert_eq!(
            send(&p, &records(&lines, 100 + b as u64 * 10)).await.0,
            None
        );
    }
    let newest = t0 + 120_000;
    // Car 2's first samples, alone in their invocation, two minutes after the last event:
    // within 60 s of the race's newest ts (car 1's), so they count.
    let lines: Vec<String> = (0..5)
        .map(|i| sample("2", newest - 4000 + i * 1000, t0))
        .collect();
    let (failed, m) = send(&p, &records(&lines, 1000)).await;
    assert_eq!(failed, None);
    assert_eq!(m.get("records_rejected_total"), Some(0.0));
    assert_eq!(
        p.store
            .car("r", CarId::parse("2").unwrap())
            .unwrap()
            .state
            .held(),
        5
    );
    // Car 3's clock runs 61 s ahead of the race: rejected, though nothing of car 3 (and
    // nothing in its invocation) says so.
    let lines = vec![sample("3", newest + 61_000, t0)];
    let (failed, m) = send(&p, &records(&lines, 2000)).await;
    assert_eq!(failed, None);
    assert_eq!(m.get("records_rejected_ts_in_future_total"), Some(1.0));
    let q = p.quarantine.items.lock().unwrap().clone();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].code, "ts_in_future");
    assert_eq!(q[0].sequence_number, format!("{:020}", 2000));
    // And 59 s ahead is in time.
    let lines = vec![sample("3", newest + 59_000, t0)];
    let (_, m) = send(&p, &records(&lines, 3000)).await;
    assert_eq!(m.get("records_rejected_total"), Some(0.0));
}

/// A race takes at most 200 cars: the samples of a further car are quarantined as
/// `too_many_cars`, the batch succeeds, and the 200 cars publish as usual.
#[tokio::test]
async fn a_car_beyond_the_races_200_is_quarantined_and_the_rest_go_on() {
    let p = processor();
    let t0 = 1_750_593_600_000;
    let cars: Vec<String> = (0..201).map(|c| c.to_string()).collect();
    let lines: Vec<String> = (0..12)
        .flat_map(|i| cars.iter().map(move |c| sample(c, t0 + i * 1000, t0)))
        .collect();
    let (failed, m) = send(&p, &records(&lines, 1)).await;
    assert_eq!(failed, None);
    let q = p.quarantine.items.lock().unwrap().clone();
    assert_eq!(q.len(), 12, "every sample of the 201st car");
    assert!(q.iter().all(|e| e.code == "too_many_cars"), "{q:?}");
    // Cars are admitted in car order: "99" (the largest id) is the one refused.
    assert!(q.iter().all(|e| e.line.contains(r#""car":"99""#)));
    assert_eq!(m.get("records_rejected_too_many_cars_total"), Some(12.0));
    let published: std::collections::BTreeSet<CarId> = shown(&p).keys().map(|(c, _)| *c).collect();
    assert_eq!(published.len(), 200);
}
