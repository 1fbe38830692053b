//! [`TraceState`]: the vendor-specific `tracestate` list of W3C Trace Context.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// The `tracestate` of W3C Trace Context: an ordered list of up to 32
/// `key=value` members, most recently updated first.
///
/// Keys follow the current W3C grammar: 1 to 256 characters, starting with a
/// lowercase letter or a digit, then lowercase letters, digits, `_`, `-`,
/// `*`, `/` and `@` (which covers multi-tenant keys such as
/// `tenant@vendor`). Values are 1 to 256 printable ASCII characters other
/// than `,` and `=`, not ending with a space.
///
/// The list is stored in its header form in one shared string, so cloning a
/// `TraceState` (and so a [`TraceContext`](super::TraceContext)) costs one
/// reference count, the empty state allocates nothing, and formatting it is a
/// copy. [`insert`](TraceState::insert) and [`remove`](TraceState::remove)
/// build a new list.
///
/// # Examples
/// ```
/// use ctx::trace::TraceState;
///
/// let mut state: TraceState = "rojo=00f067aa0ba902b7, congo=t61rcWkgMzE".parse().unwrap();
/// assert_eq!(state.get("congo"), Some("t61rcWkgMzE"));
///
/// // Updating a key moves it to the front, as the specification requires.
/// state.insert("congo", "ucfJifl5GOE").unwrap();
/// assert_eq!(state.to_string(), "congo=ucfJifl5GOE,rojo=00f067aa0ba902b7");
///
/// // Multi-tenant keys.
/// state.insert("tenant@vendor", "x").unwrap();
/// assert_eq!(state.get("tenant@vendor"), Some("x"));
///
/// // Bad keys and values are refused.
/// assert!(state.insert("Upper", "x").is_err());
/// assert!(state.insert("k", "a,b").is_err());
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct TraceState {
    // Canonical header form ("k=v,k=v"), `None` when empty. Every member is
    // valid and every key is unique: the constructors guarantee it.
    header: Option<Arc<str>>,
}

/// The error returned for a `tracestate` key, value or list that breaks the
/// W3C grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidTraceState {
    _priv: (),
}

impl fmt::Display for InvalidTraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid tracestate")
    }
}

impl std::error::Error for InvalidTraceState {}

const INVALID: InvalidTraceState = InvalidTraceState { _priv: () };

impl TraceState {
    /// At most 32 list members (W3C).
    pub const MAX_MEMBERS: usize = 32;
    /// At most 256 characters in a key (W3C).
    pub const MAX_KEY_LEN: usize = 256;
    /// At most 256 characters in a value (W3C).
    pub const MAX_VALUE_LEN: usize = 256;
    /// The longest `tracestate` input ctx parses, in bytes, counting all
    /// header fields joined with commas.
    ///
    /// The specification asks vendors to propagate at least 512 characters
    /// and lets them document a maximum. ctx accepts 16 times that (the
    /// grammar allows 32 members of 513 bytes, about 16 KiB; real lists are a
    /// few hundred bytes). Longer input is dropped whole before any parsing,
    /// which bounds the work one request can cause; [`insert`](Self::insert)
    /// keeps the lists ctx builds within it, so that they survive a round
    /// trip.
    pub const MAX_HEADER_LEN: usize = 8192;

    /// An empty list. Does not allocate.
    pub const fn new() -> Self {
        TraceState { header: None }
    }

