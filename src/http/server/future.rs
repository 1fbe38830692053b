//! [`ResponseFuture`]: the service's future, polled inside the request's
//! context, and what the layer does with the response it gives.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use http::Response;
use pin_project_lite::pin_project;

use super::echo::Echo;
use crate::future::Instrumented;
use crate::http::access_log::{mark_panic, AccessLog};
use crate::http::body::ContextBody;
use crate::http::outcome::Outcome;

#[derive(Debug)]
struct State {
    echo: Echo,
    log: Option<Box<AccessLog>>,
}

pin_project! {
    /// The response future of [`ContextService`](super::ContextService): the
    /// inner future, polled inside the request's context.
    ///
    /// Dropped before the service answers (the client went away, a timeout
    /// layer gave up), it emits the access-log event with the outcome
    /// `cancelled` and no status, and (feature `cancel`) cancels the
    /// request's signal.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Instrumented<F>,
        state: Option<State>,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            // Dropped before the service answered: the request is abandoned.
            if let Some(state) = this.state.take() {
                #[cfg(feature = "cancel")]
                crate::cancel::abandon(this.inner.context());
                if let Some(log) = state.log {
                    let outcome = log.cut_short(Outcome::Cancelled);
                    this.inner.context().run(|| log.emit(outcome));
                }
            }
        }
    }
}

impl<F> ResponseFuture<F> {
    /// The future of a call: `inner` already in the request's context.
    pub(super) fn new(
        inner: Instrumented<F>,
        echo: Echo,
        log: Option<Box<AccessLog>>,
    ) -> ResponseFuture<F> {
        ResponseFuture {
            inner,
            state: Some(State { echo, log }),
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
                    // A trailers-only gRPC response has its status here.
                    log.read_fields(response.headers());
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
