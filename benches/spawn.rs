//! Spawning a task and joining it: `ctx::spawn` against bare `tokio::spawn`
//! and against the same done by hand with the peers, and `ctx::spawn_blocking`
//! against bare `spawn_blocking`.
//!
//! Each iteration spawns one task and awaits its `JoinHandle`. The loop runs
//! in a driver task that is inside a one-value `ctx` context, a one-value
//! opentelemetry context, a tracing span (no subscriber) and a `task_local!`
//! scope, whatever the case: the driver costs the same everywhere and only the
//! spawn differs. The driver is itself a spawned task, so spawns take a
//! worker's local queue, as they do in a server. Runtimes: current-thread, and
//! multi-thread with two workers.
//!
//! A sixth case, `refcount_floor`, is the floor of any design in which a
//! child task keeps its parent's context alive: it carries one `Arc` into
//! the task (one reference count at spawn, one at the end, one more word)
//! and does nothing else.
//!
//! Two spawned futures: `small`, an `async fn` holding one `u64` (16 bytes),
//! and `medium`, an `async` block holding two (24 bytes). See the `sizes` bench
//! for the size of each wrapped future and the allocation tokio makes for it.
//!
//! After criterion's runs, the spawn cases are measured again interleaved
//! (rounds of one batch per case, in rotated order; see `support/stats.rs`)
//! and the per-round ratios to `tokio::spawn` are printed: on a shared
//! machine the more trustworthy figures.
//!
//! A last group, `spawn_policy` (multi-thread runtime, `small`), prices the
//! keys' propagation policies: `ctx::spawn` called inside `Context::run` of
//! the driver's context plus one more value, under a plain key
//! (`ctx_run_plain`), a key with a fork policy (`ctx_run_fork`, the child
//! gets a forked copy) or a local-only key (`ctx_run_local`, left out of
//! the child's), beside `tokio` and `ctx`. Its interleaved runs print the
//! ratios to `tokio` and to `ctx_run_plain`; they also run alone with
//! `cargo bench --bench spawn -- spawn_policy`.
//!
//! Run with `cargo bench --bench spawn`.
#![allow(clippy::disallowed_methods)] // the plain primitives are the baseline ctx is measured against

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};
use opentelemetry::context::FutureExt as _;
use tokio::runtime::{Builder, Runtime};
use tokio::task::JoinHandle;
use tracing::Instrument as _;

#[path = "support/shapes.rs"]
mod shapes;
#[path = "support/stats.rs"]
mod stats;

use shapes::{in_all_contexts, medium, small, TASK_REQUEST};

/// What the `refcount_floor` case carries into each task.
static SHARED: LazyLock<Arc<u64>> = LazyLock::new(|| Arc::new(42));

pin_project_lite::pin_project! {
    /// A future that holds one `Arc` beside the spawned one and does nothing
    /// else with it: what any context that a child task keeps alive costs at
    /// the least (one reference count taken at spawn, one released at the
    /// end, one word more in the task), without installing anything.
    struct HoldsArc<F> {
        _held: Arc<u64>,
        #[pin]
        inner: F,
    }
}

impl<F: Future> Future for HoldsArc<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        self.project().inner.poll(cx)
    }
}

/// Spawns `iters` tasks one after the other with `spawn`, awaiting each, and
/// returns the time it took.
async fn spawn_join<M, S, F>(iters: u64, make: M, spawn: S) -> Duration
where
    M: Fn(u64) -> F,
    S: Fn(F) -> JoinHandle<u64>,
{
    let start = Instant::now();
    for i in 0..iters {
        black_box(spawn(make(i)).await.unwrap());
    }
    start.elapsed()
}

// No I/O or time driver: no case uses one, and parking on a driver adds
// system calls (and noise) that have nothing to do with spawning.
fn current_thread() -> Runtime {
    Builder::new_current_thread().build().unwrap()
}

fn multi_thread() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

/// Runs one measurement inside a driver task, so that spawns take the path
/// they take in a server (a worker's local queue), not the `block_on` one.
fn run<D>(rt: &Runtime, driver: D) -> Duration
where
    D: Future<Output = Duration> + Send + 'static,
{
    rt.block_on(rt.spawn(in_all_contexts(driver))).unwrap()
}

