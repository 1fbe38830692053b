//! [`Baggage`]: W3C Baggage's application-defined `key=value` members, and
//! their header form (`header.rs`). Plain data: the current baggage is
//! `ctx::baggage`'s.

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

mod header;

/// A set of baggage members, in insertion order, with unique keys.
///
/// Cloning costs one reference count and the empty baggage allocates
/// nothing; writing to a shared baggage copies it first.
///
/// # Examples
/// ```
/// use ctx::baggage::{Baggage, Member};
///
/// let mut b = Baggage::new();
/// b.insert("k", "v").unwrap();
/// b.insert_member(Member::new("user", "alice").unwrap().with_property("pii", None).unwrap());
/// assert_eq!(b.to_string(), "k=v,user=alice;pii");
/// assert!(b.insert("bad key", "v").is_err());
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Baggage {
    // `None` when empty. Keys are unique and valid: every writer checks.
    members: Option<Arc<Vec<Member>>>,
}

/// One baggage member: a key, a value and optional properties.
///
/// A member parsed from a header remembers how it arrived when that differs
/// from how ctx would write it (`+` or a needless `%41` left as the sender
/// wrote it, lowercase escapes, an escape that is not one): the header form
/// then forwards it byte for byte, less the optional whitespace around its
/// parts, so a chain of services that disagree on encoding keeps each value
/// exactly as its sender wrote it. A member made or changed by code is
/// written in ctx's encoding. Equality and hashing look at the key, the
/// decoded value and the properties only.
#[derive(Clone, Debug)]
pub struct Member {
    key: String,
    value: String,
    properties: Vec<Property>,
    // The member's header form as it arrived, when ctx's encoding would
    // write it differently; `None` for members made by code.
    raw: Option<Box<str>>,
}

impl PartialEq for Member {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key && self.value == other.value && self.properties == other.properties
    }
}

impl Eq for Member {}

impl std::hash::Hash for Member {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key.hash(state);
        self.value.hash(state);
        self.properties.hash(state);
    }
}

/// A property of a baggage [`Member`]: a key with an optional value
/// (`;key=value` or `;key` on the wire).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Property {
    key: String,
    value: Option<String>,
}

/// The error returned for a baggage key that is not a valid `token`
/// (RFC 9110: letters, digits and ``!#$%&'*+-.^_`|~``, at least one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidBaggage {
    _priv: (),
}

impl fmt::Display for InvalidBaggage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid baggage key")
    }
}

impl std::error::Error for InvalidBaggage {}

const INVALID: InvalidBaggage = InvalidBaggage { _priv: () };

impl Member {
    /// A member with no property.
    ///
    /// # Errors
    /// [`InvalidBaggage`] when `key` is not a valid token. Any value is
    /// accepted: it is percent-encoded on the wire.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Result<Self, InvalidBaggage> {
        let key = key.into();
        if !header::is_valid_key(key.as_bytes()) {
            return Err(INVALID);
        }
        Ok(Member {
            key,
            value: value.into(),
            properties: Vec::new(),
            raw: None,
        })
    }

    /// This member with a property added.
    ///
    /// # Errors
    /// [`InvalidBaggage`] when `key` is not a valid token.
    pub fn with_property(
        mut self,
        key: impl Into<String>,
        value: Option<String>,
    ) -> Result<Self, InvalidBaggage> {
        let key = key.into();
        if !header::is_valid_key(key.as_bytes()) {
            return Err(INVALID);
        }
        self.properties.push(Property { key, value });
        // Changed by code: written in ctx's encoding from now on.
        self.raw = None;
        Ok(self)
    }

    /// The key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The value, decoded.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The properties, in order.
    pub fn properties(&self) -> &[Property] {
        &self.properties
    }
}

impl Property {
    /// The key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The value, decoded, if the property has one.
    pub fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }
}

impl Baggage {
    /// At most 180 members in a header (W3C Baggage).
    pub const MAX_MEMBERS: usize = 180;
    /// At most 4096 bytes per member in header form (W3C Baggage).
    pub const MAX_MEMBER_LEN: usize = 4096;
    /// At most 8192 bytes in all, counting every `baggage` field and the
    /// commas that join them (W3C Baggage). Parsing looks at no more input
    /// than this.
    pub const MAX_HEADER_LEN: usize = 8192;

    /// An empty baggage. Does not allocate.
    pub const fn new() -> Self {
        Baggage { members: None }
    }

    /// Whether there is no member.
    pub fn is_empty(&self) -> bool {
        self.members.is_none()
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.members.as_ref().map_or(0, |m| m.len())
    }

