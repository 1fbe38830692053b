//! Property tests for the wire formats: `format(parse(x)) == x` for valid
//! input, model round trips, and no panic for any bytes.

use ctx::baggage::{Baggage, Member};
use ctx::propagation::{
    B3Propagator, Propagated, Propagator, Propagators, RequestId, TraceContextPropagator,
    TraceParent,
};
use ctx::trace::{SpanId, TraceContext, TraceFlags, TraceId, TraceState};
use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::collection::vec;
use proptest::prelude::*;

fn trace_id() -> impl Strategy<Value = TraceId> {
    prop_oneof![
        any::<u128>(),
        (1..=u64::MAX).prop_map(u128::from), // 64-bit ids, as B3 may send
    ]
    .prop_filter_map("non-zero", TraceId::from_u128)
}

fn span_id() -> impl Strategy<Value = SpanId> {
    any::<u64>().prop_filter_map("non-zero", SpanId::from_u64)
}

fn known_flags() -> impl Strategy<Value = TraceFlags> {
    (0u8..=3).prop_map(TraceFlags::new)
}

/// Spaces and tabs.
fn ows() -> impl Strategy<Value = String> {
    "[ \t]{0,3}"
}

/// A key or value of the maximum length (256), cheap to generate:
/// `first`, then 254 copies of one `middle` character, then `last`.
fn max_len(
    first: &'static str,
    middle: &'static str,
    last: &'static str,
) -> impl Strategy<Value = String> {
    (first, middle, last).prop_map(|(f, m, l)| format!("{f}{}{l}", m.repeat(254)))
}

fn ts_key() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[a-z0-9][a-z0-9_*/@-]{0,15}",
        1 => max_len("[a-z0-9]", "[a-z0-9_*/@-]", "[a-z0-9_*/@-]"),
    ]
}

fn ts_value() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[\\x20-\\x2b\\x2d-\\x3c\\x3e-\\x7e]{0,15}[\\x21-\\x2b\\x2d-\\x3c\\x3e-\\x7e]",
        1 => max_len(
            "[\\x20-\\x2b\\x2d-\\x3c\\x3e-\\x7e]",
            "[\\x20-\\x2b\\x2d-\\x3c\\x3e-\\x7e]",
            "[\\x21-\\x2b\\x2d-\\x3c\\x3e-\\x7e]",
        ),
    ]
}

/// Up to 32 members with unique keys.
fn ts_members() -> impl Strategy<Value = Vec<(String, String)>> {
    vec((ts_key(), ts_value()), 0..=32).prop_map(|members| {
        let mut seen = std::collections::HashSet::new();
        members
            .into_iter()
            .filter(|(k, _)| seen.insert(k.clone()))
            .collect()
    })
}

fn baggage_key() -> impl Strategy<Value = String> {
    "[!#$%&'*+.^_`|~0-9a-zA-Z-]{1,12}"
}

fn baggage_member() -> impl Strategy<Value = Member> {
    (
        baggage_key(),
        any::<String>(),
        vec((baggage_key(), proptest::option::of(any::<String>())), 0..3),
    )
        .prop_map(|(k, v, props)| {
            let v: String = v.chars().take(40).collect();
            props
                .into_iter()
                .fold(Member::new(k, v).unwrap(), |m, (pk, pv)| {
                    let pv = pv.map(|s| s.chars().take(20).collect());
                    m.with_property(pk, pv).unwrap()
                })
        })
}

fn headers(pairs: &[(&str, Vec<u8>)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        if let Ok(v) = HeaderValue::from_bytes(v) {
            h.append(HeaderName::from_bytes(k.as_bytes()).unwrap(), v);
        }
    }
    h
}

/// A byte that looks like the formats: a hex digit, a separator, OWS, or a
/// little of everything else.
fn header_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        8 => proptest::sample::select(b"0123456789abcdef".to_vec()),
        2 => proptest::sample::select(b"-=,;% \tABCDEFxd@".to_vec()),
        1 => any::<u8>(),
    ]
}

/// Bytes that look like the formats.
fn header_like_bytes() -> impl Strategy<Value = Vec<u8>> {
    vec(header_byte(), 0..120)
}

