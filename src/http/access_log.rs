//! The access log: one `tracing` event per request, when its response ends.
//! Its fields are documented on
//! [`ContextLayer`](super::ContextLayer#access-log).

use std::fmt;
use std::time::Instant;

use http::{Method, StatusCode, Uri};
use tracing::Level;

use super::grpc::Rpc;
use super::outcome::{on_unwind, Outcome};
use super::record::{RecordedSpan, RequestEnd};
use crate::call_id::CallId;
use crate::propagation::RequestId;
use crate::trace::{SpanId, TraceContext, TraceId};

/// The `tracing` target of the access-log events, to filter them
/// (`RUST_LOG=ctx::access=info`) or route them to their own file. The
/// events' fields: [Access log](super::ContextLayer#access-log).
pub const ACCESS_LOG_TARGET: &str = "ctx::access";

/// Where the request went: the route template when a router told us (axum's
/// `MatchedPath`), otherwise the path.
#[derive(Clone, Debug)]
pub(crate) enum Route {
    Path(Uri),
    #[cfg(feature = "axum")]
    Matched(axum::extract::MatchedPath),
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Route {
    /// The matched template, or the path.
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Route::Path(uri) => uri.path(),
            #[cfg(feature = "axum")]
            Route::Matched(m) => m.as_str(),
        }
    }

    /// The matched route template, if a router gave one.
    pub(crate) fn template(&self) -> Option<&str> {
        match self {
            Route::Path(_) => None,
            #[cfg(feature = "axum")]
            Route::Matched(m) => Some(m.as_str()),
        }
    }

    pub(crate) fn of<B>(req: &http::Request<B>) -> Route {
        #[cfg(feature = "axum")]
        if let Some(m) = req.extensions().get::<axum::extract::MatchedPath>() {
            return Route::Matched(m.clone());
        }
        Route::Path(req.uri().clone())
    }
}

/// What the access log needs to know about one request. Built when the
/// request comes in, completed with the status, emitted once.
#[derive(Debug)]
pub(crate) struct AccessLog {
    /// The event's level; `None`: no event, only the recorded span's end.
    pub(crate) level: Option<Level>,
    pub(crate) method: Method,
    pub(crate) route: Route,
    pub(crate) start: Instant,
    pub(crate) status: Option<StatusCode>,
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) parent_span_id: Option<SpanId>,
    pub(crate) request_id: Option<RequestId>,
    /// The trace id an untrusted caller sent, kept only for the log.
    pub(crate) inbound_trace_id: Option<TraceId>,
    /// The request's call id, when the layer's propagators include the
    /// call id's.
    pub(crate) call_id: Option<CallId>,
    /// The service's future or body panicked while polled (see
    /// [`mark_panic`]).
    pub(crate) panicked: bool,
    /// The server span a recorder records, ended with the event.
    pub(crate) span: Option<Recorded>,
    /// The gRPC call, when the request is one.
    pub(crate) rpc: Option<Rpc>,
}

/// A recorder's span (see `crate::http::record`).
pub(crate) struct Recorded(pub(crate) Box<dyn RecordedSpan>);

impl fmt::Debug for Recorded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecordedSpan")
    }
}

impl AccessLog {
    pub(crate) fn new<B>(
        level: Option<Level>,
        req: &http::Request<B>,
        route: Route,
        trace: &TraceContext,
        request_id: Option<RequestId>,
        inbound_trace_id: Option<TraceId>,
    ) -> AccessLog {
        AccessLog {
            level,
            method: req.method().clone(),
            route,
            start: Instant::now(),
            status: None,
            trace_id: trace.trace_id(),
            span_id: trace.span_id(),
            parent_span_id: trace.parent_span_id(),
            request_id,
            inbound_trace_id,
            call_id: None,
            panicked: false,
            span: None,
            rpc: Rpc::of(req),
        }
    }

    /// Reads what the response's headers or trailers say of a gRPC call
    /// (its `grpc-status`); nothing for other requests.
    #[inline]
    pub(crate) fn read_fields(&mut self, fields: &http::HeaderMap) {
        if let Some(rpc) = &mut self.rpc {
            rpc.read_status(fields);
        }
    }

    /// How a response that stopped before its end ended: `otherwise`,
    /// unless a poll panicked.
    pub(crate) fn cut_short(&self, otherwise: Outcome) -> Outcome {
        if self.panicked {
            Outcome::Panicked
        } else {
            otherwise
        }
    }

    /// Emits the event. Called once, inside the request's context.
    pub(crate) fn emit(mut self: Box<Self>, outcome: Outcome) {
        if let Some(Recorded(span)) = self.span.take() {
            span.end(&RequestEnd {
                status: self.status,
                outcome: outcome.as_str(),
                route: self.route.as_str(),
                grpc_status: self.rpc.as_ref().and_then(|r| r.status),
            });
        }
        let Some(level) = self.level else {
            return;
        };
        let rpc = self.rpc.as_ref();
        // Every field here is listed in `ContextLayer`'s docs (# Access
        // log); tests/http_load.rs checks that the two agree.
        at_level!(level, |LEVEL| tracing::event!(
            target: ACCESS_LOG_TARGET,
            LEVEL,
            method = %self.method,
            route = %self.route,
            status = self.status.map(|s| s.as_u16()),
            latency_us = self.start.elapsed().as_micros() as u64,
            trace_id = %self.trace_id,
            span_id = %self.span_id,
            parent_span_id = self.parent_span_id.map(tracing::field::display),
            request_id = self.request_id.as_ref().map(|r| tracing::field::display(r.as_str())),
            inbound_trace_id = self.inbound_trace_id.map(tracing::field::display),
            call_id = self.call_id.as_ref().map(|c| tracing::field::display(c.as_str())),
            outcome = outcome.as_str(),
            rpc_system = rpc.map(|_| "grpc"),
            rpc_service = rpc.and_then(Rpc::service),
            rpc_method = rpc.and_then(Rpc::method),
            grpc_status = rpc.and_then(|r| r.status),
            "request"
        ))
    }
}

/// Runs `poll` (a poll of the service's future or of the body): if it
/// unwinds, the request is logged as `panicked` when it is dropped, also
/// when the panic is caught further out (tower-http's `CatchPanicLayer`
/// answers a 500 the layer never sees).
#[inline]
pub(crate) fn mark_panic<R>(log: Option<&mut AccessLog>, poll: impl FnOnce() -> R) -> R {
    on_unwind(poll, || {
        if let Some(log) = log {
            log.panicked = true;
        }
    })
}

/// Whether a subscriber listens to the access log at `level`.
pub(crate) fn enabled(level: Level) -> bool {
    at_level!(
        level,
        |LEVEL| tracing::enabled!(target: ACCESS_LOG_TARGET, LEVEL)
    )
}
