//! `tracestate`: the input is split on NUL bytes into several header fields.
//! Never panics; what parses has at most 32 unique members and re-parses to
//! itself from its header form.
#![no_main]

use ctx::trace::TraceState;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let fields: Vec<&[u8]> = data.split(|&b| b == 0).collect();
    if let Some(state) = TraceState::parse_fields(&fields) {
        assert!(state.len() <= TraceState::MAX_MEMBERS);
        let mut keys: Vec<&str> = state.iter().map(|(k, _)| k).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), state.len(), "keys are unique");
        assert_eq!(
            TraceState::parse(state.header().as_bytes()).as_ref(),
            Some(&state)
        );
    }
});
