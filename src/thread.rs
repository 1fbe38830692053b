//! `std::thread` twins that carry the caller's context into the new thread.
//!
//! `std::thread::spawn` starts with an empty slot: a value set in the request
//! is gone in the thread. These capture the context at the call and install
//! it for the thread's whole closure.

use std::io;
use std::thread::{JoinHandle, Scope, ScopedJoinHandle};

use crate::wrap::wrap;

/// Spawns a thread that runs `f` in the caller's context:
/// `std::thread::spawn`, plus capture.
///
/// # Panics
///
/// Like `std::thread::spawn`, if the OS fails to create a thread; use
/// [`Builder::spawn`] to handle that.
///
/// # Examples
///
/// ```
/// use ctx::Key;
///
/// static TRACE: Key<&'static str> = Key::new("trace");
///
/// let handle = TRACE.sync_scope("abc", || ctx::thread::spawn(|| TRACE.get()));
/// assert_eq!(handle.join().unwrap(), Some("abc"));
/// ```
#[allow(clippy::disallowed_methods)] // ctx's twin: the work runs in the context captured here
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    std::thread::spawn(wrap(f))
}

/// A thread factory that carries the caller's context: `std::thread::Builder`
/// with the same options.
///
/// # Examples
///
/// ```
/// use ctx::Key;
///
/// static TRACE: Key<&'static str> = Key::new("trace");
///
/// let handle = TRACE.sync_scope("abc", || {
///     ctx::thread::Builder::new()
///         .name("worker".into())
///         .spawn(|| (std::thread::current().name().map(String::from), TRACE.get()))
/// });
/// let (name, trace) = handle.unwrap().join().unwrap();
/// assert_eq!(name.as_deref(), Some("worker"));
/// assert_eq!(trace, Some("abc"));
/// ```
#[derive(Debug)]
pub struct Builder {
    inner: std::thread::Builder,
}

impl Builder {
    /// Makes a builder with no name and the default stack size.
    pub fn new() -> Builder {
        Builder {
            inner: std::thread::Builder::new(),
        }
    }

    /// Names the thread.
    pub fn name(self, name: String) -> Builder {
        Builder {
            inner: self.inner.name(name),
        }
    }

    /// Sets the thread's stack size in bytes.
    pub fn stack_size(self, size: usize) -> Builder {
        Builder {
            inner: self.inner.stack_size(size),
        }
    }

    /// Spawns the thread, running `f` in the caller's context.
    ///
    /// # Errors
    ///
    /// Fails if the OS cannot create the thread.
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.inner.spawn(wrap(f))
    }

    /// Spawns a scoped thread (see `std::thread::scope`), running `f` in the
    /// caller's context.
    ///
    /// # Errors
    ///
    /// Fails if the OS cannot create the thread.
    pub fn spawn_scoped<'scope, 'env, F, T>(
        self,
        scope: &'scope Scope<'scope, 'env>,
        f: F,
    ) -> io::Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        self.inner.spawn_scoped(scope, wrap(f))
    }
}

impl Default for Builder {
    fn default() -> Builder {
        Builder::new()
    }
}
