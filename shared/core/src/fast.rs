//! The fast path of decoding: a flat sample object, tokenized by hand.
//!
//! Almost every line a replay or a Lambda reads is a sample: one flat object of numbers,
//! plain strings and `true`/`false`/`null`. For those, a hand-written tokenizer fills the
//! same [`Fields`] as the general path and hands them to the same `validate`, so the
//! rules live in one place. Anything outside that subset — an escape in a string, a
//! nested value, an event, a number that is not JSON or not finite, a type that does not
//! fit its field, bytes after the object — makes the fast path give up (`None`), and the
//! general `serde_json` path decides, with the reason it names. So the fast path can
//! only accept what the general path accepts, and reject nothing.
//!
//! Why: decoding is three quarters of a replay's work, and the general path converts
//! every number through serde's visitor machinery; this path is about twice as fast.

use crate::contract::CarId;
use crate::decode::{Fields, Key};

/// Tokenizes a flat sample object into `raw` (which starts empty), or gives up
/// (`None`; `raw` is then left half filled, to be dropped).
///
/// Why into a record the caller holds, and inlined into `decode_line`: returned as an
/// `Option`, the record (448 bytes then, mostly the event-only fields; the sample's
/// [`Fields`] alone are 240) was copied twice per line, a `memcpy` at 6.9 % of a
/// replay's profile.
#[inline(always)]
pub(crate) fn scan_flat_into<'a>(line: &'a [u8], raw: &mut Fields<'a>) -> Option<()> {
    let mut p = Scanner { s: line, i: 0 };
    p.ws();
    p.eat(b'{')?;
    p.ws();
    if p.peek()? == b'}' {
        p.i += 1;
    } else {
        // Where the next guess of the key order starts.
        let mut guess = 0;
        loop {
            let key = match p.expected_key(&mut guess) {
                Some(k) => k,
                None => {
                    let key = p.raw_string()?;
                    p.ws();
                    p.eat(b':')?;
                    sample_key(key)?
                }
            };
            p.ws();
            // The value: `null` is absent (checked once here, not by a closure per
            // field). The numbers of a kind go through one parser (`int_at`,
            // `float_at`), then into their field.
            let null = p.null();
            match key {
                Key::Lap | Key::Ts | Key::Gear | Key::V => {
                    let v = if null { None } else { Some(p.int()?) };
                    match key {
                        Key::Lap => raw.lap = v,
                        Key::Ts => raw.ts = v,
                        Key::Gear => raw.gear = v,
                        _ => raw.v = v.map(u64::try_from).transpose().ok()?,
                    }
                }
                Key::LapFrac | Key::Speed | Key::Rpm | Key::Throttle | Key::Brake | Key::Gap => {
                    let v = if null { None } else { Some(p.float()?) };
                    *match key {
                        Key::LapFrac => &mut raw.lap_frac,
                        Key::Speed => &mut raw.speed_mph,
                        Key::Rpm => &mut raw.rpm,
                        Key::Throttle => &mut raw.throttle_pct,
                        Key::Brake => &mut raw.brake_psi,
                        _ => &mut raw.gap_ahead_s,
                    } = v;
                }
                // The car straight from its bytes to a car number; bytes that are not
                // one go to the general path, which names the problem.
                Key::Car => {
                    raw.car_id = if null {
                        None
                    } else {
                        Some(CarId::from_bytes(p.raw_string()?).ok()?)
                    };
                }
                Key::RaceId | Key::Kind => {
                    let v = if null { None } else { Some(p.string()?) };
                    match key {
                        Key::RaceId => raw.race_id = v.map(Into::into),
                        _ => {
                            if v.is_some_and(|k| k != "sample") {
                                return None;
                            }
                            raw.kind = v.map(Into::into);
                        }
                    }
                }
                Key::InPit => raw.in_pit = if null { None } else { Some(p.boolean()?) },
                Key::Other => {
                    if !null {
                        p.skip_scalar()?;
                    }
                }
                // An event's field: never given by `sample_key`.
                _ => return None,
            }
            p.ws();
            match p.next()? {
                b',' => p.ws(),
                b'}' => break,
                _ => return None,
            }
        }
    }
    p.ws();
    (p.i == p.s.len()).then_some(())
}

