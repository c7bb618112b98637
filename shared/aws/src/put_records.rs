//! `PutRecords` with retries: the one loop every producer of Kinesis records in the
//! workspace shares (the writer's downstream stream, `burnbar-rehearse`,
//! `burnbar-redrive`), with what differs between them as a [`PutPolicy`].
//!
//! # Why one loop, and why a policy
//!
//! A `PutRecords` call can succeed while refusing some of its entries (throughput, a KMS
//! key, the service's own trouble); the SDK's retries see a success and do nothing for
//! them. Every producer therefore needs the same loop: split the entries into calls within
//! the service's limits ([`calls`]), send each call, put again only the entries refused
//! with a code worth another attempt, wait a doubling delay between attempts, and stop
//! after a bounded number of attempts (or at a deadline). What differs is policy:
//!
//! - which refusals are worth another attempt ([`RetryCodes`]): a rehearsal or the
//!   writer retries only throughput and transient codes (anything else will be refused
//!   the same way again, and is reported); a redrive retries every refused entry, since
//!   the records it replays must all land or stay in the queue;
//! - whether a failed call is sent again whole ([`CallRetry`]): the functions' clients
//!   already retry calls (the SDK's standard mode), the tools' do too but a long
//!   rehearsal also rides out a transient failure after those;
//! - attempts, backoff and deadline.
//!
//! # Not the ingest bridge's
//!
//! `bridge/src/kinesis.rs` keeps its own loop, for reasons of its own: it is built on a
//! rustls/ring HTTPS client without the SDK's default one (aws-lc, a long C build) and
//! without the DynamoDB, SQS and SageMaker SDKs and the pipeline this crate brings; its
//! retries are bounded by a deadline in seconds with jittered backoff (a live feed's
//! lateness budget, inside the processor's 5 s), not by attempts; and it counts throttled
//! entries and each call's latency for its health and metrics. Its retried codes are
//! [`THROUGHPUT_CODES`].
//!
//! # Order
//!
//! Calls go one after another, each to its end (every entry put, refused for good, or
//! given up) before the next starts; at the first call that cannot finish, the put stops
//! and later entries are not sent ([`PutOutcome::unput`]). So records of one partition
//! key are never overtaken by later ones of another call; within a call, an entry put
//! again lands after the ones accepted with it (consumers order by their own sequence
//! or event time, as the processor does).

use std::fmt;
use std::time::Duration;

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::config::http::HttpResponse;
use aws_sdk_kinesis::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_kinesis::operation::put_records::PutRecordsError;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use tokio::time::Instant;

/// Entries per `PutRecords` call (the service's quota).
pub const PUT_MAX_RECORDS: usize = 500;
/// Bytes of data and partition keys per `PutRecords` call (the service's quota).
pub const PUT_MAX_BYTES: usize = 5 * 1024 * 1024;

/// Entry (and call) error codes that mean "later": throughput and the service's
/// transient failures. Anything else (a missing stream, denied access to the stream or
/// its KMS key, a bad argument) will be refused the same way again.
pub const THROUGHPUT_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "KMSThrottlingException",
    "LimitExceededException",
    "ThrottlingException",
    "InternalFailure",
    "InternalFailureException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
];

/// The code of a [`Refusal`] when an answer did not have a result for each entry sent.
pub const INCOMPLETE_ANSWER: &str = "IncompleteAnswer";

/// Which refused entries are put again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryCodes {
    /// Only entries refused with one of these codes; the others are refused for good
    /// ([`PutOutcome::refused`]).
    Only(&'static [&'static str]),
    /// Every refused entry, whatever its code.
    All,
}

impl RetryCodes {
    /// Whether an entry refused with `code` is put again.
    pub fn retries(&self, code: &str) -> bool {
        match self {
            RetryCodes::Only(codes) => codes.contains(&code),
            RetryCodes::All => true,
        }
    }
}

/// Whether a call that failed as a whole (no answer per entry) is sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallRetry {
    /// Never: the put stops with the error ([`Stopped::Call`]), for a caller that
    /// classifies it itself (the SDK's own retries already ran).
    Never,
    /// When it is transient: a timeout, a connection failure, an unreadable answer, or a
    /// service error whose code [`PutPolicy::codes`] retries.
    Transient,
    /// Whatever the error.
    Any,
}

/// How a put retries. Every limit is here, named, so that a caller states its own.
#[derive(Debug, Clone, Copy)]
pub struct PutPolicy {
    /// Which refused entries are put again.
    pub codes: RetryCodes,
    /// Whether a failed call is sent again whole.
    pub calls: CallRetry,
    /// Attempts of one call's entries, the first included (at least 1).
    pub max_attempts: u32,
    /// The wait after the first attempt that left entries to put; doubled after each
    /// further one, up to `max_delay`.
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// No call is sent or waited for past this instant; what is pending then is left
    /// ([`Stopped::Deadline`]). `None`: attempts alone bound the put.
    pub deadline: Option<Instant>,
}

