//! `ctx::rt_hooks`: the core's invariants (DESIGN.md 1-5, TTL's four cases)
//! with *plain* `tokio::spawn` on hooked runtimes, current-thread and
//! multi-thread, including tasks spawned by code that knows nothing of ctx,
//! aborted and panicking tasks, tasks spawned during shutdown, nested polls,
//! and `ctx::spawn` on a hooked runtime.
//!
//! Needs `RUSTFLAGS="--cfg tokio_unstable"`; without it the file is empty.
#![cfg(tokio_unstable)]
// The plain spawns are the point: these are the calls the hooks must cover.
#![allow(clippy::disallowed_methods)]

mod support;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ctx::rt_hooks::Hooks;
use ctx::{Context, FutureExt, Key};
use tokio::runtime::Runtime;

static VALUE: Key<String> = Key::new("value");

fn v(s: &str) -> Option<String> {
    Some(s.to_string())
}

/// A value that counts how many of its kind are alive.
struct Counted(Arc<AtomicUsize>);

impl Counted {
    fn new(live: &Arc<AtomicUsize>) -> Counted {
        live.fetch_add(1, Ordering::SeqCst);
        Counted(live.clone())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

static HELD: Key<Counted> = Key::new("held");

/// Waits (a bounded while) for `done`: tokio runs the terminate hook after
/// it wakes the join handle, so a joiner can get there first.
fn eventually(what: &str, done: impl Fn() -> bool) {
    for _ in 0..400 {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("not within 2 s: {what}");
}

/// A hooked current-thread runtime and a hooked multi-thread runtime (2
/// workers), each with its hooks.
fn hooked_runtimes() -> Vec<(Runtime, Hooks)> {
    let mut out = Vec::new();
    for multi in [false, true] {
        let hooks = Hooks::new();
        let mut builder = if multi {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(2).max_blocking_threads(4);
            b
        } else {
            tokio::runtime::Builder::new_current_thread()
        };
        hooks.install(&mut builder).enable_all();
        out.push((builder.build().unwrap(), hooks));
    }
    out
}

/// Runs `make()` as a plain task on both hooked runtimes, after warming up
/// their worker and blocking threads, inside a root context holding
/// `VALUE = "root"`; then checks that the hooks hold nothing once the
/// runtime is gone.
fn on_both<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    for (rt, hooks) in hooked_runtimes() {
        rt.block_on(async {
            support::warm_up().await;
            let root = Context::new().with(&VALUE, "root".to_string());
            let task = root.run(|| tokio::spawn(make()));
            task.await.expect("test task panicked");
        });
        drop(rt);
        assert_eq!(hooks.held(), 0, "contexts held after the runtime is gone");
    }
}

/// TTL case 1 and invariant 1: a plain task sees the spawner's context as
/// it was at the spawn; later writes of the spawner do not reach it.
#[test]
fn plain_spawn_captures_at_the_spawn() {
    on_both(|| async {
        assert_eq!(VALUE.get(), v("root"));
        VALUE.set("parent".into());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let child = tokio::spawn(async move {
            rx.await.unwrap();
            support::hop().await;
            VALUE.get()
        });
        VALUE.set("parent, later".into());
        tx.send(()).unwrap();
        assert_eq!(child.await.unwrap(), v("parent"));
        assert_eq!(VALUE.get(), v("parent, later"));
    });
}

/// TTL case 2 and invariants 2-3: a child's writes stay in the child (not
/// in its parent, not in its siblings) and survive its `.await`s, whichever
/// worker resumes it; its own children inherit them.
#[test]
fn child_writes_persist_in_the_child_only() {
    on_both(|| async {
        VALUE.set("parent".into());
        let mut children = Vec::new();
        for i in 0..16 {
            children.push(tokio::spawn(async move {
                assert_eq!(VALUE.get(), v("parent"));
                VALUE.set(format!("child {i}"));
                let mut seen = Vec::new();
                for _ in 0..10 {
                    support::hop().await;
                    tokio::time::sleep(Duration::from_micros(50)).await;
                    seen.push(VALUE.get());
                }
                let grandchild = tokio::spawn(async { VALUE.get() }).await.unwrap();
                (i, seen, grandchild)
            }));
        }
        for child in children {
            let (i, seen, grandchild) = child.await.unwrap();
            let mine = format!("child {i}");
            assert!(seen.iter().all(|s| s.as_deref() == Some(mine.as_str())));
            assert_eq!(grandchild.as_deref(), Some(mine.as_str()));
        }
        assert_eq!(VALUE.get(), v("parent"));
    });
}

/// TTL cases 3-4 with warmed pools: tasks spawned from the empty context
/// (a runtime's `spawn` outside any scope) see nothing, also on workers
/// that just ran tasks holding values; their own writes stay theirs.
#[test]
fn work_that_did_not_inherit_sees_nothing() {
    for (rt, hooks) in hooked_runtimes() {
        rt.block_on(support::warm_up());
        for round in 0..20u32 {
            let mut with = Vec::new();
            for i in 0..8 {
                let cx = Context::new().with(&VALUE, format!("r{round} t{i}"));
                with.push(cx.run(|| {
                    rt.spawn(async move {
                        VALUE.set(format!("r{round} t{i} written"));
                        tokio::task::yield_now().await;
                        VALUE.get()
                    })
                }));
            }
            let mut without = Vec::new();
            for _ in 0..8 {
                without.push(rt.spawn(async {
                    let before = VALUE.get();
                    tokio::task::yield_now().await;
                    let middle = VALUE.get();
                    // A hooked task has a scope of its own: the write is
                    // accepted and kept in the task only.
                    VALUE.set("stray".into());
                    tokio::task::yield_now().await;
                    (before, middle, VALUE.get())
                }));
            }
            for (i, t) in with.into_iter().enumerate() {
                let want = format!("r{round} t{i} written");
                assert_eq!(rt.block_on(t).unwrap().as_deref(), Some(want.as_str()));
            }
            for t in without {
                assert_eq!(rt.block_on(t).unwrap(), (None, None, v("stray")));
            }
        }
        // The driving thread's slot is untouched.
        assert_eq!(VALUE.get(), None);
        drop(rt);
        assert_eq!(hooks.held(), 0);
    }
}

/// Invariant 4: a panicking poll restores the thread; the panicking task's
/// context is released; the next task on the worker sees only its own.
#[test]
fn a_panicking_task_restores_the_worker_and_releases_its_context() {
    let live = Arc::new(AtomicUsize::new(0));
    for (rt, hooks) in hooked_runtimes() {
        rt.block_on(support::warm_up());
        for _ in 0..16 {
            let cx = Context::new()
                .with(&VALUE, "doomed".to_string())
                .with(&HELD, Counted::new(&live));
            let doomed = cx.run(|| {
                rt.spawn(async {
                    tokio::task::yield_now().await;
                    VALUE.set("doomed, written".into());
                    panic!("the task panics inside its poll");
                })
            });
            drop(cx);
            let after = rt.spawn(async { VALUE.get() });
            assert!(rt.block_on(doomed).unwrap_err().is_panic());
            assert_eq!(rt.block_on(after).unwrap(), None);
        }
        eventually("the panicked tasks' contexts released", || {
            live.load(Ordering::SeqCst) == 0 && hooks.held() == 0
        });
        assert_eq!(VALUE.get(), None);
    }
}

/// Invariants 4-5: aborted tasks (pending, or aborted from inside their own
/// poll) release their context; their futures are dropped inside it.
#[test]
fn aborted_tasks_release_their_context_and_drop_inside_it() {
    struct SeeOnDrop(Arc<std::sync::Mutex<Vec<Option<String>>>>);
    impl Drop for SeeOnDrop {
        fn drop(&mut self) {
            self.0.lock().unwrap().push(VALUE.get());
        }
    }
    let live = Arc::new(AtomicUsize::new(0));
    for (rt, hooks) in hooked_runtimes() {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut handles = Vec::new();
        for i in 0..8 {
            let cx = Context::new()
                .with(&VALUE, format!("aborted {i}"))
                .with(&HELD, Counted::new(&live));
            let probe = SeeOnDrop(seen.clone());
            handles.push(cx.run(|| {
                rt.spawn(async move {
                    let _probe = probe;
                    std::future::pending::<()>().await;
                })
            }));
        }
        // Let every task run its first poll, then abort them.
        rt.block_on(async {
            for _ in 0..10 {
                tokio::task::yield_now().await;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        });
        assert_eq!(hooks.held(), 8);
        for h in &handles {
            h.abort();
        }
        for h in handles {
            assert!(rt.block_on(h).unwrap_err().is_cancelled());
        }
        // A task that aborts itself mid-poll.
        let cx = Context::new().with(&HELD, Counted::new(&live));
        let me = cx.run(|| {
            rt.spawn(async {
                let (tx, rx) = tokio::sync::oneshot::channel();
                let handle = tokio::spawn(async move {
                    let abort: tokio::task::AbortHandle = rx.await.unwrap();
                    abort.abort();
                    tokio::task::yield_now().await;
                });
                tx.send(handle.abort_handle()).unwrap();
                handle.await
            })
        });
        drop(cx);
        assert!(rt.block_on(me).unwrap().unwrap_err().is_cancelled());
        eventually("the aborted tasks' contexts released", || {
            live.load(Ordering::SeqCst) == 0 && hooks.held() == 0
        });
        let mut seen = seen.lock().unwrap().clone();
        seen.sort();
        let want: Vec<_> = (0..8).map(|i| Some(format!("aborted {i}"))).collect();
        assert_eq!(seen, want, "aborted futures are dropped in their context");
        drop(rt);
        assert_eq!(hooks.held(), 0);
    }
}

/// Invariant 5 at shutdown: tasks still pending when the runtime drops, and
/// tasks spawned (with a context) while it shuts down, which tokio shuts
/// down before their spawn hook runs: nothing is held afterwards.
#[test]
fn tasks_pending_or_spawned_during_shutdown_leave_nothing() {
    struct SpawnOnDrop {
        handle: tokio::runtime::Handle,
        live: Arc<AtomicUsize>,
        spawned: Arc<AtomicUsize>,
    }
    impl Drop for SpawnOnDrop {
        fn drop(&mut self) {
            let cx = Context::new().with(&HELD, Counted::new(&self.live));
            let h = cx.run(|| self.handle.spawn(async { VALUE.get() }));
            drop(h);
            self.spawned.fetch_add(1, Ordering::SeqCst);
        }
    }
    for (rt, hooks) in hooked_runtimes() {
        let live = Arc::new(AtomicUsize::new(0));
        let spawned = Arc::new(AtomicUsize::new(0));
        for i in 0..16 {
            let on_drop = SpawnOnDrop {
                handle: rt.handle().clone(),
                live: live.clone(),
                spawned: spawned.clone(),
            };
            let cx = Context::new()
                .with(&VALUE, format!("pending {i}"))
                .with(&HELD, Counted::new(&live));
            drop(cx.run(|| {
                rt.spawn(async move {
                    let _on_drop = on_drop;
                    std::future::pending::<()>().await;
                })
            }));
        }
        rt.block_on(async {
            for _ in 0..10 {
                tokio::task::yield_now().await;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        });
        assert_eq!(hooks.held(), 16);
        drop(rt);
        assert_eq!(
            spawned.load(Ordering::SeqCst),
            16,
            "the drops did not spawn"
        );
        assert_eq!(hooks.held(), 0, "a task spawned during shutdown was kept");
        assert_eq!(live.load(Ordering::SeqCst), 0);
    }
}

/// A library that knows nothing of ctx: its calls spawn workers with plain
/// `tokio::spawn`, and a long-lived worker started at set-up.
mod library {
    use tokio::sync::{mpsc, oneshot};

    pub(crate) struct Client {
        jobs: mpsc::Sender<oneshot::Sender<Option<String>>>,
    }

    impl Client {
        /// Starts the library's background worker.
        pub(crate) fn start() -> Client {
            let (jobs, mut rx) = mpsc::channel::<oneshot::Sender<Option<String>>>(16);
            tokio::spawn(async move {
                while let Some(reply) = rx.recv().await {
                    let _ = reply.send(super::VALUE.get());
                }
            });
            Client { jobs }
        }

        /// What a task spawned for this call sees.
        pub(crate) async fn call(&self) -> Option<String> {
            tokio::spawn(async {
                tokio::task::yield_now().await;
                super::VALUE.get()
            })
            .await
            .unwrap()
        }

        /// What the background worker sees.
        pub(crate) async fn ask_worker(&self) -> Option<String> {
            let (tx, rx) = oneshot::channel();
            self.jobs.send(tx).await.unwrap();
            rx.await.unwrap()
        }
    }
}

/// Tasks spawned by code that knows nothing of ctx inherit the caller's
/// context; a worker started elsewhere keeps the context of its own start.
#[test]
fn a_library_spawning_plain_tasks_carries_the_callers_context() {
    on_both(|| async {
        // The shared client's worker starts in the empty context.
        let client = Arc::new(Context::new().run(library::Client::start));
        let mut calls = Vec::new();
        for i in 0..8 {
            let client = client.clone();
            calls.push(tokio::spawn(VALUE.scope(
                format!("request {i}"),
                async move {
                    tokio::task::yield_now().await;
                    let per_request = library::Client::start();
                    (
                        i,
                        client.call().await,
                        client.ask_worker().await,
                        per_request.ask_worker().await,
                    )
                },
            )));
        }
        for c in calls {
            let (i, call, shared_worker, own_worker) = c.await.unwrap();
            let want = Some(format!("request {i}"));
            assert_eq!(call, want, "a task spawned for the call");
            assert_eq!(shared_worker, None, "a worker started elsewhere");
            assert_eq!(own_worker, want, "a worker started by the request");
        }
        assert_eq!(client.call().await, v("root"));
    });
}

/// A plain `axum::serve`: its connection tasks and a handler's plain spawn
/// run in the request's context, set by `ContextLayer`; concurrent
/// requests each see their own trace.
#[test]
fn axum_serve_connection_tasks_and_handler_spawns_see_the_request() {
    use axum::routing::get;
    use http_body_util::BodyExt;

    on_both(|| async {
        let (listener, addr) = support::http::listen().await;
        let app = axum::Router::new()
            .route(
                "/spawn",
                get(|| async {
                    let inner = tokio::spawn(async {
                        tokio::task::yield_now().await;
                        ctx::trace_id().map(|t| t.to_string())
                    });
                    inner.await.unwrap().unwrap_or_else(|| "-".into())
                }),
            )
            .layer(ctx::http::ContextLayer::new());
        // Started from the empty context: the server sees no test value.
        let server = Context::new().run(|| {
            tokio::spawn(async move {
                assert_eq!(VALUE.get(), None);
                axum::serve(listener, app).await.unwrap()
            })
        });
        let client = support::http::client();
        let mut requests = Vec::new();
        for i in 0..8u32 {
            let client = client.clone();
            requests.push(tokio::spawn(async move {
                let trace = format!("{:032x}", 0x4bf9_2f35_77b3_4da6_u128 + u128::from(i));
                let req = http::Request::get(format!("http://{addr}/spawn"))
                    .header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01"))
                    .body(axum::body::Body::empty())
                    .unwrap();
                let resp = client.request(req).await.unwrap();
                let body = resp.into_body().collect().await.unwrap().to_bytes();
                (trace, String::from_utf8(body.to_vec()).unwrap())
            }));
        }
        for r in requests {
            let (trace, seen) = r.await.unwrap();
            assert_eq!(seen, trace);
        }
        server.abort();
    });
}

/// `ctx::spawn` on a hooked runtime: correct, and one capture per spawn
/// (the fork policy runs once), one map entry inside a hooked task and none
/// outside (where it wraps the future and the hooks keep out).
#[test]
fn ctx_spawn_on_a_hooked_runtime_captures_once() {
    static FORKS: AtomicUsize = AtomicUsize::new(0);
    static FORKED: Key<u32> = Key::new("forked").with_fork(|n| {
        FORKS.fetch_add(1, Ordering::SeqCst);
        n + 1
    });
    for (rt, hooks) in hooked_runtimes() {
        let hooks_in = hooks.clone();
        let cx = Context::new()
            .with(&VALUE, "outer".to_string())
            .with(&FORKED, 0);
        // From inside a hooked task.
        let inside = cx.run(|| {
            rt.spawn(async move {
                let before = hooks_in.held(); // this task's own entry
                let forks = FORKS.load(Ordering::SeqCst);
                let (tx, rx) = tokio::sync::oneshot::channel::<()>();
                let child = ctx::spawn(async move {
                    rx.await.unwrap();
                    VALUE.set("child".into());
                    support::hop().await;
                    (VALUE.get(), FORKED.get())
                });
                let during = hooks_in.held();
                let forks_here = FORKS.load(Ordering::SeqCst) - forks;
                tx.send(()).unwrap();
                let seen = child.await.unwrap();
                let detached = ctx::spawn_detached(async { VALUE.get() }).await.unwrap();
                (during - before, forks_here, seen, detached, VALUE.get())
            })
        });
        // The spawning task's fork ran at its own spawn: count from inside.
        let (entries, forks, seen, detached, after) = rt.block_on(inside).unwrap();
        assert_eq!(entries, 1, "inside a hooked task: one entry for the child");
        assert_eq!(forks, 1, "the child's context was captured once");
        assert_eq!(seen, (v("child"), Some(2)));
        assert_eq!(detached, None);
        assert_eq!(after, v("outer"));

        // From the `block_on` future, which is no task: wrapped, no entry.
        let outside = rt.block_on(cx.run(|| {
            async {
                let forks = FORKS.load(Ordering::SeqCst);
                let (tx, rx) = tokio::sync::oneshot::channel::<()>();
                let child = ctx::spawn(async move {
                    rx.await.unwrap();
                    (VALUE.get(), FORKED.get())
                });
                let during = hooks.held();
                let forks_here = FORKS.load(Ordering::SeqCst) - forks;
                tx.send(()).unwrap();
                (during, forks_here, child.await.unwrap())
            }
            .in_current_context()
        }));
        assert_eq!(outside.0, 0, "outside a task: the hooks keep out");
        assert_eq!(outside.1, 1, "outside a task: ctx::spawn captured once");
        assert_eq!(outside.2, (v("outer"), Some(2)));
        drop(rt);
        assert_eq!(hooks.held(), 0);
    }
}

/// Polls nest when a task blocks in place and drives another (hooked)
/// runtime: each level sees its own context, and the outer task gets its
/// own back.
#[test]
fn nested_polls_each_see_their_own_context() {
    let (outer_rt, outer_hooks) = hooked_runtimes().pop().unwrap();
    let inner_hooks = Hooks::new();
    let mut b = tokio::runtime::Builder::new_current_thread();
    inner_hooks.install(&mut b).enable_all();
    let inner_rt = Arc::new(b.build().unwrap());
    let cx = Context::new().with(&VALUE, "outer".to_string());
    let task = cx.run(|| {
        let inner_rt = inner_rt.clone();
        outer_rt.spawn(async move {
            VALUE.set("outer, written".into());
            let nested = tokio::task::block_in_place(|| {
                inner_rt.block_on(async {
                    let cx = Context::new().with(&VALUE, "inner".to_string());
                    let t = cx.run(|| {
                        tokio::spawn(async {
                            tokio::task::yield_now().await;
                            VALUE.get()
                        })
                    });
                    let plain = Context::new().run(|| tokio::spawn(async { VALUE.get() }));
                    (t.await.unwrap(), plain.await.unwrap())
                })
            });
            tokio::task::yield_now().await;
            (nested, VALUE.get())
        })
    });
    let (nested, outer) = outer_rt.block_on(task).unwrap();
    assert_eq!(nested, (v("inner"), None));
    assert_eq!(outer, v("outer, written"));
    drop(outer_rt);
    drop(inner_rt);
    assert_eq!(outer_hooks.held(), 0);
    assert_eq!(inner_hooks.held(), 0);
}

/// The documented gap: plain blocking tasks fire no spawn or poll hook, so
/// they see nothing (and leave nothing); `ctx::spawn_blocking` covers them.
#[test]
fn blocking_tasks_need_the_helper() {
    on_both(|| async {
        let plain = tokio::task::spawn_blocking(|| VALUE.get()).await.unwrap();
        let helper = ctx::spawn_blocking(|| VALUE.get()).await.unwrap();
        assert_eq!(plain, None);
        assert_eq!(helper, v("root"));
    });
}

/// `block_on` opens a root scope: writes in it are accepted and plain
/// spawns inherit them.
#[test]
fn block_on_runs_main_in_a_root_scope() {
    let seen = ctx::rt_hooks::block_on(async {
        VALUE.set("main".into());
        tokio::spawn(async { VALUE.get() }).await.unwrap()
    });
    assert_eq!(seen, v("main"));
    assert_eq!(VALUE.get(), None);
}

/// Many tasks hopping across workers, spawning children, under both
/// runtimes: every task only ever sees its own lineage.
#[test]
fn stress_every_task_sees_only_its_lineage() {
    on_both(|| async {
        let mut tasks = Vec::new();
        for i in 0..200u32 {
            tasks.push(VALUE.scope(format!("t{i}"), async move {
                tokio::spawn(async move {
                    let mine = format!("t{i}");
                    for _ in 0..5 {
                        tokio::task::yield_now().await;
                        assert_eq!(VALUE.get().as_deref(), Some(mine.as_str()));
                    }
                    VALUE.set(format!("{mine}'"));
                    let child = tokio::spawn(async { VALUE.get() });
                    tokio::task::yield_now().await;
                    assert_eq!(child.await.unwrap(), Some(format!("{mine}'")));
                    i
                })
                .await
                .unwrap()
            }));
        }
        let handles: Vec<_> = tasks.into_iter().map(tokio::spawn).collect();
        for (i, h) in handles.into_iter().enumerate() {
            assert_eq!(h.await.unwrap() as usize, i);
        }
        assert_eq!(VALUE.get(), v("root"));
    });
}

/// A task woken during its own poll is rescheduled before the poll's
/// after-poll hook runs, and another worker may start its next poll first:
/// that poll must still see every write of the one before.
#[test]
fn a_write_survives_the_next_poll_starting_on_another_worker() {
    static N: Key<u64> = Key::new("n");
    for (rt, hooks) in hooked_runtimes() {
        let mut tasks = Vec::new();
        for t in 0..64u64 {
            let cx = Context::new().with(&N, t * 1_000_000);
            tasks.push(cx.run(|| {
                rt.spawn(async move {
                    for i in 0..300 {
                        let n = t * 1_000_000 + i;
                        if N.get() != Some(n) {
                            return Err((n, N.get()));
                        }
                        N.set(n + 1);
                        // Wakes the task inside its poll.
                        tokio::task::yield_now().await;
                    }
                    Ok(())
                })
            }));
        }
        for t in tasks {
            assert_eq!(rt.block_on(t).unwrap(), Ok(()));
        }
        drop(rt);
        assert_eq!(hooks.held(), 0);
    }
}

/// The timer `ctx::cancel` starts for a scope's deadline is a plain task
/// too: it must not inherit the context that asked for the token, or it
/// would hold that work's values (and the budget whose drop ends the timer)
/// until the deadline, long after the work is done.
#[cfg(feature = "cancel")]
#[test]
fn the_cancellation_timer_holds_no_context() {
    let live = Arc::new(AtomicUsize::new(0));
    for (rt, hooks) in hooked_runtimes() {
        rt.block_on(support::warm_up());
        let cx = Context::new().with(&HELD, Counted::new(&live));
        let token = rt.block_on(
            ctx::deadline::within(Duration::from_secs(3600), async {
                ctx::cancel::token().expect("a deadline gives a token")
            })
            .in_context(cx),
        );
        eventually("the scope's context released once its work is done", || {
            live.load(Ordering::SeqCst) == 0 && hooks.held() == 0
        });
        assert!(token.is_cancelled(), "nothing holds the scope any more");
    }
}
