//! The request's deadline, carried in the [`Context`] to every hop.
//!
//! A deadline is an [`Instant`] by which the work of a request should be
//! done. It lives in the context like any other value, so spawned tasks
//! ([`ctx::spawn`](crate::spawn)), blocking closures
//! ([`ctx::spawn_blocking`](crate::spawn_blocking)), threads and wrapped
//! closures see the deadline of the work that started them. A child can
//! only *shorten* it: [`at`] and [`within`] keep the earlier of the current
//! deadline and the new one, as gRPC's and Go's contexts do.
//!
//! The server layer (`ctx::http::ContextLayer`) reads a caller's deadline
//! from `grpc-timeout` (and, if configured, a plain-HTTP header), and the
//! client side (`ctx::http::PropagateLayer`, `ctx::http::inject`) sends the
//! time that is left, so a chain of services shares one budget.
//!
//! A deadline is a value to read, not a timer: nothing stops the work when
//! it passes. Work that should stop asks ([`expired`], [`remaining`]), or
//! waits on the request's cancellation signal (`ctx::cancel`, feature
//! `cancel`), which fires when the deadline passes.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! assert_eq!(ctx::deadline::current(), None);
//! ctx::deadline::within(Duration::from_secs(2), async {
//!     let left = ctx::deadline::remaining().unwrap();
//!     assert!(left <= Duration::from_secs(2));
//!
//!     // A child cannot extend it: the earlier deadline wins.
//!     let outer = ctx::deadline::current();
//!     ctx::deadline::within(Duration::from_secs(60), async move {
//!         assert_eq!(ctx::deadline::current(), outer);
//!     })
//!     .await;
//!
//!     // Spawned work and blocking closures see the same deadline.
//!     let seen = ctx::spawn_blocking(ctx::deadline::current).await.unwrap();
//!     assert_eq!(seen, outer);
//! })
//! .await;
//! # }
//! ```

use std::future::Future;
use std::time::{Duration, Instant};

use crate::access::in_scope;
use crate::budget::Budget;
#[cfg(feature = "cancel")]
use crate::budget::Link;
use crate::context::Context;
use crate::key::Key;
use crate::scoped::Scoped;
#[cfg(feature = "cancel")]
use crate::signal::Signal;
use crate::value::BUDGET;

/// The link to `cx`'s signal, for work inside it.
#[cfg(feature = "cancel")]
fn link_to(cx: &Context) -> Link {
    match cx.get(&BUDGET).map(|b| &b.signal) {
        Some(Link::Own(_)) => Link::Of(Box::new(cx.clone())),
        Some(Link::Of(owner)) => Link::Of(owner.clone_owner()),
        Some(Link::None) | None => Link::None,
    }
}

/// The budget of a scope inside `cx`'s with `deadline`, the earlier of the
/// two deadlines, sharing `cx`'s signal.
fn within_budget(cx: &Context, deadline: Option<Instant>) -> Budget {
    let outer = cx.get(&BUDGET);
    #[cfg_attr(not(feature = "cancel"), allow(unused_mut))]
    let mut budget = Budget::new(earliest(outer.and_then(|b| b.deadline), deadline));
    #[cfg(feature = "cancel")]
    {
        budget.signal = link_to(cx);
    }
    budget
}

/// The earlier of two deadlines, where `None` is no deadline at all.
pub(crate) fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// Returns the current context's deadline, if it has one.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let when = Instant::now() + Duration::from_secs(5);
/// let seen = ctx::deadline::at(when, async { ctx::deadline::current() }).await;
/// assert_eq!(seen, Some(when));
/// assert_eq!(ctx::deadline::current(), None);
/// # }
/// ```
pub fn current() -> Option<Instant> {
    BUDGET.with(|b| b.and_then(|b| b.deadline))
}

/// Returns the time left before the current deadline: `None` without a
/// deadline, [`Duration::ZERO`] once it has passed.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// assert_eq!(ctx::deadline::remaining(), None);
/// ctx::deadline::within(Duration::from_millis(500), async {
///     assert!(ctx::deadline::remaining().unwrap() <= Duration::from_millis(500));
/// })
/// .await;
/// # }
/// ```
pub fn remaining() -> Option<Duration> {
    current().map(|d| d.saturating_duration_since(Instant::now()))
}

/// Returns `true` if the current context has a deadline and it has passed.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// assert!(!ctx::deadline::expired()); // no deadline: never expired
/// ctx::deadline::within(Duration::ZERO, async {
///     assert!(ctx::deadline::expired());
/// })
/// .await;
/// # }
/// ```
pub fn expired() -> bool {
    current().is_some_and(|d| d <= Instant::now())
}

/// Runs `fut` with the deadline `deadline`, or the current one if that is
/// earlier: a child never extends its parent's deadline.
///
/// The returned future is a [`Scoped`] one: at its first poll it compares
/// `deadline` with the deadline of the context current then and keeps the
/// earlier, so it nests with the other scopes whichever is built first;
/// it installs the result on every poll.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let soon = Instant::now() + Duration::from_secs(1);
/// let later = soon + Duration::from_secs(60);
/// let seen = ctx::deadline::at(soon, async move {
///     ctx::deadline::at(later, async { ctx::deadline::current() }).await
/// })
/// .await;
/// assert_eq!(seen, Some(soon));
/// # }
/// ```
pub fn at<F: Future>(deadline: Instant, fut: F) -> Scoped<F> {
    scope(Some(deadline), fut)
}

