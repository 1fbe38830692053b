//! How a thread holds its current [`Context`]: the per-thread slot, the
//! scopes open on it and who owns them, the guards that restore it, and the
//! swaps `Instrumented` makes around each poll and drop.
//!
//! `Context::current`, `enter` and `run` live here, beside the slot they
//! read and write; what a context *is* is `context.rs`'s.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;

use crate::context::Context;
use crate::error::AccessError;

impl Context {
    /// Returns a snapshot of the current thread's context.
    ///
    /// It costs one reference count, whatever the number of values, and
    /// allocates nothing. It works everywhere, also in the destructors of
    /// other thread-locals while a thread exits.
    ///
    /// This is the snapshot as it is, for reading. What a child receives is
    /// the *capture*, [`Context::capture`]: this snapshot with the keys'
    /// policies applied ([`Key::with_fork`](crate::Key::with_fork),
    /// [`Key::local`](crate::Key::local)) and the carried systems' values
    /// added ([`carry`](crate::carry)). To hand a context to other work
    /// yourself (over a channel, to [`FutureExt::in_context`](crate::FutureExt::in_context)),
    /// use `capture`: `current` would share local and unforked values.
    ///
    /// # Examples
    ///
    /// ```
    /// use ctx::{Context, Key};
    ///
    /// static USER: Key<u64> = Key::new("user");
    ///
    /// USER.sync_scope(7, || {
    ///     let captured = Context::current();
    ///     assert_eq!(captured.get(&USER), Some(&7));
    /// });
    /// ```
    pub fn current() -> Context {
        with_current(Context::clone)
    }

    /// Makes this context the current one on this thread until the returned
    /// guard is dropped; the previous context is restored then, also when the
    /// thread unwinds from a panic.
    ///
    /// Writes made with [`Key::set`](crate::Key::set) while the guard lives are local to it:
    /// they are gone when the guard drops. No allocation.
    ///
    /// **Warning:** do not hold the guard across an `.await`. The task may be
    /// suspended and another task polled on this thread while the guard lives,
    /// and that task would see this context. Use
    /// [`FutureExt::in_context`](crate::FutureExt::in_context) for futures:
    /// it enters the context around every poll instead. The guard is `!Send`,
    /// so `tokio::spawn` rejects a future that holds one across an `.await`;
    /// futures that need not be `Send` are not checked (the one `block_on`
    /// or `#[tokio::main]` drives, `spawn_local` tasks).
    ///
    /// Guards must be dropped in the reverse order they were made in, which
    /// lexical scopes do by themselves. A guard that is never dropped
    /// (`mem::forget`) outside any scope leaves its context on the thread
    /// for good, as a forgotten `tracing` span guard leaves its span entered;
    /// so can guards dropped out of order, as two held across `.await`s in
    /// the branches of one `join!` are. Inside a scope (a poll,
    /// [`run`](Context::run), a spawned closure) the scope's end puts the
    /// thread back all the same.
    ///
    /// # Examples
    ///
    /// ```
    /// use ctx::{Context, Key};
    ///
    /// static ID: Key<u32> = Key::new("id");
    ///
    /// let cx = Context::new().with(&ID, 1);
    /// {
    ///     let _guard = cx.enter();
    ///     assert_eq!(ID.get(), Some(1));
    /// }
    /// assert_eq!(ID.get(), None);
    /// ```
    pub fn enter(&self) -> ContextGuard {
        enter_owned(self.clone())
    }

