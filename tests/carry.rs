//! Carried contexts: a `thread_local!` of the user's, registered once with
//! `ctx::carry`, follows every spawn helper (captured at the spawn, replayed
//! around every run, restored after it, also on panic and abort), and is
//! never left on a pooled thread.
#![allow(clippy::disallowed_methods)] // plain spawns on purpose: contextless baselines, wrapped work on plain threads, servers

mod support;

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use ctx::carry::{self, Carrier};
use ctx::{FutureExt, JoinSetExt, Key, StreamExt};
use futures::StreamExt as _;
use support::{hop, on_both_runtimes};

thread_local! {
    /// The user's own per-thread context: 0 means "none".
    static TENANT: Cell<u32> = const { Cell::new(0) };
}

/// How many replays are running (installed and not yet restored).
static LIVE: AtomicUsize = AtomicUsize::new(0);

static CARRIED: Key<u32> = Key::new("tenant").with_replay(|tenant, run| {
    struct Restore(u32);
    impl Drop for Restore {
        fn drop(&mut self) {
            TENANT.set(self.0);
            LIVE.fetch_sub(1, Ordering::SeqCst);
        }
    }
    LIVE.fetch_add(1, Ordering::SeqCst);
    let _restore = Restore(TENANT.replace(*tenant));
    run();
});

static TENANTS: Carrier = Carrier::new("tenant", |cx| {
    let tenant = TENANT.get();
    (tenant != 0 && cx.get(&CARRIED) != Some(&tenant)).then(|| cx.with(&CARRIED, tenant))
});

/// Registers the carrier, and runs the tests of this file one at a time
/// (they count live replays, which are global).
fn register() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    carry::register(&TENANTS).expect("room for the carrier");
    // Registering again is a no-op.
    carry::register(&TENANTS).unwrap();
    assert_eq!(
        carry::registered().filter(|c| c.name() == "tenant").count(),
        1
    );
    serial
}

/// Runs `f` in a task whose thread-local holds `tenant` for each of its
/// polls (the way a carried value is installed).
fn as_tenant<F: std::future::Future>(tenant: u32, f: F) -> ctx::Scoped<F> {
    CARRIED.scope(tenant, f)
}

#[test]
fn a_carried_thread_local_follows_every_spawn_helper() {
    let _serial = register();
    on_both_runtimes(|| {
        as_tenant(7, async {
            assert_eq!(TENANT.get(), 7, "the parent's own polls");
            let task = ctx::spawn(async {
                hop().await;
                TENANT.get()
            });
            let blocking = ctx::spawn_blocking(|| TENANT.get());
            let thread = ctx::thread::spawn(|| TENANT.get());
            let handle = tokio::runtime::Handle::current();
            let on = ctx::spawn_on(&handle, async { TENANT.get() });
            let blocking_on = ctx::spawn_blocking_on(&handle, || TENANT.get());
            let mut set = tokio::task::JoinSet::new();
            set.ctx_spawn(async {
                hop().await;
                TENANT.get()
            });
            set.ctx_spawn_blocking(|| TENANT.get());
            let wrapped = ctx::wrap(|| TENANT.get());
            let wrapped_fn = ctx::wrap_fn(|n: u32| TENANT.get() + n);
            let stream = futures::stream::iter([1, 2])
                .then(|n| async move {
                    hop().await;
                    (n, TENANT.get())
                })
                .in_current_context();
            let later = async { TENANT.get() }.in_current_context();

            assert_eq!(task.await.unwrap(), 7);
            assert_eq!(blocking.await.unwrap(), 7);
            assert_eq!(thread.join().unwrap(), 7);
            assert_eq!(on.await.unwrap(), 7);
            assert_eq!(blocking_on.await.unwrap(), 7);
            while let Some(seen) = set.join_next().await {
                assert_eq!(seen.unwrap(), 7);
            }
            assert_eq!(std::thread::spawn(wrapped).join().unwrap(), 7);
            assert_eq!(std::thread::spawn(move || wrapped_fn(1)).join().unwrap(), 8);
            assert_eq!(stream.collect::<Vec<_>>().await, [(1, 7), (2, 7)]);
            // A plain spawn does not carry it, and the worker it runs on
            // holds none: the parent's value was restored after each poll.
            assert_eq!(tokio::spawn(async { TENANT.get() }).await.unwrap(), 0);
            // Captured at creation: a later change is not seen.
            let captured_then = as_tenant(9, later).await;
            assert_eq!(captured_then, 7);
        })
    });
    assert_eq!(TENANT.get(), 0, "the test thread holds nothing");
    assert_eq!(LIVE.load(Ordering::SeqCst), 0, "every replay restored");
}

