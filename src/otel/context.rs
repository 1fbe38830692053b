//! opentelemetry's context carried with ctx's: the key whose replay makes
//! it current around every run, the carrier that takes it into every child,
//! and the span source that tells ctx when opentelemetry's span is inner.

use std::future::Future;

use opentelemetry::trace::{SpanContext, TraceContextExt};
use opentelemetry::Context as OtelContext;

use super::convert::{span_id_of, trace_id_of};
use crate::carry::Carrier;
use crate::context::Context;
use crate::key::Key;
use crate::model::{SpanId, TraceContext, TraceId};
use crate::scoped::Scoped;
use crate::slot::with_current;
use crate::trace::{SpanSource, TRACE_CONTEXT};

/// An opentelemetry context as a ctx context carries it: the one to make
/// current while ctx's span is the one it was taken under.
struct Carried {
    otel: OtelContext,
    /// ctx's span when it was taken; `None`: there was none.
    under: Option<SpanId>,
}

/// The key a ctx context carries opentelemetry's context under. Its replay
/// makes that context opentelemetry's current one around every poll and
/// call (see [`replay`]).
static OTEL: Key<Carried> = Key::new("ctx.otel.context").with_replay(replay);

/// The carrier that takes opentelemetry's context into every child.
pub(super) static CARRIER: Carrier = Carrier::new("opentelemetry context", capture);

/// The span source that names opentelemetry's span when it is inner.
pub(super) static SOURCE: SpanSource = SpanSource::new("opentelemetry", inner_span);

/// What the "inner" rule needs of a ctx span (all `Copy`: a poll reads it
/// without a reference count).
#[derive(Clone, Copy)]
struct Ids {
    trace_id: TraceId,
    span_id: SpanId,
    parent: Option<SpanId>,
}

impl Ids {
    fn of(t: &TraceContext) -> Ids {
        Ids {
            trace_id: t.trace_id(),
            span_id: t.span_id(),
            parent: t.parent_span_id(),
        }
    }
}

/// Whether `sc` names the span `ids` name.
fn is_span(sc: &SpanContext, trace_id: TraceId, span_id: SpanId) -> bool {
    trace_id_of(sc) == Some(trace_id) && span_id_of(sc) == Some(span_id)
}

/// Whether two span contexts name the same span.
fn same_span(a: &SpanContext, b: &SpanContext) -> bool {
    a.trace_id() == b.trace_id() && a.span_id() == b.span_id()
}

/// The rule (see the module docs of `ctx::otel`): whether opentelemetry's
/// current span `current` is inner to ctx's span `ctx_span`, given what the
/// ctx context carries.
fn otel_is_inner(ctx_span: Option<Ids>, carried: Option<&Carried>, current: &SpanContext) -> bool {
    if !current.is_valid() {
        return false;
    }
    let Some(t) = ctx_span else {
        return true;
    };
    if is_span(current, t.trace_id, t.span_id)
        || t.parent
            .is_some_and(|parent| is_span(current, t.trace_id, parent))
    {
        // ctx's span itself, or its parent.
        return false;
    }
    match carried {
        // What ctx carries for this span: inner if it was taken under it.
        Some(c) if same_span(c.otel.span().span_context(), current) => c.under == Some(t.span_id),
        // Made current by someone else inside ctx's span.
        _ => true,
    }
}

/// opentelemetry's context for a ctx span: the span as a remote parent.
fn remote(t: &TraceContext) -> OtelContext {
    OtelContext::new().with_remote_span_context(SpanContext::from(t))
}

/// The replay: around `run`, opentelemetry's current context is the carried
/// one, or, when ctx's span changed since it was taken (a nested scope with
/// a span of its own), one made for ctx's span; unless opentelemetry's
/// current context already names that span or one inner to ctx's (the run
/// is nested in a scope that made one current: an `.instrument(..)`ed or
/// `with_context` future around a ctx scope).
fn replay(carried: &Carried, run: &mut dyn FnMut()) {
    // ctx's span, read in the slot without a reference count.
    let (ids, stale) = with_current(|cx| {
        let t = cx.get(&TRACE_CONTEXT);
        let stale = t.filter(|t| Some(t.span_id()) != carried.under).cloned();
        (t.map(Ids::of), stale)
    });
    let install = OtelContext::map_current(|ambient| {
        let span = ambient.span();
        let sc = span.span_context();
        let ours = match (&stale, ids) {
            (Some(_), Some(t)) => is_span(sc, t.trace_id, t.span_id),
            _ => same_span(sc, carried.otel.span().span_context()),
        };
        !ours && !otel_is_inner(ids, Some(carried), sc)
    });
    if !install {
        return run();
    }
    let otel = match &stale {
        Some(t) => remote(t),
        None => carried.otel.clone(),
    };
    let _attached = otel.attach();
    run();
}

