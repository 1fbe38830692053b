//! Carriers: [`Extractor`] and [`Injector`], their implementations for
//! [`http::HeaderMap`] and `HashMap<String, String>`, and `Fields`, the
//! values of one field collected for the parsers.

use std::collections::HashMap;
use std::hash::BuildHasher;

use http::header::{HeaderMap, HeaderName, HeaderValue};

use super::names;

/// Read access to a carrier of named text fields, such as HTTP headers.
///
/// Names passed in are lowercase ASCII; implementations must match them
/// case-insensitively (as [`http::HeaderMap`] does). Values are raw bytes:
/// a header value need not be UTF-8, and the parsers reject what they do
/// not understand.
///
/// ctx implements it for [`http::HeaderMap`] and for
/// `HashMap<String, String>` (message-broker headers, your own maps: see
/// that implementation for how it matches names).
///
/// # Examples
/// Adapting a carrier of `(name, value)` pairs:
/// ```
/// use ctx::propagation::{Extractor, Propagators};
///
/// struct Pairs(Vec<(String, String)>);
///
/// impl Extractor for Pairs {
///     fn get(&self, name: &str) -> Option<&[u8]> {
///         self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_bytes())
///     }
///
///     fn get_all<'a>(&'a self, name: &str, f: &mut dyn FnMut(&'a [u8])) {
///         for (k, v) in &self.0 {
///             if k.eq_ignore_ascii_case(name) {
///                 f(v.as_bytes());
///             }
///         }
///     }
/// }
///
/// let carrier = Pairs(vec![(
///     "TraceParent".into(),
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
/// )]);
/// let remote = Propagators::new().extract(&carrier);
/// assert!(remote.trace.is_some());
/// ```
pub trait Extractor {
    /// The first value of the field `name`.
    fn get(&self, name: &str) -> Option<&[u8]>;

    /// Calls `f` with every value of the field `name`, in order.
    ///
    /// The W3C rules need this: several `traceparent` fields make the value
    /// invalid and several `tracestate` or `baggage` fields are joined. The
    /// default calls `f` with [`get`](Extractor::get)'s value, which is right
    /// for carriers that hold one value per name.
    fn get_all<'a>(&'a self, name: &str, f: &mut dyn FnMut(&'a [u8])) {
        if let Some(v) = self.get(name) {
            f(v);
        }
    }
}

/// Write access to a carrier of named text fields, such as HTTP headers.
///
/// Names passed in are lowercase ASCII, values are visible ASCII.
pub trait Injector {
    /// Sets the field `name` to `value`, replacing the values it had.
    fn set(&mut self, name: &str, value: &str);

    /// Removes the field `name`, if the carrier has it.
    ///
    /// Propagators call it for the fields of their format that they do not
    /// write this time (no trace context, no `tracestate`, no parent span,
    /// no baggage, no request id), so that a value already in the carrier
    /// is not sent on behalf of a context it does not belong to. The default
    /// does nothing, which is right for carriers that start empty.
    fn remove(&mut self, name: &str) {
        let _ = name;
    }
}

impl Extractor for HeaderMap {
    fn get(&self, name: &str) -> Option<&[u8]> {
        if self.is_empty() {
            return None;
        }
        match known_header(name) {
            Some(name) => HeaderMap::get(self, name),
            None => HeaderMap::get(self, name),
        }
        .map(HeaderValue::as_bytes)
    }

    fn get_all<'a>(&'a self, name: &str, f: &mut dyn FnMut(&'a [u8])) {
        if self.is_empty() {
            return;
        }
        let values = match known_header(name) {
            Some(name) => HeaderMap::get_all(self, name),
            None => HeaderMap::get_all(self, name),
        };
        for v in values {
            f(v.as_bytes());
        }
    }
}

/// The names ctx uses, as `HeaderName`s built at compile time: looking one
/// up hashes it directly, where a `&str` is parsed and validated first.
fn known_header(name: &str) -> Option<&'static HeaderName> {
    known_index(name).map(|i| &KNOWN_HEADERS[i])
}

/// `content-type`, which says whether a request is a gRPC call.
const CONTENT_TYPE: &str = "content-type";

