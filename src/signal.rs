//! [`Signal`]: a request's cancellation signal, made lazily.
//!
//! The server layer puts one in each request's context (inside the
//! deadline's value, `deadline.rs`), and its response future calls
//! [`Signal::abandon`] when it is dropped before the service answered. The
//! `CancellationToken` itself, and the timer that cancels it at the
//! deadline, are made only when some work of the request asks for them
//! (`cancel.rs`): a request whose work never asks costs no allocation here.
//!
//! Knows nothing of contexts or deadlines: it is given the deadline when a
//! token is made.

use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

/// A request's cancellation signal.
///
/// Dropped (the request and every piece of its work that held its context
/// are gone), it cancels its token, if one was made: that ends the timer
/// task, and tells any holder of a token clone that the request is over.
#[derive(Debug)]
pub(crate) struct Signal {
    token: OnceLock<CancellationToken>,
    abandoned: AtomicBool,
}

impl Signal {
    pub(crate) const fn new() -> Signal {
        Signal {
            token: OnceLock::new(),
            abandoned: AtomicBool::new(false),
        }
    }

    /// The request was abandoned: cancel its work.
    pub(crate) fn abandon(&self) {
        self.abandoned.store(true, Ordering::SeqCst);
        // Paired with the fence in `token`: either this sees the token made
        // there, or the maker sees the flag and cancels it itself.
        fence(Ordering::SeqCst);
        if let Some(token) = self.token.get() {
            token.cancel();
        }
    }

    /// Whether the request was abandoned or its token cancelled. Makes no
    /// token.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.abandoned.load(Ordering::Acquire)
            || self
                .token
                .get()
                .is_some_and(CancellationToken::is_cancelled)
    }

    /// The request's token, made on the first call, with a timer that
    /// cancels it at `deadline`.
    pub(crate) fn token(&self, deadline: Option<Instant>) -> &CancellationToken {
        let mut made = false;
        let token = self.token.get_or_init(|| {
            made = true;
            CancellationToken::new()
        });
        if made {
            fence(Ordering::SeqCst);
            if self.abandoned.load(Ordering::SeqCst) {
                token.cancel();
            } else if let Some(deadline) = deadline {
                cancel_at(token.clone(), deadline);
            }
        }
        token
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        if let Some(token) = self.token.get() {
            token.cancel();
        }
    }
}

/// Cancels `token` at `deadline`: now if it has passed, else from a task on
/// the current tokio runtime that ends as soon as the token is cancelled
/// some other way. Outside a runtime there is no timer (readers of the
/// deadline still see it pass).
pub(crate) fn cancel_at(token: CancellationToken, deadline: Instant) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_abandoned_before_its_token_is_made_gives_a_cancelled_token() {
        let s = Signal::new();
        assert!(!s.is_cancelled());
        s.abandon();
        assert!(s.is_cancelled());
        assert!(s.token(None).is_cancelled());
    }

    #[test]
    fn abandoning_cancels_a_token_already_made() {
        let s = Signal::new();
        let t = s.token(None).clone();
        assert!(!t.is_cancelled());
        s.abandon();
        assert!(t.is_cancelled());
    }

    #[test]
    fn dropping_the_signal_cancels_its_token() {
        let s = Signal::new();
        let t = s.token(None).clone();
        drop(s);
        assert!(t.is_cancelled());
    }

    #[test]
    fn a_passed_deadline_cancels_at_once_without_a_runtime() {
        let s = Signal::new();
        assert!(s.token(Some(Instant::now())).is_cancelled());
    }
}
