//! Steps 1-3 of [`ContextLayer`](super::ContextLayer): what the caller
//! sent, the server span, and the request's context.

use std::time::{Duration, Instant};

use http::header::HeaderValue;
use http::Request;

use super::config::{Config, Recorder};
use super::echo::Echo;
use super::trust::Trust;
use crate::budget::Budget;
use crate::call_id::{CallId, CALL_ID};
use crate::context::Context;
use crate::http::access_log::{self, AccessLog, Recorded, Route};
use crate::http::record::RequestStart;
use crate::propagation::{
    is_grpc_content_type, parse_grpc_timeout, parse_timeout_ms, HeaderIndex, Propagated, RequestId,
    TraceParent, REQUEST_ID,
};
use crate::slot::scope_is_own;
use crate::trace::{TraceContext, TraceId, TRACE_CONTEXT};

/// The request id, read once into `inbound`: a configured propagator's,
/// else the layer's header. Returns the value to echo, which is what the
/// context holds: the inbound header itself when it is the id exactly
/// (no copy), else the id written anew (without the padding `parse`
/// trims).
fn read_request_id(
    config: &Config,
    headers: &HeaderIndex<'_>,
    inbound: &mut Propagated,
) -> Option<HeaderValue> {
    let name = config.request_id_header.as_ref()?;
    if inbound.request_id.is_none() {
        let value = headers.indexed(name)?;
        inbound.request_id = RequestId::parse(value.as_bytes());
        if inbound.request_id.as_ref()?.as_str().len() == value.len() {
            return Some(value.clone());
        }
    }
    HeaderValue::from_str(inbound.request_id.as_ref()?.as_str()).ok()
}

