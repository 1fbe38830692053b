//! The request's cancellation signal, carried in the context (feature
//! `cancel`).
//!
//! The server layer (`ctx::http::ContextLayer`, with
//! `.cancellation(true)`) gives each request a signal. It fires when:
//! - the request's deadline passes (see [`ctx::deadline`](crate::deadline));
//! - the request is abandoned: its response future is dropped before the
//!   service answered (the client went away, an outer timeout gave up);
//! - the request is over and nothing holds its context any more (the
//!   handler and every task and closure it started have ended), which
//!   tells holders of a [`token`] clone that nobody waits for them.
//!
//! Every task spawned with [`ctx::spawn`](crate::spawn) and every closure
//! run with [`ctx::spawn_blocking`](crate::spawn_blocking) sees the signal
//! of the request it was started in, and can stop early: await
//! [`cancelled`], poll [`is_cancelled`], or take the [`token`]
//! (tokio-util's [`CancellationToken`], the ecosystem's type, for
//! `select!` or libraries that take one). A scope with a shorter deadline
//! ([`deadline::within`](crate::deadline::within)) gets a *child* token that
//! also fires at that deadline; cancelling a child never cancels its parent.
//!
//! Work started with [`ctx::spawn_detached`](crate::spawn_detached) runs in
//! the empty context: it has neither the request's deadline nor its
//! signal, and is never cancelled with the request.
//!
//! # Cost
//!
//! The signal lives with the deadline in the header of the request's
//! context table: neither costs the server layer's requests an allocation
//! of its own. The token is made on the first ask, and a timer task for
//! the deadline only then, and only when there is a deadline. Work that
//! never asks costs nothing more.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//!
//! # #[tokio::main]
//! # async fn main() {
//! ctx::deadline::within(Duration::from_millis(20), async {
//!     assert!(!ctx::cancel::is_cancelled());
//!     let task = ctx::spawn(async {
//!         ctx::cancel::cancelled().await; // fires at the deadline
//!         ctx::deadline::expired()
//!     });
//!     assert!(task.await.unwrap());
//!     assert!(ctx::cancel::is_cancelled());
//! })
//! .await;
//!
//! // Outside any request or deadline, nothing is ever cancelled.
//! assert!(ctx::cancel::token().is_none());
//! assert!(!ctx::cancel::is_cancelled());
//! # }
//! ```

use std::future::Future;
use std::time::Instant;

pub use tokio_util::sync::CancellationToken;

use crate::budget::{Budget, Link};
use crate::context::Context;
use crate::signal::Signal;
use crate::value::BUDGET;

/// The request's signal a budget links to, and the request's deadline.
fn owner(budget: &Budget) -> Option<(&Signal, Option<Instant>)> {
    match &budget.signal {
        Link::Own(signal) => Some((signal, budget.deadline)),
        Link::Of(owner) => owner.budget().and_then(|b| match &b.signal {
            Link::Own(signal) => Some((signal, b.deadline)),
            Link::None | Link::Of(_) => None,
        }),
        Link::None => None,
    }
}

/// Returns the current context's cancellation token: `None` outside any
/// request and any deadline.
///
/// In a request, the request's token (made on the first call); in a scope
/// with a deadline shorter than the request's, a child of it, cancelled at
/// that deadline too. With a deadline but no request, a token cancelled at
/// the deadline. A scope's token is the scope's own, made on the first call
/// with its one timer: asking again (as [`cancelled`] in a loop does) makes
/// neither another token nor another timer. It is cancelled, and its timer
/// ends, when nothing holds the scope's context any more, as the request's
/// is when its context goes.
///
/// The timer that cancels a token at its deadline is a task on the current
/// tokio runtime; outside a runtime no timer runs (a passed deadline still
/// gives a cancelled token, and [`is_cancelled`] still sees it pass).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// # #[tokio::main]
/// # async fn main() {
/// ctx::deadline::within(Duration::from_millis(10), async {
///     let token = ctx::cancel::token().unwrap();
///     token.cancelled().await;
/// })
/// .await;
/// # }
/// ```
pub fn token() -> Option<CancellationToken> {
    // A clone of the context (a reference count), not a borrow of the slot:
    // making a token may spawn the timer task.
    let cx = Context::current();
    let budget = cx.get(&BUDGET)?;
    match owner(budget) {
        Some((signal, request_deadline)) => {
            let token = signal.token(|token| {
                if let Some(deadline) = request_deadline {
                    cancel_at(token.clone(), deadline);
                }
            });
            match budget.deadline {
                Some(d) if request_deadline.is_none_or(|r| d < r) => {
                    Some(scope_token(budget, d, || token.child_token()))
                }
                _ => Some(token.clone()),
            }
        }
        None => {
            let deadline = budget.deadline?;
            Some(scope_token(budget, deadline, CancellationToken::new))
        }
    }
}

