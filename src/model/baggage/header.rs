//! The `baggage` header form: parsing, percent coding and formatting.

use std::fmt;

use super::{Baggage, Member, Property};
use crate::model::{hex_val, trim_ows};

/// RFC 9110 `tchar`, the characters of a `token` (baggage keys).
#[inline]
fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.'
        | b'^' | b'_' | b'`' | b'|' | b'~'
        | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// Whether `key` is a non-empty `token`.
pub(super) fn is_valid_key(key: &[u8]) -> bool {
    !key.is_empty() && key.iter().all(|&b| is_tchar(b))
}

/// `baggage-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E`: printable
/// ASCII except space, `"`, `,`, `;` and `\`.
#[inline]
fn is_baggage_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

/// Whether a raw (still encoded) value uses only `baggage-octet`s.
fn is_valid_raw_value(value: &[u8]) -> bool {
    value.iter().all(|&b| is_baggage_octet(b))
}

/// Decodes `%XX` sequences (either case of hex). A `%` not followed by two
/// hex digits is kept as it is. Byte sequences that are not UTF-8 become
/// U+FFFD, as the specification requires.
pub(super) fn percent_decode(raw: &[u8]) -> String {
    if !raw.contains(&b'%') {
        // Only baggage-octets (ASCII) reach here, so this is the happy path.
        return String::from_utf8_lossy(raw).into_owned();
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if let (b'%', Some(&h), Some(&l)) = (b, raw.get(i + 1), raw.get(i + 2)) {
            if let (Some(hi), Some(lo)) = (hex_val_any(h), hex_val_any(l)) {
                out.push((hi << 4) | lo);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

#[inline]
fn hex_val_any(b: u8) -> Option<u8> {
    hex_val(b.to_ascii_lowercase())
}

/// Whether a decoded byte can be written without percent-encoding. `%` (the
/// escape character) and `+` (which form decoders turn into a space) are
/// always encoded.
#[inline]
fn is_unreserved(b: u8) -> bool {
    is_baggage_octet(b) && b != b'%' && b != b'+'
}

/// The length of `value` once percent-encoded.
fn encoded_len(value: &str) -> usize {
    value
        .bytes()
        .map(|b| if is_unreserved(b) { 1 } else { 3 })
        .sum()
}

fn write_encoded(out: &mut impl fmt::Write, value: &str) -> fmt::Result {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = value.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !is_unreserved(b) {
            // The run before `i` is ASCII, so both ends are char boundaries
            // whenever it is non-empty (`start` may sit inside a multi-byte
            // character only while the run is empty).
            if start < i {
                out.write_str(&value[start..i])?;
            }
            out.write_char('%')?;
            out.write_char(char::from(HEX[usize::from(b >> 4)]))?;
            out.write_char(char::from(HEX[usize::from(b & 0xf)]))?;
            start = i + 1;
        }
    }
    if start < bytes.len() {
        out.write_str(&value[start..])?;
    }
    Ok(())
}

/// The length of a member in header form.
pub(super) fn member_len(m: &Member) -> usize {
    if let Some(raw) = &m.raw {
        return raw.len();
    }
    canonical_len(m)
}

/// The length of a member in ctx's encoding.
fn canonical_len(m: &Member) -> usize {
    let mut len = m.key.len() + 1 + encoded_len(&m.value);
    for p in &m.properties {
        len += 1 + p.key.len();
        if let Some(v) = &p.value {
            len += 1 + encoded_len(v);
        }
    }
    len
}

pub(super) fn write_member(out: &mut impl fmt::Write, m: &Member) -> fmt::Result {
    match &m.raw {
        Some(raw) => out.write_str(raw),
        None => write_canonical(out, m),
    }
}

/// Writes a member in ctx's encoding.
fn write_canonical(out: &mut impl fmt::Write, m: &Member) -> fmt::Result {
    out.write_str(&m.key)?;
    out.write_char('=')?;
    write_encoded(out, &m.value)?;
    for p in &m.properties {
        out.write_char(';')?;
        out.write_str(&p.key)?;
        if let Some(v) = &p.value {
            out.write_char('=')?;
            write_encoded(out, v)?;
        }
    }
    Ok(())
}

/// Writes the header form, leaving out members that break the limits: a
/// member longer than [`Baggage::MAX_MEMBER_LEN`], members past
/// [`Baggage::MAX_MEMBERS`], and members that would take the header past
/// [`Baggage::MAX_HEADER_LEN`].
pub(super) fn write_header(out: &mut impl fmt::Write, baggage: &Baggage) -> fmt::Result {
    let mut total = 0;
    let mut count = 0;
    for m in baggage.iter() {
        if count == Baggage::MAX_MEMBERS {
            break;
        }
        let len = member_len(m);
        let sep = usize::from(count > 0);
        if len > Baggage::MAX_MEMBER_LEN || total + sep + len > Baggage::MAX_HEADER_LEN {
            continue;
        }
        if sep == 1 {
            out.write_char(',')?;
        }
        write_member(out, m)?;
        total += sep + len;
        count += 1;
    }
    Ok(())
}

/// Parses one list member (already trimmed, non-empty). `None` when it
/// breaks the grammar.
fn parse_member(member: &[u8]) -> Option<Member> {
    let mut parts = member.split(|&b| b == b';');
    let kv = parts.next()?;
    let eq = kv.iter().position(|&b| b == b'=')?;
    let key = trim_ows(&kv[..eq]);
    let raw_value = trim_ows(&kv[eq + 1..]);
    if !is_valid_key(key) || !is_valid_raw_value(raw_value) {
        return None;
    }
    let mut properties = Vec::new();
    let mut raw_props: Vec<&[u8]> = Vec::new();
    for raw in parts {
        let prop = trim_ows(raw);
        if prop.is_empty() {
            // Lenient: a stray `;` (as in `k=v;`) is skipped rather than
            // dropping the member.
            continue;
        }
        properties.push(parse_property(prop)?);
        raw_props.push(prop);
    }
    let mut m = Member {
        key: ascii(key)?,
        value: percent_decode(raw_value),
        properties,
        raw: None,
    };
    if !is_canonical(&m, raw_value, &raw_props) {
        m.raw = Some(raw_form(key, raw_value, &raw_props));
    }
    Some(m)
}

/// Whether ctx's encoding of `m` writes exactly the member as it arrived,
/// whitespace around its parts aside (keys are tokens, so only the values
/// can differ).
fn is_canonical(m: &Member, raw_value: &[u8], raw_props: &[&[u8]]) -> bool {
    if !is_written_as(&m.value, raw_value) {
        return false;
    }
    m.properties.iter().zip(raw_props).all(|(p, raw)| {
        let eq = raw.iter().position(|&b| b == b'=');
        match (&p.value, eq) {
            (None, None) => true,
            (Some(v), Some(eq)) => is_written_as(v, trim_ows(&raw[eq + 1..])),
            _ => false,
        }
    })
}

/// Whether `value` is encoded as exactly `raw`, without allocating.
fn is_written_as(value: &str, raw: &[u8]) -> bool {
    struct Compare<'a> {
        rest: &'a [u8],
        same: bool,
    }
    impl fmt::Write for Compare<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            match self.rest.strip_prefix(s.as_bytes()) {
                Some(rest) if self.same => self.rest = rest,
                _ => self.same = false,
            }
            Ok(())
        }
    }
    if encoded_len(value) != raw.len() {
        return false;
    }
    let mut cmp = Compare {
        rest: raw,
        same: true,
    };
    let _ = write_encoded(&mut cmp, value);
    cmp.same && cmp.rest.is_empty()
}

