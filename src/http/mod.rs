//! HTTP: a tower layer that gives each request its context, outbound
//! propagation, and axum extractors.
//!
//! - Server: [`ContextLayer`] reads the caller's trace context, baggage and
//!   request id, starts the server span, and runs the handler and its
//!   response body inside the request's [`Context`](crate::Context). It
//!   echoes the ids and writes one [access-log](ContextLayer#access-log)
//!   line per request (whose `route` field depends on the feature `axum`).
//! - Client: [`PropagateLayer`] for tower-based clients and [`inject`] for
//!   any other put the current context on outbound requests, as a child
//!   span.
//! - axum: [`TraceContext`](crate::trace::TraceContext) and
//!   [`Context`](crate::Context) are extractors (feature `axum`).
//! - gRPC (tonic): both layers serve gRPC as they are, its metadata being
//!   HTTP headers: `Server::builder().layer(ContextLayer::new())` on the
//!   server, `ServiceBuilder::new().layer(PropagateLayer::new()).service(channel)`
//!   on a tonic `Channel`. Streaming responses are produced inside the
//!   request's context, and the access log names the call's service, method
//!   and `grpc-status` ([Access log](ContextLayer#access-log)).
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

// The module's macros, declared first so that every file below sees them.
#[macro_use]
mod macros;

mod access_log;
mod body;
mod client;
mod deadline;
#[cfg(feature = "axum")]
mod extract;
pub(crate) mod grpc;
mod outcome;
pub mod record;
mod server;

pub use access_log::ACCESS_LOG_TARGET;
pub use body::ContextBody;
pub use client::{inject, inject_logged, PropagateLayer, PropagateService, CLIENT_LOG_TARGET};
pub use deadline::{DeadlineFuture, DeadlineLayer, DeadlineService, DEADLINE_EXCEEDED_HEADER};
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use extract::MissingContextLayer;
pub use server::{ContextLayer, ContextService, ResponseFuture, Trust};
