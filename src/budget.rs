//! [`Budget`]: what a context knows about its time, the deadline and the
//! signal that cancels its work; held in the context table's header
//! (`context.rs`) under the key `BUDGET` (`value.rs`), so that a request's
//! deadline and cancellation cost no allocation of their own.
//!
//! Knows nothing of contexts: a scope inside a request reaches the
//! request's signal through [`Owner`], which the context implements.

use std::time::Instant;

#[cfg(feature = "cancel")]
use crate::signal::Signal;

/// A context's deadline and, with the feature `cancel`, its cancellation
/// signal.
pub(crate) struct Budget {
    pub(crate) deadline: Option<Instant>,
    #[cfg(feature = "cancel")]
    pub(crate) signal: Link,
    /// The token of a scope whose deadline is its own (shorter than its
    /// request's, or outside any request): made at the first ask, with its
    /// one timer, and cancelled when the budget is dropped, so that asking
    /// again (`cancelled()` in a loop) neither makes another token nor
    /// leaves another timer waiting for the deadline.
    #[cfg(feature = "cancel")]
    pub(crate) scope_token: std::sync::OnceLock<tokio_util::sync::CancellationToken>,
}

impl Budget {
    /// A budget with `deadline` and no signal.
    pub(crate) fn new(deadline: Option<Instant>) -> Budget {
        Budget {
            deadline,
            #[cfg(feature = "cancel")]
            signal: Link::None,
            #[cfg(feature = "cancel")]
            scope_token: std::sync::OnceLock::new(),
        }
    }

    /// The same budget for another table, when it has no identity to keep
    /// (no signal, no token: without the feature `cancel`); `None` when
    /// copies must share this one.
    #[inline]
    pub(crate) fn copied(&self) -> Option<Budget> {
        #[cfg(feature = "cancel")]
        return None;
        #[cfg(not(feature = "cancel"))]
        return Some(Budget::new(self.deadline));
    }
}

#[cfg(feature = "cancel")]
impl Drop for Budget {
    fn drop(&mut self) {
        // Nothing holds the scope's context any more: its timer can end.
        if let Some(token) = self.scope_token.get() {
            token.cancel();
        }
    }
}

/// Where a budget's cancellation signal is.
#[cfg(feature = "cancel")]
pub(crate) enum Link {
    /// No signal: nothing cancels this work but its deadline.
    None,
    /// The signal of a request, made by the server layer.
    Own(Signal),
    /// A scope inside a request (a shorter deadline): the context whose
    /// budget owns the request's signal.
    Of(Box<dyn Owner>),
}

/// A context whose budget owns a request's signal, as a scope inside the
/// request holds it (a trait, so that this file need not name the
/// context, whose table holds budgets).
#[cfg(feature = "cancel")]
pub(crate) trait Owner: Send + Sync {
    /// The owner's budget.
    fn budget(&self) -> Option<&Budget>;

    /// Another handle on the same owner.
    fn clone_owner(&self) -> Box<dyn Owner>;
}
