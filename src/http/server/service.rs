//! [`ContextService`]: the service a [`ContextLayer`](super::ContextLayer)
//! makes, and its `call`.

use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::config::Config;
use super::future::ResponseFuture;
use super::seed::seed;
use crate::future::{poll_in, FutureExt};
use crate::http::body::ContextBody;
use crate::http::outcome::{on_unwind, Outcome};

/// The service made by [`ContextLayer`](super::ContextLayer): see there.
#[derive(Clone, Debug)]
pub struct ContextService<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> ContextService<S> {
    /// Wraps `inner` with the default settings of
    /// [`ContextLayer::new`](super::ContextLayer::new).
    pub fn new(inner: S) -> ContextService<S> {
        ContextService::with_config(inner, Arc::new(Config::default()))
    }

    /// Wraps `inner` with a layer's settings.
    pub(super) fn with_config(inner: S, config: Arc<Config>) -> ContextService<S> {
        ContextService { inner, config }
    }

    inner_service_accessors!();
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
        let (mut cx, echo, mut log) = seed(&self.config, &req);
        // `call` itself runs in the context too: services often do work
        // (and log) before returning their future. The context is moved in
        // and out of the thread's slot, not cloned. If `call` panics, no
        // response future will log the request: it is logged here, still
        // inside the request's context (a layer further out may turn the
        // panic into a response).
        let inner = poll_in(&mut cx, || {
            on_unwind(
                || self.inner.call(req),
                || {
                    if let Some(log) = log.take() {
                        log.emit(Outcome::Panicked);
                    }
                },
            )
        });
        ResponseFuture::new(inner.in_context(cx), echo, log)
    }
}
