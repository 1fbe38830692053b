//! The server side: [`ContextLayer`] seeds each request's [`Context`] from its
//! headers and runs the service, its response future and its response body
//! inside it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;
use tracing::Level;

use super::access_log::{self, mark_panic, AccessLog, Route};
use super::body::ContextBody;
use super::outcome::{on_unwind, Outcome};
use crate::context::Context;
use crate::future::{poll_in, FutureExt, Instrumented};
use crate::propagation::{
    B3Propagator, BaggagePropagator, HeaderIndex, Propagated, Propagators, RequestId,
    TraceContextPropagator, TraceParent,
};
use crate::slot::scope_is_own;
use crate::trace::{TraceContext, TRACE_CONTEXT};

/// Whether to believe the trace context a caller sends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Trust {
    /// Continue the caller's trace: the server span is a child of the
    /// caller's span, and the caller's baggage is kept. For services behind
    /// your own edge.
    #[default]
    Inbound,
    /// Treat the caller as untrusted (a public edge): start a new trace
    /// (or continue this process's own, when the service is called inside
    /// one), drop the inbound baggage, and keep the inbound trace id only as
    /// the access log's `inbound_trace_id` field. The request id is still kept,
    /// as a correlation handle; it is bounded and validated like every
    /// header.
    Untrusted,
}

/// Settings shared by every clone of a layer and its services.
#[derive(Clone, Debug)]
struct Config {
    propagators: Propagators,
    trust: Trust,
    echo_traceparent: bool,
    request_id_header: Option<HeaderName>,
    access_log: Option<Level>,
}

/// A tower [`Layer`] that gives every request its own [`Context`], seeded
/// from the request's headers.
///
/// For each request the [`ContextService`] it makes:
///
/// 1. extracts the caller's context with the configured propagators
///    (default: W3C `traceparent`/`tracestate` and `baggage`, then B3, then
///    `x-request-id`); malformed or oversized headers are ignored, never an
///    error;
/// 2. starts the server span: a new span id whose parent is the caller's
///    span; when no valid one came in (or the caller is not trusted, see
///    [`Trust`]), the span of the context the service is called in (an
///    in-process call made inside a request, a second layer on a request
///    that carried no trace context), or else a new trace. A new trace is
///    sampled unless a trusted caller sent only a "do not sample" decision
///    (B3's `b3: 0`);
/// 3. seeds the request's context with the [`TraceContext`], the baggage and
///    the request id, and runs `inner.call`, the response future and the
///    response body ([`ContextBody`]) inside it: every `ctx::spawn` of the
///    handler, and whatever reads the context there (`ctx::trace_id()`, a
///    log field that records it, the access log), finds the request's ids;
/// 4. echoes `traceparent` and the request id in the response headers; when
///    no valid request id came in, the trace id stands in for it, in the
///    context and the access log as in the response;
/// 5. emits one access-log event through `tracing` when the response ends,
///    at INFO on the target [`ACCESS_LOG_TARGET`](super::ACCESS_LOG_TARGET),
///    with `method`, `route`, `status`, `latency_us`, `trace_id`, `span_id`,
///    `parent_span_id`, `request_id` and `outcome`: `complete` (the body's
///    last frame was sent; for a HEAD request, a 204 or a 304, when the
///    response was), `body_error`, `dropped` (the body was dropped before its
///    end), `service_error` (the inner service failed), `cancelled` (the
///    response future was dropped before the service answered: the client
///    went away, a timeout fired) or `panicked` (the service or the body
///    panicked, whether or not a layer further out, such as tower-http's
///    `CatchPanicLayer`, turned the panic into a response).
///
/// The request's context inherits the values of the context the service is
/// called in, but never its baggage or request id: those are the request's
/// own (and its trace context is a new span, as above). Under
/// `axum::serve`, services are called from plain connection tasks, so that
/// context is empty: a scope a future opens around `axum::serve`
/// ([`Key::scope`](crate::Key::scope), `in_context`) does not reach
/// requests. (A guard's scope around a runtime's `block_on`,
/// [`Context::run`], is seen by the tasks that runtime polls, so its values
/// do reach them; its trace is not continued, or every request would share
/// it.) Values every request should start with are set by a layer inside
/// this one (`axum::middleware::from_fn` calling `Key::scope` around
/// `next.run(req)`).
///
/// The service's error type is the inner service's: the layer adds no error.
///
/// # With axum
///
/// `Router::layer(ContextLayer::new())` (or `route_layer`) runs the layer
/// per route, after routing, so the access log names the route template
/// (`/users/{id}`, feature `axum`). axum spends three allocations per request
/// on any per-route layer that changes the body type. Wrapping the whole
/// router instead costs one (mapping the body back to axum's for
/// `axum::serve`) and also covers requests no route matched (404s); the
/// access log then names the path:
///
/// ```
/// use axum::{body::Body, routing::get, Router};
/// use ctx::http::ContextLayer;
/// use tower::ServiceBuilder;
///
/// # async fn dox() {
/// let router = Router::new().route("/", get(|| async { "ok" }));
/// let app = ServiceBuilder::new()
///     .map_response(|res: http::Response<_>| res.map(Body::new))
///     .layer(ContextLayer::new())
///     .service(router);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// let app = axum::ServiceExt::<axum::extract::Request>::into_make_service(app);
/// axum::serve(listener, app).await.unwrap();
/// # }
/// ```
///
/// # Examples
///
/// ```
/// use axum::{routing::get, Router};
/// use ctx::http::ContextLayer;
/// use tower::ServiceExt;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let app = Router::new()
///     .route("/", get(|| async { ctx::trace_id().unwrap().to_string() }))
///     .layer(ContextLayer::new());
///
/// let request = http::Request::get("/")
///     .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
///     .body(axum::body::Body::empty())
///     .unwrap();
/// let response = app.oneshot(request).await.unwrap();
/// // The server span continues the caller's trace, with a span of its own.
/// let echoed = response.headers()["traceparent"].to_str().unwrap();
/// assert!(echoed.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
/// assert!(!echoed.contains("00f067aa0ba902b7"));
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct ContextLayer {
    config: Arc<Config>,
}

