//! Plain `tokio::spawn` inherits the context: tokio's task hooks do for
//! every task what [`ctx::spawn`](crate::spawn) does for one.
//!
//! Libraries call `tokio::spawn` themselves (HTTP servers for each
//! connection, database pools, SDKs' background workers), and a plain
//! spawned task starts with nothing. On a runtime built with these hooks,
//! every task spawned on it, by any code, runs in the context that was
//! current where it was spawned, with the guarantees of the spawn helpers:
//!
//! 1. **Capture at spawn**: the spawn hook runs on the spawning thread,
//!    inside the spawner's poll, and captures the spawner's context (the
//!    keys' fork policies applied) before the task can run.
//! 2. **Install on every poll**: the before-poll hook moves the task's
//!    context into the thread's slot, whichever worker polls it.
//! 3. **Keep the task's writes**: the after-poll hook moves the slot's
//!    context, with the task's writes, back to the task.
//! 4. **Restore after each poll**: the after-poll hook gives the thread back
//!    what it held, also when the poll panicked (tokio catches the panic
//!    inside the poll, and the hook still runs) and when polls nest
//!    (`block_in_place` driving another runtime's `block_on`).
//! 5. **Release at termination**: the terminate hook drops the task's
//!    context when it completes, panics, is aborted or is shut down.
//!
//! # What it needs
//!
//! tokio's task hooks are unstable: build with
//! `RUSTFLAGS="--cfg tokio_unstable"` and the feature `rt-hooks`. Without
//! the cfg the feature builds and this module is empty (its items are
//! compiled only with the cfg); the rest of ctx works as ever.
//!
//! ```toml
//! # .cargo/config.toml of the application
//! [build]
//! rustflags = ["--cfg", "tokio_unstable"]
//! ```
//!
//! # Set-up
//!
//! `#[tokio::main]` cannot install hooks; build the runtime instead:
//!
//! - `ctx::rt_hooks::block_on(main_future)` is the replacement of
//!   `#[tokio::main]`: a multi-thread runtime with everything enabled and
//!   the hooks installed, driving the future in a root scope;
//! - `ctx::rt_hooks::runtime()` builds that runtime;
//! - `ctx::rt_hooks::install(&mut builder)` installs the hooks on your own
//!   `tokio::runtime::Builder` (any flavour);
//! - `Hooks` holds one runtime's state; its four methods are the four
//!   callbacks, for those who have hooks of their own (tokio keeps one
//!   callback per hook: call ctx's from yours).
//!
//! `block_on`'s documentation shows a whole program.
//!
//! # What the hooks do not cover
//!
//! tokio fires no hooks for some work; ctx's helpers cover it:
//!
//! - blocking tasks (`spawn_blocking`) fire only terminate: use
//!   [`ctx::spawn_blocking`](crate::spawn_blocking);
//! - `LocalSet` tasks fire nothing: use [`ctx::spawn_local`](crate::spawn_local);
//! - the future `block_on` drives is no task: it runs in the context around
//!   the `block_on` call (`block_on` here opens a root scope for it);
//! - values with replay functions (carried systems, such as
//!   `ctx::spans::carry`) are captured, but the hooks cannot run a poll
//!   inside their replay: spawn with `ctx::spawn`, which wraps such tasks;
//! - a task still pending when the runtime shuts down is dropped by tokio
//!   before its terminate hook, outside its context: its destructors see the
//!   thread's (empty) context, not the task's;
//! - a task spawned while another thread closes the runtime, in the few
//!   instructions between tokio's binding of the task and its spawn hook,
//!   can be shut down before the hook records its context: that context is
//!   then held until the runtime (its hooks) is dropped. (A task spawned on
//!   a runtime already closed is shut down before the spawn hook on the
//!   same thread: that case is recognised and nothing is held.)
//!
//! [`ctx::spawn`](crate::spawn) on a hooked runtime does not pay twice:
//! inside one of the runtime's tasks it spawns the plain future and hands
//! its capture to the spawn hook; elsewhere it wraps the future as usual
//! and tells the hook to capture nothing. Wrapping a future yourself
//! (`in_current_context`) and spawning it with plain `tokio::spawn` does
//! pay twice: both layers capture, the inner one wins.
//!
//! # Cost
//!
//! Per runtime, a map from task id to context, split into shards (a lock
//! and a table each, one cache line apart), indexed by a multiplicative
//! hash of the id: no global lock on the hot path. A task whose captured
//! context is empty gets no entry at all. Per poll, two short critical
//! sections in the task's shard (take the context, put it back) and two
//! pointer swaps in the thread's slot; nothing is cloned and nothing
//! allocates once the shard's table has grown. `BENCHMARKS.md` has the
//! figures.

#[cfg(tokio_unstable)]
mod hooks;

#[cfg(tokio_unstable)]
#[cfg_attr(docsrs, doc(cfg(tokio_unstable)))]
pub use hooks::{block_on, install, runtime, Hooks};
