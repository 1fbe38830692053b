//! [`Key<T>`]: a typed key for a value in the [`Context`](crate::Context).
//!
//! What a key is: its name, its fork policy and its identity. The methods
//! that read and write the current context through a key (`get`, `set`,
//! `scope`, ...) are in `access.rs`, above the thread's slot they use.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

/// A typed key for a value in the [`Context`](crate::Context).
///
/// Declare keys as `static`s: a key's identity is the address of its static,
/// so two keys never collide, whatever their names. (A `const` would make a
/// new key at every use and never find its value again.) The name is only
/// for [`Debug`](fmt::Debug) output.
///
/// The methods on a key read and write the *current* context, the one the
/// thread's slot holds (see [`Context::current`](crate::Context::current)).
///
/// # Writes and scopes
///
/// [`Key::set`] and [`Key::remove`] write to the current *scope*: the
/// [`Instrumented`](crate::Instrumented) future being polled (the write then persists across its
/// `.await`s and reaches the tasks it spawns afterwards), or the closure given
/// to [`Context::run`](crate::Context::run) / [`Key::sync_scope`] (the write ends with it).
///
/// Where no scope is open (a plain `tokio::spawn` task, a thread started with
/// `std::thread::spawn`, `main` before any scope) a write cannot take
/// effect: [`Key::set`] and [`Key::remove`] **panic** with a message that
/// says how to open a scope (as tokio's `LocalKey::with` does outside its
/// scope), and [`Key::try_set`] / [`Key::try_remove`] return the error.
/// Such a write could only go to the thread itself, and whatever runs on
/// that worker thread next would see a value it never inherited. Open a
/// root scope for `main` instead:
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
/// [`Context::run`](crate::Context::run), [`Key::sync_scope`], or the closure of
/// [`ctx::thread::spawn`](crate::thread::spawn) or
/// [`ctx::spawn_blocking`](crate::spawn_blocking)) polls its plain tasks
/// inside that scope: they read its values, but a write from any tokio task
/// other than the one the scope was opened in is refused as well
/// ([`AccessError::is_other_task`](crate::AccessError::is_other_task)), so
/// plain tasks cannot pass values to each other that way. (Tasks started
/// with [`ctx::spawn`](crate::spawn) have scopes of their own and write
/// freely. A `LocalSet` driven inside an `Instrumented` future is the one
/// case left: see [`spawn_local`](crate::spawn_local).) This refusal needs
/// the `tokio` feature, which tells tasks apart; without it such writes are
/// accepted.
///
/// # Propagation policy
///
/// What a child gets when a context is handed to it, by the spawn helpers
/// ([`spawn`](crate::spawn), [`wrap`](crate::wrap), ...),
/// [`FutureExt::in_current_context`](crate::FutureExt::in_current_context)
/// and [`Context::capture`](crate::Context::capture). Reads in the parent
/// ([`Key::get`], [`Context::current`](crate::Context::current)) and scopes
/// of the same task never apply it.
///
/// - [`Key::new`]: the child shares the parent's value (one reference
///   count, whatever the value).
/// - [`Key::with_fork`]: the key's function makes the child's value from
///   the parent's, TransmittableThreadLocal's `copy`: the child gets its own
///   copy instead of a shared one.
/// - [`Key::local`]: the child gets nothing. For values that must stay with
///   the work that set them: a database transaction, a session, a
///   borrowed connection.
///
/// Contexts in which no key with a policy holds a value pay nothing for
/// the feature: capture is one reference count, as for plain keys.
///
/// # Replay
///
/// A key made with [`Key::with_replay`] runs its function around the work
/// that runs in a context holding it: every poll of an
/// [`Instrumented`](crate::Instrumented), every call of a
/// [`wrap`](crate::wrap)ped closure, [`Context::run`](crate::Context::run).
/// It is how a value of another per-thread system (a `tracing` span, an
/// opentelemetry context, a `thread_local!` of the user's) is installed in
/// that system for the run and taken out after it: TransmittableThreadLocal's
/// replay and restore. See [`carry`](crate::carry) for the other half, the
/// capture.
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
    /// Never handed to a child (see [`Key::local`]).
    local: bool,
    replay: Option<Replay<T>>,
}

/// A key's replay function: installs the value for `run`, restores after.
type Replay<T> = fn(&T, &mut dyn FnMut());

