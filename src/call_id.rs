//! Hierarchical call ids in the context: Baidu's CallID and Alibaba
//! EagleEye's RpcId, which record the order and nesting of a request's work
//! without a collector.
//!
//! A request's root is `0`; each child task and each outbound call of a
//! piece of work gets the next id under it (`0.1`, `0.2`, …), and theirs go
//! one level down (`0.1.1`). The id lives in the context under [`CALL_ID`],
//! a key whose fork policy ([`Key::with_fork`]) gives every child its own
//! id when the context is handed over: every spawn helper, wrapped closure,
//! stream and [`Context::capture`](crate::Context). Outbound calls take the
//! next id too, and send it in the `x-call-id` header
//! ([`CallIdPropagator`](crate::propagation::CallIdPropagator)); a server
//! layer configured with it continues the caller's tree and shows the id in
//! its access log.
//!
//! Nothing here costs anything until a context holds a call id: the server
//! layer seeds one only when its propagators include the call id's.
//!
//! # Examples
//! ```
//! use ctx::call_id::{self, CallId, CALL_ID};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! CALL_ID
//!     .scope(CallId::root(), async {
//!         let first = ctx::spawn(async { call_id::current() }).await.unwrap();
//!         let second = ctx::spawn(async { call_id::current() }).await.unwrap();
//!         assert_eq!(first.unwrap().as_str(), "0.1");
//!         assert_eq!(second.unwrap().as_str(), "0.2");
//!         // The parent keeps its own id.
//!         assert_eq!(call_id::current().unwrap().as_str(), "0");
//!     })
//!     .await;
//! # }
//! ```

use crate::key::Key;

pub use crate::model::CallId;

/// The key under which the current [`CallId`] lives. Its fork policy
/// ([`CallId::child`]) gives each child its own id.
pub static CALL_ID: Key<CallId> = Key::new("ctx.call_id").with_fork(CallId::child);

/// The current call id, if the current context holds one.
///
/// # Examples
/// ```
/// use ctx::call_id::{self, CallId, CALL_ID};
///
/// assert_eq!(call_id::current(), None);
/// CALL_ID.sync_scope(CallId::root(), || {
///     assert_eq!(call_id::current().unwrap().as_str(), "0");
/// });
/// ```
pub fn current() -> Option<CallId> {
    CALL_ID.get()
}

/// The id for a new child of the current work (an outbound call): the next
/// child of the current call id, or `None` when the context holds none.
///
/// # Examples
/// ```
/// use ctx::call_id::{self, CallId, CALL_ID};
///
/// CALL_ID.sync_scope(CallId::root(), || {
///     assert_eq!(call_id::next_child().unwrap().as_str(), "0.1");
///     assert_eq!(call_id::next_child().unwrap().as_str(), "0.2");
/// });
/// assert_eq!(call_id::next_child(), None);
/// ```
pub fn next_child() -> Option<CallId> {
    CALL_ID.with(|id| id.map(CallId::child))
}
