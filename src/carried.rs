//! [`Carried<T>`]: a message that travels with its sender's context through
//! a channel or a queue, so that the consumer handles it in that context.
//!
//! A channel moves a value from one task to another and leaves the context
//! behind: a consumer task serving many requests sees none of their trace
//! ids. Wrapping the message captures the sender's context with it, the way
//! a spawn helper captures it for a child task; the consumer then runs each
//! message in its own request's context, and is back in its own context
//! between messages.

use std::fmt;
use std::future::Future;

use crate::context::Context;
use crate::future::Instrumented;
use crate::slot::run_owned;

/// A message and the context of the code that made it.
///
/// [`Carried::new`] captures the current context as a spawn helper does
/// (keys' fork policies applied, carried systems captured), so a message is
/// a child of its sender, like a task: what the sender writes afterwards
/// does not reach it, and what the consumer writes while handling it never
/// reaches the sender or the consumer's own context.
///
/// It fits any channel or queue, since it is just a value: tokio's `mpsc`,
/// `oneshot`, `broadcast` (it is `Clone` when `T` is) and `watch`,
/// `std::sync::mpsc`, a `VecDeque`, a `Mutex`-guarded job list. The
/// consumer takes the message out with one of:
///
/// - [`run`](Carried::run): a closure, run in the sender's context;
/// - [`scope`](Carried::scope): a future, every poll of which runs in the
///   sender's context (an `async` handler);
/// - [`run_ref`](Carried::run_ref): a closure over a borrowed message (a
///   `watch` channel's current value);
/// - [`into_parts`](Carried::into_parts): the message and the context, to
///   enter it some other way.
///
/// A stream of carried messages is handled the same way, one message at a
/// time: `stream.then(|job| job.scope(handle))`.
///
/// It is one [`Context`] (a pointer) larger than `T`, and `Send`/`Sync`
/// when `T` is. Capturing costs one reference count when no key forks.
///
/// # Examples
///
/// One consumer task, messages from two requests:
///
/// ```
/// use ctx::{Carried, Key};
/// use tokio::sync::mpsc;
///
/// static REQUEST: Key<&'static str> = Key::new("request");
///
/// # #[tokio::main]
/// # async fn main() {
/// let (tx, mut rx) = mpsc::channel::<Carried<u32>>(8);
/// let consumer = ctx::spawn(async move {
///     let mut seen = Vec::new();
///     while let Some(job) = rx.recv().await {
///         // Each message in its sender's context...
///         seen.push(job.scope(|n| async move { (n, REQUEST.get()) }).await);
///         // ...and the consumer's own in between.
///         assert_eq!(REQUEST.get(), None);
///     }
///     seen
/// });
///
/// for (n, request) in [(1, "req-a"), (2, "req-b")] {
///     let tx = tx.clone();
///     REQUEST.scope(request, async move {
///         tx.send(Carried::new(n)).await.unwrap();
///     })
///     .await;
/// }
/// drop(tx);
/// let seen = consumer.await.unwrap();
/// assert_eq!(seen, [(1, Some("req-a")), (2, Some("req-b"))]);
/// # }
/// ```
#[derive(Clone)]
#[must_use = "a carried message does nothing until it is handled"]
pub struct Carried<T> {
    msg: T,
    cx: Context,
}

impl<T> Carried<T> {
    /// Wraps `msg` with the current context, captured now as for a child
    /// task.
    ///
    /// # Examples
    ///
    /// ```
    /// use ctx::{Carried, Key};
    ///
    /// static ORDER: Key<u64> = Key::new("order");
    ///
    /// let job = ORDER.sync_scope(7, || Carried::new("ship"));
    /// assert_eq!(ORDER.get(), None);
    /// let seen = job.run(|what| (what, ORDER.get()));
    /// assert_eq!(seen, ("ship", Some(7)));
    /// ```
    pub fn new(msg: T) -> Carried<T> {
        Carried {
            msg,
            cx: Context::capture(),
        }
    }

    /// Wraps `msg` with `cx`, taken as it is (no fork policy applied).
    ///
    /// For a message made on behalf of a context that is not the current
    /// one, or that must carry none (`Context::new()`).
    ///
    /// # Examples
    ///
    /// ```
    /// use ctx::{Carried, Context, Key};
    ///
    /// static TENANT: Key<&'static str> = Key::new("tenant");
    ///
    /// let job = Carried::with_context(3, Context::new().with(&TENANT, "acme"));
    /// assert_eq!(job.run(|n| (n, TENANT.get())), (3, Some("acme")));
    /// ```
    pub fn with_context(msg: T, cx: Context) -> Carried<T> {
        Carried { msg, cx }
    }

    /// The message.
    pub fn get_ref(&self) -> &T {
        &self.msg
    }

