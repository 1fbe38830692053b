//! How a response ended (the access log's `outcome`), and the hook that
//! sees a poll or a call unwind (what makes it `panicked`).
//!
//! The response body, the response future and the access log all read
//! these, so they live in none of them.

/// How a response ended, for the access log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The body sent its last frame.
    Complete,
    /// The body failed while streaming.
    BodyError,
    /// The body was dropped before its end (client gone, or nothing polled it).
    Dropped,
    /// The inner service returned an error instead of a response.
    ServiceError,
    /// The response future was dropped before the service answered (client
    /// gone, a timeout).
    Cancelled,
    /// The service's future or the body panicked (the panic was caught
    /// further out, or unwound the connection's task).
    Panicked,
}

impl Outcome {
    /// The value of the access log's `outcome` field.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Complete => "complete",
            Outcome::BodyError => "body_error",
            Outcome::Dropped => "dropped",
            Outcome::ServiceError => "service_error",
            Outcome::Cancelled => "cancelled",
            Outcome::Panicked => "panicked",
        }
    }
}

/// Runs `f`; if it unwinds, runs `then` during the unwind. A call that
/// returns never runs `then`, whatever else is unwinding on the thread.
#[inline]
pub(crate) fn on_unwind<R>(f: impl FnOnce() -> R, then: impl FnOnce()) -> R {
    struct Armed<T: FnOnce()>(Option<T>);
    impl<T: FnOnce()> Drop for Armed<T> {
        fn drop(&mut self) {
            if let Some(then) = self.0.take() {
                then();
            }
        }
    }
    let mut armed = Armed(Some(then));
    let result = f();
    armed.0 = None;
    result
}
