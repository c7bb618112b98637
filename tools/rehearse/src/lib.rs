//! A rehearsal: a simulated or recorded race streamed into the deployed telemetry and
//! race-control Kinesis streams at a chosen speed, so that a crew can watch the
//! dashboard fill before race day (`docs/deploy.md`, "Before the green flag").
//!
//! The lines go where the ingest bridge sends them: samples to the telemetry stream with
//! the car as partition key, race-control events to the race-control stream with the race
//! as partition key (the processor relies on a car's records sharing a shard, in order).
//! A car's lines of one pack window (race time) share one record, as the bridge packs
//! them. Records go out in `PutRecords` calls within Kinesis's limits
//! ([`PUT_MAX_RECORDS`], [`PUT_MAX_BYTES`], [`MAX_RECORD_BYTES`]); entries Kinesis
//! refuses for throughput are put again (only those), a whole call that failed
//! transiently is sent again, and an entry refused for good is counted and reported
//! while the rest go on. A pack window is put completely before the next one starts, so
//! a car's records stay in order on its shard.
//!
//! Lines that are not `telemetry-v1` (in a recorded file) are refused with their line
//! number and reason, counted, and skipped: the processor would quarantine them anyway.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::time::{Duration, Instant};

use burnbar_aws::put_records::{
    CallRetry, PutEntry, PutPolicy, RetryCodes, Stopped, THROUGHPUT_CODES, put_records,
};
pub use burnbar_aws::put_records::{PUT_MAX_BYTES, PUT_MAX_RECORDS};
use burnbar_core::Record;

use burnbar_core::race::EventRaces;
use serde::Serialize;

/// One record's data and partition key at most.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;
/// Attempts of an entry Kinesis refuses for throughput (or of a call that failed
/// transiently) before the rehearsal stops: the stream cannot take the chosen speed.
pub const PUT_ATTEMPTS: u32 = 8;
/// A provisioned stream's billing unit: each record costs ceil(size / 25 KiB) units.
pub const PAYLOAD_UNIT_BYTES: usize = 25 * 1024;
/// An on-demand stream bills each record's data rounded up to 1 KiB.
pub const ON_DEMAND_ROUNDING_BYTES: usize = 1024;

/// How fast race time passes: a multiple of real time, or as fast as the streams take it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    Times(f64),
    Max,
}

impl FromStr for Speed {
    type Err = String;
    fn from_str(s: &str) -> Result<Speed, String> {
        if s.eq_ignore_ascii_case("max") {
            return Ok(Speed::Max);
        }
        match s.parse::<f64>() {
            Ok(x) if x.is_finite() && (0.01..=1000.0).contains(&x) => Ok(Speed::Times(x)),
            _ => Err(format!(
                "speed {s:?}: a multiple of real time from 0.01 to 1000 (10 = ten times real time), or `max`"
            )),
        }
    }
}

/// Which stream a line goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    Telemetry,
    RaceControl,
}

/// A line routed: its stream, partition key and event time.
#[derive(Debug, Clone, PartialEq)]
pub struct Routed {
    pub stream: Stream,
    pub key: String,
    pub ts: i64,
}

/// Routes lines as the bridge does: samples by car, events by race (an event without a
/// `race_id` belongs to the race of the latest `race_start`).
#[derive(Debug, Default)]
pub struct Router {
    races: EventRaces,
}

impl Router {
    /// The line's stream and key, or the contract's reason for refusing it.
    pub fn route(&mut self, line: &[u8]) -> Result<Routed, String> {
        match burnbar_core::decode::decode_line(line) {
            Ok(Record::Sample(s)) => Ok(Routed {
                stream: Stream::Telemetry,
                key: s.car.as_str().to_owned(),
                ts: s.ts,
            }),
            Ok(Record::Event(e)) => {
                let race = self.races.race_of(&e.kind, e.race_id);
                Ok(Routed {
                    stream: Stream::RaceControl,
                    key: race,
                    ts: e.ts,
                })
            }
            Err(r) => Err(r.to_string()),
        }
    }
}

/// One Kinesis record to put.
#[derive(Debug, Clone, PartialEq)]
pub struct OutRecord {
    pub key: String,
    pub data: Vec<u8>,
}

impl OutRecord {
    /// What the record counts against the per-call and per-record limits.
    pub fn size(&self) -> usize {
        self.data.len() + self.key.len()
    }
}

/// Packs lines into records per key, in order, each within `max_bytes` (data and key):
/// a line joins its key's open record while it fits.
pub fn pack(lines: &[(String, Vec<u8>)], max_bytes: usize) -> Vec<OutRecord> {
    let mut out: Vec<OutRecord> = Vec::new();
    let mut open: BTreeMap<&str, usize> = BTreeMap::new();
    for (key, line) in lines {
        let slot = open
            .get(key.as_str())
            .copied()
            .filter(|&i| out[i].size() + 1 + line.len() <= max_bytes);
        match slot {
            Some(i) => {
                out[i].data.push(b'\n');
                out[i].data.extend_from_slice(line);
            }
            None => {
                open.insert(key, out.len());
                out.push(OutRecord {
                    key: key.clone(),
                    data: line.clone(),
                });
            }
        }
    }
    out
}