/// A valid header with up to three bytes replaced, removed or added: near
/// misses that often still parse, or fail on exactly one rule.
fn mutated(valid: impl Strategy<Value = String>) -> impl Strategy<Value = Vec<u8>> {
    let edit = (any::<prop::sample::Index>(), 0u8..3, header_byte());
    (valid, vec(edit, 0..4)).prop_map(|(text, edits)| {
        let mut bytes = text.into_bytes();
        for (at, op, byte) in edits {
            let i = at.index(bytes.len() + 1);
            match op {
                0 if i < bytes.len() => bytes[i] = byte,
                1 if i < bytes.len() => {
                    bytes.remove(i);
                }
                _ => bytes.insert(i, byte),
            }
        }
        bytes
    })
}

fn valid_traceparent() -> impl Strategy<Value = String> {
    (trace_id(), span_id(), known_flags()).prop_map(|(trace_id, parent_id, flags)| {
        TraceParent::new(trace_id, parent_id, flags).to_string()
    })
}

fn valid_b3() -> impl Strategy<Value = String> {
    let sampling = proptest::sample::select(vec!["", "-0", "-1", "-d"]);
    (
        trace_id(),
        span_id(),
        sampling,
        proptest::option::of(span_id()),
    )
        .prop_map(|(t, s, sampling, parent)| match (sampling, parent) {
            ("", _) => format!("{t}-{s}"),
            (sampling, Some(p)) => format!("{t}-{s}{sampling}-{p}"),
            (sampling, None) => format!("{t}-{s}{sampling}"),
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    // ---- traceparent ----

    #[test]
    fn traceparent_round_trips(t in trace_id(), s in span_id(), f in known_flags()) {
        let tp = TraceParent::new(t, s, f);
        let text = tp.to_string();
        prop_assert_eq!(text.len(), TraceParent::LEN);
        let parsed = TraceParent::parse(text.as_bytes()).unwrap();
        prop_assert_eq!(parsed, tp);
        prop_assert_eq!(parsed.to_string(), text);
    }

    #[test]
    fn traceparent_ignores_surrounding_ows(
        t in trace_id(), s in span_id(), f in known_flags(), pre in ows(), post in ows(),
    ) {
        let tp = TraceParent::new(t, s, f);
        let text = format!("{pre}{tp}{post}");
        prop_assert_eq!(TraceParent::parse(text.as_bytes()), Some(tp));
    }

    #[test]
    fn traceparent_future_versions_parse(
        t in trace_id(), s in span_id(), f in known_flags(),
        version in 1u8..=0xfe, extra in proptest::option::of("[a-z0-9-]{0,20}"),
    ) {
        let tp = TraceParent::new(t, s, f);
        let body = &tp.to_string()[2..];
        let text = match &extra {
            Some(e) => format!("{version:02x}{body}-{e}"),
            None => format!("{version:02x}{body}"),
        };
        prop_assert_eq!(TraceParent::parse(text.as_bytes()), Some(tp));
    }

    #[test]
    fn traceparent_never_panics(bytes in any::<Vec<u8>>()) {
        let _ = TraceParent::parse(&bytes);
    }

    #[test]
    fn traceparent_never_panics_on_near_misses(
        bytes in prop_oneof![header_like_bytes(), mutated(valid_traceparent())],
    ) {
        if let Some(tp) = TraceParent::parse(&bytes) {
            // Whatever parses is a real context.
            prop_assert!(tp.flags().bits() <= 3);
            prop_assert_eq!(TraceParent::parse(tp.to_string().as_bytes()), Some(tp));
        }
    }

    // ---- tracestate ----

    #[test]
    fn tracestate_round_trips(members in ts_members()) {
        let header = members
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        prop_assume!(header.len() <= TraceState::MAX_HEADER_LEN);
        let state = TraceState::parse(header.as_bytes()).unwrap();
        prop_assert_eq!(state.header(), header.as_str());
        let parsed: Vec<(String, String)> =
            state.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        prop_assert_eq!(&parsed, &members);
    }

    #[test]
    fn tracestate_matches_insert_model(members in ts_members()) {
        // Inserting in reverse order builds the same list as parsing it.
        let mut state = TraceState::new();
        for (k, v) in members.iter().rev() {
            state.insert(k, v).unwrap();
        }
        let header: Vec<String> = members.iter().map(|(k, v)| format!("{k}={v}")).collect();
        prop_assert_eq!(state.header(), header.join(","));
        for (k, v) in &members {
            prop_assert_eq!(state.get(k), Some(v.as_str()));
        }
    }

    #[test]
    fn tracestate_split_across_fields_and_ows(members in ts_members(), split in any::<prop::sample::Index>(), pad in ows()) {
        let items: Vec<String> = members.iter().map(|(k, v)| format!("{pad}{k}={v}{pad}")).collect();
        let at = if items.is_empty() { 0 } else { split.index(items.len() + 1) };
        let (a, b) = items.split_at(at);
        let (a, b) = (a.join(","), b.join(","));
        prop_assume!(a.len() + b.len() < TraceState::MAX_HEADER_LEN);
        let state = TraceState::parse_fields(&[a.as_bytes(), b.as_bytes()]).unwrap();
        prop_assert_eq!(state.len(), members.len());
        // Every member, in order across the fields, without the padding.
        let joined: Vec<String> = members.iter().map(|(k, v)| format!("{k}={v}")).collect();
        prop_assert_eq!(state.header(), joined.join(","));
    }

    #[test]
    fn tracestate_never_panics(fields in vec(any::<Vec<u8>>(), 0..4)) {
        let fields: Vec<&[u8]> = fields.iter().map(Vec::as_slice).collect();
        if let Some(state) = TraceState::parse_fields(&fields) {
            prop_assert!(state.len() <= TraceState::MAX_MEMBERS);
            // What parses re-parses to itself.
            prop_assert_eq!(TraceState::parse(state.header().as_bytes()), Some(state.clone()));
        }
    }

    // ---- baggage ----

    #[test]
    fn baggage_model_round_trips(members in vec(baggage_member(), 0..12)) {
        let baggage: Baggage = members.into_iter().collect();
        let header = baggage.to_string();
        prop_assert!(header.bytes().all(|b| b.is_ascii_graphic()));
        let parsed = Baggage::parse(header.as_bytes());
        prop_assert_eq!(&parsed, &baggage);
        // And the header form is canonical: format(parse(x)) == x.
        prop_assert_eq!(parsed.to_string(), header);
    }

    #[test]
    fn baggage_never_panics(fields in vec(any::<Vec<u8>>(), 0..4)) {
        let fields: Vec<&[u8]> = fields.iter().map(Vec::as_slice).collect();
        let b = Baggage::parse_fields(&fields);
        prop_assert!(b.len() <= Baggage::MAX_MEMBERS);
        let header = b.to_string();
        prop_assert!(header.len() <= Baggage::MAX_HEADER_LEN);
        // Canonical after one pass.
        prop_assert_eq!(Baggage::parse(header.as_bytes()).to_string(), header);
    }

    #[test]
    fn baggage_never_panics_on_near_misses(bytes in vec(
        prop_oneof![
            4 => proptest::sample::select(b"abc=,;% \t\"\\%2C%zz".to_vec()),
            1 => any::<u8>(),
        ],
        0..200,
    )) {
        let _ = Baggage::parse(&bytes).to_string();
    }

    // ---- B3 ----

    #[test]
    fn b3_single_round_trips(
        t in trace_id(), s in span_id(), parent in proptest::option::of(span_id()), sampled in any::<bool>(),
    ) {
        let trace = TraceContext::new(t, s, TraceFlags::NONE.with_sampled(sampled))
            .with_parent_span_id(parent);
        let mut h = HeaderMap::new();
        B3Propagator::single().inject(&Propagated::new().with_trace(trace.clone()), &mut h);
        let value = h["b3"].to_str().unwrap().to_owned();
        let parsed = B3Propagator::parse_single(value.as_bytes()).unwrap();
        prop_assert_eq!(&parsed, &trace);

        let mut h = HeaderMap::new();
        B3Propagator::multi().inject(&Propagated::new().with_trace(trace.clone()), &mut h);
        prop_assert_eq!(B3Propagator::parse_multi(&h), Some(trace));
    }

    #[test]
    fn b3_never_panics(bytes in any::<Vec<u8>>()) {
        let _ = B3Propagator::parse_single(&bytes);
    }

    #[test]
    fn b3_never_panics_on_near_misses(
        bytes in prop_oneof![header_like_bytes(), mutated(valid_b3())],
    ) {
        if let Some(t) = B3Propagator::parse_single(&bytes) {
            prop_assert!(t.flags().bits() <= 1);
            // Whatever parses formats back to what parses the same.
            let mut h = HeaderMap::new();
            B3Propagator::single().inject(&Propagated::new().with_trace(t.clone()), &mut h);
            prop_assert_eq!(B3Propagator::parse_single(h["b3"].as_bytes()), Some(t));
        }
    }

    #[test]
    fn b3_multi_never_panics(
        t in header_like_bytes(), s in header_like_bytes(), p in header_like_bytes(),
        sampled in header_like_bytes(), flags in header_like_bytes(),
    ) {
        let h = headers(&[
            ("x-b3-traceid", t), ("x-b3-spanid", s), ("x-b3-parentspanid", p),
            ("x-b3-sampled", sampled), ("x-b3-flags", flags),
        ]);
        let _ = B3Propagator::parse_multi(&h);
    }

    // ---- everything together ----

    #[test]
    fn composite_round_trips_near_misses(
        tp in mutated(valid_traceparent()),
        ts in mutated(Just("a=1,b=2".to_string())),
        baggage in mutated(Just("k=v;p,other=x%20y".to_string())),
        b3 in mutated(valid_b3()),
        id in mutated(Just("req-1".to_string())),
    ) {
        let h = headers(&[
            ("traceparent", tp), ("tracestate", ts), ("baggage", baggage),
            ("b3", b3), ("x-request-id", id),
        ]);
        let mut fields = Propagators::new().extract(&h);
        let mut out = HeaderMap::new();
        Propagators::new().inject(&fields, &mut out);
        // `traceparent`, read first, has no parent span: a parent that came
        // in B3 is not read back.
        if let Some(t) = fields.trace.take() {
            fields.trace = Some(t.with_parent_span_id(None));
        }
        prop_assert_eq!(Propagators::new().extract(&out), fields);
    }

    #[test]
    fn composite_never_panics(values in vec(any::<Vec<u8>>(), 10)) {
        let names = [
            "traceparent", "tracestate", "tracestate", "baggage", "baggage",
            "b3", "x-b3-traceid", "x-b3-spanid", "x-b3-sampled", "x-request-id",
        ];
        let pairs: Vec<(&str, Vec<u8>)> = names.iter().copied().zip(values).collect();
        let h = headers(&pairs);
        let fields = Propagators::new().extract(&h);
        let mut out = HeaderMap::new();
        Propagators::new().inject(&fields, &mut out);
        prop_assert_eq!(Propagators::new().extract(&out), fields);
    }

    #[test]
    fn w3c_inject_extract_round_trips(
        t in trace_id(), s in span_id(), f in known_flags(), members in ts_members(),
    ) {
        let mut state = TraceState::new();
        for (k, v) in members.iter().rev() {
            state.insert(k, v).unwrap();
        }
        prop_assume!(state.header().len() <= TraceState::MAX_HEADER_LEN);
        let trace = TraceContext::new(t, s, f).with_state(state);
        let mut h = HeaderMap::new();
        let fields = Propagated::new().with_trace(trace);
        TraceContextPropagator::new().inject(&fields, &mut h);
        let mut back = Propagated::new();
        TraceContextPropagator::new().extract(&h, &mut back);
        prop_assert_eq!(back, fields);
    }

    #[test]
    fn request_id_never_panics(bytes in any::<Vec<u8>>()) {
        if let Some(id) = RequestId::parse(&bytes) {
            prop_assert!(id.as_str().len() <= RequestId::MAX_LEN);
            prop_assert!(id.as_str().bytes().all(|b| b.is_ascii_graphic()));
        }
    }
}