/// Returns `true` if the current work should stop: its deadline has passed
/// or its request was cancelled. Makes no token; cheap enough to call in a
/// loop of a blocking closure.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// # #[tokio::main]
/// # async fn main() {
/// let done = ctx::deadline::within(Duration::from_millis(5), async {
///     ctx::spawn_blocking(|| {
///         let mut rounds = 0u64;
///         while !ctx::cancel::is_cancelled() {
///             rounds += 1;
///             std::thread::sleep(Duration::from_millis(1));
///         }
///         rounds
///     })
///     .await
/// })
/// .await;
/// assert!(done.is_ok());
/// # }
/// ```
pub fn is_cancelled() -> bool {
    BUDGET.with(|b| {
        b.is_some_and(|b| {
            b.deadline.is_some_and(|d| d <= Instant::now())
                || owner(b).is_some_and(|(signal, _)| signal.is_cancelled())
        })
    })
}

/// Waits until the current work is cancelled (see [`token`]); never
/// completes outside any request and deadline.
///
/// The signal is taken when `cancelled` is called: the future can be moved
/// into a `select!` anywhere.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// # #[tokio::main]
/// # async fn main() {
/// let out = ctx::deadline::within(Duration::from_millis(10), async {
///     tokio::select! {
///         _ = ctx::cancel::cancelled() => "gave up",
///         _ = tokio::time::sleep(Duration::from_secs(60)) => "finished",
///     }
/// })
/// .await;
/// assert_eq!(out, "gave up");
/// # }
/// ```
pub fn cancelled() -> impl Future<Output = ()> + Send + 'static {
    let token = token();
    async move {
        match token {
            Some(token) => token.cancelled_owned().await,
            None => std::future::pending().await,
        }
    }
}

/// The token of a scope with a deadline of its own: one per scope, made
/// by `make` at the first ask with its timer for `deadline`.
fn scope_token(
    budget: &Budget,
    deadline: Instant,
    make: impl FnOnce() -> CancellationToken,
) -> CancellationToken {
    budget
        .scope_token
        .get_or_init(|| {
            let token = make();
            cancel_at(token.clone(), deadline);
            token
        })
        .clone()
}

