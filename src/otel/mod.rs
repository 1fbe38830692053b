//! OpenTelemetry: one trace across ctx and opentelemetry, across every hop.
//!
//! - **Conversions**: [`TraceContext`] ↔ opentelemetry's
//!   [`SpanContext`](opentelemetry::trace::SpanContext) (`From` and
//!   `TryFrom`, ids, flags and trace state; an invalid span context gives no
//!   trace context), and ctx's [`Baggage`](crate::baggage::Baggage) ↔
//!   opentelemetry's.
//! - **Propagation**: [`TextMap`] makes any ctx propagator an opentelemetry
//!   `TextMapPropagator`; [`OtelCarrier`] and [`CtxCarrier`] use each side's
//!   carriers as the other's.
//! - **Span parents, both ways**, with [`init`] called once: spans made with
//!   opentelemetry's API (`global::tracer(..).start(..)`, `in_span`) or with
//!   `tracing` through `tracing-opentelemetry` (`info_span!`,
//!   `#[instrument]`) in work whose ctx context holds a [`TraceContext`] are
//!   children of ctx's span, in `ctx::spawn` tasks, `spawn_blocking`
//!   closures and `ctx::thread`s as in the request future itself; and a
//!   `traceparent` ctx writes (`ctx::http::inject`, `PropagateLayer`,
//!   [`TraceContext::child_of_current`]) while an opentelemetry span is
//!   current names that span as the parent. The innermost span wins,
//!   whichever system made it.
//!
//! # Set-up
//!
//! ```
//! use opentelemetry::global;
//! use opentelemetry_sdk::trace::SdkTracerProvider;
//!
//! // The tracer provider, as usual (here with no exporter).
//! let provider = SdkTracerProvider::builder().build();
//! global::set_tracer_provider(provider.clone());
//!
//! // Once, at start-up: ctx carries opentelemetry's context and asks it
//! // for the current span.
//! ctx::otel::init().unwrap();
//!
//! // Optionally, ctx's formats for opentelemetry's instrumentations too.
//! global::set_text_map_propagator(ctx::otel::TextMap::default());
//! ```
//!
//! # How the work finds its parent
//!
//! ctx carries an opentelemetry context in its own [`Context`], beside the
//! trace context, with the carried-context mechanism any system can use
//! ([`carry`], [`Key::with_replay`](crate::Key::with_replay)):
//!
//! - **At every capture** (`ctx::spawn` and its siblings, `ctx::thread`,
//!   [`wrap`](crate::wrap), streams), the registered carrier puts into the
//!   child's context opentelemetry's current context when its span is inner
//!   to ctx's span (a span started with `in_span`, an entered `tracing`
//!   span), or else one whose span is ctx's span, as a remote parent. Nothing
//!   is added when the context carries the right one already, which is the
//!   common case in a request: capture then costs a look at both current
//!   spans and no allocation.
//! - **Around every run** of that work (each poll, each call), the key's
//!   replay makes the carried context opentelemetry's current one and puts
//!   the previous one back after, also on panic.
//! - **The request future itself** is not a child: nothing captures for it.
//!   Its context gets an opentelemetry context from [`with_trace`], which the
//!   server calls on the context it seeds for each request (the HTTP layer
//!   will), or which [`scope`] and [`sync_scope`] apply to the current context
//!   for work of one's own, such as a root made with
//!   [`TraceContext::new_root`]. Without it the future's own spans do not
//!   see ctx's span; its spawned children do.
//!
//! A scope nested inside with a ctx span of its own (`TraceContext::scope`
//! on a child span) inherits the carried context: its runs make one for the
//! new span instead (an allocation per run; wrap the scope in [`scope`] to
//! build it once).
//!
//! # Which span is inner
//!
//! Both systems have a current span: ctx's in the current [`Context`],
//! opentelemetry's in its current context. opentelemetry's is taken as
//! **inner**, the parent of what starts now, unless:
//!
//! - it is ctx's span itself, or the parent of ctx's span (ctx's span was
//!   made as its child, as [`TraceContext::child_of_current`] does), or
//! - it is the span the ctx context carries, and the context carried it for
//!   an earlier ctx span (ctx's span was set later, inside it);
//!
//! and it has no valid span at all, of course. So an opentelemetry span made
//! current inside ctx's scope (by `in_span`, `with_context`, a `tracing`
//! span entered with context activation) is inner, and so is one carried
//! into a child for the ctx span the child still has. The rule reads the
//! two current spans and what ctx carries; it cannot see how a span made
//! elsewhere relates to ctx's: a ctx span set inside an opentelemetry span
//! in a context ctx has not carried one into (no [`scope`] and no spawn in
//! between) counts as inner only when it is that span's child.
//!
//! An opentelemetry context made current around a runtime's `block_on`
//! (rather than inside a task) is seen by every task that runtime polls,
//! and taken as inner to their spans: make spans current inside tasks.
//!
//! `ctx::trace_id()` and `ctx::span_id()` (log fields, the access log) stay
//! ctx's own; [`TraceContext::innermost`] is the innermost span, whichever
//! system made it.
//!
//! # Cost
//!
//! With the feature off, or on without [`init`], nothing: no carrier, no
//! span source, and work whose context carries no opentelemetry context
//! pays what it paid before. With it, a capture reads both current spans
//! (no allocation when the context carries the right opentelemetry context
//! already), and [`TraceContext::child_of_current`] reads opentelemetry's
//! current span.
//!
//! Each poll (or call) of work carrying an opentelemetry context pays ctx's
//! replay of a carried value (a reference count on the context, and the
//! replay function's call) and then makes the context current the only way
//! opentelemetry allows, `attach`, which is what opentelemetry's own
//! `FutureExt::with_context` pays per poll (a reference count and a push on
//! its context stack, undone after). Together that is about twice
//! `with_context`'s cost over a bare poll (`cargo bench --bench poll
//! --features opentelemetry`, cases `ctx_replay`, `ctx_otel` and
//! `opentelemetry_span`); stacking `with_context` on a ctx future by hand
//! costs one `with_context` and one ctx poll, but carries nothing into
//! spawned work.
//!
//! [`TraceContext`]: crate::trace::TraceContext
//! [`TraceContext::new_root`]: crate::trace::TraceContext::new_root
//! [`TraceContext::child_of_current`]: crate::trace::TraceContext::child_of_current
//! [`TraceContext::innermost`]: crate::trace::TraceContext::innermost
//! [`Context`]: crate::Context

