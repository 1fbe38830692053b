//! [`ContextLayer`]: the layer, with the builder of its settings.

use std::sync::Arc;

use http::header::HeaderName;
use tower_layer::Layer;
use tracing::Level;

use super::config::{Config, Recorder};
use super::service::ContextService;
use super::trust::Trust;
use crate::http::record::SpanRecorder;
use crate::propagation::{IndexedName, Propagators};

/// A tower [`Layer`] that gives every request its own
/// [`Context`](crate::Context), seeded from the request's headers.
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
/// 3. seeds the request's context with the
///    [`TraceContext`](crate::trace::TraceContext), the baggage and the
///    request id, and runs `inner.call`, the response future and the
///    response body ([`ContextBody`](crate::http::ContextBody)) inside it:
///    every `ctx::spawn` of the handler, and whatever reads the context
///    there (`ctx::trace_id()`, a log field that records it, the access
///    log), finds the request's ids;
/// 4. echoes `traceparent` and the request id in the response headers; when
///    no valid request id came in, the trace id stands in for it, in the
///    context and the access log as in the response;
/// 5. keeps the caller's deadline in the context (see
///    [Deadlines and cancellation](#deadlines-and-cancellation));
/// 6. emits one access-log event through `tracing` when the response ends
///    (see [Access log](#access-log)).
///
/// The request's context inherits the values of the context the service is
/// called in, but never its baggage or request id: those are the request's
/// own (and its trace context is a new span, as above). Under
/// `axum::serve`, services are called from plain connection tasks, so that
/// context is empty: a scope a future opens around `axum::serve`
/// ([`Key::scope`](crate::Key::scope), `in_context`) does not reach
/// requests. (A guard's scope around a runtime's `block_on`,
/// [`Context::run`](crate::Context::run), is seen by the tasks that
/// runtime polls, so its values do reach them; its trace is not continued,
/// or every request would share it.) Values every request should start
/// with are set by a layer inside this one (`axum::middleware::from_fn`
/// calling `Key::scope` around `next.run(req)`).
///
/// The service's error type is the inner service's: the layer adds no error.
///
/// # Access log
///
/// One `tracing` event per request, emitted once when the response ends
/// (however it ends: see `outcome`), inside the request's context, on
/// the target [`ACCESS_LOG_TARGET`](crate::http::ACCESS_LOG_TARGET) at the
/// level set by [`access_log`](ContextLayer::access_log) (INFO by default),
/// with the message `request` and these fields:
///
/// - `method`: the request's method.
/// - `route`: where the request went; what it holds depends on the `axum`
///   feature (below).
/// - `status`: the response's status code; absent when the service gave no
///   response (`service_error`, `cancelled`, or `panicked` before answering).
/// - `latency_us`: microseconds from the layer receiving the request to the
///   response's end (this event).
/// - `trace_id`: the server span's trace id, 32 lowercase hex digits.
/// - `span_id`: the server span's id, 16 lowercase hex digits.
/// - `parent_span_id`: the server span's parent (the caller's span, or the
///   span the service was called in); absent when the request started a
///   new trace.
/// - `request_id`: the request id that came in, or the trace id standing
///   in for it; absent only when [`request_id_header`] is `None` and no
///   propagator found one.
/// - `inbound_trace_id`: the trace id an untrusted caller sent
///   ([`Trust::Untrusted`]), which the server span does not continue;
///   absent otherwise.
/// - `call_id`: the request's hierarchical call id (`0.2.1`), when the
///   layer's propagators include a
///   [`CallIdPropagator`](crate::propagation::CallIdPropagator) (see
///   [`ctx::call_id`](crate::call_id)); absent otherwise.
/// - `outcome`: how the response ended, one of
///   - `complete`: the body's last frame was sent (for an empty body, a
///     HEAD request, a 204 or a 304: the response was);
///   - `body_error`: the body failed while streaming;
///   - `dropped`: the body was dropped before its end;
///   - `service_error`: the inner service returned an error;
///   - `cancelled`: the response future was dropped before the service
///     answered (the client went away, a timeout fired);
///   - `panicked`: the service or the body panicked, whether or not a layer
///     further out (tower-http's `CatchPanicLayer`) turned the panic into a
///     response.
/// - `rpc_system`: `grpc` when the request is a gRPC call (below); absent
///   otherwise, as are the three fields that follow.
/// - `rpc_service`: the gRPC service the path names (`helloworld.Greeter`
///   of `/helloworld.Greeter/SayHello`); absent when the path is not of
///   the form `/{service}/{method}`.
/// - `rpc_method`: the gRPC method the path names (`SayHello`); absent
///   likewise.
/// - `grpc_status`: the call's gRPC status code (`0` OK, `5` NOT_FOUND,
///   `13` INTERNAL...), read from the response's trailers, or from its
///   headers for a trailers-only response (how a call that fails before
///   its first message is answered); absent when the response ended
///   without one (the body was dropped mid-stream, the service answered
///   with a plain HTTP error) or sent one that is not a decimal number.
///
/// **gRPC.** A request is a gRPC call when its `content-type` is
/// `application/grpc`, alone or followed by `+` and a codec (`+proto`) or
/// by parameters; gRPC-Web is not. A gRPC response's HTTP `status` is 200
/// whatever the call's outcome: `grpc_status` is the call's. The names
/// follow OpenTelemetry's semantic conventions for RPC (`rpc.system`,
/// `rpc.service`, `rpc.method`, `rpc.grpc.status_code`), with `_` for the
/// dots `tracing` field names do without. For other requests the layer
/// reads one header more (`content-type`) when it makes the log record,
/// and nothing else.
///
/// **`route` and the `axum` feature.** With the feature `axum`, `route` is
/// the route template axum matched (`/users/{id}`), when the layer runs
/// after routing (`Router::layer`, `route_layer`). Without the feature, or
/// with the layer outside the router, or for a request no route matched, it
/// is the request's path, without the query (`/users/42`). Where features
/// otherwise only add, this one changes the field's value for the same
/// request: turning it on (another crate of the build may, since Cargo
/// unifies features) changes what queries and dashboards grouped by `route`
/// see.
///
/// [`request_id_header`]: ContextLayer::request_id_header
///
/// # Deadlines and cancellation
///
/// On a gRPC request (`content-type: application/grpc`, `application/grpc+proto`,
/// ...) the layer reads the caller's `grpc-timeout` and puts the deadline it
/// gives in the request's context ([`ctx::deadline`](crate::deadline)):
/// every task and closure of the request sees it, and
/// [`PropagateLayer`](crate::http::PropagateLayer) sends what is left of it
/// to the next service. A plain-HTTP header of milliseconds is read too
/// when one is set with [`deadline_header`](ContextLayer::deadline_header)
/// (none by default: such headers have no standard). A malformed value is
/// ignored; of two deadlines the earlier wins, and so does an earlier one of
/// the context the service is called in. A request without a deadline
/// header costs nothing more.
///
/// With the feature `cancel` and `cancellation(true)`,
/// each request also gets a cancellation signal (`ctx::cancel`), fired when
/// its deadline passes or when the response future is dropped before the
/// service answered (the client went away, a timeout further out gave up).
/// It costs no allocation of its own (it lives in the request's context
/// table, with the deadline); its token, and the timer for the deadline,
/// are made only if the request's work asks for them.
///
/// # With axum
///
/// `Router::layer(ContextLayer::new())` (or `route_layer`) runs the layer
/// per route, after routing, so the access log names the route template
/// (`/users/{id}`, feature `axum`; see [Access log](#access-log)). axum
/// spends three allocations per request on any per-route layer that changes
/// the body type. Wrapping the whole router instead costs one (mapping the
/// body back to axum's for `axum::serve`) and also covers requests no route
/// matched (404s); the access log then names the path:
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
            config: Arc::new(Config::default()),
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
        self.config(|c| c.request_id_header = name.map(IndexedName::new))
    }

    /// Sets the access log's level; `None` turns it off. Default:
    /// `Some(Level::INFO)`.
    pub fn access_log(self, level: Option<Level>) -> ContextLayer {
        self.config(|c| c.access_log = level)
    }

    /// Sets whether to read a gRPC caller's deadline from `grpc-timeout`.
    /// Default: `true`. See [Deadlines and
    /// cancellation](#deadlines-and-cancellation).
    pub fn deadline(self, read: bool) -> ContextLayer {
        self.config(|c| c.deadline = read)
    }

    /// Sets a plain-HTTP header giving the caller's timeout in whole
    /// milliseconds (such as
    /// [`X_REQUEST_TIMEOUT_MS`](crate::propagation::X_REQUEST_TIMEOUT_MS)),
    /// read on every request; `None` reads none. Default: `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// use axum::{routing::get, Router};
    /// use ctx::http::ContextLayer;
    /// use http::HeaderName;
    /// use tower::ServiceExt;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let header = HeaderName::from_static(ctx::propagation::X_REQUEST_TIMEOUT_MS);
    /// let app = Router::new()
    ///     .route("/", get(|| async {
    ///         let left = ctx::deadline::remaining().unwrap();
    ///         assert!(left <= std::time::Duration::from_millis(1500));
    ///     }))
    ///     .layer(ContextLayer::new().deadline_header(Some(header)));
    /// let request = http::Request::get("/")
    ///     .header("x-request-timeout-ms", "1500")
    ///     .body(axum::body::Body::empty())
    ///     .unwrap();
    /// assert!(app.oneshot(request).await.unwrap().status().is_success());
    /// # }
    /// ```
    pub fn deadline_header(self, name: Option<HeaderName>) -> ContextLayer {
        self.config(|c| c.deadline_header = name.map(IndexedName::new))
    }

    /// Sets whether each request gets a cancellation signal
    /// ([`ctx::cancel`](crate::cancel)). Default: `false` (opt-in: with
    /// it, dropping a response future cancels that request's work).
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
    ///     .route("/", get(|| async { ctx::cancel::token().is_some().to_string() }))
    ///     .layer(ContextLayer::new().cancellation(true));
    /// let request = http::Request::get("/").body(axum::body::Body::empty()).unwrap();
    /// let response = app.oneshot(request).await.unwrap();
    /// let body = axum::body::to_bytes(response.into_body(), 64).await.unwrap();
    /// assert_eq!(&body[..], b"true");
    /// # }
    /// ```
    #[cfg(feature = "cancel")]
    #[cfg_attr(docsrs, doc(cfg(feature = "cancel")))]
    pub fn cancellation(self, on: bool) -> ContextLayer {
        self.config(|c| c.cancellation = on)
    }

    /// Records each request's server span with `recorder` as well (an
    /// OpenTelemetry exporter, say): it is called when the request's context
    /// is made, and the span it returns is ended where the access-log event
    /// is written, whether or not the event is (see
    /// [`record`](crate::http::record)). Default: none.
    pub fn record_spans(self, recorder: impl SpanRecorder) -> ContextLayer {
        let recorder = Recorder(Arc::new(recorder));
        self.config(|c| c.recorder = Some(recorder))
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
        ContextService::with_config(inner, self.config.clone())
    }
}
