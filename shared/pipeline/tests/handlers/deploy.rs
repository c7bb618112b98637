//! A deploy in the middle of a race: this build reads the previous version's items.

use super::*;

/// Runs steps through both functions, each batch delivered once.
async fn run_all(steps: &[Step], p: &Proc) {
    run(steps, p, |recs| async move {
        assert_eq!(send(p, &recs).await.0, None);
    })
    .await;
}

/// The race of the mid-race deploy test ([`support`]: written out, not simulated), as
/// steps of one second, and the index of the first step after the cut.
fn midrace_steps() -> (Vec<Step>, usize) {
    let steps = steps_of(support::lines());
    let cut = ((support::CUT_MS) / 1000) as usize;
    (steps, cut)
}

/// The previous version's stored items after the first half of [`midrace_steps`]:
/// written by that version (`BURNBAR_BLESS_PREVIOUS=1` on it), read by this one.
const MIDRACE: &str = "tests/fixtures/midrace-blob3.json";

/// A deploy in the middle of a race: the previous version stored the first half (car
/// blobs of its format, events under its ids), this build runs the rest, and race
/// control redelivers every event of the first half (this build keys them its own way).
/// Every update is what a straight run on this build publishes, and every car ends in the
/// same state: no event applied twice, none lost.
#[tokio::test]
async fn a_deploy_in_mid_race_reads_the_previous_versions_items() {
    let (steps, half) = midrace_steps();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(MIDRACE);
    if std::env::var_os("BURNBAR_BLESS_PREVIOUS").is_some() {
        let p = processor();
        run_all(&steps[..half], &p).await;
        let dump = p.store.dump().unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, serde_json::to_string(&dump).unwrap() + "\n").unwrap();
        return;
    }

    let straight = processor();
    run_all(&steps, &straight).await;

    let dump: StoreDump =
        serde_json::from_str(&std::fs::read_to_string(&path).expect(MIDRACE)).unwrap();
    let p: MemoryProcessor = MemoryProcessor::in_memory(
        MemoryStore::from_dump(&dump).expect("this build reads the previous blob format"),
        None,
        ProcessorConfig::default(),
    );
    let first_half: Vec<String> = steps[..half]
        .iter()
        .flat_map(|s| s.events.clone())
        .collect();
    assert!(first_half.len() > 5, "{} events", first_half.len());
    assert_eq!(send_events(&p, &first_half, 7_000_000_000).await, None);
    run_all(&steps[half..], &p).await;

    let (got, want) = (shown(&p), shown(&straight));
    assert!(got.len() > 100, "{} updates after the deploy", got.len());
    // As subscribers see them (the wire rounds; an outbox read back from a blob is
    // rounded already).
    // An update the previous version computed before the cut and left in a car's outbox
    // is published as that version computed it: its `save_needed_pct` counted the car's
    // own laps, not the leader's (the contract changed with this build), so that one
    // field is left out for those updates; everything else must match.
    let cut_ts = support::T0 + support::CUT_MS;
    let unweighed = support::unweighed_before_cut();
    assert_eq!(unweighed.len(), 2, "{unweighed:?}");
    let wire = |u: Option<&FuelUpdate>| {
        u.map(|u| {
            let mut v = serde_json::to_value(u).unwrap();
            if u.window_end <= cut_ts {
                v.as_object_mut().unwrap().remove("save_needed_pct");
            }
            // A fill the previous version sized without a weighed amount keeps the doubt
            // that version gave it (a stop read by its tyres, this build's reading, is
            // wider): the band differs until the car's next stop; the estimate does not.
            if unweighed
                .iter()
                .any(|(car, next)| u.car.as_str() == *car && next.is_none_or(|t| u.window_end <= t))
            {
                let o = v.as_object_mut().unwrap();
                o.remove("remaining_low_gal");
                o.remove("remaining_high_gal");
            }
            v.to_string()
        })
    };
    for (key, u) in &got {
        assert_eq!(
            wire(Some(u)),
            wire(want.get(key)),
            "car {} seq {}",
            key.0,
            key.1
        );
    }
    let last_seq = want.keys().map(|k| k.1).max().unwrap();
    assert!(
        got.keys().any(|k| k.1 == last_seq),
        "the race ran to its end"
    );
    // A car retired before the deploy was never tested for its final window by the
    // previous version, and never will be: it publishes nothing more.
    let cars = |p: &Proc| -> BTreeMap<(String, CarId), serde_json::Value> {
        p.store
            .cars()
            .into_iter()
            .map(|(k, i)| {
                let mut v = serde_json::to_value(&i.state).unwrap();
                if i.state.retired {
                    v.as_object_mut().unwrap().remove("final_window");
                }
                // The doubt of a fill the previous version sized, until the car stops again.
                if unweighed
                    .iter()
                    .any(|(car, next)| k.1.as_str() == *car && next.is_none())
                {
                    v["fuel"].as_object_mut().unwrap().remove("stint_start_var");
                }
                (k, v)
            })
            .collect()
    };
    let (got, want) = (cars(&p), cars(&straight));
    let mut differ = Vec::new();
    for (k, g) in &got {
        json_diff(&format!("car {}", k.1.as_str()), g, &want[k], &mut differ);
    }
    assert_eq!(got.len(), want.len());
    assert!(
        differ.is_empty(),
        "every car ends in the same state: {differ:#?}"
    );
}

/// The paths at which two JSON values differ.
fn json_diff(path: &str, a: &serde_json::Value, b: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                let null = Value::Null;
                json_diff(
                    &format!("{path}.{k}"),
                    x.get(k).unwrap_or(&null),
                    y.get(k).unwrap_or(&null),
                    out,
                );
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                json_diff(&format!("{path}[{i}]"), p, q, out);
            }
        }
        _ if a != b => out.push(format!("{path}: {a} vs {b}")),
        _ => {}
    }
}
