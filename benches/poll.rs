//! Per-poll overhead of running a future inside a context.
//!
//! Every case polls the same hand-written future, which wakes itself and
//! returns `Pending` 1000 times before it completes, with a no-op waker in a
//! loop: the time of one iteration divided by 1000 is the cost of one poll.
//! The wrappers compared:
//!
//! - `bare`: the future alone;
//! - `ctx`: `ctx::Instrumented` (`in_context`), holding a one-value context;
//! - `cell_swap`: the floor of that design, a context moved in and out of a
//!   thread-local `Cell` around each poll, with nothing else;
//! - `clone_per_poll`: what the design avoids, a thread-local `RefCell` slot
//!   and a reference-count clone of the context on every poll;
//! - `task_local`: `tokio::task_local!` `scope`, holding a `u64`;
//! - `tracing`: `tracing::Instrument` with a span and no subscriber;
//! - `opentelemetry`: `opentelemetry::context::FutureExt::with_context`,
//!   holding a one-value context.
//!
//! Run with `cargo bench --bench poll`.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::hint::black_box;
use std::pin::{pin, Pin};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ctx::{Context, FutureExt as _, Key};
use opentelemetry::context::FutureExt as _;
use tracing::Instrument as _;

/// How many times the measured future returns `Pending`.
const POLLS: u32 = 1000;

static REQUEST: Key<u64> = Key::new("request");

tokio::task_local! {
    static TASK_REQUEST: u64;
}

/// The value the opentelemetry context holds.
#[derive(Debug)]
struct OtelRequest(#[allow(dead_code)] u64);

/// Wakes itself and returns `Pending` `left` times, then `Ready`.
#[derive(Debug)]
struct PendingN {
    left: u32,
}

impl PendingN {
    fn new() -> PendingN {
        PendingN {
            left: black_box(POLLS),
        }
    }
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

/// Polls `fut` to completion with a no-op waker. `black_box` on the pinned
/// reference keeps the compiler from folding the polls together.
#[inline(never)]
fn drive<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = TaskContext::from_waker(futures::task::noop_waker_ref());
    loop {
        if let Poll::Ready(out) = black_box(fut.as_mut()).poll(&mut cx) {
            return out;
        }
    }
}

// ===== the two baselines, written here =====

thread_local! {
    static CELL_SLOT: Cell<Context> = const { Cell::new(Context::new()) };
    static REFCELL_SLOT: RefCell<Context> = const { RefCell::new(Context::new()) };
}

/// Moves its context into a thread-local `Cell` for each poll and takes it
/// back afterwards (restoring the previous one in a guard, so that a panic
/// restores too): two `Cell::replace` per poll, no reference count.
#[derive(Debug)]
struct CellSwap<F> {
    cx: Context,
    inner: F,
}

impl<F: Future + Unpin> Future for CellSwap<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        struct Back<'a>(&'a mut Context);
        impl Drop for Back<'_> {
            fn drop(&mut self) {
                let prev = std::mem::take(self.0);
                *self.0 = CELL_SLOT.with(|slot| slot.replace(prev));
            }
        }
        let this = &mut *self;
        let prev = CELL_SLOT.with(|slot| slot.replace(std::mem::take(&mut this.cx)));
        this.cx = prev;
        let _back = Back(&mut this.cx);
        Pin::new(&mut this.inner).poll(cx)
    }
}

/// Installs a clone of its context in a thread-local `RefCell` for each poll
/// and restores the previous one afterwards, the way opentelemetry's
/// `WithContext` does: one reference-count increment and decrement per poll.
#[derive(Debug)]
struct ClonePerPoll<F> {
    cx: Context,
    inner: F,
}

impl<F: Future + Unpin> Future for ClonePerPoll<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        struct Restore(Option<Context>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let prev = self.0.take().unwrap_or_default();
                let ours = REFCELL_SLOT.with(|slot| slot.replace(prev));
                drop(ours);
            }
        }
        let this = &mut *self;
        let prev = REFCELL_SLOT.with(|slot| slot.replace(this.cx.clone()));
        let _restore = Restore(Some(prev));
        Pin::new(&mut this.inner).poll(cx)
    }
}

fn poll(c: &mut Criterion) {
    let cx = Context::new().with(&REQUEST, 42);
    let otel_cx = opentelemetry::Context::new().with_value(OtelRequest(42));
    let span = tracing::info_span!("request");
    assert!(span.is_disabled(), "no subscriber is installed");

    let mut g = c.benchmark_group("poll");
    g.throughput(Throughput::Elements(u64::from(POLLS)));
    g.bench_function("bare", |b| b.iter(|| drive(PendingN::new())));
    g.bench_function("ctx", |b| {
        b.iter(|| drive(PendingN::new().in_context(cx.clone())))
    });
    g.bench_function("cell_swap", |b| {
        b.iter(|| {
            drive(CellSwap {
                cx: cx.clone(),
                inner: PendingN::new(),
            })
        })
    });
    g.bench_function("clone_per_poll", |b| {
        b.iter(|| {
            drive(ClonePerPoll {
                cx: cx.clone(),
                inner: PendingN::new(),
            })
        })
    });
    g.bench_function("task_local", |b| {
        b.iter(|| drive(TASK_REQUEST.scope(42, PendingN::new())))
    });
    g.bench_function("tracing", |b| {
        b.iter(|| drive(PendingN::new().instrument(span.clone())))
    });
    g.bench_function("opentelemetry", |b| {
        b.iter(|| drive(PendingN::new().with_context(otel_cx.clone())))
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(40)
}

criterion_group! {
    name = benches;
    config = config();
    targets = poll
}
criterion_main!(benches);