impl<T: Send + Sync + 'static> Key<T> {
    /// Makes a key. Use it to initialise a `static`.
    pub const fn new(name: &'static str) -> Key<T> {
        Key {
            name,
            fork: None,
            local: false,
            replay: None,
        }
    }

    /// Makes a local-only key: its value is seen by the work that set it
    /// (the task, its `.await`s, the scopes it opens) and never reaches a
    /// child. Every hand-over to other work ([`spawn`](crate::spawn),
    /// [`spawn_blocking`](crate::spawn_blocking),
    /// [`thread::spawn`](crate::thread::spawn), [`wrap`](crate::wrap),
    /// [`FutureExt::in_current_context`](crate::FutureExt::in_current_context),
    /// [`Context::capture`](crate::Context::capture), ...) leaves it out.
    ///
    /// A later [`with_fork`](Key::with_fork) replaces the policy: the key
    /// is then forked, not local.
    ///
    /// # Examples
    ///
    /// ```
    /// use ctx::Key;
    ///
    /// // A transaction belongs to the task that opened it.
    /// static TX: Key<u64> = Key::local("db.tx");
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// TX.scope(42, async {
    ///     assert_eq!(TX.get(), Some(42));
    ///     let child = ctx::spawn(async { TX.get() }).await.unwrap();
    ///     assert_eq!(child, None);
    /// })
    /// .await;
    /// # }
    /// ```
    pub const fn local(name: &'static str) -> Key<T> {
        Key {
            name,
            fork: None,
            local: true,
            replay: None,
        }
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
            local: false,
            replay: self.replay,
        }
    }

    /// Gives the key a replay function: whenever work runs in a context
    /// holding a value for this key, `replay(value, run)` is called and must
    /// call `run` (the poll, the closure) once, with the value installed
    /// wherever it belongs, and put back what was there after `run` returns
    /// or unwinds (a guard's `Drop` does both).
    ///
    /// Replay functions run, in key order, around each poll of an
    /// [`Instrumented`](crate::Instrumented), each call of a
    /// [`wrap`](crate::wrap)ped closure (and so the closures of
    /// `spawn_blocking` and `ctx::thread`), and [`Context::run`](crate::Context::run);
    /// not around a guard of [`Context::enter`](crate::Context::enter) (it has
    /// no closure to wrap) nor the drop of a future. Work whose context holds
    /// no such value pays one branch. A function that does not call `run` is
    /// bypassed: the work runs without its value installed.
    ///
    /// # Examples
    ///
    /// Carrying a `thread_local!` of one's own:
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use ctx::Key;
    ///
    /// thread_local! {
    ///     static LOCALE: RefCell<&'static str> = const { RefCell::new("en") };
    /// }
    ///
    /// static CARRIED_LOCALE: Key<&'static str> = Key::new("locale").with_replay(|locale, run| {
    ///     // Installed for the run, and put back even if it panics.
    ///     struct Restore(&'static str);
    ///     impl Drop for Restore {
    ///         fn drop(&mut self) {
    ///             LOCALE.with_borrow_mut(|l| *l = self.0);
    ///         }
    ///     }
    ///     let _restore = Restore(LOCALE.replace(locale));
    ///     run();
    /// });
    ///
    /// let job = CARRIED_LOCALE.sync_scope("fr", || ctx::wrap(|| LOCALE.with_borrow(|l| *l)));
    /// assert_eq!(std::thread::spawn(job).join().unwrap(), "fr");
    /// assert_eq!(LOCALE.with_borrow(|l| *l), "en");
    /// ```
    pub const fn with_replay(self, replay: fn(&T, &mut dyn FnMut())) -> Key<T> {
        Key {
            name: self.name,
            fork: self.fork,
            local: self.local,
            replay: Some(replay),
        }
    }

    /// Returns the key's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// Returns `true` for a local-only key ([`Key::local`]).
    pub const fn is_local(&self) -> bool {
        self.local
    }
}

impl<T: Send + Sync + 'static> fmt::Debug for Key<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("name", &self.name)
            .field("type", &std::any::type_name::<T>())
            .field("forks", &self.fork.is_some())
            .field("local", &self.local)
            .field("replays", &self.replay.is_some())
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
    /// Whether a capture must look at the key's value: it has a fork
    /// policy, or is local-only.
    fn forks(&self) -> bool;
    /// Whether a capture leaves the key's value out.
    fn is_local(&self) -> bool;
    /// The forked value, or `None` if the key has no fork policy.
    fn fork(&self, value: &(dyn Any + Send + Sync)) -> Option<Arc<dyn Any + Send + Sync>>;
    fn replays(&self) -> bool;
    /// Runs `run` inside the key's replay function for `value` (just `run`
    /// without one, or if the function does not call it).
    fn replay(&self, value: &(dyn Any + Send + Sync), run: &mut dyn FnMut());
}

impl<T: Send + Sync + 'static> ErasedKey for Key<T> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn forks(&self) -> bool {
        self.fork.is_some() || self.local
    }

    fn is_local(&self) -> bool {
        self.local
    }

    fn fork(&self, value: &(dyn Any + Send + Sync)) -> Option<Arc<dyn Any + Send + Sync>> {
        let fork = self.fork?;
        let value = value.downcast_ref::<T>()?;
        Some(Arc::new(fork(value)))
    }

    fn replays(&self) -> bool {
        self.replay.is_some()
    }

    fn replay(&self, value: &(dyn Any + Send + Sync), run: &mut dyn FnMut()) {
        let mut ran = false;
        if let (Some(replay), Some(value)) = (self.replay, value.downcast_ref::<T>()) {
            replay(value, &mut || {
                if !ran {
                    ran = true;
                    run();
                }
            });
        }
        if !ran {
            run();
        }
    }
}
