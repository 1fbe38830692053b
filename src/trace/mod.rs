//! The trace model: [`TraceId`], [`SpanId`], [`TraceFlags`], [`TraceState`]
//! and [`TraceContext`].
//!
//! The wire formats that read and write these types live in
//! [`propagation`](crate::propagation).
//!
//! # Examples
//! ```
//! use ctx::trace::{TraceContext, TraceFlags};
//!
//! let root = TraceContext::new_root();
//! let child = root.child();
//! assert_eq!(child.trace_id, root.trace_id);
//! assert_eq!(child.parent_span_id, Some(root.span_id));
//! assert!(root.flags.contains(TraceFlags::RANDOM));
//! ```

mod context;
mod flags;
mod id;
pub(crate) mod rng;
mod state;

pub use context::TraceContext;
pub use flags::TraceFlags;
pub use id::{ParseIdError, SpanId, TraceId};
pub use state::{InvalidTraceState, Iter as TraceStateIter, TraceState};

pub(crate) use id::{ascii_str, decode_hex_u128, decode_hex_u8, encode_hex_u8, hex_val};
pub(crate) use state::trim_ows;