/// Counts of one stream.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StreamStats {
    /// The stream's name or ARN.
    pub stream: String,
    pub lines: u64,
    pub records: u64,
    /// Data and partition keys put.
    pub bytes: u64,
    /// 25 KiB units (provisioned billing), each record rounded up.
    pub payload_units: u64,
    /// KiB billed on demand, each record rounded up to 1 KiB.
    pub on_demand_kib: u64,
    pub put_calls: u64,
    /// Entries put again after Kinesis refused them for throughput.
    pub entries_retried: u64,
    /// Whole calls sent again after a transient failure.
    pub calls_retried: u64,
    /// Entries Kinesis refused for good (counted, reported, skipped).
    pub records_refused: u64,
}

/// What a rehearsal did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub lines_read: u64,
    /// Lines that are not `telemetry-v1`, skipped (the first reasons are printed).
    pub lines_refused: u64,
    pub telemetry: StreamStats,
    pub race_control: StreamStats,
    /// Cars seen in the telemetry.
    pub cars: BTreeSet<String>,
    /// Races named by the events.
    pub races: BTreeSet<String>,
    /// Race time covered (first to last line), ms.
    pub race_ms: i64,
    /// Wall time taken, ms.
    pub wall_ms: u64,
}

/// Why a rehearsal stopped.
#[derive(Debug, thiserror::Error)]
pub enum RehearseError {
    /// A call failed for a reason another attempt will not change (no such stream,
    /// access denied), or throughput stayed refused after [`PUT_ATTEMPTS`].
    #[error("putting records on {stream}: {detail}")]
    Put { stream: String, detail: String },
    /// A single line larger than a Kinesis record can hold.
    #[error(
        "line {line}: {bytes} bytes with its key, over the {MAX_RECORD_BYTES}-byte Kinesis record limit"
    )]
    TooLarge { line: u64, bytes: usize },
    #[error("reading the race: {0}")]
    Read(String),
}

/// Where the records go.
#[derive(Debug, Clone)]
pub struct Target {
    /// Name or ARN of the telemetry stream.
    pub telemetry: String,
    /// Name or ARN of the race-control stream.
    pub race_control: String,
}

/// How the rehearsal runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub speed: Speed,
    /// Race time gathered into one put (and one record per car): at `Times(s)`,
    /// `flush` of wall time is `flush × s` of race time; at `Max`, `max_window`.
    pub flush: Duration,
    pub max_window: Duration,
    /// Record size at most (data and key), within [`MAX_RECORD_BYTES`].
    pub pack_bytes: usize,
    /// First backoff after a refused entry; doubled each attempt.
    pub retry_delay: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            speed: Speed::Max,
            flush: Duration::from_millis(100),
            max_window: Duration::from_secs(1),
            pack_bytes: PAYLOAD_UNIT_BYTES,
            retry_delay: Duration::from_millis(100),
        }
    }
}

impl Options {
    /// Race milliseconds per put.
    fn window_ms(&self) -> i64 {
        match self.speed {
            Speed::Times(s) => ((self.flush.as_secs_f64() * s * 1000.0) as i64).max(1),
            Speed::Max => self.max_window.as_millis().max(1) as i64,
        }
    }
}

