//! A Kinesis event decoded at memory speed: the Runtime API body read once, straight
//! into one reused buffer.
//!
//! `aws_lambda_events`' `KinesisEvent` builds an owned copy of every record: seven
//! optional strings, the partition key, the sequence number and a `Vec<u8>` of the data,
//! the base64 text itself first copied into a `String`. On a full 6 MB batch that was
//! about 8 of the telemetry handler's 13 ms. [`KinesisBatch`] reads the same JSON with
//! the same rules but keeps nothing it does not need: the fields the handlers never read
//! are checked (a string, or null where the field is optional) and dropped; sequence
//! numbers are appended to one string and every record's data is base64-decoded (with
//! `base64-simd`, AVX2 where the CPU has it) into one byte buffer; a record is then two
//! ranges in them. The buffers go back to a per-thread slot after the invocation
//! ([`KinesisBatch::recycle`]), so a warm function decodes without allocating them again.
//!
//! # Two paths, one answer
//!
//! The body is first offered to a hand-written scanner ([`KinesisBatch::scan`], module
//! `scan`) that reads only the shape Lambda writes (no escapes, known keys, a plain
//! decimal timestamp) in one pass, string ends found a vector or a word at a time: about
//! 2 ms on a full batch, where the serde path below took about 7 (serde_json merely
//! reading the body into `IgnoredAny` takes about 2). Anything else it is not sure of, it
//! gives back ([`Fallback`]) and the body goes to the serde path from the start, so the
//! scanner only ever decides faster, never differently. [`KinesisBatch::from_slice`]
//! does this; the stream functions' runtime does it through a layer around the Lambda
//! runtime (`runtime::kinesis`, `KinesisBatch::predecoded`), since the runtime
//! deserializes the body itself.
//!
//! # Exactly what `aws_lambda_events` accepts
//!
//! The serde path's structs are derived with the same serde attributes as
//! `aws_lambda_events`' (`KinesisEvent`, `KinesisEventRecord`, `KinesisRecord`: field
//! names, defaults, required fields, duplicate fields refused, unknown fields ignored),
//! the timestamp and the encryption type are `aws_lambda_events`' own types, and each
//! dropped string is asked of the deserializer as a `String` is: an event is accepted
//! and refused exactly as before, and a test decodes generated events both ways (and
//! each event the scanner takes, by the serde path too). Strings with escapes arrive
//! unescaped in serde_json's scratch buffer and are read from there.
//!
//! One difference, on purpose: a record whose `data` is not valid base64 (standard
//! alphabet, canonical padding: what `aws_lambda_events` decodes) does not fail the whole
//! event. It is kept with its reason and its text ([`Undecodable`]); the handlers
//! quarantine it and the rest of the batch goes on. Both paths decode data in one
//! function, so the reason is worded alike whichever read it.
//!
//! Serde needs `DeserializeOwned` for a runtime's event type, so the field types write
//! into a per-thread arena while the event is read; the arena is taken out of the slot
//! when the event is done and belongs to the batch from then on.

use std::cell::RefCell;
use std::ops::Range;

use aws_lambda_events::event::kinesis::KinesisEncryptionType;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::kinesis::{InRecord, Undecodable};

/// The decoded batch: its records' sequence numbers and data in two buffers.
#[derive(Debug, Default, Clone)]
pub struct KinesisBatch {
    arena: Arena,
    records: Vec<Span>,
}

/// Where one record is in the arena.
#[derive(Debug, Clone)]
struct Span {
    seq: Range<usize>,
    /// The decoded data; for an undecodable record, its base64 text as received.
    data: Range<usize>,
    /// For an undecodable record, its reason (index in `Arena::reasons`).
    bad: Option<usize>,
}

#[derive(Debug, Default, Clone)]
struct Arena {
    seqs: String,
    data: Vec<u8>,
    reasons: Vec<String>,
}

impl Arena {
    fn clear(&mut self) {
        self.seqs.clear();
        self.data.clear();
        self.reasons.clear();
    }
}

thread_local! {
    /// The arena being filled by the event being read, and between invocations the one
    /// kept for the next (its capacity is what a warm function reuses).
    static ARENA: RefCell<Arena> = RefCell::new(Arena::default());
}

