//! What both stream handlers (the telemetry batch, the race-control batch) share: their
//! configuration, a batch's records with what became of each (failed, quarantined), the
//! lines of a record, and the counters each starts at zero.

use std::collections::BTreeMap;
use std::time::Duration;

use burnbar_core::{EngineConfig, ModelParams, Reject};
use burnbar_lambda::{InRecord, Outcome};
use burnbar_metrics::{MetricSet, log};
use serde_json::json;
use tokio::time::Instant;

use crate::ports::{Quarantine, Quarantined};

/// How the handlers behave (the race-control handler reads the engine, the physics
/// model's parameters, the save attempts, the outbox bound and the reserve).
#[derive(Debug, Clone)]
pub struct ProcessorConfig {
    /// Windows, lateness and limits: the same as `burnbar replay`.
    pub engine: EngineConfig,
    /// The physics model's parameters (a calibration's output).
    pub params: ModelParams,
    /// Re-reads after a conditional-write conflict before the car's records are failed.
    /// 3: conflicts come from race control closing a car out, which happens once.
    pub save_attempts: u32,
    /// Updates a car keeps for republishing while the writer is down. 720: an hour of
    /// 5 s windows; older ones are dropped and counted (`updates_dropped_total`).
    pub outbox_max: usize,
    /// Time kept back from the deadline to report what could not finish. 500 ms: a
    /// response and the metrics line, with room for a slow last write.
    pub reserve: Duration,
    /// Wall time a car's race-level summary must have gone unwritten before another
    /// shard's invocation closes its windows by the silent-car rule. 60 s: a car on a
    /// shard that is only behind still commits (its summary stays fresh) and keeps its
    /// windows open for its own late samples; a car gone silent, or on a shard that has
    /// stopped, has them closed.
    pub silent_quiet: Duration,
    /// The wall clock (epoch ms): what a record's `ts` may not be far ahead of
    /// ([`burnbar_core::race::CLOCK_FUTURE_MS`]). `burnbar_lambda::clock::now_ms`; a test
    /// sets its own.
    pub clock: fn() -> i64,
    /// Silent cars one invocation sweeps per race, at most; the others wait for the next
    /// invocation (the longest quiet first, so each is reached in turn). 50: a quarter of
    /// a full field (200 cars) in one invocation, at a few writes each, so a whole field
    /// that went quiet at once (a shard stopped) is closed within four invocations without
    /// spending one invocation's time on it.
    pub sweep_max: usize,
    /// Cars of one race committed at once (their conditional writes and summaries in
    /// flight together). 16: a full field of 200 cars in 13 round trips instead of 200,
    /// while the table's per-partition write rate (1,000 units a second) and the
    /// function's connection pool are far from full.
    pub write_concurrency: usize,
}

impl Default for ProcessorConfig {
    fn default() -> Self {
        ProcessorConfig {
            engine: EngineConfig::default(),
            params: ModelParams::default(),
            save_attempts: 3,
            outbox_max: 720,
            reserve: Duration::from_millis(500),
            silent_quiet: Duration::from_secs(60),
            clock: burnbar_lambda::clock::now_ms,
            sweep_max: 50,
            write_concurrency: 16,
        }
    }
}

/// Counters written even when nothing happened, so that a dashboard sees "none" rather
/// than a gap: the telemetry-processor's.
pub(crate) const PROCESSOR_COUNTERS: &[&str] = &[
    "records_in_total",
    "records_rejected_total",
    "samples_duplicate_total",
    "samples_late_total",
    "windows_closed_total",
    "updates_published_total",
    "predictor_fallbacks_total",
    "conditional_write_retries_total",
    "publish_failures_total",
    "cars_swept_total",
    "cars_undecodable_total",
    "quarantine_lines_omitted_total",
];

/// The race-control function's counters written at zero.
pub(crate) const CONTROL_COUNTERS: &[&str] = &[
    "events_in_total",
    "events_new_total",
    "events_duplicate_total",
    "records_rejected_total",
    "publish_failures_total",
];

/// Writes each counter at zero (one already counted keeps its value).
pub(crate) fn zero_counters(m: &mut MetricSet, names: &[&str]) {
    for name in names {
        m.count(name, 0);
    }
}

/// A rejected line is kept in the quarantine up to this many bytes *as the message
/// carries it* (JSON-escaped): a line of control characters grows sixfold when escaped
/// (`\u0001`), and a 64 KiB line of them would pass a raw-length cap yet exceed SQS's
/// 256 KiB message limit, failing the send. The kept prefix says what the line was.
pub const QUARANTINE_LINE_MAX: usize = 64 * 1024;

/// Rejected lines of one record kept in the quarantine one by one; past it, the record's
/// further rejected lines are counted by reason in one summary entry. 20: enough lines to
/// see what is wrong with a record (they are usually all wrong the same way), and the
/// summary names the record's sequence number, where the stream still holds all of it.
/// One 1 MiB record of 500,000 bad lines is 21 entries (3 calls to SQS), not 500,000.
pub const QUARANTINE_LINES_PER_RECORD: usize = 20;

