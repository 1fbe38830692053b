//! Invariant 6: capture, enter and every poll of an `Instrumented` allocate
//! nothing; `Context::with` costs a stated, fixed number of allocations.
//!
//! One test in its own binary: the counting allocator is global, and no other
//! test may allocate while it counts.
#![allow(clippy::disallowed_methods)] // plain spawns on purpose: contextless baselines, wrapped work on plain threads, servers

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use ctx::{Context, FutureExt, Key};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

macro_rules! keys {
    ($($name:ident)*) => {
        $(static $name: Key<u64> = Key::new(stringify!($name));)*
        static ALL: &[&Key<u64>] = &[$(&$name),*];
    };
}

keys!(K00 K01 K02 K03 K04 K05 K06 K07 K08 K09 K10 K11 K12 K13 K14 K15
      K16 K17 K18 K19 K20 K21 K22 K23 K24 K25 K26 K27 K28 K29 K30 K31
      K32 K33 K34 K35 K36 K37 K38 K39 K40 K41 K42 K43 K44 K45 K46 K47
      K48 K49 K50 K51 K52 K53 K54 K55 K56 K57 K58 K59 K60 K61 K62 K63);

fn blocks() -> u64 {
    dhat::HeapStats::get().total_blocks
}

fn allocations<R>(f: impl FnOnce() -> R) -> (u64, R) {
    let before = blocks();
    let r = f();
    (blocks() - before, r)
}

/// Pending `n` times, reading the context on each poll.
struct Countdown(u32);

impl Future for Countdown {
    type Output = Option<u64>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<u64>> {
        let seen = K00.with(|v| v.copied());
        if self.0 == 0 {
            return Poll::Ready(seen);
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

fn allocation_budget() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let mut cx = Context::new();
    for (i, key) in ALL.iter().enumerate() {
        cx = cx.with(key, i as u64);
    }
    assert_eq!(cx.len(), 64);

    // `with`: the value, and the new snapshot (one allocation for its table).
    let (n, bigger) = allocations(|| Context::new().with(&K00, 1));
    assert_eq!(n, 2, "with on an empty context");
    let (n, _) = allocations(|| cx.with(&K01, 1));
    assert_eq!(n, 2, "with on 64 values (replacing one)");
    drop(bigger);
    // The request's trace context is held in the table: one allocation.
    let trace = ctx::trace::TraceContext::new_root();
    let (n, traced) = allocations(|| cx.with(&ctx::trace::TRACE_CONTEXT, trace.clone()));
    assert_eq!(n, 1, "with of a TraceContext");
    assert_eq!(traced.get(&ctx::trace::TRACE_CONTEXT), Some(&trace));
    drop(traced);

    let _guard = cx.enter();
    // Capture: a reference count, never an allocation, at any size.
    let (n, captured) = allocations(Context::current);
    assert_eq!(n, 0, "capture");
    assert_eq!(captured.len(), 64);
    // Reads.
    let (n, v) = allocations(|| (K63.get(), K00.with(|v| v.copied())));
    assert_eq!(n, 0, "Key::get / Key::with");
    assert_eq!(v, (Some(63), Some(0)));
    // Enter and run.
    let (n, seen) = allocations(|| captured.run(|| K10.get()));
    assert_eq!(n, 0, "enter + run");
    assert_eq!(seen, Some(10));

    // Polls: wrap, then poll 1000 times.
    let waker = futures::task::noop_waker();
    let mut task_cx = TaskContext::from_waker(&waker);
    let mut fut = Box::pin(Countdown(1000).in_context(captured.clone()));
    let (n, out) = allocations(|| loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut task_cx) {
            break v;
        }
    });
    assert_eq!(n, 0, "1001 polls of an Instrumented");
    assert_eq!(out, Some(0));
    // A drop parks the thread's context in the thread's slot: nothing to
    // allocate.
    let (n, _) = allocations(|| drop(Countdown(0).in_context(captured.clone())));
    assert_eq!(n, 0, "drop of an Instrumented");
    let (n, _) = allocations(|| drop(fut));
    assert_eq!(n, 0, "drop inside the context");
    // Nested drops (an instrumented future holding another) park the inner
    // ones on a per-thread stack, which grows once to the deepest nesting.
    let nested = || {
        Countdown(0)
            .in_context(captured.clone())
            .in_context(captured.clone())
    };
    let (n, _) = allocations(|| drop(nested()));
    assert!(n <= 1, "first nested drop on this thread: {n}");
    let (n, _) = allocations(|| drop(nested()));
    assert_eq!(n, 0, "nested drop once the stack has grown");

    // Carrying an opentelemetry context: every poll makes it current and
    // puts the previous one back without allocating (once the thread has
    // opentelemetry's context stack), and a capture in a context that
    // carries the right one adds nothing.
    #[cfg(feature = "opentelemetry")]
    {
        ctx::otel::init().unwrap();
        let traced =
            ctx::otel::with_trace(&captured.with(&ctx::trace::TRACE_CONTEXT, trace.clone()));
        traced.run(|| ()); // opentelemetry's stack for this thread
        let mut fut = Box::pin(Countdown(1000).in_context(traced.clone()));
        let (n, _) = allocations(|| loop {
            if fut.as_mut().poll(&mut task_cx).is_ready() {
                break;
            }
        });
        assert_eq!(n, 0, "1001 polls carrying an opentelemetry context");
        let (n, job) = allocations(|| traced.run(|| ctx::wrap(|| K10.get())));
        assert_eq!(n, 0, "capture where the opentelemetry context is carried");
        assert_eq!(job(), Some(10));
    }

    // The spawn helpers cost what tokio's own spawn costs: one task cell.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        // Warm the runtime's own lazily allocated structures first.
        tokio::spawn(async {}).await.unwrap();
        ctx::spawn(async {}).await.unwrap();
        let (bare, h) = allocations(|| tokio::spawn(async { 1 }));
        h.await.unwrap();
        let (ours, h) = allocations(|| ctx::spawn(async { 1 }));
        assert_eq!(h.await.unwrap(), 1);
        assert_eq!(ours, bare, "ctx::spawn allocates what tokio::spawn does");
        assert_eq!(ours, 1);
    });
}

#[path = "support/alone.rs"]
mod alone;

fn main() {
    alone::run("allocation_budget", allocation_budget);
}
