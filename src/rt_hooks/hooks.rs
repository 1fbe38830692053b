//! The four callbacks, the per-runtime map they share, and the per-thread
//! stack of the polls they have open.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use tokio::runtime::{Builder, Runtime, TaskMeta};
use tokio::task::Id;

use crate::context::Context;
use crate::future::FutureExt;
use crate::slot::{swap_in, swap_out, Scope};
use crate::spawn::hooked::{self, Handoff};

/// One runtime's task hooks and the contexts of its tasks.
///
/// Cloning it is one reference count; the clones share the state. Install
/// it on a runtime's builder with [`Hooks::install`] (or [`install`], or use
/// [`runtime`] / [`block_on`]); if you have hooks of your own, call the four
/// `on_*` methods from them instead, each from the tokio hook of the same
/// name. Give each runtime its own `Hooks`: the state belongs to one runtime
/// and is dropped with it (with the last clone).
///
/// # Examples
///
/// ```
/// use ctx::rt_hooks::Hooks;
///
/// static USER: ctx::Key<u32> = ctx::Key::new("user");
///
/// let hooks = Hooks::new();
/// let (a, b, c, d) = (hooks.clone(), hooks.clone(), hooks.clone(), hooks.clone());
/// let rt = tokio::runtime::Builder::new_current_thread()
///     .on_task_spawn(move |meta| {
///         // ... the application's own spawn hook ...
///         a.on_task_spawn(meta);
///     })
///     .on_before_task_poll(move |meta| b.on_before_task_poll(meta))
///     .on_after_task_poll(move |meta| c.on_after_task_poll(meta))
///     .on_task_terminate(move |meta| d.on_task_terminate(meta))
///     .build()
///     .unwrap();
/// let seen = USER.sync_scope(7, || rt.spawn(async { USER.get() }));
/// assert_eq!(rt.block_on(seen).unwrap(), Some(7));
/// drop(rt);
/// assert_eq!(hooks.held(), 0);
/// ```
#[derive(Clone)]
pub struct Hooks {
    shared: Arc<Shared>,
}

struct Shared {
    shards: Box<[Shard]>,
    /// `shards.len() - 1` (a power of two).
    mask: usize,
    /// The runtime whose tasks these hooks poll, learnt at the first poll
    /// (for `ctx::spawn`: see `crate::spawn::hooked`).
    runtime: OnceLock<tokio::runtime::Id>,
}

/// One shard of the map, on cache lines of its own so that two workers
/// working in two shards never share a line.
#[repr(align(128))]
struct Shard(Mutex<HashMap<Id, Held, IdHash>>);

/// What the map holds for a task.
struct Held {
    /// The task's context between polls.
    cx: Context,
    /// A poll of the task is open on some thread, which has the context in
    /// its slot. tokio can start the task's next poll on another worker
    /// (woken during its poll, it is rescheduled inside the poll's `run`)
    /// before the first worker's after-poll hook has put the context back:
    /// that poll waits for it rather than run without it.
    out: bool,
}

impl Shard {
    #[inline]
    fn lock(&self) -> MutexGuard<'_, HashMap<Id, Held, IdHash>> {
        // Nothing panics while a shard is locked (values are dropped after
        // the lock is released), so poisoning cannot happen; were it to,
        // the map is still consistent.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Hashes a task id (tokio hashes it as one `u64`) with one multiplication:
/// ids are a counter, the product spreads them over the table and the
/// shards.
#[derive(Clone, Copy, Default)]
struct IdHash;

impl BuildHasher for IdHash {
    type Hasher = IdHasher;
    #[inline]
    fn build_hasher(&self) -> IdHasher {
        IdHasher(0)
    }
}

#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn write(&mut self, bytes: &[u8]) {
        // Not tokio's way of hashing an id today; kept correct if it changes.
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
}

/// A poll of a task that is open on this thread.
struct Frame {
    task: Id,
    /// What the thread held before the poll (context and scope).
    prev: Context,
    prev_scope: Scope,
    /// The hooked runtime recorded before the poll.
    prev_runtime: Option<tokio::runtime::Id>,
    /// The task terminated during the poll: its context is not kept.
    terminated: bool,
}

thread_local! {
    /// The polls open on this thread, innermost last. Nested only when a
    /// poll drives another runtime (`block_in_place` + `block_on`).
    static FRAMES: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
    /// The last task that terminated on this thread with no context held
    /// for it. A task spawned on a closed runtime is shut down inside
    /// `spawn`, before its spawn hook, on the spawning thread: the spawn
    /// hook sees its id here and records nothing.
    static ORPHAN: std::cell::Cell<Option<Id>> = const { std::cell::Cell::new(None) };
}

impl Default for Hooks {
    fn default() -> Hooks {
        Hooks::new()
    }
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hooks")
            .field("shards", &self.shared.shards.len())
            .finish_non_exhaustive()
    }
}

