//! Wrappers for closures handed to any executor: rayon, custom thread pools,
//! callbacks.

use crate::context::Context;
use crate::slot::run_owned;

/// Wraps a closure so that it runs in the caller's context, wherever and
/// whenever it is called: TransmittableThreadLocal's `TtlRunnable`.
///
/// The context is captured now; when the closure runs, the context is
/// installed on that thread and the thread's previous one is restored
/// afterwards (also if the closure panics). Use it with any executor that
/// takes `FnOnce() + Send`.
///
/// # Examples
///
/// ```
/// use ctx::Key;
///
/// static ORDER: Key<u64> = Key::new("order");
///
/// let job = ORDER.sync_scope(77, || ctx::wrap(|| ORDER.get()));
/// // Runs on a thread that never saw the value.
/// let seen = std::thread::spawn(job).join().unwrap();
/// assert_eq!(seen, Some(77));
/// ```
pub fn wrap<F, R>(f: F) -> impl FnOnce() -> R
where
    F: FnOnce() -> R,
{
    let cx = Context::capture();
    move || run_owned(cx, f)
}

/// Wraps a closure that is called many times (rayon's `for_each` and `map`,
/// callbacks) so that every call runs in the caller's context.
///
/// Each call starts from the captured snapshot: writes made inside one call
/// are not seen by the next. The captured context is shared by all calls
/// (entering it costs a reference count, no allocation), so the wrapper is
/// `Send + Sync` whenever `f` is. For more than one argument, pass a tuple,
/// or capture a [`Context`] and call [`Context::run`] yourself.
///
/// # Examples
///
/// ```
/// use ctx::Key;
///
/// static BATCH: Key<u32> = Key::new("batch");
///
/// let double = BATCH.sync_scope(4, || ctx::wrap_fn(|x: u32| x * BATCH.get().unwrap()));
/// // Hand it to a pool of threads: each call sees the batch.
/// let results: Vec<u32> = std::thread::scope(|s| {
///     let double = &double;
///     let handles: Vec<_> = (1..=3).map(|x| s.spawn(move || double(x))).collect();
///     handles.into_iter().map(|h| h.join().unwrap()).collect()
/// });
/// assert_eq!(results, [4, 8, 12]);
/// ```
pub fn wrap_fn<F, A, R>(f: F) -> impl Fn(A) -> R
where
    F: Fn(A) -> R,
{
    let cx = Context::capture();
    move |arg| cx.run(|| f(arg))
}
