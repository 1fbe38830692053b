//! [`Instrumented`]: a future or stream that runs inside a [`Context`], and
//! the extension traits that make one.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use futures_core::Stream;
use pin_project_lite::pin_project;

use crate::context::Context;
use crate::slot::{park, swap_in, swap_out, unpark, Scope};

pin_project! {
    /// A future (or stream) that runs inside a [`Context`].
    ///
    /// On every `poll` it swaps its context into the thread's slot, polls the
    /// inner future, then swaps the slot's context back into itself and
    /// restores what the thread held before: capture, replay, restore, once per
    /// poll. Because the context is moved in and out rather than cloned, a
    /// poll costs two pointer swaps and never allocates.
    ///
    /// - Writes the future makes ([`Key::set`](crate::Key::set)) are kept in
    ///   the `Instrumented` and are still there after its `.await`s, whichever
    ///   thread resumes it.
    /// - The previous context is restored after each poll, also when the poll
    ///   panics.
    /// - The inner future is dropped inside the context, so its destructors
    ///   see the same values as its body (ctx's values: the replay functions
    ///   of carried systems, [`Key::with_replay`](crate::Key::with_replay),
    ///   run around polls, not around the drop).
    ///
    /// Made by [`FutureExt::in_context`], [`FutureExt::in_current_context`],
    /// the [`StreamExt`] twins and the spawn helpers. (The scopes,
    /// [`Key::scope`](crate::Key::scope) and its kin, make a
    /// [`Scoped`](crate::Scoped) future, which takes its context at its
    /// first poll rather than when it is made.)
    ///
    /// Polling it after it returned `Ready` polls the inner future again, with
    /// whatever that future does then (`async` blocks panic).
    ///
    /// # Examples
    ///
    /// ```
    /// use ctx::{Context, FutureExt, Key};
    ///
    /// static TENANT: Key<&'static str> = Key::new("tenant");
    ///
    /// # #[tokio::main]
    /// # async fn main() {
    /// let cx = Context::new().with(&TENANT, "acme");
    /// let tenant = async {
    ///     tokio::task::yield_now().await;
    ///     TENANT.get()
    /// }
    /// .in_context(cx)
    /// .await;
    /// assert_eq!(tenant, Some("acme"));
    /// # }
    /// ```
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct Instrumented<F> {
        // Fields drop in order, and that order drops the future inside its
        // context without `unsafe` and without an `Option` around it (which
        // would cost a word in every spawned task): `cx` installs the
        // context, `inner` drops, `exit` restores the thread.
        cx: DropIn,
        #[pin]
        inner: F,
        exit: DropOut,
    }
}

/// The context of an `Instrumented`; installs it when dropped.
#[derive(Default)]
struct DropIn(Context);

impl Drop for DropIn {
    #[inline]
    fn drop(&mut self) {
        park(std::mem::take(&mut self.0));
    }
}

/// Restores the thread after the future's drop.
struct DropOut;

impl Drop for DropOut {
    #[inline]
    fn drop(&mut self) {
        unpark();
    }
}

impl<F> Instrumented<F> {
    /// Wraps `inner` so that it runs in `cx`.
    pub fn new(inner: F, cx: Context) -> Instrumented<F> {
        Instrumented {
            cx: DropIn(cx),
            inner,
            exit: DropOut,
        }
    }

    /// Returns the context this future runs in, with the writes it made so
    /// far.
    pub fn context(&self) -> &Context {
        &self.cx.0
    }

    /// Returns a reference to the inner future or stream.
    pub fn inner(&self) -> &F {
        &self.inner
    }

    /// Returns a mutable reference to the inner future or stream.
    pub fn inner_mut(&mut self) -> &mut F {
        &mut self.inner
    }

    /// Returns a pinned reference to the inner future or stream.
    pub fn inner_pin_ref(self: Pin<&Self>) -> Pin<&F> {
        self.project_ref().inner
    }

    /// Returns a pinned mutable reference to the inner future or stream.
    pub fn inner_pin_mut(self: Pin<&mut Self>) -> Pin<&mut F> {
        self.project().inner
    }

    /// Takes the inner future or stream out, dropping the context.
    pub fn into_inner(self) -> F {
        self.into_parts().0
    }

    /// Takes the inner future or stream and its context out.
    pub fn into_parts(self) -> (F, Context) {
        let Instrumented {
            cx: mut shell,
            inner,
            exit,
        } = self;
        let cx = std::mem::take(&mut shell.0);
        // Taken apart, nothing is dropped in the context: disarm both drop
        // hooks (the context was moved out of `shell`, so nothing leaks).
        std::mem::forget(shell);
        std::mem::forget(exit);
        (inner, cx)
    }
}

/// Puts a context into the thread's slot and, on drop, puts the slot's
/// context (with the writes made meanwhile) back and restores the thread.
/// Being a guard, it also restores when the poll unwinds.
struct Restore<'a> {
    cx: &'a mut Context,
    /// The thread's previous scope.
    scoped: Scope,
}

impl<'a> Restore<'a> {
    #[inline]
    fn enter(cx: &'a mut Context) -> Restore<'a> {
        let scoped = swap_in(cx, Scope::Poll);
        Restore { cx, scoped }
    }
}

impl Drop for Restore<'_> {
    #[inline]
    fn drop(&mut self) {
        swap_out(self.cx, self.scoped);
    }
}