/// The capture, on the parent's side: the child carries opentelemetry's
/// current context when its span is inner to ctx's, else one made for
/// ctx's span; nothing new when the context carries the right one already.
fn capture(cx: &Context) -> Option<Context> {
    let trace = cx.get(&TRACE_CONTEXT);
    let carried = cx.get(&OTEL);
    let under = trace.map(TraceContext::span_id);
    let fresh = carried.is_some_and(|c| c.under == under);
    // Decided on a borrow of opentelemetry's current context, cloned only
    // when it is the one to carry.
    let take = OtelContext::map_current(|current| {
        let span = current.span();
        let sc = span.span_context();
        if otel_is_inner(trace.map(Ids::of), carried, sc) {
            let carried_already =
                fresh && carried.is_some_and(|c| same_span(c.otel.span().span_context(), sc));
            return (!carried_already).then(|| Some(current.clone()));
        }
        match trace {
            None => None,
            Some(_) if fresh => None,
            // A context that names ctx's span (the replay's): share it.
            Some(t) if is_span(sc, t.trace_id(), t.span_id()) => Some(Some(current.clone())),
            Some(_) => Some(None),
        }
    })?;
    let otel = match (take, trace) {
        (Some(otel), _) => otel,
        (None, Some(t)) => remote(t),
        (None, None) => return None,
    };
    Some(cx.with(&OTEL, Carried { otel, under }))
}

/// The span source: opentelemetry's current span, when it is inner to the
/// span `cx` holds.
fn inner_span(cx: &Context) -> Option<TraceContext> {
    let trace = cx.get(&TRACE_CONTEXT).map(Ids::of);
    let carried = cx.get(&OTEL);
    OtelContext::map_current(|current| {
        let span = current.span();
        let sc = span.span_context();
        if otel_is_inner(trace, carried, sc) {
            TraceContext::try_from(sc).ok()
        } else {
            None
        }
    })
}

/// `cx` with an opentelemetry context for its trace context: work run in
/// the returned context (every poll of a future given it with
/// [`in_context`](crate::FutureExt::in_context), every
/// [`Context::run`]) finds opentelemetry's current span to be `cx`'s span,
/// as a remote parent, so that the spans it starts with opentelemetry's
/// API or `tracing` are children of it.
///
/// Returns `cx` as it is when it holds no trace context, or carries an
/// opentelemetry context for that span already. Otherwise the new context
/// costs two allocations (opentelemetry's span and ctx's table).
///
/// This is what a server calls on each request's context before it runs
/// the handler in it; spawned work needs nothing (see [`init`](super::init)).
///
/// # Examples
///
/// ```
/// use ctx::{Context, FutureExt};
/// use ctx::trace::{TraceContext, TRACE_CONTEXT};
/// use opentelemetry::trace::TraceContextExt;
///
/// let span = TraceContext::new_root();
/// let cx = ctx::otel::with_trace(&Context::new().with(&TRACE_CONTEXT, span.clone()));
/// let seen = cx.run(|| opentelemetry::Context::current().span().span_context().span_id());
/// assert_eq!(seen.to_bytes(), span.span_id().to_bytes());
/// // Outside the run, opentelemetry's current context is as it was.
/// assert!(!opentelemetry::Context::current().has_active_span());
/// ```
pub fn with_trace(cx: &Context) -> Context {
    let Some(t) = cx.get(&TRACE_CONTEXT) else {
        return cx.clone();
    };
    let under = Some(t.span_id());
    if cx.get(&OTEL).is_some_and(|c| c.under == under) {
        return cx.clone();
    }
    cx.with(
        &OTEL,
        Carried {
            otel: remote(t),
            under,
        },
    )
}

/// `cx` carrying `otel` (whose span is the server span `under`): the
/// server layer's recorder (`server.rs`) installs its span this way.
///
/// The server span `trace` goes in with it, in the same new table.
#[cfg(feature = "http")]
pub(super) fn carrying(cx: &Context, trace: TraceContext, otel: OtelContext) -> Context {
    use crate::context::Entry;
    let under = Some(trace.span_id());
    cx.with_entries([
        Some(Entry::new(&TRACE_CONTEXT, trace)),
        Some(Entry::new(&OTEL, Carried { otel, under })),
    ])
}