    /// Whether the list has no member.
    pub fn is_empty(&self) -> bool {
        self.header.is_none()
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// The value for `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The members in order, most recent first, as `(key, value)`.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            rest: self.header.as_deref().unwrap_or(""),
        }
    }

    /// The header form: members joined by `,` with no whitespace; empty when
    /// the list is empty.
    pub fn header(&self) -> &str {
        self.header.as_deref().unwrap_or("")
    }

    /// Sets `key` to `value` and moves the member to the front of the list,
    /// as the specification requires for a new or updated member. When the
    /// list would exceed 32 members or [`MAX_HEADER_LEN`](Self::MAX_HEADER_LEN)
    /// bytes, members are removed from the right, as the specification
    /// suggests.
    ///
    /// # Errors
    /// Returns [`InvalidTraceState`], leaving the list unchanged, when the key
    /// or the value breaks the W3C grammar.
    pub fn insert(&mut self, key: &str, value: &str) -> Result<(), InvalidTraceState> {
        if !is_valid_key(key.as_bytes()) || !is_valid_value(value.as_bytes()) {
            return Err(INVALID);
        }
        let mut out = String::with_capacity(key.len() + 1 + value.len() + 1 + self.header().len());
        out.push_str(key);
        out.push('=');
        out.push_str(value);
        let mut count = 1;
        for (k, v) in self.iter() {
            if k == key {
                continue;
            }
            if count == Self::MAX_MEMBERS
                || out.len() + k.len() + v.len() + 2 > Self::MAX_HEADER_LEN
            {
                break;
            }
            push_member(&mut out, k, v);
            count += 1;
        }
        self.header = Some(Arc::from(out));
        Ok(())
    }

    /// Removes `key`; returns whether it was present.
    pub fn remove(&mut self, key: &str) -> bool {
        if self.get(key).is_none() {
            return false;
        }
        let mut out = String::with_capacity(self.header().len());
        for (k, v) in self.iter().filter(|(k, _)| *k != key) {
            push_member(&mut out, k, v);
        }
        self.header = if out.is_empty() {
            None
        } else {
            Some(Arc::from(out))
        };
        true
    }

    /// Parses one `tracestate` header value.
    ///
    /// Returns `None` when the value must be dropped: an invalid member, more
    /// than 32 members, or more than [`MAX_HEADER_LEN`](Self::MAX_HEADER_LEN)
    /// bytes. Spaces and tabs around members are trimmed and empty members
    /// are skipped. When a key repeats, the first (left-most, most recent)
    /// member is kept, as the specification allows. An empty value is a
    /// valid, empty list.
    ///
    /// # Examples
    /// ```
    /// use ctx::trace::TraceState;
    ///
    /// let s = TraceState::parse(b" a=1 ,, b=2\t").unwrap();
    /// assert_eq!(s.header(), "a=1,b=2");
    /// assert!(TraceState::parse(b"a=1,B=2").is_none());
    /// ```
    pub fn parse(value: &[u8]) -> Option<TraceState> {
        parse_fields(&[value])
    }

    /// Parses several `tracestate` header fields, joined in order as
    /// RFC 9110 combines repeated fields. The rules of
    /// [`parse`](Self::parse) apply to the combined list.
    ///
    /// # Examples
    /// ```
    /// use ctx::trace::TraceState;
    ///
    /// let s = TraceState::parse_fields(&[b"a=1", b"b=2"]).unwrap();
    /// assert_eq!(s.to_string(), "a=1,b=2");
    /// ```
    pub fn parse_fields(fields: &[&[u8]]) -> Option<TraceState> {
        parse_fields(fields)
    }
}

fn push_member(out: &mut String, k: &str, v: &str) {
    if !out.is_empty() {
        out.push(',');
    }
    out.push_str(k);
    out.push('=');
    out.push_str(v);
}

/// Spaces and horizontal tabs (`OWS`).
#[inline]
pub(crate) fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

#[inline]
fn is_key_char(b: u8) -> bool {
    matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'*' | b'/' | b'@')
}

/// `key = ( lcalpha / DIGIT ) 0*255 ( keychar )`
fn is_valid_key(key: &[u8]) -> bool {
    match key {
        [first, rest @ ..] => {
            key.len() <= TraceState::MAX_KEY_LEN
                && matches!(first, b'a'..=b'z' | b'0'..=b'9')
                && rest.iter().all(|&b| is_key_char(b))
        }
        [] => false,
    }
}

/// `value = 0*255(chr) nblk-chr`, `chr = %x20 / nblk-chr`,
/// `nblk-chr = %x21-2B / %x2D-3C / %x3E-7E`
fn is_valid_value(value: &[u8]) -> bool {
    match value {
        [.., last] => {
            value.len() <= TraceState::MAX_VALUE_LEN
                && *last != b' '
                && value
                    .iter()
                    .all(|&b| matches!(b, 0x20..=0x7e) && b != b',' && b != b'=')
        }
        [] => false,
    }
}

