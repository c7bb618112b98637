//! The pipelined feed against the single-threaded one, step for step, on the same
//! inputs: every line's file, number, result (reason and text of a rejection) and
//! updates, the counters, and how the feed ended.

use std::io::{self, Read};

use burnbar_core::{Counters, EngineConfig, ModelParams};

use super::*;
use crate::input::{READ_BUF, feed_buffered};

/// A step as seen by the caller.
type Seen = (
    String,
    u64,
    Result<(), (String, String, Vec<u8>)>,
    Vec<FuelUpdate>,
);

/// Everything a feed did: its steps, the counters, how it ended (the failure's reason).
type Trace = (Vec<Seen>, Counters, Result<(), String>);

/// An input that gives `data`, then fails with `err` when it is `Some` (else ends).
struct Source {
    data: io::Cursor<Vec<u8>>,
    err: Option<&'static str>,
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.data.read(buf)?;
        match (n, self.err) {
            (0, Some(e)) => Err(io::Error::other(e)),
            _ => Ok(n),
        }
    }
}

fn inputs(files: &[(&[u8], Option<&'static str>)]) -> Vec<Input> {
    files
        .iter()
        .enumerate()
        .map(|(i, (data, err))| -> Input {
            (
                format!("f{i}"),
                Box::new(Source {
                    data: io::Cursor::new(data.to_vec()),
                    err: *err,
                }),
            )
        })
        .collect()
}

/// Feeds `files` one way or the other; `stop_after` makes the caller fail at that step.
fn trace(
    files: &[(&[u8], Option<&'static str>)],
    pipelined: Option<(usize, usize)>,
    stop_after: Option<usize>,
) -> Trace {
    let mut engine = Engine::new(EngineConfig::default(), ModelParams::default());
    let mut seen: Vec<Seen> = Vec::new();
    let on_step = |name: &str, n: u64, res: Step<'_>, updates: &mut Vec<FuelUpdate>| {
        let res = res.map_err(|(r, text)| (r.code.as_str().to_owned(), r.detail, text.to_vec()));
        seen.push((name.to_owned(), n, res, std::mem::take(updates)));
        if stop_after == Some(seen.len()) {
            return Err(Failure::other("the caller stopped"));
        }
        Ok(())
    };
    let progress = ProgressBar::hidden();
    let res = match pipelined {
        Some((capacity, batch_lines)) => feed(
            inputs(files),
            capacity,
            batch_lines,
            true,
            &mut engine,
            &progress,
            on_step,
            || Ok(()),
        ),
        None => feed_buffered(
            inputs(files),
            READ_BUF,
            &mut engine,
            &progress,
            on_step,
            || Ok(()),
        ),
    };
    let mut out = Vec::new();
    engine.finish(&mut out);
    seen.push(("finish".into(), 0, Ok(()), out));
    (seen, engine.counters().clone(), res.map_err(|f| f.reason))
}

/// The pipelined feed gives the single-threaded feed's trace for every read buffer and
/// batch size tried.
fn same_both_ways(files: &[(&[u8], Option<&'static str>)], capacities: &[usize]) -> Trace {
    let want = trace(files, None, None);
    for &capacity in capacities {
        for batch_lines in [1, 2, 3, 5, 4096] {
            let got = trace(files, Some((capacity, batch_lines)), None);
            assert!(
                got == want,
                "buffer {capacity}, batches of {batch_lines}: {:?}\nagainst {:?}",
                (&got.0.len(), &got.1, &got.2),
                (&want.0.len(), &want.1, &want.2)
            );
        }
    }
    want
}

fn sample(car: u32, ts: u64) -> String {
    format!(
        r#"{{"v":1,"race_id":"r","car":"{car}","ts":{ts},"lap":{},"lap_frac":0.5,"rpm":8000,"throttle_pct":90.0}}"#,
        ts / 40_000 % 1000
    )
}

#[test]
fn odd_lines_read_alike_both_ways() {
    // A byte-order mark, CRLF, blank lines, a rejected line, no newline at the end.
    let data = format!(
        "\u{feff}{}\r\n\n  \n{}\nnot json\n{}",
        sample(7, 1750593600000),
        sample(7, 1750593600100),
        sample(7, 1750593600200),
    );
    let t = same_both_ways(&[(data.as_bytes(), None)], &[1, 7, 64, READ_BUF]);
    let nums: Vec<u64> = t.0.iter().map(|s| s.1).collect();
    assert_eq!(nums, [1, 4, 5, 6, 0]);
    assert_eq!(t.0[2].2.as_ref().unwrap_err().2, b"not json");
    assert_eq!(t.2, Ok(()));
}

#[test]
fn a_simulated_race_with_faults_reads_alike_both_ways() {
    let cfg = burnbar_sim::SimConfig {
        track: "iowa".into(),
        laps: Some(3),
        cars: 6,
        hz: 10,
        seed: 5,
        faults: 0.2,
        live: true,
        ..burnbar_sim::SimConfig::default()
    };
    let mut data = Vec::new();
    burnbar_sim::simulate(&cfg, &mut data, None).expect("simulate");
    let t = same_both_ways(&[(&data, None)], &[4096, READ_BUF]);
    let c = &t.1;
    assert!(
        c.rejected > 100 && c.windows_closed > 50 && c.events > 2,
        "{c:?}"
    );
}

#[test]
fn rejected_lines_at_every_batch_boundary() {
    // Rejected lines at 1, 2, 3, 5, 6, 9, 10: for batches of 1 to 5 lines some fall
    // first, some last in their batch.
    let mut lines = Vec::new();
    for i in 0..12u64 {
        lines.push(if [1, 2, 3, 5, 6, 9, 10].contains(&(i + 1)) {
            format!(
                r#"{{"v":1,"car":"7","ts":{},"rpm":-{}}}"#,
                1750593600000 + i,
                i + 1
            )
        } else {
            sample(7, 1750593600000 + 1000 * i)
        });
    }
    let data = lines.join("\n") + "\n";
    let t = same_both_ways(&[(data.as_bytes(), None)], &[16, READ_BUF]);
    assert_eq!(t.1.rejected, 7);
}

#[test]
fn empty_inputs_and_several_files() {
    let t = same_both_ways(&[(b"", None)], &[READ_BUF]);
    assert_eq!((t.0.len(), t.1.records, t.2), (1, 0, Ok(())));
    let a = format!(
        "{}\n{}\n",
        sample(1, 1750593600000),
        sample(2, 1750593600000)
    );
    let b = format!("bad\n{}", sample(1, 1750593660000));
    let t = same_both_ways(
        &[(a.as_bytes(), None), (b"", None), (b.as_bytes(), None)],
        &[8, READ_BUF],
    );
    let at: Vec<(&str, u64)> = t.0.iter().map(|s| (s.0.as_str(), s.1)).collect();
    assert_eq!(
        at,
        [("f0", 1), ("f0", 2), ("f2", 1), ("f2", 2), ("finish", 0)]
    );
}

#[test]
fn a_line_over_the_cap_reads_alike_both_ways() {
    let mut data = vec![b'x'; crate::input::MAX_LINE + 10];
    data.push(b'\n');
    data.extend_from_slice(sample(7, 1750593600000).as_bytes());
    let t = same_both_ways(&[(&data, None)], &[64, READ_BUF]);
    let first = t.0[0].2.as_ref().unwrap_err();
    assert_eq!(
        (first.0.as_str(), first.2.len()),
        ("invalid_json", crate::input::MAX_LINE)
    );
}

#[test]
fn an_io_error_mid_file_comes_after_every_line_before_it() {
    let lines: String = (0..50)
        .map(|i| sample(7, 1750593600000 + 100 * i) + "\n")
        .collect();
    // The error after a whole line and after half of one.
    let half = &lines.as_bytes()[..lines.len() - 20];
    for data in [lines.as_bytes(), half] {
        let t = same_both_ways(
            &[(data, Some("disk on fire")), (lines.as_bytes(), None)],
            &[64, READ_BUF],
        );
        assert_eq!(t.2, Err("reading f0 failed: disk on fire".to_owned()));
        assert!(t.1.records >= 49, "{:?}", t.1);
        assert!(t.0.iter().all(|s| s.0 != "f1"), "the next file is not read");
    }
}

#[test]
fn a_caller_that_stops_stops_the_reader() {
    let lines: String = (0..20_000)
        .map(|i| sample(7, 1750593600000 + 100 * i) + "\n")
        .collect();
    let files: &[(&[u8], Option<&'static str>)] = &[(lines.as_bytes(), None)];
    let want = trace(files, None, Some(5));
    // The queue and the reader fill while the engine stops: it returns at once.
    let got = trace(files, Some((4096, 2)), Some(5));
    assert_eq!(got.2, Err("the caller stopped".to_owned()));
    assert!(got == want);
}

#[test]
fn lines_the_engine_rejects_after_decoding_keep_their_text_both_ways() {
    // A race of 202 cars (the last two past the limit: `too_many_cars`), a sample 10 min
    // ahead of the race (`ts_in_future`) and an event 80 h after its start (also
    // `ts_in_future`): the engine rejects these after they decoded, so the decoding
    // thread cannot tell them apart from good lines.
    let t0: u64 = 1750593600000;
    let mut lines = vec![format!(
        r#"{{"v":1,"kind":"race_start","ts":{t0},"race_id":"r","track":"iowa","scheduled_laps":300}}"#
    )];
    lines.extend((1..=202).map(|car| sample(car, t0 + 100)));
    lines.push(sample(7, t0 + 600_000));
    lines.push(format!(
        r#"{{"v":1,"kind":"flag","ts":{},"race_id":"r","flag":"yellow"}}"#,
        t0 + 80 * 3_600_000
    ));
    lines.push(sample(7, t0 + 5_000));
    let data = lines.join("\n") + "\n";
    let t = same_both_ways(&[(data.as_bytes(), None)], &[64, READ_BUF]);
    let rejected: Vec<(u64, &str, &[u8])> =
        t.0.iter()
            .filter_map(|s| s.2.as_ref().err().map(|e| (s.1, e.0.as_str(), &e.2[..])))
            .collect();
    let text = |n: u64| lines[n as usize - 1].as_bytes();
    assert_eq!(
        rejected,
        [
            (202, "too_many_cars", text(202)),
            (203, "too_many_cars", text(203)),
            (204, "ts_in_future", text(204)),
            (205, "ts_in_future", text(205)),
        ]
    );
}
