//! Hostile input against the limits (issue 15 items 1, 3 and 6), with the in-memory
//! adapters, which refuse what DynamoDB refuses (an item over 400 KB) and move the
//! current-race pointer only forward, as the DynamoDB adapter does. Each test asserts
//! that the other cars and races go on, that nothing is lost or doubled, and that the
//! reason is visible (a quarantine entry, a metric).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use burnbar_core::Record;
use burnbar_core::decode::{MAX_TS, decode_line};
use burnbar_core::race::CLOCK_FUTURE_MS;
use burnbar_core::{CarId, Flag, FuelUpdate, RaceState};
use burnbar_metrics::MetricSet;
use burnbar_pipeline::item::{CAR_ITEM_MAX_BYTES, blob_len, car_item_bytes};
use burnbar_pipeline::memory::{MemoryProcessor, MemoryStore};
use burnbar_pipeline::race::{
    APPLIED_MAX, RACE_STATE_MAX_BYTES, canonical_line, event_id, fit_race_state, race_state_bytes,
};
use burnbar_pipeline::{Control, InRecord, PortError, ProcessorConfig, Quarantined};
use burnbar_sim::{SimConfig, Simulation};
use tokio::time::Instant;

/// 2025-06-22T12:00:00Z: the races' start.
const T0: i64 = 1_750_593_600_000;

/// The wall clock the handlers read: three hours after the races' start.
fn clock() -> i64 {
    T0 + 3 * 3_600_000
}

type Proc = MemoryProcessor;

fn cfg() -> ProcessorConfig {
    ProcessorConfig {
        clock,
        ..ProcessorConfig::default()
    }
}

fn processor() -> Proc {
    MemoryProcessor::in_memory(MemoryStore::new(), None, cfg())
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(120)
}

/// Kinesis records, one line each, sequence numbers from `seq0`.
fn records(lines: &[String], seq0: u64) -> Vec<(String, Vec<u8>)> {
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| (format!("{:020}", seq0 + i as u64), l.clone().into_bytes()))
        .collect()
}

fn ins(recs: &[(String, Vec<u8>)]) -> Vec<InRecord<'_>> {
    recs.iter().map(|(s, d)| InRecord::new(s, d)).collect()
}

/// One telemetry batch: the first failed record, and the metrics.
async fn send(p: &Proc, lines: &[String], seq0: u64) -> (Option<String>, MetricSet) {
    let recs = records(lines, seq0);
    let mut m = MetricSet::new("t", &[]);
    let o = p.handle(&ins(&recs), deadline(), &mut m).await;
    (o.first_failed, m)
}

/// One race-control batch through the race-control function sharing `p`'s adapters and
/// configuration.
async fn send_events(p: &Proc, lines: &[String], seq0: u64) -> (Option<String>, MetricSet) {
    let recs = records(lines, seq0);
    let mut m = MetricSet::new("t", &[]);
    let ctl = Control::new(&p.store, &p.publisher, &p.quarantine, p.cfg.clone());
    let o = ctl.handle(&ins(&recs), deadline(), &mut m).await;
    (o.first_failed, m)
}