#[test]
fn a_carried_thread_local_follows_spawn_local() {
    let _serial = register();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(
        &rt,
        as_tenant(3, async {
            let child = ctx::spawn_local(async {
                hop().await;
                TENANT.get()
            });
            let mut set = tokio::task::JoinSet::new();
            set.ctx_spawn_local(async { TENANT.get() });
            assert_eq!(child.await.unwrap(), 3);
            assert_eq!(set.join_next().await.unwrap().unwrap(), 3);
        }),
    );
    assert_eq!(TENANT.get(), 0);
}

#[test]
fn a_panicking_run_restores_the_thread_local() {
    let _serial = register();
    let job = as_tenant_sync(5, || ctx::wrap(|| panic!("boom")));
    let before = TENANT.get();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
    assert!(r.is_err());
    assert_eq!(TENANT.get(), before, "restored on unwind");

    on_both_runtimes(|| {
        as_tenant(5, async {
            let panicked = ctx::spawn(async {
                hop().await;
                assert_eq!(TENANT.get(), 5);
                panic!("task panics");
            });
            assert!(panicked.await.unwrap_err().is_panic());
            let blocking = ctx::spawn_blocking(|| -> u32 { panic!("blocking panics") });
            assert!(blocking.await.unwrap_err().is_panic());
            // Every worker and blocking thread is clean again.
            for _ in 0..8 {
                assert_eq!(tokio::spawn(async { TENANT.get() }).await.unwrap(), 0);
                let plain = tokio::task::spawn_blocking(|| TENANT.get());
                assert_eq!(plain.await.unwrap(), 0);
            }
        })
    });
    assert_eq!(LIVE.load(Ordering::SeqCst), 0);
}

#[test]
fn an_aborted_task_leaves_nothing_behind() {
    let _serial = register();
    on_both_runtimes(|| {
        as_tenant(11, async {
            let (started_tx, started_rx) = tokio::sync::oneshot::channel();
            let task = ctx::spawn(async move {
                let _ = started_tx.send(TENANT.get());
                std::future::pending::<()>().await;
            });
            assert_eq!(started_rx.await.unwrap(), 11);
            task.abort();
            assert!(task.await.unwrap_err().is_cancelled());
            for _ in 0..8 {
                assert_eq!(tokio::spawn(async { TENANT.get() }).await.unwrap(), 0);
            }
        })
    });
    assert_eq!(LIVE.load(Ordering::SeqCst), 0);
}

#[test]
fn a_context_without_the_value_replays_nothing() {
    let _serial = register();
    // Outside any tenant: the carrier adds nothing, and nothing is installed.
    let job = ctx::wrap(|| (TENANT.get(), CARRIED.get()));
    assert_eq!(std::thread::spawn(job).join().unwrap(), (0, None));
    // `Context::run` replays the value on a thread that never saw it; a
    // copy without the key replays nothing.
    let with = as_tenant_sync(4, ctx::Context::current);
    let without = with.without(&CARRIED);
    let run = move || with.run(|| TENANT.get());
    assert_eq!(std::thread::spawn(run).join().unwrap(), 4);
    let run = move || without.run(|| (TENANT.get(), CARRIED.get()));
    assert_eq!(std::thread::spawn(run).join().unwrap(), (0, None));
}

/// Runs `f` with the tenant installed the way a carried value is.
fn as_tenant_sync<R>(tenant: u32, f: impl FnOnce() -> R) -> R {
    CARRIED.sync_scope(tenant, f)
}