/// Cancels `token` at `deadline`: now if it has passed, else from a task on
/// the current tokio runtime that ends as soon as the token is cancelled
/// some other way. Outside a runtime there is no timer (readers of the
/// deadline still see it pass).
fn cancel_at(token: CancellationToken, deadline: Instant) {
    if deadline <= Instant::now() {
        token.cancel();
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    // A plain task carrying no request context: on a runtime with ctx's
    // task hooks a plain spawn would inherit the asker's, and hold it (its
    // values, and the budget that cancels this token when dropped) until
    // the deadline.
    let _unhooked = crate::spawn::unhooked();
    drop(runtime.spawn(async move {
        let timer = tokio::time::sleep_until(deadline.into());
        if token.run_until_cancelled(timer).await.is_some() {
            token.cancel();
        }
    }));
}

/// Marks the request whose context is `cx` as abandoned: its work is
/// cancelled. For the server layer's response future.
#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub(crate) fn abandon(cx: &Context) {
    if let Some((signal, _)) = cx.get(&BUDGET).and_then(owner) {
        signal.abandon();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::deadline;
    use crate::FutureExt as _;

    /// A request's context as the server layer builds it, with `deadline`.
    fn request(deadline: Option<Instant>) -> Context {
        let budget = deadline::request_budget(deadline, &Context::new(), true).unwrap();
        Context::new().with(&BUDGET, budget)
    }

    #[test]
    fn a_passed_deadline_cancels_at_once_without_a_runtime() {
        let token = CancellationToken::new();
        cancel_at(token.clone(), Instant::now());
        assert!(token.is_cancelled());
    }

    #[tokio::test(start_paused = true)]
    async fn a_shorter_scope_gets_a_child_token_that_never_cancels_the_request() {
        let cx = request(Some(Instant::now() + Duration::from_secs(60)));
        let (request_token, child) = cx.run(|| {
            let request_token = token().unwrap();
            let child = deadline::within(Duration::from_millis(10), async {
                (token().unwrap(), Context::current())
            });
            (request_token, child)
        });
        // Polled in the request (a scope joins the context of its first
        // poll); the scope's context is kept, so that only the deadline can
        // cancel its token.
        let (child, scope) = child.in_context(cx.clone()).await;
        assert!(!child.is_cancelled());
        tokio::time::timeout(Duration::from_secs(1), child.cancelled())
            .await
            .expect("the child's deadline cancels it");
        // The scope's one token (the tokio clock is paused: `is_cancelled`
        // reads the system's).
        assert!(scope.run(|| token().unwrap()).is_cancelled());
        assert!(!request_token.is_cancelled(), "the request goes on");
        // The request's own token is one token, however often asked.
        let again = cx.run(|| token().unwrap());
        abandon(&cx);
        assert!(again.is_cancelled() && request_token.is_cancelled());
    }

    #[tokio::test(start_paused = true)]
    async fn abandoning_reaches_scopes_inside_the_request() {
        let cx = request(None);
        // Polled in the request: a scope joins the context of its first poll.
        let inner = deadline::within(Duration::from_secs(60), async { Context::current() })
            .in_context(cx.clone())
            .await;
        assert!(!inner.run(is_cancelled));
        let t = inner.run(|| token().unwrap());
        abandon(&cx);
        assert!(inner.run(is_cancelled));
        assert!(t.is_cancelled());
    }

    #[tokio::test(start_paused = true)]
    async fn asking_again_makes_no_new_token_nor_timer() {
        let metrics = tokio::runtime::Handle::current().metrics();
        // A deadline outside any request, then a shorter one in a request.
        let alone = Context::new();
        let cx = request(Some(Instant::now() + Duration::from_secs(60)));
        // Timers made in the scope: its token's, and the request's token's.
        for (cx, timers) in [(alone, 1), (cx, 2)] {
            let (first, alive, cancelled_with_again) =
                deadline::within(Duration::from_secs(30), async {
                    let before = metrics.num_alive_tasks();
                    let first = token().unwrap();
                    for _ in 0..50 {
                        drop(token().unwrap());
                        drop(cancelled());
                    }
                    let alive = metrics.num_alive_tasks() - before;
                    assert!(!first.is_cancelled());
                    token().unwrap().cancel();
                    (first.clone(), alive, first.is_cancelled())
                })
                .in_context(cx)
                .await;
            assert_eq!(alive, timers, "one timer per token, however often asked");
            assert!(cancelled_with_again, "one token, however often asked");
            assert!(first.is_cancelled());
        }
        // A scope whose context is gone cancels its token: its timer ends.
        let kept = deadline::within(Duration::from_secs(30), async { token().unwrap() }).await;
        assert!(kept.is_cancelled());
    }

    #[test]
    fn a_request_without_a_signal_of_its_own_keeps_the_surrounding_one() {
        let outer = request(None);
        let later = Instant::now() + Duration::from_secs(60);
        let budget = deadline::request_budget(Some(later), &outer, false).unwrap();
        let inner = outer.with(&BUDGET, budget);
        assert_eq!(inner.run(deadline::current), Some(later));
        assert!(!inner.run(is_cancelled));
        abandon(&outer);
        assert!(
            inner.run(is_cancelled),
            "the outer request's abandonment reaches it"
        );
    }

    // Real time: `is_cancelled` reads the deadline against the system clock,
    // which tokio's paused clock does not move.
    #[tokio::test]
    async fn outside_a_request_only_the_deadline_cancels() {
        assert!(token().is_none());
        let fired = deadline::within(Duration::from_millis(5), async {
            assert!(!is_cancelled());
            cancelled().await;
            is_cancelled()
        });
        assert!(tokio::time::timeout(Duration::from_secs(1), fired)
            .await
            .unwrap());
        // No request, no deadline: never.
        let never = tokio::time::timeout(Duration::from_millis(50), cancelled()).await;
        assert!(never.is_err());
    }
}