fn sample(race: Option<&str>, car: &str, ts: i64) -> String {
    let laps = ((ts - T0) as f64 / 24_000.0).clamp(0.0, 1999.0);
    let race = race.map_or(String::new(), |r| format!(r#""race_id":"{r}","#));
    format!(
        r#"{{"v":1,{race}"car":"{car}","ts":{ts},"lap":{},"lap_frac":{:.4},"speed_mph":140.0,"rpm":9000,"throttle_pct":90.0}}"#,
        laps.floor(),
        laps.fract()
    )
}

/// Samples of `cars` once a second for `secs` seconds from `from`.
fn samples(race: Option<&str>, cars: &[&str], from: i64, secs: i64) -> Vec<String> {
    (0..secs)
        .flat_map(|i| cars.iter().map(move |c| sample(race, c, from + i * 1000)))
        .collect()
}

fn race_start(race: &str, ts: i64, extra: &str) -> String {
    format!(
        r#"{{"v":1,"kind":"race_start","race_id":"{race}","ts":{ts},"track":"iowa","scheduled_laps":250,"cars":["1","2","3"],"drivers":{{"1":"A. One","2":"B. Two"}}{extra}}}"#
    )
}

fn flag(race: &str, ts: i64, flag: &str) -> String {
    format!(r#"{{"v":1,"kind":"flag","race_id":"{race}","ts":{ts},"flag":"{flag}"}}"#)
}

fn quarantined(p: &Proc) -> Vec<Quarantined> {
    p.quarantine.items.lock().unwrap().clone()
}

/// Every published update, once each, by race, car and seq.
fn shown(p: &Proc) -> BTreeMap<(String, CarId, i64), FuelUpdate> {
    p.publisher
        .updates
        .lock()
        .unwrap()
        .iter()
        .map(|u| ((u.race_id.clone(), u.car, u.seq), u.clone()))
        .collect()
}

fn cars_shown(p: &Proc, race: &str) -> BTreeSet<String> {
    shown(p)
        .keys()
        .filter(|k| k.0 == race)
        .map(|k| k.1.as_str().to_owned())
        .collect()
}

fn last_state(p: &Proc, race: &str) -> RaceState {
    p.publisher
        .states
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find(|s| s.race_id == race)
        .cloned()
        .unwrap_or_else(|| panic!("no state of race {race}"))
}

// --- Item 1: race_start sizes, the stored line, the RaceState ---------------------------

/// The contract's `race_start` limits, where the record is decoded: a 300 KB `track` and
/// 5,000 drivers with long names are quarantined naming the field; the race that follows
/// and its cars are untouched.
#[tokio::test]
async fn an_oversized_race_start_is_quarantined_naming_the_field() {
    let p = processor();
    let track = format!(
        r#"{{"v":1,"kind":"race_start","race_id":"big","ts":{T0},"track":"{}"}}"#,
        "x".repeat(300_000)
    );
    let drivers: Vec<String> = (0..5000)
        .map(|i| format!(r#""{i}":"{}""#, "N".repeat(90)))
        .collect();
    let many = format!(
        r#"{{"v":1,"kind":"race_start","race_id":"big","ts":{T0},"track":"iowa","drivers":{{{}}}}}"#,
        drivers.join(",")
    );
    let (failed, m) = send_events(&p, &[track, many, race_start("ok", T0, "")], 1).await;
    assert_eq!(failed, None);
    let q = quarantined(&p);
    let got: Vec<(&str, Option<&str>)> = q
        .iter()
        .map(|e| (e.code.as_str(), e.field.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            ("out_of_range", Some("track")),
            ("out_of_range", Some("drivers"))
        ]
    );
    assert_eq!(m.get("records_rejected_out_of_range_total"), Some(2.0));
    assert!(q.iter().all(|e| e.line.len() <= 64 * 1024 + 2));
    // The race that follows them.
    assert_eq!(
        send(&p, &samples(Some("ok"), &["1", "2"], T0, 30), 100)
            .await
            .0,
        None
    );
    assert_eq!(
        cars_shown(&p, "ok"),
        BTreeSet::from(["1".into(), "2".into()])
    );
    assert_eq!(last_state(&p, "ok").drivers.len(), 2);
    assert!(
        p.publisher
            .states
            .lock()
            .unwrap()
            .iter()
            .all(|s| s.race_id != "big")
    );
}

/// A `race_start` within every field limit but half a megabyte long (a field the contract
/// ignores): stored as received it would be over DynamoDB's 400 KB, refused for good, and
/// its record retried until it expired, holding the race-control shard. Stored in its
/// canonical form, it starts its race; a record after it on the shard is applied.
#[tokio::test]
async fn a_race_start_line_past_the_item_limit_is_stored_in_its_canonical_form() {
    let p = processor();
    let junk = format!(r#","notes":"{}""#, "z".repeat(500_000));
    let lines = [
        race_start("long", T0, &junk),
        flag("long", T0 + 1000, "yellow"),
    ];
    let (failed, m) = send_events(&p, &lines, 1).await;
    assert_eq!(failed, None, "the record is not retried");
    assert_eq!(m.get("events_stored_canonical_total"), Some(1.0));
    assert!(quarantined(&p).is_empty(), "{:?}", quarantined(&p));
    let st = last_state(&p, "long");
    assert_eq!((st.track.as_str(), st.flag), ("iowa", Flag::Yellow));
    assert_eq!(st.drivers.len(), 2);
    // Its samples join it (the current race) and publish.
    assert_eq!(
        send(&p, &samples(None, &["1", "2"], T0, 30), 100).await.0,
        None
    );
    assert_eq!(cars_shown(&p, "long").len(), 2);
    assert_eq!(last_state(&p, "long").track, "iowa");
}

/// An event the store refuses for good (DynamoDB's `ValidationException`, an access
/// denied) is quarantined with the reason and its record is not failed: the events after
/// it on the shard are stored. One it refuses for now fails its record (delivered again).
#[tokio::test]
async fn a_permanent_store_refusal_quarantines_the_event_and_the_shard_goes_on() {
    let p = processor();
    assert_eq!(send_events(&p, &[race_start("r", T0, "")], 1).await.0, None);
    p.store
        .fail_next_event(PortError::Permanent("ValidationException: refused".into()));
    let lines = [
        flag("r", T0 + 1000, "yellow"),
        flag("r", T0 + 2000, "green"),
    ];
    let (failed, m) = send_events(&p, &lines, 10).await;
    assert_eq!(failed, None);
    assert_eq!(m.get("records_rejected_store_refused_total"), Some(1.0));
    let q = quarantined(&p);
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].code, "store_refused");
    assert!(q[0].detail.contains("ValidationException") && q[0].line.contains("yellow"));
    assert_eq!(
        p.store.events("r").len(),
        1,
        "the green flag after it is stored"
    );
    p.store
        .fail_next_event(PortError::Retryable("throttled".into()));
    let (failed, _) = send_events(&p, &[flag("r", T0 + 3000, "yellow")], 20).await;
    assert_eq!(failed.as_deref(), Some("00000000000000000020"));
    assert_eq!(quarantined(&p).len(), 1);
}

/// The canonical form a long line is stored in decodes to the same event (so the same
/// id): every kind of event, with its optional fields and without.
#[test]
fn a_canonical_line_is_the_same_event() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/event-lines.ndjson");
    let text = std::fs::read_to_string(path).unwrap();
    let mut kinds = BTreeSet::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(Record::Event(e)) = decode_line(line.as_bytes()) else {
            panic!("{line}");
        };
        let canonical = canonical_line(&e);
        let Ok(Record::Event(back)) = decode_line(canonical.as_bytes()) else {
            panic!("{canonical}");
        };
        assert_eq!(back, e, "{line}\n{canonical}");
        assert_eq!(event_id(&back), event_id(&e));
        kinds.insert(e.kind.name());
    }
    assert!(kinds.len() >= 6, "{kinds:?}");
}

/// The largest `race_start` the contract admits (200 cars, 200 drivers of 100 characters,
/// each escaped six bytes wide) publishes a state under [`RACE_STATE_MAX_BYTES`] with
/// every name: the decode limits and the publish limit agree.
#[tokio::test]
async fn the_largest_race_start_the_contract_admits_publishes_its_names() {
    let p = processor();
    let cars: Vec<String> = (0..200).map(|c| format!(r#""{c}""#)).collect();
    let name = "\\u0001".repeat(100);
    let drivers: Vec<String> = (0..200).map(|c| format!(r#""{c}":"{name}""#)).collect();
    let line = format!(
        r#"{{"v":1,"kind":"race_start","race_id":"full","ts":{T0},"track":"{}","cars":[{}],"drivers":{{{}}}}}"#,
        "t".repeat(64),
        cars.join(","),
        drivers.join(",")
    );
    let (failed, m) = send_events(&p, &[line], 1).await;
    assert_eq!(failed, None);
    assert_eq!(m.get("race_states_trimmed_total"), None);
    let st = last_state(&p, "full");
    assert_eq!(st.drivers.len(), 200);
    let bytes = race_state_bytes(&st);
    assert!(bytes < RACE_STATE_MAX_BYTES, "{bytes}");
    assert!(
        bytes > 100_000,
        "{bytes}: the names are escaped as AppSync carries them"
    );
}

/// Past its limit, a RaceState is published without the drivers' names (every other
/// field is bounded), never refused and retried.
#[test]
fn a_race_state_over_its_limit_loses_the_names_not_the_state() {
    let mut st = RaceState {
        v: 1,
        race_id: "r".into(),
        track: "iowa".into(),
        ts: T0,
        flag: Flag::Green,
        stage: 1,
        leader_lap: 10.0,
        scheduled_laps: Some(250),
        laps_to_go: Some(240.0),
        fuel_window_lap: None,
        cant_make_it_pct: 10.0,
        cars_running: 3,
        drivers: (0..3000)
            .map(|c| (c.to_string(), "\"".repeat(100)))
            .collect(),
    };
    let small = RaceState {
        drivers: BTreeMap::new(),
        ..st.clone()
    };
    let bytes = fit_race_state(&mut st).expect("over the limit");
    assert!(bytes > RACE_STATE_MAX_BYTES);
    assert_eq!(st, small);
    assert_eq!(fit_race_state(&mut st), None);
}

/// A `publishUpdates` mutation carries at most 100 updates (the writer's chunks): even
/// with the longest `race_id` the contract admits, its subscription message stays far
/// under AppSync's 240 KB.
#[tokio::test]
async fn a_mutation_of_updates_stays_under_the_subscription_limit() {
    let p = processor();
    assert_eq!(
        send(&p, &samples(Some("r"), &["1"], T0, 30), 1).await.0,
        None
    );
    let widest = shown(&p)
        .into_values()
        .max_by_key(|u| serde_json::to_string(u).unwrap().len())
        .unwrap();
    let update = FuelUpdate {
        race_id: "r".repeat(64),
        ..widest
    };
    let chunk = vec![update; 100];
    let bytes = serde_json::to_string(&chunk).unwrap().len();
    println!("100 updates: {bytes} bytes");
    assert!(bytes < 240 * 1000 / 2, "{bytes}");
}

// --- Item 3: the car item --------------------------------------------------------------

/// A car whose item would pass DynamoDB's limit: an hour with the writer down (its
/// outbox full: 720 updates) and then a thousand samples a second (10 s of them held in
/// open windows: every millisecond of the window being filled and of the lateness). It
/// is not written: its samples are quarantined as `car_item_too_large` (counted), the
/// batch is not failed (no retry loop), the other cars of the batch publish, and the
/// car's stored state is the one before; back to a sane rate, it goes on from there and
/// publishes its outbox.
#[tokio::test]
async fn a_car_past_the_item_limit_is_set_aside_and_the_rest_go_on() {
    let p = processor();
    let cars = ["1", "2", "3"];
    *p.publisher.fail_with.lock().unwrap() = Some(PortError::Retryable("writer down".into()));
    for chunk in 0..13 {
        let lines: Vec<String> = (0..60)
            .flat_map(|i| cars.map(|c| sample(Some("r"), c, T0 + (chunk * 60 + i) * 5_000)))
            .collect();
        send(&p, &lines, 1 + chunk as u64 * 1_000).await;
    }
    *p.publisher.fail_with.lock().unwrap() = None;
    let car3 = CarId::parse("3").unwrap();
    let before = p.store.car("r", car3).unwrap();
    assert_eq!(before.outbox.len(), ProcessorConfig::default().outbox_max);
    let outbox_bytes = car_item_bytes("r", &before, blob_len(&before).unwrap());
    println!("car 3 with a full outbox: {outbox_bytes} bytes");
    // Every millisecond of two windows for car 3; cars 1 and 2 once a second.
    let edge = T0 + 13 * 60 * 5_000 + 5_000;
    let mut lines = samples(Some("r"), &["1", "2"], edge - 5_000, 10);
    lines.extend((edge - 5_000..edge + 5_000).map(|ts| {
        format!(
            r#"{{"v":1,"race_id":"r","car":"3","ts":{ts},"lap":150,"lap_frac":0.{:04},"speed_mph":141.25,"rpm":9123.5,"throttle_pct":91.5,"brake_psi":12.5,"gear":4,"gap_ahead_s":0.75,"in_pit":false}}"#,
            ts % 10_000
        )
    }));
    let (failed, m) = send(&p, &lines, 100_000).await;
    assert_eq!(failed, None, "no retry: it would fail the same way");
    assert_eq!(m.get("car_items_too_large_total"), Some(1.0));
    // The car's lines are kept one by one up to the quarantine's cap per record, the rest
    // summed up by reason in one entry (`rejected_lines_omitted`).
    let q = quarantined(&p);
    let (kept, omitted): (Vec<_>, Vec<_>) = q
        .iter()
        .partition(|e| e.code != burnbar_pipeline::handler::LINES_OMITTED);
    assert!(!kept.is_empty() && kept.iter().all(|e| e.code == "car_item_too_large"));
    assert!(
        kept[0].detail.contains("over the limit"),
        "{}",
        kept[0].detail
    );
    assert!(
        omitted
            .iter()
            .all(|e| e.detail.contains("car_item_too_large")),
        "{omitted:?}"
    );
    assert_eq!(
        m.get("records_rejected_car_item_too_large_total"),
        Some(10_000.0)
    );
    assert_eq!(p.store.car("r", car3).unwrap(), before);
    let last = |car: &str| {
        shown(&p)
            .values()
            .filter(|u| u.car.as_str() == car)
            .map(|u| u.window_end)
            .max()
    };
    // Cars 1 and 2 published their hour and the new windows.
    assert_eq!(last("1"), Some(edge - 5_000));
    assert_eq!(last("1"), last("2"));
    assert_eq!(last("3"), None);
    // Back to a sane rate, car 3 goes on from its stored state, its outbox published.
    let (failed, _) = send(&p, &samples(Some("r"), &["3"], edge + 5_000, 20), 200_000).await;
    assert_eq!(failed, None);
    assert!(last("3") >= Some(edge + 15_000), "{:?}", last("3"));
    // Its outbox (the newest 720 windows, the older ones dropped and counted while the
    // writer was down) went out with the new windows.
    let car3_updates = shown(&p).keys().filter(|k| k.1 == car3).count();
    assert_eq!(car3_updates, ProcessorConfig::default().outbox_max);
}

/// A flood of distinct flags (a race-control producer gone wrong): each car keeps the
/// newest `APPLIED_MAX` ids and a floor, so its item stays small; every flag is applied
/// once (a redelivered batch changes nothing), and a flag stamped below the floor that
/// arrives after it is counted, not applied.
#[tokio::test]
async fn a_flood_of_flags_is_pruned_from_each_car_and_applied_once() {
    let p = processor();
    let mut seq = 1;
    assert_eq!(
        send_events(&p, &[race_start("r", T0, "")], seq).await.0,
        None
    );
    let n = 3 * APPLIED_MAX;
    let mut applied = 0.0;
    for chunk in 0..6 {
        let flags: Vec<String> = (0..n / 6)
            .map(|i| {
                let k = chunk * (n / 6) + i;
                let f = if k.is_multiple_of(2) {
                    "yellow"
                } else {
                    "green"
                };
                flag("r", T0 + 10 + k as i64 * 2, f)
            })
            .collect();
        seq += 10_000;
        assert_eq!(send_events(&p, &flags, seq).await.0, None);
        seq += 10_000;
        let from = T0 + chunk as i64 * 5_000;
        let batch = samples(Some("r"), &["1", "2"], from, 5);
        let (failed, m) = send(&p, &batch, seq).await;
        assert_eq!(failed, None);
        applied += m.get("events_applied_total").unwrap_or(0.0);
        // The same batch again: nothing applied twice, nothing written.
        let (failed, m) = send(&p, &batch, seq).await;
        assert_eq!(failed, None);
        assert_eq!(m.get("events_applied_total").unwrap_or(0.0), 0.0);
    }
    assert_eq!(
        applied,
        2.0 * n as f64,
        "every flag once, to each of the two cars"
    );
    for car in ["1", "2"] {
        let item = p.store.car("r", CarId::parse(car).unwrap()).unwrap();
        assert_eq!(item.applied.len(), APPLIED_MAX);
        let floor = item.floor.clone().expect("a floor");
        assert_eq!(floor.below as usize, n - APPLIED_MAX);
        assert!(item.applied.iter().all(|id| *id > floor.id));
        let bytes = car_item_bytes("r", &item, blob_len(&item).unwrap());
        assert!(bytes < 32 * 1024, "car {car}: {bytes} bytes");
    }
    // A late flag, stamped before the floor: counted once per car, not applied.
    seq += 10_000;
    assert_eq!(
        send_events(&p, &[flag("r", T0 + 11, "red")], seq).await.0,
        None
    );
    let batch = samples(Some("r"), &["1", "2"], T0 + 30_000, 3);
    let (failed, m) = send(&p, &batch, seq + 10_000).await;
    assert_eq!(failed, None);
    assert_eq!(m.get("events_below_floor_total"), Some(2.0));
    assert_eq!(m.get("events_applied_total").unwrap_or(0.0), 0.0);
    let (_, m) = send(
        &p,
        &samples(Some("r"), &["1", "2"], T0 + 33_000, 3),
        seq + 20_000,
    )
    .await;
    assert_eq!(m.get("events_below_floor_total"), None, "counted once");
}

/// The size of a car's item after a full race at 5 Hz (printed; `car_item_bytes_max` is
/// the metric a dashboard watches), far under the limit.
#[tokio::test]
async fn a_full_race_keeps_each_car_item_far_under_the_limit() {
    let sim = Simulation::new(&SimConfig {
        track: "iowa".into(),
        laps: Some(250),
        cars: 3,
        hz: 5,
        seed: 11,
        ..SimConfig::default()
    })
    .unwrap();
    let p: MemoryProcessor =
        MemoryProcessor::in_memory(MemoryStore::new(), None, ProcessorConfig::default());
    let (mut batch, mut events, mut seq, mut max_seen) = (Vec::new(), Vec::new(), 1u64, 0.0f64);
    let mut second = i64::MIN;
    let flush = async |batch: &mut Vec<String>, events: &mut Vec<String>, seq: &mut u64| {
        if !events.is_empty() {
            assert_eq!(send_events(&p, events, *seq).await.0, None);
            *seq += 10_000;
            events.clear();
        }
        let (failed, m) = send(&p, batch, *seq).await;
        assert_eq!(failed, None);
        *seq += 10_000;
        batch.clear();
        m.get("car_item_bytes_max").unwrap_or(0.0)
    };
    for (ts, line) in sim {
        if ts.div_euclid(10_000) != second && !batch.is_empty() {
            max_seen = max_seen.max(flush(&mut batch, &mut events, &mut seq).await);
        }
        second = ts.div_euclid(10_000);
        if line.contains("\"kind\"") {
            events.push(line);
        } else {
            batch.push(line);
        }
    }
    max_seen = max_seen.max(flush(&mut batch, &mut events, &mut seq).await);
    assert!(quarantined(&p).is_empty(), "{:?}", quarantined(&p).first());
    for ((race, car), item) in p.store.cars() {
        let bytes = car_item_bytes(&race, &item, blob_len(&item).unwrap());
        println!(
            "car {car} after the race: {bytes} bytes ({} applied ids, {} updates in the outbox)",
            item.applied.len(),
            item.outbox.len()
        );
        assert!(bytes < CAR_ITEM_MAX_BYTES / 10, "car {car}: {bytes} bytes");
    }
    println!("car_item_bytes_max over the race: {max_seen} bytes (limit {CAR_ITEM_MAX_BYTES})");
    assert!(max_seen > 0.0 && (max_seen as usize) < CAR_ITEM_MAX_BYTES / 4);
}

// --- Item 6: the wall clock's horizon ---------------------------------------------------

/// The first sample of a race stamped in the year 9999 would become the race's newest
/// `ts` and its car's watermark: every real sample of the car late, the RaceState `ts`
/// stuck. It is refused as `ts_in_future` against the wall clock, and the real samples
/// after it are processed as usual.
#[tokio::test]
async fn a_first_sample_in_the_year_9999_is_refused_and_real_ones_go_on() {
    let p = processor();
    let bad = [sample(Some("r"), "1", MAX_TS)];
    let (failed, m) = send(&p, &bad, 1).await;
    assert_eq!(failed, None);
    assert_eq!(m.get("records_rejected_ts_in_future_total"), Some(1.0));
    let q = quarantined(&p);
    assert_eq!(q.len(), 1);
    assert_eq!(
        (q[0].code.as_str(), q[0].field.as_deref()),
        ("ts_in_future", Some("ts"))
    );
    assert!(
        q[0].detail.contains("past the wall clock"),
        "{}",
        q[0].detail
    );
    // Within the horizon a skewed clock still counts.
    let (failed, m) = send(&p, &samples(Some("r"), &["1", "2"], T0, 40), 100).await;
    assert_eq!(failed, None);
    assert_eq!(m.get("samples_late_total"), Some(0.0));
    assert_eq!(
        cars_shown(&p, "r"),
        BTreeSet::from(["1".into(), "2".into()])
    );
    let st = last_state(&p, "r");
    assert_eq!(st.ts, T0 + 39_000);
    let near = clock() + CLOCK_FUTURE_MS;
    assert_eq!(send(&p, &[sample(Some("s"), "1", near)], 500).await.0, None);
    assert_eq!(quarantined(&p).len(), 1, "at the horizon it is admitted");
}

/// A `race_start` stamped far ahead would become the current race for good (the pointer
/// only moves forward), and a `flag` far ahead the RaceState `ts` of its race: both are
/// refused as `ts_in_future`, and the real race's samples without a `race_id` join it.
#[tokio::test]
async fn a_race_start_or_flag_far_ahead_moves_neither_the_pointer_nor_the_state() {
    let p = processor();
    let day = 24 * 3_600_000;
    let lines = [
        race_start("bogus", clock() + day, ""),
        race_start("real", T0, ""),
        flag("other", MAX_TS, "yellow"),
        flag("real", T0 + 1000, "yellow"),
    ];
    let (failed, m) = send_events(&p, &lines, 1).await;
    assert_eq!(failed, None);
    assert_eq!(m.get("records_rejected_ts_in_future_total"), Some(2.0));
    let q = quarantined(&p);
    assert!(q.iter().all(|e| e.code == "ts_in_future"), "{q:?}");
    assert!(q[0].line.contains("bogus") && q[1].line.contains("other"));
    assert!(
        p.publisher
            .states
            .lock()
            .unwrap()
            .iter()
            .all(|s| s.race_id == "real")
    );
    assert_eq!(last_state(&p, "real").ts, T0 + 1000);
    // Samples without a race_id belong to the real race.
    assert_eq!(
        send(&p, &samples(None, &["1", "2"], T0, 30), 100).await.0,
        None
    );
    assert_eq!(cars_shown(&p, "real").len(), 2);
    assert!(p.store.cars().keys().all(|(r, _)| r == "real"));
    assert_eq!(last_state(&p, "real").flag, Flag::Yellow);
}
