//! The cost of `ctx::rt_hooks`, per poll and per spawn + join, beside a bare
//! runtime, a runtime with four empty hooks (the dispatch floor), ctx::spawn
//! on a bare runtime, and a baseline written the folly way (one global map
//! keyed by task id, behind one lock), at 1 and 2 workers with many
//! concurrent tasks.
//!
//! Needs `RUSTFLAGS="--cfg tokio_unstable"` and `--features rt-hooks`;
//! without the cfg it is an empty program.
//!
//! ```text
//! RUSTFLAGS="--cfg tokio_unstable" CARGO_TARGET_DIR=target/rt-hooks \
//!     cargo bench --features rt-hooks --bench rt_hooks -- --warm-up-time 1 --measurement-time 3
//! ```
// The plain spawns are what is measured.
#![allow(clippy::disallowed_methods)]

#[cfg(not(tokio_unstable))]
fn main() {}

#[cfg(tokio_unstable)]
fn main() {
    bench::main();
}

#[cfg(tokio_unstable)]
mod bench {
    use criterion::{BenchmarkId, Criterion, Throughput};
    use ctx::{Context, FutureExt, Key};
    use tokio::runtime::{Builder, Runtime};

    static VALUE: Key<u64> = Key::new("value");

    /// Concurrent tasks per run.
    const TASKS: u64 = 256;
    /// Polls per task in the poll bench (yields + the last poll).
    const YIELDS: u64 = 64;

    #[derive(Clone, Copy)]
    enum Variant {
        Bare,
        EmptyHooks,
        CtxHooks,
        CtxSpawnBare,
        Folly,
    }

    impl Variant {
        const ALL: [Variant; 5] = [
            Variant::Bare,
            Variant::EmptyHooks,
            Variant::CtxHooks,
            Variant::CtxSpawnBare,
            Variant::Folly,
        ];

        fn name(self) -> &'static str {
            match self {
                Variant::Bare => "bare",
                Variant::EmptyHooks => "empty_hooks",
                Variant::CtxHooks => "ctx_hooks",
                Variant::CtxSpawnBare => "ctx_spawn_bare",
                Variant::Folly => "folly_style",
            }
        }

        fn runtime(self, workers: usize) -> Runtime {
            let mut b = Builder::new_multi_thread();
            b.worker_threads(workers).enable_all();
            match self {
                Variant::Bare | Variant::CtxSpawnBare => {}
                Variant::EmptyHooks => {
                    b.on_task_spawn(|m| {
                        std::hint::black_box(m.id());
                    })
                    .on_before_task_poll(|m| {
                        std::hint::black_box(m.id());
                    })
                    .on_after_task_poll(|m| {
                        std::hint::black_box(m.id());
                    })
                    .on_task_terminate(|m| {
                        std::hint::black_box(m.id());
                    });
                }
                Variant::CtxHooks => {
                    ctx::rt_hooks::install(&mut b);
                }
                Variant::Folly => {
                    folly::install(&mut b);
                }
            }
            b.build().unwrap()
        }

        fn spawn<F>(self, fut: F) -> tokio::task::JoinHandle<F::Output>
        where
            F: std::future::Future + Send + 'static,
            F::Output: Send + 'static,
        {
            match self {
                Variant::CtxSpawnBare => ctx::spawn(fut),
                _ => tokio::spawn(fut),
            }
        }
    }

    /// The folly way, written plainly: one global map from task id to
    /// context behind one lock; the spawn hook inserts the current
    /// context, the before-poll hook clones the task's out and enters it,
    /// the after-poll hook writes the current one back and leaves, the
    /// terminate hook removes the entry.
    mod folly {
        use std::cell::RefCell;
        use std::collections::HashMap;
        use std::sync::{LazyLock, RwLock};

        use ctx::{Context, ContextGuard};
        use tokio::runtime::Builder;
        use tokio::task::Id;

        static MAP: LazyLock<RwLock<HashMap<Id, Context>>> = LazyLock::new(RwLock::default);

        thread_local! {
            static GUARDS: RefCell<Vec<ContextGuard>> = const { RefCell::new(Vec::new()) };
        }

        pub(super) fn install(b: &mut Builder) {
            b.on_task_spawn(|m| {
                let cx = Context::current();
                MAP.write().unwrap().insert(m.id(), cx);
            })
            .on_before_task_poll(|m| {
                let cx = MAP
                    .read()
                    .unwrap()
                    .get(&m.id())
                    .cloned()
                    .unwrap_or_default();
                let guard = cx.enter();
                GUARDS.with(|g| g.borrow_mut().push(guard));
            })
            .on_after_task_poll(|m| {
                let cx = Context::current();
                MAP.write().unwrap().insert(m.id(), cx);
                let guard = GUARDS.with(|g| g.borrow_mut().pop());
                drop(guard);
            })
            .on_task_terminate(|m| {
                let old = MAP.write().unwrap().remove(&m.id());
                drop(old);
            });
        }
    }

    /// `TASKS` tasks, each polled `YIELDS + 1` times, spawned in a context
    /// holding one value; each poll reads it.
    async fn polls(variant: Variant) {
        let mut handles = Vec::with_capacity(TASKS as usize);
        for _ in 0..TASKS {
            handles.push(variant.spawn(async {
                let mut sum = 0;
                for _ in 0..YIELDS {
                    sum += VALUE.get().unwrap_or(0);
                    tokio::task::yield_now().await;
                }
                sum
            }));
        }
        for h in handles {
            std::hint::black_box(h.await.unwrap());
        }
    }

    /// `TASKS` tasks spawned in a context holding one value and joined.
    async fn spawns(variant: Variant) {
        let mut handles = Vec::with_capacity(TASKS as usize);
        for _ in 0..TASKS {
            handles.push(variant.spawn(async { VALUE.get() }));
        }
        for h in handles {
            std::hint::black_box(h.await.unwrap());
        }
    }

    /// Runs `work` as a task of `rt` (so that spawns happen inside a
    /// task's poll, as in a server), in a context holding `VALUE`.
    fn run_in_task<Fut>(rt: &Runtime, variant: Variant, work: fn(Variant) -> Fut)
    where
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let cx = Context::new().with(&VALUE, 1);
        let driver = rt.spawn(work(variant).in_context(cx));
        rt.block_on(driver).unwrap();
    }

    pub(super) fn main() {
        let mut c = Criterion::default().configure_from_args();
        for workers in [1, 2] {
            let mut g = c.benchmark_group(format!("rt_hooks_poll_{workers}w"));
            g.throughput(Throughput::Elements(TASKS * (YIELDS + 1)));
            for variant in Variant::ALL {
                let rt = variant.runtime(workers);
                g.bench_function(BenchmarkId::from_parameter(variant.name()), |b| {
                    b.iter(|| run_in_task(&rt, variant, polls))
                });
            }
            g.finish();
            let mut g = c.benchmark_group(format!("rt_hooks_spawn_join_{workers}w"));
            g.throughput(Throughput::Elements(TASKS));
            for variant in Variant::ALL {
                let rt = variant.runtime(workers);
                g.bench_function(BenchmarkId::from_parameter(variant.name()), |b| {
                    b.iter(|| run_in_task(&rt, variant, spawns))
                });
            }
            g.finish();
        }
        c.final_summary();
    }
}
