//! ctx's propagators where opentelemetry expects a `TextMapPropagator`.

use opentelemetry::baggage::{Baggage as OtelBaggage, BaggageExt};
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{
    Extractor as OtelExtractor, Injector as OtelInjector, TextMapPropagator,
};
use opentelemetry::trace::{SpanContext, TraceContextExt};
use opentelemetry::Context as OtelContext;

use super::carrier::OtelCarrier;
use crate::context::Context;
use crate::model::{Baggage, RequestId, SpanId, TraceContext, TraceFlags, TraceId};
use crate::propagation::{Injector, Propagated, Propagator, Propagators};

/// A ctx [`Propagator`] (by default the [`Propagators`] list: W3C trace
/// context and baggage, B3, request id) as an opentelemetry
/// [`TextMapPropagator`]: set it with
/// `opentelemetry::global::set_text_map_propagator`, and every
/// opentelemetry instrumentation reads and writes ctx's formats, with ctx's
/// parsers and limits.
///
/// - **Inject** writes, from the given opentelemetry context, its span (as
///   it is: the span of the outgoing call, when the instrumentation made
///   one) and its baggage; when it has no span, the trace context of the
///   current ctx [`Context`]. The baggage is the current ctx context's,
///   with the opentelemetry context's members added (they win on the same
///   key). The request id is the current ctx context's.
/// - **Extract** returns the given context with the caller's span as its
///   remote parent, the baggage (in opentelemetry's form), and the request
///   id as a value ([`RequestId`], read with `cx.get::<RequestId>()`).
/// - **Fields** are every header name the propagator writes or clears, found
///   once when the adapter is made.
///
/// # Examples
///
/// What ctx writes, opentelemetry's own W3C propagator reads:
///
/// ```
/// use std::collections::HashMap;
/// use ctx::otel::TextMap;
/// use ctx::trace::TraceContext;
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::trace::{SpanContext, TraceContextExt};
/// use opentelemetry_sdk::propagation::TraceContextPropagator;
///
/// let span = TraceContext::new_root();
/// let cx = opentelemetry::Context::new().with_remote_span_context(SpanContext::from(&span));
/// let mut headers: HashMap<String, String> = HashMap::new();
/// TextMap::default().inject_context(&cx, &mut headers);
///
/// let read = TraceContextPropagator::new().extract(&headers);
/// assert_eq!(read.span().span_context().span_id().to_bytes(), span.span_id().to_bytes());
/// assert!(TextMap::default().fields().any(|f| f == "traceparent"));
/// ```
#[derive(Clone, Debug)]
pub struct TextMap<P = Propagators> {
    inner: P,
    fields: Vec<String>,
}

impl<P: Propagator> TextMap<P> {
    /// The adapter over `propagator`.
    pub fn new(propagator: P) -> TextMap<P> {
        let fields = fields_of(&propagator);
        TextMap {
            inner: propagator,
            fields,
        }
    }

    /// The ctx propagator inside.
    pub fn get_ref(&self) -> &P {
        &self.inner
    }

    /// The ctx propagator inside, taken out.
    pub fn into_inner(self) -> P {
        self.inner
    }
}

impl Default for TextMap<Propagators> {
    /// The adapter over the default [`Propagators`].
    fn default() -> Self {
        TextMap::new(Propagators::new())
    }
}

impl<P: Propagator> TextMapPropagator for TextMap<P> {
    fn inject_context(&self, cx: &OtelContext, injector: &mut dyn OtelInjector) {
        self.inner.inject(&outbound(cx), &mut OtelCarrier(injector));
    }

