//! Reading and writing the current context through a [`Key`]: `get`,
//! `with`, `set`, `remove`, and the scopes that run work with a value.

use std::future::Future;

use crate::carry;
use crate::context::{Context, Entry};
use crate::error::AccessError;
use crate::key::Key;
use crate::scoped::Scoped;
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
    /// The write lasts as long as the scope: across the `.await`s of the
    /// [`Scoped`] or [`Instrumented`](crate::Instrumented) future being
    /// polled, or to the end of the closure of [`Context::run`] or
    /// [`Key::sync_scope`]. See [Writes and scopes](Key#writes-and-scopes).
    ///
    /// # Panics
    ///
    /// Where no scope is open (`main`, a plain `tokio::spawn` task, a thread
    /// of `std::thread::spawn`), and in a plain task polled inside another
    /// task's synchronous scope: such a write could not take effect. The
    /// message says how to open a scope. [`Key::try_set`] returns the
    /// error instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use ctx::{FutureExt, Key};
    ///
    /// static STEP: Key<u32> = Key::new("step");
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// async {
    ///     STEP.set(1);
    ///     tokio::task::yield_now().await;
    ///     assert_eq!(STEP.get(), Some(1));
    /// }
    /// .in_current_context() // the scope the write goes to
    /// .await;
    /// # }
    /// ```
    #[track_caller]
    pub fn set(&'static self, value: T) {
        if let Err(e) = self.try_set(value) {
            refused("set", self.name(), &e);
        }
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
    /// # Panics
    ///
    /// Where [`Key::set`] panics; [`Key::try_remove`] returns the error
    /// instead.
    #[track_caller]
    pub fn remove(&'static self) {
        if let Err(e) = self.try_remove() {
            refused("remove", self.name(), &e);
        }
    }

    /// Removes the value from the current scope, or says why it could not.
    ///
    /// # Errors
    ///
    /// Fails as [`try_set`](Key::try_set) does.
    pub fn try_remove(&'static self) -> Result<(), AccessError> {
        slot::update(|cx| cx.contains(self).then(|| cx.without(self)))
    }

    /// Wraps `fut` so that it runs in the context current at its first poll
    /// plus `value` under this key: `tokio::task_local!`'s `scope`.
    ///
    /// The value is added when the returned [`Scoped`] future is first
    /// polled, to whatever context is current then (one merge), so nested
    /// scopes stack whichever is built first: in
    /// `USER.scope(a, TENANT.scope(b, fut))` the inner scope is first polled
    /// inside the outer one, and `fut` sees both. From then on the future
    /// keeps its context, and its own writes, wherever it is polled.
    ///
    /// To take the context at the call instead (the spawn helpers'
    /// capture), use
    /// [`FutureExt::in_current_context`](crate::FutureExt::in_current_context)
    /// or [`Context::capture`] with
    /// [`FutureExt::in_context`](crate::FutureExt::in_context).
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
    /// // Nested, as task-local scopes nest.
    /// let both = USER.scope("ann", TENANT.scope("acme", async { (USER.get(), TENANT.get()) }));
    /// assert_eq!(both.await, (Some("ann"), Some("acme")));
    ///
    /// // Built here, polled inside another scope: it joins that one.
    /// let later = TENANT.scope("acme", async { (USER.get(), TENANT.get()) });
    /// let inside = USER.scope("bob", later).await;
    /// assert_eq!(inside, (Some("bob"), Some("acme")));
    /// # }
    /// ```
    pub fn scope<F: Future>(&'static self, value: T, fut: F) -> Scoped<F> {
        Scoped::new(fut, Context::new().with(self, value), add_to_current)
    }

    /// Runs `f` in the current context plus `value` under this key.
    pub fn sync_scope<R>(&'static self, value: T, f: impl FnOnce() -> R) -> R {
        in_scope().with(self, value).run(f)
    }
}

/// The context a scope adds its value to: the current one, with the
/// carried systems' current values (`crate::carry`), so that the scope
/// replays what is current in them now, not what was carried in earlier.
pub(crate) fn in_scope() -> Context {
    carry::captured(Context::current())
}

/// A scope's merge at its first poll: its values over [`in_scope`]'s
/// context.
pub(crate) fn add_to_current(values: &Context) -> Context {
    in_scope().overlaid(values)
}

/// The panic of a write that could not take effect: why, and how to open
/// a scope.
#[cold]
#[inline(never)]
#[track_caller]
fn refused(op: &str, key: &str, e: &AccessError) -> ! {
    let how = if e.is_other_task() {
        "this tokio task is polled inside another task's synchronous scope \
         (a runtime driven in `Context::run` or `Key::sync_scope`): spawn it \
         with `ctx::spawn`, or run it with `.in_current_context()`, to give \
         it a scope of its own"
    } else {
        "open one first: run the future with `.in_current_context()` or \
         `Key::scope`, or the closure with `Context::run` or \
         `Key::sync_scope`; `ctx::spawn` and the other helpers open one for \
         the work they start"
    };
    panic!("cannot {op} ctx key `{key}`: {e}; {how} (`Key::try_{op}` returns this error instead of panicking)")
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
        assert!(N.try_remove().unwrap_err().is_no_scope());
    }

    #[test]
    fn set_and_remove_outside_a_scope_panic_with_the_way_out() {
        for (op, r) in [
            ("set", std::panic::catch_unwind(|| N.set(2))),
            ("remove", std::panic::catch_unwind(|| N.remove())),
        ] {
            let payload = r.unwrap_err();
            let msg = payload
                .downcast_ref::<String>()
                .expect("a formatted message");
            assert!(msg.contains(&format!("cannot {op} ctx key `n`")), "{msg}");
            assert!(msg.contains("no context scope is open"), "{msg}");
            assert!(msg.contains("in_current_context"), "{msg}");
            assert!(msg.contains(&format!("try_{op}")), "{msg}");
        }
        assert_eq!(N.get(), None);
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
