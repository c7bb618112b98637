//! A silent car's windows closed by another shard's invocation (the sweep): once, through
//! a concurrent writer and a failed publish, and never for a car whose summary is fresh.

use super::*;

/// Two cars of race `r`, each on its own shard (one invocation per car per second, 5 Hz):
/// car 2 goes silent after 30 s, car 1 runs on to 150 s. With `conflict`, car 2's next
/// save after its last batch meets a concurrent writer; during the seconds of
/// `fail_publish` the writer is down. Returns the race's lines in time
/// order (for the engine), car 2's version after its last batch, and the sums over every
/// invocation of `cars_swept_total` and `conditional_write_retries_total`.
async fn silent_race(
    p: &Proc,
    conflict: bool,
    fail_publish: std::ops::Range<i64>,
) -> (Vec<String>, u64, f64, f64) {
    let t0 = 1_750_593_600_000i64;
    let start = format!(
        r#"{{"v":1,"kind":"race_start","ts":{t0},"race_id":"r","track":"iowa","cars":["1","2"]}}"#
    );
    assert_eq!(send_events(p, std::slice::from_ref(&start), 1).await, None);
    let mut all = vec![start];
    let (mut seq, mut version, mut swept, mut retries) = (100, 0, 0.0, 0.0);
    for sec in 0..150 {
        for car in ["1", "2"] {
            if car == "2" && sec >= 30 {
                continue;
            }
            let lines: Vec<String> = (0..5)
                .map(|k| sample(car, t0 + sec * 1000 + 100 + k * 200, t0))
                .collect();
            let down = fail_publish.contains(&sec);
            *p.publisher.fail_with.lock().unwrap() =
                down.then(|| PortError::Retryable("503".into()));
            let (failed, m) = send(p, &records(&lines, seq)).await;
            assert_eq!(
                failed.is_some(),
                down && car == "1",
                "second {sec} car {car}"
            );
            seq += 10;
            swept += m.get("cars_swept_total").unwrap_or(0.0);
            retries += m.get("conditional_write_retries_total").unwrap_or(0.0);
            all.extend(lines);
            if car == "2" && sec == 29 {
                version = p
                    .store
                    .car("r", CarId::parse("2").unwrap())
                    .unwrap()
                    .version;
                if conflict {
                    p.store.conflict_next_saves(CarId::parse("2").unwrap(), 1);
                }
            }
        }
    }
    (all, version, swept, retries)
}

fn quiet_processor() -> Proc {
    MemoryProcessor::in_memory(
        MemoryStore::new(),
        None,
        ProcessorConfig {
            silent_quiet: Duration::ZERO,
            ..ProcessorConfig::default()
        },
    )
}

#[tokio::test]
async fn a_silent_car_has_its_windows_closed_by_another_shards_invocation_once() {
    let two = CarId::parse("2").unwrap();
    let p = quiet_processor();
    let (lines, version, swept, _) = silent_race(&p, false, 0..0).await;
    assert_eq!(swept, 1.0, "one invocation closed car 2's windows");
    let item = p.store.car("r", two).unwrap();
    assert_eq!(item.state.held(), 0);
    assert_eq!(item.version, version + 1);
    let lambda = shown(&p);
    let mine: Vec<&FuelUpdate> = lambda.values().filter(|u| u.car == two).collect();
    assert_eq!(mine.iter().map(|u| u.samples).sum::<u32>(), 150);

    // The local engine closes the same windows by the same rule, with the same figures.
    let mut engine = Engine::new(EngineConfig::default(), ModelParams::default());
    let mut local = Vec::new();
    for l in &lines {
        engine.push_line(l.as_bytes(), &mut local).unwrap();
    }
    let strip = |u: &FuelUpdate| {
        let mut u = u.clone();
        u.burn_index = None;
        u.mode = burnbar_core::update::Mode::Normal;
        u
    };
    let local: Vec<FuelUpdate> = local.iter().filter(|u| u.car == two).map(strip).collect();
    let lambda_two: Vec<FuelUpdate> = mine.iter().map(|u| strip(u)).collect();
    assert_eq!(lambda_two, local);

    // Car 1's last batch again: nothing of car 2 changes or is published again.
    let before = p.publisher.updates.lock().unwrap().len();
    let t0 = 1_750_593_600_000i64;
    let again: Vec<String> = (0..5)
        .map(|k| sample("1", t0 + 149_000 + 100 + k * 200, t0))
        .collect();
    let (failed, m) = send(&p, &records(&again, 100 + 10 * (150 + 30 - 1))).await;
    assert_eq!(failed, None);
    assert_eq!(m.get("cars_swept_total"), Some(0.0));
    assert_eq!(p.store.car("r", two).unwrap(), item);
    assert_eq!(p.publisher.updates.lock().unwrap().len(), before);
}

#[tokio::test]
async fn a_sweep_meeting_a_concurrent_writer_reads_again_and_closes_each_window_once() {
    let two = CarId::parse("2").unwrap();
    let plain = quiet_processor();
    silent_race(&plain, false, 0..0).await;
    let p = quiet_processor();
    let (_, version, swept, retries) = silent_race(&p, true, 0..0).await;
    assert_eq!(swept, 1.0);
    assert_eq!(retries, 1.0, "the sweep met the other writer once");
    let item = p.store.car("r", two).unwrap();
    assert_eq!(item.state.held(), 0);
    // The concurrent writer moved the version on once; the sweep wrote once more.
    assert_eq!(item.version, version + 2);
    let mine =
        |p: &Proc| -> Vec<FuelUpdate> { shown(p).into_values().filter(|u| u.car == two).collect() };
    assert_eq!(mine(&p), mine(&plain));
}

#[tokio::test]
async fn a_sweep_whose_publish_fails_is_published_by_a_later_invocation() {
    let two = CarId::parse("2").unwrap();
    let plain = quiet_processor();
    silent_race(&plain, false, 0..0).await;
    // The writer is down from 85 s to 95 s of the race: the sweep (at about 91 s) is
    // committed but not published, and car 2's summary stays open.
    let p = quiet_processor();
    let (_, _, swept, _) = silent_race(&p, false, 85..95).await;
    assert!(
        swept >= 2.0,
        "swept again after the failed publish: {swept}"
    );
    let view = p.store.load_race("r", deadline()).await.unwrap();
    assert!(!view.summaries[&two].open);
    let mine =
        |p: &Proc| -> Vec<FuelUpdate> { shown(p).into_values().filter(|u| u.car == two).collect() };
    assert_eq!(mine(&p), mine(&plain));
}

#[tokio::test]
async fn a_car_whose_summary_is_fresh_is_not_taken_for_silent() {
    // The default quiet time (60 s of wall time): this test's whole race is written
    // within it, as a shard that is only behind would keep writing its cars.
    let p = processor();
    let (_, _, swept, _) = silent_race(&p, false, 0..0).await;
    assert_eq!(swept, 0.0);
    assert!(
        p.store
            .car("r", CarId::parse("2").unwrap())
            .unwrap()
            .state
            .held()
            > 0
    );
}
