//! ctx

pub mod baggage;
pub mod propagation;
pub mod trace;