impl KinesisBatch {
    /// The records, in the event's order, as the handlers take them.
    pub fn records(&self) -> Vec<InRecord<'_>> {
        self.records
            .iter()
            .map(|s| {
                let sequence_number = &self.arena.seqs[s.seq.clone()];
                let data = &self.arena.data[s.data.clone()];
                match s.bad {
                    None => InRecord::new(sequence_number, data),
                    Some(r) => InRecord {
                        sequence_number,
                        data: b"",
                        undecodable: Some(Undecodable {
                            reason: &self.arena.reasons[r],
                            text: data,
                        }),
                    },
                }
            })
            .collect()
    }

    /// The number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Gives the buffers back to this thread, for the next event to reuse.
    pub fn recycle(self) {
        let arena = self.arena;
        ARENA.with_borrow_mut(|slot| {
            if slot.data.capacity() < arena.data.capacity() {
                *slot = arena;
            }
        });
    }

    /// Decodes a Runtime API body: the scanner ([`KinesisBatch::scan`]) for the shape
    /// Lambda writes, serde_json for anything else (the same event, accepted or refused
    /// alike, and serde's error for a refused one).
    pub fn from_slice(body: &[u8]) -> serde_json::Result<KinesisBatch> {
        match KinesisBatch::scan(body) {
            Ok(batch) => Ok(batch),
            Err(_) => serde_json::from_slice(body),
        }
    }

    /// The fast path alone: the batch, or why the body needs the serde path (which may
    /// still accept it).
    pub fn scan(body: &[u8]) -> Result<KinesisBatch, scan::Fallback> {
        let mut arena = ARENA.with_borrow_mut(std::mem::take);
        arena.clear();
        let mut records = Vec::new();
        match scan::scan(body, &mut arena, &mut records) {
            Ok(()) => Ok(KinesisBatch { arena, records }),
            Err(why) => {
                // The buffers go back for the serde path (or the next event) to fill.
                arena.clear();
                KinesisBatch {
                    arena,
                    records: Vec::new(),
                }
                .recycle();
                Err(why)
            }
        }
    }

    /// Runs `f` (the runtime deserializing a body it was handed in place of the event)
    /// with `batch` as what [`KinesisBatch`]'s `Deserialize` returns, whatever the body.
    ///
    /// The Lambda runtime deserializes the body itself, through serde_json, which cannot
    /// hand a visitor the raw bytes without first parsing them (about 2 ms of a full
    /// batch, the very cost the scanner saves). So the runtime layer of the stream
    /// functions (`runtime::kinesis`) scans the body before the runtime sees it and, when
    /// the scanner takes it, hands the runtime an empty body and the batch through this
    /// slot. The slot is per thread and lives only for `f`: the runtime deserializes
    /// synchronously inside its service's `call`, on the caller's thread, so no other
    /// body can meet a batch meant for this one; anything left in it after `f` (a
    /// runtime that did not deserialize) is dropped.
    #[cfg_attr(not(feature = "runtime"), allow(dead_code))]
    pub(crate) fn predecoded<R>(batch: KinesisBatch, f: impl FnOnce() -> R) -> R {
        PREDECODED.with_borrow_mut(|slot| *slot = Some(batch));
        let r = f();
        if let Some(left) = PREDECODED.with_borrow_mut(Option::take) {
            left.recycle();
        }
        r
    }
}

thread_local! {
    /// A batch scanned from the body the runtime is about to deserialize
    /// (`KinesisBatch::predecoded`).
    static PREDECODED: RefCell<Option<KinesisBatch>> = const { RefCell::new(None) };
}

impl<'de> Deserialize<'de> for KinesisBatch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if let Some(batch) = PREDECODED.with_borrow_mut(Option::take) {
            return Ok(batch);
        }
        ARENA.with_borrow_mut(Arena::clear);
        let ev = Event::deserialize(d);
        let arena = ARENA.with_borrow_mut(std::mem::take);
        let ev = ev?;
        let records = ev
            .records
            .into_iter()
            .map(|r| Span {
                seq: r.kinesis.sequence_number.0,
                data: r.kinesis.data.range,
                bad: r.kinesis.data.bad,
            })
            .collect();
        Ok(KinesisBatch { arena, records })
    }
}

// The envelope, field for field as `aws_lambda_events` 1.x declares it (without its
// `catch-all-fields` feature, which the functions do not enable).

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    #[serde(rename = "Records")]
    records: Vec<EventRecord>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // checked as aws_lambda_events checks them, never read