/// Every header name ctx reads or writes (the propagators', `grpc-timeout`,
/// the plain-HTTP timeout header, and `content-type`), in the order of
/// [`known_index`].
pub(super) static KNOWN_HEADERS: [HeaderName; 13] = [
    HeaderName::from_static(names::TRACEPARENT),
    HeaderName::from_static(names::TRACESTATE),
    HeaderName::from_static(names::BAGGAGE),
    HeaderName::from_static(names::B3),
    HeaderName::from_static(names::X_B3_TRACE_ID),
    HeaderName::from_static(names::X_B3_SPAN_ID),
    HeaderName::from_static(names::X_B3_PARENT_SPAN_ID),
    HeaderName::from_static(names::X_B3_SAMPLED),
    HeaderName::from_static(names::X_B3_FLAGS),
    HeaderName::from_static(names::X_REQUEST_ID),
    HeaderName::from_static(super::timeout::GRPC_TIMEOUT),
    HeaderName::from_static(super::timeout::X_REQUEST_TIMEOUT_MS),
    HeaderName::from_static(CONTENT_TYPE),
];

/// `grpc-timeout`'s place in [`KNOWN_HEADERS`].
pub(super) const GRPC_TIMEOUT_AT: usize = 10;

/// `content-type`'s place in [`KNOWN_HEADERS`].
pub(super) const CONTENT_TYPE_AT: usize = 12;

/// `name`'s place in [`KNOWN_HEADERS`] (names are matched exactly, as
/// `HeaderName`s hold them: lowercase).
///
/// Called for every header of every request (the index's pass) and for
/// every name a propagator asks for, so it compares one string at most:
/// the length, and for lengths that several names share one byte where
/// they differ, pick the only candidate.
#[inline]
pub(super) fn known_index(name: &str) -> Option<usize> {
    // Each arm compares with a constant, which compiles to a few loads
    // instead of a call to `memcmp`.
    let is = |i: usize, known: &str| (name == known).then_some(i);
    let b = name.as_bytes();
    match b.len() {
        2 => is(3, names::B3),
        7 => is(2, names::BAGGAGE),
        10 if b[0] == b't' => is(1, names::TRACESTATE),
        10 => is(8, names::X_B3_FLAGS),
        11 if b[0] == b't' => is(0, names::TRACEPARENT),
        11 => is(5, names::X_B3_SPAN_ID),
        12 => match b[6] {
            b'r' => is(4, names::X_B3_TRACE_ID),
            b'a' => is(7, names::X_B3_SAMPLED),
            b'e' => is(9, names::X_REQUEST_ID),
            b'i' => is(GRPC_TIMEOUT_AT, super::timeout::GRPC_TIMEOUT),
            b't' => is(CONTENT_TYPE_AT, CONTENT_TYPE),
            _ => None,
        },
        17 => is(6, names::X_B3_PARENT_SPAN_ID),
        20 => is(11, super::timeout::X_REQUEST_TIMEOUT_MS),
        _ => None,
    }
}

impl Injector for HeaderMap {
    /// Invalid names or values are ignored (the propagators never produce
    /// them; a user-configured request-id header name could be invalid).
    fn set(&mut self, name: &str, value: &str) {
        let Ok(value) = HeaderValue::from_str(value) else {
            return;
        };
        if let Some(name) = header_name(name) {
            self.insert(name, value);
        }
    }

    /// An invalid name matches nothing. Never allocates.
    fn remove(&mut self, name: &str) {
        if self.is_empty() {
            return;
        }
        // A `&str` is looked up as it is (lowercased on the stack), where a
        // `HeaderName` built from it would allocate.
        match known_header(name) {
            Some(name) => HeaderMap::remove(self, name),
            None => HeaderMap::remove(self, name),
        };
    }
}

/// The header name for `name`, without allocating for the names ctx uses.
fn header_name(name: &str) -> Option<HeaderName> {
    match known_header(name) {
        Some(name) => Some(name.clone()),
        None => HeaderName::from_bytes(name.as_bytes()).ok(),
    }
}

