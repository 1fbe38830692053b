//! [`Scoped`]: a future that adds values to the context it is first polled
//! in, so that scopes nest the way `tokio::task_local!` scopes do.
//!
//! [`Instrumented`](crate::Instrumented) captures its context when it is
//! made. A scope ([`Key::scope`](crate::Key::scope) and the scopes built on
//! it) waits for its first poll instead: it adds its values to whatever
//! context is current then, once, and from then on runs like an
//! `Instrumented` future. In `USER.scope(a, TENANT.scope(b, fut))` the
//! inner scope is first polled inside the outer one, so `fut` sees both.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use pin_project_lite::pin_project;

use crate::context::Context;
use crate::future::poll_in;
use crate::slot::{park, unpark};

/// How a scope makes its context from its values, at its first poll: reads
/// the current context and returns it with the values (`&Context`) added.
pub(crate) type Merge = fn(&Context) -> Context;

pin_project! {
    /// A future that runs in the context current at its first poll, plus
    /// the values of its scope.
    ///
    /// Returned by [`Key::scope`](crate::Key::scope),
    /// [`TraceContext::scope`](crate::trace::TraceContext::scope), the
    /// [`baggage`](crate::baggage) scopes and, with the `opentelemetry`
    /// feature, `ctx::otel::scope`.
    ///
    /// - At its first poll it takes the context current then and adds its
    ///   values to it: one merge, one allocation at most (none when the
    ///   current context is empty). That is why scopes nest whichever is
    ///   built first, as `tokio::task_local!` scopes do.
    /// - From then on it is an [`Instrumented`](crate::Instrumented) future:
    ///   it installs its context around every poll, keeps the writes its
    ///   future makes across `.await`s, and restores the thread after each
    ///   poll, also on panic. Where it is polled later no longer matters.
    /// - Its future is dropped inside its context; the future of a scope
    ///   never polled never entered it, and is dropped in the context
    ///   current at the drop.
    ///
    /// To take the context *now*, at the call, as the spawn helpers do, use
    /// [`FutureExt::in_current_context`](crate::FutureExt::in_current_context).
    ///
    /// # Examples
    ///
    /// ```
    /// use ctx::Key;
    ///
    /// static USER: Key<&'static str> = Key::new("user");
    /// static TENANT: Key<&'static str> = Key::new("tenant");
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let both = USER.scope("ann", TENANT.scope("acme", async { (USER.get(), TENANT.get()) }));
    /// assert_eq!(both.await, (Some("ann"), Some("acme")));
    /// # }
    /// ```
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct Scoped<F> {
        // Dropped in this order: `cx` installs the context, `inner` drops
        // in it, `exit` restores the thread (as in `Instrumented`).
        cx: ScopeIn,
        #[pin]
        inner: F,
        exit: ScopeOut,
    }
}

/// The scope's context: its values until the first poll (`merge` is set),
/// then the context it runs in.
struct ScopeIn {
    cx: Context,
    merge: Option<Merge>,
}

impl ScopeIn {
    /// At the first poll, makes the context the scope runs in.
    #[inline]
    fn start(&mut self) {
        if let Some(merge) = self.merge {
            // Made before anything changes: if `merge` panics, the scope
            // is still as it was.
            let cx = merge(&self.cx);
            self.cx = cx;
            self.merge = None;
        }
    }
}

impl Drop for ScopeIn {
    fn drop(&mut self) {
        let cx = if self.merge.is_some() {
            // Never polled, so never in its scope: the future is dropped
            // where it is dropped, and no carrier or merge runs in a drop.
            Context::current()
        } else {
            std::mem::take(&mut self.cx)
        };
        park(cx);
    }
}

/// Restores the thread after the future's drop.
struct ScopeOut;

impl Drop for ScopeOut {
    #[inline]
    fn drop(&mut self) {
        unpark();
    }
}

impl<F> Scoped<F> {
    /// A scope that adds `values` with `merge` at its first poll.
    pub(crate) fn new(inner: F, values: Context, merge: Merge) -> Scoped<F> {
        Scoped {
            cx: ScopeIn {
                cx: values,
                merge: Some(merge),
            },
            inner,
            exit: ScopeOut,
        }
    }

    /// Returns the context this future runs in, with the writes it made so
    /// far; `None` before its first poll, when it has none yet.
    pub fn context(&self) -> Option<&Context> {
        self.cx.merge.is_none().then_some(&self.cx.cx)
    }

    /// Returns a reference to the inner future.
    pub fn inner(&self) -> &F {
        &self.inner
    }

    /// Returns a mutable reference to the inner future.
    pub fn inner_mut(&mut self) -> &mut F {
        &mut self.inner
    }

    /// Returns a pinned reference to the inner future.
    pub fn inner_pin_ref(self: Pin<&Self>) -> Pin<&F> {
        self.project_ref().inner
    }

    /// Returns a pinned mutable reference to the inner future.
    pub fn inner_pin_mut(self: Pin<&mut Self>) -> Pin<&mut F> {
        self.project().inner
    }

    /// Takes the inner future out, dropping the scope's context (the
    /// future is not dropped in it: it is returned).
    pub fn into_inner(self) -> F {
        let Scoped {
            cx: mut shell,
            inner,
            exit,
        } = self;
        let cx = std::mem::take(&mut shell.cx);
        // Nothing is dropped in the context: disarm both drop hooks (the
        // context was moved out of `shell`, and is dropped here).
        std::mem::forget(shell);
        std::mem::forget(exit);
        drop(cx);
        inner
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        this.cx.start();
        poll_in(&mut this.cx.cx, || this.inner.poll(task))
    }
}

impl<F: fmt::Debug> fmt::Debug for Scoped<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scoped")
            .field("started", &self.cx.merge.is_none())
            .field("cx", &self.cx.cx)
            .field("inner", &self.inner)
            .finish()
    }
}
