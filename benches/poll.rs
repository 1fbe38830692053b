//! Per-poll overhead of running a future inside a context.
//!
//! Every case polls the same hand-written future, which wakes itself and
//! returns `Pending` 1000 times before it completes, with a no-op waker in a
//! loop: the time of one iteration divided by 1000 is the cost of one poll.
//! The wrappers compared:
//!
//! - `bare`: the future alone;
//! - `ctx`: `ctx::Instrumented` (`in_context`), holding a one-value context;
//! - `ctx_replay`: `Instrumented` holding that context and a value whose
//!   key has a replay function that only runs the poll
//!   ([`Key::with_replay`](ctx::Key::with_replay)): the cost of the
//!   carried-context mechanism itself, what `ctx_otel` below pays before
//!   opentelemetry's part;
//! - `cell_swap`: the floor of that design, a context moved in and out of a
//!   thread-local `Cell` around each poll, with nothing else;
//! - `clone_per_poll`: what the design avoids, a thread-local `RefCell` slot
//!   and a reference-count clone of the context on every poll;
//! - `task_local`: `tokio::task_local!` `scope`, holding a `u64`;
//! - `tracing`: `tracing::Instrument` with a span and no subscriber;
//! - `opentelemetry`: `opentelemetry::context::FutureExt::with_context`,
//!   holding a one-value context;
//! - with the `opentelemetry` feature, `ctx_otel`: `Instrumented` holding
//!   the `ctx` case's context with a trace context and the opentelemetry
//!   context `ctx::otel::with_trace` makes for it (its span as a remote
//!   parent), which every poll makes opentelemetry's current one; and
//!   `opentelemetry_span`: `with_context` holding that same opentelemetry
//!   context, the cost `ctx_otel` is held to (at most half of its
//!   overhead, the target).
//!
//! After criterion's runs, the same cases are measured again interleaved
//! (rounds of one batch per case, in rotated order) and the per-poll cost
//! over `bare` is printed as the median of the per-round differences: on a
//! shared machine the more trustworthy figure.
//!
//! Run with `cargo bench --bench poll` (add `--features opentelemetry` for
//! the last two cases).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::hint::black_box;
use std::pin::{pin, Pin};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use criterion::{Criterion, Throughput};
use ctx::{Context, FutureExt as _};
use opentelemetry::context::FutureExt as _;
use tracing::Instrument as _;

/// How many times the measured future returns `Pending`.
const POLLS: u32 = 1000;

#[path = "support/shapes.rs"]
mod shapes;
#[path = "support/stats.rs"]
mod stats;

use shapes::{OtelRequest, REQUEST, TASK_REQUEST};

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

/// A key whose replay function does nothing but run the work.
static REPLAYED: ctx::Key<u64> = ctx::Key::new("replayed").with_replay(|_, run| run());