/// Rejected lines kept one by one in one invocation (across its records); past it, each
/// record's further lines go to its summary entry. 1,000: 100 `SendMessageBatch` calls at
/// most (plus one summary per record, at most the batch size), sent a few at a time, well
/// within an invocation's time.
pub const QUARANTINE_LINES_PER_INVOCATION: usize = 1_000;

/// The quarantine's code of a record's summary entry (its lines past the caps).
pub const LINES_OMITTED: &str = "rejected_lines_omitted";

/// The longest prefix of `s` whose JSON-escaped form (without quotes) fits in `max` bytes.
pub(crate) fn escaped_prefix(s: &str, max: usize) -> &str {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        let n = match c {
            '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
            c if (c as u32) < 0x20 => 6,
            c => c.len_utf8(),
        };
        if used + n > max {
            return &s[..i];
        }
        used += n;
    }
    s
}

/// The lines of a record: split at every `\n` as `<[u8]>::split` splits (a trailing
/// empty line included), with a vectorised search.
pub(crate) fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(data);
    std::iter::from_fn(move || {
        let d = rest?;
        match memchr::memchr(b'\n', d) {
            Some(i) => {
                rest = Some(&d[i + 1..]);
                Some(&d[..i])
            }
            None => {
                rest = None;
                Some(d)
            }
        }
    })
}

/// A line with nothing but whitespace (skipped, not rejected).
pub(crate) fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// A batch's records and what became of each: failed (delivered again from the first
/// one) or with lines to quarantine.
pub(crate) struct Records<'r, 'a> {
    pub records: &'r [InRecord<'a>],
    failed: Vec<bool>,
    /// Rejected lines kept one by one, with the index of their record.
    quarantined: Vec<(usize, Quarantined)>,
    /// Rejected lines kept one by one, per record.
    kept: Vec<usize>,
    /// Per record, its rejected lines past the caps ([`QUARANTINE_LINES_PER_RECORD`],
    /// [`QUARANTINE_LINES_PER_INVOCATION`]): counted, summarised in one entry.
    omitted: BTreeMap<usize, Omitted>,
}

/// A record's rejected lines that are not kept one by one.
#[derive(Default)]
struct Omitted {
    /// The first of them.
    first_line: usize,
    /// How many, by reason code.
    by_code: BTreeMap<String, u64>,
}

impl Omitted {
    fn total(&self) -> u64 {
        self.by_code.values().sum()
    }
}