/// The caller's timeout: `grpc-timeout` on a gRPC request, the configured
/// plain-HTTP header, the shorter of the two. Malformed values are
/// ignored. (The index finds `grpc-timeout` in its one pass: a request
/// without it pays no lookup.)
#[inline]
fn read_timeout(config: &Config, headers: &HeaderIndex<'_>) -> Option<Duration> {
    let grpc = config
        .deadline
        .then(|| headers.grpc_timeout())
        .flatten()
        .filter(|_| {
            headers
                .content_type()
                .is_some_and(|v| is_grpc_content_type(v.as_bytes()))
        })
        .and_then(|v| parse_grpc_timeout(v.as_bytes()));
    let plain = config
        .deadline_header
        .as_ref()
        .and_then(|name| headers.indexed(name))
        .and_then(|v| parse_timeout_ms(v.as_bytes()));
    match (grpc, plain) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The request's deadline and cancellation signal, for its context: `None`
/// when it has neither (no deadline came, cancellation off or compiled
/// out), which costs nothing.
#[inline]
fn budget(config: &Config, headers: &HeaderIndex<'_>, surrounding: &Context) -> Option<Budget> {
    #[cfg(feature = "cancel")]
    let cancel = config.cancellation;
    #[cfg(not(feature = "cancel"))]
    let cancel = false;
    let timeout = read_timeout(config, headers);
    if timeout.is_none() && !cancel {
        return None;
    }
    // A timeout too long to add to the clock is no deadline.
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    // Only the deadline and signal of this task's own scope (an in-process
    // call inside a request): a runtime driven inside `cx.run(..)` polls
    // every connection task under `cx`, and those requests must not end
    // by its deadline or share its signal.
    let empty;
    let surrounding = if scope_is_own() {
        surrounding
    } else {
        empty = Context::new();
        &empty
    };
    crate::deadline::request_budget(deadline, surrounding, cancel)
}

/// Steps 1-3: what the caller sent, and the request's context.
#[inline]
pub(super) fn seed<B>(
    config: &Config,
    req: &Request<B>,
) -> (Context, Echo, Option<Box<AccessLog>>) {
    let headers = HeaderIndex::new(req.headers());
    let mut inbound = config.propagators.extract(&headers);
    let request_id_header = read_request_id(config, &headers, &mut inbound);
    let mut inbound_trace_id = None;
    if config.trust == Trust::Untrusted {
        inbound_trace_id = inbound.trace.take().map(|t| t.trace_id());
        inbound.baggage = Default::default();
        // Declared keys' headers go with the baggage.
        inbound.remote = Default::default();
        // An untrusted caller's place in its tree is not continued.
        if inbound.call_id.is_some() {
            inbound.call_id = Some(CallId::root());
        }
    }
    // The context the service is called in (empty under `axum::serve`).
    let surrounding = Context::current();
    let budget = budget(config, &headers, &surrounding);
    let server = match &inbound.trace {
        Some(caller) => caller.child(),
        // No caller's span (or none trusted): the service is called
        // inside a trace of this process (an in-process call, a second
        // layer) or starts one. Only a trace of this task's own scope:
        // a runtime driven inside `cx.run(..)` polls every connection
        // task under `cx`, and those requests must not share its trace.
        None => surrounding
            .get(&TRACE_CONTEXT)
            .filter(|_| scope_is_own())
            .map(TraceContext::child)
            .unwrap_or_else(|| {
                let mut root = TraceContext::new_root();
                // A trusted caller that sent only "do not sample" (B3's
                // `b3: 0`) keeps its new trace unsampled downstream too.
                if config.trust == Trust::Inbound && inbound.sampled == Some(false) {
                    let flags = root.flags().with_sampled(false);
                    root = root.with_flags(flags);
                }
                root
            }),
    };
    // No call id came (no call-id propagator, or none in its header): an
    // in-process call is the next child of its own scope's call, as its
    // span is of that scope's span; a foreign scope's id (a runtime driven
    // inside `cx.run(..)`) is not this request's, and `replace_in` drops it.
    if inbound.call_id.is_none() {
        inbound.call_id = surrounding
            .get(&CALL_ID)
            .filter(|_| scope_is_own())
            .map(CallId::child);
    }
    // No request id came: the trace id stands in for it, in the context,
    // the log and the response alike.
    if config.request_id_header.is_some() && inbound.request_id.is_none() {
        inbound.request_id = Some(RequestId::from(server.trace_id()));
    }
    let echo = Echo {
        traceparent: TraceParent::from(&server),
        echo_traceparent: config.echo_traceparent,
        request_id: request_id_header,
        request_id_header: config.request_id_header.as_ref().map(|n| n.name().clone()),
    };
    // The record (a clock read, copies) only when a subscriber wants the
    // event or a recorder the request's end.
    let event = config.access_log.filter(|l| access_log::enabled(*l));
    let Some(recorder) = &config.recorder else {
        let log = event.map(|level| {
            let mut log = Box::new(AccessLog::new(
                Some(level),
                req,
                Route::of(req),
                &server,
                inbound.request_id.clone(),
                inbound_trace_id,
            ));
            log.call_id.clone_from(&inbound.call_id);
            log
        });
        // The surrounding context's own values are inherited; the
        // request-scoped ones are the request's alone.
        let cx = inbound.replace_in(server, &surrounding, budget);
        return (cx, echo, log);
    };
    let stand_in = echo.request_id.is_none();
    let (cx, log, server) = recorded(
        recorder,
        req,
        event,
        inbound,
        inbound_trace_id,
        server,
        &surrounding,
        stand_in,
        budget,
    );
    let mut echo = echo;
    echo.traceparent = TraceParent::from(&server);
    (cx, echo, Some(log))
}

/// The end of [`seed`] with a span recorder: the access-log record is made
/// whether or not the event is wanted, to end the recorder's span with it.
/// Out of line: the common request has no recorder.
#[inline(never)]
#[allow(clippy::too_many_arguments)] // seed's state, handed over once
fn recorded<B>(
    recorder: &Recorder,
    req: &Request<B>,
    event: Option<tracing::Level>,
    inbound: Propagated,
    inbound_trace_id: Option<TraceId>,
    server: TraceContext,
    surrounding: &Context,
    stand_in: bool,
    budget: Option<Budget>,
) -> (Context, Box<AccessLog>, TraceContext) {
    let route = Route::of(req);
    let start = RequestStart {
        method: req.method(),
        uri: req.uri(),
        headers: req.headers(),
        route: route.template(),
        span: &server,
        remote_parent: inbound.trace.is_some(),
    };
    let mut request_id = inbound.request_id.clone();
    let call_id = inbound.call_id.clone();
    let cx = inbound.replace_in(server.clone(), surrounding, budget);
    let (mut cx, span) = recorder.0.start(&start, cx);
    // The recorder may have given the server span ids of its own (its
    // system's): the echo, the log and a stand-in request id follow them.
    let adopted = cx.get(&TRACE_CONTEXT).cloned().unwrap_or(server);
    let stand_in = request_id.as_ref().filter(|_| stand_in);
    if stand_in.is_some_and(|id| *id != RequestId::from(adopted.trace_id())) {
        let id = RequestId::from(adopted.trace_id());
        cx = cx.with(&REQUEST_ID, id.clone());
        request_id = Some(id);
    }
    let mut log = AccessLog::new(event, req, route, &adopted, request_id, inbound_trace_id);
    log.span = span.map(Recorded);
    log.call_id = call_id;
    (cx, Box::new(log), adopted)
}
