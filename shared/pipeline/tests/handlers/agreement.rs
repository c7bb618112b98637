//! A race through both handlers against itself and against the local engine: redelivery
//! of whole batches, half batches and producer duplicates, every field a car's own
//! records decide, samples without a `race_id`, a race without a `race_start`.

use super::*;

#[tokio::test]
async fn redelivery_whole_half_and_producer_duplicates_change_nothing() {
    let steps = race(6, 6, 11);
    let once = processor();
    run(&steps, &once, |recs| {
        let p = &once;
        async move {
            assert_eq!(send(p, &recs).await.0, None);
        }
    })
    .await;

    let again = processor();
    let mut producer_seq = 900_000_000u64;
    run(&steps, &again, |recs| {
        let p = &again;
        producer_seq += 10_000;
        let seq0 = producer_seq;
        async move {
            // The whole batch, then the whole batch again.
            assert_eq!(send(p, &recs).await.0, None);
            let (_, m) = send(p, &recs).await;
            assert_eq!(
                m.get("windows_closed_total"),
                Some(0.0),
                "a redelivered batch closes nothing new"
            );
            // Its second half again.
            let half = recs[recs.len() / 2..].to_vec();
            assert_eq!(send(p, &half).await.0, None);
            // The producer re-sent every record under new sequence numbers.
            let lines: Vec<String> = recs
                .iter()
                .map(|(_, d)| String::from_utf8(d.clone()).unwrap())
                .collect();
            assert_eq!(send(p, &records(&lines, seq0)).await.0, None);
        }
    })
    .await;

    assert!(!states(&once).is_empty());
    assert_eq!(
        states(&once),
        states(&again),
        "same state as if each sample came once"
    );
    let (a, b) = (shown(&once), shown(&again));
    assert!(a.len() > 100, "{} windows", a.len());
    assert_eq!(a, b, "same updates, none counted twice");
    // Totals are sums of published burns: no double counting anywhere.
    let mut last: BTreeMap<CarId, &FuelUpdate> = BTreeMap::new();
    for ((car, _), u) in &a {
        last.insert(*car, u);
    }
    for (car, u) in last {
        let sum: f64 = a
            .iter()
            .filter(|((c, _), _)| *c == car)
            .map(|(_, u)| u.burn_gal)
            .sum();
        assert!(
            (sum - u.used_race_gal).abs() < 1e-6,
            "car {car}: {sum} vs {}",
            u.used_race_gal
        );
    }
}

#[tokio::test]
async fn the_pipeline_agrees_with_the_local_engine_on_every_car_field() {
    let steps = race(5, 8, 12);
    let p = processor();
    run(&steps, &p, |recs| {
        let p = &p;
        async move {
            assert_eq!(send(p, &recs).await.0, None);
        }
    })
    .await;

    let mut engine = Engine::new(EngineConfig::default(), ModelParams::default());
    let mut local = Vec::new();
    for s in &steps {
        for l in s.samples.iter().chain(&s.events) {
            engine.push_line(l.as_bytes(), &mut local).unwrap();
        }
    }
    let lambda = shown(&p);
    // The end of a replay closes every window; a live pipeline closes them as the
    // watermark passes. Compare the windows both closed.
    let mut compared = 0;
    for u in &local {
        let Some(l) = lambda.get(&(u.car, u.seq)) else {
            continue;
        };
        let strip = |u: &FuelUpdate| {
            let mut u = u.clone();
            u.burn_index = None;
            u.mode = burnbar_core::update::Mode::Normal;
            u
        };
        assert_eq!(strip(l), strip(u), "car {} seq {}", u.car, u.seq);
        compared += 1;
    }
    assert!(
        compared as f64 >= 0.97 * local.len() as f64,
        "{compared} of {}",
        local.len()
    );
    // burn_index reads other shards' figures from the race item: it is there.
    assert!(lambda.values().any(|u| u.burn_index.is_some()));
}

/// The line without its `race_id` (it then belongs to the current race).
fn without_race_id(line: &str) -> String {
    let at = line.find("\"race_id\":\"").expect("a race_id");
    let end = at + line[at..].find("\",").expect("more fields") + 2;
    format!("{}{}", &line[..at], &line[end..])
}

#[tokio::test]
async fn samples_without_a_race_id_join_the_named_samples_of_the_current_race() {
    let steps = race(4, 2, 15);
    // The race is current before its first sample (race control stores it: sent again
    // in its step, it changes nothing).
    let named = processor();
    assert_eq!(send_events(&named, &steps[0].events, 1).await, None);
    run(&steps, &named, |recs| {
        let p = &named;
        async move {
            assert_eq!(send(p, &recs).await.0, None);
        }
    })
    .await;
    // Every other line without its race_id: the same race, one group, arrival order.
    let mixed = processor();
    assert_eq!(send_events(&mixed, &steps[0].events, 1).await, None);
    run(&steps, &mixed, |mut recs| {
        let p = &mixed;
        for (i, (_, data)) in recs.iter_mut().enumerate() {
            if i % 2 == 1 {
                *data = without_race_id(std::str::from_utf8(data).unwrap()).into_bytes();
            }
        }
        async move {
            assert_eq!(send(p, &recs).await.0, None);
        }
    })
    .await;
    assert!(!shown(&named).is_empty());
    assert_eq!(shown(&mixed), shown(&named));
    assert_eq!(states(&mixed), states(&named));
}

/// A race no `race_start` described reports its newest data as the RaceState `ts`, as
/// the local engine does (the two disagreed before the race rules had one home).
#[tokio::test]
async fn a_race_without_race_start_reports_its_newest_data_as_ts() {
    let p = processor();
    let t0 = 1_750_593_600_000;
    let lines: Vec<String> = (0..30)
        .flat_map(|i| ["1", "2"].map(|c| sample(c, t0 + i * 1000, t0)))
        .collect();
    assert_eq!(send(&p, &records(&lines, 1)).await.0, None);
    let states = p.publisher.states.lock().unwrap().clone();
    let last = states.last().expect("a state published with the updates");
    assert_eq!(last.race_id, "r");
    assert_eq!(last.ts, t0 + 29_000);

    let mut engine = Engine::new(EngineConfig::default(), ModelParams::default());
    let mut out = Vec::new();
    for l in &lines {
        engine.push_line(l.as_bytes(), &mut out).unwrap();
    }
    assert_eq!(engine.race_state("r").unwrap().ts, last.ts);
}