impl PutPolicy {
    /// The wait after attempt `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let doubled = self
            .first_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        doubled.min(self.max_delay)
    }
}

/// One record to put: its partition key and data.
#[derive(Debug, Clone, Copy)]
pub struct PutEntry<'a> {
    pub key: &'a str,
    pub data: &'a [u8],
}

impl PutEntry<'_> {
    /// What the entry counts against the per-call limit: data and key.
    pub fn size(&self) -> usize {
        self.data.len() + self.key.len()
    }
}

/// An entry Kinesis refused: its index among the entries given, the code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub index: usize,
    pub code: String,
    pub message: String,
}

/// Why a put stopped before every entry was put or refused for good.
#[derive(Debug)]
pub enum Stopped {
    /// Entries still refused with a retried code after [`PutPolicy::max_attempts`]:
    /// their last refusals.
    Attempts {
        max_attempts: u32,
        last: Vec<Refusal>,
    },
    /// The deadline came before the pending entries could be sent (or answered).
    Deadline,
    /// A call failed as a whole and the policy does not send it again (or that was its
    /// last attempt). Boxed: the SDK's error is large, the other variants small.
    Call(Box<SdkError<PutRecordsError, HttpResponse>>),
    /// A request entry could not be built (a key the SDK refuses).
    Request(String),
}

impl fmt::Display for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stopped::Attempts { max_attempts, last } => {
                write!(
                    f,
                    "{} entries still refused after {max_attempts} attempts",
                    last.len()
                )?;
                if let Some(r) = last.first() {
                    write!(f, " (last: {}: {})", r.code, r.message)?;
                }
                Ok(())
            }
            Stopped::Deadline => f.write_str("no time left before the deadline"),
            Stopped::Call(e) => write!(f, "{}", DisplayErrorContext(e.as_ref())),
            Stopped::Request(e) => write!(f, "request entry: {e}"),
        }
    }
}

/// What became of a put.
#[derive(Debug, Default)]
pub struct PutOutcome {
    /// Indices of the entries Kinesis accepted, in the order it accepted them.
    pub put: Vec<usize>,
    /// Entries refused with a code the policy does not retry: refused for good.
    pub refused: Vec<Refusal>,
    /// Why the put stopped early, if it did.
    pub stopped: Option<Stopped>,
    /// When it stopped: the entries neither put nor refused for good (those pending in
    /// the call that stopped, and every later call's), in order.
    pub unput: Vec<usize>,
    /// `PutRecords` calls sent.
    pub calls: u64,
    /// Calls sent again whole after a failure.
    pub calls_retried: u64,
    /// Entries sent again after Kinesis refused them.
    pub entries_retried: u64,
}

impl PutOutcome {
    /// Every entry was put.
    pub fn all_put(&self) -> bool {
        self.refused.is_empty() && self.stopped.is_none()
    }
}

/// Splits entries of these sizes (data and key) into `PutRecords` calls: at most
/// [`PUT_MAX_RECORDS`] entries and [`PUT_MAX_BYTES`] each, in order. An entry larger
/// than a call travels alone (and Kinesis refuses the call).
pub fn calls(sizes: impl IntoIterator<Item = usize>) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut bytes, mut n) = (0, 0, 0);
    for (i, size) in sizes.into_iter().enumerate() {
        if i > start && (i - start == PUT_MAX_RECORDS || bytes + size > PUT_MAX_BYTES) {
            out.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += size;
        n = i + 1;
    }
    if start < n {
        out.push(start..n);
    }
    out
}