impl ContextLayer {
    /// A layer with the defaults: all formats, trust the caller, echo both
    /// headers, access log at INFO.
    pub fn new() -> ContextLayer {
        ContextLayer {
            config: Arc::new(Config {
                // The request id is the layer's own (`request_id_header`).
                propagators: Propagators::empty()
                    .with(TraceContextPropagator::new())
                    .with(BaggagePropagator::new())
                    .with(B3Propagator::new()),
                trust: Trust::Inbound,
                echo_traceparent: true,
                request_id_header: Some(HeaderName::from_static("x-request-id")),
                access_log: Some(Level::INFO),
            }),
        }
    }

    fn config(mut self, f: impl FnOnce(&mut Config)) -> ContextLayer {
        f(Arc::make_mut(&mut self.config));
        self
    }

    /// Sets the formats read from requests (in order; the first one present
    /// wins). Default: W3C trace context, W3C baggage, B3. The request id is
    /// read from [`request_id_header`], unless one of these propagators found
    /// one first.
    ///
    /// [`request_id_header`]: ContextLayer::request_id_header
    pub fn propagators(self, propagators: Propagators) -> ContextLayer {
        self.config(|c| c.propagators = propagators)
    }

    /// Sets whether to continue the caller's trace. Default:
    /// [`Trust::Inbound`].
    pub fn trust(self, trust: Trust) -> ContextLayer {
        self.config(|c| c.trust = trust)
    }

    /// Sets whether the response carries the server span's `traceparent`.
    /// Default: `true`.
    pub fn echo_traceparent(self, echo: bool) -> ContextLayer {
        self.config(|c| c.echo_traceparent = echo)
    }

    /// Sets the request-id header, read from the request and echoed in the
    /// response; `None` turns both off. Default: `x-request-id`.
    pub fn request_id_header(self, name: Option<HeaderName>) -> ContextLayer {
        self.config(|c| c.request_id_header = name)
    }

    /// Sets the access log's level; `None` turns it off. Default:
    /// `Some(Level::INFO)`.
    pub fn access_log(self, level: Option<Level>) -> ContextLayer {
        self.config(|c| c.access_log = level)
    }
}

