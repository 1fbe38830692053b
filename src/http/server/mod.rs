//! The server side: [`ContextLayer`] seeds each request's
//! [`Context`](crate::Context) from its headers and runs the service, its
//! response future and its response body inside it.
//!
//! One file per part: the layer and its builder (`layer.rs`), its settings
//! (`config.rs`, `trust.rs`), the service (`service.rs`), the response
//! future (`future.rs`), and two steps of a request: seeding its context
//! (`seed.rs`) and echoing its ids (`echo.rs`). The response body, the
//! access log and the outcome they share are `http`'s own (`body.rs`,
//! `access_log.rs`, `outcome.rs`).

mod config;
mod echo;
mod future;
mod layer;
mod seed;
mod service;
mod trust;

pub use future::ResponseFuture;
pub use layer::ContextLayer;
pub use service::ContextService;
pub use trust::Trust;
