//! Reading and writing the trace context, baggage and request id on the
//! wire.
//!
//! - [`Extractor`] and [`Injector`] adapt a carrier: they are implemented for
//!   [`http::HeaderMap`], and a few lines adapt gRPC metadata or
//!   message-broker headers.
//! - A [`Propagator`] reads one format from an extractor into a
//!   [`Propagated`] and writes it from a [`Propagated`] into an injector:
//!   [`TraceContextPropagator`] (W3C `traceparent` and `tracestate`, Level 2),
//!   [`BaggagePropagator`] (W3C `baggage`), [`B3Propagator`] (`b3` and
//!   `X-B3-*`) and [`RequestIdPropagator`] (`x-request-id` or another
//!   header).
//! - [`Propagators`] combines them: on extract, each format fills only what
//!   the formats before it left empty, so the first one present wins; on
//!   inject, every format writes. The default order is W3C trace context,
//!   W3C baggage, B3, request id.
//!
//! Bad input never fails a request and never panics: an invalid value is
//! dropped as the specification of its format says, and the rest is kept.
//! Every parser checks the input size before it does any work.
//!
//! # Examples
//! ```
//! use ctx::propagation::{Propagated, Propagators};
//! use http::HeaderMap;
//!
//! let propagators = Propagators::new();
//!
//! // A server reads the caller's context...
//! let mut inbound = HeaderMap::new();
//! inbound.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
//! inbound.insert("baggage", "userId=alice".parse().unwrap());
//! let remote = propagators.extract(&inbound);
//! let caller = remote.trace.as_ref().unwrap();
//! assert_eq!(caller.span_id().to_string(), "00f067aa0ba902b7");
//! assert_eq!(remote.baggage.get("userId"), Some("alice"));
//!
//! // ...starts its own span as a child of the caller's...
//! let server = caller.child();
//!
//! // ...and passes it on to the services it calls.
//! let mut outbound_fields = remote.clone();
//! outbound_fields.trace = Some(server.clone());
//! let mut outbound = HeaderMap::new();
//! propagators.inject(&outbound_fields, &mut outbound);
//! assert_eq!(
//!     outbound["traceparent"],
//!     format!("00-{}-{}-01", server.trace_id(), server.span_id()).as_str(),
//! );
//! assert_eq!(outbound["baggage"], "userId=alice");
//! ```

use std::fmt;
use std::sync::{Arc, OnceLock};

use http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::baggage::{Baggage, BAGGAGE};
use crate::context::Entry;
use crate::trace::{TraceContext, TRACE_CONTEXT};
use crate::Context;

mod b3;
mod baggage;
mod index;
mod request_id;
mod traceparent;

pub use self::b3::{B3Encoding, B3Propagator};
pub use self::baggage::BaggagePropagator;
pub use self::request_id::RequestIdPropagator;
pub use self::traceparent::{TraceContextPropagator, TraceParent};
pub use crate::model::RequestId;
pub use crate::value::REQUEST_ID;

#[cfg(feature = "http")]
pub(crate) use self::index::HeaderIndex;

/// Header names used by the propagators, lowercase as the specifications
/// recommend (carriers match names case-insensitively).
pub mod names {
    /// W3C Trace Context.
    pub const TRACEPARENT: &str = "traceparent";
    /// W3C Trace Context.
    pub const TRACESTATE: &str = "tracestate";
    /// W3C Baggage.
    pub const BAGGAGE: &str = "baggage";
    /// B3 single header.
    pub const B3: &str = "b3";
    /// B3 multi header: the trace id.
    pub const X_B3_TRACE_ID: &str = "x-b3-traceid";
    /// B3 multi header: the span id.
    pub const X_B3_SPAN_ID: &str = "x-b3-spanid";
    /// B3 multi header: the parent span id.
    pub const X_B3_PARENT_SPAN_ID: &str = "x-b3-parentspanid";
    /// B3 multi header: the sampling decision.
    pub const X_B3_SAMPLED: &str = "x-b3-sampled";
    /// B3 multi header: the debug flag.
    pub const X_B3_FLAGS: &str = "x-b3-flags";
    /// The default request-id header.
    pub const X_REQUEST_ID: &str = "x-request-id";
}