    /// The decoded value for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.member(key).map(Member::value)
    }

    /// The member for `key`, with its properties.
    pub fn member(&self, key: &str) -> Option<&Member> {
        self.iter().find(|m| m.key == key)
    }

    /// The members in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Member> {
        self.members.as_deref().map_or(&[][..], |m| &m[..]).iter()
    }

    /// Sets `key` to `value` (with no property). An existing member keeps its
    /// position and loses its properties; a new one goes last.
    ///
    /// # Errors
    /// [`InvalidBaggage`], leaving the baggage unchanged, when `key` is not a
    /// valid token.
    pub fn insert(
        &mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<(), InvalidBaggage> {
        self.insert_member(Member::new(key, value)?);
        Ok(())
    }

    /// Adds a member, replacing the one with the same key in place.
    pub fn insert_member(&mut self, member: Member) {
        let members = Arc::make_mut(self.members.get_or_insert_with(Default::default));
        match members.iter_mut().find(|m| m.key == member.key) {
            Some(slot) => *slot = member,
            None => members.push(member),
        }
    }

    /// Removes `key` and returns its member.
    pub fn remove(&mut self, key: &str) -> Option<Member> {
        let pos = self.iter().position(|m| m.key == key)?;
        let members = Arc::make_mut(self.members.as_mut()?);
        let removed = members.remove(pos);
        if members.is_empty() {
            self.members = None;
        }
        Some(removed)
    }

    /// Parses one `baggage` header value. Never fails: invalid members are
    /// dropped and the rest is kept, within the limits described in the
    /// [module docs](crate::baggage).
    pub fn parse(value: &[u8]) -> Baggage {
        Self::parse_fields(&[value])
    }

    /// Parses several `baggage` header fields, joined in order as RFC 9110
    /// combines repeated fields. The limits apply to the combination.
    pub fn parse_fields(fields: &[&[u8]]) -> Baggage {
        let mut baggage = Baggage::new();
        header::parse_fields(fields, &mut baggage);
        baggage
    }

    /// Adds to `self` the members parsed from `fields`, as
    /// [`parse_fields`](Self::parse_fields) does; parsed members replace
    /// existing ones with the same key.
    pub fn extend_from_fields(&mut self, fields: &[&[u8]]) {
        header::parse_fields(fields, self);
    }

    /// The header form, as [`Display`](fmt::Display) writes it.
    pub fn header(&self) -> String {
        self.to_string()
    }
}

/// The header form: members joined by `,`, values percent-encoded, with the
/// members that break the limits left out (see the [module docs](crate::baggage)).
impl fmt::Display for Baggage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        header::write_header(f, self)
    }
}

impl fmt::Debug for Baggage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|m| (&m.key, &m.value)))
            .finish()
    }
}

impl FromStr for Baggage {
    type Err = Infallible;

    /// Parses one header value with [`Baggage::parse`]; never fails.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Baggage::parse(s.as_bytes()))
    }
}

impl<'a> IntoIterator for &'a Baggage {
    type Item = &'a Member;
    type IntoIter = std::slice::Iter<'a, Member>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl Extend<Member> for Baggage {
    fn extend<I: IntoIterator<Item = Member>>(&mut self, iter: I) {
        for m in iter {
            self.insert_member(m);
        }
    }
}

