//! The client side: put the current context on outbound requests.

use std::fmt;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use http::header::HeaderName;
use http::{HeaderMap, Method, Request, Uri};
use tower_layer::Layer;
use tower_service::Service;
use tracing::Level;

use crate::call_id::CallId;
use crate::propagation::{Propagated, Propagators};
use crate::trace::TraceContext;

/// Writes the current context into `headers`, for any HTTP client: the
/// trace context as a new child span of the current one, the baggage and the
/// request id, in every default format (W3C `traceparent`/`tracestate` and
/// `baggage`, B3 single header, `x-request-id`).
///
/// With no trace context current, a new trace is started for the call.
/// When the current context has a deadline ([`ctx::deadline`](crate::deadline))
/// and `headers` are a gRPC request's (`content-type: application/grpc*`),
/// the time left is written as `grpc-timeout` (the shorter of it and one
/// already there), so that the callee shares the caller's budget.
/// The headers of the written formats are the current context's alone:
/// those already in `headers` are replaced, and those the context has no
/// value for are removed (a `tracestate`, a B3 parent span, the other B3
/// encoding, `baggage` when the context has no baggage, `x-request-id`
/// when it has no request id). A stale value never rides along with the
/// new span, such as headers copied from the inbound request onto the
/// outbound one.
///
/// # Examples
///
/// ```
/// use ctx::trace::TraceContext;
///
/// let request_span = TraceContext::new_root();
/// let mut headers = http::HeaderMap::new();
/// request_span.clone().sync_scope(|| ctx::http::inject(&mut headers));
///
/// let sent = headers["traceparent"].to_str().unwrap();
/// assert!(sent.contains(&request_span.trace_id().to_string()));
/// // The call is a child span: not the request's own span id.
/// assert!(!sent.contains(&request_span.span_id().to_string()));
///
/// // Headers left from another request go, even those this context has
/// // no value for.
/// let mut reused = http::HeaderMap::new();
/// reused.insert("baggage", "user=mallory".parse().unwrap());
/// reused.insert("x-request-id", "another-request".parse().unwrap());
/// request_span.sync_scope(|| ctx::http::inject(&mut reused));
/// assert!(reused.contains_key("traceparent"));
/// assert!(!reused.contains_key("baggage") && !reused.contains_key("x-request-id"));
/// ```
///
/// With `reqwest` (its `HeaderMap` is `http`'s; this recipe runs end to end
/// in the crate's tests, against a server on 127.0.0.1):
///
/// ```no_run
/// # async fn call(client: &reqwest::Client, url: &str) -> Result<(), reqwest::Error> {
/// let mut headers = reqwest::header::HeaderMap::new();
/// ctx::http::inject(&mut headers);
/// let response = client.get(url).headers(headers).send().await?;
/// # drop(response);
/// # Ok(())
/// # }
/// ```
///
/// Call it where the request is built, inside the context to propagate (a
/// handler behind [`ContextLayer`](super::ContextLayer), a `ctx::spawn`ed
/// task): the headers carry the context current at that point.
pub fn inject(headers: &mut HeaderMap) {
    inject_with(crate::propagation::default_propagators(), headers, None);
}

/// The `tracing` target of the events [`PropagateLayer::log_requests`] and
/// [`inject_logged`] emit, one per outbound call.
pub const CLIENT_LOG_TARGET: &str = "ctx::client";

/// [`inject`], plus one `tracing` event at `level` (target
/// [`CLIENT_LOG_TARGET`]) naming the call and the span it sent: `method`,
/// `uri`, `trace_id`, `span_id` (the child span the headers carry, which
/// the callee's access log shows as its `parent_span_id`) and
/// `parent_span_id` (the caller's span, when there is one), and `call_id`
/// (the call's hierarchical id, when the context holds one: see
/// [`crate::call_id`]). With these lines, access logs of a chain of
/// services stitch into one tree.
///
/// # Examples
/// ```
/// use http::{Method, Uri};
/// use tracing::Level;
///
/// let mut headers = http::HeaderMap::new();
/// let uri: Uri = "http://inventory.internal/items/7".parse().unwrap();
/// ctx::http::inject_logged(&mut headers, Level::INFO, &Method::GET, &uri);
/// assert!(headers.contains_key("traceparent"));
/// ```
pub fn inject_logged(headers: &mut HeaderMap, level: Level, method: &Method, uri: &Uri) {
    let sent = inject_with(crate::propagation::default_propagators(), headers, None);
    log_call(level, method, uri, &sent);
}

/// Injects the current context as a child span; returns the fields sent
/// (their `trace` is that span).
fn inject_with(
    propagators: &Propagators,
    headers: &mut HeaderMap,
    deadline_header: Option<&HeaderName>,
) -> Propagated {
    let mut fields = Propagated::current();
    fields.trace = Some(TraceContext::child_of_current());
    // The call is a child of the current work in the call tree too.
    fields.call_id = fields.call_id.as_ref().map(CallId::child);
    propagators.inject(&fields, headers);
    crate::propagation::inject_deadline(headers, deadline_header);
    fields
}

