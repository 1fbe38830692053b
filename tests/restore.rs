//! Invariant 4 (restore) and the drop rules: after a poll, a panic, an abort
//! or a drop mid-way, the thread holds exactly what it held before, and the
//! inner future's `Drop` runs inside its context.
#![allow(clippy::disallowed_methods)] // plain spawns on purpose: contextless baselines, wrapped work on plain threads, servers

mod support;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::Poll;

use ctx::{Context, FutureExt, Key};
use tokio_test::task;

static VALUE: Key<&'static str> = Key::new("value");

/// Records what `VALUE` held when it was dropped.
struct DropProbe {
    seen: Arc<Mutex<Vec<Option<&'static str>>>>,
}

impl Drop for DropProbe {
    fn drop(&mut self) {
        self.seen.lock().unwrap().push(VALUE.get());
    }
}

fn probe() -> (DropProbe, Arc<Mutex<Vec<Option<&'static str>>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    (DropProbe { seen: seen.clone() }, seen)
}

/// `inner` awaited inside a context where `VALUE` is `name`, holding a drop
/// probe that is declared first, so it drops after `inner`; returns the
/// future and what the probe saw.
fn probed(
    name: &'static str,
    inner: impl Future<Output = ()>,
) -> (
    impl Future<Output = ()>,
    Arc<Mutex<Vec<Option<&'static str>>>>,
) {
    let (p, seen) = probe();
    (probed_with(p, name, inner), seen)
}

/// [`probed`] with a given probe (several levels can share one log).
fn probed_with(
    p: DropProbe,
    name: &'static str,
    inner: impl Future<Output = ()>,
) -> impl Future<Output = ()> {
    async move {
        let _p = p;
        inner.await;
    }
    .in_context(Context::new().with(&VALUE, name))
}

/// A future that stays pending `n` times, writing to the context on each poll.
async fn pending_times(n: usize) {
    for i in 0..n {
        VALUE.set(if i % 2 == 0 { "even" } else { "odd" });
        tokio::task::yield_now().await;
    }
}

#[test]
fn every_poll_restores_the_outer_context() {
    let outer = Context::new().with(&VALUE, "outer");
    let _guard = outer.enter();
    let mut fut = task::spawn(pending_times(5).in_context(Context::new().with(&VALUE, "inner")));
    for _ in 0..5 {
        assert!(fut.poll().is_pending());
        assert_eq!(VALUE.get(), Some("outer"));
    }
    assert!(fut.poll().is_ready());
    assert_eq!(VALUE.get(), Some("outer"));
}

#[test]
fn writes_persist_in_the_future_between_polls() {
    let mut fut = task::spawn(
        async {
            VALUE.set("first");
            tokio::task::yield_now().await;
            VALUE.get()
        }
        .in_context(Context::new()),
    );
    assert!(fut.poll().is_pending());
    assert_eq!(VALUE.get(), None, "the write stays in the future");
    assert_eq!(fut.poll(), Poll::Ready(Some("first")));
}

#[test]
fn a_panicking_poll_restores_the_thread() {
    let outer = Context::new().with(&VALUE, "outer");
    outer.run(|| {
        let fut = async {
            VALUE.set("inside");
            panic!("poll panics");
        }
        .in_context(Context::new());
        let mut fut = Box::pin(fut);
        let waker = futures::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = fut.as_mut().poll(&mut cx);
        }));
        assert!(result.is_err());
        assert_eq!(VALUE.get(), Some("outer"));
    });
    // Back at the root: no scope, no value, writes refused again.
    assert_eq!(VALUE.get(), None);
    assert!(VALUE.try_set("x").unwrap_err().is_no_scope());
}

