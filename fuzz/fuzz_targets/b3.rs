//! B3: the whole input as a single `b3` header, and the input split on NUL
//! bytes as the `X-B3-*` headers. Never panics; what parses formats back to
//! the same context.
#![no_main]

use ctx::propagation::{B3Encoding, B3Propagator, Propagated, Propagator};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let both = B3Propagator::with_encoding(B3Encoding::SingleAndMulti);
    let round_trip = |trace: ctx::trace::TraceContext| {
        let mut headers = http::HeaderMap::new();
        both.inject(&Propagated::new().with_trace(trace.clone()), &mut headers);
        let single = B3Propagator::parse_single(headers["b3"].as_bytes());
        assert_eq!(single.as_ref(), Some(&trace));
        headers.remove("b3");
        assert_eq!(B3Propagator::parse_multi(&headers), Some(trace));
    };

    if let Some(trace) = B3Propagator::parse_single(data) {
        round_trip(trace);
    }

    let names = [
        "x-b3-traceid",
        "x-b3-spanid",
        "x-b3-parentspanid",
        "x-b3-sampled",
        "x-b3-flags",
    ];
    let mut headers = http::HeaderMap::new();
    for (name, value) in names.iter().zip(data.split(|&b| b == 0)) {
        if let Ok(v) = http::HeaderValue::from_bytes(value) {
            headers.insert(*name, v);
        }
    }
    if let Some(trace) = B3Propagator::parse_multi(&headers) {
        round_trip(trace);
    }
});