/// Read access to a carrier of named text fields, such as HTTP headers.
///
/// Names passed in are lowercase ASCII; implementations must match them
/// case-insensitively (as [`http::HeaderMap`] does). Values are raw bytes:
/// a header value need not be UTF-8, and the parsers reject what they do
/// not understand.
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
    /// write this time (no `tracestate` to send, no parent span), so that a
    /// value already in the carrier is not sent beside a trace it does not
    /// belong to. The default does nothing, which is right for carriers that
    /// start empty.
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

/// Every header name a propagator of ctx reads or writes, in the order of
/// [`known_index`].
static KNOWN_HEADERS: [HeaderName; 10] = [
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
];

/// `name`'s place in [`KNOWN_HEADERS`].
fn known_index(name: &str) -> Option<usize> {
    Some(match name {
        names::TRACEPARENT => 0,
        names::TRACESTATE => 1,
        names::BAGGAGE => 2,
        names::B3 => 3,
        names::X_B3_TRACE_ID => 4,
        names::X_B3_SPAN_ID => 5,
        names::X_B3_PARENT_SPAN_ID => 6,
        names::X_B3_SAMPLED => 7,
        names::X_B3_FLAGS => 8,
        names::X_REQUEST_ID => 9,
        _ => return None,
    })
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

    fn remove(&mut self, name: &str) {
        if self.is_empty() {
            return;
        }
        if let Some(name) = header_name(name) {
            HeaderMap::remove(self, name);
        }
    }
}