/// Splits and validates one trimmed, non-empty list member.
fn parse_member(member: &[u8]) -> Option<(&[u8], &[u8])> {
    let eq = member.iter().position(|&b| b == b'=')?;
    let (key, value) = (&member[..eq], &member[eq + 1..]);
    (is_valid_key(key) && is_valid_value(value)).then_some((key, value))
}

fn parse_fields(fields: &[&[u8]]) -> Option<TraceState> {
    let total: usize =
        fields.iter().map(|f| f.len()).sum::<usize>() + fields.len().saturating_sub(1);
    if total > TraceState::MAX_HEADER_LEN {
        return None;
    }
    let mut kept: [(&[u8], &[u8]); TraceState::MAX_MEMBERS] = [(&[], &[]); TraceState::MAX_MEMBERS];
    let mut n_kept = 0;
    let mut n_members = 0;
    // Whether the single field is already in canonical form, so it can be
    // stored as it is.
    let mut verbatim = fields.len() == 1;
    for field in fields {
        for raw in field.split(|&b| b == b',') {
            let member = trim_ows(raw);
            if member.len() != raw.len() || member.is_empty() {
                verbatim = false;
            }
            if member.is_empty() {
                continue;
            }
            n_members += 1;
            if n_members > TraceState::MAX_MEMBERS {
                return None;
            }
            let (key, value) = parse_member(member)?;
            if kept[..n_kept].iter().any(|(k, _)| *k == key) {
                verbatim = false;
                continue;
            }
            kept[n_kept] = (key, value);
            n_kept += 1;
        }
    }
    if n_kept == 0 {
        return Some(TraceState::new());
    }
    // Every byte was checked to be printable ASCII, so these conversions
    // cannot fail; `?` keeps the code free of panics regardless.
    let header: Arc<str> = if verbatim {
        Arc::from(std::str::from_utf8(fields[0]).ok()?)
    } else {
        let len = kept[..n_kept]
            .iter()
            .map(|(k, v)| k.len() + v.len() + 2)
            .sum();
        let mut out = String::with_capacity(len);
        for (k, v) in &kept[..n_kept] {
            push_member(
                &mut out,
                std::str::from_utf8(k).ok()?,
                std::str::from_utf8(v).ok()?,
            );
        }
        Arc::from(out)
    };
    Some(TraceState {
        header: Some(header),
    })
}

impl FromStr for TraceState {
    type Err = InvalidTraceState;

    /// Parses one header value with [`TraceState::parse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TraceState::parse(s.as_bytes()).ok_or(INVALID)
    }
}

/// The header form, as [`TraceState::header`].
impl fmt::Display for TraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.header())
    }
}

impl fmt::Debug for TraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Iterator over the members of a [`TraceState`], from [`TraceState::iter`].
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let (member, rest) = self.rest.split_once(',').unwrap_or((self.rest, ""));
        self.rest = rest;
        // Members are valid by construction: they always contain `=`.
        member.split_once('=')
    }
}

