//! The DynamoDB store: conditional writes from two writers, TTL honoured on read, the
//! race items.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_writes_from_two_writers_lose_no_update_and_ttl_is_honoured_on_read() {
    let moto = Moto::start();
    let store = moto.table("burnbar").await;
    let c = car("48");
    let a = store.load_cars("r1", &[c], dl()).await.unwrap();
    assert!(a.is_empty());
    // Two writers read version 0; the first wins, the second is told of the conflict.
    let mut one = CarItem::new(CarState::new(c, 20.0));
    one.applied.push("a".into());
    let mut two = one.clone();
    two.applied.push("b".into());
    assert!(matches!(
        store.save_car("r1", &one, dl()).await.unwrap(),
        Saved::Ok { .. }
    ));
    assert_eq!(
        store.save_car("r1", &two, dl()).await.unwrap(),
        Saved::Conflict
    );
    // It reads again and re-applies: both changes are there.
    let mut fresh = store
        .load_cars("r1", &[c], dl())
        .await
        .unwrap()
        .remove(&c)
        .unwrap();
    assert_eq!(fresh.version, 1);
    fresh.applied.push("b".into());
    match store.save_car("r1", &fresh, dl()).await.unwrap() {
        Saved::Ok {
            item_bytes,
            write_units,
        } => {
            assert!(item_bytes > 50 && item_bytes < 1024, "{item_bytes}");
            assert!(write_units >= 1.0);
        }
        Saved::Conflict => panic!("fresh version conflicts"),
    }
    let back = store
        .load_cars("r1", &[c], dl())
        .await
        .unwrap()
        .remove(&c)
        .unwrap();
    assert_eq!(back.applied, ["a", "b"]);
    assert_eq!(back.version, 2);

    // An item past its TTL is absent (moto, like DynamoDB, has not deleted it yet), and a
    // new car can be written over it.
    let mut expiring = store.clone();
    expiring.ttl = Duration::ZERO;
    let d = car("9");
    expiring
        .save_car("r1", &CarItem::new(CarState::new(d, 20.0)), dl())
        .await
        .unwrap();
    assert!(store.load_cars("r1", &[d], dl()).await.unwrap().is_empty());
    assert!(matches!(
        store
            .save_car("r1", &CarItem::new(CarState::new(d, 18.0)), dl())
            .await
            .unwrap(),
        Saved::Ok { .. }
    ));
    assert_eq!(
        store.load_cars("r1", &[d], dl()).await.unwrap()[&d]
            .state
            .fuel
            .capacity,
        18.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn race_items_events_once_current_race_forward_only_and_summaries() {
    let moto = Moto::start();
    let store = moto.table("burnbar").await;
    assert_eq!(store.current_race(dl()).await.unwrap(), None);
    let ev = |ts: i64, id: &str| StoredEvent {
        ts,
        id: id.into(),
        line: format!("{{\"ts\":{ts}}}"),
    };
    assert!(
        store
            .put_event("r2", &ev(200, "s2"), true, dl())
            .await
            .unwrap()
    );
    assert!(
        store
            .put_event("r1", &ev(100, "s1"), true, dl())
            .await
            .unwrap()
    );
    assert_eq!(
        store.current_race(dl()).await.unwrap().as_deref(),
        Some("r2"),
        "an older race_start does not take the pointer back"
    );
    assert!(
        store
            .put_event("r2", &ev(300, "000000000000300#b"), false, dl())
            .await
            .unwrap()
    );
    assert!(
        store
            .put_event("r2", &ev(250, "000000000000250#a"), false, dl())
            .await
            .unwrap()
    );
    assert!(
        !store
            .put_event("r2", &ev(300, "000000000000300#b"), false, dl())
            .await
            .unwrap(),
        "the same event twice"
    );
    let s = burnbar_pipeline::ports::CarSummary {
        figures: vec![(1, 0.2)],
        pos: 3.5,
        // The car's fuel per green lap round-trips (the field's fuel window reads it).
        fuel_per_green_lap: Some(0.5512),
        retired: false,
        last_ts: Some(1_750_593_600_000),
        open: true,
        written_ms: 1_795_924_646_599,
    };
    store.put_summary("r2", car("5"), &s, dl()).await.unwrap();
    // A car with no sample yet (race control wrote it): no newest ts.
    let quiet = burnbar_pipeline::ports::CarSummary {
        retired: true,
        ..Default::default()
    };
    store
        .put_summary("r2", car("6"), &quiet, dl())
        .await
        .unwrap();
    let v = store.load_race("r2", dl()).await.unwrap();
    assert_eq!(v.summaries[&car("6")], quiet);
    assert_eq!(v.start.unwrap().ts, 200);
    assert_eq!(
        v.events.iter().map(|e| e.ts).collect::<Vec<_>>(),
        [250, 300]
    );
    assert_eq!(v.summaries[&car("5")], s);
}