/// The header name for `name`, without allocating for the names ctx uses.
fn header_name(name: &str) -> Option<HeaderName> {
    match known_header(name) {
        Some(name) => Some(name.clone()),
        None => HeaderName::from_bytes(name.as_bytes()).ok(),
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

/// What travels between services: the caller's trace context, the baggage
/// and the request id.
///
/// [`Propagators::extract`] fills it from an inbound carrier and
/// [`Propagators::inject`] writes it to an outbound one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Propagated {
    /// The trace context. After extraction it is the *remote parent*: its
    /// `span_id` is the caller's span, so a server starts its own span with
    /// [`TraceContext::child`]. `None` when no format carried a valid one, in
    /// which case the server starts a new trace.
    pub trace: Option<TraceContext>,
    /// The baggage, empty when none was carried.
    pub baggage: Baggage,
    /// The request id, if one was carried.
    pub request_id: Option<RequestId>,
    /// A sampling decision that came without a trace context (B3's `b3: 0`
    /// alone, or `x-b3-sampled` without ids): a caller that asks not to be
    /// traced. A server that starts a new trace takes it; `None` when no
    /// such decision came, or when `trace` carries the decision.
    pub sampled: Option<bool>,
}

impl Propagated {
    /// Nothing: no trace context, no baggage, no request id.
    pub fn new() -> Self {
        Self::default()
    }

    /// The trace context, baggage and request id of the current
    /// [`Context`]: what an outgoing call sends. Cheap: each
    /// field is a copy or a reference count.
    ///
    /// The trace context is sent as it is; a client that records its own
    /// span for the call sets `trace` to
    /// [`TraceContext::child_of_current`] first.
    ///
    /// # Examples
    /// ```
    /// use ctx::propagation::{Propagated, Propagators};
    /// use ctx::trace::TraceContext;
    ///
    /// let mut headers = http::HeaderMap::new();
    /// TraceContext::new_root().sync_scope(|| {
    ///     ctx::baggage::sync_scope("user", "alice", || {
    ///         Propagators::new().inject(&Propagated::current(), &mut headers);
    ///     });
    /// });
    /// assert!(headers.contains_key("traceparent"));
    /// assert_eq!(headers["baggage"], "user=alice");
    /// ```
    pub fn current() -> Self {
        Self::from_context(&Context::current())
    }

    /// The trace context, baggage and request id held by `cx`.
    pub fn from_context(cx: &Context) -> Self {
        Propagated {
            trace: cx.get(&TRACE_CONTEXT).cloned(),
            baggage: cx.get(&BAGGAGE).cloned().unwrap_or_default(),
            request_id: cx.get(&REQUEST_ID).cloned(),
            sampled: None,
        }
    }

    /// `cx` with these fields stored under [`TRACE_CONTEXT`], [`BAGGAGE`]
    /// and [`REQUEST_ID`] (the fields that are empty leave `cx`'s values as
    /// they are).
    ///
    /// A server usually replaces `trace` with a child first, so that the
    /// context holds its own span rather than the caller's.
    ///
    /// The new snapshot's table is built once, whatever the number of
    /// fields, and holds the trace context and the request id itself: one
    /// allocation, plus one for the baggage when it is present.
    pub fn to_context(&self, cx: &Context) -> Context {
        self.clone().into_context(cx)
    }

    /// `cx` with a request's values: its server span `trace` and these
    /// fields' baggage and request id, one that is empty here being removed
    /// from `cx` rather than inherited, so that a request seeded inside
    /// another request's context (an in-process call, a server started in a
    /// scope) never carries that request's baggage or id. The other values
    /// of `cx` are kept.
    #[cfg(feature = "http")]
    #[inline]
    pub(crate) fn replace_in(mut self, trace: TraceContext, cx: &Context) -> Context {
        if cx.is_empty() && self.baggage.is_empty() {
            return Context::of_request(trace, self.request_id);
        }
        self.trace = Some(trace);
        let mut base: Option<Context> = None;
        if self.baggage.is_empty() && cx.contains(&BAGGAGE) {
            base = Some(base.as_ref().unwrap_or(cx).without(&BAGGAGE));
        }
        if self.request_id.is_none() && cx.contains(&REQUEST_ID) {
            base = Some(base.as_ref().unwrap_or(cx).without(&REQUEST_ID));
        }
        self.into_context(base.as_ref().unwrap_or(cx))
    }

    /// [`to_context`](Propagated::to_context), moving the fields in.
    pub(crate) fn into_context(self, cx: &Context) -> Context {
        let Propagated {
            trace,
            baggage,
            request_id,
            sampled: _,
        } = self;
        if trace.is_none() && baggage.is_empty() && request_id.is_none() {
            return cx.clone();
        }
        cx.with_entries([
            trace.map(|t| Entry::new(&TRACE_CONTEXT, t)),
            (!baggage.is_empty()).then(|| Entry::new(&BAGGAGE, baggage)),
            request_id.map(|id| Entry::new(&REQUEST_ID, id)),
        ])
    }

    /// These fields with the trace context set.
    #[must_use]
    pub fn with_trace(mut self, trace: TraceContext) -> Self {
        self.trace = Some(trace);
        self
    }

    /// These fields with the baggage set.
    #[must_use]
    pub fn with_baggage(mut self, baggage: Baggage) -> Self {
        self.baggage = baggage;
        self
    }

    /// These fields with a bare sampling decision set (see
    /// [`sampled`](Propagated::sampled)).
    #[must_use]
    pub fn with_sampled(mut self, sampled: bool) -> Self {
        self.sampled = Some(sampled);
        self
    }

    /// These fields with the request id set.
    #[must_use]
    pub fn with_request_id(mut self, request_id: RequestId) -> Self {
        self.request_id = Some(request_id);
        self
    }
}

/// One wire format: reads it from a carrier and writes it to one.
///
/// # Contract
/// - `extract` fills only the fields of `into` that are still empty (no
///   trace context, empty baggage, no request id), so that in a
///   [`Propagators`] list the first format present wins. Invalid input
///   leaves `into` unchanged.
/// - `inject` writes the fields it knows about when they are set, and
///   nothing otherwise.
/// - Neither panics, whatever the carrier holds.
pub trait Propagator: fmt::Debug + Send + Sync + 'static {
    /// Reads this format from `carrier` into the empty fields of `into`.
    fn extract(&self, carrier: &dyn Extractor, into: &mut Propagated);

    /// Writes this format from `from` into `carrier`.
    fn inject(&self, from: &Propagated, carrier: &mut dyn Injector);
}