impl<'a> IntoIterator for &'a TraceState {
    type Item = (&'a str, &'a str);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (header fields, expected header form or None when dropped, reason)
    const VECTORS: &[(&[&str], Option<&str>, &str)] = &[
        (
            &["rojo=00f067aa0ba902b7"],
            Some("rojo=00f067aa0ba902b7"),
            "single member",
        ),
        (
            &["rojo=1,congo=2"],
            Some("rojo=1,congo=2"),
            "two members keep their order",
        ),
        (&[""], Some(""), "empty header is a valid empty list"),
        (
            &[" \t "],
            Some(""),
            "whitespace-only header is a valid empty list",
        ),
        (&[",,,"], Some(""), "only empty members"),
        (
            &["foo=1 \t , \t bar=2, \t baz=3"],
            Some("foo=1,bar=2,baz=3"),
            "OWS around members is trimmed",
        ),
        (
            &["foo=1\t \t,\t \tbar=2,\t \tbaz=3"],
            Some("foo=1,bar=2,baz=3"),
            "tabs and spaces mixed",
        ),
        (&[" foo=1"], Some("foo=1"), "leading space"),
        (&["foo=1\t"], Some("foo=1"), "trailing tab"),
        (
            &["a=1,,b=2"],
            Some("a=1,b=2"),
            "empty member in the middle is skipped",
        ),
        (
            &["a=1", "b=2"],
            Some("a=1,b=2"),
            "several fields are joined in order",
        ),
        (
            &["a=1", "", "b=2"],
            Some("a=1,b=2"),
            "empty field among several",
        ),
        (
            &["foo= 1"],
            Some("foo= 1"),
            "leading space of a value is part of the value",
        ),
        (
            &["foo@=1,bar=2"],
            Some("foo@=1,bar=2"),
            "'@' at the end of a key is allowed by the current grammar",
        ),
        (
            &["foo@@bar=1"],
            Some("foo@@bar=1"),
            "several '@' are allowed by the current grammar",
        ),
        (
            &["tenant@vendor=1"],
            Some("tenant@vendor=1"),
            "multi-tenant key",
        ),
        (
            &["1tenant@v=1"],
            Some("1tenant@v=1"),
            "key may start with a digit",
        ),
        (&["0=1"], Some("0=1"), "single-digit key"),
        (
            &["a-b_c*d/e=1"],
            Some("a-b_c*d/e=1"),
            "every key punctuation",
        ),
        (
            &["foo=1,foo=2"],
            Some("foo=1"),
            "duplicate key: the first (most recent) is kept",
        ),
        (
            &["foo=1", "foo=1"],
            Some("foo=1"),
            "duplicate key across fields",
        ),
        (
            &["@foo=1,bar=2"],
            None,
            "key starting with '@' drops the whole list",
        ),
        (&["_foo=1"], None, "key starting with '_'"),
        (&["FOO=1"], None, "uppercase key"),
        (&["foo =1"], None, "space inside a key"),
        (&["foo.bar=1"], None, "'.' is not a key character"),
        (&["foo=bar=baz"], None, "'=' in a value"),
        (&["foo=,bar=3"], None, "empty value drops the whole list"),
        (&["foo"], None, "member without '='"),
        (&["=1"], None, "empty key"),
        (&["foo=a\tb"], None, "tab inside a value"),
        (&["foo=\u{e9}"], None, "non-ASCII value"),
        (&["foo=\u{7f}"], None, "DEL in a value"),
        (
            &["a=1", "B=2"],
            None,
            "an invalid member in a later field drops everything",
        ),
    ];

    fn parse(fields: &[&str]) -> Option<TraceState> {
        let fields: Vec<&[u8]> = fields.iter().map(|f| f.as_bytes()).collect();
        TraceState::parse_fields(&fields)
    }

    #[test]
    fn built_lists_stay_within_the_parsed_bound() {
        let value = "v".repeat(TraceState::MAX_VALUE_LEN);
        let mut state = TraceState::new();
        for i in 0..TraceState::MAX_MEMBERS {
            let key = format!("{i:02}{}", "k".repeat(TraceState::MAX_KEY_LEN - 2));
            state.insert(&key, &value).unwrap();
            assert!(state.header().len() <= TraceState::MAX_HEADER_LEN);
            assert_eq!(
                TraceState::parse(state.header().as_bytes()).as_ref(),
                Some(&state)
            );
        }
        // The newest members are kept, the oldest went from the right.
        let newest = format!("{:02}", TraceState::MAX_MEMBERS - 1);
        assert!(state.iter().next().unwrap().0.starts_with(&newest));
        assert!(state.len() < TraceState::MAX_MEMBERS);
        assert!(state.len() >= TraceState::MAX_HEADER_LEN / 514);
    }

    #[test]
    fn vectors() {
        for &(fields, expected, reason) in VECTORS {
            let got = parse(fields);
            assert_eq!(
                got.as_ref().map(TraceState::header),
                expected,
                "{reason}: {fields:?}"
            );
        }
    }

