//! Spawn helpers for tokio that carry the caller's context into the new task.
//!
//! Each one captures the caller's context at the call
//! ([`Context::capture`](crate::Context::capture): the keys' fork and
//! local-only policies applied) and runs the task inside it: the
//! drop-in twins of `tokio::spawn`, `spawn_blocking`, `spawn_local`,
//! `Handle::spawn` and `JoinSet::spawn`.

use std::future::Future;

use tokio::runtime::Handle;
use tokio::task::{AbortHandle, JoinHandle, JoinSet, LocalSet};

use crate::context::Context;
use crate::future::FutureExt;
use crate::wrap::wrap;

/// Spawns a task that runs in the caller's context: `tokio::spawn`, plus
/// capture at the call and the context installed on every poll.
///
/// The task sees the values that were current when `spawn` was called; what
/// the caller writes afterwards does not reach it, and what the task writes
/// never reaches the caller.
///
/// # Panics
///
/// Like `tokio::spawn`, when called outside a tokio runtime.
///
/// # Examples
///
/// ```
/// use ctx::Key;
///
/// static TRACE: Key<&'static str> = Key::new("trace");
///
/// # #[tokio::main]
/// # async fn main() {
/// TRACE.scope("4bf92f35", async {
///     let lost = tokio::spawn(async { TRACE.get() }).await.unwrap();
///     let kept = ctx::spawn(async { TRACE.get() }).await.unwrap();
///     assert_eq!(lost, None);
///     assert_eq!(kept, Some("4bf92f35"));
/// })
/// .await;
/// # }
/// ```
#[track_caller]
#[allow(clippy::disallowed_methods)] // ctx's twin: the work runs in the context captured here
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(future.in_current_context())
}

/// Spawns a task that runs in the empty context, whatever the caller's.
///
/// For long-lived background work started while serving a request (a cache
/// refresher, a connection pool's reaper): it must not carry that request's
/// trace id for the rest of the process's life, nor keep its values alive.
///
/// # Examples
///
/// ```
/// use ctx::Key;
///
/// static TRACE: Key<&'static str> = Key::new("trace");
///
/// # #[tokio::main]
/// # async fn main() {
/// TRACE.scope("request-1", async {
///     let bg = ctx::spawn_detached(async { TRACE.get() }).await.unwrap();
///     assert_eq!(bg, None);
/// })
/// .await;
/// # }
/// ```
#[track_caller]
#[allow(clippy::disallowed_methods)] // the empty context, installed on purpose
pub fn spawn_detached<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(future.in_context(Context::new()))
}

/// Runs a blocking closure on tokio's blocking pool inside the caller's
/// context: `tokio::task::spawn_blocking`, plus capture and restore.
///
/// The pool thread's slot holds the context only while the closure runs; it
/// holds nothing afterwards.
///
/// # Examples
///
/// ```
/// use ctx::Key;
///
/// static USER: Key<u32> = Key::new("user");
///
/// # #[tokio::main]
/// # async fn main() {
/// USER.scope(5, async {
///     let seen = ctx::spawn_blocking(|| USER.get()).await.unwrap();
///     assert_eq!(seen, Some(5));
/// })
/// .await;
/// # }
/// ```
#[track_caller]
#[allow(clippy::disallowed_methods)] // ctx's twin: the work runs in the context captured here
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    tokio::task::spawn_blocking(wrap(f))
}

/// Spawns a `!Send` task on the current [`LocalSet`](tokio::task::LocalSet)
/// inside the caller's context.
///
/// A `LocalSet` polls its tasks from inside its own `run_until` future. When
/// that future itself runs in a scope (an `Instrumented` future, a task
/// spawned with [`spawn`]), a task started with *plain*
/// `tokio::task::spawn_local` is polled inside that scope: it sees the
/// enclosing context and its writes land there, like the branches of a
/// `join!`. Tasks started with this function get their own context and never
/// do. Drive a `LocalSet` from outside any scope (`LocalSet::block_on`) if
/// it runs plain tasks that must stay apart.
///
/// # Panics
///
/// Like `tokio::task::spawn_local`, when called outside a `LocalSet`.
///
/// # Examples
///
/// ```
/// use ctx::Key;
/// use std::rc::Rc;
///
/// static USER: Key<u32> = Key::new("user");
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let local = tokio::task::LocalSet::new();
/// local
///     .run_until(USER.scope(8, async {
///         let not_send = Rc::new(());
///         let seen = ctx::spawn_local(async move {
///             let _keep = not_send;
///             USER.get()
///         });
///         assert_eq!(seen.await.unwrap(), Some(8));
///     }))
///     .await;
/// # }
/// ```
#[track_caller]
#[allow(clippy::disallowed_methods)] // ctx's twin: the work runs in the context captured here
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    tokio::task::spawn_local(future.in_current_context())
}

