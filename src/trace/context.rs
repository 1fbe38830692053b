//! [`TraceContext`]: the ids of the current span, carried in the `Context`.

use std::future::Future;

use super::{SpanId, TraceFlags, TraceId, TraceState, TRACE_CONTEXT};
use crate::Instrumented;

/// The trace position of a unit of work: which trace, which span, its parent
/// span, the trace flags and the vendor `tracestate`.
///
/// Cloning is cheap (the ids are `Copy`, the trace state is shared).
///
/// # Examples
/// ```
/// use ctx::trace::TraceContext;
///
/// let root = TraceContext::new_root();
/// let child = root.child();
/// assert_eq!(child.trace_id, root.trace_id);
/// assert_eq!(child.parent_span_id, Some(root.span_id));
/// assert_ne!(child.span_id, root.span_id);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TraceContext {
    /// The trace this span belongs to.
    pub trace_id: TraceId,
    /// This span.
    pub span_id: SpanId,
    /// The span this one is a child of, if known. Contexts extracted from a
    /// W3C `traceparent` have `None` here: the header names only the
    /// caller's span, which is `span_id`.
    pub parent_span_id: Option<SpanId>,
    /// The trace flags (`sampled`, `random`).
    pub flags: TraceFlags,
    /// The vendor-specific `tracestate` list.
    pub state: TraceState,
}

impl TraceContext {
    /// Starts a new trace: random trace and span ids, no parent, an empty
    /// trace state, and the flags `sampled` (ctx records every request it
    /// sees, so it asks downstream services to do the same) and `random`
    /// (every bit of the trace id is random, see [`TraceId::random`]).
    pub fn new_root() -> Self {
        TraceContext {
            trace_id: TraceId::random(),
            span_id: SpanId::random(),
            parent_span_id: None,
            flags: TraceFlags::SAMPLED | TraceFlags::RANDOM,
            state: TraceState::new(),
        }
    }

    /// A child span of this one: same trace id, flags and trace state, a new
    /// random span id, and this span as its parent.
    #[must_use]
    pub fn child(&self) -> Self {
        TraceContext {
            trace_id: self.trace_id,
            span_id: SpanId::random(),
            parent_span_id: Some(self.span_id),
            flags: self.flags,
            state: self.state.clone(),
        }
    }

    /// Whether the `sampled` flag is set.
    pub fn is_sampled(&self) -> bool {
        self.flags.is_sampled()
    }

    /// The trace context of the current [`Context`](crate::Context), if any.
    ///
    /// # Examples
    /// ```
    /// use ctx::trace::TraceContext;
    ///
    /// assert!(TraceContext::current().is_none());
    /// let root = TraceContext::new_root();
    /// root.clone().sync_scope(|| assert_eq!(TraceContext::current(), Some(root)));
    /// ```
    pub fn current() -> Option<Self> {
        TRACE_CONTEXT.get()
    }

    /// A [`child`](Self::child) of the current trace context, or a
    /// [new root](Self::new_root) when there is none: the context for a new
    /// span of work, such as an outgoing call.
    pub fn child_of_current() -> Self {
        TRACE_CONTEXT.with(|t| t.map_or_else(Self::new_root, Self::child))
    }

    /// Wraps `fut` so that it runs with this trace context in the current
    /// context, taken when `scope` is called (to nest scopes, see
    /// [`Key::scope`](crate::Key::scope)).
    ///
    /// # Examples
    /// ```
    /// use ctx::trace::TraceContext;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = TraceContext::new_root();
    /// let id = root.trace_id;
    /// let seen = root.scope(async { ctx::trace_id() }).await;
    /// assert_eq!(seen, Some(id));
    /// # }
    /// ```
    pub fn scope<F: Future>(self, fut: F) -> Instrumented<F> {
        TRACE_CONTEXT.scope(self, fut)
    }

    /// Runs `f` with this trace context in the current context.
    pub fn sync_scope<R>(self, f: impl FnOnce() -> R) -> R {
        TRACE_CONTEXT.sync_scope(self, f)
    }

    /// Makes this the trace context of the current scope (see
    /// [`Key::set`](crate::Key::set): outside any scope the write is
    /// ignored).
    pub fn set_current(self) {
        TRACE_CONTEXT.set(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_has_random_ids_and_flags() {
        let a = TraceContext::new_root();
        let b = TraceContext::new_root();
        assert_ne!(a.trace_id, b.trace_id);
        assert_eq!(a.parent_span_id, None);
        assert!(a.flags.is_sampled() && a.flags.is_random());
        assert!(a.state.is_empty());
    }

    #[test]
    fn child_keeps_trace_flags_and_state() {
        let mut root = TraceContext::new_root();
        root.flags = TraceFlags::RANDOM;
        root.state.insert("k", "v").unwrap();
        let child = root.child();
        assert_eq!(child.trace_id, root.trace_id);
        assert_eq!(child.flags, TraceFlags::RANDOM);
        assert_eq!(child.state, root.state);
        assert_eq!(child.parent_span_id, Some(root.span_id));
        let grandchild = child.child();
        assert_eq!(grandchild.parent_span_id, Some(child.span_id));
    }

    #[test]
    fn current_and_scopes() {
        assert_eq!(TraceContext::current(), None);
        assert_eq!(crate::trace_id(), None);
        let root = TraceContext::new_root();
        let fresh = TraceContext::child_of_current();
        assert_eq!(fresh.parent_span_id, None, "no current context: a new root");
        root.clone().sync_scope(|| {
            assert_eq!(crate::trace_id(), Some(root.trace_id));
            assert_eq!(crate::span_id(), Some(root.span_id));
            let child = TraceContext::child_of_current();
            assert_eq!(child.parent_span_id, Some(root.span_id));
            child.clone().set_current();
            assert_eq!(TraceContext::current(), Some(child));
        });
        assert_eq!(TraceContext::current(), None);
    }

    #[cfg(feature = "tokio")]
    #[tokio::test]
    async fn follows_spawned_tasks() {
        let root = TraceContext::new_root();
        let id = root.trace_id;
        let seen = root
            .scope(async { crate::spawn(async { crate::trace_id() }).await.unwrap() })
            .await;
        assert_eq!(seen, Some(id));
    }
}
