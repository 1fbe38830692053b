//! Where "the current span" may come from another tracing system: the one
//! [`SpanSource`] an integration registers, consulted when ctx makes a span
//! of its own.

use std::fmt;
use std::sync::OnceLock;

use crate::context::Context;
use crate::model::TraceContext;

/// Another tracing system's current span, offered to ctx whenever ctx makes
/// a span (see [`set_span_source`]).
///
/// `inner` is called with the current [`Context`] and returns the other
/// system's current span when that span is *inner* to the one the context
/// holds (or the context holds none): when it was started, or made current,
/// inside ctx's span rather than around it. It returns `None` to let ctx's
/// span stand. How "inner" is decided is the source's business, and it
/// documents it (for opentelemetry: `ctx::otel`, feature `opentelemetry`).
/// `inner` must not write to the current context.
pub struct SpanSource {
    name: &'static str,
    inner: fn(&Context) -> Option<TraceContext>,
}

impl SpanSource {
    /// A span source named `name` (for `Debug` output and errors) that
    /// answers with `inner`.
    pub const fn new(
        name: &'static str,
        inner: fn(&Context) -> Option<TraceContext>,
    ) -> SpanSource {
        SpanSource { name, inner }
    }

    /// The source's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl fmt::Debug for SpanSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanSource")
            .field("name", &self.name)
            .finish()
    }
}

/// Why a span source could not be set: another one is.
#[derive(Clone, PartialEq, Eq)]
pub struct SetSpanSourceError {
    registered: &'static str,
}

impl SetSpanSourceError {
    /// The name of the span source that is set already.
    pub fn registered(&self) -> &'static str {
        self.registered
    }
}

impl fmt::Debug for SetSpanSourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SetSpanSourceError")
            .field("registered", &self.registered)
            .finish()
    }
}

impl fmt::Display for SetSpanSourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a span source is set already: {}", self.registered)
    }
}

impl std::error::Error for SetSpanSourceError {}

static SOURCE: OnceLock<&'static SpanSource> = OnceLock::new();

/// Sets the process's span source: from now on,
/// [`TraceContext::child_of_current`] (so `ctx::http::inject` and
/// `PropagateLayer`) and [`TraceContext::innermost`] take the other
/// system's current span in place of ctx's when `source` says it is inner.
///
/// One source is set for the life of the process; setting the same `static`
/// again does nothing. With none set, ctx's span is the current one, at the
/// cost of one atomic load.
///
/// # Errors
///
/// Fails when another source is set already.
///
/// # Examples
///
/// ```
/// use ctx::trace::{self, SpanSource, TraceContext};
///
/// // A source whose spans are never inner: ctx's span always stands.
/// static NEVER: SpanSource = SpanSource::new("never", |_| None);
///
/// trace::set_span_source(&NEVER).unwrap();
/// assert!(trace::set_span_source(&NEVER).is_ok(), "the same source again");
/// let root = TraceContext::new_root();
/// let child = root.clone().sync_scope(TraceContext::child_of_current);
/// assert_eq!(child.parent_span_id(), Some(root.span_id()));
/// ```
pub fn set_span_source(source: &'static SpanSource) -> Result<(), SetSpanSourceError> {
    let set = *SOURCE.get_or_init(|| source);
    if std::ptr::eq(set, source) {
        Ok(())
    } else {
        Err(SetSpanSourceError {
            registered: set.name,
        })
    }
}

/// The span source that is set, if any.
pub fn span_source() -> Option<&'static SpanSource> {
    SOURCE.get().copied()
}

/// The source's current span, if a source is set and says its span is inner
/// to the one `cx` holds.
#[inline]
pub(crate) fn inner_span(cx: &Context) -> Option<TraceContext> {
    // The one atomic load when no source is set.
    let source = SOURCE.get()?;
    (source.inner)(cx)
}
