//! Hostile faults against the handlers (issue 15, items 2, 4, 5 and 7), with the
//! in-memory adapters: one undecodable car item, one record of half a million bad lines,
//! a hundred thousand car ids, a field gone silent at once, and more windows than the
//! model takes in one request or a request it refuses. Each test asserts that the fault
//! stays with its car, record or request, that the other cars and races go on, that
//! nothing is lost or doubled, and that the reason is visible.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use burnbar_core::car::WindowFeatures;
use burnbar_core::correction::MAX_WINDOWS_PER_REQUEST;
use burnbar_core::{CarId, FuelUpdate};
use burnbar_metrics::MetricSet;
use burnbar_pipeline::breaker::BreakerState;
use burnbar_pipeline::handler::{
    LINES_OMITTED, QUARANTINE_LINES_PER_INVOCATION, QUARANTINE_LINES_PER_RECORD,
};
use burnbar_pipeline::item::encode_blob;
use burnbar_pipeline::memory::{MemoryProcessor, MemoryStore, NoPredictor};
use burnbar_pipeline::ports::{CarStore, PortError, Predictor, RaceStore};
use burnbar_pipeline::{Control, InRecord, ProcessorConfig};
use tokio::time::Instant;

type Proc<P = NoPredictor> = MemoryProcessor<P>;

const T0: i64 = 1_750_593_600_000;

fn processor_with<P: Predictor>(pred: Option<P>, cfg: ProcessorConfig) -> Proc<P> {
    MemoryProcessor::in_memory(MemoryStore::new(), pred, cfg)
}

fn processor() -> Proc {
    processor_with(None, ProcessorConfig::default())
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(600)
}

fn car(c: &str) -> CarId {
    CarId::parse(c).unwrap()
}

/// A flat sample line of race `r` (a car lapping Iowa at a steady pace).
fn sample(car: &str, ts: i64) -> String {
    let laps = (ts - T0) as f64 / 24_000.0;
    format!(
        r#"{{"v":1,"race_id":"r","car":"{car}","ts":{ts},"lap":{},"lap_frac":{:.4},"speed_mph":140.0,"rpm":9000,"throttle_pct":90.0}}"#,
        laps.floor(),
        laps.fract()
    )
}

/// Kinesis records of `per` lines each, sequence numbers from `seq0`.
fn records(lines: &[String], per: usize, seq0: u64) -> Vec<(String, Vec<u8>)> {
    lines
        .chunks(per)
        .enumerate()
        .map(|(i, c)| {
            (
                format!("{:020}", seq0 + i as u64),
                c.join("\n").into_bytes(),
            )
        })
        .collect()
}

async fn send_raw<P: Predictor>(
    p: &Proc<P>,
    recs: &[(String, Vec<u8>)],
) -> (Option<String>, MetricSet) {
    let ins: Vec<InRecord<'_>> = recs.iter().map(|(s, d)| InRecord::new(s, d)).collect();
    let mut m = MetricSet::new("t", &[]);
    let o = p.handle(&ins, deadline(), &mut m).await;
    (o.first_failed, m)
}

/// Every car's samples of seconds `secs` at 5 Hz, one record per car and second.
fn seconds(cars: &[&str], secs: std::ops::Range<i64>) -> Vec<String> {
    let mut out = Vec::new();
    for s in secs {
        for c in cars {
            for k in 0..5 {
                out.push(sample(c, T0 + s * 1000 + 100 + k * 200));
            }
        }
    }
    out
}

fn published(p: &Proc<impl Predictor>) -> Vec<FuelUpdate> {
    p.publisher.updates.lock().unwrap().clone()
}

