//! The current [`TraceContext`]: reading it from the context and running
//! work in one.

use std::future::Future;

use super::source;
use super::TRACE_CONTEXT;
use crate::context::Context;
use crate::model::TraceContext;
use crate::scoped::Scoped;

impl TraceContext {
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

    /// A [`child`](Self::child) of the innermost current span
    /// ([`innermost`](Self::innermost)), or a [new root](Self::new_root)
    /// when there is none: the context for a new span of work, such as an
    /// outgoing call.
    pub fn child_of_current() -> Self {
        let cx = Context::current();
        match source::inner_span(&cx) {
            Some(inner) => inner.child(),
            None => cx
                .get(&TRACE_CONTEXT)
                .map_or_else(Self::new_root, Self::child),
        }
    }

    /// The innermost span current now, whichever tracing system made it:
    /// the trace context of the current [`Context`], unless the
    /// [span source](super::set_span_source) set by an integration (such as
    /// `ctx::otel`, feature `opentelemetry`) has a current span inner to it.
    /// With no source set this is [`current`](Self::current).
    ///
    /// # Examples
    /// ```
    /// use ctx::trace::TraceContext;
    ///
    /// assert_eq!(TraceContext::innermost(), None);
    /// let root = TraceContext::new_root();
    /// root.clone().sync_scope(|| assert_eq!(TraceContext::innermost(), Some(root)));
    /// ```
    pub fn innermost() -> Option<Self> {
        let cx = Context::current();
        source::inner_span(&cx).or_else(|| cx.get(&TRACE_CONTEXT).cloned())
    }

    /// Wraps `fut` so that it runs with this trace context added to the
    /// context current at its first poll (see
    /// [`Key::scope`](crate::Key::scope): scopes nest).
    ///
    /// # Examples
    /// ```
    /// use ctx::trace::TraceContext;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = TraceContext::new_root();
    /// let id = root.trace_id();
    /// let seen = root.scope(async { ctx::trace_id() }).await;
    /// assert_eq!(seen, Some(id));
    /// # }
    /// ```
    pub fn scope<F: Future>(self, fut: F) -> Scoped<F> {
        TRACE_CONTEXT.scope(self, fut)
    }

    /// Runs `f` with this trace context in the current context.
    pub fn sync_scope<R>(self, f: impl FnOnce() -> R) -> R {
        TRACE_CONTEXT.sync_scope(self, f)
    }

    /// Makes this the trace context of the current scope.
    ///
    /// # Panics
    ///
    /// Outside any scope, as [`Key::set`](crate::Key::set) does.
    #[track_caller]
    pub fn set_current(self) {
        TRACE_CONTEXT.set(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_and_scopes() {
        assert_eq!(TraceContext::current(), None);
        assert_eq!(crate::trace_id(), None);
        let root = TraceContext::new_root();
        let fresh = TraceContext::child_of_current();
        assert_eq!(
            fresh.parent_span_id(),
            None,
            "no current context: a new root"
        );
        root.clone().sync_scope(|| {
            assert_eq!(crate::trace_id(), Some(root.trace_id()));
            assert_eq!(crate::span_id(), Some(root.span_id()));
            let child = TraceContext::child_of_current();
            assert_eq!(child.parent_span_id(), Some(root.span_id()));
            child.clone().set_current();
            assert_eq!(TraceContext::current(), Some(child));
        });
        assert_eq!(TraceContext::current(), None);
    }

    #[cfg(feature = "tokio")]
    #[tokio::test]
    async fn follows_spawned_tasks() {
        let root = TraceContext::new_root();
        let id = root.trace_id();
        let seen = root
            .scope(async { crate::spawn(async { crate::trace_id() }).await.unwrap() })
            .await;
        assert_eq!(seen, Some(id));
    }
}