/// Spawns a task on the runtime behind `handle`, inside the caller's context.
///
/// # Examples
///
/// ```
/// use ctx::Key;
///
/// static USER: Key<u32> = Key::new("user");
///
/// let rt = tokio::runtime::Runtime::new().unwrap();
/// let handle = rt.handle().clone();
/// let seen = USER.sync_scope(3, || ctx::spawn_on(&handle, async { USER.get() }));
/// assert_eq!(rt.block_on(seen).unwrap(), Some(3));
/// ```
#[track_caller]
pub fn spawn_on<F>(handle: &Handle, future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    handle.spawn(future.in_current_context())
}

/// Runs a blocking closure on the blocking pool of the runtime behind
/// `handle`, inside the caller's context.
#[track_caller]
pub fn spawn_blocking_on<F, R>(handle: &Handle, f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    handle.spawn_blocking(wrap(f))
}

/// Spawns into a [`JoinSet`] inside the caller's context.
///
/// The methods are named after `JoinSet`'s own with a `ctx_` prefix, so they
/// sit beside them without shadowing.
///
/// # Examples
///
/// ```
/// use ctx::{JoinSetExt, Key};
/// use tokio::task::JoinSet;
///
/// static SHARD: Key<u32> = Key::new("shard");
///
/// # #[tokio::main]
/// # async fn main() {
/// let mut set = JoinSet::new();
/// for shard in 0..3 {
///     SHARD.sync_scope(shard, || set.ctx_spawn(async { SHARD.get() }));
/// }
/// let mut seen = set.join_all().await;
/// seen.sort();
/// assert_eq!(seen, [Some(0), Some(1), Some(2)]);
/// # }
/// ```
///
/// The trait is sealed: it is implemented for `JoinSet` only, so methods can
/// be added to it without breaking anyone.
pub trait JoinSetExt<T>: sealed::Sealed {
    /// `JoinSet::spawn`, inside the caller's context.
    fn ctx_spawn<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
        T: Send;

    /// `JoinSet::spawn_blocking`, inside the caller's context.
    fn ctx_spawn_blocking<F>(&mut self, f: F) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send;

    /// `JoinSet::spawn_local`, inside the caller's context.
    fn ctx_spawn_local<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static;

    /// `JoinSet::spawn_on`: on the runtime behind `handle`, inside the
    /// caller's context.
    fn ctx_spawn_on<F>(&mut self, future: F, handle: &Handle) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
        T: Send;

    /// `JoinSet::spawn_blocking_on`: on the blocking pool of the runtime
    /// behind `handle`, inside the caller's context.
    fn ctx_spawn_blocking_on<F>(&mut self, f: F, handle: &Handle) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send;

    /// `JoinSet::spawn_local_on`: on `local_set`, inside the caller's
    /// context.
    fn ctx_spawn_local_on<F>(&mut self, future: F, local_set: &LocalSet) -> AbortHandle
    where
        F: Future<Output = T> + 'static;
}

mod sealed {
    pub trait Sealed {}
    impl<T> Sealed for tokio::task::JoinSet<T> {}
}

impl<T: 'static> JoinSetExt<T> for JoinSet<T> {
    #[track_caller]
    fn ctx_spawn<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
        T: Send,
    {
        self.spawn(future.in_current_context())
    }

    #[track_caller]
    fn ctx_spawn_blocking<F>(&mut self, f: F) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send,
    {
        self.spawn_blocking(wrap(f))
    }

    #[track_caller]
    fn ctx_spawn_local<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        self.spawn_local(future.in_current_context())
    }

    #[track_caller]
    fn ctx_spawn_on<F>(&mut self, future: F, handle: &Handle) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
        T: Send,
    {
        self.spawn_on(future.in_current_context(), handle)
    }

    #[track_caller]
    fn ctx_spawn_blocking_on<F>(&mut self, f: F, handle: &Handle) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send,
    {
        self.spawn_blocking_on(wrap(f), handle)
    }

    #[track_caller]
    fn ctx_spawn_local_on<F>(&mut self, future: F, local_set: &LocalSet) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        self.spawn_local_on(future.in_current_context(), local_set)
    }
}
