//! `tracestate`: the input is split on NUL bytes into several header fields.
//! Never panics; what parses has at most 32 unique members within the size
//! limit, re-parses to itself from its header form, and can be rebuilt
//! member by member with `insert`.
#![no_main]

use ctx::trace::TraceState;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let fields: Vec<&[u8]> = data.split(|&b| b == 0).collect();
    let Some(state) = TraceState::parse_fields(&fields) else {
        return;
    };
    assert!(state.len() <= TraceState::MAX_MEMBERS);
    let mut keys: Vec<&str> = state.iter().map(|(k, _)| k).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), state.len(), "keys are unique");

    let header = state.header();
    assert!(header.len() <= TraceState::MAX_HEADER_LEN);
    assert_eq!(state.is_empty(), header.is_empty());
    assert_eq!(state.to_string(), header);
    assert_eq!(TraceState::parse(header.as_bytes()).as_ref(), Some(&state));
    assert_eq!(header.parse::<TraceState>().as_ref(), Ok(&state));

    // `insert` puts a member first, so inserting from the last member to the
    // first rebuilds the list; every parsed member must be accepted as is.
    let mut rebuilt = TraceState::new();
    for (k, v) in state.iter().collect::<Vec<_>>().into_iter().rev() {
        rebuilt
            .insert(k, v)
            .expect("a parsed member is valid for insert");
        // `get` agrees with `iter`, and the member just inserted is found.
        assert_eq!(state.get(k), Some(v));
        assert_eq!(rebuilt.get(k), Some(v));
    }
    assert_eq!(rebuilt, state);
});