/// A URI as the outbound-call line shows it: scheme, host, port and path,
/// without user information or query (either may hold credentials).
struct Shown<'a>(&'a Uri);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let uri = self.0;
        if let (Some(scheme), Some(host)) = (uri.scheme_str(), uri.host()) {
            write!(f, "{scheme}://{host}")?;
            if let Some(port) = uri.port_u16() {
                write!(f, ":{port}")?;
            }
        }
        f.write_str(uri.path())
    }
}

fn log_call(level: Level, method: &Method, uri: &Uri, sent: &Propagated) {
    let call_id = sent.call_id.as_ref();
    let Some(sent) = &sent.trace else {
        return;
    };
    at_level!(level, |LEVEL| tracing::event!(
        target: CLIENT_LOG_TARGET,
        LEVEL,
        method = %method,
        uri = %Shown(uri),
        trace_id = %sent.trace_id(),
        span_id = %sent.span_id(),
        parent_span_id = sent.parent_span_id().map(tracing::field::display),
        call_id = call_id.map(|c| tracing::field::display(c.as_str())),
        "outbound request"
    ));
}

/// A tower [`Layer`] for HTTP clients (hyper-util's client, tonic channels,
/// any `Service<http::Request<B>>`): every request it sends carries the
/// current context, as [`inject`] writes it.
///
/// The context is read when the request is handed to the service (`call`),
/// so put this layer outside (above) any layer that moves calls to another
/// task, such as tower's `Buffer`: below it, `call` runs in the buffer's
/// worker task, whose context is not the caller's.
///
/// # Examples
///
/// ```
/// use ctx::http::PropagateLayer;
/// use ctx::trace::TraceContext;
/// use tower::{service_fn, ServiceBuilder, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // A stand-in for a real client: returns the headers it was sent.
/// let client = ServiceBuilder::new()
///     .layer(PropagateLayer::new())
///     .service(service_fn(|req: http::Request<()>| async move {
///         Ok::<_, std::convert::Infallible>(req.headers().clone())
///     }));
///
/// let span = TraceContext::new_root();
/// let sent = span
///     .clone()
///     .scope(client.oneshot(http::Request::new(())))
///     .await
///     .unwrap();
/// assert!(sent["traceparent"].to_str().unwrap().contains(&span.trace_id().to_string()));
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct PropagateLayer {
    propagators: Option<Arc<Propagators>>,
    log: Option<Level>,
    deadline_header: Option<HeaderName>,
}

impl PropagateLayer {
    /// A layer writing the default formats.
    pub fn new() -> PropagateLayer {
        PropagateLayer {
            propagators: None,
            log: None,
            deadline_header: None,
        }
    }

    /// Sets the formats to write.
    pub fn propagators(self, propagators: Propagators) -> PropagateLayer {
        PropagateLayer {
            propagators: Some(Arc::new(propagators)),
            ..self
        }
    }

    /// Emits one `tracing` event at `level` for each request sent, as
    /// [`inject_logged`] does: the method, the URI and the span the request
    /// carries, so a downstream service's access line (`parent_span_id`)
    /// points at an upstream line. Off by default.
    ///
    /// # Examples
    /// ```
    /// use ctx::http::PropagateLayer;
    /// use tower::{service_fn, Layer, ServiceExt};
    /// use tracing::Level;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let client = PropagateLayer::new()
    ///     .log_requests(Level::INFO)
    ///     .layer(service_fn(|req: http::Request<()>| async move {
    ///         Ok::<_, std::convert::Infallible>(req.headers().contains_key("traceparent"))
    ///     }));
    /// assert!(client.oneshot(http::Request::new(())).await.unwrap());
    /// # }
    /// ```
    pub fn log_requests(self, level: Level) -> PropagateLayer {
        PropagateLayer {
            log: Some(level),
            ..self
        }
    }

    /// Sets a plain-HTTP header in which to send the time left before the
    /// current deadline, in whole milliseconds, on calls that are not gRPC
    /// (gRPC calls always get `grpc-timeout`); the server layer of the next
    /// service reads it with the same setting
    /// ([`ContextLayer::deadline_header`](crate::http::ContextLayer::deadline_header)).
    /// Default: `None`.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use ctx::http::PropagateLayer;
    /// use http::HeaderName;
    /// use tower::{service_fn, Layer, ServiceExt};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let header = HeaderName::from_static(ctx::propagation::X_REQUEST_TIMEOUT_MS);
    /// let client = PropagateLayer::new()
    ///     .deadline_header(Some(header))
    ///     .layer(service_fn(|req: http::Request<()>| async move {
    ///         Ok::<_, std::convert::Infallible>(req.headers().clone())
    ///     }));
    /// let sent = ctx::deadline::within(Duration::from_secs(2), client.oneshot(http::Request::new(())))
    ///     .await
    ///     .unwrap();
    /// let ms: u64 = sent["x-request-timeout-ms"].to_str().unwrap().parse().unwrap();
    /// assert!(ms <= 2000 && ms > 1000);
    /// # }
    /// ```
    pub fn deadline_header(self, name: Option<HeaderName>) -> PropagateLayer {
        PropagateLayer {
            deadline_header: name,
            ..self
        }
    }
}

