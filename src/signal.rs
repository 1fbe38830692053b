//! [`Signal`]: a request's cancellation signal, made lazily.
//!
//! The server layer puts one in each request's context (inside the
//! deadline's value, `deadline.rs`), and its response future calls
//! [`Signal::abandon`] when it is dropped before the service answered. The
//! `CancellationToken` itself, and the timer that cancels it at the
//! deadline, are made only when some work of the request asks for them
//! (`cancel.rs`): a request whose work never asks costs no allocation here.
//!
//! Knows nothing of contexts, deadlines or runtimes: whoever asks for the
//! token arms the timer (`cancel.rs`).

use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::OnceLock;

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

    /// The request's token, made on the first call; `made` is given a newly
    /// made token of a request not abandoned (to arm its deadline's timer).
    pub(crate) fn token(&self, made: impl FnOnce(&CancellationToken)) -> &CancellationToken {
        let mut new = false;
        let token = self.token.get_or_init(|| {
            new = true;
            CancellationToken::new()
        });
        if new {
            fence(Ordering::SeqCst);
            if self.abandoned.load(Ordering::SeqCst) {
                token.cancel();
            } else {
                made(token);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_abandoned_before_its_token_is_made_gives_a_cancelled_token() {
        let s = Signal::new();
        assert!(!s.is_cancelled());
        s.abandon();
        assert!(s.is_cancelled());
        assert!(s.token(|_| ()).is_cancelled());
    }

    #[test]
    fn abandoning_cancels_a_token_already_made() {
        let s = Signal::new();
        let t = s.token(|_| ()).clone();
        assert!(!t.is_cancelled());
        s.abandon();
        assert!(t.is_cancelled());
    }

    #[test]
    fn dropping_the_signal_cancels_its_token() {
        let s = Signal::new();
        let t = s.token(|_| ()).clone();
        drop(s);
        assert!(t.is_cancelled());
    }
}