/// Runs `fut` in the context current at its first poll made ready for
/// opentelemetry with [`with_trace`]: on every poll, opentelemetry's
/// current span is ctx's span (or a span opentelemetry made inside it), so
/// the spans `fut` starts are its children.
///
/// As for every scope of ctx ([`Key::scope`](crate::Key::scope)), the
/// context is the one current at the first poll, so it nests inside the
/// scope that polls it.
///
/// # Examples
///
/// ```
/// use ctx::trace::TraceContext;
/// use opentelemetry::trace::TraceContextExt;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let root = TraceContext::new_root();
/// // Polled inside the root's scope, so it takes the root's span.
/// let work = ctx::otel::scope(async {
///     opentelemetry::Context::current().span().span_context().span_id()
/// });
/// let seen = root.clone().scope(work).await;
/// assert_eq!(seen.to_bytes(), root.span_id().to_bytes());
/// # }
/// ```
pub fn scope<F: Future>(fut: F) -> Scoped<F> {
    Scoped::new(fut, Context::new(), |_| with_trace(&Context::current()))
}

/// Runs `f` in the current context made ready for opentelemetry with
/// [`with_trace`] (see [`scope`]).
pub fn sync_scope<R>(f: impl FnOnce() -> R) -> R {
    with_trace(&Context::current()).run(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanId as OtelSpanId, TraceFlags, TraceState};

    fn child_span(parent: &SpanContext, span_id: u64) -> OtelContext {
        let sc = SpanContext::new(
            parent.trace_id(),
            OtelSpanId::from(span_id),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        );
        OtelContext::new().with_remote_span_context(sc)
    }

    fn span_of(cx: &OtelContext) -> SpanContext {
        cx.span().span_context().clone()
    }

    #[test]
    fn with_trace_is_a_no_op_without_a_span_or_when_done() {
        let empty = Context::new();
        assert!(with_trace(&empty).ptr_eq(&empty));
        let cx = with_trace(&Context::new().with(&TRACE_CONTEXT, TraceContext::new_root()));
        assert!(with_trace(&cx).ptr_eq(&cx), "carried already");
    }

    #[test]
    fn the_inner_rule() {
        let t = TraceContext::new_root();
        let child = t.child();
        let own = SpanContext::from(&t);
        let inner = span_of(&child_span(&own, 7));
        let ids = Some(Ids::of(&t));
        assert!(!otel_is_inner(ids, None, &SpanContext::NONE), "no span");
        assert!(otel_is_inner(None, None, &own), "no ctx span");
        assert!(!otel_is_inner(ids, None, &own), "ctx's span itself");
        assert!(
            !otel_is_inner(Some(Ids::of(&child)), None, &own),
            "ctx's span is a child of it"
        );
        assert!(otel_is_inner(ids, None, &inner), "made current inside");
        let fresh = Carried {
            otel: child_span(&own, 7),
            under: Some(t.span_id()),
        };
        assert!(
            otel_is_inner(ids, Some(&fresh), &inner),
            "carried for this span"
        );
        let stale = Carried {
            otel: child_span(&own, 7),
            under: Some(SpanId::random()),
        };
        assert!(
            !otel_is_inner(ids, Some(&stale), &inner),
            "carried for an outer span: ctx's was set later"
        );
    }

    #[test]
    fn replay_installs_and_restores() {
        let t = TraceContext::new_root();
        let cx = with_trace(&Context::new().with(&TRACE_CONTEXT, t.clone()));
        let seen = cx.run(|| span_of(&OtelContext::current()));
        assert!(is_span(&seen, t.trace_id(), t.span_id()));
        assert!(!OtelContext::current().has_active_span());
    }

    #[test]
    fn a_nested_scope_with_its_own_span_gets_an_opentelemetry_context_for_it() {
        let outer = TraceContext::new_root();
        let inner = outer.child();
        let cx = with_trace(&Context::new().with(&TRACE_CONTEXT, outer));
        let seen = cx.run(|| {
            inner
                .clone()
                .sync_scope(|| span_of(&OtelContext::current()))
        });
        assert!(is_span(&seen, inner.trace_id(), inner.span_id()));
    }

    #[test]
    fn an_inner_opentelemetry_context_around_a_nested_scope_stays_current() {
        let t = TraceContext::new_root();
        let cx = with_trace(&Context::new().with(&TRACE_CONTEXT, t.clone()));
        cx.run(|| {
            let made_inside = child_span(&SpanContext::from(&t), 9);
            let expected = span_of(&made_inside);
            let _attached = made_inside.attach();
            // A ctx scope (a key of the user's) inside it inherits the
            // carried context; its replay must not hide the inner span.
            static K: Key<u8> = Key::new("k");
            let seen = K.sync_scope(1, || span_of(&OtelContext::current()));
            assert!(same_span(&seen, &expected));
        });
    }
}