    /// Runs `f` with this context current, then restores the previous one
    /// (also if `f` panics). Returns what `f` returns.
    ///
    /// # Examples
    ///
    /// ```
    /// use ctx::{Context, Key};
    ///
    /// static ID: Key<u32> = Key::new("id");
    ///
    /// let cx = Context::new().with(&ID, 42);
    /// let seen = cx.run(|| ID.get());
    /// assert_eq!(seen, Some(42));
    /// ```
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        run_owned(self.clone(), f)
    }

    /// Captures the current context for other work: what the spawn
    /// helpers, [`wrap`](crate::wrap) and
    /// [`FutureExt::in_current_context`](crate::FutureExt::in_current_context)
    /// hand to the work they start.
    ///
    /// It is [`Context::current`] with the keys' propagation policies
    /// applied (values of [`Key::with_fork`](crate::Key::with_fork) keys
    /// forked, those of [`Key::local`](crate::Key::local) keys left out)
    /// and the current values of the registered
    /// [carriers](crate::carry) added. Use it wherever a context leaves the
    /// work it belongs to: sent with a message, stored for a callback,
    /// handed to [`FutureExt::in_context`](crate::FutureExt::in_context).
    ///
    /// Cost: one reference count, as `current`, when no key with a policy
    /// holds a value and no carrier is registered; otherwise one table for
    /// the child's copy.
    ///
    /// # Examples
    ///
    /// ```
    /// use ctx::{Context, Key};
    ///
    /// static HOPS: Key<u32> = Key::new("hops").with_fork(|n| n + 1);
    /// static TX: Key<&'static str> = Key::local("tx");
    ///
    /// let cx = Context::new().with(&HOPS, 0).with(&TX, "tx-1");
    /// cx.run(|| {
    ///     // The parent reads its own values...
    ///     assert_eq!(Context::current().get(&HOPS), Some(&0));
    ///     // ...a child gets the policies' values.
    ///     let for_child = Context::capture();
    ///     assert_eq!(for_child.get(&HOPS), Some(&1));
    ///     assert_eq!(for_child.get(&TX), None);
    /// });
    /// ```
    pub fn capture() -> Context {
        crate::carry::captured(Context::current().fork())
    }
}

/// The per-thread slot: the current context, and whether a scope is open.
///
/// `Cell`s, not a `RefCell`: the slot is never borrowed, values are moved in
/// and out with `replace`/`take`, and every value that leaves the slot is
/// dropped by the caller after the slot is consistent again. So a destructor
/// that reads or writes the context (re-entrance) can never observe a
/// half-updated slot, and nothing can panic with "already borrowed".
///
/// The slot has no destructor (see [`CurrentCell`]), so reaching it is an
/// address computation: no "is it initialised, is it destroyed" test on each
/// of the two swaps of every poll, and it stays usable while the thread's
/// other thread-locals are being destroyed.
pub(crate) struct Slot {
    pub(crate) cx: CurrentCell,
    /// The innermost open scope, if any. Writes outside any scope are
    /// refused: they would otherwise stay on the thread and reach whatever
    /// runs there next.
    pub(crate) scoped: Cell<Scope>,
    /// The task the innermost synchronous scope was opened in (see
    /// [`Scope::Sync`]).
    owner: Cell<TaskId>,
    /// How many `Instrumented` drops are in progress on this thread (see
    /// [`park`]).
    parks: Cell<usize>,
    /// What the outermost of them displaced: drops seldom nest, so the
    /// common case needs no stack.
    parked_cx: CurrentCell,
    parked_scoped: Cell<Scope>,
}

/// The kind of scope open on a thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scope {
    /// None: writes are refused.
    Closed,
    /// An `Instrumented` poll (or drop): the code running belongs to the
    /// future being polled, whose writes persist in it.
    Poll,
    /// A guard's scope ([`Context::enter`], [`Context::run`], the closures
    /// of `ctx::wrap`, `ctx::spawn_blocking`, `ctx::thread::spawn`). The
    /// closure may drive a runtime (`block_on`), which then polls *plain*
    /// tasks inside the scope; a write is accepted only from the tokio task
    /// the scope was opened in (or from outside any task, if it was opened
    /// outside any), so those plain tasks cannot pass values to each other.
    Sync,
}

/// A tokio task's id, or `None` outside any task (always `None` without
/// tokio).
#[cfg(feature = "tokio")]
type TaskId = Option<tokio::task::Id>;
#[cfg(not(feature = "tokio"))]
type TaskId = Option<std::convert::Infallible>;

/// The task running now.
#[inline]
fn current_task() -> TaskId {
    #[cfg(feature = "tokio")]
    return tokio::task::try_id();
    #[cfg(not(feature = "tokio"))]
    None
}

/// The cell holding a thread's current context, without drop glue.
///
/// Every scope puts back what it found, so the slot is empty whenever a
/// thread ends, unless a [`ContextGuard`] was leaked (`mem::forget`): only
/// then is the context that guard installed never dropped, which is the
/// price of a slot that needs no destructor.
pub(crate) struct CurrentCell(Cell<ManuallyDrop<Context>>);

impl CurrentCell {
    const fn new() -> CurrentCell {
        CurrentCell(Cell::new(ManuallyDrop::new(Context::new())))
    }

    /// Puts `cx` in and returns what was there.
    #[inline]
    pub(crate) fn replace(&self, cx: Context) -> Context {
        ManuallyDrop::into_inner(self.0.replace(ManuallyDrop::new(cx)))
    }

