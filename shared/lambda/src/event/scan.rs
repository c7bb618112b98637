//! The fast path: a hand-written scanner for the envelope exactly as Lambda writes it.
//!
//! Through serde, the envelope cost about 5 ms of a 6 MB batch over serde_json's own
//! floor (reading the body into `IgnoredAny`, about 2 ms): a visitor per field, the
//! thread-local arena borrowed per string, every byte of every string checked twice.
//! Lambda writes one shape: an object with `Records`, an array of objects with the known
//! keys, plain strings without escapes, `null` for the optional ones, the arrival time a
//! plain decimal number. This scanner reads that shape and nothing else, in one pass:
//! each record's `data` found with `memchr` (a vector at a time) and base64-decoded
//! straight from the body into the arena; the keys matched by their quoted bytes, the
//! next in Lambda's order tried first; the strings Lambda writes alike in every record of
//! a batch (region, ARNs, versions, event name and source) compared with the last
//! record's value, and checked only when they differ (they were 0.6 of the scan's 1.9 ms
//! on a full batch when every string was checked byte by byte).
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

use super::{Arena, DataError, Span, decode_into};

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
    /// 12 digits or 3 decimals).
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
    let mut s = Scanner {
        b: body,
        i: 0,
        last: Default::default(),
    };
    let mut seen = false;
    s.object(&[b"\"Records\""], |s, _| {
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
    /// For each field whose value repeats from record to record (the region, the
    /// stream's ARN, the role, the versions, …; [`Repeats`]), where in the body its last
    /// value lies, closing quote included: already checked, so the same bytes at the
    /// cursor are the same valid string, found by one compare.
    last: [Range<usize>; Repeats::COUNT],
}

/// The strings of a record that Lambda writes alike in every record of a batch.
#[derive(Clone, Copy)]
enum Repeats {
    AwsRegion,
    EventName,
    EventSource,
    EventSourceArn,
    EventVersion,
    InvokeIdentityArn,
    KinesisSchemaVersion,
}

impl Repeats {
    const COUNT: usize = Repeats::KinesisSchemaVersion as usize + 1;
}

/// A record's keys, quoted, in the order Lambda writes them (`record` matches on the
/// index).
const RECORD_KEYS: [&[u8]; 8] = [
    b"\"awsRegion\"",
    b"\"eventID\"",
    b"\"eventName\"",
    b"\"eventSource\"",
    b"\"eventSourceARN\"",
    b"\"eventVersion\"",
    b"\"invokeIdentityArn\"",
    b"\"kinesis\"",
];

/// The `kinesis` object's keys, quoted, in the order Lambda writes them.
const KINESIS_KEYS: [&[u8]; 6] = [
    b"\"approximateArrivalTimestamp\"",
    b"\"data\"",
    b"\"encryptionType\"",
    b"\"kinesisSchemaVersion\"",
    b"\"partitionKey\"",
    b"\"sequenceNumber\"",
];

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

    /// `null` at the cursor (consumed), or something else (not).
    fn null(&mut self) -> Result<bool, Fallback> {
        if self.peek() != Some(b'n') {
            return Ok(false);
        }
        if !self.b[self.i..].starts_with(b"null") {
            return Err(Fallback::Syntax);
        }
        self.i += 4;
        Ok(true)
    }

    /// An `Option<String>` whose value usually repeats the last record's: a string or
    /// `null`. The same bytes as the last value (up to its closing quote) are that
    /// string, checked then; anything else is read and checked, and is the value to
    /// compare with next time.
    fn opt_text(&mut self, field: Repeats) -> Result<(), Fallback> {
        if self.null()? {
            return Ok(());
        }
        let last = &self.last[field as usize];
        let at = self.i + 1;
        if !last.is_empty()
            && self.b.get(self.i) == Some(&b'"')
            && self
                .b
                .get(at..at + last.len())
                .is_some_and(|here| same(here, &self.b[last.clone()]))
        {
            self.i = at + last.len();
        } else {
            self.text()?;
            self.last[field as usize] = at..self.i;
        }
        Ok(())
    }

    /// An object key, one of `keys` (each quoted): the index of the one at the cursor.
    ///
    /// Lambda writes the keys in one order, so the one after `guess` (the last key's
    /// index) is tried first, then the others, each as one compare of its quoted bytes:
    /// a match is that key, a plain ASCII string. Anything else is read as a string
    /// (an escape, a control character or broken UTF-8 fall back as `text` says) and is
    /// a key the scanner does not know.
    #[inline(always)]
    fn key(&mut self, keys: &[&[u8]], guess: usize) -> Result<usize, Fallback> {
        self.ws();
        let rest = &self.b[self.i..];
        let hit = |k: usize| rest.get(..keys[k].len()).is_some_and(|r| same(r, keys[k]));
        if guess < keys.len() && hit(guess) {
            self.i += keys[guess].len();
            return Ok(guess);
        }
        if let Some(k) = (0..keys.len()).find(|&k| hit(k)) {
            self.i += keys[k].len();
            return Ok(k);
        }
        self.text()?;
        Err(Fallback::UnknownKey)
    }

    /// An object of the quoted `keys`: `field` is called with each key's index,
    /// positioned at its value, and reads it.
    fn object(
        &mut self,
        keys: &[&[u8]],
        mut field: impl FnMut(&mut Self, usize) -> Result<(), Fallback>,
    ) -> Result<(), Fallback> {
        self.eat(b'{')?;
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(());
        }
        let mut guess = 0;
        loop {
            let key = self.key(keys, guess)?;
            guess = key + 1;
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
        self.object(&RECORD_KEYS, |s, key| {
            once(&mut seen, key as u8)?;
            match key {
                0 => s.opt_text(Repeats::AwsRegion),
                // Unique to each record.
                1 => {
                    if !s.null()? {
                        s.text()?;
                    }
                    Ok(())
                }
                2 => s.opt_text(Repeats::EventName),
                3 => s.opt_text(Repeats::EventSource),
                4 => s.opt_text(Repeats::EventSourceArn),
                5 => s.opt_text(Repeats::EventVersion),
                6 => s.opt_text(Repeats::InvokeIdentityArn),
                _ => {
                    span = Some(s.kinesis(arena)?);
                    Ok(())
                }
            }
        })?;
        span.ok_or(Fallback::Missing)
    }

    /// A record's `kinesis` object.
    fn kinesis(&mut self, arena: &mut Arena) -> Result<Span, Fallback> {
        let mut seen = 0u8;
        let mut seq: Option<Range<usize>> = None;
        let mut data = None;
        self.object(&KINESIS_KEYS, |s, key| {
            once(&mut seen, key as u8)?;
            match key {
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
                3 => s.opt_text(Repeats::KinesisSchemaVersion),
                4 => s.text().map(drop),
                _ => {
                    // Checked by `text`: this cannot fail.
                    let t = std::str::from_utf8(s.text()?).map_err(|_| Fallback::Text)?;
                    let start = arena.seqs.len();
                    arena.seqs.push_str(t);
                    seq = Some(start..arena.seqs.len());
                    Ok(())
                }
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
    /// decimals; its value is not kept, only checked as the serde path checks it.
    ///
    /// serde_json reads such a number exactly: an integer as a `u64` (then `as f64`), a
    /// decimal as its digits (under 2^53, so exact) divided by a power of ten (exact
    /// too): one correctly rounded division either way, whether or not its
    /// `float_roundtrip` feature is on. That is `k / 1000.0` for some `k < 10^15`, below
    /// 1e12: exactly the case `seconds_valid` accepts without formatting (see there), so
    /// the syntax alone says the serde path accepts it and no float is computed here
    /// (`every_plain_timestamp_the_scanner_takes_is_valid_seconds` holds the two to it).
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
        if rest.get(n) == Some(&b'.') {
            let d = digits(&rest[n + 1..]);
            if d == 0 || d > 3 {
                return Err(Fallback::Number);
            }
            n += 1 + d;
        }
        if matches!(rest.get(n), Some(b'e' | b'E' | b'.' | b'0'..=b'9')) {
            return Err(Fallback::Number);
        }
        self.i += n;
        Ok(())
    }
}

/// `a == b` for slices of one length, eight bytes at a time and inlined: the keys and
/// repeated values compared are 4 to 90 bytes, where a call to `memcmp` per compare
/// was 13 % of the scan.
#[inline(always)]
pub(super) fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    let word = |s: &[u8], i: usize| u64::from_le_bytes(s[i..i + 8].try_into().unwrap_or([0; 8]));
    let mut i = 0;
    while i + 8 < n {
        if word(a, i) != word(b, i) {
            return false;
        }
        i += 8;
    }
    // The last eight bytes (overlapping the loop's last word when `n` is not a multiple).
    word(a, n - 8) == word(b, n - 8)
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