/// Message-broker headers, or any map of your own: names are matched
/// case-insensitively, so a map filled by a client that wrote
/// `TraceParent` is read like one that wrote `traceparent`.
///
/// A name stored in lowercase is found by one lookup; otherwise the map is
/// scanned. A map holding one name in several spellings (which [`Injector`]
/// never leaves behind) has a value under each: [`get`](Extractor::get)
/// returns the lowercase one if there is one, else any of them, and
/// [`get_all`](Extractor::get_all) yields the lowercase one first, then the
/// others in the map's order.
///
/// # Examples
/// ```
/// use std::collections::HashMap;
///
/// use ctx::propagation::{Propagated, Propagators};
/// use ctx::trace::TraceContext;
///
/// // A producer writes the context into a message's headers...
/// let mut headers: HashMap<String, String> = HashMap::new();
/// headers.insert("Baggage".into(), "stale=1".into());
/// let sent = Propagated::new()
///     .with_trace(TraceContext::new_root())
///     .with_baggage("tenant=acme".parse().unwrap());
/// Propagators::new().inject(&sent, &mut headers);
/// // (`baggage` replaced the `Baggage` it found, whatever its case.)
/// assert_eq!(headers["baggage"], "tenant=acme");
/// assert!(!headers.contains_key("Baggage"));
///
/// // ...and a consumer reads it back, whatever case the broker kept.
/// let received: HashMap<String, String> = headers
///     .into_iter()
///     .map(|(k, v)| (k.to_ascii_uppercase(), v))
///     .collect();
/// let remote = Propagators::new().extract(&received);
/// assert_eq!(remote.trace, sent.trace);
/// assert_eq!(remote.baggage.get("tenant"), Some("acme"));
/// ```
impl<S: BuildHasher> Extractor for HashMap<String, String, S> {
    fn get(&self, name: &str) -> Option<&[u8]> {
        if let Some(v) = HashMap::get(self, name) {
            return Some(v.as_bytes());
        }
        self.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_bytes())
    }

    fn get_all<'a>(&'a self, name: &str, f: &mut dyn FnMut(&'a [u8])) {
        if let Some(v) = HashMap::get(self, name) {
            f(v.as_bytes());
        }
        for (k, v) in self {
            if k != name && k.eq_ignore_ascii_case(name) {
                f(v.as_bytes());
            }
        }
    }
}

/// Message-broker headers, or any map of your own (see the
/// [`Extractor`] implementation for an example): [`set`](Injector::set)
/// stores the value under the name as given (lowercase) and removes the
/// other keys that match it case-insensitively, so a map never holds one
/// name in two spellings after it; [`remove`](Injector::remove) removes
/// every key that matches. Both scan the map.
///
/// `map.remove(name)` is the map's own, case-sensitive method; to remove a
/// field the way a propagator does, call `Injector::remove(&mut map, name)`.
impl<S: BuildHasher> Injector for HashMap<String, String, S> {
    fn set(&mut self, name: &str, value: &str) {
        self.retain(|k, _| k == name || !k.eq_ignore_ascii_case(name));
        match self.get_mut(name) {
            Some(v) => {
                v.clear();
                v.push_str(value);
            }
            None => {
                self.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    fn remove(&mut self, name: &str) {
        if !self.is_empty() {
            self.retain(|k, _| !k.eq_ignore_ascii_case(name));
        }
    }
}

/// The values of one field, collected without allocating when there are
/// few (the usual case is one).
pub(crate) struct Fields<'a> {
    inline: [&'a [u8]; 4],
    len: usize,
    spill: Vec<&'a [u8]>,
}

impl<'a> Fields<'a> {
    pub(crate) fn collect(carrier: &'a dyn Extractor, name: &str) -> Self {
        let mut fields = Fields {
            inline: [&[]; 4],
            len: 0,
            spill: Vec::new(),
        };
        carrier.get_all(name, &mut |v| fields.push(v));
        fields
    }

    fn push(&mut self, v: &'a [u8]) {
        if self.len < self.inline.len() {
            self.inline[self.len] = v;
        } else {
            if self.spill.is_empty() {
                self.spill.extend_from_slice(&self.inline);
            }
            self.spill.push(v);
        }
        self.len += 1;
    }

    pub(crate) fn as_slice(&self) -> &[&'a [u8]] {
        if self.spill.is_empty() {
            &self.inline[..self.len]
        } else {
            &self.spill
        }
    }
}

/// A header map with `pairs` appended in order (repeated names kept), for
/// the propagators' tests.
#[cfg(test)]
pub(crate) fn header_map(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_index_agrees_with_a_search_of_the_names() {
        let search = |name: &str| KNOWN_HEADERS.iter().position(|k| k.as_str() == name);
        let mut tried = vec![
            String::new(),
            "host".to_owned(),
            "content-type".to_owned(),
            "TRACEPARENT".to_owned(),
            "x-request-ix".to_owned(),
        ];
        // Every known name with any one byte changed, cut short or grown.
        for name in KNOWN_HEADERS.iter().map(HeaderName::as_str) {
            tried.push(format!("{name}x"));
            tried.push(name[..name.len() - 1].to_owned());
            for at in 0..name.len() {
                for b in [b'a', b'e', b'i', b'r', b't', b'x', b'-', b'3'] {
                    let mut bytes = name.as_bytes().to_vec();
                    bytes[at] = b;
                    tried.push(String::from_utf8(bytes).unwrap());
                }
            }
        }
        for name in &tried {
            assert_eq!(known_index(name), search(name), "{name:?}");
        }
    }

    #[test]
    fn known_names_are_all_found() {
        for (i, name) in KNOWN_HEADERS.iter().enumerate() {
            assert_eq!(known_index(name.as_str()), Some(i));
        }
        assert_eq!(known_index("x-request-idx"), None);
        assert_eq!(known_index("host"), None);
    }

    #[test]
    fn fields_collect_many_values() {
        let pairs: Vec<(String, String)> = (0..7)
            .map(|i| ("tracestate".into(), format!("k{i}=v")))
            .collect();
        let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (&**k, &**v)).collect();
        let h = header_map(&borrowed);
        let fields = Fields::collect(&h, "tracestate");
        let got: Vec<&[u8]> = fields.as_slice().to_vec();
        let want: Vec<&[u8]> = pairs.iter().map(|(_, v)| v.as_bytes()).collect();
        assert_eq!(got, want);
    }

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn all<'a>(carrier: &'a dyn Extractor, name: &str) -> Vec<&'a [u8]> {
        let mut values = Vec::new();
        carrier.get_all(name, &mut |v| values.push(v));
        values
    }

