//! `traceparent`: never panics; whatever parses formats back to a value that
//! parses to the same thing; the propagator agrees with the parser. The
//! input split on NUL bytes also feeds the propagator a `traceparent` field
//! and `tracestate` fields, and what it extracts must inject and extract back
//! equal.
#![no_main]

use ctx::propagation::{Propagated, Propagator, TraceContextPropagator, TraceParent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = TraceParent::parse(data);
    if let Some(tp) = parsed {
        assert!(tp.flags().bits() <= 3, "undefined flag bits are cleared");
        let text = tp.to_bytes();
        assert_eq!(tp.to_string().as_bytes(), &text[..]);
        assert_eq!(TraceParent::parse(&text), Some(tp));
    }

    let propagator = TraceContextPropagator::new();
    let mut headers = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_bytes(data) {
        headers.insert("traceparent", v);
        let mut out = Propagated::new();
        propagator.extract(&headers, &mut out);
        assert_eq!(
            out.trace.map(|t| (t.trace_id(), t.span_id(), t.flags())),
            parsed.map(|p| (p.trace_id(), p.parent_id(), p.flags()))
        );
    }

    // The first NUL-separated field is the `traceparent`, the others are
    // `tracestate` fields.
    let mut fields = data.split(|&b| b == 0);
    let mut headers = http::HeaderMap::new();
    if let Some(Ok(v)) = fields.next().map(http::HeaderValue::from_bytes) {
        headers.append("traceparent", v);
    }
    for field in fields {
        if let Ok(v) = http::HeaderValue::from_bytes(field) {
            headers.append("tracestate", v);
        }
    }
    let mut extracted = Propagated::new();
    propagator.extract(&headers, &mut extracted);
    if let Some(trace) = &extracted.trace {
        let mut out = http::HeaderMap::new();
        propagator.inject(&extracted, &mut out);
        assert_eq!(
            out["traceparent"],
            TraceParent::from(trace).to_string().as_str()
        );
        assert_eq!(out.contains_key("tracestate"), !trace.state().is_empty());
        let mut again = Propagated::new();
        propagator.extract(&out, &mut again);
        assert_eq!(
            again, extracted,
            "inject -> extract round trip through {out:?}"
        );
    }
});