/// One spawn case: runs `iters` spawns and joins in a driver task on the
/// runtime and returns the time they took.
type Case = (&'static str, Box<dyn Fn(&Runtime, u64) -> Duration>);

/// The spawn cases for one future shape.
fn spawn_fns<M, F>(make: M) -> Vec<Case>
where
    M: Fn(u64) -> F + Copy + Send + 'static,
    F: Future<Output = u64> + Send + 'static,
{
    vec![
        (
            "tokio",
            Box::new(move |rt, iters| run(rt, spawn_join(iters, make, tokio::spawn))),
        ),
        (
            "ctx",
            Box::new(move |rt, iters| run(rt, spawn_join(iters, make, ctx::spawn))),
        ),
        (
            "refcount_floor",
            Box::new(move |rt, iters| {
                let spawn = |f: F| {
                    tokio::spawn(HoldsArc {
                        _held: Arc::clone(&SHARED),
                        inner: f,
                    })
                };
                run(rt, spawn_join(iters, make, spawn))
            }),
        ),
        (
            "opentelemetry",
            Box::new(move |rt, iters| {
                let spawn = |f: F| tokio::spawn(f.with_current_context());
                run(rt, spawn_join(iters, make, spawn))
            }),
        ),
        (
            "tracing",
            Box::new(move |rt, iters| {
                let spawn = |f: F| tokio::spawn(f.in_current_span());
                run(rt, spawn_join(iters, make, spawn))
            }),
        ),
        (
            "task_local",
            Box::new(move |rt, iters| {
                let spawn = |f: F| tokio::spawn(TASK_REQUEST.scope(TASK_REQUEST.get(), f));
                run(rt, spawn_join(iters, make, spawn))
            }),
        ),
    ]
}

/// Registers the spawn cases for one future shape on one runtime.
fn spawn_cases<M, F>(g: &mut BenchmarkGroup<'_, WallTime>, rt: &Runtime, shape: &str, make: M)
where
    M: Fn(u64) -> F + Copy + Send + 'static,
    F: Future<Output = u64> + Send + 'static,
{
    for (case, f) in spawn_fns(make) {
        g.bench_function(format!("{shape}/{case}"), |b| {
            b.iter_custom(|iters| f(rt, iters))
        });
    }
}

/// Rounds of the interleaved runs, and spawns per batch (a batch takes a
/// few milliseconds: many rounds cost little and narrow the quartiles).
const ROUNDS: usize = 101;
const BATCH: u64 = 10_000;

/// The interleaved runs: every case of one runtime and shape, batch by
/// batch, and each case's per-round ratio to `tokio::spawn`.
fn interleaved_runs() {
    for (runtime, rt) in [
        ("current_thread", current_thread()),
        ("multi_thread", multi_thread()),
    ] {
        for (shape, cases) in [("small", spawn_fns(small)), ("medium", spawn_fns(medium))] {
            let names: Vec<&str> = cases.iter().map(|(n, _)| *n).collect();
            let times = stats::interleaved(cases.len(), ROUNDS, |i| (cases[i].1)(&rt, BATCH));
            let ratios: Vec<(&str, &str)> = names[1..].iter().map(|n| (*n, "tokio")).collect();
            let title = format!("spawn_{runtime}/{shape} (per spawn and join)");
            stats::print_over_first(&title, &names, &times, BATCH as f64, ("ns", 1e9));
            stats::print_ratios("time", &names, ROUNDS, &ratios, |i, r| times[i][r]);
        }
    }
}

/// The driver's context plus one value of each kind of key.
static POLICY_PLAIN: ctx::Key<u64> = ctx::Key::new("plain");
static POLICY_FORK: ctx::Key<u64> = ctx::Key::new("fork").with_fork(|n| n + 1);
static POLICY_LOCAL: ctx::Key<u64> = ctx::Key::local("local");

/// The `spawn_policy` cases.
fn policy_fns() -> Vec<Case> {
    fn run_in(name: &'static str, key: &'static ctx::Key<u64>) -> Case {
        let case = move |rt: &Runtime, iters| {
            let driver = async move {
                let cx = ctx::Context::current().with(key, 1);
                let spawn = move |f| cx.run(|| ctx::spawn(f));
                spawn_join(iters, small, spawn).await
            };
            run(rt, driver)
        };
        (name, Box::new(case))
    }
    vec![
        (
            "tokio",
            Box::new(|rt, iters| run(rt, spawn_join(iters, small, tokio::spawn))),
        ),
        (
            "ctx",
            Box::new(|rt, iters| run(rt, spawn_join(iters, small, ctx::spawn))),
        ),
        run_in("ctx_run_plain", &POLICY_PLAIN),
        run_in("ctx_run_fork", &POLICY_FORK),
        run_in("ctx_run_local", &POLICY_LOCAL),
    ]
}

fn spawn_policy(c: &mut Criterion, rt: &Runtime) {
    let mut g = c.benchmark_group("spawn_policy");
    for (case, f) in policy_fns() {
        g.bench_function(case, |b| b.iter_custom(|iters| f(rt, iters)));
    }
    g.finish();
}

/// The interleaved runs of `spawn_policy`.
fn interleaved_policy_runs(rt: &Runtime) {
    let cases = policy_fns();
    let names: Vec<&str> = cases.iter().map(|(n, _)| *n).collect();
    let times = stats::interleaved(cases.len(), ROUNDS, |i| (cases[i].1)(rt, BATCH));
    let title = "spawn_policy/multi_thread/small (per spawn and join)";
    stats::print_over_first(title, &names, &times, BATCH as f64, ("ns", 1e9));
    let ratios = [
        ("ctx", "tokio"),
        ("ctx_run_plain", "tokio"),
        ("ctx_run_fork", "ctx_run_plain"),
        ("ctx_run_local", "ctx_run_plain"),
    ];
    stats::print_ratios("time", &names, ROUNDS, &ratios, |i, r| times[i][r]);
}

fn spawn_blocking(c: &mut Criterion) {
    // One blocking thread: with more, a closure spawned while the previous
    // one's thread is still on its way back to idle starts a new thread, and
    // the cost of thread creation swamps everything else at random.
    let rt = &Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(1)
        .build()
        .unwrap();
    let mut g = c.benchmark_group("spawn_blocking");
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            run(
                rt,
                spawn_join(
                    iters,
                    |i| i,
                    |i| tokio::task::spawn_blocking(move || black_box(i)),
                ),
            )
        })
    });
    g.bench_function("ctx", |b| {
        b.iter_custom(|iters| {
            run(
                rt,
                spawn_join(iters, |i| i, |i| ctx::spawn_blocking(move || black_box(i))),
            )
        })
    });
    g.bench_function("opentelemetry", |b| {
        b.iter_custom(|iters| {
            run(
                rt,
                spawn_join(
                    iters,
                    |i| i,
                    |i| {
                        let cx = opentelemetry::Context::current();
                        tokio::task::spawn_blocking(move || {
                            let _guard = cx.attach();
                            black_box(i)
                        })
                    },
                ),
            )
        })
    });
    g.finish();
}

fn main() {
    let mut c = stats::criterion(Duration::from_secs(3));
    for (name, rt) in [
        ("spawn_current_thread", current_thread()),
        ("spawn_multi_thread", multi_thread()),
    ] {
        let mut g = c.benchmark_group(name);
        spawn_cases(&mut g, &rt, "small", small);
        spawn_cases(&mut g, &rt, "medium", medium);
        g.finish();
    }
    spawn_blocking(&mut c);
    let policy_rt = multi_thread();
    spawn_policy(&mut c, &policy_rt);
    c.final_summary();
    // Skipped when a filter is given (`cargo bench --bench spawn -- ctx`).
    if stats::unfiltered() {
        interleaved_runs();
    }
    if stats::unfiltered() || std::env::args().any(|a| a == "spawn_policy") {
        interleaved_policy_runs(&policy_rt);
    }
}