    #[test]
    fn all_allowed_characters() {
        let key = "abcdefghijklmnopqrstuvwxyz0123456789_-*/@a-z0-9_-*/";
        let value: String = (0x20u8..=0x7e)
            .filter(|&b| b != b',' && b != b'=')
            .map(char::from)
            .collect();
        let header = format!("{key}={value}");
        let s = TraceState::parse(header.as_bytes()).expect("every allowed character");
        assert_eq!(s.get(key), Some(value.as_str()));
    }

    #[test]
    fn member_count_limit() {
        let members: Vec<String> = (1..=33).map(|i| format!("bar{i:02}={i:02}")).collect();
        let ok = members[..32].join(",");
        let s = TraceState::parse(ok.as_bytes()).expect("32 members are allowed");
        assert_eq!(s.len(), 32);
        let too_many = members.join(",");
        assert!(
            TraceState::parse(too_many.as_bytes()).is_none(),
            "33 members drop the list"
        );
        let split = [members[..20].join(","), members[20..].join(",")];
        let fields: Vec<&[u8]> = split.iter().map(|f| f.as_bytes()).collect();
        assert!(
            TraceState::parse_fields(&fields).is_none(),
            "33 members across fields"
        );
    }

    #[test]
    fn key_and_value_length_limits() {
        let k256 = "z".repeat(256);
        let k257 = "z".repeat(257);
        let v256 = "v".repeat(256);
        let v257 = "v".repeat(257);
        assert!(
            TraceState::parse(format!("{k256}=1").as_bytes()).is_some(),
            "256-char key"
        );
        assert!(
            TraceState::parse(format!("{k257}=1").as_bytes()).is_none(),
            "257-char key"
        );
        assert!(
            TraceState::parse(format!("k={v256}").as_bytes()).is_some(),
            "256-char value"
        );
        assert!(
            TraceState::parse(format!("k={v257}").as_bytes()).is_none(),
            "257-char value"
        );
        let mt = format!("{}@{}", "t".repeat(241), "v".repeat(14));
        assert!(
            TraceState::parse(format!("{mt}=1").as_bytes()).is_some(),
            "multi-tenant key of 256"
        );
    }

    #[test]
    fn oversized_input_is_dropped() {
        let big = format!("a=1,{}", " ".repeat(TraceState::MAX_HEADER_LEN));
        assert!(TraceState::parse(big.as_bytes()).is_none());
    }

    #[test]
    fn insert_moves_to_front_and_caps_at_32() {
        let mut s = TraceState::new();
        for i in 0..32 {
            s.insert(&format!("k{i}"), "v").unwrap();
        }
        assert_eq!(s.len(), 32);
        assert_eq!(s.iter().next(), Some(("k31", "v")));
        s.insert("new", "v").unwrap();
        assert_eq!(s.len(), 32, "right-most member removed");
        assert_eq!(s.get("k0"), None);
        s.insert("k5", "w").unwrap();
        assert_eq!(s.iter().next(), Some(("k5", "w")));
        assert_eq!(s.len(), 32);
    }

    #[test]
    fn insert_rejects_invalid() {
        let mut s: TraceState = "a=1".parse().unwrap();
        for (k, v, reason) in [
            ("", "v", "empty key"),
            ("A", "v", "uppercase key"),
            ("@a", "v", "key starting with '@'"),
            ("k", "", "empty value"),
            ("k", "v ", "trailing space in value"),
            ("k", "a=b", "'=' in value"),
            ("k", "a,b", "',' in value"),
            ("k", "\u{e9}", "non-ASCII value"),
        ] {
            assert!(s.insert(k, v).is_err(), "{reason}");
        }
        assert_eq!(s.header(), "a=1");
    }

    #[test]
    fn remove() {
        let mut s: TraceState = "a=1,b=2".parse().unwrap();
        assert!(s.remove("a"));
        assert!(!s.remove("a"));
        assert_eq!(s.header(), "b=2");
        assert!(s.remove("b"));
        assert!(s.is_empty());
        assert_eq!(s, TraceState::new());
    }

    #[test]
    fn debug_lists_members() {
        let s: TraceState = "a=1,b=2".parse().unwrap();
        assert_eq!(format!("{s:?}"), r#"{"a": "1", "b": "2"}"#);
    }
}
