//! axum extractors for the request's context.

use std::fmt;

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::StatusCode;

use crate::context::Context;
use crate::trace::TraceContext;

/// The rejection when an extractor finds no request context: the
/// [`ContextLayer`](super::ContextLayer) is not on the route. Answers 500 with
/// a message saying so.
///
/// The extractors read the context the handler runs in (they add nothing
/// to the request), so a router without the layer that is called inside
/// another request's context (an in-process call, a test inside a scope)
/// finds that context instead of failing.
#[derive(Debug)]
pub struct MissingContextLayer {
    what: &'static str,
}

impl fmt::Display for MissingContextLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no request context for `{}`: add `ctx::http::ContextLayer` to the router",
            self.what
        )
    }
}

impl std::error::Error for MissingContextLayer {}

impl IntoResponse for MissingContextLayer {
    fn into_response(self) -> Response {
        (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
    }
}

/// Extracts the request's server span.
///
/// ```
/// use axum::{routing::get, Router};
/// use ctx::trace::TraceContext;
///
/// async fn handler(trace: TraceContext) -> String {
///     trace.trace_id().to_string()
/// }
///
/// let app: Router = Router::new()
///     .route("/", get(handler))
///     .layer(ctx::http::ContextLayer::new());
/// ```
impl<S: Send + Sync> FromRequestParts<S> for TraceContext {
    type Rejection = MissingContextLayer;

    async fn from_request_parts(_: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        TraceContext::current().ok_or(MissingContextLayer {
            what: "TraceContext",
        })
    }
}

/// Extracts the request's whole [`Context`] (to hand to work started
/// elsewhere, or to read several values at once).
impl<S: Send + Sync> FromRequestParts<S> for Context {
    type Rejection = MissingContextLayer;

    async fn from_request_parts(_: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let cx = Context::current();
        if cx.contains(&crate::trace::TRACE_CONTEXT) {
            Ok(cx)
        } else {
            Err(MissingContextLayer { what: "Context" })
        }
    }
}