/// Streams `lines` (line number, bytes; in event-time order as a race is written) into
/// the two streams; `progress` is called after every put with the counts so far.
pub async fn rehearse<I>(
    k: &aws_sdk_kinesis::Client,
    target: &Target,
    opts: &Options,
    lines: I,
    mut progress: impl FnMut(&Summary),
) -> Result<Summary, RehearseError>
where
    I: IntoIterator<Item = Result<(u64, Vec<u8>), String>>,
{
    let started = Instant::now();
    let mut sum = Summary {
        telemetry: StreamStats {
            stream: target.telemetry.clone(),
            ..StreamStats::default()
        },
        race_control: StreamStats {
            stream: target.race_control.clone(),
            ..StreamStats::default()
        },
        ..Summary::default()
    };
    let window = opts.window_ms();
    let mut router = Router::default();
    let mut first_ts: Option<i64> = None;
    let mut last_ts = i64::MIN;
    let mut slot = 0i64;
    let mut buf: [Vec<(String, Vec<u8>)>; 2] = [Vec::new(), Vec::new()];
    for item in lines {
        let (no, line) = item.map_err(RehearseError::Read)?;
        let line = trim(&line);
        if line.is_empty() {
            continue;
        }
        sum.lines_read += 1;
        let r = match router.route(line) {
            Ok(r) => r,
            Err(reason) => {
                sum.lines_refused += 1;
                if sum.lines_refused <= 10 {
                    eprintln!("burnbar-rehearse: line {no} skipped: {reason}");
                }
                continue;
            }
        };
        if r.key.len() + line.len() > MAX_RECORD_BYTES {
            return Err(RehearseError::TooLarge {
                line: no,
                bytes: r.key.len() + line.len(),
            });
        }
        let t0 = *first_ts.get_or_insert(r.ts);
        last_ts = last_ts.max(r.ts);
        // Lines of one window go out together; a line of a later window (late lines
        // of an earlier one join the current put) closes the window first.
        let s = (r.ts - t0).div_euclid(window);
        if s > slot && (!buf[0].is_empty() || !buf[1].is_empty()) {
            // The window's lines go out when it ends, as a producer's linger would send
            // them: never ahead of the race.
            pace(opts, started, slot + 1, window).await;
            flush(k, target, opts, &mut buf, &mut sum).await?;
            progress(&sum);
        }
        slot = slot.max(s);
        match r.stream {
            Stream::Telemetry => {
                sum.cars.insert(r.key.clone());
                sum.telemetry.lines += 1;
                buf[0].push((r.key, line.to_vec()));
            }
            Stream::RaceControl => {
                sum.races.insert(r.key.clone());
                sum.race_control.lines += 1;
                buf[1].push((r.key, line.to_vec()));
            }
        }
    }
    flush(k, target, opts, &mut buf, &mut sum).await?;
    sum.race_ms = first_ts.map_or(0, |t| last_ts - t);
    sum.wall_ms = started.elapsed().as_millis() as u64;
    progress(&sum);
    Ok(sum)
}

/// Waits until window `next` is due at the chosen speed (no wait at `Max`).
async fn pace(opts: &Options, started: Instant, next: i64, window_ms: i64) {
    if let Speed::Times(s) = opts.speed {
        let due = Duration::from_secs_f64((next * window_ms) as f64 / 1000.0 / s);
        let now = started.elapsed();
        if due > now {
            tokio::time::sleep(due - now).await;
        }
    }
}

/// Puts the buffered lines of both streams (race control first: a `race_start` is
/// stored before its race's samples are processed, as far as the two streams allow).
async fn flush(
    k: &aws_sdk_kinesis::Client,
    target: &Target,
    opts: &Options,
    buf: &mut [Vec<(String, Vec<u8>)>; 2],
    sum: &mut Summary,
) -> Result<(), RehearseError> {
    let control = pack(&std::mem::take(&mut buf[1]), opts.pack_bytes);
    put_all(
        k,
        &target.race_control,
        &control,
        opts,
        &mut sum.race_control,
    )
    .await?;
    let telemetry = pack(&std::mem::take(&mut buf[0]), opts.pack_bytes);
    put_all(k, &target.telemetry, &telemetry, opts, &mut sum.telemetry).await
}

/// How a rehearsal puts: throughput refusals and transient call failures again, up to
/// [`PUT_ATTEMPTS`] with a wait doubling from [`Options::retry_delay`] (up to 64 times
/// it); a record refused for another reason is counted, reported and
/// skipped, and the rest go on.
pub fn put_policy(opts: &Options) -> PutPolicy {
    PutPolicy {
        codes: RetryCodes::Only(THROUGHPUT_CODES),
        calls: CallRetry::Transient,
        max_attempts: PUT_ATTEMPTS,
        first_delay: opts.retry_delay,
        max_delay: opts.retry_delay * 64,
        deadline: None,
    }
}

/// Puts `records` on `stream` in calls within the limits, retrying what Kinesis refused
/// for throughput ([`put_policy`]); what it refused for good is counted and reported.
pub async fn put_all(
    k: &aws_sdk_kinesis::Client,
    stream: &str,
    records: &[OutRecord],
    opts: &Options,
    st: &mut StreamStats,
) -> Result<(), RehearseError> {
    let entries: Vec<PutEntry> = records
        .iter()
        .map(|r| PutEntry {
            key: &r.key,
            data: &r.data,
        })
        .collect();
    let o = put_records(k, stream, &entries, &put_policy(opts)).await;
    st.put_calls += o.calls;
    st.entries_retried += o.entries_retried;
    st.calls_retried += o.calls_retried;
    for &i in &o.put {
        count_put(st, &records[i]);
    }
    for r in &o.refused {
        st.records_refused += 1;
        eprintln!(
            "burnbar-rehearse: {stream} refused a record of {:?}: {}: {}",
            records[r.index].key, r.code, r.message
        );
    }
    match o.stopped {
        None => Ok(()),
        Some(s) => Err(RehearseError::Put {
            stream: stream.to_owned(),
            detail: match s {
                Stopped::Attempts { last, .. } => format!(
                    "{} records still refused for throughput after {PUT_ATTEMPTS} attempts: \
                     the stream cannot take this speed (lower --speed, or add shards)",
                    last.len()
                ),
                s => s.to_string(),
            },
        }),
    }
}

