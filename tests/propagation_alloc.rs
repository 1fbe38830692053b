//! The wire-format parsers allocate nothing on the happy path where the
//! format allows it, and a stated, fixed number of times where it does not.
//!
//! One test in its own binary: the counting allocator is global, and no other
//! test may allocate while it counts.

use ctx::propagation::{
    B3Propagator, Propagated, Propagator, Propagators, RequestIdPropagator, TraceContextPropagator,
    TraceParent,
};
use ctx::trace::{TraceContext, TraceState};
use http::HeaderMap;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn allocations<R>(f: impl FnOnce() -> R) -> (u64, R) {
    let before = dhat::HeapStats::get().total_blocks;
    let r = f();
    (dhat::HeapStats::get().total_blocks - before, r)
}

const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(*k, v.parse().unwrap());
    }
    h
}

fn extract_w3c(h: &HeaderMap) -> Propagated {
    let mut p = Propagated::new();
    TraceContextPropagator::new().extract(h, &mut p);
    p
}

fn allocation_budget() {
    let _profiler = dhat::Profiler::builder().testing().build();

    // Ids, contexts and traceparent text: no allocation at all.
    let (n, root) = allocations(TraceContext::new_root);
    assert_eq!(n, 0, "new_root");
    let (n, child) = allocations(|| root.child());
    assert_eq!(n, 0, "child");
    let (n, tp) = allocations(|| TraceParent::parse(TP.as_bytes()));
    assert_eq!(n, 0, "TraceParent::parse");
    let (n, _) = allocations(|| TraceParent::from(&child).to_bytes());
    assert_eq!(n, 0, "TraceParent::to_bytes");
    assert!(tp.is_some());

    // Extraction from a HeaderMap.
    let h = headers(&[("traceparent", TP)]);
    let (n, p) = allocations(|| extract_w3c(&h));
    assert_eq!(n, 0, "traceparent without tracestate");
    assert!(p.trace.is_some());

    let h = headers(&[
        ("traceparent", TP),
        ("tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
    ]);
    let (n, p) = allocations(|| extract_w3c(&h));
    assert_eq!(n, 1, "canonical tracestate: one shared string");
    assert_eq!(p.trace.unwrap().state().len(), 2);

    let h = headers(&[
        ("traceparent", TP),
        ("tracestate", "rojo=1"),
        ("tracestate", " congo=2"),
    ]);
    let (n, _) = allocations(|| extract_w3c(&h));
    assert_eq!(
        n, 2,
        "tracestate to normalise: a buffer, then the shared string"
    );

    let h = headers(&[(
        "b3",
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90",
    )]);
    let (n, p) = allocations(|| {
        let mut p = Propagated::new();
        B3Propagator::new().extract(&h, &mut p);
        p
    });
    assert_eq!(n, 0, "b3 single header");
    assert!(p.trace.is_some());

    let h = headers(&[
        ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
        ("x-b3-spanid", "e457b5a2e4d86bd1"),
        ("x-b3-sampled", "1"),
    ]);
    let (n, p) = allocations(|| {
        let mut p = Propagated::new();
        B3Propagator::new().extract(&h, &mut p);
        p
    });
    assert_eq!(n, 0, "b3 multi header");
    assert!(p.trace.is_some());

    // A request id of up to 38 bytes is held in place; a longer one is one
    // shared string.
    let long = "request-0f8fad5b-d9cb-469f-a165-70867728950e-retry-2";
    for (id, expected) in [
        ("abc-123", 0),
        ("0f8fad5b-d9cb-469f-a165-70867728950e", 0),
        (long, 1),
    ] {
        let h = headers(&[("x-request-id", id)]);
        let (n, p) = allocations(|| {
            let mut p = Propagated::new();
            RequestIdPropagator::new().extract(&h, &mut p);
            p
        });
        assert_eq!(n, expected, "request id of {} bytes", id.len());
        assert_eq!(p.request_id.unwrap().as_str(), id);
    }

    // Clearing what a context has no value for allocates nothing, also
    // for a configured header name that is not one of ctx's.
    let mut h = headers(&[
        ("x-correlation-id", "another-request"),
        ("baggage", "user=mallory"),
        ("host", "example.com"),
    ]);
    let (correlation, all) = (
        RequestIdPropagator::with_header("x-correlation-id"),
        Propagators::new(),
    );
    let (n, _) = allocations(|| {
        correlation.inject(&Propagated::new(), &mut h);
        all.inject(&Propagated::new(), &mut h);
    });
    assert_eq!(n, 0, "inject removing stale headers");
    assert_eq!(h.len(), 1, "{h:?}");

    // Reading the current ids.
    root.clone().sync_scope(|| {
        let (n, id) = allocations(ctx::trace_id);
        assert_eq!(n, 0, "ctx::trace_id");
        assert_eq!(id, Some(root.trace_id()));
    });

    // Cloning a trace context with a trace state shares the state.
    let with_state = TraceContext::new_root().with_state(TraceState::parse(b"a=1,b=2").unwrap());
    let (n, _) = allocations(|| with_state.clone());
    assert_eq!(n, 0, "TraceContext::clone");
}

#[path = "support/alone.rs"]
mod alone;

fn main() {
    alone::run("allocation_budget", allocation_budget);
}