struct EventRecord {
    #[serde(default)]
    aws_region: Option<Str>,
    #[serde(default)]
    #[serde(rename = "eventID")]
    event_id: Option<Str>,
    #[serde(default)]
    event_name: Option<Str>,
    #[serde(default)]
    event_source: Option<Str>,
    #[serde(default)]
    #[serde(rename = "eventSourceARN")]
    event_source_arn: Option<Str>,
    #[serde(default)]
    event_version: Option<Str>,
    #[serde(default)]
    invoke_identity_arn: Option<Str>,
    kinesis: Record,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // checked as aws_lambda_events checks them, never read
struct Record {
    approximate_arrival_timestamp: Timestamp,
    data: Data,
    #[serde(default)]
    encryption_type: KinesisEncryptionType,
    #[serde(default)]
    partition_key: Str,
    #[serde(default)]
    sequence_number: Seq,
    #[serde(default)]
    kinesis_schema_version: Option<Str>,
}

/// `approximateArrivalTimestamp`, checked as `aws_lambda_events`' `SecondTimestamp`
/// checks it, and dropped. Its rules are its own: a string or any number, read as an
/// `f64`, written with `Display`, split at the point into whole seconds and a fraction
/// (each a `u64`: a negative time, `inf` or a number too large fail), the fraction's
/// digits taken as milliseconds, and the pair a valid chrono time. `SecondTimestamp`
/// reads it through an untagged enum (serde's buffered `Content`, an error built and
/// dropped per variant tried) and `to_string`: seven allocations a record. Here the same
/// steps run on the stack.
struct Timestamp;

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = f64;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number of seconds, or a string of one")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
                v.parse::<f64>().map_err(E::custom)
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<f64, E> {
                match std::str::from_utf8(v) {
                    Ok(s) => self.visit_str(s),
                    Err(_) => Err(E::invalid_value(de::Unexpected::Bytes(v), &self)),
                }
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
                Ok(v)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
                Ok(v as f64)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
                Ok(v as f64)
            }
        }
        let secs = d.deserialize_any(V)?;
        seconds_valid(secs).map_err(de::Error::custom)?;
        Ok(Timestamp)
    }
}

/// `aws_lambda_events`' `normalize_timestamp` and `deserialize_seconds`, step by step.
fn seconds_valid(input: f64) -> Result<(), &'static str> {
    use chrono::TimeZone;
    use std::fmt::Write;
    // Lambda's own timestamps have at most 3 decimals: if `input` is the double nearest
    // some decimal k/1000 (k < 2^53, and the division of two exact doubles is correctly
    // rounded, so `k / 1000.0` is that double), then below 1e12 no other decimal of 3
    // places rounds to it (they are 0.001 apart, the doubles there under 0.00013), so
    // `Display` writes k/1000 itself: a whole number of seconds that fits a u64 and at
    // most 3 digits after the point, at most 999 ms, a valid time. Without formatting.
    if input.is_sign_positive() && input < 1e12 {
        let k = (input * 1000.0).round();
        if k / 1000.0 == input {
            return Ok(());
        }
    }
    // `Display` of an f64 is at most about 330 characters (5e-324 in full).
    struct Buf([u8; 512], usize);
    impl Write for Buf {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            let end = self.1 + s.len();
            let dst = self.0.get_mut(self.1..end).ok_or(std::fmt::Error)?;
            dst.copy_from_slice(s.as_bytes());
            self.1 = end;
            Ok(())
        }
    }
    let mut buf = Buf([0; 512], 0);
    write!(buf, "{input}").map_err(|_| "timestamp too long")?;
    let text = std::str::from_utf8(&buf.0[..buf.1]).map_err(|_| "timestamp not text")?;
    let mut parts = text.split('.');
    let part = |p: Option<&str>| p.map(|p| p.parse::<u64>().map_err(|_| "invalid timestamp"));
    let whole = part(parts.next()).unwrap_or(Err("invalid timestamp"))?;
    let frac = part(parts.next()).transpose()?.unwrap_or(0);
    // As there (`frac * 1_000_000`, wrapping in a release build, then `as u32`).
    let nanos = frac.wrapping_mul(1_000_000);
    chrono::Utc
        .timestamp_opt(whole as i64, nanos as u32)
        .latest()
        .map(|_| ())
        .ok_or("invalid timestamp")
}

/// A string checked as `String` would be, and dropped.
#[derive(Default)]
struct Str;

