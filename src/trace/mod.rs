//! The trace model: [`TraceId`], [`SpanId`], [`TraceFlags`], [`TraceState`]
//! and [`TraceContext`].
//!
//! A [`TraceContext`] lives in the [`Context`](crate::Context) under the key
//! [`TRACE_CONTEXT`], so it follows the work everywhere the context does:
//! across `.await`s, into spawned tasks, blocking closures and threads.
//! [`trace_id()`] and [`span_id()`] read the current ids, for logs.
//!
//! The wire formats that read and write these types live in
//! [`propagation`](crate::propagation).
//!
//! Another tracing system can have a current span of its own, inner to
//! ctx's (an OpenTelemetry span started inside a request). An integration
//! sets a [`SpanSource`] that names it ([`set_span_source`]); ctx's new
//! spans ([`TraceContext::child_of_current`], and so the `traceparent` of an
//! outgoing call) are then its children, and [`TraceContext::innermost`]
//! returns it. With no source set, ctx's span is the current one.
//!
//! # Examples
//! ```
//! use ctx::trace::{TraceContext, TraceFlags};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let root = TraceContext::new_root();
//! let trace_id = root.trace_id();
//! assert!(root.flags().contains(TraceFlags::RANDOM));
//!
//! root.scope(async move {
//!     assert_eq!(ctx::trace_id(), Some(trace_id));
//!
//!     // A child span for a piece of work, in a spawned task.
//!     let child = TraceContext::child_of_current();
//!     let seen = ctx::spawn(child.scope(async { TraceContext::current() })).await.unwrap();
//!     let seen = seen.unwrap();
//!     assert_eq!(seen.trace_id(), trace_id);
//!     assert_eq!(seen.parent_span_id(), ctx::span_id());
//! })
//! .await;
//! assert_eq!(ctx::trace_id(), None);
//! # }
//! ```

mod current;
mod source;

pub use crate::model::{
    InvalidTraceState, ParseIdError, SpanId, TraceContext, TraceFlags, TraceId, TraceState,
    TraceStateIter,
};
pub use crate::value::TRACE_CONTEXT;
pub use source::{set_span_source, span_source, SetSpanSourceError, SpanSource};

/// The current trace id, if a [`TraceContext`] is in the current context.
///
/// Reads the context without cloning the trace context.
///
/// # Examples
/// ```
/// use ctx::trace::TraceContext;
///
/// assert_eq!(ctx::trace_id(), None);
/// let root = TraceContext::new_root();
/// let id = root.trace_id();
/// root.sync_scope(|| assert_eq!(ctx::trace_id(), Some(id)));
/// ```
pub fn trace_id() -> Option<TraceId> {
    TRACE_CONTEXT.with(|t| t.map(TraceContext::trace_id))
}

/// The current span id, if a [`TraceContext`] is in the current context.
pub fn span_id() -> Option<SpanId> {
    TRACE_CONTEXT.with(|t| t.map(TraceContext::span_id))
}
