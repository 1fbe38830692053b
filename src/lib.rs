//! ctx

pub mod trace;
