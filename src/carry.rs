//! Carrying other per-thread context systems with ctx's, in one hop.
//!
//! A service has more per-thread contexts than ctx's own: `tracing`'s
//! current span, opentelemetry's `Context`, its own `thread_local!`s. Each
//! is lost at every spawn, like a thread-local, unless something carries it.
//! ctx carries them with its own context, with the same guarantees, in two
//! halves (TransmittableThreadLocal's `Transmittee`):
//!
//! - **Capture**: a registered [`Carrier`] reads the other system's current
//!   value on the parent's side, whenever ctx captures a context for a child
//!   (every spawn helper, [`wrap`](crate::wrap), [`wrap_fn`](crate::wrap_fn),
//!   [`FutureExt::in_current_context`](crate::FutureExt::in_current_context),
//!   streams), and puts it in the child's context under a key of its own.
//! - **Replay and restore**: that key's replay function
//!   ([`Key::with_replay`](crate::Key::with_replay)) installs the value in its system around every
//!   run of the child (each poll, each closure call) and puts back what was
//!   there after, also when the run panics. It is also the place for
//!   callbacks before and after a task runs in a context
//!   (TransmittableThreadLocal's `beforeExecute`/`afterExecute`).
//!
//! Registration is static: a carrier is a `static`, registered once (at
//! start-up, typically), and capture reads the registered list without a
//! lock. With nothing registered, capture costs one atomic load more; work
//! whose context holds no value with a replay function pays one branch per
//! poll.
//!
//! # Examples
//!
//! Carrying a `thread_local!` of one's own into every child:
//!
//! ```
//! use std::cell::Cell;
//! use ctx::carry::{self, Carrier};
//! use ctx::Key;
//!
//! thread_local! {
//!     static TENANT: Cell<u32> = const { Cell::new(0) };
//! }
//!
//! // The key holds the captured value and installs it for each run.
//! static CARRIED_TENANT: Key<u32> = Key::new("tenant").with_replay(|tenant, run| {
//!     struct Restore(u32);
//!     impl Drop for Restore {
//!         fn drop(&mut self) {
//!             TENANT.set(self.0);
//!         }
//!     }
//!     let _restore = Restore(TENANT.replace(*tenant));
//!     run();
//! });
//!
//! // The carrier reads it on the parent's side, at every capture.
//! static TENANTS: Carrier = Carrier::new("tenant", |cx| {
//!     let tenant = TENANT.get();
//!     (cx.get(&CARRIED_TENANT) != Some(&tenant)).then(|| cx.with(&CARRIED_TENANT, tenant))
//! });
//!
//! carry::register(&TENANTS).unwrap();
//!
//! TENANT.set(7);
//! let job = ctx::wrap(|| TENANT.get());
//! TENANT.set(0);
//! assert_eq!(std::thread::spawn(job).join().unwrap(), 7);
//! ```

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::context::Context;

/// The most carriers that can be registered.
pub const MAX_CARRIERS: usize = 16;

/// Another context system carried with ctx's: a name and its capture
/// function.
///
/// `capture` runs on the parent's side each time ctx captures a context for
/// a child, with the context about to be handed over; it returns that
/// context with the other system's current value added (under a key with a
/// replay function), or `None` to hand it over unchanged. Returning `None`
/// when the value is already there keeps capture free of allocation.
///
/// See the [module docs](self) for an example.
pub struct Carrier {
    name: &'static str,
    capture: fn(&Context) -> Option<Context>,
}

impl Carrier {
    /// A carrier named `name` (for `Debug` output) that captures with
    /// `capture`.
    pub const fn new(name: &'static str, capture: fn(&Context) -> Option<Context>) -> Carrier {
        Carrier { name, capture }
    }

    /// The carrier's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl fmt::Debug for Carrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Carrier").field("name", &self.name).finish()
    }
}

/// Why a carrier could not be registered: [`MAX_CARRIERS`] are already.
#[derive(Clone, PartialEq, Eq)]
pub struct RegisterError {
    _priv: (),
}

impl fmt::Debug for RegisterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RegisterError")
    }
}

impl fmt::Display for RegisterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no room for another carrier: {MAX_CARRIERS} are registered"
        )
    }
}

impl std::error::Error for RegisterError {}

static CARRIERS: [OnceLock<&'static Carrier>; MAX_CARRIERS] =
    [const { OnceLock::new() }; MAX_CARRIERS];
/// How many of `CARRIERS` are set: written after the slot, read before it.
static REGISTERED: AtomicUsize = AtomicUsize::new(0);
/// Serialises registrations (never taken on the capture path).
static REGISTERING: Mutex<()> = Mutex::new(());

/// Registers `carrier`: from now on, every capture on every thread runs it.
/// Registering the same `static` again does nothing.
///
/// # Errors
///
/// Fails when [`MAX_CARRIERS`] carriers are registered already.
pub fn register(carrier: &'static Carrier) -> Result<(), RegisterError> {
    // A poisoned lock only means a registration panicked before it wrote
    // anything: the slots are as consistent as ever.
    let _lock = REGISTERING.lock().unwrap_or_else(|e| e.into_inner());
    let len = REGISTERED.load(Ordering::Acquire);
    if registered().take(len).any(|c| std::ptr::eq(c, carrier)) {
        return Ok(());
    }
    let slot = CARRIERS.get(len).ok_or(RegisterError { _priv: () })?;
    if slot.set(carrier).is_err() {
        // Unreachable: slots past `REGISTERED` are empty, and only this
        // function, under the lock, fills them.
        return Err(RegisterError { _priv: () });
    }
    REGISTERED.store(len + 1, Ordering::Release);
    Ok(())
}

/// The registered carriers, in registration order.
pub fn registered() -> impl Iterator<Item = &'static Carrier> {
    let len = REGISTERED.load(Ordering::Acquire);
    CARRIERS[..len]
        .iter()
        .filter_map(|slot| slot.get().copied())
}

/// `cx` with every registered carrier's value captured into it.
#[inline]
pub(crate) fn captured(cx: Context) -> Context {
    if REGISTERED.load(Ordering::Acquire) == 0 {
        return cx;
    }
    capture_all(cx)
}

#[cold]
#[inline(never)]
fn capture_all(mut cx: Context) -> Context {
    for carrier in registered() {
        if let Some(with) = (carrier.capture)(&cx) {
            cx = with;
        }
    }
    cx
}