/// [`scan_flat_into`] a new record.
#[cfg(test)]
pub(crate) fn scan_flat(line: &[u8]) -> Option<Fields<'_>> {
    let mut raw = Fields::default();
    scan_flat_into(line, &mut raw)?;
    Some(raw)
}

/// The key named by the bytes of a string (without escapes), if a sample line may carry
/// it: `None` for a field of an event (the general path reads those) and for a name that
/// is not UTF-8. One [`Key`] serves both paths: the names live in one match.
fn sample_key(name: &[u8]) -> Option<Key> {
    let key = Key::from_str(std::str::from_utf8(name).ok()?);
    key.on_samples().then_some(key)
}

/// The keys in the order the simulator writes them (a feed with another order only loses
/// the shortcut), each with its quotes and colon: `"name":` at the cursor is that key,
/// exactly as the string scan and [`sample_key`] would find it (the closing
/// quote ends the name, and no escape can hide in it). Why: the profile of a replay put
/// the scan of every key and the match on its bytes at a third of decoding; a line in
/// this order costs one word compare per key instead. Any other order, spacing or key
/// falls back to the scan, with the same result.
const ORDER: [Expected; 14] = [
    Expected::new(b"\"v\":", Key::V),
    Expected::new(b"\"kind\":", Key::Kind),
    Expected::new(b"\"race_id\":", Key::RaceId),
    Expected::new(b"\"car\":", Key::Car),
    Expected::new(b"\"ts\":", Key::Ts),
    Expected::new(b"\"lap\":", Key::Lap),
    Expected::new(b"\"lap_frac\":", Key::LapFrac),
    Expected::new(b"\"speed_mph\":", Key::Speed),
    Expected::new(b"\"rpm\":", Key::Rpm),
    Expected::new(b"\"throttle_pct\":", Key::Throttle),
    Expected::new(b"\"brake_psi\":", Key::Brake),
    Expected::new(b"\"gear\":", Key::Gear),
    Expected::new(b"\"gap_ahead_s\":", Key::Gap),
    Expected::new(b"\"in_pit\":", Key::InPit),
];

/// A key of [`ORDER`] as a little-endian word of up to 16 bytes and the mask of its
/// length, so that the check of the bytes at the cursor is one compare, not a `memcmp`
/// call (which `starts_with` made: 7 % of the ratio bench's profile).
struct Expected {
    word: u128,
    mask: u128,
    len: usize,
    key: Key,
}

impl Expected {
    const fn new(text: &[u8], key: Key) -> Expected {
        assert!(
            !text.is_empty() && text.len() < 16,
            "a key pattern fits a word"
        );
        let mut b = [0u8; 16];
        let mut i = 0;
        while i < text.len() {
            b[i] = text[i];
            i += 1;
        }
        Expected {
            word: u128::from_le_bytes(b),
            mask: (1u128 << (8 * text.len())) - 1,
            len: text.len(),
            key,
        }
    }
}

/// The offset of the first `"`, `\\` or control byte, eight bytes at a time (the
/// classic "has zero byte" bit trick on a word), then byte by byte for the tail.
fn special(s: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut i = 0;
    while i + 8 <= s.len() {
        let w = u64::from_le_bytes(s[i..i + 8].try_into().expect("8 bytes"));
        let quote = w ^ (LO * b'"' as u64);
        let slash = w ^ (LO * b'\\' as u64);
        // A byte below 0x20; bytes >= 0x80 are excluded by `!w`.
        let found = (quote.wrapping_sub(LO) & !quote
            | slash.wrapping_sub(LO) & !slash
            | w.wrapping_sub(LO * 0x20) & !w)
            & HI;
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    s[i..]
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|p| i + p)
}

/// What the scan of a number computed.
#[derive(Clone, Copy)]
enum Exact {
    /// An integer too long to compute exactly: parse the text.
    Int,
    IntVal(i64),
    /// A decimal (before the check for the exact fast path).
    Float,
    FloatVal(f64),
    /// Parse the text.
    None,
}

