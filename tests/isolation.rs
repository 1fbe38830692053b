//! Writes where no scope is open, values on worker threads, and a stress run
//! of thousands of tasks hopping across spawn, spawn_blocking, nested spawn
//! and `select!`.
#![allow(clippy::disallowed_methods)] // plain spawns on purpose: contextless baselines, wrapped work on plain threads, servers

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ctx::{Context, FutureExt, Key};

static VALUE: Key<u64> = Key::new("value");

#[test]
fn plain_tasks_cannot_leave_values_on_a_worker() {
    for rt in support::runtimes() {
        rt.block_on(async {
            support::warm_up().await;
            let mut writers = Vec::new();
            for i in 0..64u64 {
                writers.push(tokio::spawn(async move {
                    // No scope: the write is refused, not parked on the thread.
                    let refused = VALUE.try_set(i).unwrap_err().is_no_scope();
                    // `set` says so loudly (and leaves nothing either).
                    let loud = std::panic::catch_unwind(|| VALUE.set(i)).is_err();
                    tokio::task::yield_now().await;
                    (refused, loud, VALUE.get())
                }));
            }
            for w in writers {
                assert_eq!(w.await.unwrap(), (true, true, None));
            }
            let mut readers = Vec::new();
            for _ in 0..64 {
                readers.push(tokio::spawn(async { VALUE.get() }));
                readers.push(tokio::task::spawn_blocking(|| VALUE.get()));
            }
            for r in readers {
                assert_eq!(r.await.unwrap(), None);
            }
        });
    }
}

#[test]
fn a_bare_thread_refuses_writes_and_stays_empty() {
    std::thread::spawn(|| {
        assert!(std::panic::catch_unwind(|| VALUE.set(1)).is_err());
        assert!(VALUE.try_set(1).unwrap_err().is_no_scope());
        assert_eq!(VALUE.get(), None);
        assert!(VALUE.try_remove().unwrap_err().is_no_scope());
        // The root scope for such a thread: run its body in a context.
        Context::new().run(|| {
            VALUE.set(2);
            assert_eq!(VALUE.get(), Some(2));
        });
        assert_eq!(VALUE.get(), None);
    })
    .join()
    .unwrap();
}

#[test]
fn scoped_writes_never_reach_plain_tasks_on_the_same_thread() {
    // One worker: every task runs on this thread, interleaved.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let leaks = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..200u64 {
            tasks.push(tokio::spawn(
                async move {
                    for _ in 0..5 {
                        VALUE.set(i);
                        tokio::task::yield_now().await;
                        assert_eq!(VALUE.get(), Some(i));
                    }
                }
                .in_context(Context::new()),
            ));
            let leaks = leaks.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..5 {
                    if VALUE.get().is_some() {
                        leaks.fetch_add(1, Ordering::Relaxed);
                    }
                    tokio::task::yield_now().await;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(leaks.load(Ordering::Relaxed), 0);
    });
}

/// A current-thread runtime driven inside a synchronous scope polls its
/// plain tasks inside that scope: they may read the scope's values, but a
/// write from one of them is refused, so they cannot pass values to each
/// other or to the closure.
#[test]
fn plain_tasks_of_a_runtime_driven_inside_a_scope_cannot_write() {
    fn drive() -> (bool, Option<u64>, Option<u64>, Option<u64>, Option<u64>) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let refused = tokio::spawn(async {
                let e = VALUE.try_set(2).unwrap_err();
                let loud = std::panic::catch_unwind(|| VALUE.set(3)).unwrap_err();
                let msg = loud.downcast_ref::<String>().cloned().unwrap_or_default();
                e.is_other_task() && msg.contains("another task") && msg.contains("ctx::spawn")
            })
            .await
            .unwrap();
            let sibling = tokio::spawn(async { VALUE.get() }).await.unwrap();
            // A ctx task has a scope of its own: it writes, and keeps it.
            let own = ctx::spawn(async {
                VALUE.set(4);
                tokio::task::yield_now().await;
                VALUE.get()
            })
            .await
            .unwrap();
            let after_own = tokio::spawn(async { VALUE.get() }).await.unwrap();
            // The closure's own future is no task: its writes are its scope's.
            VALUE.set(5);
            (refused, sibling, own, after_own, VALUE.get())
        })
    }
    let expected = (true, Some(1), Some(4), Some(1), Some(5));
    // Inside `sync_scope`, and on a ctx thread (whose closure is a scope).
    assert_eq!(VALUE.sync_scope(1, drive), expected);
    let on_thread = VALUE.sync_scope(1, || ctx::thread::spawn(drive).join().unwrap());
    assert_eq!(on_thread, expected);
    // The scope's own writes are still accepted around the runtime.
    VALUE.sync_scope(1, || {
        drive();
        VALUE.set(6);
        assert_eq!(VALUE.get(), Some(6));
    });
}

