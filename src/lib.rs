//! Request context that survives every hop of async Rust.
//!
//! A service logs a line with no trace id, and the call chain stops there: the
//! work moved to another task or thread, and a thread-local did not follow it.
//! `tokio::spawn`, `spawn_blocking`, `std::thread::spawn` and thread pools all
//! start with nothing, and `tokio::task_local!` does not flow into spawned
//! tasks. `ctx` is TransmittableThreadLocal for async Rust: a typed
//! [`Context`] that is *captured* when work is created, *replayed* (installed)
//! whenever that work runs, and *restored* (the thread gets back what it had)
//! when it stops running.
//!
//! # The model
//!
//! - A [`Context`] is an immutable snapshot of typed values, keyed by
//!   [`Key`]s declared as `static`s. Cloning it is one reference count.
//! - Each thread has a slot holding its current context. [`Context::enter`],
//!   [`Context::run`] and [`Key::sync_scope`] install one for a while and
//!   restore the previous one afterwards, also on panic.
//! - An [`Instrumented`] future owns a context and installs it on *every*
//!   poll, whichever worker thread polls it, then takes it back with the
//!   writes the future made and restores the thread. Make one with
//!   [`FutureExt::in_context`] or [`FutureExt::in_current_context`].
//! - A scope, [`Key::scope`] (and the trace and baggage scopes), returns a
//!   [`Scoped`] future: it adds its value to the context current at its
//!   first poll, so scopes nest the way `tokio::task_local!` scopes do;
//!   [`FutureExt::in_current_context`] takes the context at the call.
//! - Keys may carry a propagation policy: [`Key::with_fork`] gives each
//!   child its own copy, [`Key::local`] keeps the value from children.
//!   [`Context::capture`] is what every helper hands to a child.
//! - The spawn helpers capture the caller's context and run the new work in
//!   it: [`spawn`], [`spawn_blocking`], [`spawn_local`], [`spawn_on`],
//!   [`JoinSetExt`], [`thread::spawn`], and [`wrap`] / [`wrap_fn`] for any
//!   other executor. [`spawn_detached`] starts work that must *not* inherit
//!   the request's context.
//! - A [`Carried`] message takes its sender's context through a channel or
//!   a queue, so that the consumer handles it in that context.
//!
//! # Guarantees
//!
//! 1. A child sees its parent's context as it was when the child was created.
//! 2. A child's writes never reach its parent or its siblings.
//! 3. A task's own writes survive its `.await`s.
//! 4. After every poll or closure, the thread's slot holds exactly what it
//!    held before; a value is never seen by work that did not inherit it.
//!    Writes where no scope is open are refused ([`Key::set`] panics and
//!    says how to open one, [`Key::try_set`] returns the error; see
//!    [`Key`](Key#writes-and-scopes)), so a plain `tokio::spawn` task cannot
//!    leave a value on a worker thread (short of leaking a guard of
//!    [`Context::enter`] with `mem::forget` or dropping such guards out of
//!    order, see there), nor pass one to another plain task when a runtime
//!    is driven inside a scope.
//! 5. Capture, enter and poll allocate nothing. (The one exception is
//!    opt-in: capturing a context in which a key with a policy,
//!    [`Key::with_fork`] or [`Key::local`], holds a value builds the
//!    child's copy.)
//!
//! # Example
//!
//! ```
//! use ctx::Key;
//!
//! static TRACE_ID: Key<String> = Key::new("trace_id");
//!
//! # #[tokio::main]
//! # async fn main() {
//! TRACE_ID
//!     .scope("4bf92f3577b34da6".to_string(), async {
//!         // A plain spawn loses the value...
//!         let lost = tokio::spawn(async { TRACE_ID.get() }).await.unwrap();
//!         assert_eq!(lost, None);
//!
//!         // ...ctx's twins keep it, on any thread.
//!         let task = ctx::spawn(async { TRACE_ID.get() }).await.unwrap();
//!         let blocking = ctx::spawn_blocking(|| TRACE_ID.get()).await.unwrap();
//!         let thread = ctx::thread::spawn(|| TRACE_ID.get()).join().unwrap();
//!         for seen in [task, blocking, thread] {
//!             assert_eq!(seen.as_deref(), Some("4bf92f3577b34da6"));
//!         }
//!     })
//!     .await;
//! # }
//! ```
//!
//! # Beyond one process
//!
//! - [`trace`]: [`TraceId`](trace::TraceId), [`SpanId`](trace::SpanId) and
//!   [`TraceContext`](trace::TraceContext), which lives in the context;
//!   [`trace_id()`] reads the current one.
//! - [`baggage`]: W3C baggage in the context.
//! - [`propagation`]: the wire formats (W3C Trace Context, W3C Baggage, B3,
//!   request id) over any header carrier: HTTP headers, message-record
//!   headers, maps.
//! - `http` (feature `http`): a tower layer that seeds each request's
//!   context from its headers and writes an access log, and a client layer
//!   that propagates it to the services it calls.
//! - `otel` (feature `opentelemetry`): one trace across ctx and
//!   OpenTelemetry, its spans parented to ctx's (and ctx's to its) at every
//!   hop.
//! - [`deadline`]: the request's deadline in the context, shortened by
//!   children, read from and sent as `grpc-timeout`; `cancel` (feature
//!   `cancel`): the request's cancellation signal.
//! - `logs` (feature `tracing-subscriber`): the ids on every log line of
//!   `tracing_subscriber::fmt`, in text and JSON.
//!
//! # Feature flags
//!
//! | feature | default | what it adds |
//! |---------|---------|--------------|
//! | `tokio` | yes     | [`spawn`], [`spawn_blocking`], [`spawn_local`], [`spawn_on`], [`spawn_blocking_on`], [`spawn_detached`], [`JoinSetExt`]; writes from another tokio task refused (below) |
//! | `http`  | yes     | `ctx::http`: `ContextLayer`, `PropagateLayer`, `inject` (tower, `http-body`, `tracing`) |
//! | `axum`  | no      | axum extractors for `TraceContext` and `Context`; route templates in the access log (below) |
//! | `opentelemetry` | no | `ctx::otel`: conversions to and from opentelemetry's span context and baggage, ctx's propagators as its `TextMapPropagator`, and span parents shared both ways across every hop (`ctx::otel::init()`) |
//! | `tracing-subscriber` | no | `ctx::logs`: every line `tracing_subscriber::fmt` writes, text or JSON, carries the current `trace_id`, `span_id` and `request_id` |
//! | `cancel` | no     | `ctx::cancel`: the request's cancellation signal (tokio-util's `CancellationToken`), fired at its deadline or when the request is abandoned |
//! | `full`  | no      | every stable integration |
//! | `rt-hooks` | no   | `ctx::rt_hooks`: plain `tokio::spawn` inherits the context through tokio's task hooks; needs `RUSTFLAGS="--cfg tokio_unstable"` (without it the module is empty); not in `full` |
//!
//! [`Context`], [`Key`], [`Instrumented`], [`wrap`], [`thread`], [`trace`],
//! [`baggage`] and [`propagation`] work with any executor and need no
//! feature. The `http` crate is a dependency in every build, whatever the
//! features: [`propagation`]'s carriers are implemented for its
//! `HeaderMap`, the carrier most users have.
//!
//! Features add items and change no signature. Two of them also change a
//! behaviour, each toward what the feature's users expect:
//! - `tokio`: a write inside a synchronous scope ([`Context::run`],
//!   [`Key::sync_scope`], a `ctx::thread` closure) is refused when it comes
//!   from a tokio task other than the one the scope was opened in (a
//!   runtime driven inside the scope; see
//!   [`AccessError::is_other_task`]). Without the feature ctx cannot tell
//!   tasks apart, and such writes are accepted.
//! - `axum`: the access log's `route` field is the matched route template
//!   (`/users/{id}`) where axum's router matched one; without the feature
//!   it is the request's path.
//!
//! # Public dependencies
//!
//! Types and traits of these crates appear in ctx's API, so their major
//! versions are part of ctx's (`.ci/external-types.txt` lists each item, and
//! CI fails when the API's list and it differ):
//!
//! - `http` 1 (always): `HeaderMap` as a propagation carrier, `inject` and
//!   `inject_logged` (`HeaderMap`, `Method`, `Uri`), `HeaderName` for the
//!   request-id header, `Request`/`Response` in the services, `request::Parts`
//!   in the axum extractors.
//! - `futures-core` 0.3 (always): [`StreamExt`] extends `Stream`;
//!   [`Instrumented`] is a `Stream` when its inner value is.
//! - `tokio` 1 (feature `tokio`): the spawn helpers return `JoinHandle`, the
//!   `_on` forms take a runtime `Handle`, [`JoinSetExt`] extends `JoinSet`
//!   (`AbortHandle`, `LocalSet`).
//! - `http-body` 1, `tower-service` 0.3, `tower-layer` 0.3 (feature `http`):
//!   the response body and the layers and services.
//! - `tracing` 0.1 (feature `tracing`, which `http` turns on): `Span` in
//!   `ctx::spans`, `Level` for the access log and outbound-call lines.
//! - `axum` 0.8 (feature `axum`): the `FromRequestParts` and `IntoResponse`
//!   impls of the extractors.
//! - `opentelemetry` 0.33 (feature `opentelemetry`): `ctx::otel`'s
//!   conversions (`SpanContext`, ids, baggage), its `TextMapPropagator`
//!   and carriers, and `ServerSpans::with_tracer`.
//! - `tracing-subscriber` 0.3 (feature `tracing-subscriber`): `ctx::logs`
//!   wraps fmt's `Format` and implements `FormatEvent`.
//! - `tokio-util` 0.7 (feature `cancel`): `ctx::cancel` hands out its
//!   `CancellationToken`.
//!
//! # Rust version
//!
//! The library needs Rust 1.85 (`rust-version`), the floor its dependencies
//! declare; clippy's `incompatible_msrv` lint checks ctx's own use of the
//! standard library against it. The tests need 1.91.
#![cfg_attr(docsrs, feature(doc_cfg))]

