//! ctx

pub mod baggage;
pub mod trace;
