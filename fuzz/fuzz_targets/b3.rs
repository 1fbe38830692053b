//! B3: the whole input as a single `b3` header; then the input split on NUL
//! bytes, its first field as a `b3` header and the others as the `X-B3-*`
//! headers, the multi form parsed alone and then both in one `HeaderMap`
//! through the propagator. Never panics; what parses carries at
//! most the `sampled` flag and no trace state, and formats back to the same
//! context in either encoding.
#![no_main]

use ctx::propagation::{B3Encoding, B3Propagator, Propagated, Propagator};
use ctx::trace::{TraceContext, TraceFlags};
use libfuzzer_sys::fuzz_target;

fn round_trip(trace: TraceContext) {
    assert_eq!(
        trace.flags(),
        trace.flags().known() & TraceFlags::SAMPLED,
        "B3 carries only `sampled`"
    );
    assert!(trace.state().is_empty());
    let both = B3Propagator::with_encoding(B3Encoding::SingleAndMulti);
    let mut headers = http::HeaderMap::new();
    both.inject(&Propagated::new().with_trace(trace.clone()), &mut headers);
    let mut extracted = Propagated::new();
    B3Propagator::new().extract(&headers, &mut extracted);
    assert_eq!(extracted.trace.as_ref(), Some(&trace));
    let single = B3Propagator::parse_single(headers["b3"].as_bytes());
    assert_eq!(single.as_ref(), Some(&trace));
    headers.remove("b3");
    assert_eq!(B3Propagator::parse_multi(&headers), Some(trace));
}

fuzz_target!(|data: &[u8]| {
    if let Some(trace) = B3Propagator::parse_single(data) {
        round_trip(trace);
    }

    // The input split on NUL bytes: the first field as a `b3` header, the
    // others as the `X-B3-*` headers, so that both encodings can be present.
    let mut fields = data.split(|&b| b == 0);
    let single = fields.next().unwrap_or_default();
    let names = [
        "x-b3-traceid",
        "x-b3-spanid",
        "x-b3-parentspanid",
        "x-b3-sampled",
        "x-b3-flags",
    ];
    let mut headers = http::HeaderMap::new();
    for (name, value) in names.iter().zip(fields) {
        if let Ok(v) = http::HeaderValue::from_bytes(value) {
            headers.insert(*name, v);
        }
    }
    if let Some(trace) = B3Propagator::parse_multi(&headers) {
        round_trip(trace);
    }

    // Both encodings at once: the single header wins when it is valid, the
    // propagator falls back to `X-B3-*` otherwise.
    if let Ok(v) = http::HeaderValue::from_bytes(single) {
        headers.insert("b3", v);
    }
    let mut extracted = Propagated::new();
    B3Propagator::new().extract(&headers, &mut extracted);
    let expected = headers
        .get("b3")
        .and_then(|v| B3Propagator::parse_single(v.as_bytes()))
        .or_else(|| {
            headers.remove("b3");
            B3Propagator::parse_multi(&headers)
        });
    assert_eq!(extracted.trace, expected);
    if let Some(trace) = extracted.trace {
        round_trip(trace);
    }
});