// The README's examples are compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

// The layers, bottom up: a module imports only from its own layer or the
// ones above it here, and no two files depend on each other
// (ARCHITECTURE.md; `tests/layering.rs` checks both).
//
// 1. The data model: plain data, importing nothing of ours.
mod model;
// 2. The core: the snapshot, the thread's slot, futures and spawning.
mod access;
mod carried;
pub mod carry;
mod context;
mod error;
mod future;
mod key;
mod scoped;
mod slot;
#[cfg(feature = "tokio")]
mod spawn;
pub mod thread;
mod value;
mod wrap;
// 2. The core: deadlines and cancellation, in the context.
mod budget;
#[cfg(feature = "cancel")]
#[cfg_attr(docsrs, doc(cfg(feature = "cancel")))]
pub mod cancel;
pub mod deadline;
#[cfg(feature = "cancel")]
mod signal;
// 3. The model in the current context.
pub mod baggage;
pub mod call_id;
mod request_id;
pub mod trace;
// 4. Wire formats, then the HTTP layers.
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod http;
pub mod propagation;
// 5. Integrations.
#[cfg(feature = "tracing-subscriber")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing-subscriber")))]
pub mod logs;
#[cfg(feature = "opentelemetry")]
#[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
pub mod otel;
#[cfg(feature = "rt-hooks")]
#[cfg_attr(docsrs, doc(cfg(feature = "rt-hooks")))]
pub mod rt_hooks;
#[cfg(feature = "tracing")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
pub mod spans;

pub use carried::Carried;
pub use context::Context;
pub use error::AccessError;
pub use future::{FutureExt, Instrumented, StreamExt};
pub use key::Key;
pub use request_id::request_id;
pub use scoped::Scoped;
pub use slot::ContextGuard;
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use spawn::{
    spawn, spawn_blocking, spawn_blocking_on, spawn_detached, spawn_local, spawn_on, JoinSetExt,
};
pub use trace::{span_id, trace_id};
pub use wrap::{wrap, wrap_fn};
