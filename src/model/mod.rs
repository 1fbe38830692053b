//! The data model: ids, flags, trace state, the trace context, the request
//! id and baggage, with their text forms.
//!
//! Plain data. Nothing here knows about the context, a thread, a task or a
//! wire carrier: this module imports nothing else of the crate, and every
//! other module may import it. The public paths are `ctx::trace`,
//! `ctx::baggage` and `ctx::propagation`, which re-export these types
//! beside the functions that read them from the current context.

mod baggage;
mod call_id;
mod flags;
mod id;
mod request_id;
pub(crate) mod rng;
mod state;
mod trace_context;

pub use self::baggage::{Baggage, InvalidBaggage, Member, Property};
pub use self::call_id::CallId;
pub use self::flags::TraceFlags;
pub use self::id::{ParseIdError, SpanId, TraceId};
pub use self::request_id::RequestId;
pub use self::state::{InvalidTraceState, Iter as TraceStateIter, TraceState};
pub use self::trace_context::TraceContext;

pub(crate) use self::id::{ascii_str, decode_hex_u128, decode_hex_u8, encode_hex_u8, hex_val};
pub(crate) use self::state::trim_ows;