/// The member's header form from its parts as they arrived, without the
/// whitespace around them. Every part is visible ASCII (a token or
/// `baggage-octet`s).
fn raw_form(key: &[u8], raw_value: &[u8], raw_props: &[&[u8]]) -> Box<str> {
    let mut out = Vec::with_capacity(key.len() + 1 + raw_value.len());
    out.extend_from_slice(key);
    out.push(b'=');
    out.extend_from_slice(raw_value);
    for prop in raw_props {
        out.push(b';');
        match prop.iter().position(|&b| b == b'=') {
            Some(eq) => {
                out.extend_from_slice(trim_ows(&prop[..eq]));
                out.push(b'=');
                out.extend_from_slice(trim_ows(&prop[eq + 1..]));
            }
            None => out.extend_from_slice(prop),
        }
    }
    // Only ASCII went in.
    String::from_utf8_lossy(&out).into()
}

/// `property = key OWS "=" OWS value / key OWS`
fn parse_property(prop: &[u8]) -> Option<Property> {
    match prop.iter().position(|&b| b == b'=') {
        Some(eq) => {
            let key = trim_ows(&prop[..eq]);
            let raw_value = trim_ows(&prop[eq + 1..]);
            if !is_valid_key(key) || !is_valid_raw_value(raw_value) {
                return None;
            }
            Some(Property {
                key: ascii(key)?,
                value: Some(percent_decode(raw_value)),
            })
        }
        None => is_valid_key(prop)
            .then(|| ascii(prop))
            .flatten()
            .map(|key| Property { key, value: None }),
    }
}

