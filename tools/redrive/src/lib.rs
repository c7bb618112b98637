//! Redrive: the records behind an on-failure message, read back from their stream and
//! replayed.
//!
//! When Lambda gives up on a Kinesis batch (retries or record age exhausted), the event
//! source mapping sends an on-failure message to the stack's `FailedBatchQueue`. The
//! message holds only where the batch was (stream, shard, first and last sequence number),
//! not its records; those stay in the stream until its retention passes
//! (`StreamRetentionHours`). This crate reads such a message, reads the shard from the
//! first sequence number to the last, and puts the records back on their stream with
//! their partition keys (the functions are idempotent: samples merge by car and time,
//! events by their key) or writes their lines to a file for `burnbar replay`.
//!
//! A message is deleted only once its whole batch was replayed; one that cannot be read
//! (malformed, a stream that no longer holds the batch) stays in the queue, with the
//! reason reported.

use std::cmp::Ordering;
use std::time::Duration;

use aws_sdk_kinesis::types::ShardIteratorType;
use burnbar_aws::put_records::{CallRetry, PutEntry, PutPolicy, RetryCodes, put_records};
pub use burnbar_aws::put_records::{PUT_MAX_BYTES, PUT_MAX_RECORDS};
use serde::Deserialize;

/// Records one failed batch can hold: Lambda's largest Kinesis batch size.
pub const MAX_BATCH_RECORDS: usize = 10_000;
/// `GetRecords` calls spent on one batch at most (each returns up to 10,000 records; a
/// shard read from a sequence number may return empty pages before reaching it).
pub const MAX_GET_RECORDS_CALLS: usize = 200;
/// Attempts of the entries Kinesis refused (throttling) before the message is left for
/// a later run.
pub const PUT_ATTEMPTS: u32 = 6;

/// Where a failed batch was, as the on-failure message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedBatch {
    pub stream_arn: String,
    pub stream_name: String,
    pub shard_id: String,
    pub start_seq: String,
    pub end_seq: String,
    pub batch_size: usize,
    /// Why Lambda gave up (`RetryAttemptsExhausted`, `RecordAgeExceeded`, ...).
    pub condition: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(rename = "KinesisBatchInfo")]
    batch: BatchInfo,
    #[serde(rename = "requestContext", default)]
    request: Option<RequestContext>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchInfo {
    shard_id: String,
    start_sequence_number: String,
    end_sequence_number: String,
    batch_size: usize,
    stream_arn: String,
}

#[derive(Deserialize)]
struct RequestContext {
    condition: Option<String>,
}

/// Reads an on-failure message's body.
pub fn parse_failure(body: &str) -> Result<FailedBatch, String> {
    let m: Message =
        serde_json::from_str(body).map_err(|e| format!("not a Kinesis on-failure message: {e}"))?;
    let b = m.batch;
    let stream_name = b
        .stream_arn
        .split_once(":stream/")
        .map(|(_, name)| name.to_owned())
        .filter(|n| !n.is_empty() && !n.contains('/'))
        .ok_or_else(|| format!("streamArn {:?} is not a Kinesis stream ARN", b.stream_arn))?;
    for (what, s) in [
        ("startSequenceNumber", &b.start_sequence_number),
        ("endSequenceNumber", &b.end_sequence_number),
    ] {
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(format!("{what} {s:?} is not a sequence number"));
        }
    }
    if seq_cmp(&b.start_sequence_number, &b.end_sequence_number) == Ordering::Greater {
        return Err("startSequenceNumber is after endSequenceNumber".to_owned());
    }
    if b.batch_size == 0 || b.batch_size > MAX_BATCH_RECORDS {
        return Err(format!(
            "batchSize {} is not within 1 to {MAX_BATCH_RECORDS}",
            b.batch_size
        ));
    }
    Ok(FailedBatch {
        stream_arn: b.stream_arn,
        stream_name,
        shard_id: b.shard_id,
        start_seq: b.start_sequence_number,
        end_seq: b.end_sequence_number,
        batch_size: b.batch_size,
        condition: m.request.and_then(|r| r.condition),
    })
}

/// Orders Kinesis sequence numbers: decimal strings of up to 128 digits, beyond any
/// integer type.
pub fn seq_cmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// One record read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub partition_key: String,
    pub sequence: String,
    pub data: Vec<u8>,
}