#[test]
fn drop_runs_inside_the_context_on_completion_and_mid_way() {
    // Completed.
    let (p, seen) = probe();
    let mut fut = task::spawn(
        async move {
            let _p = p;
        }
        .in_context(Context::new().with(&VALUE, "done")),
    );
    assert!(fut.poll().is_ready());
    drop(fut);
    assert_eq!(*seen.lock().unwrap(), [Some("done")]);

    // Dropped mid-way, outside any poll, with another context current.
    let (p, seen) = probe();
    let mut fut = task::spawn(
        async move {
            let _p = p;
            std::future::pending::<()>().await;
        }
        .in_context(Context::new().with(&VALUE, "mid-way")),
    );
    assert!(fut.poll().is_pending());
    Context::new().with(&VALUE, "other").run(|| {
        drop(fut);
        assert_eq!(VALUE.get(), Some("other"), "drop restores the thread");
    });
    assert_eq!(*seen.lock().unwrap(), [Some("mid-way")]);

    // Never polled: the future's captured values are still dropped inside.
    let (p, seen) = probe();
    let fut = async move {
        let _p = p;
    }
    .in_context(Context::new().with(&VALUE, "never polled"));
    drop(fut);
    assert_eq!(*seen.lock().unwrap(), [Some("never polled")]);
}

#[test]
fn abort_and_panic_drop_inside_the_context_across_spawn() {
    for rt in support::runtimes() {
        rt.block_on(async {
            support::warm_up().await;
            // Aborted task.
            let (p, seen) = probe();
            let (started_tx, started_rx) = tokio::sync::oneshot::channel();
            let task = VALUE.sync_scope("aborted", || {
                ctx::spawn(async move {
                    let _p = p;
                    started_tx.send(()).unwrap();
                    std::future::pending::<()>().await;
                })
            });
            started_rx.await.unwrap();
            task.abort();
            assert!(task.await.unwrap_err().is_cancelled());
            assert_eq!(*seen.lock().unwrap(), [Some("aborted")]);

            // Panicking task: locals drop while unwinding, inside the context.
            let (p, seen) = probe();
            let task = VALUE.sync_scope("panicked", || {
                ctx::spawn(async move {
                    let _p = p;
                    tokio::task::yield_now().await;
                    panic!("task panics");
                })
            });
            assert!(task.await.unwrap_err().is_panic());
            assert_eq!(*seen.lock().unwrap(), [Some("panicked")]);

            // The workers hold nothing afterwards.
            for _ in 0..8 {
                let seen = tokio::spawn(async { VALUE.get() }).await.unwrap();
                assert_eq!(seen, None);
            }
        });
    }
}

#[test]
fn a_wrapped_closure_restores_after_panic() {
    // What the closure saw, recorded before it panics (an assertion inside
    // it would be swallowed by the `catch_unwind`).
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let f = VALUE.sync_scope("wrapped", || {
        let seen = seen.clone();
        ctx::wrap(move || {
            *seen.lock().unwrap() = Some(VALUE.get());
            panic!("closure panics");
        })
    });
    let outer = Context::new().with(&VALUE, "outer");
    outer.run(|| {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        assert!(r.is_err());
        assert_eq!(VALUE.get(), Some("outer"));
    });
    assert_eq!(*seen.lock().unwrap(), Some(Some("wrapped")));
}

#[test]
fn stream_polls_run_inside_the_context() {
    use ctx::StreamExt as _;
    use futures::StreamExt;

    let stream = futures::stream::iter(0..3).then(|i| async move {
        tokio::task::yield_now().await;
        (i, VALUE.get())
    });
    let stream = stream.in_context(Context::new().with(&VALUE, "stream"));
    let mut stream = task::spawn(stream);
    let mut items = Vec::new();
    loop {
        match stream.poll_next() {
            Poll::Ready(Some(item)) => items.push(item),
            Poll::Ready(None) => break,
            Poll::Pending => assert_eq!(VALUE.get(), None),
        }
    }
    assert_eq!(
        items,
        [
            (0, Some("stream")),
            (1, Some("stream")),
            (2, Some("stream"))
        ]
    );
}

#[test]
fn accessors_expose_the_context_and_inner() {
    let fut = std::future::ready(3).in_context(Context::new().with(&VALUE, "a"));
    assert_eq!(fut.context().get(&VALUE), Some(&"a"));
    let (inner, cx) = fut.into_parts();
    assert_eq!(cx.get(&VALUE), Some(&"a"));
    // Taking it apart installs nothing and leaves no scope open.
    assert_eq!(VALUE.get(), None);
    assert!(VALUE.try_set("x").unwrap_err().is_no_scope());
    let mut fut = inner.in_context(cx);
    assert_eq!(fut.inner_mut().clone().into_inner(), 3);
}

