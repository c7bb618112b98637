//! The fast path: a hand-written scanner for the envelope exactly as Lambda writes it.
//!
//! Through serde, the envelope cost about 5 ms of a 6 MB batch over serde_json's own
//! floor (reading the body into `IgnoredAny`, about 2 ms): a visitor per field, the
//! thread-local arena borrowed per string, every byte of every string checked twice.
//! Lambda writes one shape: an object with `Records`, an array of objects with the known
//! keys, plain strings without escapes, `null` for the optional ones, the arrival time a
//! plain decimal number. This scanner reads that shape and nothing else, in one pass:
//! string ends found with `memchr` (a vector at a time), each record's `data` base64
//! decoded straight from the body into the arena.
//!
//! # Never a different answer from serde
//!
//! The scanner accepts a subset of what the serde path accepts, and for that subset
//! produces the same records: every kept or checked string is UTF-8 without control
//! characters (what serde_json checks of a string it reads), required fields present,
//! duplicate keys refused, whitespace wherever JSON allows it (and only JSON's four
//! characters), nothing but whitespace after the event. Anything else is a [`Fallback`]:
//! an escape in any string, a key it does not know (the serde path ignores unknown keys;
//! skipping them here would mean parsing arbitrary JSON), a timestamp that is not a plain
//! decimal of at most 12 digits and 3 decimals (longer forms and exponents are where
//! float parsers may differ), a `null` where the field is not optional, a duplicate or
//! missing field, broken JSON. On a fallback the whole body goes to the serde path from
//! the start, so whatever serde accepts or refuses, and the error it words, stays
//! exactly `aws_lambda_events`' (a property test holds the two paths to that).
//!
//! A fallback is not counted in the metrics: it is not a loss or a failure (the serde
//! path decodes the same event, about 5 ms slower on a full batch), and an event Lambda
//! writes never takes it; the handler bench's decode time would show it if one did.

use std::ops::Range;

use super::{Arena, DataError, Span, decode_into, seconds_valid};

/// Why the scanner gave a body to the serde path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// Not the expected JSON token here (including a truncated body).
    Syntax,
    /// A string with an escape (`\`): serde unescapes it.
    Escape,
    /// A key the scanner does not know (serde ignores it, or refuses it, after parsing
    /// its value generically).
    UnknownKey,
    /// A key twice in one object (serde refuses the event).
    DuplicateKey,
    /// A required field missing (`Records`, `kinesis`, `data`,
    /// `approximateArrivalTimestamp`).
    Missing,
    /// A string that is not UTF-8 or holds a control character (serde refuses it).
    Text,
    /// A timestamp that is not a plain decimal (a string, an exponent, a sign, more than
    /// 12 digits or 3 decimals), or one `seconds_valid` refuses.
    Number,
    /// An `encryptionType` other than `"NONE"` or `"KMS"`.
    EncryptionType,
    /// Something other than whitespace after the event.
    Trailing,
}