/// What the stream still holds of a batch.
#[derive(Debug, Default)]
pub struct Found {
    pub records: Vec<Record>,
    /// The first record read is the batch's first: nothing was trimmed before it.
    pub has_start: bool,
    /// The batch's last record was reached.
    pub has_end: bool,
}

impl Found {
    pub fn complete(&self) -> bool {
        self.has_start && self.has_end
    }
}

/// Why a batch could not be redriven this time.
#[derive(Debug, thiserror::Error)]
pub enum RedriveError {
    #[error("reading shard {shard} of {stream}: {detail}")]
    Read {
        stream: String,
        shard: String,
        detail: String,
    },
    #[error("putting records on {stream}: {detail}")]
    Put { stream: String, detail: String },
}

/// Reads the batch's records from its shard: from the first sequence number to the last.
pub async fn read_batch(
    k: &aws_sdk_kinesis::Client,
    b: &FailedBatch,
) -> Result<Found, RedriveError> {
    let err = |detail: String| RedriveError::Read {
        stream: b.stream_name.clone(),
        shard: b.shard_id.clone(),
        detail,
    };
    let it = k
        .get_shard_iterator()
        .stream_name(&b.stream_name)
        .shard_id(&b.shard_id)
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .starting_sequence_number(&b.start_seq)
        .send()
        .await
        .map_err(|e| err(aws_sdk_kinesis::error::DisplayErrorContext(e).to_string()))?;
    let mut iterator = it.shard_iterator;
    let mut found = Found::default();
    let mut calls = 0;
    while let Some(cur) = iterator.take() {
        calls += 1;
        if calls > MAX_GET_RECORDS_CALLS {
            break;
        }
        let page = k
            .get_records()
            .shard_iterator(cur)
            .limit(MAX_BATCH_RECORDS as i32)
            .send()
            .await
            .map_err(|e| err(aws_sdk_kinesis::error::DisplayErrorContext(e).to_string()))?;
        let empty = page.records.is_empty();
        for r in page.records {
            if found.records.is_empty() && seq_cmp(&r.sequence_number, &b.start_seq).is_eq() {
                found.has_start = true;
            }
            match seq_cmp(&r.sequence_number, &b.end_seq) {
                // Past the last: everything up to it was read.
                Ordering::Greater => {
                    found.has_end = true;
                    return Ok(found);
                }
                Ordering::Equal => {
                    found.records.push(record(r));
                    found.has_end = true;
                    return Ok(found);
                }
                Ordering::Less => found.records.push(record(r)),
            }
            if found.records.len() > MAX_BATCH_RECORDS {
                return Err(err(format!(
                    "more than {MAX_BATCH_RECORDS} records between the batch's first and last"
                )));
            }
        }
        // At the shard's tip without reaching the end: the batch's end is not there.
        if empty && page.millis_behind_latest.unwrap_or(0) == 0 {
            break;
        }
        iterator = page.next_shard_iterator;
    }
    Ok(found)
}

fn record(r: aws_sdk_kinesis::types::Record) -> Record {
    Record {
        partition_key: r.partition_key.unwrap_or_default(),
        sequence: r.sequence_number,
        data: r.data.into_inner(),
    }
}

/// How a redrive puts: every refused entry again (whatever its code: the records of a
/// failed batch must all land, or the message stays in the queue for a later run), and a
/// failed call again whole, up to [`PUT_ATTEMPTS`] with a wait of 200 ms doubling to
/// 6.4 s.
pub fn put_policy() -> PutPolicy {
    PutPolicy {
        codes: RetryCodes::All,
        calls: CallRetry::Any,
        max_attempts: PUT_ATTEMPTS,
        first_delay: Duration::from_millis(200),
        max_delay: Duration::from_millis(6400),
        deadline: None,
    }
}