/// An ordered list of propagators used as one.
///
/// On extract, the propagators run in order and each fills only what the
/// ones before it left empty. On inject, every propagator writes its format.
///
/// # Examples
/// ```
/// use ctx::propagation::{B3Propagator, Propagated, Propagators, TraceContextPropagator};
/// use ctx::trace::TraceContext;
/// use http::HeaderMap;
///
/// // Prefer B3, fall back to W3C, and write both.
/// let propagators = Propagators::empty()
///     .with(B3Propagator::multi())
///     .with(TraceContextPropagator::new());
///
/// let mut headers = HeaderMap::new();
/// propagators.inject(&Propagated::new().with_trace(TraceContext::new_root()), &mut headers);
/// assert!(headers.contains_key("x-b3-traceid"));
/// assert!(headers.contains_key("traceparent"));
/// ```
#[derive(Clone, Debug)]
pub struct Propagators {
    list: Vec<Arc<dyn Propagator>>,
}

impl Propagators {
    /// The default list: [`TraceContextPropagator`], [`BaggagePropagator`],
    /// [`B3Propagator`] (reads both B3 encodings, writes the single `b3`
    /// header) and [`RequestIdPropagator`] (`x-request-id`).
    pub fn new() -> Self {
        Self::empty()
            .with(TraceContextPropagator::new())
            .with(BaggagePropagator::new())
            .with(B3Propagator::new())
            .with(RequestIdPropagator::new())
    }

    /// An empty list, to build with [`with`](Self::with).
    pub fn empty() -> Self {
        Propagators { list: Vec::new() }
    }

    /// This list with `propagator` added last.
    #[must_use]
    pub fn with(mut self, propagator: impl Propagator) -> Self {
        self.list.push(Arc::new(propagator));
        self
    }

    /// Reads every configured format from `carrier`.
    pub fn extract(&self, carrier: &dyn Extractor) -> Propagated {
        let mut out = Propagated::default();
        Propagator::extract(self, carrier, &mut out);
        out
    }

    /// Writes every configured format into `carrier`.
    pub fn inject(&self, from: &Propagated, carrier: &mut dyn Injector) {
        Propagator::inject(self, from, carrier);
    }
}

impl Default for Propagators {
    fn default() -> Self {
        Self::new()
    }
}

impl Propagator for Propagators {
    fn extract(&self, carrier: &dyn Extractor, into: &mut Propagated) {
        for p in &self.list {
            p.extract(carrier, into);
        }
    }

    fn inject(&self, from: &Propagated, carrier: &mut dyn Injector) {
        for p in &self.list {
            p.inject(from, carrier);
        }
    }
}

pub(crate) fn default_propagators() -> &'static Propagators {
    static DEFAULT: OnceLock<Propagators> = OnceLock::new();
    DEFAULT.get_or_init(Propagators::new)
}

/// Reads `carrier` with the default [`Propagators`].
///
/// # Examples
/// ```
/// let mut headers = http::HeaderMap::new();
/// headers.insert("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1".parse().unwrap());
/// let remote = ctx::propagation::extract(&headers);
/// assert_eq!(remote.trace.unwrap().trace_id().to_string(), "80f198ee56343ba864fe8b2a57d3eff7");
/// ```
pub fn extract(carrier: &dyn Extractor) -> Propagated {
    default_propagators().extract(carrier)
}