impl<'r, 'a> Records<'r, 'a> {
    /// A record whose data could not be decoded from the event (not base64) is
    /// quarantined here, once for both handlers, with its text and reason: its data is
    /// empty, so the handlers find no line in it, and the rest of the batch goes on.
    pub fn new(records: &'r [InRecord<'a>]) -> Self {
        let mut r = Records {
            records,
            failed: vec![false; records.len()],
            quarantined: Vec::new(),
            kept: vec![0; records.len()],
            omitted: BTreeMap::new(),
        };
        for (ri, rec) in records.iter().enumerate() {
            if let Some(u) = rec.undecodable {
                r.quarantine(ri, 0, u.text, "invalid_base64", Some("data"), u.reason);
            }
        }
        r
    }

    /// Record `ri` is to be delivered again.
    pub fn fail(&mut self, ri: usize) {
        self.failed[ri] = true;
    }

    /// Line `line_no` of record `ri` goes to the quarantine with this reason.
    pub fn quarantine(
        &mut self,
        ri: usize,
        line_no: usize,
        line: &[u8],
        code: &str,
        field: Option<&str>,
        detail: &str,
    ) {
        if self.kept[ri] >= QUARANTINE_LINES_PER_RECORD
            || self.quarantined.len() >= QUARANTINE_LINES_PER_INVOCATION
        {
            let o = self.omitted.entry(ri).or_insert_with(|| Omitted {
                first_line: line_no,
                by_code: BTreeMap::new(),
            });
            o.first_line = o.first_line.min(line_no);
            *o.by_code.entry(code.to_owned()).or_default() += 1;
            return;
        }
        self.kept[ri] += 1;
        let keep = &line[..line.len().min(QUARANTINE_LINE_MAX)];
        let text = String::from_utf8_lossy(keep);
        let text = escaped_prefix(&text, QUARANTINE_LINE_MAX).to_owned();
        let q = Quarantined {
            sequence_number: self.records[ri].sequence_number.to_owned(),
            line_no,
            code: code.to_owned(),
            field: field.map(str::to_owned),
            detail: detail.to_owned(),
            line: text,
        };
        self.quarantined.push((ri, q));
    }

    /// Line `line_no` of record `ri` was rejected by the contract's rules.
    pub fn reject(&mut self, ri: usize, line_no: usize, line: &[u8], rej: &Reject) {
        self.quarantine(ri, line_no, line, rej.code.as_str(), rej.field, &rej.detail);
    }

    /// Sends the rejected lines to the quarantine: those kept one by one, and for each
    /// record with lines past the caps one summary entry (their count by reason; every
    /// rejected line is counted in the metrics either way). A retryable failure fails
    /// their records (delivered again, they are rejected again and quarantined then); a
    /// permanent one writes them to the log, so the reasons are never lost.
    pub async fn send_to<Q: Quarantine>(
        &mut self,
        quarantine: &Q,
        deadline: Instant,
        m: &mut MetricSet,
    ) {
        if self.quarantined.is_empty() && self.omitted.is_empty() {
            return;
        }
        for (_, q) in &self.quarantined {
            m.count("records_rejected_total", 1);
            m.count(&format!("records_rejected_{}_total", q.code), 1);
        }
        let mut items: Vec<Quarantined> = self.quarantined.iter().map(|(_, q)| q.clone()).collect();
        for (&ri, o) in &self.omitted {
            for (code, n) in &o.by_code {
                m.count("records_rejected_total", *n);
                m.count(&format!("records_rejected_{code}_total"), *n);
            }
            m.count("quarantine_lines_omitted_total", o.total());
            items.push(self.omitted_entry(ri, o));
        }
        match quarantine.put(&items, deadline).await {
            Ok(()) => m.count("records_quarantined_total", items.len() as u64),
            Err(e) if e.is_retryable() => {
                m.count("quarantine_failures_total", 1);
                for (ri, _) in &self.quarantined {
                    self.failed[*ri] = true;
                }
                for ri in self.omitted.keys() {
                    self.failed[*ri] = true;
                }
            }
            Err(e) => {
                m.count("quarantine_failures_total", 1);
                log(
                    "error",
                    "quarantine refused records: their reasons are in this log",
                    None,
                    &[("error", json!(e.to_string())), ("records", json!(items))],
                );
            }
        }
    }

    /// The summary entry of a record's lines past the caps.
    fn omitted_entry(&self, ri: usize, o: &Omitted) -> Quarantined {
        let by: Vec<String> = o.by_code.iter().map(|(c, n)| format!("{c} {n}")).collect();
        Quarantined {
            sequence_number: self.records[ri].sequence_number.to_owned(),
            line_no: o.first_line,
            code: LINES_OMITTED.to_owned(),
            field: None,
            detail: format!(
                "{} more rejected lines of this record, from line {}, are not kept one by one \
                 (limits: {QUARANTINE_LINES_PER_RECORD} a record, \
                 {QUARANTINE_LINES_PER_INVOCATION} an invocation); by reason: {}. The stream \
                 holds the whole record at this sequence number.",
                o.total(),
                o.first_line,
                by.join(", ")
            ),
            line: String::new(),
        }
    }

    /// The outcome: the first failed record, and the updates published.
    pub fn outcome(&self, published: usize) -> Outcome {
        Outcome {
            first_failed: self
                .failed
                .iter()
                .position(|&f| f)
                .map(|i| self.records[i].sequence_number.to_owned()),
            published,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quarantined_line_fits_its_limit_as_the_message_carries_it() {
        // 64 KiB of control characters: 384 KiB escaped, over SQS's 256 KiB.
        let hostile = vec![1u8; 64 * 1024];
        for line in [hostile, vec![b'"'; 70_000], "é".repeat(40_000).into_bytes()] {
            let rec = [InRecord::new("1", &line)];
            let mut r = Records::new(&rec);
            r.quarantine(0, 0, &line, "invalid_json", None, "not JSON");
            let q = &r.quarantined[0].1;
            let escaped = serde_json::to_string(&q.line).unwrap();
            assert!(
                escaped.len() <= QUARANTINE_LINE_MAX + 2,
                "{}",
                escaped.len()
            );
            assert!(escaped.len() > QUARANTINE_LINE_MAX - 8, "{}", escaped.len());
            assert!(serde_json::to_string(q).unwrap().len() < 256 * 1024);
        }
        assert_eq!(escaped_prefix("ab\u{1}c", 8), "ab\u{1}");
        assert_eq!(escaped_prefix("ab\u{1}c", 7), "ab");
        assert_eq!(escaped_prefix("short", 100), "short");
    }

    #[test]
    fn lines_split_as_the_slice_split_does() {
        for data in [
            &b""[..],
            b"\n",
            b"a",
            b"a\n",
            b"a\nb",
            b"\n\na\n\nbc\n",
            b"{\"v\":1}\r\n{\"v\":2}",
        ] {
            let want: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
            assert_eq!(lines(data).collect::<Vec<_>>(), want, "{data:?}");
        }
    }
}