#[test]
fn nested_drops_each_see_their_own_context() {
    let (inner, inner_seen) = probed("inner", std::future::pending());
    let (outer, outer_seen) = probed("outer", inner);
    drop_pending_in_thread_scope(outer);
    assert_eq!(*inner_seen.lock().unwrap(), [Some("inner")]);
    assert_eq!(*outer_seen.lock().unwrap(), [Some("outer")]);
}

/// Polls `fut` once (it must stay pending), then drops it inside a scope
/// where `VALUE` is "thread": the thread must get that value back, and no
/// scope may be left open afterwards.
fn drop_pending_in_thread_scope(fut: impl Future<Output = ()>) {
    let mut fut = task::spawn(fut);
    assert!(fut.poll().is_pending());
    Context::new().with(&VALUE, "thread").run(|| {
        drop(fut);
        assert_eq!(VALUE.get(), Some("thread"));
    });
    assert_eq!(VALUE.get(), None);
    assert!(VALUE.try_set("x").unwrap_err().is_no_scope());
}

#[test]
fn deeply_nested_drops_unwind_in_order() {
    // Three levels: the outermost parks in the thread's slot, the two inner
    // ones on the per-thread stack. Twice in a row: the stack is reused.
    for _ in 0..2 {
        let (p3, log) = probe();
        let p2 = DropProbe { seen: log.clone() };
        let p1 = DropProbe { seen: log.clone() };
        let level3 = probed_with(p3, "three", std::future::pending());
        let level2 = probed_with(p2, "two", level3);
        let level1 = probed_with(p1, "one", level2);
        let mut level1 = task::spawn(level1);
        assert!(level1.poll().is_pending());
        drop(level1);
        // Innermost first, each inside its own context.
        assert_eq!(
            *log.lock().unwrap(),
            [Some("three"), Some("two"), Some("one")]
        );
        // Back to no scope at all.
        assert_eq!(VALUE.get(), None);
        assert!(VALUE.try_set("x").unwrap_err().is_no_scope());
    }
}

#[test]
fn a_dropped_future_releases_its_context_once_after_restoring_the_thread() {
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts its drops: shows when the context holding it is released.
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    static HELD: Key<Counted> = Key::new("held");

    // Nested in another level: the inner context is released once, and
    // the outer level and the thread see their own.
    let released = Arc::new(AtomicUsize::new(0));
    let cx = Context::new()
        .with(&VALUE, "inner")
        .with(&HELD, Counted(released.clone()));
    let inner = std::future::pending::<()>().in_context(cx);
    let (outer, outer_seen) = probed("outer", inner);
    drop_pending_in_thread_scope(outer);
    // The outer level's drop saw its own context.
    assert_eq!(*outer_seen.lock().unwrap(), [Some("outer")]);
    assert_eq!(released.load(Ordering::SeqCst), 1, "context not released");

    // Alone, on a thread inside a scope: released once, and not left
    // installed.
    let released = Arc::new(AtomicUsize::new(0));
    let lone = std::future::pending::<()>()
        .in_context(Context::new().with(&HELD, Counted(released.clone())));
    Context::new().with(&VALUE, "thread").run(|| {
        drop(lone);
        assert_eq!(VALUE.get(), Some("thread"));
        assert!(HELD.with(|h| h.is_none()));
    });
    assert_eq!(released.load(Ordering::SeqCst), 1);
}

#[test]
fn borrows_of_a_wrapped_future_need_not_outlive_the_wrapper() {
    // Compiles only while `Instrumented`'s drop hooks do not depend on the
    // future's type: a `Drop` impl generic over it would make `x` have to
    // outlive `fut` (E0597), as it does not here (`x` is dropped first).
    let mut fut;
    let x = 5u32;
    fut = std::future::ready(&x).in_context(Context::new().with(&VALUE, "v"));
    assert_eq!(*tokio_test::block_on(&mut fut), 5);
    assert_eq!(fut.context().get(&VALUE), Some(&"v"));
}
