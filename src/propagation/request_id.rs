//! The request id on the wire: [`RequestIdPropagator`] reads and writes it
//! in one header (`x-request-id` by default), and [`RequestId::parse`] reads
//! a header value into one.

use std::borrow::Cow;

use super::carrier::{Extractor, Injector};
use super::names::X_REQUEST_ID;
use super::propagated::Propagated;
use super::propagator::{FieldNames, Propagator};
use crate::model::{trim_ows, RequestId};

impl RequestId {
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
}

/// Reads and writes the request id in one header, `x-request-id` unless
/// configured otherwise.
///
/// Extraction takes the first value of the header; an invalid value (see
/// [`RequestId::parse`]) is ignored. Injection writes the request id when
/// there is one, and otherwise removes the header from the carrier: an id
/// already there belongs to another request.
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
        RequestIdPropagator {
            header: lowercase(name.into()),
        }
    }

    /// The header name, lowercase.
    pub fn header(&self) -> &str {
        &self.header
    }
}

/// A header name in lowercase, copied only when it has an uppercase letter.
pub(super) fn lowercase(name: Cow<'static, str>) -> Cow<'static, str> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        name
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
        match &from.request_id {
            Some(id) => carrier.set(&self.header, id.as_str()),
            // No id to send: one already in the carrier is another
            // request's.
            None => carrier.remove(&self.header),
        }
    }

    /// The configured header, lowercase (see [`header`](Self::header)).
    fn fields(&self) -> FieldNames<'_> {
        FieldNames::one(&self.header)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn fields_are_the_configured_header() {
        let names = |p: &RequestIdPropagator| p.fields().collect::<Vec<_>>().join(",");
        assert_eq!(names(&RequestIdPropagator::new()), "x-request-id");
        assert_eq!(
            names(&RequestIdPropagator::with_header("X-Correlation-Id")),
            "x-correlation-id"
        );
        assert_eq!(
            names(&RequestIdPropagator::with_header(String::from("x-owned"))),
            "x-owned"
        );
    }

    #[test]
    fn inject_removes_an_id_that_is_not_the_contexts() {
        let stale = || {
            let mut h = http::HeaderMap::new();
            h.insert("x-request-id", "another".parse().unwrap());
            h.insert("x-correlation-id", "another".parse().unwrap());
            h
        };
        let mut h = stale();
        RequestIdPropagator::new().inject(&Propagated::new(), &mut h);
        assert!(!h.contains_key("x-request-id"), "{h:?}");
        assert_eq!(h["x-correlation-id"], "another", "not this propagator's");

        let mut h = stale();
        RequestIdPropagator::with_header("X-Correlation-Id").inject(&Propagated::new(), &mut h);
        assert!(!h.contains_key("x-correlation-id"), "{h:?}");
        assert_eq!(h["x-request-id"], "another", "not this propagator's");

        let mut h = stale();
        RequestIdPropagator::with_header("bad name").inject(&Propagated::new(), &mut h);
        assert_eq!(h.len(), 2, "an invalid name removes nothing");

        let mut h = stale();
        let fields = Propagated::new().with_request_id(RequestId::new("this").unwrap());
        RequestIdPropagator::new().inject(&fields, &mut h);
        assert_eq!(h["x-request-id"], "this");
    }
}