impl Default for ContextLayer {
    fn default() -> ContextLayer {
        ContextLayer::new()
    }
}

impl<S> Layer<S> for ContextLayer {
    type Service = ContextService<S>;

    fn layer(&self, inner: S) -> ContextService<S> {
        ContextService {
            inner,
            config: self.config.clone(),
        }
    }
}

/// The service made by [`ContextLayer`]: see there.
#[derive(Clone, Debug)]
pub struct ContextService<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> ContextService<S> {
    /// Wraps `inner` with the default settings of [`ContextLayer::new`].
    pub fn new(inner: S) -> ContextService<S> {
        ContextLayer::new().layer(inner)
    }

    inner_service_accessors!();
}

impl Config {
    /// The request id, read once into `inbound`: a configured propagator's,
    /// else the layer's header. Returns the value to echo, which is what the
    /// context holds: the inbound header itself when it is the id exactly
    /// (no copy), else the id written anew (without the padding `parse`
    /// trims).
    fn read_request_id(
        &self,
        headers: &HeaderIndex<'_>,
        inbound: &mut Propagated,
    ) -> Option<HeaderValue> {
        let name = self.request_id_header.as_ref()?;
        if inbound.request_id.is_none() {
            let value = headers.value(name)?;
            inbound.request_id = RequestId::parse(value.as_bytes());
            if inbound.request_id.as_ref()?.as_str().len() == value.len() {
                return Some(value.clone());
            }
        }
        HeaderValue::from_str(inbound.request_id.as_ref()?.as_str()).ok()
    }

    /// Steps 1-3: what the caller sent, and the request's context.
    fn seed<B>(&self, req: &Request<B>) -> (Context, Echo, Option<Box<AccessLog>>) {
        let headers = HeaderIndex::new(req.headers());
        let mut inbound = self.propagators.extract(&headers);
        let request_id_header = self.read_request_id(&headers, &mut inbound);
        let mut inbound_trace_id = None;
        if self.trust == Trust::Untrusted {
            inbound_trace_id = inbound.trace.take().map(|t| t.trace_id());
            inbound.baggage = Default::default();
        }
        // The context the service is called in (empty under `axum::serve`).
        let surrounding = Context::current();
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
                    if self.trust == Trust::Inbound && inbound.sampled == Some(false) {
                        let flags = root.flags().with_sampled(false);
                        root = root.with_flags(flags);
                    }
                    root
                }),
        };
        // No request id came: the trace id stands in for it, in the context,
        // the log and the response alike.
        if self.request_id_header.is_some() && inbound.request_id.is_none() {
            inbound.request_id = Some(RequestId::from(server.trace_id()));
        }
        // Skip the record (a clock read, copies) when no subscriber wants it.
        let log = self
            .access_log
            .filter(|l| access_log::enabled(*l))
            .map(|level| {
                let mut log = AccessLog::new(level, req.method().clone(), Route::of(req), &server);
                log.request_id = inbound.request_id.clone();
                log.inbound_trace_id = inbound_trace_id;
                Box::new(log)
            });
        let echo = Echo {
            traceparent: TraceParent::from(&server),
            echo_traceparent: self.echo_traceparent,
            request_id: request_id_header,
            request_id_header: self.request_id_header.clone(),
        };
        // The surrounding context's own values are inherited; the
        // request-scoped ones are the request's alone.
        let cx = inbound.replace_in(server, &surrounding);
        (cx, echo, log)
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for ContextService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: http_body::Body,
{
    type Response = Response<ContextBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let (mut cx, echo, mut log) = self.config.seed(&req);
        // `call` itself runs in the context too: services often do work
        // (and log) before returning their future. The context is moved in
        // and out of the thread's slot, not cloned. If `call` panics, no
        // response future will log the request: it is logged here (a layer
        // further out may turn the panic into a response).
        let inner = on_unwind(
            || poll_in(&mut cx, || self.inner.call(req)),
            || {
                if let Some(log) = log.take() {
                    log.emit(Outcome::Panicked);
                }
            },
        );
        ResponseFuture {
            inner: inner.in_context(cx),
            state: Some(State { echo, log }),
        }
    }
}

