//! [`TraceId`], [`SpanId`] and the lowercase-hex helpers the wire formats share.

use std::fmt;
use std::num::{NonZeroU128, NonZeroU64};
use std::str::FromStr;

use super::rng;

/// A 16-byte trace id, never all zero.
///
/// Generated ids come from a per-thread generator (see [`TraceId::random`]).
/// The text form is 32 lowercase hex digits, the form W3C Trace Context and
/// B3 use on the wire.
///
/// # Examples
/// ```
/// use ctx::trace::TraceId;
///
/// let id: TraceId = "4bf92f3577b34da6a3ce929d0e0e4736".parse().unwrap();
/// assert_eq!(id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert_eq!(id.to_bytes()[0], 0x4b);
///
/// // Uppercase hex, wrong lengths and the all-zero id are rejected.
/// assert!("4BF92F3577B34DA6A3CE929D0E0E4736".parse::<TraceId>().is_err());
/// assert!("00000000000000000000000000000000".parse::<TraceId>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(NonZeroU128);

/// An 8-byte span id, never all zero.
///
/// The text form is 16 lowercase hex digits.
///
/// # Examples
/// ```
/// use ctx::trace::SpanId;
///
/// let id: SpanId = "00f067aa0ba902b7".parse().unwrap();
/// assert_eq!(id.to_string(), "00f067aa0ba902b7");
/// assert_ne!(SpanId::random(), SpanId::random());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(NonZeroU64);

impl TraceId {
    /// Generates a random trace id.
    ///
    /// All 128 bits come from a fast per-thread generator (wyrand), seeded per
    /// thread from the standard library's randomly keyed
    /// [`RandomState`](std::collections::hash_map::RandomState) mixed with the
    /// thread id, the time and a process-wide counter. It takes no lock and
    /// makes no system call after a thread's first id. The generator is not
    /// cryptographic: ids are unique, not secret. Because every bit is random,
    /// contexts built on these ids set the W3C `random` trace flag.
    pub fn random() -> Self {
        TraceId(rng::non_zero_u128())
    }

    /// Builds a trace id from its big-endian bytes; `None` if all are zero.
    pub const fn from_bytes(bytes: [u8; 16]) -> Option<Self> {
        Self::from_u128(u128::from_be_bytes(bytes))
    }

    /// The big-endian bytes of the id.
    pub const fn to_bytes(self) -> [u8; 16] {
        self.0.get().to_be_bytes()
    }

    /// Builds a trace id from an integer; `None` for zero.
    pub const fn from_u128(value: u128) -> Option<Self> {
        match NonZeroU128::new(value) {
            Some(v) => Some(TraceId(v)),
            None => None,
        }
    }

    /// The id as an integer (big-endian reading of the bytes).
    pub const fn to_u128(self) -> u128 {
        self.0.get()
    }

    /// Parses exactly 32 lowercase hex digits; `None` for anything else or
    /// for the all-zero id. Never panics and never allocates.
    pub fn from_hex(hex: &[u8]) -> Option<Self> {
        if hex.len() != 32 {
            return None;
        }
        decode_hex_u128(hex).and_then(Self::from_u128)
    }

    /// Writes the 32 lowercase hex digits into `buf`.
    pub(crate) fn encode_hex(self, buf: &mut [u8]) {
        encode_hex_u128(self.to_u128(), &mut buf[..32]);
    }
}

impl SpanId {
    /// Generates a random span id, with the generator described at
    /// [`TraceId::random`].
    pub fn random() -> Self {
        SpanId(rng::non_zero_u64())
    }

    /// Builds a span id from its big-endian bytes; `None` if all are zero.
    pub const fn from_bytes(bytes: [u8; 8]) -> Option<Self> {
        Self::from_u64(u64::from_be_bytes(bytes))
    }

    /// The big-endian bytes of the id.
    pub const fn to_bytes(self) -> [u8; 8] {
        self.0.get().to_be_bytes()
    }

    /// Builds a span id from an integer; `None` for zero.
    pub const fn from_u64(value: u64) -> Option<Self> {
        match NonZeroU64::new(value) {
            Some(v) => Some(SpanId(v)),
            None => None,
        }
    }

    /// The id as an integer (big-endian reading of the bytes).
    pub const fn to_u64(self) -> u64 {
        self.0.get()
    }

