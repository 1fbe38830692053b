//! `baggage`: the input is split on NUL bytes into several header fields,
//! parsed with `Baggage::parse_fields` and, through a `HeaderMap`, with the
//! W3C baggage propagator.
//!
//! Never panics; the result respects the W3C limits; its header form is
//! visible ASCII within the limits, stable (parsing it and formatting again
//! gives the same text) and parses back to the same baggage. Parsed members
//! go out as they came (less the whitespace around their parts), so they
//! never grow and none is left out by the limits.
#![no_main]

use ctx::baggage::Baggage;
use ctx::propagation::{BaggagePropagator, Propagated, Propagator};
use libfuzzer_sys::fuzz_target;

fn check_round_trip(baggage: &Baggage) {
    assert!(baggage.len() <= Baggage::MAX_MEMBERS);
    let header = baggage.to_string();
    assert!(header.len() <= Baggage::MAX_HEADER_LEN);
    assert!(header.bytes().all(|b| b.is_ascii_graphic()), "{header:?}");
    // Values are percent-encoded, so every ',' in the header separates
    // members.
    let written = if header.is_empty() {
        0
    } else {
        header.split(',').count()
    };
    assert!(written <= Baggage::MAX_MEMBERS);
    assert!(header
        .split(',')
        .all(|m| m.len() <= Baggage::MAX_MEMBER_LEN));

    let again = Baggage::parse(header.as_bytes());
    assert_eq!(again.to_string(), header);
    assert_eq!(
        again.len(),
        written,
        "every written member parses: {header:?}"
    );
    assert_eq!(
        written,
        baggage.len(),
        "parsed members fit the limits they were parsed with: {header:?}"
    );
    assert_eq!(&again, baggage, "round trip of {header:?}");
}

fuzz_target!(|data: &[u8]| {
    let fields: Vec<&[u8]> = data.split(|&b| b == 0).collect();
    check_round_trip(&Baggage::parse_fields(&fields));

    let mut headers = http::HeaderMap::new();
    for field in &fields {
        if let Ok(v) = http::HeaderValue::from_bytes(field) {
            headers.append("baggage", v);
        }
    }
    let propagator = BaggagePropagator::new();
    let mut extracted = Propagated::new();
    propagator.extract(&headers, &mut extracted);
    check_round_trip(&extracted.baggage);
    let mut out = http::HeaderMap::new();
    propagator.inject(&extracted, &mut out);
    let header = extracted.baggage.to_string();
    assert_eq!(
        out.get("baggage").map(|v| v.as_bytes()),
        (!header.is_empty()).then_some(header.as_bytes()),
        "the propagator writes the header form, and nothing when it is empty"
    );
});