impl Hooks {
    /// Makes the state for one runtime: the map is split into a few shards
    /// per core.
    pub fn new() -> Hooks {
        let cores = std::thread::available_parallelism().map_or(4, usize::from);
        let n = (cores * 8).next_power_of_two().clamp(16, 256);
        Hooks {
            shared: Arc::new(Shared {
                shards: (0..n).map(|_| Shard(Mutex::default())).collect(),
                mask: n - 1,
                runtime: OnceLock::new(),
            }),
        }
    }

    /// Installs the four hooks on `builder` (replacing any hooks it had:
    /// tokio keeps one callback per hook).
    pub fn install<'b>(&self, builder: &'b mut Builder) -> &'b mut Builder {
        let (a, b, c, d) = (self.clone(), self.clone(), self.clone(), self.clone());
        builder
            .on_task_spawn(move |meta| a.on_task_spawn(meta))
            .on_before_task_poll(move |meta| b.on_before_task_poll(meta))
            .on_after_task_poll(move |meta| c.on_after_task_poll(meta))
            .on_task_terminate(move |meta| d.on_task_terminate(meta))
    }

    /// How many tasks the hooks hold an entry for now: tasks with a
    /// non-empty context that have not terminated, and tasks being polled.
    /// For tests and diagnostics: it locks every shard in turn.
    pub fn held(&self) -> usize {
        self.shared.shards.iter().map(|s| s.lock().len()).sum()
    }

    #[inline]
    fn shard(&self, task: Id) -> &Shard {
        let h = IdHash.hash_one(task);
        // The middle bits: the table uses the low ones for the bucket and
        // the high ones for its tags.
        &self.shared.shards[(h >> 32) as usize & self.shared.mask]
    }

    /// The spawn hook: records the context current on the spawning thread
    /// (the spawner's, captured as the spawn helpers capture) for the new
    /// task. Call it from tokio's `on_task_spawn`.
    pub fn on_task_spawn(&self, meta: &TaskMeta<'_>) {
        let task = meta.id();
        let cx = match hooked::take_handoff() {
            Handoff::Skip => return,
            Handoff::Context(cx) => cx,
            Handoff::Capture => Context::capture(),
        };
        if ORPHAN.try_with(|o| o.get() == Some(task)).unwrap_or(false) {
            // Shut down before this hook: nothing will remove an entry.
            let _ = ORPHAN.try_with(|o| o.set(None));
            return;
        }
        if cx.is_empty() {
            return;
        }
        let old = self
            .shard(task)
            .lock()
            .insert(task, Held { cx, out: false });
        // (Never `Some`: ids are unique. Dropped unlocked all the same.)
        drop(old);
    }

    /// The before-poll hook: installs the task's context on this thread,
    /// remembering what the thread held. Call it from tokio's
    /// `on_before_task_poll`, and pair it with
    /// [`on_after_task_poll`](Self::on_after_task_poll).
    pub fn on_before_task_poll(&self, meta: &TaskMeta<'_>) {
        let task = meta.id();
        let mut cx = self.check_out(task);
        let runtime = self.runtime();
        // Afterwards `cx` holds what the thread held.
        let prev_scope = swap_in(&mut cx, Scope::Poll);
        let prev_runtime = hooked::enter(runtime);
        let frame = Frame {
            task,
            prev: cx,
            prev_scope,
            prev_runtime,
            terminated: false,
        };
        if let Err(frame) = push(frame) {
            // No stack on this thread (its thread-locals are being
            // destroyed): undo, the task runs in the thread's context.
            let mut prev = frame.prev;
            hooked::leave(frame.prev_runtime);
            swap_out(&mut prev, frame.prev_scope);
            self.put(task, prev);
        }
    }

    /// The after-poll hook: keeps the slot's context (with the task's
    /// writes) for the task's next poll and gives the thread back what it
    /// held. Call it from tokio's `on_after_task_poll`.
    pub fn on_after_task_poll(&self, meta: &TaskMeta<'_>) {
        let task = meta.id();
        let Some(frame) = pop(task) else {
            return;
        };
        let mut cx = frame.prev;
        swap_out(&mut cx, frame.prev_scope);
        hooked::leave(frame.prev_runtime);
        // `cx` is the task's now; the thread is itself again.
        if frame.terminated {
            drop(cx);
        } else {
            self.put(task, cx);
        }
    }

    /// The terminate hook: releases the task's context. Call it from tokio's
    /// `on_task_terminate`.
    pub fn on_task_terminate(&self, meta: &TaskMeta<'_>) {
        let task = meta.id();
        // A task ending inside its own poll (completion, panic, abort seen
        // by the poll): its context is in the slot, the after-poll hook
        // drops it.
        let polling = FRAMES
            .try_with(|frames| {
                let mut frames = frames.borrow_mut();
                match frames.iter_mut().rev().find(|f| f.task == task) {
                    Some(f) => {
                        f.terminated = true;
                        true
                    }
                    None => false,
                }
            })
            .unwrap_or(false);
        let held = self.shard(task).lock().remove(&task).map(|held| held.cx);
        if !polling && held.is_none() {
            let _ = ORPHAN.try_with(|o| o.set(Some(task)));
        }
        // Dropped unlocked: a value's destructor may spawn.
        drop(held);
    }

    /// Takes `task`'s context out of the map for a poll, marking the
    /// entry as out (making one, empty, if the task has none: its poll may
    /// write). Waits while a poll that just ended on another worker has
    /// not put it back yet (see [`Held::out`]).
    #[inline]
    fn check_out(&self, task: Id) -> Context {
        let shard = self.shard(task);
        let mut waited = 0u32;
        loop {
            {
                let mut map = shard.lock();
                match map.get_mut(&task) {
                    Some(held) if held.out => {}
                    Some(held) => {
                        held.out = true;
                        return std::mem::take(&mut held.cx);
                    }
                    None => {
                        map.insert(
                            task,
                            Held {
                                cx: Context::new(),
                                out: true,
                            },
                        );
                        return Context::new();
                    }
                }
            }
            if !wait(&mut waited) {
                // The other poll never put it back (hooks called out of
                // pairs): this poll runs in the empty context rather than
                // hang the worker.
                return Context::new();
            }
        }
    }

    /// Stores `cx` for `task`'s next poll, or removes its entry when `cx`
    /// is empty.
    #[inline]
    fn put(&self, task: Id, cx: Context) {
        let old = {
            let mut map = self.shard(task).lock();
            if cx.is_empty() {
                map.remove(&task).map(|held| held.cx)
            } else if let Some(held) = map.get_mut(&task) {
                held.out = false;
                Some(std::mem::replace(&mut held.cx, cx))
            } else {
                map.insert(task, Held { cx, out: false })
                    .map(|held| held.cx)
            }
        };
        drop(old);
    }

    #[inline]
    fn runtime(&self) -> Option<tokio::runtime::Id> {
        if let Some(id) = self.shared.runtime.get() {
            return Some(*id);
        }
        let id = tokio::runtime::Handle::try_current().ok()?.id();
        Some(*self.shared.runtime.get_or_init(|| id))
    }
}

