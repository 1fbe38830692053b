//! Message-record headers as propagation carriers: Kafka-style lists of
//! `(name, bytes)` pairs and maps of text or byte values carry the trace
//! context, tracestate, baggage, B3 and the request id through the default
//! propagators and back; repeated names follow the W3C rules; bad values
//! are ignored as each format's rules say; stale fields are replaced.

use std::collections::{BTreeMap, HashMap};

use ctx::propagation::{
    B3Encoding, B3Propagator, Extractor, Injector, Propagated, Propagators, RequestId,
    TraceContextPropagator,
};
use ctx::trace::{TraceContext, TraceState};

const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const B3: &str = "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1";

/// Everything the default propagators carry.
fn sent() -> Propagated {
    let state: TraceState = "vendor=abc,other=x".parse().unwrap();
    Propagated::new()
        .with_trace(TraceContext::new_root().with_state(state))
        .with_baggage("tenant=acme,user=alice%20b".parse().unwrap())
        .with_request_id(RequestId::new("req-7").unwrap())
}

/// Injects `sent()` into `carrier` with `propagators`, reads it back with
/// the same, and checks every field survived.
fn round_trip<C: Extractor + Injector>(mut carrier: C, propagators: &Propagators) -> C {
    let sent = sent();
    propagators.inject(&sent, &mut carrier);
    let back = propagators.extract(&carrier);
    let (s, b) = (sent.trace.as_ref().unwrap(), back.trace.as_ref().unwrap());
    assert_eq!(b.trace_id(), s.trace_id());
    assert_eq!(b.span_id(), s.span_id());
    assert_eq!(b.flags(), s.flags());
    assert_eq!(b.state(), s.state());
    assert_eq!(back.baggage, sent.baggage);
    assert_eq!(back.baggage.get("user"), Some("alice b"));
    assert_eq!(back.request_id, sent.request_id);
    carrier
}

fn b3_only(encoding: B3Encoding) -> Propagators {
    Propagators::empty().with(B3Propagator::with_encoding(encoding))
}

#[test]
fn every_record_carrier_round_trips_the_default_formats() {
    let all = Propagators::new();
    let pairs = round_trip(Vec::<(String, Vec<u8>)>::new(), &all);
    // The default list writes W3C, baggage, B3 single and the request id.
    let names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        ["traceparent", "tracestate", "baggage", "b3", "x-request-id"]
    );
    round_trip(Vec::<(Box<str>, Box<[u8]>)>::new(), &all);
    round_trip(Vec::<(String, bytes::Bytes)>::new(), &all);
    round_trip(BTreeMap::<String, String>::new(), &all);
    round_trip(BTreeMap::<String, Vec<u8>>::new(), &all);
    round_trip(HashMap::<String, Vec<u8>>::new(), &all);
    round_trip(HashMap::<String, String>::new(), &all);
}

#[test]
fn b3_alone_round_trips_through_records() {
    for encoding in [B3Encoding::Single, B3Encoding::Multi] {
        let propagators = b3_only(encoding);
        let sent = Propagated::new().with_trace(TraceContext::new_root());
        let mut pairs: Vec<(String, Vec<u8>)> = Vec::new();
        propagators.inject(&sent, &mut pairs);
        let multi = pairs.iter().any(|(k, _)| k == "x-b3-traceid");
        assert_eq!(multi, matches!(encoding, B3Encoding::Multi));
        let back = propagators.extract(&pairs);
        assert_eq!(
            back.trace.as_ref().map(TraceContext::trace_id),
            sent.trace.as_ref().map(TraceContext::trace_id)
        );
        assert_eq!(
            back.trace.as_ref().map(TraceContext::span_id),
            sent.trace.as_ref().map(TraceContext::span_id)
        );
    }
}

/// Record headers as a Kafka client hands them over: names as the producer
/// spelled them, values as bytes.
fn record(pairs: &[(&str, &[u8])]) -> Vec<(String, Vec<u8>)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_vec()))
        .collect()
}

#[test]
fn repeated_names_follow_the_w3c_rules() {
    let defaults = Propagators::new();

    // Two traceparents are invalid, even when equal and whatever their case.
    let r = record(&[
        ("traceparent", TP.as_bytes()),
        ("TraceParent", TP.as_bytes()),
    ]);
    assert_eq!(defaults.extract(&r).trace, None);
    // ...and the next format in the list is used instead.
    let r = record(&[
        ("traceparent", TP.as_bytes()),
        ("traceparent", TP.as_bytes()),
        ("b3", B3.as_bytes()),
    ]);
    assert_eq!(
        defaults.extract(&r).trace.unwrap().trace_id().to_string(),
        "80f198ee56343ba864fe8b2a57d3eff7"
    );

    // Repeated tracestate and baggage are joined, in order.
    let r = record(&[
        ("traceparent", TP.as_bytes()),
        ("tracestate", b"a=1"),
        ("baggage", b"k1=v1"),
        ("Tracestate", b"b=2"),
        ("BAGGAGE", b"k2=v2"),
    ]);
    let got = defaults.extract(&r);
    let trace = got.trace.unwrap();
    assert_eq!(trace.trace_id().to_string(), TRACE);
    assert_eq!(trace.state().to_string(), "a=1,b=2");
    assert_eq!(got.baggage.get("k1"), Some("v1"));
    assert_eq!(got.baggage.get("k2"), Some("v2"));

    // A repeated request id: the first one is taken.
    let r = record(&[("x-request-id", b"first"), ("X-Request-Id", b"second")]);
    assert_eq!(defaults.extract(&r).request_id.unwrap().as_str(), "first");
}