/// A scope opened inside a task belongs to that task, also on a blocking
/// thread.
#[test]
fn a_scope_opened_in_a_task_takes_that_tasks_writes() {
    for rt in support::runtimes() {
        rt.block_on(async {
            // A plain task opening a scope of its own writes in it.
            let seen = tokio::spawn(async {
                Context::new().with(&VALUE, 1).run(|| {
                    VALUE.set(2);
                    VALUE.get()
                })
            })
            .await
            .unwrap();
            assert_eq!(seen, Some(2));
            let blocking = VALUE
                .scope(7, async {
                    ctx::spawn_blocking(|| {
                        VALUE.set(8);
                        VALUE.get()
                    })
                    .await
                    .unwrap()
                })
                .await;
            assert_eq!(blocking, Some(8));
        });
    }
}

/// Each request-like task carries a unique id through every hop and checks
/// it at each one; plain tasks run alongside and must see nothing.
#[test]
fn stress_thousands_of_tasks_zero_mismatches() {
    const TASKS: u64 = 4_000;
    for rt in support::runtimes() {
        let mismatches = Arc::new(AtomicUsize::new(0));
        let checks = Arc::new(AtomicUsize::new(0));
        rt.block_on(async {
            support::warm_up().await;
            let mut set = tokio::task::JoinSet::new();
            for id in 0..TASKS {
                let (bad, checks) = (mismatches.clone(), checks.clone());
                let check = move |seen: Option<u64>| {
                    checks.fetch_add(1, Ordering::Relaxed);
                    if seen != Some(id) {
                        bad.fetch_add(1, Ordering::Relaxed);
                    }
                };
                set.spawn(VALUE.scope(id, async move {
                    check(VALUE.get());
                    tokio::task::yield_now().await;
                    check(VALUE.get());
                    let check2 = check.clone();
                    let nested = ctx::spawn(async move {
                        tokio::task::yield_now().await;
                        check2(VALUE.get());
                        let check3 = check2.clone();
                        ctx::spawn(async move { check3(VALUE.get()) }).await.unwrap();
                        let check4 = check2.clone();
                        ctx::spawn_blocking(move || check4(VALUE.get()))
                            .await
                            .unwrap();
                        VALUE.get()
                    });
                    check(nested.await.unwrap());
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_micros(id % 7)) => check(VALUE.get()),
                        _ = ctx::spawn(async { tokio::task::yield_now().await }) => check(VALUE.get()),
                    }
                    check(VALUE.get());
                }));
                if id % 4 == 0 {
                    let bad = mismatches.clone();
                    set.spawn(async move {
                        tokio::task::yield_now().await;
                        if VALUE.get().is_some() {
                            bad.fetch_add(1, Ordering::Relaxed);
                        }
                    });
                }
            }
            while let Some(r) = set.join_next().await {
                r.unwrap();
            }
        });
        assert_eq!(mismatches.load(Ordering::Relaxed), 0);
        assert_eq!(checks.load(Ordering::Relaxed) as u64, TASKS * 8);
    }
}

/// A future driven with `Handle::block_on` from a blocking closure is that
/// closure's own work: its writes are accepted.
#[test]
fn block_on_inside_a_blocking_closure_writes_in_its_scope() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let seen = rt.block_on(VALUE.scope(1, async {
        let handle = tokio::runtime::Handle::current();
        ctx::spawn_blocking(move || {
            handle.block_on(async { VALUE.try_set(2).map(|()| VALUE.get()) })
        })
        .await
        .unwrap()
    }));
    assert_eq!(seen, Ok(Some(2)));
}
