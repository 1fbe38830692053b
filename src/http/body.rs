//! [`ContextBody`]: a response body produced inside the request's context,
//! which writes the access log when it ends.

use std::fmt;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::access_log::{mark_panic, AccessLog};
use super::outcome::Outcome;
use crate::context::Context;
use crate::future::poll_in;

pin_project! {
    /// A response body whose frames are produced inside the request's
    /// [`Context`], so that a streaming body (server-sent events, a database
    /// cursor) logs and propagates with the request's trace id.
    ///
    /// When the body ends (its last frame, an error, or being dropped early
    /// because the client went away) it emits the request's access-log event,
    /// once. A gRPC call's status is read from the body's trailers frame on
    /// the way (see [Access log](super::ContextLayer#access-log)).
    pub struct ContextBody<B> {
        #[pin]
        inner: B,
        cx: Context,
        // Boxed: only built when a subscriber listens, and the body (like
        // the response future) is moved several times per request.
        log: Option<Box<AccessLog>>,
    }

    impl<B> PinnedDrop for ContextBody<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(log) = this.log.take() {
                let outcome = log.cut_short(Outcome::Dropped);
                poll_in(this.cx, || log.emit(outcome));
            }
        }
    }
}

/// An empty body of `B`'s default, in the empty context, logging nothing:
/// what layers that answer on their own build (tower-http's
/// `TimeoutLayer` outside [`ContextLayer`](super::ContextLayer) answers a
/// timeout with a default body).
impl<B: Default> Default for ContextBody<B> {
    fn default() -> ContextBody<B> {
        ContextBody::new(B::default(), Context::new(), None)
    }
}

impl<B> ContextBody<B> {
    pub(crate) fn new(inner: B, cx: Context, log: Option<Box<AccessLog>>) -> ContextBody<B> {
        ContextBody { inner, cx, log }
    }

    /// Returns the context the body is produced in.
    pub fn context(&self) -> &Context {
        &self.cx
    }

    /// Returns a reference to the inner body.
    pub fn get_ref(&self) -> &B {
        &self.inner
    }
}

impl<B: Body> Body for ContextBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.project();
        let mut inner = this.inner;
        let log = this.log;
        poll_in(this.cx, || {
            let poll = mark_panic(log.as_deref_mut(), || inner.as_mut().poll_frame(cx));
            // A gRPC call's status arrives in the trailers frame.
            if let (Poll::Ready(Some(Ok(frame))), Some(log)) = (&poll, log.as_deref_mut()) {
                if let Some(trailers) = frame.trailers_ref() {
                    log.read_fields(trailers);
                }
            }
            let ended = match &poll {
                Poll::Ready(None) => Some(Outcome::Complete),
                Poll::Ready(Some(Err(_))) => Some(Outcome::BodyError),
                // A server stops polling once the body says it has ended.
                Poll::Ready(Some(Ok(_))) if inner.is_end_stream() => Some(Outcome::Complete),
                Poll::Ready(Some(Ok(_))) | Poll::Pending => None,
            };
            if let Some(outcome) = ended {
                if let Some(log) = log.take() {
                    log.emit(outcome);
                }
            }
            poll
        })
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> fmt::Debug for ContextBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContextBody")
            .field("cx", &self.cx)
            .field("logged", &self.log.is_none())
            .finish_non_exhaustive()
    }
}