/// Powers of ten that a double holds exactly.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The digits of `s` from `i`: their value appended to `acc` (wrapping past 19 digits
/// in all: the callers count the digits) and how many there are. (Eight digits at a
/// time by word arithmetic was tried: no gain measurable on the simulator's numbers,
/// which are mostly one to four digits.)
#[inline(always)]
fn digits_at(s: &[u8], mut i: usize, mut acc: u64) -> (u64, usize) {
    let start = i;
    while let Some(&c) = s.get(i) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        acc = acc.wrapping_mul(10).wrapping_add(d as u64);
        i += 1;
    }
    (acc, i - start)
}

/// The integer at `s[i..]` ([`Scanner::int`]) and where it ends; end 0 when there is
/// none (a number is never empty, so 0 is no end).
///
/// Why out of line and a pair: inlined at every field, the number parser made the line
/// scan one large function that kept its state on the stack; out of line, it returns
/// its answer in two registers and the scan stays small. (Measured alone, within the
/// ratio bench's noise: kept for the smaller scan.)
#[inline(never)]
fn int_at(s: &[u8], i: usize) -> (i64, usize) {
    let mut p = Scanner { s, i };
    match p.int_here() {
        Some(v) => (v, p.i),
        None => (0, 0),
    }
}

/// The finite number at `s[i..]` ([`Scanner::float`]) and where it ends; end 0 when
/// there is none (see [`int_at`]).
#[inline(never)]
fn float_at(s: &[u8], i: usize) -> (f64, usize) {
    let mut p = Scanner { s, i };
    match p.float_here() {
        Some(v) => (v, p.i),
        None => (0.0, 0),
    }
}