/// Runs `fut` with a deadline `timeout` from now, or the current one if that
/// is earlier. A `timeout` too large to add to the clock is no deadline (the
/// current one, if any, stays).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let left = ctx::deadline::within(Duration::from_secs(3), async {
///     ctx::deadline::remaining()
/// })
/// .await;
/// assert!(left.is_some_and(|d| d <= Duration::from_secs(3)));
/// # }
/// ```
pub fn within<F: Future>(timeout: Duration, fut: F) -> Scoped<F> {
    scope(Instant::now().checked_add(timeout), fut)
}

/// The deadline a scope asks for, kept until its first poll (never in the
/// context the scope runs in).
static ASKED: Key<Option<Instant>> = Key::local("ctx.deadline.asked");

fn scope<F: Future>(deadline: Option<Instant>, fut: F) -> Scoped<F> {
    Scoped::new(fut, Context::new().with(&ASKED, deadline), |asked| {
        let cx = in_scope();
        let deadline = asked.get(&ASKED).copied().flatten();
        let budget = within_budget(&cx, deadline);
        cx.with(&BUDGET, budget)
    })
}

/// The budget a server layer puts in a request's context: the caller's
/// `deadline` (or the surrounding one, if earlier) and, when `cancel`, a
/// new cancellation signal owned by the request. `None` when there is
/// neither, so that such a request costs nothing.
#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub(crate) fn request_budget(
    deadline: Option<Instant>,
    surrounding: &Context,
    cancel: bool,
) -> Option<Budget> {
    if deadline.is_none() && !cancel {
        return None;
    }
    let deadline = earliest(surrounding.get(&BUDGET).and_then(|b| b.deadline), deadline);
    #[cfg(not(feature = "cancel"))]
    let _ = cancel;
    #[cfg_attr(not(feature = "cancel"), allow(unused_mut))]
    let mut budget = Budget::new(deadline);
    #[cfg(feature = "cancel")]
    {
        // Without a signal of its own, the request keeps the surrounding
        // one (an in-process call inside a cancellable request), as it
        // would with no budget at all.
        budget.signal = if cancel {
            Link::Own(Signal::new())
        } else {
            link_to(surrounding)
        };
    }
    Some(budget)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_earlier_deadline_wins() {
        let now = Instant::now();
        let later = now + Duration::from_secs(1);
        assert_eq!(earliest(Some(now), Some(later)), Some(now));
        assert_eq!(earliest(Some(later), Some(now)), Some(now));
        assert_eq!(earliest(None, Some(later)), Some(later));
        assert_eq!(earliest(Some(now), None), Some(now));
        assert_eq!(earliest(None, None), None);
    }

    #[test]
    fn a_request_without_deadline_or_signal_adds_nothing() {
        assert!(request_budget(None, &Context::new(), false).is_none());
        let when = Instant::now();
        let budget = request_budget(Some(when), &Context::new(), false).unwrap();
        let cx = Context::new().with(&BUDGET, budget);
        assert_eq!(cx.run(current), Some(when));
    }

    #[test]
    fn a_request_keeps_an_earlier_surrounding_deadline() {
        let soon = Instant::now() + Duration::from_secs(1);
        let surrounding = Context::new().with(&BUDGET, within_budget(&Context::new(), Some(soon)));
        let later = soon + Duration::from_secs(10);
        let budget = request_budget(Some(later), &surrounding, false).unwrap();
        assert_eq!(surrounding.with(&BUDGET, budget).run(current), Some(soon));
    }

    #[test]
    fn scopes_nest_whichever_is_built_first_and_the_earlier_wins() {
        static USER: Key<&'static str> = Key::new("user");
        let soon = Instant::now() + Duration::from_secs(5);
        let later = soon + Duration::from_secs(60);
        // The inner scope is built first, outside the outer one.
        let outer_earlier = futures_lite_block_on(at(soon, at(later, async { current() })));
        assert_eq!(outer_earlier, Some(soon));
        let inner_earlier = futures_lite_block_on(at(later, at(soon, async { current() })));
        assert_eq!(inner_earlier, Some(soon));
        let both = futures_lite_block_on(at(
            soon,
            USER.scope("ann", at(later, async { (current(), USER.get()) })),
        ));
        assert_eq!(both, (Some(soon), Some("ann")));
        // The asked deadline is not a value of the context the work runs in.
        let left = futures_lite_block_on(at(soon, async { Context::current().contains(&ASKED) }));
        assert!(!left);
    }

    #[test]
    fn a_huge_timeout_is_no_deadline() {
        let seen = futures_lite_block_on(within(Duration::MAX, async { current() }));
        assert_eq!(seen, None);
    }

    /// Polls a future that is ready at once.
    fn futures_lite_block_on<F: Future>(fut: F) -> F::Output {
        let mut fut = std::pin::pin!(fut);
        let waker = std::task::Waker::noop();
        match fut
            .as_mut()
            .poll(&mut std::task::Context::from_waker(waker))
        {
            std::task::Poll::Ready(out) => out,
            std::task::Poll::Pending => panic!("the future was not ready"),
        }
    }
}
