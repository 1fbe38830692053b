//! The request id: an opaque string that names one request in logs, read
//! from and written to a header such as `x-request-id`.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use super::names::X_REQUEST_ID;
use super::{Extractor, Injector, Propagated, Propagator};
use crate::trace::{trim_ows, TraceId};
use crate::Key;

/// The key under which the current [`RequestId`] lives in the
/// [`Context`](crate::Context).
pub static REQUEST_ID: Key<RequestId> = Key::new("ctx.request_id");

/// A request id: 1 to [`MAX_LEN`](RequestId::MAX_LEN) visible ASCII
/// characters (`!` to `~`, no spaces or control characters, so it is safe
/// to print in logs).
///
/// Ids of up to 38 bytes (UUIDs, 32-digit hex ids, ULIDs) are held in
/// place: making and cloning one allocates nothing. Longer ones are shared:
/// cloning costs one reference count.
///
/// # Examples
/// ```
/// use ctx::propagation::RequestId;
///
/// let id = RequestId::new("8f2c1a9e-req").unwrap();
/// assert_eq!(id.as_str(), "8f2c1a9e-req");
/// assert!(RequestId::new("two words").is_none());
/// assert_eq!(RequestId::random().as_str().len(), 32);
/// ```
#[derive(Clone)]
pub struct RequestId(Repr);

/// The longest id held in place, in bytes.
const INLINE: usize = 38;

#[derive(Clone)]
enum Repr {
    /// Visible ASCII, `len` bytes of `bytes`.
    Inline {
        len: u8,
        bytes: [u8; INLINE],
    },
    Shared(Arc<str>),
}

impl RequestId {
    /// `id` must be 1 to `MAX_LEN` bytes of visible ASCII.
    fn from_valid(id: &str) -> RequestId {
        let mut bytes = [0; INLINE];
        match (bytes.get_mut(..id.len()), u8::try_from(id.len())) {
            (Some(place), Ok(len)) => {
                place.copy_from_slice(id.as_bytes());
                RequestId(Repr::Inline { len, bytes })
            }
            _ => RequestId(Repr::Shared(Arc::from(id))),
        }
    }
}

impl RequestId {
    /// The longest request id accepted, in bytes. Longer values are ignored
    /// rather than truncated (a truncated id would no longer match the
    /// caller's logs).
    pub const MAX_LEN: usize = 256;

    /// A request id from `id`, as it is; `None` when it is empty, longer
    /// than [`MAX_LEN`](Self::MAX_LEN), or holds anything but visible ASCII
    /// (a space included).
    ///
    /// ```
    /// use ctx::propagation::RequestId;
    ///
    /// assert_eq!(RequestId::new("req-1").unwrap().as_str(), "req-1");
    /// assert!(RequestId::new(" req-1").is_none());
    /// ```
    pub fn new(id: &str) -> Option<Self> {
        Self::valid(id.as_bytes())
    }

    /// A request id from a header value, with the surrounding spaces and
    /// tabs trimmed (as HTTP trims a field's value); then `None` as for
    /// [`new`](Self::new).
    ///
    /// ```
    /// use ctx::propagation::RequestId;
    ///
    /// assert_eq!(RequestId::parse(b" req-1\t").unwrap().as_str(), "req-1");
    /// ```
    pub fn parse(value: &[u8]) -> Option<Self> {
        Self::valid(trim_ows(value))
    }

    fn valid(v: &[u8]) -> Option<Self> {
        if v.is_empty() || v.len() > Self::MAX_LEN || !v.iter().all(|b| b.is_ascii_graphic()) {
            return None;
        }
        std::str::from_utf8(v).ok().map(RequestId::from_valid)
    }

    /// A new random request id: 32 lowercase hex digits from the same
    /// generator as trace ids (see [`TraceId::random`]).
    pub fn random() -> Self {
        Self::from(TraceId::random())
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Only visible ASCII is ever stored, so this never falls back.
            Repr::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or("")
            }
            Repr::Shared(s) => s,
        }
    }

    /// The request id of the current [`Context`](crate::Context), if any.
    ///
    /// # Examples
    /// ```
    /// use ctx::propagation::{RequestId, REQUEST_ID};
    ///
    /// REQUEST_ID.sync_scope(RequestId::new("r-1").unwrap(), || {
    ///     assert_eq!(RequestId::current().unwrap().as_str(), "r-1");
    /// });
    /// ```
    pub fn current() -> Option<Self> {
        REQUEST_ID.get()
    }
}

impl From<TraceId> for RequestId {
    /// The trace id's 32 hex digits, for services that use the trace id as
    /// their request id.
    fn from(id: TraceId) -> Self {
        let mut bytes = [0; INLINE];
        id.encode_hex(&mut bytes[..32]);
        RequestId(Repr::Inline { len: 32, bytes })
    }
}

impl AsRef<str> for RequestId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for RequestId {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for RequestId {}

impl std::hash::Hash for RequestId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialOrd for RequestId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for RequestId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestId({:?})", self.as_str())
    }
}

/// Reads and writes the request id in one header, `x-request-id` unless
/// configured otherwise.
///
/// Extraction takes the first value of the header; an invalid value (see
/// [`RequestId::parse`]) is ignored. Injection writes the request id when
/// there is one.
///
/// # Examples
/// ```
/// use ctx::propagation::{Propagated, Propagator, RequestId, RequestIdPropagator};
/// use http::HeaderMap;
///
/// let propagator = RequestIdPropagator::with_header("X-Correlation-Id");
/// let mut headers = HeaderMap::new();
/// propagator.inject(&Propagated::new().with_request_id(RequestId::new("abc").unwrap()), &mut headers);
/// assert_eq!(headers["x-correlation-id"], "abc");
///
/// let mut remote = Propagated::new();
/// propagator.extract(&headers, &mut remote);
/// assert_eq!(remote.request_id.unwrap().as_str(), "abc");
/// ```
#[derive(Clone, Debug)]
pub struct RequestIdPropagator {
    header: Cow<'static, str>,
}

