#![allow(clippy::disallowed_methods)] // plain tokio::spawn is the baseline measured against
//! What carried context systems (`ctx::carry`) cost: with none, one and
//! three carriers registered, beside the plain case, per poll and per
//! spawn.
//!
//! Carriers cannot be unregistered, so the bench runs in three phases, in
//! this order: nothing registered, one carrier, three. Each carrier carries
//! a `thread_local!` `u32` of its own (non-zero in the measured contexts),
//! the way a user's own per-thread context is carried: its capture reads
//! the thread-local, its key's replay function installs the value around
//! every run and restores the previous one.
//!
//! In each phase:
//! - `poll/bare`: a hand-written future that returns `Pending` 1000 times,
//!   polled alone; `poll/ctx`: the same in an `Instrumented` holding a
//!   one-value context captured in that phase (so with the phase's carried
//!   values, each replayed around every poll);
//! - `spawn/tokio`: `tokio::spawn` and join of a small future; `spawn/ctx`:
//!   `ctx::spawn` of it (the capture runs every registered carrier), from a
//!   driver task that runs in the phase's context, on a two-worker runtime.
//!
//! Each phase is measured by criterion and then interleaved (rounds of one
//! batch per case, in rotated order); the interleaved per-round ratio to the
//! plain case is printed: the figure to compare across phases.
//!
//! Run with `cargo bench --bench carry` (short settings:
//! `cargo bench --bench carry -- --warm-up-time 1 --measurement-time 3`).

use std::cell::Cell;
use std::future::Future;
use std::hint::black_box;
use std::pin::{pin, Pin};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use criterion::Criterion;
use ctx::carry::{self, Carrier};
use ctx::{Context, FutureExt as _, Key};
use tokio::runtime::{Builder, Runtime};

#[path = "support/stats.rs"]
mod stats;

static REQUEST: Key<u64> = Key::new("request");

/// Declares a carried `thread_local!` `u32`: the thread-local, the key
/// whose replay installs it, and the carrier that captures it.
macro_rules! carried {
    ($($local:ident $key:ident $carrier:ident),* $(,)?) => {
        $(
            thread_local! {
                static $local: Cell<u32> = const { Cell::new(0) };
            }

            static $key: Key<u32> = Key::new(stringify!($key)).with_replay(|v, run| {
                struct Restore(u32);
                impl Drop for Restore {
                    fn drop(&mut self) {
                        $local.set(self.0);
                    }
                }
                let _restore = Restore($local.replace(*v));
                run();
            });

            static $carrier: Carrier = Carrier::new(stringify!($carrier), |cx| {
                let v = $local.get();
                (v != 0 && cx.get(&$key) != Some(&v)).then(|| cx.with(&$key, v))
            });
        )*

        /// Sets every carried thread-local of this thread to `v`.
        fn set_locals(v: u32) {
            $($local.set(v);)*
        }
    };
}

carried! {
    LOCAL_A KEY_A CARRIER_A,
    LOCAL_B KEY_B CARRIER_B,
    LOCAL_C KEY_C CARRIER_C,
}

/// How many times the polled future returns `Pending`.
const POLLS: u32 = 1000;

/// Wakes itself and returns `Pending` `left` times, then `Ready`.
struct PendingN {
    left: u32,
}