impl FromIterator<Member> for Baggage {
    fn from_iter<I: IntoIterator<Item = Member>>(iter: I) -> Self {
        let mut b = Baggage::new();
        b.extend(iter);
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (header fields, expected header form after a round trip, reason)
    const VECTORS: &[(&[&str], &str, &str)] = &[
        (&["k=v"], "k=v", "single member"),
        (&["a=1,b=2"], "a=1,b=2", "order is kept"),
        (
            &[" a = 1 , b\t=\t2 "],
            "a=1,b=2",
            "OWS around members, keys and values",
        ),
        (&[""], "", "empty header"),
        (&[",,"], "", "only empty members"),
        (&["a=1", "b=2"], "a=1,b=2", "several fields are joined"),
        (&["k="], "k=", "empty value is allowed"),
        (&["k=a%20b"], "k=a%20b", "encoded space"),
        (
            &["k=%41"],
            "k=%41",
            "a needless escape is forwarded as it came",
        ),
        (&["k=a+b"], "k=a+b", "'+' is forwarded as it came"),
        (
            &["k=%c3%a9"],
            "k=%c3%a9",
            "lowercase escapes are forwarded as they came",
        ),
        (
            &["k=%zz"],
            "k=%zz",
            "a '%' that is no escape is forwarded as it came",
        ),
        (
            &["k = a+b ; p = %41 ;q"],
            "k=a+b;p=%41;q",
            "forwarded without the OWS",
        ),
        (&["k=a=b"], "k=a=b", "'=' is allowed in a value"),
        (&["k=v;p"], "k=v;p", "property without value"),
        (&["k=v; p = 1 ;q"], "k=v;p=1;q", "properties with OWS"),
        (&["k=v;p=a%2Cb"], "k=v;p=a%2Cb", "encoded property value"),
        (&["k=v;"], "k=v", "stray ';' is skipped"),
        (&["a=1,a=2"], "a=2", "a repeated key: the later value wins"),
        (
            &["bad key=1,k=v"],
            "k=v",
            "space in a key drops that member only",
        ),
        (
            &["k=a b,x=y"],
            "x=y",
            "space inside a value drops that member",
        ),
        (&["k=\"q\",x=y"], "x=y", "quote in a value"),
        (&["k=a\\b,x=y"], "x=y", "backslash in a value"),
        (&["novalue,x=y"], "x=y", "member without '='"),
        (&["=v,x=y"], "x=y", "empty key"),
        (
            &["k=v;bad prop=1,x=y"],
            "x=y",
            "invalid property drops the member",
        ),
        (&["k=v;=1,x=y"], "x=y", "property with empty key"),
        (&["k=\u{e9},x=y"], "x=y", "raw non-ASCII in a value"),
        (&["K.e-y_!~=v"], "K.e-y_!~=v", "token characters in a key"),
    ];

    fn parse(fields: &[&str]) -> Baggage {
        let fields: Vec<&[u8]> = fields.iter().map(|f| f.as_bytes()).collect();
        Baggage::parse_fields(&fields)
    }

    #[test]
    fn vectors() {
        for &(fields, expected, reason) in VECTORS {
            assert_eq!(parse(fields).to_string(), expected, "{reason}: {fields:?}");
        }
    }

    #[test]
    fn member_count_limit_on_parse() {
        let header: Vec<String> = (0..200).map(|i| format!("k{i}=v")).collect();
        let b = Baggage::parse(header.join(",").as_bytes());
        assert_eq!(b.len(), Baggage::MAX_MEMBERS);
        assert_eq!(b.iter().last().unwrap().key(), "k179");
    }

    #[test]
    fn member_length_limit_on_parse() {
        let long = format!("big={}", "x".repeat(Baggage::MAX_MEMBER_LEN));
        let header = format!("a=1,{long},b=2");
        assert_eq!(Baggage::parse(header.as_bytes()).to_string(), "a=1,b=2");
        let fits = format!("big={}", "x".repeat(Baggage::MAX_MEMBER_LEN - 4));
        assert_eq!(
            Baggage::parse(fits.as_bytes()).len(),
            1,
            "exactly 4096 bytes is allowed"
        );
    }

    #[test]
    fn total_length_limit_on_parse() {
        // Three members of 4000 bytes: the third ends past 8192 bytes.
        let m = |k: &str| format!("{k}={}", "x".repeat(3998));
        let header = format!("{},{},{}", m("a"), m("b"), m("c"));
        let b = Baggage::parse(header.as_bytes());
        assert_eq!(b.len(), 2);
        assert!(b.get("c").is_none());
        // The limit counts across fields too.
        let (a, bb, c) = (m("a"), m("b"), m("c"));
        let b = Baggage::parse_fields(&[a.as_bytes(), bb.as_bytes(), c.as_bytes()]);
        assert_eq!(b.len(), 2);
        // A huge field past the limit is ignored whole.
        let huge = format!("a=1,{}", "y".repeat(1 << 20));
        assert_eq!(Baggage::parse(huge.as_bytes()).to_string(), "a=1");
        // A member that ends exactly at the limit is whole, whatever follows
        // (a comma, or whitespace then a comma); one cut by it is not.
        let a = format!("a={}", "x".repeat(4094));
        let b = format!("b={}", "x".repeat(4093));
        assert_eq!(a.len() + 1 + b.len(), Baggage::MAX_HEADER_LEN);
        for tail in [",c=1", " ,c=1", "x,c=1"] {
            let header = format!("{a},{b}{tail}");
            let expected = if tail.starts_with('x') { 1 } else { 2 };
            assert_eq!(
                Baggage::parse(header.as_bytes()).len(),
                expected,
                "{tail:?}"
            );
        }
    }

    #[test]
    fn limits_on_format() {
        let mut b = Baggage::new();
        for i in 0..200 {
            b.insert(format!("k{i}"), "v").unwrap();
        }
        let header = b.to_string();
        assert_eq!(header.split(',').count(), Baggage::MAX_MEMBERS);

        let mut b = Baggage::new();
        b.insert("small", "1").unwrap();
        b.insert("big", "x".repeat(Baggage::MAX_MEMBER_LEN))
            .unwrap();
        b.insert("after", "2").unwrap();
        assert_eq!(
            b.to_string(),
            "small=1,after=2",
            "an oversized member is left out"
        );

        let mut b = Baggage::new();
        for k in ["a", "b", "c"] {
            b.insert(k, "x".repeat(3000)).unwrap();
        }
        b.insert("d", "1").unwrap();
        let header = b.to_string();
        assert!(header.len() <= Baggage::MAX_HEADER_LEN);
        assert!(
            !header.contains("c="),
            "a member past 8192 bytes is left out"
        );
        assert!(header.ends_with(",d=1"), "a later member that fits is kept");
    }

    #[test]
    fn values_round_trip_through_encoding() {
        let mut b = Baggage::new();
        let tricky = "a b,c;d\"e\\f%g+h\u{e9}\u{1f600}\t\r\n=";
        b.insert("k", tricky).unwrap();
        let header = b.to_string();
        assert!(header.bytes().all(|c| c.is_ascii_graphic()));
        assert_eq!(Baggage::parse(header.as_bytes()).get("k"), Some(tricky));
    }

    #[test]
    fn insert_replace_remove() {
        let mut b = Baggage::new();
        assert!(b.is_empty());
        b.insert("a", "1").unwrap();
        b.insert("b", "2").unwrap();
        b.insert("a", "3").unwrap();
        assert_eq!(b.to_string(), "a=3,b=2", "replacing keeps the position");
        let shared = b.clone();
        assert_eq!(
            b.remove("a").map(|m| m.value().to_owned()),
            Some("3".to_owned())
        );
        assert_eq!(
            shared.get("a"),
            Some("3"),
            "clones are not affected by writes"
        );
        assert!(b.remove("a").is_none());
        b.remove("b");
        assert!(b.is_empty());
        assert_eq!(b, Baggage::new());
    }

    #[test]
    fn members_are_forwarded_as_they_came_until_code_changes_them() {
        let mut b = Baggage::parse(b"region=eu+west,x=%41;p=%7e,plain=v%20w");
        assert_eq!(b.get("region"), Some("eu+west"));
        assert_eq!(b.get("x"), Some("A"));
        assert_eq!(b.member("x").unwrap().properties()[0].value(), Some("~"));
        assert_eq!(b.to_string(), "region=eu+west,x=%41;p=%7e,plain=v%20w");
        // Same meaning, other spelling: equal, and hashed alike.
        let canonical = Baggage::parse(b"region=eu%2Bwest,x=A;p=~,plain=v%20w");
        assert_eq!(b, canonical);
        assert_eq!(
            canonical.to_string(),
            "region=eu%2Bwest,x=A;p=~,plain=v%20w"
        );

        b.insert("region", "eu west").unwrap();
        let x = b
            .member("x")
            .unwrap()
            .clone()
            .with_property("q", None)
            .unwrap();
        b.insert_member(x);
        assert_eq!(
            b.to_string(),
            "region=eu%20west,x=A;p=~;q,plain=v%20w",
            "members changed by code are written in ctx's encoding"
        );
    }

    #[test]
    fn a_forwarded_member_counts_its_length_as_it_came() {
        // 1,364 escapes of 'A' and two letters: 4,096 bytes as they came,
        // 1,366 decoded.
        let value = "%41".repeat(1364);
        let member = format!("k={value}xy");
        assert_eq!(member.len(), Baggage::MAX_MEMBER_LEN);
        let b = Baggage::parse(member.as_bytes());
        assert_eq!(b.to_string(), member);
        let too_long = format!("k={value}xyz");
        assert!(Baggage::parse(too_long.as_bytes()).is_empty());
    }

    #[test]
    fn properties_are_exposed() {
        let b = Baggage::parse(b"k=v;p1=a%20b;p2");
        let m = b.member("k").unwrap();
        let props: Vec<(&str, Option<&str>)> = m
            .properties()
            .iter()
            .map(|p| (p.key(), p.value()))
            .collect();
        assert_eq!(props, [("p1", Some("a b")), ("p2", None)]);
    }

    #[test]
    fn debug_and_from_iter() {
        let b: Baggage = [
            Member::new("a", "1").unwrap(),
            Member::new("b", "2").unwrap(),
        ]
        .into_iter()
        .collect();
        assert_eq!(format!("{b:?}"), r#"{"a": "1", "b": "2"}"#);
        let parsed: Baggage = "a=1,b=2".parse().unwrap();
        assert_eq!(parsed, b);
    }
}