#[test]
fn a_replay_function_that_catches_the_works_panic_keeps_its_message() {
    // A replay function that contains a panic of the work (as a
    // `beforeExecute`/`afterExecute` pair might, to report it) and returns.
    static CONTAINS: Key<u32> = Key::new("contains").with_replay(|_, run| {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run));
    });
    let cx = ctx::Context::new().with(&CONTAINS, 1);
    let r = std::panic::catch_unwind(|| cx.run(|| -> u32 { panic!("the work's own panic") }));
    let payload = r.unwrap_err();
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    // It called `run` once, as documented; the panic that reaches the
    // caller should not say it skipped the work.
    assert!(
        !message.contains("skipped its work"),
        "the caller sees: {message:?}"
    );
}

#[test]
fn a_scope_of_another_key_does_not_reinstall_an_older_carried_value() {
    let _serial = register();
    static USER: Key<u32> = Key::new("user");
    /// The user's own scoped setter for their thread-local.
    fn with_tenant<R>(tenant: u32, f: impl FnOnce() -> R) -> R {
        struct Back(u32);
        impl Drop for Back {
            fn drop(&mut self) {
                TENANT.set(self.0);
            }
        }
        let _back = Back(TENANT.replace(tenant));
        f()
    }
    let seen = as_tenant_sync(7, || {
        with_tenant(8, || {
            let direct = TENANT.get();
            // A capture takes the thread-local as it is now...
            let wrapped = ctx::wrap(|| TENANT.get())();
            // ...but a scope of an unrelated ctx key replays the value the
            // context captured earlier, undoing the user's own change.
            let sync = USER.sync_scope(1, || TENANT.get());
            let fut = futures::executor::block_on(USER.scope(1, async { TENANT.get() }));
            (direct, wrapped, sync, fut)
        })
    });
    assert_eq!(seen, (8, 8, 8, 8));
}

/// TransmittableThreadLocal's `beforeExecute`/`afterExecute`: a carrier
/// that marks every captured context, and the mark's replay function as the
/// callbacks around each run of the child (each poll, each closure call),
/// the after one also when the run panics.
#[test]
fn lifecycle_callbacks_run_before_and_after_every_run_of_a_child() {
    let _serial = register();
    static BEFORE: AtomicUsize = AtomicUsize::new(0);
    static AFTER: AtomicUsize = AtomicUsize::new(0);
    static RUNS: Key<()> = Key::new("lifecycle").with_replay(|(), run| {
        struct After;
        impl Drop for After {
            fn drop(&mut self) {
                AFTER.fetch_add(1, Ordering::SeqCst);
            }
        }
        BEFORE.fetch_add(1, Ordering::SeqCst);
        let _after = After;
        run();
    });
    static LIFECYCLE: Carrier = Carrier::new("lifecycle", |cx| {
        (!cx.contains(&RUNS)).then(|| cx.with(&RUNS, ()))
    });
    carry::register(&LIFECYCLE).unwrap();
    fn counts() -> (usize, usize) {
        (BEFORE.load(Ordering::SeqCst), AFTER.load(Ordering::SeqCst))
    }

    // A wrapped closure: one run.
    let (b0, a0) = counts();
    let job = ctx::wrap(counts);
    let inside = std::thread::spawn(job).join().unwrap();
    assert_eq!(inside, (b0 + 1, a0), "before ran, after not yet");
    assert_eq!(counts(), (b0 + 1, a0 + 1));
    // A panicking one: after runs all the same.
    let job = ctx::wrap(|| panic!("boom"));
    assert!(std::thread::spawn(job).join().is_err());
    assert_eq!(counts(), (b0 + 2, a0 + 2));

    // A task: once around each of its polls.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (b1, a1) = counts();
    let polls = rt.block_on(async {
        ctx::spawn(async {
            for _ in 0..3 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .unwrap();
        counts()
    });
    assert_eq!(
        polls,
        (b1 + 4, a1 + 4),
        "four polls, each with both callbacks"
    );
    let (b2, a2) = counts();
    let blocking = rt.block_on(async { ctx::spawn_blocking(counts).await.unwrap() });
    assert_eq!(blocking, (b2 + 1, a2));
    assert_eq!(counts(), (b2 + 1, a2 + 1));
}
