//! Reading and writing the current context through a [`Key`]: `get`,
//! `with`, `set`, `remove`, and the scopes that run work with a value.

use std::future::Future;

use crate::carry;
use crate::context::{Context, Entry};
use crate::error::AccessError;
use crate::future::Instrumented;
use crate::key::Key;
use crate::slot;

impl<T: Send + Sync + 'static> Key<T> {
    /// Returns a clone of the current value, if any.
    ///
    /// No reference count is taken: the context is lent out of the thread's
    /// slot while `T::clone` runs, so a `Clone` impl that itself reads the
    /// context sees it empty (and one that panics leaves it in place).
    pub fn get(&'static self) -> Option<T>
    where
        T: Clone,
    {
        // Borrow the context out of the slot rather than clone it (two
        // atomic operations): only `T::clone` runs while it is out, and the
        // guard puts it back even if that panics.
        slot::with_current(|cx| cx.get(self).cloned())
    }

    /// Calls `f` with a reference to the current value, if any.
    ///
    /// `f` may itself read or write the context: it runs on a snapshot, not
    /// on a borrow of the thread's slot.
    pub fn with<R>(&'static self, f: impl FnOnce(Option<&T>) -> R) -> R {
        let cx = Context::current();
        f(cx.get(self))
    }

    /// Returns `true` if the current context holds a value for this key.
    pub fn is_set(&'static self) -> bool {
        Context::current().contains(self)
    }

    /// Stores `value` in the current scope.
    ///
    /// Outside any scope the write is ignored (see [the type's
    /// docs](Key#writes-and-scopes)); use [`Key::try_set`] to find out.
    pub fn set(&'static self, value: T) {
        let _ = self.try_set(value);
    }

    /// Stores `value` in the current scope, or says why it could not.
    ///
    /// # Errors
    ///
    /// Fails when no scope is open on this thread, or when the open one
    /// belongs to another tokio task (see [Writes and
    /// scopes](Key#writes-and-scopes)). The value is dropped then.
    pub fn try_set(&'static self, value: T) -> Result<(), AccessError> {
        let entry = Entry::new(self, value);
        slot::update(|cx| Some(cx.with_entry(entry)))
    }

    /// Removes the value from the current scope.
    ///
    /// Outside any scope it does nothing; see [`Key::try_remove`].
    pub fn remove(&'static self) {
        let _ = self.try_remove();
    }

    /// Removes the value from the current scope, or says why it could not.
    ///
    /// # Errors
    ///
    /// Fails as [`try_set`](Key::try_set) does.
    pub fn try_remove(&'static self) -> Result<(), AccessError> {
        slot::update(|cx| cx.contains(self).then(|| cx.without(self)))
    }

    /// Wraps `fut` so that it runs in the current context plus `value` under
    /// this key.
    ///
    /// The context is taken when `scope` is called, not when `fut` first
    /// runs (capture at creation, as for every [`Instrumented`]). Nested
    /// calls are therefore evaluated inside out: in
    /// `USER.scope(a, TENANT.scope(b, fut))` the inner call runs first,
    /// outside the user's scope, and its context, which has no user, is the
    /// one `fut` runs in. To nest scopes, open the inner one inside the
    /// outer one's future, as below (or put both values in one
    /// [`Context`] with [`Context::with`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use ctx::Key;
    ///
    /// static USER: Key<&'static str> = Key::new("user");
    /// static TENANT: Key<&'static str> = Key::new("tenant");
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let seen = USER.scope("ann", async { USER.get() }).await;
    /// assert_eq!(seen, Some("ann"));
    ///
    /// // Nested: the inner scope is opened inside the outer one.
    /// let both = USER
    ///     .scope("ann", async {
    ///         TENANT.scope("acme", async { (USER.get(), TENANT.get()) }).await
    ///     })
    ///     .await;
    /// assert_eq!(both, (Some("ann"), Some("acme")));
    ///
    /// // Built outside it, the inner scope took the context before the
    /// // user was in it.
    /// let inner_first = USER.scope("ann", TENANT.scope("acme", async { USER.get() }));
    /// assert_eq!(inner_first.await, None);
    /// # }
    /// ```
    pub fn scope<F: Future>(&'static self, value: T, fut: F) -> Instrumented<F> {
        Instrumented::new(fut, in_scope().with(self, value))
    }

    /// Runs `f` in the current context plus `value` under this key.
    pub fn sync_scope<R>(&'static self, value: T, f: impl FnOnce() -> R) -> R {
        in_scope().with(self, value).run(f)
    }
}

/// The context a scope adds its value to: the current one, with the
/// carried systems' current values (`crate::carry`), so that the scope
/// replays what is current in them now, not what was carried in earlier.
fn in_scope() -> Context {
    carry::captured(Context::current())
}

#[cfg(test)]
mod tests {
    use super::*;

    static N: Key<u32> = Key::new("n");

    #[test]
    fn writes_outside_a_scope_are_refused() {
        let err = N.try_set(1).unwrap_err();
        assert!(err.is_no_scope());
        assert_eq!(N.get(), None);
        N.set(2);
        assert_eq!(N.get(), None);
        assert!(N.try_remove().unwrap_err().is_no_scope());
    }

    #[test]
    fn writes_inside_a_scope_end_with_it() {
        Context::new().run(|| {
            N.set(1);
            assert_eq!(N.get(), Some(1));
            N.sync_scope(2, || assert_eq!(N.get(), Some(2)));
            assert_eq!(N.get(), Some(1));
            N.remove();
            assert!(!N.is_set());
        });
        assert_eq!(N.get(), None);
    }

    #[test]
    fn get_restores_the_context_when_clone_panics() {
        #[derive(Debug)]
        struct Bomb;
        impl Clone for Bomb {
            fn clone(&self) -> Bomb {
                panic!("clone panics");
            }
        }
        static BOMB: Key<Bomb> = Key::new("bomb");
        let cx = Context::new().with(&BOMB, Bomb).with(&N, 3);
        cx.run(|| {
            let r = std::panic::catch_unwind(|| BOMB.get());
            assert!(r.is_err());
            assert_eq!(N.get(), Some(3));
            assert!(Context::current().ptr_eq(&cx));
        });
    }
}