    fn extract_with_context(&self, cx: &OtelContext, extractor: &dyn OtelExtractor) -> OtelContext {
        let mut inbound = Propagated::new();
        self.inner.extract(&OtelCarrier(extractor), &mut inbound);
        with_inbound(cx, inbound)
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}

/// What an injection of `cx` sends (see [`TextMap`]).
fn outbound(cx: &OtelContext) -> Propagated {
    let mut fields = Propagated::from_context(&Context::current());
    if let Ok(span) = TraceContext::try_from(cx.span().span_context()) {
        fields.trace = Some(span);
    }
    let theirs = cx.baggage();
    if !theirs.is_empty() {
        fields.baggage.extend(Baggage::from(theirs).iter().cloned());
    }
    fields
}

/// `cx` with what an extraction found (see [`TextMap`]).
fn with_inbound(cx: &OtelContext, inbound: Propagated) -> OtelContext {
    let mut out = match &inbound.trace {
        Some(caller) => cx.with_remote_span_context(SpanContext::from(caller)),
        None => cx.clone(),
    };
    if !inbound.baggage.is_empty() {
        out = out.with_baggage(OtelBaggage::from(&inbound.baggage));
    }
    if let Some(id) = inbound.request_id {
        out = out.with_value(id);
    }
    out
}

/// Every field `propagator` writes or clears: what it touches when it
/// injects every kind of value there is.
fn fields_of(propagator: &dyn Propagator) -> Vec<String> {
    struct Names(Vec<String>);
    impl Injector for Names {
        fn set(&mut self, name: &str, _value: &str) {
            self.remove(name);
        }
        fn remove(&mut self, name: &str) {
            if !self.0.iter().any(|n| n == name) {
                self.0.push(name.to_owned());
            }
        }
    }
    let mut names = Names(Vec::new());
    // With a parent span and a trace state, then without: formats write
    // some fields only for one of the two (B3's parent span id).
    let ids = (
        TraceId::from_u128(1),
        SpanId::from_u64(2),
        SpanId::from_u64(3),
    );
    if let (Some(trace_id), Some(span_id), Some(parent)) = ids {
        let mut full = TraceContext::new(trace_id, span_id, TraceFlags::SAMPLED)
            .with_parent_span_id(Some(parent));
        let _ = full.state_mut().insert("k", "v");
        let bare = TraceContext::new(trace_id, span_id, TraceFlags::NONE);
        let mut baggage = Baggage::new();
        let _ = baggage.insert("k", "v");
        let request_id = RequestId::new("r");
        for trace in [full, bare] {
            let mut fields = Propagated::new()
                .with_trace(trace)
                .with_baggage(baggage.clone());
            fields.request_id.clone_from(&request_id);
            propagator.inject(&fields, &mut names);
        }
    }
    names.0
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::propagation::{B3Propagator, TraceContextPropagator};

    #[test]
    fn fields_cover_every_format_written() {
        let fields: Vec<String> = TextMap::default().fields().map(str::to_owned).collect();
        for name in ["traceparent", "tracestate", "baggage", "b3", "x-request-id"] {
            assert!(fields.iter().any(|f| f == name), "{name} in {fields:?}");
        }
        let multi = TextMap::new(Propagators::empty().with(B3Propagator::multi()));
        let fields: Vec<&str> = multi.fields().collect();
        for name in [
            "x-b3-traceid",
            "x-b3-spanid",
            "x-b3-parentspanid",
            "x-b3-sampled",
        ] {
            assert!(fields.contains(&name), "{name} in {fields:?}");
        }
        let w3c = TextMap::new(TraceContextPropagator::new());
        assert_eq!(
            w3c.fields().collect::<Vec<_>>(),
            ["traceparent", "tracestate"]
        );
    }

    #[test]
    fn inject_takes_the_span_of_the_given_context_else_ctx_s() {
        let ours = TraceContext::new_root();
        let theirs = TraceContext::new_root();
        let cx = OtelContext::new().with_remote_span_context(SpanContext::from(&theirs));
        let sent = |cx: &OtelContext| {
            let mut map: HashMap<String, String> = HashMap::new();
            ours.clone()
                .sync_scope(|| TextMap::default().inject_context(cx, &mut map));
            map["traceparent"].clone()
        };
        assert!(sent(&cx).contains(&theirs.span_id().to_string()));
        assert!(sent(&OtelContext::new()).contains(&ours.span_id().to_string()));
    }

    #[test]
    fn baggage_and_request_id_travel_both_ways() {
        let mut map: HashMap<String, String> = HashMap::new();
        let cx = OtelContext::new().with_baggage([opentelemetry::KeyValue::new("theirs", "2")]);
        let id = RequestId::new("req-7").unwrap();
        crate::baggage::sync_scope("ours", "1", || {
            Context::current()
                .with(&crate::propagation::REQUEST_ID, id.clone())
                .run(|| TextMap::default().inject_context(&cx, &mut map));
        });
        assert_eq!(map["baggage"], "ours=1,theirs=2");
        assert_eq!(map["x-request-id"], "req-7");

        let back = TextMap::default().extract_with_context(&OtelContext::new(), &map);
        assert_eq!(back.baggage().get("ours").map(|v| v.as_str()), Some("1"));
        assert_eq!(back.get::<RequestId>(), Some(&id));
        assert!(!back.has_active_span(), "no traceparent was sent");
    }
}