fn count_put(st: &mut StreamStats, r: &OutRecord) {
    let size = r.size();
    st.records += 1;
    st.bytes += size as u64;
    st.payload_units += size.div_ceil(PAYLOAD_UNIT_BYTES) as u64;
    st.on_demand_kib += r.data.len().div_ceil(ON_DEMAND_ROUNDING_BYTES) as u64;
}

/// The line without its trailing `\n` or `\r\n`.
fn trim(line: &[u8]) -> &[u8] {
    let l = line.strip_suffix(b"\n").unwrap_or(line);
    l.strip_suffix(b"\r").unwrap_or(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(key: &str, n: usize) -> OutRecord {
        OutRecord {
            key: key.into(),
            data: vec![b'x'; n],
        }
    }

    #[test]
    fn calls_stay_within_the_put_records_limits() {
        // The shared loop's split, with the sizes a rehearsal's records count.
        use burnbar_aws::put_records::calls;
        let many: Vec<OutRecord> = (0..1_234).map(|i| rec(&format!("{i}"), 10)).collect();
        let c = calls(many.iter().map(OutRecord::size));
        assert_eq!(
            c.iter().map(|c| c.len()).collect::<Vec<_>>(),
            [500, 500, 234]
        );
        let big: Vec<OutRecord> = (0..12).map(|_| rec("7", 1_000_000)).collect();
        let c = calls(big.iter().map(OutRecord::size));
        for call in &c {
            let bytes: usize = big[call.clone()].iter().map(OutRecord::size).sum();
            assert!(bytes <= PUT_MAX_BYTES, "{bytes}");
        }
        assert_eq!(c.iter().map(|c| c.len()).sum::<usize>(), 12);
        assert_eq!(c.len(), 3, "5 records of 1 MB a call");
    }

    #[test]
    fn lines_pack_per_key_in_order_within_the_record_size() {
        let lines: Vec<(String, Vec<u8>)> = vec![
            ("24".into(), b"a1".to_vec()),
            ("11".into(), b"b1".to_vec()),
            ("24".into(), b"a2".to_vec()),
            ("24".into(), b"a3".to_vec()),
        ];
        let r = pack(&lines, 7);
        // "a1\na2" is 5 bytes + key 2 = 7: fits; a3 opens a new record.
        assert_eq!(
            r,
            vec![
                OutRecord {
                    key: "24".into(),
                    data: b"a1\na2".to_vec()
                },
                OutRecord {
                    key: "11".into(),
                    data: b"b1".to_vec()
                },
                OutRecord {
                    key: "24".into(),
                    data: b"a3".to_vec()
                },
            ]
        );
    }

    #[test]
    fn samples_go_by_car_and_events_by_race_and_bad_lines_say_why() {
        let mut r = Router::default();
        let sim = burnbar_sim::Simulation::new(&burnbar_sim::SimConfig {
            track: "iowa".into(),
            laps: Some(1),
            cars: 3,
            hz: 1,
            ..burnbar_sim::SimConfig::default()
        })
        .unwrap();
        let (mut samples, mut events) = (0, 0);
        for (ts, line) in sim {
            let got = r.route(line.as_bytes()).unwrap();
            assert_eq!(got.ts, ts);
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            if v.get("kind").is_some() {
                events += 1;
                assert_eq!(got.stream, Stream::RaceControl);
                assert_eq!(got.key, v["race_id"].as_str().unwrap());
            } else {
                samples += 1;
                assert_eq!(got.stream, Stream::Telemetry);
                assert_eq!(got.key, v["car"].as_str().unwrap());
            }
        }
        assert!(samples > 0 && events > 0);
        let e = r.route(b"{\"v\":1,\"car\":\"5\"}").unwrap_err();
        assert!(e.contains("ts") || e.contains("missing"), "{e}");
    }

    #[test]
    fn speed_is_a_multiple_of_real_time_or_max() {
        assert_eq!("10".parse::<Speed>(), Ok(Speed::Times(10.0)));
        assert_eq!("MAX".parse::<Speed>(), Ok(Speed::Max));
        let e = "0".parse::<Speed>().unwrap_err();
        assert!(e.contains("0.01 to 1000"), "{e}");
        assert!("fast".parse::<Speed>().is_err());
        let o = Options {
            speed: Speed::Times(10.0),
            ..Options::default()
        };
        assert_eq!(o.window_ms(), 1_000, "100 ms of wall time at 10x");
    }
}