/// Puts `entries` on `stream` (a name or an ARN) by `policy`: see the module's
/// documentation. Never fails as a whole: what happened to each entry is in the
/// outcome.
pub async fn put_records(
    client: &Client,
    stream: &str,
    entries: &[PutEntry<'_>],
    policy: &PutPolicy,
) -> PutOutcome {
    let mut out = PutOutcome::default();
    let ranges = calls(entries.iter().map(PutEntry::size));
    for (n, range) in ranges.iter().enumerate() {
        let pending: Vec<usize> = range.clone().collect();
        if let Some(stop) = put_call(client, stream, entries, pending, policy, &mut out).await {
            let (stopped, left) = stop;
            out.unput = left;
            out.unput
                .extend(ranges[n + 1..].iter().flat_map(|r| r.clone()));
            out.stopped = Some(stopped);
            break;
        }
    }
    out
}

/// One call's entries to their end; `Some` with why and what is left if it stopped.
async fn put_call(
    client: &Client,
    stream: &str,
    entries: &[PutEntry<'_>],
    mut pending: Vec<usize>,
    policy: &PutPolicy,
    out: &mut PutOutcome,
) -> Option<(Stopped, Vec<usize>)> {
    let max_attempts = policy.max_attempts.max(1);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut records = Vec::with_capacity(pending.len());
        for &i in &pending {
            match PutRecordsRequestEntry::builder()
                .partition_key(entries[i].key)
                .data(Blob::new(entries[i].data))
                .build()
            {
                Ok(r) => records.push(r),
                Err(e) => return Some((Stopped::Request(e.to_string()), pending)),
            }
        }
        let req = client.put_records().set_records(Some(records));
        let req = if stream.starts_with("arn:") {
            req.stream_arn(stream)
        } else {
            req.stream_name(stream)
        };
        out.calls += 1;
        let sent = match policy.deadline {
            Some(d) => match tokio::time::timeout_at(d, req.send()).await {
                Ok(r) => r,
                Err(_) => return Some((Stopped::Deadline, pending)),
            },
            None => req.send().await,
        };
        // The entries to send again, their last refusals, and whether the whole call
        // failed (counted as a call retried rather than entries).
        let (again, last, whole) = match sent {
            Ok(o) if o.records.len() == pending.len() => {
                let mut again = Vec::new();
                let mut last = Vec::new();
                for (&i, r) in pending.iter().zip(o.records) {
                    match r.error_code {
                        None => out.put.push(i),
                        Some(code) => {
                            let refusal = Refusal {
                                index: i,
                                code,
                                message: r.error_message.unwrap_or_default(),
                            };
                            if policy.codes.retries(&refusal.code) {
                                again.push(i);
                                last.push(refusal);
                            } else {
                                out.refused.push(refusal);
                            }
                        }
                    }
                }
                (again, last, false)
            }
            // An answer that does not answer each entry cannot say which landed: all
            // again (a duplicate is dropped downstream by its key; a loss would not be).
            Ok(o) => {
                let message = format!(
                    "{} results for {} entries: cannot tell which landed",
                    o.records.len(),
                    pending.len()
                );
                let last = pending
                    .iter()
                    .map(|&index| Refusal {
                        index,
                        code: INCOMPLETE_ANSWER.to_owned(),
                        message: message.clone(),
                    })
                    .collect();
                (pending.clone(), last, true)
            }
            Err(e) => {
                let retry = match policy.calls {
                    CallRetry::Never => false,
                    CallRetry::Any => true,
                    CallRetry::Transient => transient(&e, policy.codes),
                };
                if !retry || attempt >= max_attempts {
                    return Some((Stopped::Call(Box::new(e)), pending));
                }
                (pending.clone(), Vec::new(), true)
            }
        };
        if again.is_empty() {
            return None;
        }
        if attempt >= max_attempts {
            return Some((Stopped::Attempts { max_attempts, last }, again));
        }
        let wait = policy.delay(attempt);
        if policy.deadline.is_some_and(|d| Instant::now() + wait >= d) {
            return Some((Stopped::Deadline, again));
        }
        tokio::time::sleep(wait).await;
        if whole {
            out.calls_retried += 1;
        } else {
            out.entries_retried += again.len() as u64;
        }
        pending = again;
    }
}

/// A failed call worth sending again: no answer in time, no connection, an unreadable
/// answer, or a service error with a retried code (or a 5xx status).
fn transient(e: &SdkError<PutRecordsError, HttpResponse>, codes: RetryCodes) -> bool {
    match e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(s) => {
            s.err().code().is_some_and(|c| codes.retries(c)) || s.raw().status().as_u16() >= 500
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_stay_within_the_put_records_limits() {
        // Entry count: 1,201 small entries in 500 + 500 + 201.
        let c = calls(std::iter::repeat_n(11, 1201));
        assert_eq!(c, vec![0..500, 500..1000, 1000..1201]);
        // Bytes: 6 entries of 1 MiB (and a key) in calls of at most 5 MiB.
        let c = calls(std::iter::repeat_n(1024 * 1024 + 2, 6));
        assert_eq!(c, vec![0..4, 4..6]);
        for r in &c {
            assert!(r.len() * (1024 * 1024 + 2) <= PUT_MAX_BYTES);
        }
        assert!(calls(std::iter::empty()).is_empty());
        // An entry over a call's bytes travels alone, not dropped.
        assert_eq!(calls([10, PUT_MAX_BYTES + 1, 10]), vec![0..1, 1..2, 2..3]);
    }

    #[test]
    fn the_wait_doubles_from_the_first_delay_up_to_the_cap() {
        let p = PutPolicy {
            codes: RetryCodes::All,
            calls: CallRetry::Any,
            max_attempts: 8,
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            deadline: None,
        };
        let waits: Vec<u128> = (1..=6).map(|a| p.delay(a).as_millis()).collect();
        assert_eq!(waits, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.delay(u32::MAX), Duration::from_millis(1000));
    }

    #[test]
    fn throughput_codes_are_retried_access_and_validation_are_not() {
        let t = RetryCodes::Only(THROUGHPUT_CODES);
        assert!(t.retries("ProvisionedThroughputExceededException"));
        assert!(t.retries("InternalFailure"));
        assert!(t.retries("KMSThrottlingException"));
        assert!(!t.retries("ResourceNotFoundException"));
        assert!(!t.retries("AccessDeniedException"));
        assert!(!t.retries("KMSAccessDeniedException"));
        assert!(!t.retries("ValidationException"));
        assert!(RetryCodes::All.retries("KMSAccessDeniedException"));
    }
}