/// What the response headers echo: the server span, and the request id as
/// it came in. Carries the layer's settings it needs, so that the response
/// future holds no reference count on the layer's configuration.
#[derive(Debug)]
struct Echo {
    traceparent: TraceParent,
    echo_traceparent: bool,
    request_id: Option<HeaderValue>,
    request_id_header: Option<HeaderName>,
}

impl Echo {
    /// Writes the headers. Both values share one allocation: the request id
    /// that stands in when none came is the trace-id part of `traceparent`.
    fn write(self, headers: &mut http::HeaderMap) {
        let Echo {
            traceparent,
            echo_traceparent,
            request_id,
            request_id_header,
        } = self;
        let needs_line = echo_traceparent || (request_id_header.is_some() && request_id.is_none());
        let line = needs_line.then(|| Bytes::from_owner(traceparent.to_bytes()));
        if let Some(name) = request_id_header {
            // "00-" then the 32 hex digits of the trace id.
            let v = request_id.or_else(|| {
                let line = line.as_ref()?;
                HeaderValue::from_maybe_shared(line.slice(3..35)).ok()
            });
            if let Some(v) = v {
                headers.insert(name, v);
            }
        }
        if let (true, Some(line)) = (echo_traceparent, line) {
            if let Ok(v) = HeaderValue::from_maybe_shared(line) {
                headers.insert(TRACEPARENT.clone(), v);
            }
        }
    }
}

static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

#[derive(Debug)]
struct State {
    echo: Echo,
    log: Option<Box<AccessLog>>,
}

pin_project! {
    /// The response future of [`ContextService`]: the inner future, polled
    /// inside the request's context.
    ///
    /// Dropped before the service answers (the client went away, a timeout
    /// layer gave up), it emits the access-log event with the outcome
    /// `cancelled` and no status.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Instrumented<F>,
        state: Option<State>,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(State { log: Some(log), .. }) = this.state.take() {
                let outcome = log.cut_short(Outcome::Cancelled);
                this.inner.context().run(|| log.emit(outcome));
            }
        }
    }
}

impl<F: fmt::Debug> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body,
{
    type Output = Result<Response<ContextBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let log = this.state.as_mut().and_then(|s| s.log.as_deref_mut());
        let poll = mark_panic(log, || this.inner.as_mut().poll(cx));
        let result = match poll {
            Poll::Ready(result) => result,
            Poll::Pending => return Poll::Pending,
        };
        let State { echo, mut log } = this
            .state
            .take()
            .expect("`ResponseFuture` polled after completion");
        // The body runs in the context as the handler left it.
        let request_cx = this.inner.context().clone();
        match result {
            Ok(mut response) => {
                echo.write(response.headers_mut());
                if let Some(log) = &mut log {
                    log.status = Some(response.status());
                }
                if response.body().is_end_stream()
                    || log
                        .as_ref()
                        .is_some_and(|log| !has_body(&log.method, response.status()))
                {
                    // No frame will be polled (an empty body, the answer to a
                    // HEAD request, a 204 or 304): the response is complete
                    // now, whatever happens to the body.
                    if let Some(log) = log.take() {
                        request_cx.run(|| log.emit(Outcome::Complete));
                    }
                }
                Poll::Ready(Ok(
                    response.map(|body| ContextBody::new(body, request_cx, log))
                ))
            }
            Err(e) => {
                if let Some(log) = log {
                    request_cx.run(|| log.emit(Outcome::ServiceError));
                }
                Poll::Ready(Err(e))
            }
        }
    }
}

/// Whether a response with `status` to a `method` request carries a body on
/// the wire (RFC 9110 6.4.1): servers drop the body of the others unread.
fn has_body(method: &http::Method, status: http::StatusCode) -> bool {
    !(method == http::Method::HEAD
        || status.is_informational()
        || status == http::StatusCode::NO_CONTENT
        || status == http::StatusCode::NOT_MODIFIED
        || (method == http::Method::CONNECT && status.is_success()))
}