struct Scanner<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    #[inline(always)]
    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    #[inline(always)]
    fn eat(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }

    /// The key at the cursor, with its colon, when it is one of [`ORDER`] from
    /// `*guess` on (keys a line leaves out are passed over); the guess then moves past
    /// it. `None` leaves the cursor where it was.
    #[inline(always)]
    fn expected_key(&mut self, guess: &mut usize) -> Option<Key> {
        let rest = &self.s[self.i..];
        // The 16 bytes at the cursor; near the end, zero-padded (no pattern has a zero
        // byte, so the padding never matches).
        let head = match rest.first_chunk::<16>() {
            Some(h) => *h,
            None => {
                let mut b = [0u8; 16];
                b[..rest.len()].copy_from_slice(rest);
                b
            }
        };
        let w = u128::from_le_bytes(head);
        // The guess itself first, straight-line: it is the key at the cursor on every
        // line in the simulator's order (the loop over the table from the guess, with
        // its bounds and counter, was 15 % of the line scan's self time).
        let g = *guess;
        if let Some(e) = ORDER.get(g)
            && (w ^ e.word) & e.mask == 0
        {
            self.i += e.len;
            *guess = g + 1;
            return Some(e.key);
        }
        for (j, e) in ORDER.iter().enumerate().skip(g + 1) {
            if (w ^ e.word) & e.mask == 0 {
                self.i += e.len;
                *guess = j + 1;
                return Some(e.key);
            }
        }
        None
    }

    #[inline(always)]
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    /// Whether the value at the cursor is `null`, which it then passes.
    #[inline(always)]
    fn null(&mut self) -> bool {
        let n = self.s[self.i..].starts_with(b"null");
        if n {
            self.i += 4;
        }
        n
    }

    /// The bytes of a string without escapes or control characters (keys are matched
    /// as bytes: no UTF-8 check needed for them).
    #[inline(always)]
    fn raw_string(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.i;
        let end = start + special(&self.s[start..])?;
        if self.s[end] != b'"' {
            return None;
        }
        self.i = end + 1;
        Some(&self.s[start..end])
    }

    /// The bytes of a string that is kept neither as a key we know nor as a value we
    /// read: still, invalid UTF-8 makes the line invalid JSON, which the general path
    /// then says.
    fn checked_string(&mut self) -> Option<&'a [u8]> {
        let bytes = self.raw_string()?;
        (bytes.is_ascii() || std::str::from_utf8(bytes).is_ok()).then_some(bytes)
    }

    /// A string value, borrowed.
    #[inline(always)]
    fn string(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.raw_string()?).ok()
    }

    #[inline(always)]
    fn boolean(&mut self) -> Option<bool> {
        let rest = &self.s[self.i..];
        if rest.starts_with(b"true") {
            self.i += 4;
            Some(true)
        } else if rest.starts_with(b"false") {
            self.i += 5;
            Some(false)
        } else {
            None
        }
    }

    /// A JSON number: its text, and its value when the scan could compute it exactly
    /// (`Exact::IntVal` for an integer of up to 18 digits; `Exact::FloatVal` for a
    /// decimal without exponent whose digits, as an integer, are at most 2^53 and whose
    /// fraction has at most 22 digits: one division of two exact doubles, so correctly
    /// rounded, as Clinger's fast path). Otherwise the text is parsed. A number that is
    /// not JSON (`01`, `1.`, `-`) is `None`.
    #[inline(always)]
    fn number(&mut self) -> Option<(&'a [u8], Exact)> {
        let s = self.s;
        let start = self.i;
        let neg = s.get(start) == Some(&b'-');
        let int_at = start + usize::from(neg);
        let (mant, int_digits) = digits_at(s, int_at, 0);
        // One digit at least, and a leading zero only alone.
        if int_digits == 0 || (s[int_at] == b'0' && int_digits > 1) {
            return None;
        }
        let mut i = int_at + int_digits;
        let mut mant = mant;
        let mut digits = int_digits;
        let mut frac = 0;
        let mut exact = Exact::Int;
        if s.get(i) == Some(&b'.') {
            (mant, frac) = digits_at(s, i + 1, mant);
            if frac == 0 {
                return None;
            }
            i += 1 + frac;
            digits += frac;
            exact = Exact::Float;
        }
        if let Some(b'e' | b'E') = s.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = s.get(i) {
                i += 1;
            }
            let (_, e) = digits_at(s, i, 0);
            if e == 0 {
                return None;
            }
            i += e;
            exact = Exact::None;
        }
        self.i = i;
        let exact = match exact {
            // `-0` is a float to serde_json (and not an integer): the text decides.
            Exact::Int if neg && mant == 0 => Exact::None,
            Exact::Int if digits <= 18 => {
                Exact::IntVal(if neg { -(mant as i64) } else { mant as i64 })
            }
            // At most 19 digits cannot have wrapped; at most 2^53 is an exact double.
            Exact::Float if digits <= 19 && mant <= 1 << 53 && frac <= 22 => {
                let v = mant as f64 / POW10[frac];
                Exact::FloatVal(if neg { -v } else { v })
            }
            Exact::Int => Exact::Int,
            _ => Exact::None,
        };
        Some((&s[start..i], exact))
    }

    /// An integer written without fraction or exponent that fits an i64.
    #[inline(always)]
    fn int(&mut self) -> Option<i64> {
        let (v, end) = int_at(self.s, self.i);
        (end != 0).then(|| {
            self.i = end;
            v
        })
    }

    /// A finite number.
    #[inline(always)]
    fn float(&mut self) -> Option<f64> {
        let (v, end) = float_at(self.s, self.i);
        (end != 0).then(|| {
            self.i = end;
            v
        })
    }

    #[inline(always)]
    fn int_here(&mut self) -> Option<i64> {
        match self.number()? {
            (_, Exact::IntVal(v)) => Some(v),
            (t, Exact::Int) => std::str::from_utf8(t).ok()?.parse().ok(),
            _ => None,
        }
    }

    #[inline(always)]
    fn float_here(&mut self) -> Option<f64> {
        let v = match self.number()? {
            (_, Exact::IntVal(v)) => v as f64,
            (_, Exact::FloatVal(v)) => v,
            (t, _) => std::str::from_utf8(t).ok()?.parse().ok()?,
        };
        v.is_finite().then_some(v)
    }

    /// The value of a field the record does not know: a scalar, or give up.
    fn skip_scalar(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.checked_string().map(|_| ()),
            b't' | b'f' => self.boolean().map(|_| ()),
            _ => self.number().map(|_| ()),
        }
    }
}

#[cfg(test)]
mod tests;