/// Scans `body` into `arena` and `records` (both empty on entry). On a fallback, what was
/// written is garbage for the caller to clear.
pub(super) fn scan(
    body: &[u8],
    arena: &mut Arena,
    records: &mut Vec<Span>,
) -> Result<(), Fallback> {
    let mut s = Scanner { b: body, i: 0 };
    let mut seen = false;
    s.object(|s, key| {
        if key != b"Records" {
            return Err(Fallback::UnknownKey);
        }
        if std::mem::replace(&mut seen, true) {
            return Err(Fallback::DuplicateKey);
        }
        s.records(arena, records)
    })?;
    if !seen {
        return Err(Fallback::Missing);
    }
    s.ws();
    if s.i != body.len() {
        return Err(Fallback::Trailing);
    }
    Ok(())
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    /// Skips JSON whitespace (space, tab, line feed, carriage return: what serde_json
    /// skips, nothing else).
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    /// The next byte after whitespace, not consumed.
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Result<(), Fallback> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(Fallback::Syntax)
        }
    }

    /// A string without escapes: the bytes between its quotes, not yet checked.
    fn raw_str(&mut self) -> Result<&'a [u8], Fallback> {
        self.eat(b'"')?;
        let rest = &self.b[self.i..];
        let n = memchr::memchr2(b'"', b'\\', rest).ok_or(Fallback::Syntax)?;
        if rest[n] == b'\\' {
            return Err(Fallback::Escape);
        }
        self.i += n + 1;
        Ok(&rest[..n])
    }

    /// A string as serde_json reads one into a `String`: UTF-8, no control character.
    ///
    /// Keys and the short strings around the data are mostly printable ASCII, 10 to 90
    /// bytes: for them, one pass eight bytes at a time finds the closing quote and
    /// checks every byte before it, cheaper than `memchr` and then a UTF-8 check and a
    /// control-character check. A byte outside printable ASCII sends the string to those
    /// checks ([`json_text`]).
    fn text(&mut self) -> Result<&'a [u8], Fallback> {
        self.eat(b'"')?;
        let start = self.i;
        let b = self.b;
        let mut i = start;
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        // Bytes that stop the word loop: `"`, `\`, below 0x20, 0x80 and above. For
        // each, the lowest flagged byte is exact (a borrow only flags bytes above it).
        let stops = |x: u64| {
            let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
            zero(x ^ (ONES * u64::from(b'"')))
                | zero(x ^ (ONES * u64::from(b'\\')))
                | ((x.wrapping_sub(ONES * 0x20) | x) & HIGH)
        };
        while let Some(w) = b.get(i..i + 8) {
            let m = stops(u64::from_le_bytes(w.try_into().unwrap_or([0; 8])));
            if m != 0 {
                i += (m.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        while let Some(&c) = b.get(i) {
            if c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c) {
                break;
            }
            i += 1;
        }
        match b.get(i) {
            Some(b'"') => {
                // Printable ASCII up to here: UTF-8 without control characters.
                self.i = i + 1;
                Ok(&b[start..i])
            }
            Some(b'\\') => Err(Fallback::Escape),
            Some(_) => {
                // Not ASCII, or a control character: the whole string checked.
                self.i = start - 1;
                let s = self.raw_str()?;
                json_text(s).map(str::as_bytes).ok_or(Fallback::Text)
            }
            None => Err(Fallback::Syntax),
        }
    }

    /// An `Option<String>`: a string or `null`.
    fn opt_text(&mut self) -> Result<(), Fallback> {
        if self.peek() == Some(b'n') {
            if !self.b[self.i..].starts_with(b"null") {
                return Err(Fallback::Syntax);
            }
            self.i += 4;
            return Ok(());
        }
        self.text().map(drop)
    }

    /// An object: `field` is called with each key, positioned at its value, and reads it.
    fn object(
        &mut self,
        mut field: impl FnMut(&mut Self, &'a [u8]) -> Result<(), Fallback>,
    ) -> Result<(), Fallback> {
        self.eat(b'{')?;
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(());
        }
        loop {
            let key = self.text()?;
            self.eat(b':')?;
            field(self, key)?;
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(Fallback::Syntax),
            }
        }
    }

    fn records(&mut self, arena: &mut Arena, records: &mut Vec<Span>) -> Result<(), Fallback> {
        self.eat(b'[')?;
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(());
        }
        loop {
            records.push(self.record(arena)?);
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(Fallback::Syntax),
            }
        }
    }

    /// One element of `Records`: seven optional strings and `kinesis`.
    fn record(&mut self, arena: &mut Arena) -> Result<Span, Fallback> {
        let mut seen = 0u8;
        let mut span = None;
        self.object(|s, key| {
            let bit = match key {
                b"awsRegion" => 0,
                b"eventID" => 1,
                b"eventName" => 2,
                b"eventSource" => 3,
                b"eventSourceARN" => 4,
                b"eventVersion" => 5,
                b"invokeIdentityArn" => 6,
                b"kinesis" => 7,
                _ => return Err(Fallback::UnknownKey),
            };
            once(&mut seen, bit)?;
            if bit == 7 {
                span = Some(s.kinesis(arena)?);
                Ok(())
            } else {
                s.opt_text()
            }
        })?;
        span.ok_or(Fallback::Missing)
    }

    /// A record's `kinesis` object.
    fn kinesis(&mut self, arena: &mut Arena) -> Result<Span, Fallback> {
        let mut seen = 0u8;
        let mut seq: Option<Range<usize>> = None;
        let mut data = None;
        self.object(|s, key| {
            let bit = match key {
                b"approximateArrivalTimestamp" => 0,
                b"data" => 1,
                b"encryptionType" => 2,
                b"partitionKey" => 3,
                b"sequenceNumber" => 4,
                b"kinesisSchemaVersion" => 5,
                _ => return Err(Fallback::UnknownKey),
            };
            once(&mut seen, bit)?;
            match bit {
                0 => s.timestamp(),
                1 => {
                    let text = s.raw_str()?;
                    data = Some(decode_into(arena, text).map_err(|e| match e {
                        DataError::NotUtf8 | DataError::Control => Fallback::Text,
                    })?);
                    Ok(())
                }
                2 => match s.raw_str()? {
                    b"NONE" | b"KMS" => Ok(()),
                    _ => Err(Fallback::EncryptionType),
                },
                3 => s.text().map(drop),
                4 => {
                    // Checked by `text`: this cannot fail.
                    let t = std::str::from_utf8(s.text()?).map_err(|_| Fallback::Text)?;
                    let start = arena.seqs.len();
                    arena.seqs.push_str(t);
                    seq = Some(start..arena.seqs.len());
                    Ok(())
                }
                _ => s.opt_text(),
            }
        })?;
        let data = data.ok_or(Fallback::Missing)?;
        if seen & 1 == 0 {
            return Err(Fallback::Missing);
        }
        // A missing sequence number is the empty string (`#[serde(default)]`).
        let seq = seq.unwrap_or(arena.seqs.len()..arena.seqs.len());
        Ok(Span {
            seq,
            data: data.range,
            bad: data.bad,
        })
    }

    /// `approximateArrivalTimestamp` as Lambda writes it: digits, and at most 3
    /// decimals. serde_json reads such a number exactly as this does: an integer as a
    /// `u64` (then `as f64`), a decimal as its digits (under 2^53, so exact) divided by
    /// a power of ten (exact too): one correctly rounded division either way, whether or
    /// not its `float_roundtrip` feature is on.
    fn timestamp(&mut self) -> Result<(), Fallback> {
        self.ws();
        let rest = &self.b[self.i..];
        let digits = |s: &[u8]| s.iter().take_while(|c| c.is_ascii_digit()).count();
        let int = digits(rest);
        // JSON has no leading zeros; past 12 digits the seconds are far beyond any time.
        if int == 0 || int > 12 || (int > 1 && rest[0] == b'0') {
            return Err(Fallback::Number);
        }
        let mut n = int;
        let mut decimals = None;
        if rest.get(n) == Some(&b'.') {
            let d = digits(&rest[n + 1..]);
            if d == 0 || d > 3 {
                return Err(Fallback::Number);
            }
            decimals = Some(d);
            n += 1 + d;
        }
        if matches!(rest.get(n), Some(b'e' | b'E' | b'.' | b'0'..=b'9')) {
            return Err(Fallback::Number);
        }
        let sig = rest[..n]
            .iter()
            .filter(|c| c.is_ascii_digit())
            .fold(0u64, |acc, c| acc * 10 + u64::from(c - b'0'));
        let secs = match decimals {
            None => sig as f64,
            Some(d) => sig as f64 / [1.0, 10.0, 100.0, 1000.0][d],
        };
        seconds_valid(secs).map_err(|_| Fallback::Number)?;
        self.i += n;
        Ok(())
    }
}

/// Marks `bit` seen in `seen`, or the key is a duplicate.
fn once(seen: &mut u8, bit: u8) -> Result<(), Fallback> {
    if *seen & 1 << bit != 0 {
        return Err(Fallback::DuplicateKey);
    }
    *seen |= 1 << bit;
    Ok(())
}

/// The bytes of a JSON string without escapes, if serde_json would read them as one:
/// UTF-8, no control character (U+0000 to U+001F; DEL is allowed).
pub(super) fn json_text(s: &[u8]) -> Option<&str> {
    let t = std::str::from_utf8(s).ok()?;
    // Without an early exit: the loop compiles to a vector compare.
    let control = s.iter().fold(false, |c, &b| c | (b < 0x20));
    (!control).then_some(t)
}
