//! The hierarchical call id on the wire: [`CallIdPropagator`].

use std::borrow::Cow;

use super::carrier::{Extractor, Injector};
use super::names::X_CALL_ID;
use super::propagated::Propagated;
use super::propagator::{FieldNames, Propagator};
use super::request_id::lowercase;
use crate::call_id::CallId;

/// Reads and writes the hierarchical call id ([`crate::call_id`]) in one
/// header, `x-call-id` unless configured otherwise. Not among the default
/// propagators: add it to both sides' [`Propagators`](super::Propagators)
/// to number a request's calls.
///
/// Extraction takes the first value of the header; when there is none, or
/// it is not a valid id (see [`CallId::parse`]), the work that extracts
/// starts a tree of its own: the call id is the root `0`. Injection writes
/// the call id it is given (the client layers give it the next child of
/// the current one) and otherwise removes the header: an id already in the
/// carrier is another call's.
///
/// # Examples
/// ```
/// use ctx::call_id::CallId;
/// use ctx::propagation::{CallIdPropagator, Propagated, Propagator};
/// use http::HeaderMap;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("x-call-id", "0.2".parse().unwrap());
/// let mut inbound = Propagated::new();
/// CallIdPropagator::new().extract(&headers, &mut inbound);
/// let call = inbound.call_id.unwrap();
/// assert_eq!(call.as_str(), "0.2");
///
/// let mut out = HeaderMap::new();
/// CallIdPropagator::new().inject(&Propagated::new().with_call_id(call.child()), &mut out);
/// assert_eq!(out["x-call-id"], "0.2.1");
///
/// // Nothing came: a new tree.
/// let mut fresh = Propagated::new();
/// CallIdPropagator::new().extract(&HeaderMap::new(), &mut fresh);
/// assert_eq!(fresh.call_id, Some(CallId::root()));
/// ```
#[derive(Clone, Debug)]
pub struct CallIdPropagator {
    header: Cow<'static, str>,
}

impl CallIdPropagator {
    /// Uses the `x-call-id` header.
    pub fn new() -> Self {
        CallIdPropagator {
            header: Cow::Borrowed(X_CALL_ID),
        }
    }

    /// Uses the header `name` (matched case-insensitively; EagleEye's is
    /// `EagleEye-RpcId`). A name that is not a valid header name reads
    /// nothing and writes nothing.
    pub fn with_header(name: impl Into<Cow<'static, str>>) -> Self {
        CallIdPropagator {
            header: lowercase(name.into()),
        }
    }

    /// The header name, lowercase.
    pub fn header(&self) -> &str {
        &self.header
    }
}

impl Default for CallIdPropagator {
    fn default() -> Self {
        Self::new()
    }
}

impl Propagator for CallIdPropagator {
    fn extract(&self, carrier: &dyn Extractor, into: &mut Propagated) {
        if into.call_id.is_none() {
            let inbound = carrier.get(&self.header).and_then(CallId::parse);
            into.call_id = Some(inbound.unwrap_or_else(CallId::root));
        }
    }

    fn inject(&self, from: &Propagated, carrier: &mut dyn Injector) {
        match &from.call_id {
            Some(id) => carrier.set(&self.header, id.as_str()),
            None => carrier.remove(&self.header),
        }
    }

    /// The configured header, lowercase.
    fn fields(&self) -> FieldNames<'_> {
        FieldNames::one(&self.header)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;

    fn extract(values: &[&str]) -> Option<CallId> {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-call-id", v.parse().unwrap());
        }
        let mut p = Propagated::new();
        CallIdPropagator::new().extract(&h, &mut p);
        p.call_id
    }

    #[test]
    fn extraction_takes_the_first_valid_value_or_starts_a_tree() {
        let s = |v: &[&str]| extract(v).map(|c| c.to_string());
        assert_eq!(s(&["0.1.2"]).as_deref(), Some("0.1.2"));
        assert_eq!(s(&[" 0.1 ", "0.9"]).as_deref(), Some("0.1"));
        assert_eq!(s(&[]).as_deref(), Some("0"));
        assert_eq!(s(&["0..1"]).as_deref(), Some("0"), "invalid: a new tree");
        assert_eq!(s(&["x"]).as_deref(), Some("0"));
    }

    #[test]
    fn injection_writes_or_removes() {
        let mut h = HeaderMap::new();
        h.insert("x-call-id", "0.7".parse().unwrap());
        CallIdPropagator::new().inject(&Propagated::new(), &mut h);
        assert!(h.is_empty(), "a stale id is removed");
        let p = CallIdPropagator::with_header("EagleEye-RpcId");
        assert_eq!(p.header(), "eagleeye-rpcid");
        p.inject(&Propagated::new().with_call_id(CallId::root()), &mut h);
        assert_eq!(h["eagleeye-rpcid"], "0");
        assert_eq!(p.fields().collect::<Vec<_>>(), ["eagleeye-rpcid"]);
    }
}
