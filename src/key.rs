//! [`Key<T>`]: a typed key for a value in the [`Context`].

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::context::{self, Context, Entry};
use crate::error::AccessError;
use crate::future::Instrumented;

/// A typed key for a value in the [`Context`].
///
/// Declare keys as `static`s: a key's identity is the address of its static,
/// so two keys never collide, whatever their names. (A `const` would make a
/// new key at every use and never find its value again.) The name is only
/// for [`Debug`](fmt::Debug) output.
///
/// The methods on a key read and write the *current* context, the one the
/// thread's slot holds (see [`Context::current`]).
///
/// # Writes and scopes
///
/// [`Key::set`] and [`Key::remove`] write to the current *scope*: the
/// [`Instrumented`] future being polled (the write then persists across its
/// `.await`s and reaches the tasks it spawns afterwards), or the closure given
/// to [`Context::run`] / [`Key::sync_scope`] (the write ends with it).
///
/// Where no scope is open (a plain `tokio::spawn` task, a thread started with
/// `std::thread::spawn`, `main` before any scope) a write is **ignored**, and
/// [`Key::try_set`] says so with an error. Such a write could only go to the
/// thread itself, and whatever runs on that worker thread next would see a
/// value it never inherited. Open a root scope for `main` instead:
///
/// ```
/// use ctx::{FutureExt, Key};
///
/// static TENANT: Key<String> = Key::new("tenant");
///
/// #[tokio::main]
/// async fn main() {
///     async {
///         TENANT.set("acme".into());
///         assert_eq!(TENANT.get().as_deref(), Some("acme"));
///     }
///     .in_current_context() // the root scope
///     .await;
/// }
/// ```
///
/// A runtime driven inside a synchronous scope (`block_on` inside
/// [`Context::run`], [`Key::sync_scope`], or the closure of
/// [`ctx::thread::spawn`](crate::thread::spawn) or
/// [`ctx::spawn_blocking`](crate::spawn_blocking)) polls its plain tasks
/// inside that scope: they read its values, but a write from any tokio task
/// other than the one the scope was opened in is refused as well
/// ([`AccessError::is_other_task`](crate::AccessError::is_other_task)), so
/// plain tasks cannot pass values to each other that way. (Tasks started
/// with [`ctx::spawn`](crate::spawn) have scopes of their own and write
/// freely. A `LocalSet` driven inside an `Instrumented` future is the one
/// case left: see [`spawn_local`](crate::spawn_local).)
///
/// # Fork policy
///
/// A key made with [`Key::with_fork`] runs its function on the value each
/// time a context holding it is handed to a child ([`spawn`](crate::spawn),
/// [`wrap`](crate::wrap), ...), TransmittableThreadLocal's `copy`: the child
/// gets its own copy instead of a shared one.
///
/// # Examples
///
/// ```
/// use ctx::Key;
///
/// static REQUEST_ID: Key<String> = Key::new("request_id");
///
/// REQUEST_ID.sync_scope("r-1".to_string(), || {
///     assert_eq!(REQUEST_ID.get().as_deref(), Some("r-1"));
///     REQUEST_ID.with(|id| assert_eq!(id.map(String::len), Some(3)));
/// });
/// assert_eq!(REQUEST_ID.get(), None);
/// ```
pub struct Key<T: Send + Sync + 'static> {
    name: &'static str,
    fork: Option<fn(&T) -> T>,
}

impl<T: Send + Sync + 'static> Key<T> {
    /// Makes a key. Use it to initialise a `static`.
    pub const fn new(name: &'static str) -> Key<T> {
        Key { name, fork: None }
    }

    /// Gives the key a fork policy: `fork` makes the value a child task gets
    /// from its parent's value.
    ///
    /// # Examples
    ///
    /// ```
    /// use ctx::Key;
    ///
    /// // Each child task starts its own hop count from the parent's.
    /// static HOPS: Key<u32> = Key::new("hops").with_fork(|n| n + 1);
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// HOPS.scope(0, async {
    ///     let child = ctx::spawn(async { HOPS.get() }).await.unwrap();
    ///     assert_eq!(child, Some(1));
    ///     assert_eq!(HOPS.get(), Some(0));
    /// })
    /// .await;
    /// # }
    /// ```
    pub const fn with_fork(self, fork: fn(&T) -> T) -> Key<T> {
        Key {
            name: self.name,
            fork: Some(fork),
        }
    }

    /// Returns the key's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }

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
        context::with_current(|cx| cx.get(self).cloned())
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
        context::update(|cx| Some(cx.with_entry(entry)))
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
        context::update(|cx| cx.contains(self).then(|| cx.without(self)))
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
        Instrumented::new(fut, Context::current().with(self, value))
    }

    /// Runs `f` in the current context plus `value` under this key.
    pub fn sync_scope<R>(&'static self, value: T, f: impl FnOnce() -> R) -> R {
        Context::current().with(self, value).run(f)
    }
}

impl<T: Send + Sync + 'static> fmt::Debug for Key<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("name", &self.name)
            .field("type", &std::any::type_name::<T>())
            .field("forks", &self.fork.is_some())
            .finish()
    }
}

/// A key's identity is the address of its `static`.
pub(crate) fn key_addr(key: &'static dyn ErasedKey) -> usize {
    std::ptr::from_ref(key).cast::<()>() as usize
}

/// What the context needs of a key without knowing `T`.
pub(crate) trait ErasedKey: Send + Sync {
    fn name(&self) -> &'static str;
    fn forks(&self) -> bool;
    /// The forked value, or `None` if the key has no fork policy.
    fn fork(&self, value: &(dyn Any + Send + Sync)) -> Option<Arc<dyn Any + Send + Sync>>;
}

impl<T: Send + Sync + 'static> ErasedKey for Key<T> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn forks(&self) -> bool {
        self.fork.is_some()
    }

    fn fork(&self, value: &(dyn Any + Send + Sync)) -> Option<Arc<dyn Any + Send + Sync>> {
        let fork = self.fork?;
        let value = value.downcast_ref::<T>()?;
        Some(Arc::new(fork(value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static N: Key<u32> = Key::new("n");
    static LIST: Key<Vec<u8>> = Key::new("list").with_fork(|v| {
        let mut v = v.clone();
        v.push(0);
        v
    });

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
    fn fork_policy_applies_to_children_only() {
        let cx = Context::new().with(&LIST, vec![1]).with(&N, 5);
        let child = cx.clone().fork();
        assert_eq!(child.get(&LIST), Some(&vec![1, 0]));
        assert_eq!(child.get(&N), Some(&5));
        assert_eq!(cx.get(&LIST), Some(&vec![1]));
        // No forking key: the same snapshot is shared.
        let plain = Context::new().with(&N, 5);
        assert!(plain.clone().fork().ptr_eq(&plain));
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

    #[test]
    fn same_name_different_statics_do_not_collide() {
        static X1: Key<u32> = Key::new("x");
        static X2: Key<u32> = Key::new("x");
        let cx = Context::new().with(&X1, 1).with(&X2, 2);
        assert_eq!(cx.get(&X1), Some(&1));
        assert_eq!(cx.get(&X2), Some(&2));
    }
}
