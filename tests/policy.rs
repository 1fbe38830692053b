#![allow(clippy::disallowed_methods)] // plain spawns show where the policies do not apply
//! Per-key propagation policies: a fork policy (`Key::with_fork`) runs when
//! a context is handed to a child, by every helper, and never when the
//! parent reads; a local-only key (`Key::local`) never reaches a child.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use ctx::{Context, FutureExt, JoinSetExt, Key, StreamExt as _};
use futures::StreamExt;
use support::{hop, on_both_runtimes};

/// How many times `HOPS`'s fork function ran.
static FORKS: AtomicUsize = AtomicUsize::new(0);

static HOPS: Key<u32> = Key::new("hops").with_fork(|n| {
    FORKS.fetch_add(1, Ordering::SeqCst);
    n + 1
});
static TX: Key<&'static str> = Key::local("tx");
static PLAIN: Key<&'static str> = Key::new("plain");

/// What a child sees of the three keys.
type Seen = (Option<u32>, Option<&'static str>, Option<&'static str>);

fn seen() -> Seen {
    (HOPS.get(), TX.get(), PLAIN.get())
}

/// What a child of the parent in `parent_cx` must see.
const CHILD: Seen = (Some(1), None, Some("p"));
/// What the parent itself sees.
const PARENT: Seen = (Some(0), Some("tx-1"), Some("p"));

fn parent_cx() -> Context {
    Context::new()
        .with(&HOPS, 0)
        .with(&TX, "tx-1")
        .with(&PLAIN, "p")
}

/// The tests count fork calls, which are global: one at a time.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn every_async_helper_applies_the_policies() {
    let _serial = serial();
    on_both_runtimes(|| {
        async {
            let task = ctx::spawn(async {
                hop().await;
                seen()
            });
            let blocking = ctx::spawn_blocking(seen);
            let handle = tokio::runtime::Handle::current();
            let on = ctx::spawn_on(&handle, async { seen() });
            let blocking_on = ctx::spawn_blocking_on(&handle, seen);
            let mut set = tokio::task::JoinSet::new();
            set.ctx_spawn(async {
                hop().await;
                seen()
            });
            set.ctx_spawn_blocking(seen);
            set.ctx_spawn_on(async { seen() }, &handle);
            set.ctx_spawn_blocking_on(seen, &handle);
            let later = async {
                hop().await;
                seen()
            }
            .in_current_context();
            let stream = futures::stream::iter([1, 2])
                .then(|_| async {
                    hop().await;
                    seen()
                })
                .in_current_context();

            assert_eq!(task.await.unwrap(), CHILD, "spawn");
            assert_eq!(blocking.await.unwrap(), CHILD, "spawn_blocking");
            assert_eq!(on.await.unwrap(), CHILD, "spawn_on");
            assert_eq!(blocking_on.await.unwrap(), CHILD, "spawn_blocking_on");
            let mut n = 0;
            while let Some(child) = set.join_next().await {
                assert_eq!(child.unwrap(), CHILD, "JoinSet");
                n += 1;
            }
            assert_eq!(n, 4);
            assert_eq!(later.await, CHILD, "in_current_context");
            assert_eq!(stream.collect::<Vec<_>>().await, [CHILD, CHILD], "streams");
            // The parent's own reads are untouched by all that.
            assert_eq!(seen(), PARENT);
        }
        .in_context(parent_cx())
    });
}

#[test]
fn every_sync_helper_applies_the_policies() {
    let _serial = serial();
    let cx = parent_cx();
    let (thread, built, job, each) = cx.run(|| {
        let thread = ctx::thread::spawn(seen);
        let built = ctx::thread::Builder::new().spawn(seen).unwrap();
        let job = ctx::wrap(seen);
        let each = ctx::wrap_fn(|n: u32| (n, seen()));
        (thread, built, job, each)
    });
    assert_eq!(thread.join().unwrap(), CHILD, "thread::spawn");
    assert_eq!(built.join().unwrap(), CHILD, "thread::Builder");
    assert_eq!(std::thread::spawn(job).join().unwrap(), CHILD, "wrap");
    // Forked once, at the wrap: every call sees the same child value.
    assert_eq!(each(1), (1, CHILD), "wrap_fn");
    assert_eq!(
        std::thread::spawn(move || each(2)).join().unwrap(),
        (2, CHILD)
    );
    let scoped = cx.run(|| {
        std::thread::scope(|s| {
            ctx::thread::Builder::new()
                .spawn_scoped(s, seen)
                .unwrap()
                .join()
                .unwrap()
        })
    });
    assert_eq!(scoped, CHILD, "spawn_scoped");
}

