//! The behaviour lock of the functions: what a race publishes, by hash.

use super::*;

/// FNV-1a, 64 bits: stable across builds and platforms.
fn fnv(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The behaviour lock of the functions: the updates and race states a race publishes
/// through both handlers, compared by hash with `tests/fixtures/behaviour.txt`. A
/// refactoring leaves them as they were; a change meant to alter them is blessed with
/// `BURNBAR_BLESS=1` and explained in its commit.
#[tokio::test]
async fn handler_outputs_are_byte_for_byte_what_they_were() {
    let mut got = String::new();
    for (name, cars, laps, seed) in [("iowa-6x40", 6, 40, 31), ("iowa-4x25", 4, 25, 32)] {
        let steps = race(cars, laps, seed);
        let p = processor();
        run(&steps, &p, |recs| {
            let p = &p;
            async move {
                assert_eq!(send(p, &recs).await.0, None);
            }
        })
        .await;
        let updates: String = p
            .publisher
            .updates
            .lock()
            .unwrap()
            .iter()
            .map(|u| serde_json::to_string(u).unwrap() + "\n")
            .collect();
        let states: String = p
            .publisher
            .states
            .lock()
            .unwrap()
            .iter()
            .map(|s| serde_json::to_string(s).unwrap() + "\n")
            .collect();
        assert!(updates.len() > 10_000, "{name}: {} bytes", updates.len());
        got += &format!(
            "{name} updates {} {}\n{name} states {} {}\n",
            fnv(updates.as_bytes()),
            updates.lines().count(),
            fnv(states.as_bytes()),
            states.lines().count()
        );
    }
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/behaviour.txt");
    if std::env::var_os("BURNBAR_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).expect("tests/fixtures/behaviour.txt");
    assert_eq!(
        got, want,
        "published outputs changed (name, FNV-1a, lines); if the change is meant, run \
         with BURNBAR_BLESS=1 and say why in the commit"
    );
}