    /// Parses exactly 16 lowercase hex digits; `None` for anything else or
    /// for the all-zero id. Never panics and never allocates.
    pub fn from_hex(hex: &[u8]) -> Option<Self> {
        if hex.len() != 16 {
            return None;
        }
        decode_hex_u64(hex).and_then(Self::from_u64)
    }

    /// Writes the 16 lowercase hex digits into `buf`.
    pub(crate) fn encode_hex(self, buf: &mut [u8]) {
        encode_hex_u64(self.to_u64(), &mut buf[..16]);
    }
}

/// The error returned when a [`TraceId`] or [`SpanId`] fails to parse.
///
/// Ids parse from exactly 32 (trace) or 16 (span) lowercase hex digits that
/// are not all zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseIdError {
    _priv: (),
}

impl fmt::Display for ParseIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid id: expected lowercase hex of the right length, not all zero")
    }
}

impl std::error::Error for ParseIdError {}

impl FromStr for TraceId {
    type Err = ParseIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_hex(s.as_bytes()).ok_or(ParseIdError { _priv: () })
    }
}

impl FromStr for SpanId {
    type Err = ParseIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_hex(s.as_bytes()).ok_or(ParseIdError { _priv: () })
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 32];
        self.encode_hex(&mut buf);
        f.pad(ascii_str(&buf))
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 16];
        self.encode_hex(&mut buf);
        f.pad(ascii_str(&buf))
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({self})")
    }
}

impl From<TraceId> for [u8; 16] {
    fn from(id: TraceId) -> Self {
        id.to_bytes()
    }
}

impl From<SpanId> for [u8; 8] {
    fn from(id: SpanId) -> Self {
        id.to_bytes()
    }
}

// ---- lowercase hex, shared by the wire formats ----

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// The value of one lowercase hex digit, or `None` (uppercase is rejected:
/// every format ctx speaks requires lowercase).
#[inline]
pub(crate) const fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// Decodes up to 32 lowercase hex digits into an integer.
#[inline]
pub(crate) fn decode_hex_u128(hex: &[u8]) -> Option<u128> {
    debug_assert!(hex.len() <= 32);
    if let Ok(hex) = <&[u8; 32]>::try_from(hex) {
        let (hi, lo) = hex.split_at(16);
        return Some((u128::from(decode_hex_u64(hi)?) << 64) | u128::from(decode_hex_u64(lo)?));
    }
    let mut v: u128 = 0;
    for &b in hex {
        v = (v << 4) | u128::from(hex_val(b)?);
    }
    Some(v)
}

/// Decodes up to 16 lowercase hex digits into an integer.
#[inline]
pub(crate) fn decode_hex_u64(hex: &[u8]) -> Option<u64> {
    debug_assert!(hex.len() <= 16);
    if let Ok(hex) = <[u8; 16]>::try_from(hex) {
        let [a, b, c, d, e, f, g, h, rest @ ..] = hex;
        let hi = unhex8([a, b, c, d, e, f, g, h])?;
        let lo = unhex8(rest)?;
        return Some((u64::from(hi) << 32) | u64::from(lo));
    }
    let mut v: u64 = 0;
    for &b in hex {
        v = (v << 4) | u64::from(hex_val(b)?);
    }
    Some(v)
}

/// Decodes 8 lowercase hex digits a word at a time; `None` if any byte is
/// not one. (Ids are parsed on every request; a loop with a branch per digit
/// costs several times more.)
#[inline]
fn unhex8(digits: [u8; 8]) -> Option<u32> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let x = u64::from_be_bytes(digits);
    if x & HIGH != 0 {
        return None;
    }
    // For ASCII bytes, the high bit of byte `(b | 0x80) - c` is set exactly
    // when `b >= c`, and no byte borrows from its neighbour.
    let at_least = |c: u8| ((x | HIGH) - ONES * u64::from(c)) & HIGH;
    let digit = at_least(b'0') & !at_least(b'9' + 1);
    let letter = at_least(b'a') & !at_least(b'f' + 1);
    if digit | letter != HIGH {
        return None;
    }
    // Each byte's value: its low nibble, plus 9 for 'a'..='f'.
    let n = (x & 0x0f0f_0f0f_0f0f_0f0f) + (letter >> 7) * 9;
    // Pack the eight nibbles, most significant first.
    let n = (n | (n >> 4)) & 0x00ff_00ff_00ff_00ff;
    let n = (n | (n >> 8)) & 0x0000_ffff_0000_ffff;
    let n = (n | (n >> 16)) & 0xffff_ffff;
    Some(n as u32)
}