impl<S> Layer<S> for PropagateLayer {
    type Service = PropagateService<S>;

    fn layer(&self, inner: S) -> PropagateService<S> {
        PropagateService {
            inner,
            propagators: self.propagators.clone(),
            log: self.log,
            deadline_header: self.deadline_header.clone(),
        }
    }
}

/// The service made by [`PropagateLayer`]: see there.
#[derive(Clone)]
pub struct PropagateService<S> {
    inner: S,
    propagators: Option<Arc<Propagators>>,
    log: Option<Level>,
    deadline_header: Option<HeaderName>,
}

impl<S> PropagateService<S> {
    /// Wraps `inner`, writing the default formats.
    pub fn new(inner: S) -> PropagateService<S> {
        PropagateLayer::new().layer(inner)
    }

    inner_service_accessors!();
}

impl<S: fmt::Debug> fmt::Debug for PropagateService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PropagateService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, B> Service<Request<B>> for PropagateService<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> S::Future {
        let propagators = match &self.propagators {
            Some(p) => p,
            None => crate::propagation::default_propagators(),
        };
        let sent = inject_with(
            propagators,
            req.headers_mut(),
            self.deadline_header.as_ref(),
        );
        if let Some(level) = self.log {
            log_call(level, req.method(), req.uri(), &sent);
        }
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagation::{BaggagePropagator, RequestId, RequestIdPropagator, REQUEST_ID};
    use tower::{service_fn, ServiceExt};

    /// Headers a caller reuses from another request: every format ctx
    /// writes, each with a value that is not the current context's.
    fn stale() -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in [
            (
                "traceparent",
                "00-11111111111111111111111111111111-2222222222222222-01",
            ),
            ("tracestate", "old=1"),
            ("baggage", "user=mallory"),
            ("b3", "11111111111111111111111111111111-2222222222222222-1"),
            ("x-b3-traceid", "11111111111111111111111111111111"),
            ("x-b3-spanid", "2222222222222222"),
            ("x-b3-sampled", "1"),
            ("x-request-id", "another-request"),
            ("x-correlation-id", "another-request"),
            ("host", "example.com"),
        ] {
            h.insert(k, v.parse().unwrap());
        }
        h
    }

    /// `headers` hold only the current span's trace headers, and `host`.
    fn assert_only_the_current_trace(headers: &HeaderMap, span: &TraceContext) {
        let sent = headers["traceparent"].to_str().unwrap();
        assert!(sent.contains(&span.trace_id().to_string()), "{headers:?}");
        assert!(headers["b3"]
            .to_str()
            .unwrap()
            .starts_with(&span.trace_id().to_string()));
        let mut names: Vec<&str> = headers.keys().map(|k| k.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["b3", "host", "traceparent"], "{headers:?}");
    }

    #[test]
    fn inject_removes_the_formats_the_context_has_nothing_for() {
        let span = TraceContext::new_root();
        let mut h = stale();
        span.clone().sync_scope(|| inject(&mut h));
        // `x-correlation-id` is no format of the default list: it stays.
        assert_eq!(h.remove("x-correlation-id").unwrap(), "another-request");
        assert_only_the_current_trace(&h, &span);
    }

    #[test]
    fn inject_replaces_what_the_context_has() {
        let span = TraceContext::new_root();
        let mut h = stale();
        span.sync_scope(|| {
            crate::baggage::sync_scope("user", "alice", || {
                REQUEST_ID.sync_scope(RequestId::new("this-request").unwrap(), || inject(&mut h))
            })
        });
        assert_eq!(h["baggage"], "user=alice");
        assert_eq!(h["x-request-id"], "this-request");
        assert!(!h.contains_key("tracestate") && !h.contains_key("x-b3-traceid"));
    }

    #[tokio::test]
    async fn the_layer_removes_them_too() {
        let echo = service_fn(|req: Request<()>| async move {
            Ok::<_, std::convert::Infallible>(req.headers().clone())
        });
        let span = TraceContext::new_root();
        let mut req = Request::new(());
        *req.headers_mut() = stale();
        let sent = span
            .clone()
            .scope(PropagateLayer::new().layer(echo).oneshot(req))
            .await
            .unwrap();
        let mut sent = sent;
        sent.remove("x-correlation-id");
        assert_only_the_current_trace(&sent, &span);

        // With its own formats, the layer clears those.
        let layer = PropagateLayer::new().propagators(
            Propagators::empty()
                .with(BaggagePropagator::new())
                .with(RequestIdPropagator::with_header("X-Correlation-Id")),
        );
        let mut req = Request::new(());
        *req.headers_mut() = stale();
        let sent = span.scope(layer.layer(echo).oneshot(req)).await.unwrap();
        assert!(!sent.contains_key("baggage") && !sent.contains_key("x-correlation-id"));
        assert_eq!(
            sent["x-request-id"], "another-request",
            "not a format of this list"
        );
        assert_eq!(sent["tracestate"], "old=1", "not a format of this list");
    }
}