/// Puts `records` back on `stream` with their partition keys, in calls within the
/// `PutRecords` limits, retrying only the entries Kinesis refused ([`put_policy`]).
pub async fn put_again(
    k: &aws_sdk_kinesis::Client,
    stream: &str,
    records: &[Record],
) -> Result<(), RedriveError> {
    let entries: Vec<PutEntry> = records
        .iter()
        .map(|r| PutEntry {
            key: &r.partition_key,
            data: &r.data,
        })
        .collect();
    let o = put_records(k, stream, &entries, &put_policy()).await;
    // With every code retried, nothing is refused for good: what is not put stopped the
    // put (attempts spent, or a call that kept failing).
    match (o.stopped, o.refused.first()) {
        (None, None) => Ok(()),
        (Some(s), _) => Err(RedriveError::Put {
            stream: stream.to_owned(),
            detail: s.to_string(),
        }),
        (None, Some(r)) => Err(RedriveError::Put {
            stream: stream.to_owned(),
            detail: format!("an entry refused: {}: {}", r.code, r.message),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &str = r#"{"requestContext":{"requestId":"r1","functionArn":"arn:aws:lambda:us-east-1:123456789012:function:tp","condition":"RetryAttemptsExhausted","approximateInvokeCount":6},"responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"},"version":"1.0","timestamp":"2026-12-04T18:00:00.000Z","KinesisBatchInfo":{"shardId":"shardId-000000000000","startSequenceNumber":"49590338271490256608559692538361571095921575989136588802","endSequenceNumber":"49590338271490256608559692540925702759324208523137515618","approximateArrivalOfFirstRecord":"2026-12-04T17:59:00.000Z","approximateArrivalOfLastRecord":"2026-12-04T17:59:01.000Z","batchSize":500,"streamArn":"arn:aws:kinesis:us-east-1:123456789012:stream/burnbar-telemetry"}}"#;

    #[test]
    fn an_on_failure_message_names_its_batch() {
        let b = parse_failure(MSG).unwrap();
        assert_eq!(b.stream_name, "burnbar-telemetry");
        assert_eq!(b.shard_id, "shardId-000000000000");
        assert_eq!(b.batch_size, 500);
        assert_eq!(b.condition.as_deref(), Some("RetryAttemptsExhausted"));
    }

    #[test]
    fn a_message_that_is_not_one_is_refused_with_its_reason() {
        assert!(
            parse_failure("{}")
                .unwrap_err()
                .contains("KinesisBatchInfo")
        );
        let bad_arn = MSG.replace(":stream/burnbar-telemetry", ":table/x");
        assert!(parse_failure(&bad_arn).unwrap_err().contains("streamArn"));
        let reversed = MSG.replace(
            "49590338271490256608559692538361571095921575989136588802",
            "59",
        );
        assert!(parse_failure(&reversed).is_ok());
        let reversed = MSG.replace(
            "49590338271490256608559692540925702759324208523137515618",
            "5",
        );
        assert!(parse_failure(&reversed).unwrap_err().contains("after"));
        let huge = MSG.replace("\"batchSize\":500", "\"batchSize\":20000");
        assert!(parse_failure(&huge).unwrap_err().contains("batchSize"));
    }

    #[test]
    fn sequence_numbers_compare_as_numbers() {
        assert_eq!(seq_cmp("9", "10"), Ordering::Less);
        assert_eq!(seq_cmp("0010", "10"), Ordering::Equal);
        assert_eq!(
            seq_cmp(
                "49590338271490256608559692540925702759324208523137515618",
                "49590338271490256608559692538361571095921575989136588802"
            ),
            Ordering::Greater
        );
    }

    #[test]
    fn calls_stay_within_the_put_records_limits() {
        let rec = |n: usize| Record {
            partition_key: "7".into(),
            sequence: "1".into(),
            data: vec![b'x'; n],
        };
        // The shared loop's split, with the sizes a redrive's records count.
        let chunks = |rs: &[Record]| -> Vec<Vec<Record>> {
            burnbar_aws::put_records::calls(rs.iter().map(|r| r.data.len() + r.partition_key.len()))
                .into_iter()
                .map(|c| rs[c].to_vec())
                .collect()
        };
        let small: Vec<Record> = (0..1201).map(|_| rec(10)).collect();
        let c = chunks(&small);
        assert_eq!(
            c.iter().map(|c| c.len()).collect::<Vec<_>>(),
            [500, 500, 201]
        );
        let big: Vec<Record> = (0..12).map(|_| rec(1_000_000)).collect();
        let c = chunks(&big);
        assert!(
            c.iter()
                .all(|c| c.iter().map(|r| r.data.len() + 1).sum::<usize>() <= PUT_MAX_BYTES)
        );
        assert_eq!(c.iter().map(|c| c.len()).sum::<usize>(), 12);
        assert!(chunks(&[]).is_empty());
    }
}
