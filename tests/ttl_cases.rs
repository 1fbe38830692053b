//! TransmittableThreadLocal's four cases and DESIGN.md's invariants 1-3, on
//! both runtimes, through every spawn helper.
#![allow(clippy::disallowed_methods)] // plain spawns on purpose: contextless baselines, wrapped work on plain threads, servers

mod support;

use ctx::{FutureExt, JoinSetExt, Key};
use support::{hop, on_both_runtimes};

static VALUE: Key<String> = Key::new("value");
static CHILD_ONLY: Key<u32> = Key::new("child_only");

fn v(s: &str) -> Option<String> {
    Some(s.to_string())
}

/// Case 1: a value the parent set is seen by the child.
#[test]
fn child_sees_parent_value() {
    on_both_runtimes(|| {
        async {
            VALUE.set("parent".into());
            let task = ctx::spawn(async {
                hop().await;
                VALUE.get()
            });
            let blocking = ctx::spawn_blocking(|| VALUE.get());
            let thread = ctx::thread::spawn(|| VALUE.get());
            let handle = tokio::runtime::Handle::current();
            let on = ctx::spawn_on(&handle, async { VALUE.get() });
            let blocking_on = ctx::spawn_blocking_on(&handle, || VALUE.get());
            let mut set = tokio::task::JoinSet::new();
            set.ctx_spawn(async { VALUE.get() });
            set.ctx_spawn_blocking(|| VALUE.get());
            set.ctx_spawn_on(async { VALUE.get() }, &handle);
            set.ctx_spawn_blocking_on(|| VALUE.get(), &handle);
            let wrapped = ctx::wrap(|| VALUE.get());
            let wrapped_fn = ctx::wrap_fn(|n: usize| VALUE.get().map(|s| s.len() + n));

            assert_eq!(task.await.unwrap(), v("parent"));
            assert_eq!(blocking.await.unwrap(), v("parent"));
            assert_eq!(thread.join().unwrap(), v("parent"));
            assert_eq!(on.await.unwrap(), v("parent"));
            assert_eq!(blocking_on.await.unwrap(), v("parent"));
            while let Some(seen) = set.join_next().await {
                assert_eq!(seen.unwrap(), v("parent"));
            }
            assert_eq!(std::thread::spawn(wrapped).join().unwrap(), v("parent"));
            assert_eq!(
                std::thread::spawn(move || wrapped_fn(1)).join().unwrap(),
                Some(7)
            );
        }
        .in_current_context()
    });
}

/// Case 2: a value the child changes stays in the child; the child's change
/// persists across its own `.await`s.
#[test]
fn child_change_stays_in_child() {
    on_both_runtimes(|| {
        async {
            VALUE.set("parent".into());
            let child = ctx::spawn(async {
                VALUE.set("child".into());
                hop().await;
                let after_await = VALUE.get();
                let grandchild = ctx::spawn(async { VALUE.get() }).await.unwrap();
                (after_await, grandchild)
            });
            let blocking = ctx::spawn_blocking(|| {
                // A blocking closure is a scope too: the write is local to it.
                VALUE.set("blocking".into());
                VALUE.get()
            });
            assert_eq!(child.await.unwrap(), (v("child"), v("child")));
            assert_eq!(blocking.await.unwrap(), v("blocking"));
            hop().await;
            assert_eq!(VALUE.get(), v("parent"));
        }
        .in_current_context()
    });
}

/// Case 3: a value the parent sets after the capture is not seen by the
/// child.
#[test]
fn parent_change_after_capture_is_invisible() {
    on_both_runtimes(|| {
        async {
            VALUE.set("before".into());
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let child = ctx::spawn(async move {
                rx.await.unwrap();
                VALUE.get()
            });
            let (btx, brx) = std::sync::mpsc::channel::<()>();
            let blocking = ctx::spawn_blocking(move || {
                brx.recv().unwrap();
                VALUE.get()
            });
            let deferred = async { VALUE.get() }.in_current_context();
            VALUE.set("after".into());
            tx.send(()).unwrap();
            btx.send(()).unwrap();
            assert_eq!(child.await.unwrap(), v("before"));
            assert_eq!(blocking.await.unwrap(), v("before"));
            assert_eq!(deferred.await, v("before"));
            assert_eq!(VALUE.get(), v("after"));
        }
        .in_current_context()
    });
}

/// Case 4: a value the child creates never reaches the parent or its
/// siblings.
#[test]
fn child_value_never_reaches_parent_or_siblings() {
    on_both_runtimes(|| {
        async {
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let writer = ctx::spawn(async move {
                CHILD_ONLY.set(1);
                hop().await;
                tx.send(()).unwrap();
                CHILD_ONLY.get()
            });
            rx.await.unwrap();
            let sibling = ctx::spawn(async { CHILD_ONLY.get() });
            let blocking_sibling = ctx::spawn_blocking(|| CHILD_ONLY.get());
            assert_eq!(writer.await.unwrap(), Some(1));
            assert_eq!(sibling.await.unwrap(), None);
            assert_eq!(blocking_sibling.await.unwrap(), None);
            assert_eq!(CHILD_ONLY.get(), None);
        }
        .in_current_context()
    });
}

/// `spawn_detached` starts from the empty context, whatever the caller's.
#[test]
fn detached_work_inherits_nothing() {
    on_both_runtimes(|| {
        VALUE.scope("request".into(), async {
            let bg = ctx::spawn_detached(async {
                hop().await;
                VALUE.get()
            });
            assert_eq!(bg.await.unwrap(), None);
            assert_eq!(VALUE.get(), v("request"));
        })
    });
}

/// `spawn_local` on a `LocalSet`, and `select!` between instrumented
/// branches.
#[test]
fn local_set_and_select() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(
        &rt,
        VALUE.scope("local".into(), async {
            let rc = std::rc::Rc::new(5);
            let child = ctx::spawn_local(async move {
                hop().await;
                (*rc, VALUE.get())
            });
            let mut set = tokio::task::JoinSet::new();
            set.ctx_spawn_local(async { VALUE.get() });
            assert_eq!(child.await.unwrap(), (5, v("local")));
            assert_eq!(set.join_next().await.unwrap().unwrap(), v("local"));
            // Onto another `LocalSet`, driven here after the scope's value
            // changed: the task keeps what it was spawned with.
            let other = tokio::task::LocalSet::new();
            let mut on_other = tokio::task::JoinSet::new();
            on_other.ctx_spawn_local_on(async { VALUE.get() }, &other);
            let later = VALUE.scope("later".into(), async move {
                other.run_until(on_other.join_next()).await
            });
            assert_eq!(later.await.unwrap().unwrap(), v("local"));

            let a = VALUE.scope("a".into(), async {
                hop().await;
                VALUE.get()
            });
            let b = VALUE.scope("b".into(), async {
                std::future::pending::<()>().await;
                VALUE.get()
            });
            let won = tokio::select! {
                a = a => a,
                b = b => b,
            };
            assert_eq!(won, v("a"));
            assert_eq!(VALUE.get(), v("local"));
        }),
    );
}