    /// The message, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.msg
    }

    /// The context the message carries.
    pub fn context(&self) -> &Context {
        &self.cx
    }

    /// The message, dropping its context.
    ///
    /// Code that handles the message afterwards runs in whatever context is
    /// current: use [`run`](Carried::run) or [`scope`](Carried::scope) to
    /// handle it in its sender's.
    pub fn into_inner(self) -> T {
        self.msg
    }

    /// The message and its context.
    ///
    /// # Examples
    ///
    /// ```
    /// use ctx::{Carried, Key};
    ///
    /// static USER: Key<u32> = Key::new("user");
    ///
    /// let (msg, cx) = USER.sync_scope(9, || Carried::new("hello")).into_parts();
    /// assert_eq!(msg, "hello");
    /// assert_eq!(cx.run(|| USER.get()), Some(9));
    /// ```
    pub fn into_parts(self) -> (T, Context) {
        (self.msg, self.cx)
    }

    /// The same context with the message changed by `f` (called in the
    /// current context, not the carried one).
    ///
    /// # Examples
    ///
    /// ```
    /// use ctx::{Carried, Key};
    ///
    /// static USER: Key<u32> = Key::new("user");
    ///
    /// let job = USER.sync_scope(9, || Carried::new(20)).map(|n| n + 1);
    /// assert_eq!(job.run(|n| (n, USER.get())), (21, Some(9)));
    /// ```
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Carried<U> {
        Carried {
            msg: f(self.msg),
            cx: self.cx,
        }
    }

    /// Runs `f` with the message, in the carried context; the thread's
    /// previous context is back afterwards, also if `f` panics.
    ///
    /// Writes `f` makes are local to this call.
    ///
    /// # Examples
    ///
    /// With a `std::sync::mpsc` channel and a worker thread:
    ///
    /// ```
    /// use std::sync::mpsc;
    ///
    /// use ctx::{Carried, Key};
    ///
    /// static REQUEST: Key<u32> = Key::new("request");
    ///
    /// let (tx, rx) = mpsc::channel::<Carried<&str>>();
    /// let worker = ctx::thread::spawn(move || {
    ///     rx.iter().map(|job| job.run(|what| (what, REQUEST.get()))).collect::<Vec<_>>()
    /// });
    /// REQUEST.sync_scope(1, || tx.send(Carried::new("a")).unwrap());
    /// REQUEST.sync_scope(2, || tx.send(Carried::new("b")).unwrap());
    /// drop(tx);
    /// assert_eq!(worker.join().unwrap(), [("a", Some(1)), ("b", Some(2))]);
    /// ```
    pub fn run<R>(self, f: impl FnOnce(T) -> R) -> R {
        let Carried { msg, cx } = self;
        run_owned(cx, || f(msg))
    }

    /// Runs `f` with a borrowed message, in the carried context; for
    /// messages one cannot take (a `watch` channel's current value).
    ///
    /// # Examples
    ///
    /// ```
    /// use ctx::{Carried, Key};
    ///
    /// static USER: Key<u32> = Key::new("user");
    ///
    /// let config = USER.sync_scope(4, || Carried::new("v2"));
    /// let (tx, rx) = tokio::sync::watch::channel(config);
    /// let seen = rx.borrow().run_ref(|v| (*v, USER.get()));
    /// assert_eq!(seen, ("v2", Some(4)));
    /// # drop(tx);
    /// ```
    pub fn run_ref<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        self.cx.run(|| f(&self.msg))
    }

    /// Hands the message to `f` and runs the future it returns in the
    /// carried context: `f` is called, and the future polled and dropped,
    /// with that context current, and the caller's context is back after
    /// each poll.
    ///
    /// Writes the future makes stay with it across its `.await`s and never
    /// reach the caller.
    ///
    /// # Examples
    ///
    /// ```
    /// use ctx::{Carried, Key};
    ///
    /// static REQUEST: Key<u32> = Key::new("request");
    ///
    /// # #[tokio::main]
    /// # async fn main() {
    /// let (tx, rx) = tokio::sync::oneshot::channel();
    /// REQUEST.sync_scope(12, || tx.send(Carried::new("reply")).unwrap());
    /// let seen = rx
    ///     .await
    ///     .unwrap()
    ///     .scope(|msg| async move {
    ///         tokio::task::yield_now().await;
    ///         (msg, REQUEST.get())
    ///     })
    ///     .await;
    /// assert_eq!(seen, ("reply", Some(12)));
    /// # }
    /// ```
    pub fn scope<F, Fut>(self, f: F) -> Instrumented<Fut>
    where
        F: FnOnce(T) -> Fut,
        Fut: Future,
    {
        let Carried { msg, cx } = self;
        let fut = cx.run(|| f(msg));
        Instrumented::new(fut, cx)
    }
}

impl<T: fmt::Debug> fmt::Debug for Carried<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Carried")
            .field("msg", &self.msg)
            .field("cx", &self.cx)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::Key;

    static ID: Key<u32> = Key::new("id");
    static FORKED: Key<u32> = Key::new("forked").with_fork(|n| n + 1);

    #[test]
    fn captures_at_creation_with_fork_policies() {
        let job = Context::new()
            .with(&ID, 1)
            .with(&FORKED, 10)
            .run(|| Carried::new(()));
        assert_eq!(job.context().get(&ID), Some(&1));
        assert_eq!(job.context().get(&FORKED), Some(&11));
        // `with_context` takes the context as it is.
        let raw = Carried::with_context((), Context::new().with(&FORKED, 10));
        assert_eq!(raw.context().get(&FORKED), Some(&10));
    }

    #[test]
    fn run_restores_after_panic() {
        let job = Context::new().with(&ID, 5).run(|| Carried::new(()));
        let outer = Context::new().with(&ID, 9);
        outer.run(|| {
            let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                job.run(|()| {
                    assert_eq!(ID.get(), Some(5));
                    panic!("handler failed");
                })
            }));
            assert!(caught.is_err());
            assert_eq!(ID.get(), Some(9));
        });
        assert_eq!(ID.get(), None);
    }

    #[test]
    fn writes_while_handling_stay_local() {
        let job = Context::new().with(&ID, 1).run(|| Carried::new(()));
        let again = job.clone();
        job.run(|()| {
            ID.set(2);
            assert_eq!(ID.get(), Some(2));
        });
        assert_eq!(again.run(|()| ID.get()), Some(1));
    }
}