use std::fmt;

use crate::carry::{self, RegisterError};
use crate::trace::{set_span_source, SetSpanSourceError};

mod carrier;
mod context;
mod convert;
mod propagator;
#[cfg(feature = "http")]
mod server;

pub use carrier::{CtxCarrier, OtelCarrier};
pub use context::{scope, sync_scope, with_trace};
pub use convert::InvalidSpanContext;
pub use propagator::TextMap;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub use server::ServerSpans;

/// Sets ctx up for opentelemetry, once for the process: registers the
/// [carrier](crate::carry) that takes opentelemetry's current context into
/// every child ctx captures a context for, and sets the
/// [span source](crate::trace::set_span_source) through which ctx's new
/// spans (`ctx::http::inject`, `PropagateLayer`) take opentelemetry's span
/// as their parent when it is inner (see the [module docs](self)).
///
/// Calling it again does nothing. It does not touch opentelemetry's own
/// globals (the tracer provider, the text-map propagator): set those as
/// usual.
///
/// # Errors
///
/// Fails when [`carry::MAX_CARRIERS`] carriers are registered already, or
/// another span source is set; the carrier stays registered in the second
/// case.
///
/// # Examples
///
/// ```
/// use ctx::trace::TraceContext;
/// use opentelemetry::trace::TraceContextExt;
///
/// ctx::otel::init().unwrap();
/// ctx::otel::init().unwrap(); // again: nothing
///
/// let root = TraceContext::new_root();
/// let seen = root.clone().sync_scope(|| {
///     // Work ctx hands to another thread (or task) runs with ctx's span as
///     // opentelemetry's current span.
///     ctx::thread::spawn(|| opentelemetry::Context::current().span().span_context().span_id())
///         .join()
///         .unwrap()
/// });
/// assert_eq!(seen.to_bytes(), root.span_id().to_bytes());
/// ```
pub fn init() -> Result<(), InitError> {
    carry::register(&context::CARRIER).map_err(InitError::Carrier)?;
    set_span_source(&context::SOURCE).map_err(InitError::SpanSource)?;
    Ok(())
}

/// Why [`init`] failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InitError {
    /// No room for the carrier: [`carry::MAX_CARRIERS`] are registered.
    Carrier(RegisterError),
    /// Another span source is set.
    SpanSource(SetSpanSourceError),
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::Carrier(e) => write!(f, "ctx::otel::init: {e}"),
            InitError::SpanSource(e) => write!(f, "ctx::otel::init: {e}"),
        }
    }
}

impl std::error::Error for InitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InitError::Carrier(e) => Some(e),
            InitError::SpanSource(e) => Some(e),
        }
    }
}