#[test]
fn spawn_local_applies_the_policies() {
    let _serial = serial();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(
        &rt,
        async {
            let child = ctx::spawn_local(async {
                hop().await;
                seen()
            });
            let mut set = tokio::task::JoinSet::new();
            set.ctx_spawn_local(async { seen() });
            assert_eq!(child.await.unwrap(), CHILD, "spawn_local");
            assert_eq!(
                set.join_next().await.unwrap().unwrap(),
                CHILD,
                "JoinSet::spawn_local"
            );
            assert_eq!(seen(), PARENT);
        }
        .in_context(parent_cx()),
    );
}

#[test]
fn the_parent_reading_never_forks() {
    let _serial = serial();
    let before = FORKS.load(Ordering::SeqCst);
    let cx = parent_cx();
    let (read, current, scoped, sync_scoped) = cx.run(|| {
        let read = seen();
        // `current` is the plain read: the parent's values, local included.
        let current = Context::current();
        let current = (current.get(&HOPS).copied(), current.get(&TX).copied());
        // A scope is the same task's: no fork, the local value visible.
        let scoped = futures::executor::block_on(PLAIN.scope("q", async { seen() }));
        let sync_scoped = PLAIN.sync_scope("r", seen);
        HOPS.with(|n| assert_eq!(n, Some(&0)));
        assert!(TX.is_set());
        (read, current, scoped, sync_scoped)
    });
    assert_eq!(read, PARENT);
    assert_eq!(current, (Some(0), Some("tx-1")));
    assert_eq!(scoped, (Some(0), Some("tx-1"), Some("q")));
    assert_eq!(sync_scoped, (Some(0), Some("tx-1"), Some("r")));
    assert_eq!(
        FORKS.load(Ordering::SeqCst),
        before,
        "no fork for reads and scopes"
    );
}

#[test]
fn each_hand_over_forks_once_and_capture_is_the_helpers_capture() {
    let _serial = serial();
    let cx = parent_cx();
    cx.run(|| {
        let before = FORKS.load(Ordering::SeqCst);
        let captured = Context::capture();
        assert_eq!(FORKS.load(Ordering::SeqCst), before + 1);
        assert_eq!(
            (captured.get(&HOPS), captured.get(&TX), captured.get(&PLAIN)),
            (Some(&1), None, Some(&"p"))
        );
        // What a helper hands over is the same capture.
        assert_eq!(captured.run(seen), CHILD);
        let job = ctx::wrap(seen);
        assert_eq!(FORKS.load(Ordering::SeqCst), before + 2);
        assert_eq!(job(), CHILD);
        assert_eq!(
            FORKS.load(Ordering::SeqCst),
            before + 2,
            "running forks nothing"
        );
    });
}

#[test]
fn grandchildren_fork_again_and_a_childs_local_value_stays_with_it() {
    let _serial = serial();
    on_both_runtimes(|| {
        async {
            let child = ctx::spawn(async {
                // The child opens its own transaction: local to it.
                TX.set("tx-2");
                hop().await;
                let grandchild = ctx::spawn(async { seen() }).await.unwrap();
                (seen(), grandchild)
            });
            let (child, grandchild) = child.await.unwrap();
            assert_eq!(child, (Some(1), Some("tx-2"), Some("p")));
            assert_eq!(grandchild, (Some(2), None, Some("p")));
            assert_eq!(seen(), PARENT, "the child's writes stay in the child");
        }
        .in_context(parent_cx())
    });
}

#[test]
fn a_context_of_local_values_only_hands_over_nothing() {
    let _serial = serial();
    static SESSION: Key<String> = Key::local("session");
    assert!(SESSION.is_local() && !PLAIN.is_local() && !HOPS.is_local());
    let cx = Context::new()
        .with(&SESSION, "s-1".into())
        .with(&TX, "tx-1");
    let captured = cx.run(Context::capture);
    assert!(captured.is_empty(), "{captured:?}");
    // Removing the local value gives the plain capture back: shared.
    let plain = Context::new().with(&PLAIN, "p");
    let with_local = plain.with(&TX, "tx").without(&TX);
    assert!(with_local.run(Context::capture).get(&PLAIN).is_some());
    assert!(
        plain.run(Context::capture).ptr_eq(&plain),
        "no policy: the same snapshot"
    );
}

#[test]
fn plain_spawns_and_detached_work_get_nothing_at_all() {
    let _serial = serial();
    on_both_runtimes(|| {
        async {
            let plain = tokio::spawn(async { seen() });
            let detached = ctx::spawn_detached(async { seen() });
            assert_eq!(plain.await.unwrap(), (None, None, None));
            assert_eq!(detached.await.unwrap(), (None, None, None));
        }
        .in_context(parent_cx())
    });
}