    #[test]
    fn hash_map_extractor_matches_names_case_insensitively() {
        let m = map(&[("TraceParent", "tp"), ("x-request-id", "id")]);
        assert_eq!(Extractor::get(&m, "traceparent"), Some(&b"tp"[..]));
        assert_eq!(Extractor::get(&m, "x-request-id"), Some(&b"id"[..]));
        assert_eq!(Extractor::get(&m, "baggage"), None);
        assert_eq!(all(&m, "traceparent"), [b"tp"]);
        assert!(all(&m, "baggage").is_empty());

        // Two spellings of one name are two values, the lowercase one first.
        let m = map(&[("BAGGAGE", "b=2"), ("baggage", "a=1"), ("Baggage", "c=3")]);
        assert_eq!(Extractor::get(&m, "baggage"), Some(&b"a=1"[..]));
        let values = all(&m, "baggage");
        assert_eq!(values.len(), 3);
        assert_eq!(values[0], b"a=1");
        assert!(values.contains(&&b"b=2"[..]) && values.contains(&&b"c=3"[..]));
    }

    #[test]
    fn hash_map_injector_replaces_and_removes_every_spelling() {
        let mut m = map(&[("Baggage", "old"), ("BAGGAGE", "older"), ("host", "h")]);
        m.set("baggage", "new");
        assert_eq!(m, map(&[("baggage", "new"), ("host", "h")]));
        m.set("baggage", "newer");
        assert_eq!(m, map(&[("baggage", "newer"), ("host", "h")]));
        m.set("x-request-id", "id");
        assert_eq!(m["x-request-id"], "id");

        let mut m = map(&[("X-B3-Sampled", "1"), ("x-b3-sampled", "0"), ("host", "h")]);
        Injector::remove(&mut m, "x-b3-sampled");
        assert_eq!(m, map(&[("host", "h")]));
        Injector::remove(&mut m, "absent");
        assert_eq!(m, map(&[("host", "h")]));
        let mut empty = HashMap::<String, String>::new();
        Injector::remove(&mut empty, "baggage");
        assert!(empty.is_empty());
    }

    #[test]
    fn hash_map_with_another_hasher_is_a_carrier() {
        type Map = HashMap<String, String, std::hash::BuildHasherDefault<std::hash::DefaultHasher>>;
        let mut m = Map::default();
        m.insert("B3".into(), "1".into());
        m.set("b3", "0");
        assert_eq!(m.len(), 1);
        assert_eq!(Extractor::get(&m, "b3"), Some(&b"0"[..]));
    }

    #[test]
    fn header_map_injector_ignores_invalid() {
        let mut h = HeaderMap::new();
        h.set("bad name", "v");
        h.set("x-ok", "bad\nvalue");
        assert!(h.is_empty());
        h.set("X-Custom", "v");
        assert_eq!(h["x-custom"], "v");
    }
}