/// Decodes exactly two lowercase hex digits.
#[inline]
pub(crate) fn decode_hex_u8(hex: &[u8]) -> Option<u8> {
    match hex {
        [hi, lo] => Some((hex_val(*hi)? << 4) | hex_val(*lo)?),
        _ => None,
    }
}

/// The 8 lowercase hex digits of `v`, most significant first, computed a
/// word at a time: each nibble is spread into a byte of its own, then turned
/// into its ASCII digit without a table lookup or a branch per digit.
#[inline]
fn hex8(v: u32) -> [u8; 8] {
    let x = u64::from(v);
    let x = ((x & 0xffff_0000) << 16) | (x & 0xffff);
    let x = ((x & 0x0000_ff00_0000_ff00) << 8) | (x & 0x0000_00ff_0000_00ff);
    let x = ((x & 0x00f0_00f0_00f0_00f0) << 4) | (x & 0x000f_000f_000f_000f);
    // 1 in each byte whose nibble is 10 or more.
    let letters = ((x + 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101;
    // '0' + n for digits, 'a' + (n - 10) = '0' + n + 39 for letters.
    (x + 0x3030_3030_3030_3030 + letters * 39).to_be_bytes()
}

/// Writes the 32 lowercase hex digits of `v` into `out` (32 bytes).
#[inline]
fn encode_hex_u128(v: u128, out: &mut [u8]) {
    encode_hex_u64((v >> 64) as u64, &mut out[..16]);
    encode_hex_u64(v as u64, &mut out[16..32]);
}

/// Writes the 16 lowercase hex digits of `v` into `out` (16 bytes).
#[inline]
fn encode_hex_u64(v: u64, out: &mut [u8]) {
    out[..8].copy_from_slice(&hex8((v >> 32) as u32));
    out[8..16].copy_from_slice(&hex8(v as u32));
}

/// Writes two lowercase hex digits.
#[inline]
pub(crate) fn encode_hex_u8(v: u8, out: &mut [u8]) {
    out[0] = HEX_DIGITS[usize::from(v >> 4)];
    out[1] = HEX_DIGITS[usize::from(v & 0xf)];
}

/// Views a buffer that only ever holds ASCII as `&str`.
#[inline]
pub(crate) fn ascii_str(buf: &[u8]) -> &str {
    // The buffers passed here are filled from HEX_DIGITS and ASCII
    // punctuation only, so this never fails; an empty string is a safe
    // fallback that keeps the code free of panics and `unsafe`.
    std::str::from_utf8(buf).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unhex8_accepts_exactly_lowercase_hex() {
        // Every byte value in every position, against the digit-by-digit
        // decoder.
        for pos in 0..8 {
            for byte in 0..=255u8 {
                let mut digits = *b"0a1b2c3d";
                digits[pos] = byte;
                let expected = digits
                    .iter()
                    .try_fold(0u32, |v, &b| Some((v << 4) | u32::from(hex_val(b)?)));
                assert_eq!(unhex8(digits), expected, "byte {byte:#x} at {pos}");
            }
        }
        for v in [0u32, 1, 0xdead_beef, 0x0123_4567, 0x89ab_cdef, u32::MAX] {
            assert_eq!(unhex8(hex8(v)), Some(v));
        }
    }

    #[test]
    fn hex8_matches_the_formatter() {
        let samples = [
            0u32,
            1,
            9,
            10,
            15,
            16,
            0x0123_4567,
            0x89ab_cdef,
            0xa0b0_c0d0,
            u32::MAX,
        ];
        let more = (0..4096u32).map(|i| i.wrapping_mul(0x9e37_79b9) ^ (i << 3));
        for v in samples.into_iter().chain(more) {
            assert_eq!(ascii_str(&hex8(v)), format!("{v:08x}"), "{v:#x}");
        }
    }

    #[test]
    fn ids_encode_as_lowercase_hex() {
        for v in [
            1u128,
            0xf,
            u128::MAX,
            0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736,
        ] {
            let mut buf = [0u8; 32];
            encode_hex_u128(v, &mut buf);
            assert_eq!(ascii_str(&buf), format!("{v:032x}"));
            let mut buf = [0u8; 16];
            encode_hex_u64(v as u64, &mut buf);
            assert_eq!(ascii_str(&buf), format!("{:016x}", v as u64));
        }
    }

    /// (input, expected, reason)
    const TRACE_ID_VECTORS: &[(&str, Option<u128>, &str)] = &[
        (
            "4bf92f3577b34da6a3ce929d0e0e4736",
            Some(0x4bf92f3577b34da6a3ce929d0e0e4736),
            "spec example",
        ),
        (
            "00000000000000000000000000000001",
            Some(1),
            "leading zeros are fine",
        ),
        (
            "ffffffffffffffffffffffffffffffff",
            Some(u128::MAX),
            "all ones",
        ),
        (
            "00000000000000000000000000000000",
            None,
            "all zero is invalid",
        ),
        (
            "4BF92F3577B34DA6A3CE929D0E0E4736",
            None,
            "uppercase hex is invalid",
        ),
        ("4bf92f3577b34da6a3ce929d0e0e473", None, "31 digits"),
        ("4bf92f3577b34da6a3ce929d0e0e47366", None, "33 digits"),
        ("4bf92f3577b34da6a3ce929d0e0e473g", None, "non-hex digit"),
        (
            " bf92f3577b34da6a3ce929d0e0e4736",
            None,
            "space is not a digit",
        ),
        ("", None, "empty"),
        (
            "+bf92f3577b34da6a3ce929d0e0e4736",
            None,
            "sign is not a digit",
        ),
    ];

    /// (input, expected, reason)
    const SPAN_ID_VECTORS: &[(&str, Option<u64>, &str)] = &[
        ("00f067aa0ba902b7", Some(0x00f067aa0ba902b7), "spec example"),
        ("0000000000000000", None, "all zero is invalid"),
        ("00F067AA0BA902B7", None, "uppercase hex is invalid"),
        ("00f067aa0ba902b", None, "15 digits"),
        ("00f067aa0ba902b77", None, "17 digits"),
        ("00f067aa0ba9-2b7", None, "dash inside"),
        ("", None, "empty"),
    ];

    #[test]
    fn trace_id_vectors() {
        for &(input, expected, reason) in TRACE_ID_VECTORS {
            let got = input.parse::<TraceId>().ok().map(TraceId::to_u128);
            assert_eq!(got, expected, "{reason}: {input:?}");
            if let Some(v) = expected {
                assert_eq!(
                    TraceId::from_u128(v).unwrap().to_string(),
                    input,
                    "{reason}"
                );
            }
        }
    }

    #[test]
    fn span_id_vectors() {
        for &(input, expected, reason) in SPAN_ID_VECTORS {
            let got = input.parse::<SpanId>().ok().map(SpanId::to_u64);
            assert_eq!(got, expected, "{reason}: {input:?}");
            if let Some(v) = expected {
                assert_eq!(SpanId::from_u64(v).unwrap().to_string(), input, "{reason}");
            }
        }
    }

    #[test]
    fn bytes_are_big_endian() {
        let id =
            TraceId::from_bytes([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]).unwrap();
        assert_eq!(id.to_string(), "000102030405060708090a0b0c0d0e0f");
        assert_eq!(TraceId::from_bytes([0; 16]), None);
        let span = SpanId::from_bytes([0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1]).unwrap();
        assert_eq!(span.to_string(), "deadbeef00000001");
        assert_eq!(<[u8; 8]>::from(span), [0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1]);
        assert_eq!(SpanId::from_bytes([0; 8]), None);
    }

    #[test]
    fn debug_and_padding() {
        let id: SpanId = "00f067aa0ba902b7".parse().unwrap();
        assert_eq!(format!("{id:?}"), "SpanId(00f067aa0ba902b7)");
        assert_eq!(format!("{id:>18}"), "  00f067aa0ba902b7");
        let t: TraceId = "4bf92f3577b34da6a3ce929d0e0e4736".parse().unwrap();
        assert_eq!(
            format!("{t:?}"),
            "TraceId(4bf92f3577b34da6a3ce929d0e0e4736)"
        );
    }

    #[test]
    fn random_ids_are_distinct_and_non_zero() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            assert!(seen.insert(TraceId::random()));
        }
        assert_ne!(SpanId::random(), SpanId::random());
    }

    #[test]
    fn parse_error_display() {
        let err = "x".parse::<TraceId>().unwrap_err();
        assert!(err.to_string().starts_with("invalid id"));
    }
}