/// One whole run of the measured future (1000 polls) in one wrapper.
type Case = (&'static str, Box<dyn Fn() -> u32>);

/// The cases.
fn cases() -> Vec<Case> {
    let cx = Context::new().with(&REQUEST, 42);
    let otel_cx = opentelemetry::Context::new().with_value(OtelRequest(42));
    let span = tracing::info_span!("request");
    assert!(span.is_disabled(), "no subscriber is installed");
    let replaying = cx.with(&REPLAYED, 1);
    let (c1, c2, c3) = (cx.clone(), cx.clone(), cx);
    #[allow(unused_mut)]
    let mut cases: Vec<Case> = vec![
        ("bare", Box::new(|| drive(PendingN::new()))),
        (
            "ctx",
            Box::new(move || drive(PendingN::new().in_context(c1.clone()))),
        ),
        (
            "ctx_replay",
            Box::new(move || drive(PendingN::new().in_context(replaying.clone()))),
        ),
        (
            "cell_swap",
            Box::new(move || {
                drive(CellSwap {
                    cx: c2.clone(),
                    inner: PendingN::new(),
                })
            }),
        ),
        (
            "clone_per_poll",
            Box::new(move || {
                drive(ClonePerPoll {
                    cx: c3.clone(),
                    inner: PendingN::new(),
                })
            }),
        ),
        (
            "task_local",
            Box::new(|| drive(TASK_REQUEST.scope(42, PendingN::new()))),
        ),
        (
            "tracing",
            Box::new(move || drive(PendingN::new().instrument(span.clone()))),
        ),
        (
            "opentelemetry",
            Box::new(move || drive(PendingN::new().with_context(otel_cx.clone()))),
        ),
    ];
    #[cfg(feature = "opentelemetry")]
    cases.extend(otel_cases());
    cases
}

/// ctx carrying an opentelemetry context, and opentelemetry holding the
/// same one.
#[cfg(feature = "opentelemetry")]
fn otel_cases() -> Vec<Case> {
    use opentelemetry::trace::{SpanContext, TraceContextExt as _};

    let trace = ctx::trace::TraceContext::new_root();
    let cx = ctx::otel::with_trace(
        &Context::new()
            .with(&REQUEST, 42)
            .with(&ctx::trace::TRACE_CONTEXT, trace.clone()),
    );
    let otel_cx = opentelemetry::Context::new().with_remote_span_context(SpanContext::from(&trace));
    // What a poll of `ctx_otel` shows opentelemetry.
    let seen = drive(
        async {
            opentelemetry::Context::current()
                .span()
                .span_context()
                .clone()
        }
        .in_context(cx.clone()),
    );
    assert_eq!(&seen, otel_cx.span().span_context());
    vec![
        (
            "ctx_otel",
            Box::new(move || drive(PendingN::new().in_context(cx.clone()))),
        ),
        (
            "opentelemetry_span",
            Box::new(move || drive(PendingN::new().with_context(otel_cx.clone()))),
        ),
    ]
}

fn poll(c: &mut Criterion) {
    let mut g = c.benchmark_group("poll");
    g.throughput(Throughput::Elements(u64::from(POLLS)));
    for (name, run) in cases() {
        g.bench_function(name, |b| b.iter(&run));
    }
    g.finish();
}

/// Rounds of the interleaved run, and runs of the future per batch.
const ROUNDS: usize = 31;
const BATCH: u32 = 400;

fn interleaved_run() {
    let cases = cases();
    let names: Vec<&str> = cases.iter().map(|(n, _)| *n).collect();
    let times = stats::interleaved(cases.len(), ROUNDS, |i| {
        let start = std::time::Instant::now();
        for _ in 0..BATCH {
            black_box((cases[i].1)());
        }
        start.elapsed()
    });
    let per_poll = f64::from(BATCH * POLLS);
    stats::print_over_first("poll (per poll)", &names, &times, per_poll, ("ns", 1e9));
    stats::print_ratios("time", &names, ROUNDS, &[("ctx", "bare")], |i, r| {
        times[i][r]
    });
    // The target: ctx's overhead against task_local!'s, round by round.
    stats::print_ratios(
        "overhead",
        &names,
        ROUNDS,
        &[("ctx", "task_local"), ("cell_swap", "task_local")],
        |i, r| times[i][r] - times[0][r],
    );
    if names.contains(&"ctx_otel") {
        // The target: carrying an opentelemetry context against
        // opentelemetry's own `with_context` of the same context, as
        // overheads over `bare`, and as what carrying it adds to `ctx`.
        stats::print_ratios(
            "overhead",
            &names,
            ROUNDS,
            &[
                ("ctx_otel", "opentelemetry_span"),
                ("ctx", "opentelemetry_span"),
            ],
            |i, r| times[i][r] - times[0][r],
        );
        let ctx = names.iter().position(|n| *n == "ctx").unwrap();
        stats::print_ratios(
            "added",
            &names,
            ROUNDS,
            &[("ctx_otel", "opentelemetry_span")],
            |i, r| {
                let base = if names[i] == "ctx_otel" { ctx } else { 0 };
                times[i][r] - times[base][r]
            },
        );
    }
}

fn main() {
    let mut c = stats::criterion(Duration::from_secs(3));
    poll(&mut c);
    c.final_summary();
    // Skipped when a filter is given (`cargo bench --bench poll -- ctx`).
    if stats::unfiltered() {
        interleaved_run();
    }
}