    /// Takes the context out, leaving the empty one.
    #[inline]
    pub(crate) fn take(&self) -> Context {
        self.replace(Context::new())
    }

    /// Puts `cx` in; what was there is dropped after the slot holds `cx`.
    #[inline]
    pub(crate) fn set(&self, cx: Context) {
        drop(self.replace(cx));
    }
}

thread_local! {
    pub(crate) static SLOT: Slot = const {
        Slot {
            cx: CurrentCell::new(),
            scoped: Cell::new(Scope::Closed),
            owner: Cell::new(None),
            parks: Cell::new(0),
            parked_cx: CurrentCell::new(),
            parked_scoped: Cell::new(Scope::Closed),
        }
    };

    /// What the thread held before each nested `Instrumented` drop (the
    /// outermost one's is in the slot), innermost last. Apart from the slot:
    /// it owns a buffer, so it needs a destructor.
    static NESTED_PARKS: Cell<Vec<(Context, Scope)>> = const { Cell::new(Vec::new()) };
}

/// Makes `cx` current for the drop of the fields that follow it, parking
/// what the thread held; [`unpark`] puts that back.
///
/// Drops nest (a future holding futures), so the parked values form a
/// stack: its bottom lives in the slot, which makes the usual, unnested
/// drop two plain swaps; deeper ones go to a vector that grows once per
/// thread to the deepest nesting, then never allocates again. (While the
/// thread's thread-locals are being destroyed that vector may be gone: a
/// nested drop then runs in the context around it, and `unpark` restores
/// exactly what `park` displaced.)
#[inline]
pub(crate) fn park(cx: Context) {
    SLOT.with(|slot| {
        let depth = slot.parks.get();
        slot.parks.set(depth + 1);
        if depth == 0 {
            slot.parked_cx.set(slot.cx.replace(cx));
            slot.parked_scoped.set(slot.scoped.replace(Scope::Poll));
        } else {
            park_nested(slot, cx);
        }
    });
}

#[cold]
#[inline(never)]
fn park_nested(slot: &Slot, cx: Context) {
    let mut cx = Some(cx);
    let _ = NESTED_PARKS.try_with(|stack| {
        let prev = slot.cx.replace(cx.take().unwrap_or_default());
        let scoped = slot.scoped.replace(Scope::Poll);
        let mut v = stack.take();
        v.push((prev, scoped));
        stack.set(v);
    });
    // If the stack is gone, `cx` was not installed: it is dropped here,
    // outside the slot, and `unpark` finds nothing to undo.
}

/// Undoes the innermost [`park`]: the thread gets back what it held, and the
/// context that was installed is dropped afterwards.
#[inline]
pub(crate) fn unpark() {
    let left = SLOT.with(|slot| {
        if slot.parks.get() == 1 {
            slot.parks.set(0);
            slot.scoped.set(slot.parked_scoped.get());
            Some(slot.cx.replace(slot.parked_cx.take()))
        } else {
            unpark_nested(slot)
        }
    });
    drop(left);
}

#[cold]
#[inline(never)]
fn unpark_nested(slot: &Slot) -> Option<Context> {
    let depth = slot.parks.get().checked_sub(1)?;
    slot.parks.set(depth);
    let (prev, scoped) = NESTED_PARKS
        .try_with(|stack| {
            let mut v = stack.take();
            let top = v.pop();
            stack.set(v);
            top
        })
        .ok()
        .flatten()?;
    slot.scoped.set(scoped);
    Some(slot.cx.replace(prev))
}

/// A guard that makes a context current until it is dropped.
///
/// Returned by [`Context::enter`]. On drop (also during unwinding) it puts
/// back the context that was current before. It is `!Send`: it must be dropped
/// on the thread that made it.
#[must_use = "the context is current only while the guard lives"]
pub struct ContextGuard {
    /// What the slot held before (taken out when it is put back).
    prev: Option<(Context, Scope, TaskId)>,
    _not_send: PhantomData<*const ()>,
}

impl fmt::Debug for ContextGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContextGuard")
            .field("active", &self.prev.is_some())
            .finish()
    }
}

/// Runs `f` with `cx` current (a guard's scope), inside the replay
/// functions of its values if it has any.
#[inline]
pub(crate) fn run_owned<R>(cx: Context, f: impl FnOnce() -> R) -> R {
    if cx.replays() {
        let values = cx.clone();
        let _guard = enter_owned(cx);
        return values.replayed(f);
    }
    let _guard = enter_owned(cx);
    f()
}