#[test]
fn bad_values_are_ignored_per_format() {
    let defaults = Propagators::new();

    // Not UTF-8, not hex, wrong version: no trace context, nothing panics.
    for bad in [
        &[0xff, 0xfe, 0x00][..],
        b"00-zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-00f067aa0ba902b7-01",
        b"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        b"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        b"",
    ] {
        let r = record(&[("traceparent", bad)]);
        assert_eq!(defaults.extract(&r).trace, None, "{bad:?}");
    }

    // A bad tracestate drops the state, keeps the trace.
    let r = record(&[("traceparent", TP.as_bytes()), ("tracestate", b"=,=\xff")]);
    let trace = defaults.extract(&r).trace.unwrap();
    assert_eq!(trace.trace_id().to_string(), TRACE);
    assert!(trace.state().is_empty());

    // A bad baggage member is dropped, the others are kept.
    let r = record(&[("baggage", b"good=1,bad member,\xff=2,also=ok")]);
    let baggage = defaults.extract(&r).baggage;
    assert_eq!(baggage.get("good"), Some("1"));
    assert_eq!(baggage.get("also"), Some("ok"));
    assert_eq!(baggage.len(), 2);

    // A request id with a control character or over the limit is ignored.
    let long = vec![b'a'; RequestId::MAX_LEN + 1];
    for bad in [&b"bad\nid"[..], &[0xff][..], &long[..], b""] {
        let r = record(&[("x-request-id", bad)]);
        assert_eq!(defaults.extract(&r).request_id, None, "{bad:?}");
    }

    // Bad B3 is ignored too.
    let r = record(&[("b3", b"not-b3-at-all")]);
    assert_eq!(defaults.extract(&r).trace, None);
}

#[test]
fn inject_replaces_stale_fields_and_keeps_the_others() {
    // A record re-sent on behalf of a new context: the old trace, baggage
    // and request id are not the new context's.
    let mut r = record(&[
        ("content-type", b"application/json"),
        ("TraceParent", TP.as_bytes()),
        ("Baggage", b"user=mallory"),
        ("x-request-id", b"another-request"),
        ("traceparent", TP.as_bytes()),
        ("key", b"order-7"),
    ]);
    let fresh = Propagated::new().with_trace(TraceContext::new_root());
    Propagators::new().inject(&fresh, &mut r);
    let names: Vec<&str> = r.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["content-type", "traceparent", "key", "b3"]);
    let back = Propagators::new().extract(&r);
    assert_eq!(back.trace, fresh.trace);
    assert!(back.baggage.is_empty());
    assert_eq!(back.request_id, None);
}

#[test]
fn text_pairs_are_read_too() {
    // A client that hands headers over as text: readable as is.
    let r: Vec<(&str, String)> = vec![("traceparent", TP.to_string())];
    let trace = Propagators::empty()
        .with(TraceContextPropagator::new())
        .extract(&r)
        .trace
        .unwrap();
    assert_eq!(trace.trace_id().to_string(), TRACE);
}

#[test]
fn a_consumer_continues_the_producers_trace() {
    // Producer: inside a request's context, the record gets a child span.
    let request = TraceContext::new_root();
    let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
    request.clone().sync_scope(|| {
        ctx::baggage::sync_scope("tenant", "acme", || {
            let mut fields = Propagated::current();
            fields.trace = Some(TraceContext::child_of_current());
            ctx::propagation::inject(&fields, &mut headers);
        })
    });
    // Consumer: no context of its own; the record's becomes current.
    assert_eq!(ctx::trace_id(), None);
    let remote = ctx::propagation::extract(&headers);
    let parent = remote.trace.clone().unwrap();
    assert_eq!(parent.trace_id(), request.trace_id());
    assert_ne!(parent.span_id(), request.span_id());
    let cx = remote.to_context(&ctx::Context::new());
    let (trace, tenant) = cx.run(|| (ctx::trace_id(), ctx::baggage::get("tenant")));
    assert_eq!(trace, Some(request.trace_id()));
    assert_eq!(tenant.as_deref(), Some("acme"));
}
