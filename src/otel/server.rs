//! [`ServerSpans`]: `ContextLayer`'s server span recorded as an
//! OpenTelemetry span.

use std::fmt;

use opentelemetry::global::{self, BoxedTracer};
use opentelemetry::trace::{Span as _, SpanBuilder, SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context as OtelContext, KeyValue};

use super::context::{carrying, with_trace};
use crate::context::Context;
use crate::http::grpc;
use crate::http::record::{RecordedSpan, RequestEnd, RequestStart, SpanRecorder};
use crate::model::TraceContext;

/// Records each request's server span as an OpenTelemetry span, for
/// [`ContextLayer::record_spans`](crate::http::ContextLayer::record_spans):
/// kind server, named `{method} {route}`, with the HTTP semantic
/// conventions' attributes (`http.request.method`, `url.path`,
/// `server.address`, `http.route`, `http.response.status_code`) and an error
/// status for 5xx answers, panics and errors. A gRPC call is named
/// `{service}/{method}` and has the RPC conventions' attributes as well
/// (`rpc.system`, `rpc.service`, `rpc.method`, `rpc.grpc.status_code`),
/// with an error status for the gRPC codes that are the server's failures
/// (`UNKNOWN`, `DEADLINE_EXCEEDED`, `UNIMPLEMENTED`, `INTERNAL`,
/// `UNAVAILABLE`, `DATA_LOSS`), though HTTP says 200. One request is one trace in
/// Jaeger or Tempo: the server span's parent is the caller's span, and the
/// spans made in the handler and in the work it spawns are its children.
///
/// ctx's server span takes the OpenTelemetry span's ids, so the response's
/// `traceparent`, the access log and the spans' parents all name the span
/// that is exported. A request whose trace is not sampled (the caller sent
/// `sampled=0`) records nothing, and its spans' parent is ctx's span.
///
/// The tracer is `global::tracer("ctx")` when the recorder is made: set
/// the tracer provider first.
///
/// # Examples
/// ```
/// use axum::{routing::get, Router};
/// use ctx::http::ContextLayer;
///
/// let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
/// opentelemetry::global::set_tracer_provider(provider);
/// ctx::otel::init().unwrap();
///
/// let app: Router = Router::new()
///     .route("/", get(|| async { "ok" }))
///     .layer(ContextLayer::new().record_spans(ctx::otel::ServerSpans::new()));
/// ```
pub struct ServerSpans {
    tracer: BoxedTracer,
}

impl ServerSpans {
    /// Records with `global::tracer("ctx")`.
    pub fn new() -> ServerSpans {
        ServerSpans {
            tracer: global::tracer("ctx"),
        }
    }
}

impl ServerSpans {
    /// Records with `tracer` (a tracer of a provider of one's own, rather
    /// than the global one).
    pub fn with_tracer<T>(tracer: T) -> ServerSpans
    where
        T: Tracer + Send + Sync + 'static,
        T::Span: Send + Sync + 'static,
    {
        ServerSpans {
            tracer: BoxedTracer::new(Box::new(tracer)),
        }
    }
}

impl Default for ServerSpans {
    fn default() -> ServerSpans {
        ServerSpans::new()
    }
}

impl fmt::Debug for ServerSpans {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerSpans").finish_non_exhaustive()
    }
}

impl SpanRecorder for ServerSpans {
    fn start(
        &self,
        start: &RequestStart<'_>,
        cx: Context,
    ) -> (Context, Option<Box<dyn RecordedSpan>>) {
        let span = start.span();
        if !span.is_sampled() {
            return (with_trace(&cx), None);
        }
        // The parent: the caller's span (or the surrounding one).
        let parent = match span.parent_span_id() {
            Some(parent) => {
                let caller = TraceContext::new(span.trace_id(), parent, span.flags())
                    .with_state(span.state().clone());
                OtelContext::new().with_remote_span_context((&caller).into())
            }
            None => OtelContext::new(),
        };
        let method = start.method().as_str();
        // A gRPC call is named `{service}/{method}`, as the RPC conventions
        // name it, with their attributes.
        let rpc = grpc::is_grpc(start.headers())
            .then(|| grpc::split_path(start.uri().path()))
            .flatten();
        let name = match (rpc, start.route()) {
            (Some((service, rpc_method)), _) => format!("{service}/{rpc_method}"),
            (None, Some(route)) => format!("{method} {route}"),
            (None, None) => method.to_owned(),
        };
        let mut attributes = Vec::with_capacity(if rpc.is_some() { 7 } else { 4 });
        if let Some((service, rpc_method)) = rpc {
            attributes.extend([
                KeyValue::new("rpc.system", "grpc"),
                KeyValue::new("rpc.service", service.to_owned()),
                KeyValue::new("rpc.method", rpc_method.to_owned()),
            ]);
        }
        attributes.extend([
            KeyValue::new("http.request.method", method_value(start.method())),
            KeyValue::new("url.path", start.uri().path().to_owned()),
        ]);
        if let Some(route) = start.route() {
            attributes.push(KeyValue::new("http.route", route.to_owned()));
        }
        let host = start
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| start.uri().host());
        if let Some(host) = host {
            let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
            attributes.push(KeyValue::new("server.address", host.to_owned()));
        }
        let builder = SpanBuilder::from_name(name)
            .with_kind(SpanKind::Server)
            .with_attributes(attributes);
        let otel_span = self.tracer.build_with_context(builder, &parent);
        let Ok(adopted) = TraceContext::try_from(otel_span.span_context()) else {
            // No recording pipeline (no provider): ctx's span stays.
            return (with_trace(&cx), None);
        };
        let adopted = adopted.with_parent_span_id(span.parent_span_id());
        let otel = parent.with_span(otel_span);
        let cx = carrying(&cx, adopted, otel.clone());
        (cx, Some(Box::new(Recorded(otel))))
    }
}

/// A method's name as an attribute value: the standard ones without an
/// allocation.
fn method_value(method: &http::Method) -> opentelemetry::Value {
    use http::Method;
    let known: &'static str = match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => return opentelemetry::Value::from(method.as_str().to_owned()),
    };
    opentelemetry::Value::from(known)
}

/// The OpenTelemetry context holding a recorded server span.
struct Recorded(OtelContext);

impl RecordedSpan for Recorded {
    fn end(self: Box<Self>, end: &RequestEnd<'_>) {
        let span = self.0.span();
        if let Some(status) = end.status() {
            span.set_attribute(KeyValue::new(
                "http.response.status_code",
                i64::from(status.as_u16()),
            ));
        }
        if let Some(code) = end.grpc_status() {
            span.set_attribute(KeyValue::new("rpc.grpc.status_code", i64::from(code)));
        }
        if end.is_error() {
            span.set_status(Status::error(end.outcome()));
        }
        span.end();
    }
}