impl RequestIdPropagator {
    /// Uses the `x-request-id` header.
    pub fn new() -> Self {
        RequestIdPropagator {
            header: Cow::Borrowed(X_REQUEST_ID),
        }
    }

    /// Uses the header `name` (matched case-insensitively). A name that is
    /// not a valid header name reads nothing and writes nothing.
    pub fn with_header(name: impl Into<Cow<'static, str>>) -> Self {
        let name = name.into();
        let header = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(name.to_ascii_lowercase())
        } else {
            name
        };
        RequestIdPropagator { header }
    }

    /// The header name, lowercase.
    pub fn header(&self) -> &str {
        &self.header
    }
}

impl Default for RequestIdPropagator {
    fn default() -> Self {
        Self::new()
    }
}

impl Propagator for RequestIdPropagator {
    fn extract(&self, carrier: &dyn Extractor, into: &mut Propagated) {
        if into.request_id.is_none() {
            into.request_id = carrier.get(&self.header).and_then(RequestId::parse);
        }
    }

    fn inject(&self, from: &Propagated, carrier: &mut dyn Injector) {
        if let Some(id) = &from.request_id {
            carrier.set(&self.header, id.as_str());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ids_are_held_in_place_long_ones_shared() {
        for len in [1, 26, 32, 36, INLINE, INLINE + 1, RequestId::MAX_LEN] {
            let text: String = (0..len)
                .map(|i| char::from(b'a' + (i % 26) as u8))
                .collect();
            let id = RequestId::new(&text).unwrap();
            assert_eq!(id.as_str(), text);
            assert_eq!(id.to_string(), text);
            assert_eq!(matches!(id.0, Repr::Inline { .. }), len <= INLINE, "{len}");
            let copy = id.clone();
            assert_eq!(copy, id);
            assert_eq!(copy.cmp(&id), std::cmp::Ordering::Equal);
        }
        let trace = TraceId::random();
        let from_trace = RequestId::from(trace);
        assert_eq!(from_trace.as_str(), trace.to_string());
        assert!(matches!(from_trace.0, Repr::Inline { len: 32, .. }));
        // Order and equality follow the text, whatever the representation.
        let short = RequestId::new("b").unwrap();
        let long = RequestId::new(&"a".repeat(INLINE + 5)).unwrap();
        assert!(long < short);
        assert_ne!(long, short);
    }

    /// (value, expected, reason)
    const VECTORS: &[(&str, Option<&str>, &str)] = &[
        ("abc-123", Some("abc-123"), "plain id"),
        ("  abc\t", Some("abc"), "OWS is trimmed"),
        (
            "0af7651916cd43dd8448eb211c80319c",
            Some("0af7651916cd43dd8448eb211c80319c"),
            "hex id",
        ),
        (
            "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
            Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"),
            "punctuation is fine",
        ),
        ("", None, "empty"),
        ("   ", None, "whitespace only"),
        ("a b", None, "inner space"),
        ("a\u{7f}", None, "DEL"),
        ("caf\u{e9}", None, "non-ASCII"),
    ];

    #[test]
    fn vectors() {
        for &(value, expected, reason) in VECTORS {
            let got = RequestId::parse(value.as_bytes());
            assert_eq!(got.as_ref().map(RequestId::as_str), expected, "{reason}");
        }
    }

    #[test]
    fn length_limit() {
        assert!(RequestId::new(&"a".repeat(RequestId::MAX_LEN)).is_some());
        assert!(RequestId::new(&"a".repeat(RequestId::MAX_LEN + 1)).is_none());
        // The limit is on the id, not on the padding a header put around it.
        let padded = format!(" {}\t", "a".repeat(RequestId::MAX_LEN));
        assert_eq!(
            RequestId::parse(padded.as_bytes()).map(|id| id.as_str().len()),
            Some(RequestId::MAX_LEN)
        );
        let padded = format!(" {} ", "a".repeat(RequestId::MAX_LEN + 1));
        assert!(RequestId::parse(padded.as_bytes()).is_none());
    }

    #[test]
    fn new_takes_the_id_as_it_is() {
        for id in [" a", "a ", "\ta", "a b"] {
            assert!(RequestId::new(id).is_none(), "{id:?}");
        }
        assert_eq!(RequestId::new("a-1").unwrap().as_str(), "a-1");
    }

    #[test]
    fn extract_first_value_and_keep_existing() {
        let mut h = http::HeaderMap::new();
        h.append("x-request-id", "first".parse().unwrap());
        h.append("x-request-id", "second".parse().unwrap());
        let mut p = Propagated::new();
        RequestIdPropagator::new().extract(&h, &mut p);
        assert_eq!(p.request_id.as_ref().map(RequestId::as_str), Some("first"));

        let mut p = Propagated::new().with_request_id(RequestId::new("kept").unwrap());
        RequestIdPropagator::new().extract(&h, &mut p);
        assert_eq!(p.request_id.as_ref().map(RequestId::as_str), Some("kept"));
    }

    #[test]
    fn invalid_header_name_is_harmless() {
        let p = RequestIdPropagator::with_header("bad name");
        let mut h = http::HeaderMap::new();
        p.inject(
            &Propagated::new().with_request_id(RequestId::random()),
            &mut h,
        );
        assert!(h.is_empty());
        let mut out = Propagated::new();
        p.extract(&h, &mut out);
        assert!(out.request_id.is_none());
    }
}
