//! Errors.

use std::fmt;

/// Why a write to the current context was refused.
///
/// Reads never fail (outside any scope they see the empty context); only
/// writes need an open scope of their own.
///
/// Returned by the `try_` methods ([`Key::try_set`](crate::Key::try_set),
/// [`Key::try_remove`](crate::Key::try_remove)). Their plain twins
/// ([`Key::set`](crate::Key::set), [`Key::remove`](crate::Key::remove))
/// panic with this error and the way to open a scope.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessError {
    kind: Kind,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    NoScope,
    OtherTask,
}

impl AccessError {
    pub(crate) fn no_scope() -> AccessError {
        AccessError {
            kind: Kind::NoScope,
        }
    }

    pub(crate) fn other_task() -> AccessError {
        AccessError {
            kind: Kind::OtherTask,
        }
    }

    /// `true` if the write was refused because no scope is open on this
    /// thread (see [`Key`](crate::Key#writes-and-scopes)).
    pub fn is_no_scope(&self) -> bool {
        self.kind == Kind::NoScope
    }

    /// `true` if the write was refused because the scope open on this thread
    /// belongs to another tokio task: a plain task polled by a runtime that
    /// is driven inside [`Context::run`](crate::Context::run) or a ctx
    /// thread (see [`Key`](crate::Key#writes-and-scopes)). Only with the
    /// `tokio` feature: without it, tasks cannot be told apart and such
    /// writes are accepted.
    pub fn is_other_task(&self) -> bool {
        self.kind == Kind::OtherTask
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
            Kind::OtherTask => "the context scope open on this thread belongs to another task",
        })
    }
}

impl std::error::Error for AccessError {}