/// Writes `from` into `carrier` with the default [`Propagators`].
pub fn inject(from: &Propagated, carrier: &mut dyn Injector) {
    default_propagators().inject(from, carrier);
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
    use crate::trace::{SpanId, TraceFlags, TraceId};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        header_map(pairs)
    }

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const B3: &str = "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1";

    type Headers = &'static [(&'static str, &'static str)];

    /// (headers, expected trace id, reason)
    const COMPOSITE: &[(Headers, Option<&str>, &str)] = &[
        (
            &[("traceparent", TP)],
            Some("4bf92f3577b34da6a3ce929d0e0e4736"),
            "W3C alone",
        ),
        (
            &[("b3", B3)],
            Some("80f198ee56343ba864fe8b2a57d3eff7"),
            "B3 alone",
        ),
        (
            &[("traceparent", TP), ("b3", B3)],
            Some("4bf92f3577b34da6a3ce929d0e0e4736"),
            "W3C first in the default order",
        ),
        (
            &[("traceparent", "garbage"), ("b3", B3)],
            Some("80f198ee56343ba864fe8b2a57d3eff7"),
            "invalid W3C falls back to B3",
        ),
        (
            &[("traceparent", TP), ("traceparent", TP), ("b3", B3)],
            Some("80f198ee56343ba864fe8b2a57d3eff7"),
            "duplicate traceparent is invalid, B3 is next",
        ),
        (
            &[("TraceParent", TP)],
            Some("4bf92f3577b34da6a3ce929d0e0e4736"),
            "mixed-case names on the wire (HeaderMap lowercases them, as hyper does)",
        ),
        (&[], None, "nothing to extract"),
    ];

    #[test]
    fn composite_order() {
        let p = Propagators::new();
        for &(pairs, expected, reason) in COMPOSITE {
            let got = p
                .extract(&headers(pairs))
                .trace
                .map(|t| t.trace_id().to_string());
            assert_eq!(got.as_deref(), expected, "{reason}");
        }
    }

    #[test]
    fn default_inject_writes_every_format() {
        let mut trace = TraceContext::new(
            TraceId::from_u128(0x4bf92f3577b34da6a3ce929d0e0e4736).unwrap(),
            SpanId::from_u64(0x00f067aa0ba902b7).unwrap(),
            TraceFlags::SAMPLED,
        )
        .with_state("congo=t61rcWkgMzE".parse().unwrap());
        trace
            .state_mut()
            .insert("rojo", "00f067aa0ba902b7")
            .unwrap();
        let mut baggage = Baggage::new();
        baggage.insert("k", "v").unwrap();
        let fields = Propagated::new()
            .with_trace(trace)
            .with_baggage(baggage)
            .with_request_id(RequestId::new("req-1").unwrap());
        let mut h = HeaderMap::new();
        inject(&fields, &mut h);
        assert_eq!(h["traceparent"], TP);
        assert_eq!(h["tracestate"], "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
        assert_eq!(h["baggage"], "k=v");
        assert_eq!(
            h["b3"],
            "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1"
        );
        assert_eq!(h["x-request-id"], "req-1");
        assert_eq!(
            extract(&h),
            fields,
            "what is injected extracts back the same"
        );
    }

    #[test]
    fn context_round_trip() {
        let fields = Propagated::new()
            .with_trace(TraceContext::new_root())
            .with_baggage("k=v".parse().unwrap())
            .with_request_id(RequestId::random());
        let cx = fields.to_context(&Context::new());
        assert_eq!(Propagated::from_context(&cx), fields);
        cx.run(|| assert_eq!(Propagated::current(), fields));
        assert_eq!(Propagated::current(), Propagated::new());
        assert_eq!(Propagated::new().to_context(&Context::new()).len(), 0);
    }

    #[test]
    fn empty_fields_inject_nothing() {
        let mut h = HeaderMap::new();
        inject(&Propagated::new(), &mut h);
        assert!(h.is_empty());
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