/// Runs `f` with `cx` current, the way `Instrumented` runs a poll: `cx` is
/// moved into the thread's slot and back (with the writes `f` made), and the
/// thread's previous context is restored, also if `f` panics. For other
/// poll-shaped wrappers in the crate (response bodies).
#[inline]
pub(crate) fn poll_in<R>(cx: &mut Context, f: impl FnOnce() -> R) -> R {
    if cx.replays() {
        return poll_replayed(cx, f);
    }
    let _restore = Restore::enter(cx);
    f()
}

/// [`poll_in`] for a context holding values with replay functions
/// ([`Key::with_replay`](crate::Key::with_replay)): the poll runs inside
/// them. Kept out of line: the common poll is two swaps and a branch.
#[cold]
#[inline(never)]
fn poll_replayed<R>(cx: &mut Context, f: impl FnOnce() -> R) -> R {
    // The values are read from this snapshot: the slot's may change
    // during the poll.
    let values = cx.clone();
    let _restore = Restore::enter(cx);
    values.replayed(f)
}

impl<F: Future> Future for Instrumented<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        poll_in(&mut this.cx.0, || this.inner.poll(cx))
    }
}

impl<S: Stream> Stream for Instrumented<S> {
    type Item = S::Item;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<S::Item>> {
        let this = self.project();
        poll_in(&mut this.cx.0, || this.inner.poll_next(cx))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner().size_hint()
    }
}

impl<F: fmt::Debug> fmt::Debug for Instrumented<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instrumented")
            .field("cx", &self.cx.0)
            .field("inner", &self.inner)
            .finish()
    }
}

/// Runs futures inside a [`Context`].
///
/// Implemented for every [`Future`]. The method names avoid `instrument`
/// and `with_context`, which tracing's and opentelemetry's traits use, so
/// calls never clash. The trait's name is opentelemetry's too
/// (`opentelemetry::trace::FutureExt`): to import both, rename one,
/// `use ctx::FutureExt as _;`.
pub trait FutureExt: Future + Sized {
    /// Runs this future in `cx`: every poll happens with `cx` current.
    ///
    /// # Examples
    ///
    /// ```
    /// use ctx::{Context, FutureExt, Key};
    ///
    /// static JOB: Key<u32> = Key::new("job");
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let cx = Context::new().with(&JOB, 7);
    /// // Plain `tokio::spawn` keeps the context too, once the future carries it.
    /// let job = tokio::spawn(async { JOB.get() }.in_context(cx)).await.unwrap();
    /// assert_eq!(job, Some(7));
    /// # }
    /// ```
    fn in_context(self, cx: Context) -> Instrumented<Self> {
        Instrumented::new(self, cx)
    }

    /// Runs this future in the context that is current now, at the call: the
    /// capture step ([`Context::capture`]), with the keys' propagation
    /// policies applied as for the spawn helpers. Later writes by the
    /// caller do not reach it. (A [`Key::scope`](crate::Key::scope), by
    /// contrast, takes the context current at its first poll.)
    ///
    /// Awaiting `fut.in_current_context()` at the top of `main` opens a root
    /// scope: [`Key::set`](crate::Key::set) works inside it.
    ///
    /// # Examples
    ///
    /// ```
    /// use ctx::{FutureExt, Key};
    ///
    /// static JOB: Key<u32> = Key::new("job");
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// JOB.scope(1, async {
    ///     let child = async { JOB.get() }.in_current_context();
    ///     JOB.set(2); // after the capture: the child does not see it
    ///     assert_eq!(tokio::spawn(child).await.unwrap(), Some(1));
    /// })
    /// .await;
    /// # }
    /// ```
    fn in_current_context(self) -> Instrumented<Self> {
        Instrumented::new(self, Context::capture())
    }
}

impl<F: Future> FutureExt for F {}

/// Runs streams inside a [`Context`]: every `poll_next` happens with it
/// current.
///
/// Implemented for every [`Stream`].
pub trait StreamExt: Stream + Sized {
    /// Runs this stream in `cx`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ctx::{Context, Key, StreamExt as _};
    /// use futures::StreamExt;
    ///
    /// static ID: Key<u32> = Key::new("id");
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let cx = Context::new().with(&ID, 3);
    /// let ids: Vec<_> = futures::stream::iter(0..2)
    ///     .map(|_| ID.get())
    ///     .in_context(cx)
    ///     .collect()
    ///     .await;
    /// assert_eq!(ids, [Some(3), Some(3)]);
    /// # }
    /// ```
    fn in_context(self, cx: Context) -> Instrumented<Self> {
        Instrumented::new(self, cx)
    }

    /// Runs this stream in the context that is current now.
    fn in_current_context(self) -> Instrumented<Self> {
        Instrumented::new(self, Context::capture())
    }
}

impl<S: Stream> StreamExt for S {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors_reach_the_inner_future_and_the_context() {
        static N: crate::Key<u32> = crate::Key::new("n");
        let cx = Context::new().with(&N, 1);
        let mut fut = std::pin::pin!(Instrumented::new(std::future::ready(7u8), cx.clone()));
        assert!(fut.context().ptr_eq(&cx));
        assert_eq!(
            fut.as_ref().inner_pin_ref().get_ref().clone().into_inner(),
            7
        );
        assert_eq!(
            fut.as_mut().inner_pin_mut().get_mut().clone().into_inner(),
            7
        );
        assert_eq!(fut.inner().clone().into_inner(), 7);
    }
}