pub(crate) fn enter_owned(mut cx: Context) -> ContextGuard {
    let owner = SLOT.with(|slot| slot.owner.replace(current_task()));
    // Afterwards `cx` holds what the thread held before.
    let scoped = swap_in(&mut cx, Scope::Sync);
    ContextGuard {
        prev: Some((cx, scoped, owner)),
        _not_send: PhantomData,
    }
}

impl Drop for ContextGuard {
    fn drop(&mut self) {
        if let Some((mut cx, scoped, owner)) = self.prev.take() {
            SLOT.with(|slot| slot.owner.set(owner));
            swap_out(&mut cx, scoped);
            // `cx` now holds the guard's context, with the writes made under
            // it: dropped here, after the slot is consistent, since this may
            // run user destructors, which may read the context.
            drop(cx);
        }
    }
}

/// Swaps `cx` with the thread's current context and opens a scope of kind
/// `scope`; returns the scope that was open. `Instrumented` uses it to move
/// its context in and out without cloning it.
#[inline]
pub(crate) fn swap_in(cx: &mut Context, scope: Scope) -> Scope {
    SLOT.with(|slot| {
        let prev = slot.cx.replace(std::mem::take(cx));
        *cx = prev;
        slot.scoped.replace(scope)
    })
}

/// Undoes [`swap_in`]: `cx` receives the thread's context (with the task's
/// writes) and the thread gets back what it held before.
#[inline]
pub(crate) fn swap_out(cx: &mut Context, scoped: Scope) {
    SLOT.with(|slot| {
        let task = slot.cx.replace(std::mem::take(cx));
        *cx = task;
        slot.scoped.set(scoped);
    });
}

/// Calls `f` with the current context moved out of the slot and put back
/// afterwards (also on panic). Only for code that runs no user code but a
/// value's `Clone`: while `f` runs, the slot is empty.
#[inline]
pub(crate) fn with_current<R>(f: impl FnOnce(&Context) -> R) -> R {
    struct PutBack<'a> {
        slot: &'a Slot,
        cx: Context,
    }
    impl Drop for PutBack<'_> {
        fn drop(&mut self) {
            // A write made meanwhile (only a `Clone` impl could) is replaced
            // by the context as it was; the dropped one is dropped after.
            let _written = self.slot.cx.replace(std::mem::take(&mut self.cx));
        }
    }
    SLOT.with(|slot| {
        let put_back = PutBack {
            slot,
            cx: slot.cx.take(),
        };
        f(&put_back.cx)
    })
}

/// Whether the code running now owns the open scope: a poll, or a guard's
/// scope opened in this task (not one a runtime driven inside a guard's
/// scope happens to poll this task under). Writes need it.
fn own_scope(slot: &Slot) -> Result<(), AccessError> {
    match slot.scoped.get() {
        Scope::Closed => Err(AccessError::no_scope()),
        Scope::Sync if slot.owner.get() != current_task() => Err(AccessError::other_task()),
        Scope::Sync | Scope::Poll => Ok(()),
    }
}

/// Whether the current context belongs to the code running now (see
/// [`own_scope`]).
#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub(crate) fn scope_is_own() -> bool {
    SLOT.with(|slot| own_scope(slot).is_ok())
}

/// Applies `f` to the current context when a scope is open.
pub(crate) fn update(f: impl FnOnce(&Context) -> Option<Context>) -> Result<(), AccessError> {
    SLOT.with(|slot| {
        own_scope(slot)?;
        let cur = slot.cx.take();
        match f(&cur) {
            Some(new) => {
                slot.cx.set(new);
                // `cur` is dropped after the slot holds the new snapshot.
                drop(cur);
            }
            None => slot.cx.set(cur),
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::Key;

    static A: Key<u32> = Key::new("a");

    #[test]
    fn enter_restores_on_panic() {
        let cx = Context::new().with(&A, 9);
        // Recorded before the panic: an assertion in there would be caught.
        let seen = Cell::new(None);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            cx.run(|| {
                seen.set(A.get());
                panic!("boom");
            })
        }));
        assert!(r.is_err());
        assert_eq!(seen.get(), Some(9));
        assert_eq!(A.get(), None);
        SLOT.with(|s| assert_eq!(s.scoped.get(), Scope::Closed));
    }
}