impl Future for PendingN {
    type Output = u32;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<u32> {
        if self.left == 0 {
            return Poll::Ready(0);
        }
        self.left -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

fn pending_n() -> PendingN {
    PendingN {
        left: black_box(POLLS),
    }
}

/// Polls `fut` to completion with a no-op waker.
#[inline(never)]
fn drive<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = TaskContext::from_waker(std::task::Waker::noop());
    loop {
        if let Poll::Ready(out) = black_box(fut.as_mut()).poll(&mut cx) {
            return out;
        }
    }
}

/// The phase's context: one value, and what the registered carriers
/// capture from this thread's (set) thread-locals.
fn phase_context() -> Context {
    set_locals(7);
    let cx = Context::new().with(&REQUEST, 42).run(Context::capture);
    set_locals(0);
    cx
}

async fn small(a: u64) -> u64 {
    black_box(a)
}

/// Spawns and joins `iters` tasks with `spawn` in a driver task running in
/// `cx`, and returns the time they took.
fn spawn_join<S>(rt: &Runtime, cx: &Context, iters: u64, spawn: S) -> Duration
where
    S: Fn(u64) -> tokio::task::JoinHandle<u64> + Send + 'static,
{
    let driver = async move {
        let start = Instant::now();
        for i in 0..iters {
            black_box(spawn(i).await.unwrap());
        }
        start.elapsed()
    };
    rt.block_on(rt.spawn(driver.in_context(cx.clone())))
        .unwrap()
}

type Case = (&'static str, Box<dyn Fn(u64) -> Duration>);

/// The cases of one phase, in the context captured in it.
fn cases(rt: &'static Runtime) -> Vec<Case> {
    let cx = phase_context();
    let (c1, c2) = (cx.clone(), cx.clone());
    vec![
        (
            "poll/bare",
            Box::new(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    drive(pending_n());
                }
                start.elapsed()
            }),
        ),
        (
            "poll/ctx",
            Box::new(move |iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    drive(pending_n().in_context(c1.clone()));
                }
                start.elapsed()
            }),
        ),
        (
            "spawn/tokio",
            Box::new(move |iters| spawn_join(rt, &c2, iters, |i| tokio::spawn(small(i)))),
        ),
        (
            "spawn/ctx",
            Box::new(move |iters| spawn_join(rt, &cx, iters, |i| ctx::spawn(small(i)))),
        ),
    ]
}

const ROUNDS: usize = 51;
/// Batches: runs of the polled future, and spawns.
const POLL_BATCH: u64 = 50;
const SPAWN_BATCH: u64 = 5_000;

fn phase(c: &mut Criterion, rt: &'static Runtime, name: &str) {
    let cases = cases(rt);
    let mut g = c.benchmark_group(format!("carry_{name}"));
    for (case, f) in &cases {
        g.bench_function(*case, |b| b.iter_custom(f));
    }
    g.finish();
    if !stats::unfiltered() {
        return;
    }
    let batch = |i: usize| if i < 2 { POLL_BATCH } else { SPAWN_BATCH };
    let times = stats::interleaved(cases.len(), ROUNDS, |i| (cases[i].1)(batch(i)));
    let names: Vec<&str> = cases.iter().map(|(n, _)| *n).collect();
    let (poll_names, spawn_names) = names.split_at(2);
    let (poll_times, spawn_times) = times.split_at(2);
    let per_poll = (POLL_BATCH * u64::from(POLLS)) as f64;
    stats::print_over_first(
        &format!("carry_{name}: per poll"),
        poll_names,
        poll_times,
        per_poll,
        ("ns", 1e9),
    );
    stats::print_ratios(
        "time",
        poll_names,
        ROUNDS,
        &[("poll/ctx", "poll/bare")],
        |i, r| poll_times[i][r],
    );
    stats::print_over_first(
        &format!("carry_{name}: per spawn and join"),
        spawn_names,
        spawn_times,
        SPAWN_BATCH as f64,
        ("ns", 1e9),
    );
    stats::print_ratios(
        "time",
        spawn_names,
        ROUNDS,
        &[("spawn/ctx", "spawn/tokio")],
        |i, r| spawn_times[i][r],
    );
}

fn main() {
    let rt: &'static Runtime = Box::leak(Box::new(
        Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap(),
    ));
    let mut c = stats::criterion(Duration::from_secs(2));
    phase(&mut c, rt, "none");
    carry::register(&CARRIER_A).unwrap();
    phase(&mut c, rt, "one");
    carry::register(&CARRIER_B).unwrap();
    carry::register(&CARRIER_C).unwrap();
    phase(&mut c, rt, "three");
    c.final_summary();
}