impl<'de> Deserialize<'de> for Str {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Str;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Str, E> {
                Ok(Str)
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Str, E> {
                // As `String`'s visitor: bytes only if they are UTF-8.
                std::str::from_utf8(v)
                    .map(|_| Str)
                    .map_err(|_| E::invalid_value(de::Unexpected::Bytes(v), &self))
            }
        }
        d.deserialize_string(V)
    }
}

/// A sequence number: appended to the arena's string.
#[derive(Default)]
struct Seq(Range<usize>);

impl<'de> Deserialize<'de> for Seq {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Seq;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Seq, E> {
                Ok(Seq(ARENA.with_borrow_mut(|a| {
                    let start = a.seqs.len();
                    a.seqs.push_str(v);
                    start..a.seqs.len()
                })))
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Seq, E> {
                match std::str::from_utf8(v) {
                    Ok(s) => self.visit_str(s),
                    Err(_) => Err(E::invalid_value(de::Unexpected::Bytes(v), &self)),
                }
            }
        }
        d.deserialize_string(V)
    }
}

/// A record's data: decoded into the arena's buffer, or kept as text with the reason
/// it could not be.
///
/// The string is asked for as bytes: serde_json then finds its end with `memchr`
/// instead of also checking every byte for UTF-8 and control characters. Valid base64
/// is ASCII without control characters, so only a string that fails to decode needs
/// those checks, and it gets them: one that is not UTF-8 (a lone surrogate escape
/// included) or holds a control character fails the event. After unescaping, a raw
/// control character (invalid JSON) and an escaped one (`\n`: valid JSON, but not
/// base64) look alike, so both fail the event: `aws_lambda_events` fails either, so the
/// events refused are still exactly its; such a record is just not quarantined.
struct Data {
    range: Range<usize>,
    bad: Option<usize>,
}

impl<'de> Deserialize<'de> for Data {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // `Base64Data` is a newtype struct around the string: asked for the same way.
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Data;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Data, D::Error> {
                d.deserialize_bytes(self)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Data, E> {
                self.visit_bytes(v.as_bytes())
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Data, E> {
                ARENA
                    .with_borrow_mut(|a| decode_into(a, v))
                    .map_err(|e| match e {
                        DataError::NotUtf8 => E::invalid_value(
                            de::Unexpected::Other("a string that is not UTF-8"),
                            &"a string",
                        ),
                        DataError::Control => E::custom("control character while parsing a string"),
                    })
            }
        }
        d.deserialize_newtype_struct("Base64Data", V)
    }
}

/// Why a record's data fails the whole event instead of being quarantined: it is not a
/// JSON string's content, which serde_json refuses before base64 is even tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataError {
    NotUtf8,
    Control,
}

/// Decodes `text` (standard base64, padded) onto the end of the arena's data; text that
/// is not base64 but is a JSON string is kept with its reason. Both paths decode here,
/// so a quarantined record's reason is worded alike whichever path read it.
fn decode_into(a: &mut Arena, text: &[u8]) -> Result<Data, DataError> {
    let start = a.data.len();
    // `decode_append` reserves exactly what it needs: reserving here first keeps the
    // buffer's growth geometric while it is first filled.
    a.data
        .reserve(base64_simd::STANDARD.estimated_decoded_length(text.len()));
    match base64_simd::STANDARD.decode_append(text, &mut a.data) {
        Ok(()) => Ok(Data {
            range: start..a.data.len(),
            bad: None,
        }),
        Err(_) => {
            // Not JSON's string: the event fails, as serde_json would have failed it.
            if std::str::from_utf8(text).is_err() {
                return Err(DataError::NotUtf8);
            }
            if text.iter().any(|&b| b < 0x20) {
                return Err(DataError::Control);
            }
            a.data.truncate(start);
            a.data.extend_from_slice(text);
            a.reasons.push(base64_reason(text));
            Ok(Data {
                range: start..a.data.len(),
                bad: Some(a.reasons.len() - 1),
            })
        }
    }
}

/// Why `text` is not standard padded base64, as the `base64` crate (what
/// `aws_lambda_events` decodes with) words it.
fn base64_reason(text: &[u8]) -> String {
    use base64::Engine;
    match base64::engine::general_purpose::STANDARD.decode(text) {
        Err(e) => format!("the record's data is not valid base64: {e}"),
        // Not reached while both decoders agree (a test holds them to it).
        Ok(_) => "the record's data is not valid base64".to_owned(),
    }
}

mod scan;

pub use scan::Fallback;

#[cfg(test)]
mod fast_path_tests;
#[cfg(test)]
mod tests;
