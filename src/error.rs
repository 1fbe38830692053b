//! Errors.

use std::fmt;

/// Why the current context could not be read or written.
///
/// Returned by the `try_` methods ([`Key::try_set`](crate::Key::try_set),
/// [`Key::try_remove`](crate::Key::try_remove)). Their plain twins never
/// fail: they fall back to a documented no-op instead.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessError {
    kind: Kind,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    NoScope,
}

impl AccessError {
    pub(crate) fn no_scope() -> AccessError {
        AccessError {
            kind: Kind::NoScope,
        }
    }

    /// `true` if the write was refused because no scope is open on this
    /// thread (see [`Key`](crate::Key#writes-and-scopes)).
    pub fn is_no_scope(&self) -> bool {
        self.kind == Kind::NoScope
    }
}

impl fmt::Debug for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessError")
            .field("kind", &self.kind)
            .finish()
    }
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            Kind::NoScope => "no context scope is open on this thread",
        })
    }
}

impl std::error::Error for AccessError {}
