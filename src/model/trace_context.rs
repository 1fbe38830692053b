//! [`TraceContext`]: the ids of a span of work, plain data. (Where the
//! current one lives, and how to read it, is `ctx::trace`'s.)

use super::{SpanId, TraceFlags, TraceId, TraceState};

/// The trace position of a unit of work: which trace, which span, its parent
/// span, the trace flags and the vendor `tracestate`.
///
/// Opaque, as opentelemetry's `SpanContext` is: read it through its
/// accessors, build it with [`new_root`](Self::new_root),
/// [`child`](Self::child) or [`new`](Self::new) and the `with_` methods.
/// Cloning is cheap (the ids are `Copy`, the trace state is shared).
///
/// # Examples
/// ```
/// use ctx::trace::TraceContext;
///
/// let root = TraceContext::new_root();
/// let child = root.child();
/// assert_eq!(child.trace_id(), root.trace_id());
/// assert_eq!(child.parent_span_id(), Some(root.span_id()));
/// assert_ne!(child.span_id(), root.span_id());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TraceContext {
    trace_id: TraceId,
    span_id: SpanId,
    parent_span_id: Option<SpanId>,
    flags: TraceFlags,
    state: TraceState,
}

impl TraceContext {
    /// A trace context with these ids and flags, no parent span and an empty
    /// trace state: for a span whose ids come from elsewhere (another
    /// tracing system, a message's metadata).
    ///
    /// # Examples
    /// ```
    /// use ctx::trace::{SpanId, TraceContext, TraceFlags, TraceId};
    ///
    /// let trace_id: TraceId = "4bf92f3577b34da6a3ce929d0e0e4736".parse().unwrap();
    /// let span_id: SpanId = "00f067aa0ba902b7".parse().unwrap();
    /// let cx = TraceContext::new(trace_id, span_id, TraceFlags::SAMPLED);
    /// assert_eq!((cx.trace_id(), cx.span_id()), (trace_id, span_id));
    /// assert!(cx.is_sampled() && cx.parent_span_id().is_none());
    /// ```
    pub fn new(trace_id: TraceId, span_id: SpanId, flags: TraceFlags) -> Self {
        TraceContext {
            trace_id,
            span_id,
            parent_span_id: None,
            flags,
            state: TraceState::new(),
        }
    }

    /// Starts a new trace: random trace and span ids, no parent, an empty
    /// trace state, and the flags `sampled` (ctx records every request it
    /// sees, so it asks downstream services to do the same) and `random`
    /// (every bit of the trace id is random, see [`TraceId::random`]).
    pub fn new_root() -> Self {
        Self::new(
            TraceId::random(),
            SpanId::random(),
            TraceFlags::SAMPLED | TraceFlags::RANDOM,
        )
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

    /// The trace this span belongs to.
    #[inline]
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// This span.
    #[inline]
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// The span this one is a child of, if known. Contexts extracted from a
    /// W3C `traceparent` have `None` here: the header names only the
    /// caller's span, which is [`span_id`](Self::span_id).
    #[inline]
    pub fn parent_span_id(&self) -> Option<SpanId> {
        self.parent_span_id
    }

    /// The trace flags (`sampled`, `random`).
    #[inline]
    pub fn flags(&self) -> TraceFlags {
        self.flags
    }

    /// The vendor-specific `tracestate` list.
    #[inline]
    pub fn state(&self) -> &TraceState {
        &self.state
    }

    /// Whether the `sampled` flag is set.
    #[inline]
    pub fn is_sampled(&self) -> bool {
        self.flags.is_sampled()
    }

    /// This context with `parent` as its parent span.
    #[must_use]
    pub fn with_parent_span_id(mut self, parent: Option<SpanId>) -> Self {
        self.parent_span_id = parent;
        self
    }

    /// This context with other trace flags.
    #[must_use]
    pub fn with_flags(mut self, flags: TraceFlags) -> Self {
        self.flags = flags;
        self
    }

    /// This context with another trace state.
    ///
    /// # Examples
    /// ```
    /// use ctx::trace::{TraceContext, TraceState};
    ///
    /// let state: TraceState = "vendor=v1".parse().unwrap();
    /// let cx = TraceContext::new_root().with_state(state.clone());
    /// assert_eq!(cx.state(), &state);
    /// ```
    #[must_use]
    pub fn with_state(mut self, state: TraceState) -> Self {
        self.state = state;
        self
    }

    /// The trace state, to change in place (a vendor adding its member).
    #[inline]
    pub fn state_mut(&mut self) -> &mut TraceState {
        &mut self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_has_random_ids_and_flags() {
        let a = TraceContext::new_root();
        let b = TraceContext::new_root();
        assert_ne!(a.trace_id(), b.trace_id());
        assert_eq!(a.parent_span_id(), None);
        assert!(a.flags().is_sampled() && a.flags().is_random());
        assert!(a.state().is_empty());
    }

    #[test]
    fn child_keeps_trace_flags_and_state() {
        let mut root = TraceContext::new_root().with_flags(TraceFlags::RANDOM);
        root.state_mut().insert("k", "v").unwrap();
        let child = root.child();
        assert_eq!(child.trace_id(), root.trace_id());
        assert_eq!(child.flags(), TraceFlags::RANDOM);
        assert_eq!(child.state(), root.state());
        assert_eq!(child.parent_span_id(), Some(root.span_id()));
        let grandchild = child.child();
        assert_eq!(grandchild.parent_span_id(), Some(child.span_id()));
    }

    #[test]
    fn builders_set_each_field() {
        let root = TraceContext::new_root();
        let parent = SpanId::random();
        let state: TraceState = "a=1".parse().unwrap();
        let built = TraceContext::new(root.trace_id(), root.span_id(), TraceFlags::default())
            .with_parent_span_id(Some(parent))
            .with_flags(TraceFlags::SAMPLED)
            .with_state(state.clone());
        assert_eq!(built.trace_id(), root.trace_id());
        assert_eq!(built.span_id(), root.span_id());
        assert_eq!(built.parent_span_id(), Some(parent));
        assert_eq!(built.flags(), TraceFlags::SAMPLED);
        assert_eq!(built.state(), &state);
        assert_eq!(built.with_parent_span_id(None).parent_span_id(), None);
    }
}
