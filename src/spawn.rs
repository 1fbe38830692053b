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

/// Tells the task hooks of a hooked runtime (feature `rt-hooks`) to capture
/// no second context for the `Instrumented` task spawned while the returned
/// guard lives. Without the hooks it does nothing.
///
/// A guard rather than a closure around the spawn, so that tokio records the
/// caller's location (`#[track_caller]` does not pass through closures).
#[inline]
#[must_use]
pub(crate) fn unhooked() -> impl Sized {
    #[cfg(all(feature = "rt-hooks", tokio_unstable))]
    return hooked::handoff(hooked::Handoff::Skip);
    #[cfg(not(all(feature = "rt-hooks", tokio_unstable)))]
    ()
}

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
    #[cfg(all(feature = "rt-hooks", tokio_unstable))]
    return hooked::spawn(future);
    #[cfg(not(all(feature = "rt-hooks", tokio_unstable)))]
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
    let _unhooked = unhooked();
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
    let _unhooked = unhooked();
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
    let _unhooked = unhooked();
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
        let _unhooked = unhooked();
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
        let _unhooked = unhooked();
        self.spawn_local(future.in_current_context())
    }

    #[track_caller]
    fn ctx_spawn_on<F>(&mut self, future: F, handle: &Handle) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
        T: Send,
    {
        let _unhooked = unhooked();
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
        let _unhooked = unhooked();
        self.spawn_local_on(future.in_current_context(), local_set)
    }
}

/// What the core tells a runtime's task hooks (`ctx::rt_hooks`, feature
/// `rt-hooks` with `--cfg tokio_unstable`), and what they tell it back.
///
/// The hooks capture the spawner's context for every task; the spawn
/// helpers above capture it themselves. So that a task never pays twice, a
/// helper hands the hooks what to do for the task it is about to spawn
/// ([`Handoff`]): take this capture, or capture nothing (the task carries
/// its own `Instrumented`). And the hooks say, per thread, which runtime is
/// polling one of its tasks right now, so that [`spawn`](super::spawn)
/// inside a hooked task spawns the plain future and lets them install it.
#[cfg(all(feature = "rt-hooks", tokio_unstable))]
pub(crate) mod hooked {
    use std::cell::Cell;
    use std::future::Future;

    use tokio::runtime::{Handle, Id};
    use tokio::task::JoinHandle;

    use crate::context::Context;
    use crate::future::FutureExt;

    /// What the spawn hook does for the next task spawned on this thread.
    #[derive(Default)]
    pub(crate) enum Handoff {
        /// Capture the current context (a plain `tokio::spawn`).
        #[default]
        Capture,
        /// Capture nothing: the task installs its own context.
        Skip,
        /// Use this capture, made by the helper.
        Context(Context),
    }

    thread_local! {
        static HANDOFF: Cell<Handoff> = const { Cell::new(Handoff::Capture) };
        /// The hooked runtime polling a task on this thread, innermost.
        static POLLING: Cell<Option<Id>> = const { Cell::new(None) };
    }

    /// Takes what the helper left for the spawn hook (`Capture` when none).
    #[inline]
    pub(crate) fn take_handoff() -> Handoff {
        HANDOFF.try_with(Cell::take).unwrap_or_default()
    }

    /// Records that `runtime` polls a task on this thread from now on;
    /// returns what was recorded before, for [`leave`].
    #[inline]
    pub(crate) fn enter(runtime: Option<Id>) -> Option<Id> {
        POLLING.try_with(|p| p.replace(runtime)).unwrap_or(None)
    }

    /// Undoes [`enter`].
    #[inline]
    pub(crate) fn leave(prev: Option<Id>) {
        let _ = POLLING.try_with(|p| p.set(prev));
    }

    /// Leaves `handoff` for the spawn hook of the task spawned while the
    /// returned guard lives; whatever the hook did not take is cleared when
    /// the guard drops, also if the spawn panics (outside a runtime), so it
    /// never reaches a later spawn.
    #[inline]
    pub(crate) fn handoff(handoff: Handoff) -> HandoffGuard {
        let _ = HANDOFF.try_with(|h| h.set(handoff));
        HandoffGuard
    }

    /// Clears the handoff on drop (see [`handoff`]).
    pub(crate) struct HandoffGuard;

    impl Drop for HandoffGuard {
        #[inline]
        fn drop(&mut self) {
            drop(take_handoff());
        }
    }

    /// Whether the task spawned now by `tokio::spawn` lands on the hooked
    /// runtime that is polling the caller (so the hooks will install its
    /// context).
    fn hooks_install_here() -> bool {
        match POLLING.try_with(Cell::get) {
            Ok(Some(polling)) => Handle::try_current().is_ok_and(|h| h.id() == polling),
            _ => false,
        }
    }

    /// [`spawn`](super::spawn) with the hooks: the capture is made once,
    /// here; inside a task of a hooked runtime the plain future is spawned
    /// and the hooks get the capture (one map entry, no `Instrumented`);
    /// elsewhere the future is wrapped as without the hooks and they are
    /// told to keep out. A capture whose values have replay functions
    /// (carried systems) is always wrapped: the hooks cannot run the poll
    /// inside them.
    #[track_caller]
    #[allow(clippy::disallowed_methods)] // ctx's twin: the hooks or the wrapper carry the capture
    pub(crate) fn spawn<F>(future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let cx = Context::capture();
        if !cx.replays() && hooks_install_here() {
            let _handoff = handoff(Handoff::Context(cx));
            tokio::spawn(future)
        } else {
            let _handoff = handoff(Handoff::Skip);
            tokio::spawn(future.in_context(cx))
        }
    }
}
