//! [`DeadlineLayer`]: outbound calls whose deadline has passed are answered
//! at once, without being sent.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::{Request, Response, StatusCode};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::propagation::is_grpc;

/// The header a [`DeadlineLayer`]'s own answer carries, with the value
/// `exceeded`: the call was not sent, its deadline had passed.
pub const DEADLINE_EXCEEDED_HEADER: &str = "x-ctx-deadline";

/// A tower [`Layer`] for clients: a call made after the current context's
/// deadline ([`ctx::deadline`](crate::deadline)) has passed is not sent;
/// the layer answers it itself, the way the peer would have:
///
/// - a gRPC call (`content-type: application/grpc*`): a trailers-only
///   response, HTTP 200 with `grpc-status: 4` (`DEADLINE_EXCEEDED`) and
///   `grpc-message: deadline exceeded`, which tonic's client turns into
///   a `Status` with the code `DeadlineExceeded`;
/// - any other call: `504 Gateway Timeout`.
///
/// Both carry [`DEADLINE_EXCEEDED_HEADER`]`: exceeded`, so that the caller
/// can tell this answer from a peer's. The body is the response body type's
/// `Default` (empty for tonic's and axum's bodies): a response, not an
/// error, because that is what a gRPC client turns into a status and what
/// HTTP code already handles. Calls with time left, or without a deadline,
/// go to the inner service unchanged.
///
/// Put it outside [`PropagateLayer`](crate::http::PropagateLayer), which
/// sends the time left as `grpc-timeout`.
///
/// # Examples
///
/// ```
/// use std::convert::Infallible;
/// use std::time::Duration;
/// use ctx::http::{DeadlineLayer, PropagateLayer};
/// use tower::{service_fn, ServiceBuilder, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let client = ServiceBuilder::new()
///     .layer(DeadlineLayer::new())
///     .layer(PropagateLayer::new())
///     .service(service_fn(|_req: http::Request<String>| async {
///         Ok::<_, Infallible>(http::Response::new(String::from("sent")))
///     }));
///
/// let response = ctx::deadline::within(Duration::ZERO, async {
///     client.oneshot(http::Request::new(String::new())).await
/// })
/// .await
/// .unwrap();
/// assert_eq!(response.status(), http::StatusCode::GATEWAY_TIMEOUT);
/// assert_eq!(response.headers()["x-ctx-deadline"], "exceeded");
/// assert!(response.body().is_empty());
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct DeadlineLayer {
    _private: (),
}

impl DeadlineLayer {
    /// Makes the layer.
    pub fn new() -> DeadlineLayer {
        DeadlineLayer { _private: () }
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = DeadlineService<S>;

    fn layer(&self, inner: S) -> DeadlineService<S> {
        DeadlineService { inner }
    }
}

/// The service a [`DeadlineLayer`] makes: see there.
#[derive(Clone, Debug)]
pub struct DeadlineService<S> {
    inner: S,
}

impl<S> DeadlineService<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> DeadlineService<S> {
        DeadlineService { inner }
    }

    inner_service_accessors!();
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for DeadlineService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = DeadlineFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        if crate::deadline::expired() {
            let response = Some(exceeded(is_grpc(req.headers())));
            return DeadlineFuture {
                kind: Kind::Exceeded { response },
            };
        }
        DeadlineFuture {
            kind: Kind::Inner {
                inner: self.inner.call(req),
            },
        }
    }
}

/// The answer to a call whose deadline has passed.
fn exceeded<B: Default>(grpc: bool) -> Response<B> {
    let mut response = Response::new(B::default());
    if !grpc {
        *response.status_mut() = StatusCode::GATEWAY_TIMEOUT;
    }
    let headers = response.headers_mut();
    if grpc {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
        headers.insert(
            HeaderName::from_static("grpc-status"),
            HeaderValue::from_static("4"),
        );
        headers.insert(
            HeaderName::from_static("grpc-message"),
            HeaderValue::from_static("deadline exceeded"),
        );
    }
    headers.insert(
        HeaderName::from_static(DEADLINE_EXCEEDED_HEADER),
        HeaderValue::from_static("exceeded"),
    );
    response
}

pin_project! {
    /// The future of a [`DeadlineService`]: the inner service's, or the
    /// layer's own answer.
    pub struct DeadlineFuture<F, B> {
        #[pin]
        kind: Kind<F, B>,
    }
}

pin_project! {
    #[project = Proj]
    enum Kind<F, B> {
        // The call was sent.
        Inner {
            #[pin]
            inner: F,
        },
        // The deadline had passed: the layer's answer.
        Exceeded {
            response: Option<Response<B>>,
        },
    }
}

impl<F: fmt::Debug, B> fmt::Debug for DeadlineFuture<F, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Inner { inner } => f.debug_tuple("Inner").field(inner).finish(),
            Kind::Exceeded { .. } => f.write_str("Exceeded"),
        }
    }
}

impl<F, B, E> Future for DeadlineFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            Proj::Inner { inner } => inner.poll(cx),
            Proj::Exceeded { response } => Poll::Ready(Ok(response
                .take()
                .expect("`DeadlineFuture` polled after completion"))),
        }
    }
}