/// The windows published per car (by window start), each once: a window published
/// twice under different contents would be a doubled update.
fn windows_of(p: &Proc<impl Predictor>) -> BTreeMap<CarId, BTreeSet<i64>> {
    let mut seen: BTreeMap<(CarId, i64), FuelUpdate> = BTreeMap::new();
    for u in published(p) {
        if let Some(prev) = seen.insert((u.car, u.window_start), u.clone()) {
            assert_eq!(
                prev, u,
                "window {} of car {} published twice, differently",
                u.window_start, u.car
            );
        }
    }
    let mut out: BTreeMap<CarId, BTreeSet<i64>> = BTreeMap::new();
    for (c, w) in seen.keys() {
        out.entry(*c).or_default().insert(*w);
    }
    out
}

fn calls(p: &Proc<impl Predictor>, name: &str) -> u64 {
    p.store
        .calls
        .lock()
        .unwrap()
        .get(name)
        .copied()
        .unwrap_or(0)
}

/// How a good car blob is made unreadable.
type Spoil = fn(Vec<u8>) -> Vec<u8>;

/// Item 2. A car whose stored item does not decode (a `BLOB_FORMAT` bump deployed in
/// mid-race, or corrupted bytes) is isolated: its samples are quarantined as
/// `car_state_undecodable` with the decoder's reason, counted, and its item is left as
/// it is; the race's other cars go on in the same invocation. Race control's `car_out`
/// for it does not hold the control stream. Rolling the item back (the previous build's
/// format) and redriving the quarantined samples brings the car back with nothing lost
/// or doubled: the same windows as a race that never had the fault.
#[tokio::test]
async fn an_undecodable_car_item_is_quarantined_alone_and_the_race_goes_on() {
    let cars = ["1", "2", "3"];
    let p = processor();
    let reference = processor();
    for q in [&p, &reference] {
        assert_eq!(
            send_raw(q, &records(&seconds(&cars, 0..20), 5, 1)).await.0,
            None
        );
    }
    let out = format!(
        r#"{{"v":1,"kind":"car_out","ts":{},"race_id":"r","car":"2"}}"#,
        T0 + 39_950
    );
    let bad_kinds: [(Spoil, &str); 2] = [
        // Another build's format (a bump deployed in mid-race, read by the old build).
        (
            |mut b| {
                b[0] = 9;
                b
            },
            "format 9",
        ),
        // Corrupted bytes.
        (|b| b[..40].to_vec(), "does not decode"),
    ];
    for (k, (spoil, why)) in bad_kinds.into_iter().enumerate() {
        let secs = 20 + 10 * k as i64..30 + 10 * k as i64;
        let good = p.store.car("r", car("2")).unwrap();
        p.store.put_blob(
            "r",
            car("2"),
            good.version,
            spoil(encode_blob(&good).unwrap()),
        );
        let lines = seconds(&cars, secs.clone());
        let (failed, m) = send_raw(&p, &records(&lines, 5, 1_000 * (k as u64 + 1))).await;
        assert_eq!(failed, None, "no record is failed: nothing to retry");
        assert_eq!(m.get("cars_undecodable_total"), Some(1.0));
        assert_eq!(
            m.get("records_rejected_car_state_undecodable_total"),
            Some(50.0)
        );
        let q = std::mem::take(&mut *p.quarantine.items.lock().unwrap());
        assert_eq!(q.len(), 50, "car 2's 10 s at 5 Hz");
        assert!(
            q.iter().all(|e| e.code == "car_state_undecodable"
                && e.detail.contains(why)
                && e.detail.contains("car 2")
                && e.line.contains(r#""car":"2""#)),
            "{:?}",
            q[0]
        );
        // The item is not overwritten: a state this build cannot read is kept for a
        // rollback or a repair.
        let read = p
            .store
            .load_cars_each("r", &[car("2")], deadline())
            .await
            .unwrap();
        assert!(read[&car("2")].is_err());
        // The other cars went on.
        for c in ["1", "3"] {
            assert_eq!(
                p.store.car("r", car(c)).unwrap().state.max_ts,
                Some(T0 + secs.end * 1000 - 100)
            );
        }
        if k == 1 {
            // Race control takes the car out: the event is stored, the record not failed
            // (the car's own fold applies it once its item reads again).
            let recs = records(std::slice::from_ref(&out), 1, 5_000);
            let ins: Vec<InRecord<'_>> = recs.iter().map(|(s, d)| InRecord::new(s, d)).collect();
            let mut cm = MetricSet::new("t", &[]);
            let ctl = Control::new(
                &p.store,
                &p.publisher,
                &p.quarantine,
                ProcessorConfig::default(),
            );
            assert_eq!(
                ctl.handle(&ins, deadline(), &mut cm).await.first_failed,
                None
            );
            assert_eq!(cm.get("cars_undecodable_total"), Some(1.0));
        }
        // Redriven while the item is still unreadable: quarantined again, as before.
        let redrive: Vec<String> = q.iter().map(|e| e.line.clone()).collect();
        assert_eq!(send_raw(&p, &records(&redrive, 5, 10_000)).await.0, None);
        assert_eq!(
            std::mem::take(&mut *p.quarantine.items.lock().unwrap()).len(),
            50
        );
        // The repair: the item as it was (a rollback of the deploy), the quarantined
        // samples redriven.
        p.store
            .put_blob("r", car("2"), good.version, encode_blob(&good).unwrap());
        assert_eq!(send_raw(&p, &records(&redrive, 5, 20_000)).await.0, None);
        assert!(p.quarantine.items.lock().unwrap().is_empty());
        assert_eq!(
            p.store.car("r", car("2")).unwrap().state.max_ts,
            Some(T0 + secs.end * 1000 - 100)
        );
    }
    assert!(p.store.car("r", car("2")).unwrap().state.retired);
    // The reference: the same samples and car_out, no fault. Every car published the
    // same windows, each once.
    let lines = seconds(&cars, 20..40);
    assert_eq!(
        send_raw(&reference, &records(&lines, 5, 1_000)).await.0,
        None
    );
    let recs = records(std::slice::from_ref(&out), 1, 5_000);
    let ins: Vec<InRecord<'_>> = recs.iter().map(|(s, d)| InRecord::new(s, d)).collect();
    let mut cm = MetricSet::new("t", &[]);
    let ctl = Control::new(
        &reference.store,
        &reference.publisher,
        &reference.quarantine,
        ProcessorConfig::default(),
    );
    assert_eq!(
        ctl.handle(&ins, deadline(), &mut cm).await.first_failed,
        None
    );
    assert_eq!(windows_of(&p), windows_of(&reference));
}

/// Item 4. One record of 500,000 bad lines is 20 entries and one summary with the
/// count by reason (3 `SendMessageBatch` calls, not 50,000), every line still counted;
/// the batch's other records go on. Across many records, an invocation keeps at most
/// 1,000 lines one by one and one summary per record past the caps.
#[tokio::test]
async fn a_record_of_many_bad_lines_is_a_few_quarantine_entries_and_the_rest_goes_on() {
    let p = processor();
    let bad: Vec<u8> = "not json\n".repeat(500_000).into_bytes();
    let good = seconds(&["1"], 0..20).join("\n").into_bytes();
    let few = b"{\"v\":1}\nnope\n[]".to_vec();
    let recs = vec![
        ("00000000000000000001".to_owned(), bad),
        ("00000000000000000002".to_owned(), good),
        ("00000000000000000003".to_owned(), few),
    ];
    let (failed, m) = send_raw(&p, &recs).await;
    assert_eq!(failed, None);
    let q = p.quarantine.items.lock().unwrap().clone();
    let of = |seq: &str| {
        q.iter()
            .filter(|e| e.sequence_number.ends_with(seq))
            .collect::<Vec<_>>()
    };
    let first = of("01");
    assert_eq!(first.len(), QUARANTINE_LINES_PER_RECORD + 1);
    let summary = first.iter().find(|e| e.code == LINES_OMITTED).unwrap();
    assert_eq!(summary.line_no, QUARANTINE_LINES_PER_RECORD);
    assert!(
        summary.detail.contains("499980 more rejected lines"),
        "{}",
        summary.detail
    );
    assert!(
        summary.detail.contains("invalid_json 499980"),
        "{}",
        summary.detail
    );
    assert_eq!(of("03").len(), 3, "a record under the cap keeps each line");
    assert_eq!(m.get("records_rejected_total"), Some(500_003.0));
    assert!(m.get("records_rejected_invalid_json_total").unwrap() >= 500_000.0);
    assert_eq!(m.get("quarantine_lines_omitted_total"), Some(499_980.0));
    assert_eq!(m.get("records_quarantined_total"), Some(24.0));
    // SQS takes 10 entries a call: 3 calls.
    assert_eq!(q.len().div_ceil(10), 3);
    // The good record's car went on.
    assert!(windows_of(&p)[&car("1")].len() >= 2);

    // Many records past the invocation's cap: the first 1,000 lines one by one, then
    // one summary for each record with lines left over.
    let p = processor();
    let recs: Vec<(String, Vec<u8>)> = (0..60)
        .map(|i| {
            (
                format!("{:020}", i + 1),
                format!("{}x", "x\n".repeat(29)).into_bytes(),
            )
        })
        .collect();
    let (failed, m) = send_raw(&p, &recs).await;
    assert_eq!(failed, None);
    let q = p.quarantine.items.lock().unwrap().clone();
    let summaries = q.iter().filter(|e| e.code == LINES_OMITTED).count();
    assert_eq!(q.len() - summaries, QUARANTINE_LINES_PER_INVOCATION);
    assert_eq!(summaries, 60, "each record has lines past a cap");
    assert_eq!(m.get("records_rejected_total"), Some(1_800.0));
    assert_eq!(m.get("quarantine_lines_omitted_total"), Some(800.0));
}

/// Item 5. 100,000 distinct car ids in one invocation: the race takes 200 (the others
/// are quarantined as `too_many_cars` and counted), and the store's work is the 200's:
/// 200 keys read, 200 writes several at a time, 200 summaries. A second invocation with
/// the same ids costs the same. Nothing of the 200 is lost.
#[tokio::test]
async fn a_hundred_thousand_car_ids_cost_the_work_of_the_races_200() {
    let p = processor();
    // Car ids are 1 to 4 letters or digits: 100,000 of them in base 36.
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let ids: Vec<String> = (0..100_000usize)
        .map(|i| {
            let d = |k: u32| digits[i / 36usize.pow(k) % 36] as char;
            [d(3), d(2), d(1), d(0)].iter().collect()
        })
        .collect();
    for (n, sec) in [0i64, 7].into_iter().enumerate() {
        let lines: Vec<String> = ids.iter().map(|c| sample(c, T0 + sec * 1000)).collect();
        let (failed, m) = send_raw(&p, &records(&lines, 1_000, 1 + 1_000 * n as u64)).await;
        assert_eq!(failed, None);
        assert_eq!(
            m.get("records_rejected_too_many_cars_total"),
            Some(99_800.0)
        );
        let k = n as u64 + 1;
        assert_eq!(calls(&p, "load_cars_keys"), 200 * k, "keys read");
        assert_eq!(calls(&p, "save_car"), 200 * k, "one write per car taken");
        assert!(calls(&p, "put_summary") <= 200 * k);
        let inflight = calls(&p, "save_car_in_flight_max");
        assert!(
            inflight > 1 && inflight <= 16,
            "writes in flight at once: {inflight}"
        );
        // The quarantine stays bounded too: 1,000 lines and a summary per record.
        let q = p.quarantine.items.lock().unwrap().len();
        assert_eq!(q, (QUARANTINE_LINES_PER_INVOCATION + 100) * (n + 1));
    }
    // The 200 taken (the first in car order) each hold both samples.
    let stored = p.store.cars();
    assert_eq!(stored.len(), 200);
    let mut first: Vec<CarId> = ids.iter().map(|c| car(c)).collect();
    first.sort();
    for c in first.iter().take(200) {
        let item = &stored[&("r".to_owned(), *c)];
        assert_eq!(item.state.max_ts, Some(T0 + 7000), "car {c}");
    }
    let view = p.store.load_race("r", deadline()).await.unwrap();
    assert_eq!(
        view.summaries.len(),
        200,
        "summaries read by every invocation stay at 200"
    );
}

/// Item 5. A whole field gone silent at once (their shard stopped) is swept at most
/// `sweep_max` cars an invocation, the longest quiet first, the rest in the next ones
/// (counted as deferred); every car's windows close, each once, as an unbounded sweep
/// closes them.
#[tokio::test]
async fn a_field_gone_silent_is_swept_a_bounded_number_of_cars_an_invocation() {
    let cfg = |max| ProcessorConfig {
        silent_quiet: Duration::ZERO,
        sweep_max: max,
        ..ProcessorConfig::default()
    };
    let bounded = processor_with::<NoPredictor>(None, cfg(50));
    let unbounded = processor_with::<NoPredictor>(None, cfg(10_000));
    let field: Vec<String> = (1..=120).map(|i| format!("{i}")).collect();
    let field: Vec<&str> = field.iter().map(String::as_str).collect();
    let mut per_invocation = Vec::new();
    for p in [&bounded, &unbounded] {
        assert_eq!(
            send_raw(p, &records(&seconds(&field, 0..10), 5, 1)).await.0,
            None
        );
        // Car 0 runs on alone, on its own shard.
        let mut swept = Vec::new();
        let mut deferred = 0.0;
        for sec in 10..100 {
            let (failed, m) = send_raw(
                p,
                &records(&seconds(&["0"], sec..sec + 1), 5, 10_000 + sec as u64 * 10),
            )
            .await;
            assert_eq!(failed, None);
            swept.push(m.get("cars_swept_total").unwrap_or(0.0));
            deferred += m.get("cars_sweep_deferred_total").unwrap_or(0.0);
        }
        per_invocation.push((swept, deferred));
    }
    let (swept, deferred) = &per_invocation[0];
    assert!(swept.iter().all(|&n| n <= 50.0), "{swept:?}");
    assert_eq!(swept.iter().copied().fold(0.0, f64::max), 50.0);
    assert!(*deferred >= 70.0, "{deferred}");
    assert_eq!(
        per_invocation[1].0.iter().copied().fold(0.0, f64::max),
        120.0
    );
    // Every silent car's windows are closed, each once, the same windows either way.
    let view = bounded.store.load_race("r", deadline()).await.unwrap();
    for c in &field {
        assert!(!view.summaries[&car(c)].open, "car {c} still open");
    }
    assert_eq!(windows_of(&bounded), windows_of(&unbounded));
}

/// A model that refuses (400, as the container does) a request of more windows than it
/// takes, and scales each window otherwise; it records each request's size.
struct Container {
    max: usize,
    sizes: Mutex<Vec<usize>>,
}

impl Predictor for Container {
    async fn predict(
        &self,
        w: &[WindowFeatures],
        _: Instant,
    ) -> Result<Vec<Option<f64>>, PortError> {
        self.sizes.lock().unwrap().push(w.len());
        if w.len() > self.max {
            return Err(PortError::Permanent(format!(
                "InvokeEndpoint: ModelError 400: {} windows in one request, at most {} are accepted",
                w.len(),
                self.max
            )));
        }
        Ok(vec![Some(1.05); w.len()])
    }
}

/// Item 7. More windows than the container takes in one request are sent in requests
/// of at most `MAX_WINDOWS_PER_REQUEST`: every window gets its factor.
#[tokio::test]
async fn more_windows_than_one_request_takes_go_in_several() {
    let p = processor_with(
        Some(Container {
            max: MAX_WINDOWS_PER_REQUEST,
            sizes: Mutex::new(Vec::new()),
        }),
        ProcessorConfig::default(),
    );
    // Three cars, one sample every 5 s (a window each) for 10,010 windows; the first
    // batch opens the windows, the second closes them all.
    let n = 3_400;
    let mut lines = Vec::new();
    for i in 0..n {
        for c in ["1", "2", "3"] {
            lines.push(sample(c, T0 + 5_000 * i + 2_500));
        }
    }
    let (failed, m) = send_raw(&p, &records(&lines, 500, 1)).await;
    assert_eq!(failed, None);
    let windows = m.get("predictor_windows_total").unwrap();
    assert!(windows > MAX_WINDOWS_PER_REQUEST as f64, "{windows}");
    let sizes = p
        .predictor
        .as_ref()
        .unwrap()
        .inner()
        .sizes
        .lock()
        .unwrap()
        .clone();
    assert_eq!(sizes.len(), 2, "{sizes:?}");
    assert!(sizes.iter().all(|&s| s <= MAX_WINDOWS_PER_REQUEST));
    assert_eq!(sizes.iter().sum::<usize>() as f64, windows);
    assert_eq!(m.get("predictor_fallbacks_total"), Some(0.0));
    // Each car's outbox keeps its newest 720 updates (the rest are counted as dropped).
    let ups = published(&p);
    assert_eq!(
        ups.len() as f64 + m.get("updates_dropped_total").unwrap_or(0.0),
        windows
    );
    assert!(
        ups.iter()
            .all(|u| u.model == burnbar_core::update::ModelKind::PhysicsMl)
    );
}

/// Item 7. A request the endpoint refuses (a 4xx: the caller's fault) falls back to
/// physics for its windows, counted, and does not open the breaker: three refused
/// requests in a row leave it closed, and the next invocation's windows (another race)
/// still get their factors. A 5xx still counts (the breaker's own test).
#[tokio::test]
async fn a_refused_request_falls_back_without_opening_the_breaker_for_every_race() {
    let p = processor_with(
        Some(Container {
            max: 5,
            sizes: Mutex::new(Vec::new()),
        }),
        ProcessorConfig::default(),
    );
    // Race r: a car's 60 s in each invocation: 12 windows a request, refused.
    for k in 0..4i64 {
        let lines: Vec<String> = (0..120)
            .map(|i| sample("1", T0 + k * 60_000 + i * 500))
            .collect();
        let (failed, m) = send_raw(&p, &records(&lines, 120, 1 + k as u64 * 10)).await;
        assert_eq!(failed, None);
        if k > 0 {
            assert_eq!(
                m.get("predictor_refused_total"),
                Some(1.0),
                "invocation {k}"
            );
            assert_eq!(m.get("predictor_failures_total"), None);
            assert!(m.get("predictor_fallback_windows_total").unwrap() > 5.0);
        }
    }
    let b = p.predictor.as_ref().unwrap();
    assert_eq!(b.state(), BreakerState::Closed { failures: 0 });
    assert!(
        published(&p)
            .iter()
            .all(|u| u.model == burnbar_core::update::ModelKind::Physics)
    );
    // Race s, a few windows: the model is asked and its factors are used.
    let lines: Vec<String> = (0..30)
        .map(|i| {
            sample("7", T0 + 240_000 + i * 500).replace(r#""race_id":"r""#, r#""race_id":"s""#)
        })
        .collect();
    let before = published(&p).len();
    let (failed, m) = send_raw(&p, &records(&lines, 30, 100)).await;
    assert_eq!(failed, None);
    assert_eq!(m.get("predictor_fallbacks_total"), Some(0.0));
    let fresh = &published(&p)[before..];
    assert!(!fresh.is_empty());
    assert!(
        fresh
            .iter()
            .all(|u| u.model == burnbar_core::update::ModelKind::PhysicsMl && u.race_id == "s")
    );
}
