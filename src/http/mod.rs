//! HTTP: a tower layer that gives each request its context, outbound
//! propagation, and axum extractors.
//!
//! - Server: [`ContextLayer`] reads the caller's trace context, baggage and
//!   request id, starts the server span, and runs the handler and its
//!   response body inside the request's [`Context`](crate::Context). It
//!   echoes the ids and writes one access-log line per request.
//! - Client: [`PropagateLayer`] for tower-based clients and [`inject`] for
//!   any other put the current context on outbound requests, as a child
//!   span.
//! - axum: [`TraceContext`](crate::trace::TraceContext) and
//!   [`Context`](crate::Context) are extractors (feature `axum`).
//!
//! # Examples
//!
//! ```
//! use axum::{routing::get, Router};
//! use ctx::http::ContextLayer;
//!
//! async fn handler() -> &'static str {
//!     // Every hop keeps the request's trace id.
//!     let id = ctx::trace_id();
//!     ctx::spawn(async move { assert_eq!(ctx::trace_id(), id) });
//!     "ok"
//! }
//!
//! let app: Router = Router::new()
//!     .route("/", get(handler))
//!     .layer(ContextLayer::new());
//! ```

/// The accessors every service wrapper of this module has (the tower-http
/// habit): `get_ref`, `get_mut`, `into_inner` on its `inner` field.
macro_rules! inner_service_accessors {
    () => {
        /// Returns a reference to the inner service.
        pub fn get_ref(&self) -> &S {
            &self.inner
        }

        /// Returns a mutable reference to the inner service.
        pub fn get_mut(&mut self) -> &mut S {
            &mut self.inner
        }

        /// Returns the inner service.
        pub fn into_inner(self) -> S {
            self.inner
        }
    };
}

/// Runs `$body` with `$name` a constant equal to `$level`: `tracing`'s
/// macros need the level of a callsite at compile time, the layer has it at
/// run time.
macro_rules! at_level {
    ($level:expr, |$name:ident| $body:expr) => {{
        let level: Level = $level;
        if level == Level::ERROR {
            const $name: Level = Level::ERROR;
            $body
        } else if level == Level::WARN {
            const $name: Level = Level::WARN;
            $body
        } else if level == Level::INFO {
            const $name: Level = Level::INFO;
            $body
        } else if level == Level::DEBUG {
            const $name: Level = Level::DEBUG;
            $body
        } else {
            const $name: Level = Level::TRACE;
            $body
        }
    }};
}

mod access_log;
mod body;
mod client;
#[cfg(feature = "axum")]
mod extract;
mod server;

pub use access_log::ACCESS_LOG_TARGET;
pub use body::ContextBody;
pub use client::{inject, inject_logged, PropagateLayer, PropagateService, CLIENT_LOG_TARGET};
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use extract::MissingContextLayer;
pub use server::{ContextLayer, ContextService, ResponseFuture, Trust};
