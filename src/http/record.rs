//! Recording each request's server span in another tracing system: the
//! hook an integration (OpenTelemetry) plugs into
//! [`ContextLayer::record_spans`](super::ContextLayer::record_spans).
//!
//! The layer calls the [`SpanRecorder`] once per request, when it has made
//! the server span and the request's context, and the returned
//! [`RecordedSpan`] once, when the access-log event would be written (the
//! response's end, or the request cancelled, dropped or panicked), inside
//! the request's context, whether or not a subscriber wants the event.
//! Without a recorder the layer does no work for it.

use std::fmt;

use http::{HeaderMap, Method, StatusCode, Uri};

use crate::context::Context;
use crate::trace::TraceContext;

/// Records server spans elsewhere: see the [module docs](self).
pub trait SpanRecorder: Send + Sync + 'static {
    /// Starts recording the request described by `start`, whose context is
    /// `cx`; returns the context the service runs in (`cx`, or `cx` with
    /// the recorder's own values added, such as its span to be the parent
    /// of spans made in the handler) and the span to end, if one is
    /// recorded. A recorder whose system makes its own ids may put a
    /// [`TraceContext`] with them in the returned context (same parent, the
    /// system's span id, and its trace id for a new trace): the response's
    /// `traceparent`, the access log and a request id standing in for a
    /// missing one then name that span.
    fn start(
        &self,
        start: &RequestStart<'_>,
        cx: Context,
    ) -> (Context, Option<Box<dyn RecordedSpan>>);
}

/// A server span being recorded: ended once.
pub trait RecordedSpan: Send + 'static {
    /// Ends the span: the request ended as `end` says.
    fn end(self: Box<Self>, end: &RequestEnd<'_>);
}

/// What a [`SpanRecorder`] learns of a request when it starts.
pub struct RequestStart<'a> {
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a Uri,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) route: Option<&'a str>,
    pub(crate) span: &'a TraceContext,
    pub(crate) remote_parent: bool,
}

/// Shows the header names only: values may be credentials.
impl fmt::Debug for RequestStart<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestStart")
            .field("method", self.method)
            .field("path", &self.uri.path())
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("route", &self.route)
            .field("span", self.span)
            .field("remote_parent", &self.remote_parent)
            .finish()
    }
}

impl<'a> RequestStart<'a> {
    /// The request's method.
    pub fn method(&self) -> &'a Method {
        self.method
    }

    /// The request's URI as the server received it (usually a path and a
    /// query).
    pub fn uri(&self) -> &'a Uri {
        self.uri
    }

    /// The request's headers.
    pub fn headers(&self) -> &'a HeaderMap {
        self.headers
    }

    /// The route template a router matched (axum's `MatchedPath`, with
    /// the `axum` feature), if the layer runs inside the router.
    pub fn route(&self) -> Option<&'a str> {
        self.route
    }

    /// The server span: the span id to record, its parent (the caller's
    /// span, or the surrounding one), the trace and its flags (`sampled`
    /// decides whether to record).
    pub fn span(&self) -> &'a TraceContext {
        self.span
    }

    /// Whether the server span's parent is the (trusted) caller's, read
    /// from the request's headers, rather than one of this process.
    pub fn remote_parent(&self) -> bool {
        self.remote_parent
    }
}

/// How a request ended, for [`RecordedSpan::end`].
#[derive(Debug)]
pub struct RequestEnd<'a> {
    pub(crate) status: Option<StatusCode>,
    pub(crate) outcome: &'static str,
    pub(crate) route: &'a str,
    pub(crate) grpc_status: Option<u32>,
}

impl RequestEnd<'_> {
    /// The response's status, if the service answered.
    pub fn status(&self) -> Option<StatusCode> {
        self.status
    }

    /// The access log's `outcome`: `complete`, `cancelled`, `dropped`,
    /// `panicked`, `service_error` or `body_error`.
    pub fn outcome(&self) -> &'static str {
        self.outcome
    }

    /// The gRPC status the call ended with (`grpc-status`, from the
    /// response's trailers, or its headers for a trailers-only response),
    /// when the request is a gRPC call and the response carried one.
    pub fn grpc_status(&self) -> Option<u32> {
        self.grpc_status
    }

    /// Whether the request failed on the server's side: a 5xx status, a
    /// panic, a service or body error, or a gRPC status that
    /// OpenTelemetry's conventions count as the server's error (`UNKNOWN`,
    /// `DEADLINE_EXCEEDED`, `UNIMPLEMENTED`, `INTERNAL`, `UNAVAILABLE`,
    /// `DATA_LOSS`).
    pub fn is_error(&self) -> bool {
        self.status.is_some_and(|s| s.is_server_error())
            || self.grpc_status.is_some_and(super::grpc::is_server_error)
            || matches!(self.outcome, "panicked" | "service_error" | "body_error")
    }

    /// The access log's `route`: the matched template, or the path.
    pub fn route(&self) -> &str {
        self.route
    }
}
