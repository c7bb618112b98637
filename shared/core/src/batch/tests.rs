use super::*;
use crate::{EngineConfig, ModelParams};

const T0: i64 = 1_750_593_600_000;

/// Two races of two cars over 40 s (windows close), with events, rejected lines of
/// several kinds between samples, and race ids given plainly, escaped (decoded to an
/// owned string) and left out.
fn lines() -> Vec<Vec<u8>> {
    let mut v: Vec<String> = vec![
        r#"{"v":1,"kind":"race_start","ts":1750593600000,"race_id":"a","track":"pocono","scheduled_laps":100,"cars":["1","2"]}"#.into(),
        "not json".into(),
        r#"{"v":1,"kind":"race_start","ts":1750593600000,"race_id":"b","track":"iowa","scheduled_laps":300}"#.into(),
    ];
    for tick in 0..400i64 {
        let ts = T0 + tick * 100;
        let pos = tick as f64 / 500.0;
        for (race, car) in [("a", 1), ("a", 2), ("b", 3), ("a\\u0062", 4)] {
            v.push(format!(
                r#"{{"v":1,"race_id":"{race}","car":"{car}","ts":{ts},"lap":{},"lap_frac":{:.4},"speed_mph":170.5,"rpm":8900,"throttle_pct":{}}}"#,
                pos.floor() as u32,
                pos.fract(),
                50 + tick % 50,
            ));
        }
        // A sample without a race id (the current race's), and lines rejected.
        if tick % 37 == 0 {
            v.push(format!(r#"{{"v":1,"car":"9","ts":{ts},"rpm":8000}}"#));
            v.push(format!(r#"{{"v":1,"car":"2","ts":{ts},"rpm":-1}}"#));
            v.push("[1,2]".into());
        }
        // Lines the engine rejects after they decoded: a sample 10 min ahead of its
        // race (`ts_in_future`) and an event 80 h after its race's start.
        if tick == 120 {
            v.push(format!(
                r#"{{"v":1,"race_id":"a","car":"1","ts":{},"rpm":8000}}"#,
                ts + 600_000
            ));
            v.push(format!(
                r#"{{"v":1,"kind":"flag","ts":{},"race_id":"b","flag":"green"}}"#,
                T0 + 80 * 3_600_000
            ));
        }
        if tick == 150 {
            v.push(format!(
                r#"{{"v":1,"kind":"pit_in","ts":{ts},"race_id":"a","car":"1"}}"#
            ));
            v.push(format!(
                r#"{{"v":1,"kind":"flag","ts":{ts},"race_id":"b","flag":"yellow"}}"#
            ));
        }
    }
    v.into_iter().map(String::into_bytes).collect()
}

/// What the engine did with each line: its tag, its result (with the text of a
/// rejected line), the updates it closed; then the counters and the final updates.
type Trace = (
    Vec<(u64, Result<(), (Reject, Vec<u8>)>, Vec<FuelUpdate>)>,
    crate::Counters,
    Vec<FuelUpdate>,
);

fn engine() -> Engine {
    Engine::new(EngineConfig::default(), ModelParams::default())
}

fn by_lines(lines: &[Vec<u8>]) -> Trace {
    let mut e = engine();
    let mut steps = Vec::new();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let res = e.push_line(l, &mut out).map_err(|r| (r, l.clone()));
        steps.push((i as u64 + 1, res, std::mem::take(&mut out)));
    }
    e.finish(&mut out);
    (steps, e.counters().clone(), out)
}

/// Applies one batch, recording each step into `steps`.
fn apply(batch: &mut DecodedBatch, e: &mut Engine, steps: &mut Vec<TraceStep>) {
    let mut out = Vec::new();
    batch
        .apply(e, &mut out, |tag, res, updates| {
            let res = res.map_err(|(r, t)| (r, t.to_vec()));
            steps.push((tag, res, std::mem::take(updates)));
            Ok::<(), ()>(())
        })
        .expect("the step never fails");
}

type TraceStep = (u64, Result<(), (Reject, Vec<u8>)>, Vec<FuelUpdate>);

fn by_batches(lines: &[Vec<u8>], size: usize) -> Trace {
    let mut e = engine();
    let mut steps = Vec::new();
    let mut batch = DecodedBatch::new();
    for (chunk_no, chunk) in lines.chunks(size).enumerate() {
        for (i, l) in chunk.iter().enumerate() {
            batch.push_line((chunk_no * size + i) as u64 + 1, l);
        }
        assert_eq!(batch.len(), chunk.len());
        apply(&mut batch, &mut e, &mut steps);
        assert!(batch.is_empty());
    }
    let mut out = Vec::new();
    e.finish(&mut out);
    (steps, e.counters().clone(), out)
}

#[test]
fn batches_apply_exactly_as_lines_pushed_one_by_one() {
    let lines = lines();
    let want = by_lines(&lines);
    assert!(want.1.windows_closed > 20, "{:?}", want.1);
    assert!(want.1.rejected > 20 && want.1.events == 5, "{:?}", want.1);
    assert_eq!(
        want.1.rejected_by.get("ts_in_future"),
        Some(&2),
        "{:?}",
        want.1
    );
    // The escaped race id is a race of its own ("ab").
    assert!(want.0.iter().flat_map(|s| &s.2).any(|u| u.race_id == "ab"));
    for size in [1, 2, 3, 7, 64, lines.len()] {
        let got = by_batches(&lines, size);
        assert!(got == want, "batches of {size} differ");
    }
}

#[test]
fn a_rejected_line_keeps_its_text_and_an_unread_one_counts_as_an_invalid_record() {
    let mut e = engine();
    let mut batch = DecodedBatch::new();
    batch.push_line(5, b"{\"v\":2}");
    batch.push_rejected(9, b"xxxx", crate::engine::unread("too long"));
    batch.push_line(
        10,
        br#"{"v":1,"race_id":"r","car":"7","ts":1750593600000,"rpm":8000}"#,
    );
    let mut steps = Vec::new();
    apply(&mut batch, &mut e, &mut steps);
    type Seen<'a> = (u64, Option<(&'a str, &'a [u8])>);
    let seen: Vec<Seen<'_>> = steps
        .iter()
        .map(|(t, r, _)| {
            (
                *t,
                r.as_ref()
                    .err()
                    .map(|(r, text)| (r.code.as_str(), text.as_slice())),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (5, Some(("unsupported_version", &b"{\"v\":2}"[..]))),
            (9, Some(("invalid_json", &b"xxxx"[..]))),
            (10, None),
        ]
    );
    let mut by_line = engine();
    let _ = by_line.push_line(b"{\"v\":2}", &mut Vec::new());
    let _ = by_line.push_decoded(Err(crate::engine::unread("too long")), &mut Vec::new());
    by_line
        .push_line(
            br#"{"v":1,"race_id":"r","car":"7","ts":1750593600000,"rpm":8000}"#,
            &mut Vec::new(),
        )
        .unwrap();
    assert_eq!(e.counters(), by_line.counters());
}

#[test]
fn a_run_of_one_race_stores_its_id_once() {
    let mut batch = DecodedBatch::new();
    for (i, race) in ["aa", "aa", "bb", "bb", "aa"].iter().enumerate() {
        let l = format!(
            r#"{{"v":1,"race_id":"{race}","car":"7","ts":{},"rpm":1}}"#,
            T0 + i as i64
        );
        batch.push_line(i as u64, l.as_bytes());
    }
    assert_eq!(batch.race_ids, "aabbaa");
    let ids: Vec<String> = batch
        .drain()
        .map(|l| match l.record {
            Ok(Record::Sample(s)) => s.race_id.expect("given").into_owned(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ids, ["aa", "aa", "bb", "bb", "aa"]);
    batch.clear();
    assert!(batch.race_ids.is_empty() && batch.text.is_empty());
}

#[test]
fn the_pipeline_delivers_in_order_and_reuses_its_batches() {
    let lines = lines();
    let want = by_lines(&lines);
    let (filler, applier) = pipeline(2);
    let made = std::sync::atomic::AtomicUsize::new(0);
    let got = std::thread::scope(|s| {
        let lines = &lines;
        let made = &made;
        s.spawn(move || {
            for (chunk_no, chunk) in lines.chunks(50).enumerate() {
                let mut batch = filler.empty();
                if batch.lines.capacity() == 0 {
                    made.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                for (i, l) in chunk.iter().enumerate() {
                    batch.push_line((chunk_no * 50 + i) as u64 + 1, l);
                }
                filler
                    .send(batch)
                    .expect("the applier waits for every batch");
            }
        });
        let mut e = engine();
        let mut steps = Vec::new();
        while let Some(mut batch) = applier.recv() {
            apply(&mut batch, &mut e, &mut steps);
            applier.recycle(batch);
        }
        let mut out = Vec::new();
        e.finish(&mut out);
        (steps, e.counters().clone(), out)
    });
    assert!(got == want, "the pipeline's trace differs");
    // Queue of 2, one being applied, one being filled, one on its way back.
    let made = made.into_inner();
    assert!(
        made <= 5 && lines.len() / 50 > 20,
        "{made} batches made for {} lines",
        lines.len()
    );
}

#[test]
fn the_filler_learns_when_the_applier_has_gone() {
    let (filler, applier) = pipeline(1);
    filler.send(DecodedBatch::new()).expect("room for one");
    drop(applier);
    assert_eq!(filler.send(DecodedBatch::new()), Err(Closed));
}

#[test]
fn a_batch_told_to_keep_no_text_gives_the_same_results_without_it() {
    let lines = lines();
    let (want, want_counters, want_final) = by_lines(&lines);
    let mut e = engine();
    let mut steps = Vec::new();
    let mut batch = DecodedBatch::new();
    batch.keep_text(false);
    for chunk in lines.chunks(64) {
        for (i, l) in chunk.iter().enumerate() {
            batch.push_line(steps.len() as u64 + i as u64 + 1, l);
        }
        apply(&mut batch, &mut e, &mut steps);
        assert!(batch.text.is_empty(), "no text kept across clear");
    }
    let mut out = Vec::new();
    e.finish(&mut out);
    let without_text: Vec<TraceStep> = want
        .into_iter()
        .map(|(t, r, u)| (t, r.map_err(|(r, _)| (r, Vec::new())), u))
        .collect();
    assert!(steps == without_text, "the same steps, every text empty");
    assert_eq!((e.counters(), &out), (&want_counters, &want_final));
}