fn ascii(b: &[u8]) -> Option<String> {
    std::str::from_utf8(b).ok().map(str::to_owned)
}

/// Parses `baggage` header fields, joined in order, into `into`.
///
/// Bad members are dropped one by one; the rest is kept. Limits: a member
/// longer than [`Baggage::MAX_MEMBER_LEN`] bytes is dropped, members after
/// the [`Baggage::MAX_MEMBERS`]th are dropped, and input past the first
/// [`Baggage::MAX_HEADER_LEN`] bytes is not looked at (a member cut by that
/// boundary is dropped). When a key repeats, the later value wins.
pub(super) fn parse_fields(fields: &[&[u8]], into: &mut Baggage) {
    let mut budget = Baggage::MAX_HEADER_LEN;
    let mut count = 0;
    for field in fields {
        let cut = field.len() > budget;
        let visible = if cut { &field[..budget] } else { *field };
        // A cut that falls between two members (only whitespace, then a
        // comma, follows it) leaves the last visible member whole.
        let cut_inside = cut
            && field[budget..]
                .iter()
                .find(|&&b| b != b' ' && b != b'\t')
                .is_some_and(|&b| b != b',');
        let mut pieces = visible.split(|&b| b == b',').peekable();
        while let Some(raw) = pieces.next() {
            if cut_inside && pieces.peek().is_none() {
                // The last piece runs past the budget: it is incomplete.
                break;
            }
            let member = trim_ows(raw);
            if member.is_empty() || member.len() > Baggage::MAX_MEMBER_LEN {
                continue;
            }
            if let Some(m) = parse_member(member) {
                if into.member(&m.key).is_none() {
                    if count == Baggage::MAX_MEMBERS {
                        return;
                    }
                    count += 1;
                }
                into.insert_member(m);
            }
        }
        if cut {
            return;
        }
        // The field and the comma that joins it to the next one.
        budget = budget.saturating_sub(field.len() + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (raw value, decoded, reason)
    const DECODE: &[(&str, &str, &str)] = &[
        ("plain", "plain", "nothing to decode"),
        ("a%20b", "a b", "space"),
        ("%2C%3B%22%5C", ",;\"\\", "delimiters"),
        ("%c3%a9", "\u{e9}", "lowercase hex escapes"),
        ("%C3%A9", "\u{e9}", "uppercase hex escapes"),
        ("%", "%", "lone percent is kept"),
        ("%4", "%4", "truncated escape is kept"),
        ("%zz", "%zz", "non-hex escape is kept"),
        ("100%25", "100%", "escaped percent"),
        ("a+b", "a+b", "plus is not a space in baggage"),
        ("%FF", "\u{fffd}", "invalid UTF-8 becomes U+FFFD"),
        ("%C3", "\u{fffd}", "truncated UTF-8 becomes U+FFFD"),
    ];

    #[test]
    fn decode_vectors() {
        for &(raw, decoded, reason) in DECODE {
            assert_eq!(percent_decode(raw.as_bytes()), decoded, "{reason}");
        }
    }

    /// (decoded, encoded, reason)
    const ENCODE: &[(&str, &str, &str)] = &[
        ("plain", "plain", "nothing to encode"),
        ("a b", "a%20b", "space"),
        (
            "a,b;c\"d\\e",
            "a%2Cb%3Bc%22d%5Ce",
            "delimiters, quote and backslash",
        ),
        ("100%", "100%25", "percent is always encoded"),
        ("a+b", "a%2Bb", "plus is encoded for form decoders"),
        ("\u{e9}", "%C3%A9", "non-ASCII as UTF-8 bytes"),
        ("a=b", "a=b", "'=' is a baggage-octet"),
        ("\t", "%09", "control characters"),
    ];

    #[test]
    fn encode_vectors() {
        for &(decoded, encoded, reason) in ENCODE {
            let mut out = String::new();
            write_encoded(&mut out, decoded).unwrap();
            assert_eq!(out, encoded, "{reason}");
            assert_eq!(encoded_len(decoded), encoded.len(), "{reason}");
            assert_eq!(percent_decode(encoded.as_bytes()), decoded, "{reason}");
        }
    }
}
