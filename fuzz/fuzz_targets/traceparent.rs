//! `traceparent`: never panics; whatever parses formats back to a value that
//! parses to the same thing; the propagator agrees with the parser.
#![no_main]

use ctx::propagation::{Propagated, Propagator, TraceContextPropagator, TraceParent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = TraceParent::parse(data);
    if let Some(tp) = parsed {
        assert!(tp.flags.bits() <= 3, "undefined flag bits are cleared");
        let text = tp.to_bytes();
        assert_eq!(TraceParent::parse(&text), Some(tp));
    }

    let mut headers = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_bytes(data) {
        headers.insert("traceparent", v);
        let mut out = Propagated::new();
        TraceContextPropagator::new().extract(&headers, &mut out);
        assert_eq!(
            out.trace.map(|t| (t.trace_id, t.span_id, t.flags)),
            parsed.map(|p| (p.trace_id, p.parent_id, p.flags))
        );
    }
});