/// One round of waiting for another worker's after-poll hook: a spin, then
/// yielding the thread; false after about 100 ms (the hook runs a few
/// instructions after the poll, so only a descheduled thread is that late).
#[cold]
#[inline(never)]
fn wait(waited: &mut u32) -> bool {
    *waited += 1;
    if *waited <= 64 {
        std::hint::spin_loop();
    } else if *waited <= 64 + 1000 {
        std::thread::yield_now();
    } else if *waited <= 64 + 1000 + 100 {
        std::thread::sleep(std::time::Duration::from_millis(1));
    } else {
        return false;
    }
    true
}

fn push(frame: Frame) -> Result<(), Frame> {
    let mut frame = Some(frame);
    let _ = FRAMES.try_with(|frames| {
        if let Some(f) = frame.take() {
            frames.borrow_mut().push(f);
        }
    });
    match frame {
        None => Ok(()),
        Some(f) => Err(f),
    }
}

/// Takes the innermost open poll off this thread's stack if it is `task`'s.
fn pop(task: Id) -> Option<Frame> {
    FRAMES
        .try_with(|frames| {
            let mut frames = frames.borrow_mut();
            if frames.last().is_some_and(|f| f.task == task) {
                frames.pop()
            } else {
                None
            }
        })
        .ok()
        .flatten()
}

/// Installs a new [`Hooks`] on `builder`; returns the builder.
///
/// # Examples
///
/// ```
/// static REQ: ctx::Key<u64> = ctx::Key::new("req");
///
/// let mut builder = tokio::runtime::Builder::new_multi_thread();
/// ctx::rt_hooks::install(&mut builder).worker_threads(2).enable_all();
/// let rt = builder.build().unwrap();
/// let seen = REQ.sync_scope(1, || rt.spawn(async { REQ.get() }));
/// assert_eq!(rt.block_on(seen).unwrap(), Some(1));
/// ```
pub fn install(builder: &mut Builder) -> &mut Builder {
    Hooks::new().install(builder)
}

/// Builds a multi-thread runtime with everything enabled (timers, I/O) and
/// the hooks installed: `#[tokio::main]`'s runtime, hooked.
///
/// # Errors
///
/// When tokio cannot build the runtime (it cannot start its threads or its
/// I/O driver).
pub fn runtime() -> std::io::Result<Runtime> {
    let mut builder = Builder::new_multi_thread();
    install(&mut builder).enable_all().build()
}

/// Runs `future` to completion on a new hooked [`runtime`], inside a root
/// scope (writes in it are accepted, and plain spawns inherit them): the
/// replacement of `#[tokio::main]`, which cannot install hooks.
///
/// # Panics
///
/// When the runtime cannot be built, as `#[tokio::main]` does.
///
/// # Examples
///
/// ```
/// static TENANT: ctx::Key<&'static str> = ctx::Key::new("tenant");
///
/// fn main() {
///     ctx::rt_hooks::block_on(async {
///         TENANT.set("acme");
///         // Any code's plain spawn inherits the context.
///         let seen = tokio::spawn(async { TENANT.get() }).await.unwrap();
///         assert_eq!(seen, Some("acme"));
///     });
/// }
/// ```
pub fn block_on<F: Future>(future: F) -> F::Output {
    runtime()
        .expect("failed to build the tokio runtime")
        .block_on(future.in_current_context())
}
