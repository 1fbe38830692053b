//! `baggage`: the input is split on NUL bytes into several header fields.
//! Never panics; the result respects the W3C limits, and its header form is
//! canonical (parsing it and formatting again gives the same text).
#![no_main]

use ctx::baggage::Baggage;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let fields: Vec<&[u8]> = data.split(|&b| b == 0).collect();
    let baggage = Baggage::parse_fields(&fields);
    assert!(baggage.len() <= Baggage::MAX_MEMBERS);
    let header = baggage.to_string();
    assert!(header.len() <= Baggage::MAX_HEADER_LEN);
    assert!(header.bytes().all(|b| b.is_ascii_graphic()));
    let again = Baggage::parse(header.as_bytes());
    assert_eq!(again.to_string(), header);
});
