//! The size of a spawned future, bare and in each wrapper, and the allocation
//! tokio makes for its task.
//!
//! tokio allocates a task's header, scheduler, future (or output) and trailer
//! in one block, 128-byte aligned on x86_64, so the block comes in size
//! classes: every word a wrapper adds to the future can move the task to the
//! next class. This program wraps each future the way the `spawn` bench does,
//! prints `size_of_val` of the wrapped future, and counts the bytes and blocks
//! allocated by the spawn call itself with `dhat`'s counting allocator. It
//! prints a Markdown table and checks nothing.
//!
//! Run with `cargo bench --bench sizes`.
#![allow(clippy::disallowed_methods)] // the plain primitives are the baseline ctx is measured against

use std::future::Future;
use std::hint::black_box;
use std::mem::{size_of, size_of_val};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use ctx::{Context, FutureExt as _};
use opentelemetry::context::FutureExt as _;
use tokio::task::JoinHandle;
use tracing::Instrument as _;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

#[path = "support/shapes.rs"]
mod shapes;

use shapes::{in_all_contexts, medium, small, TASK_REQUEST};

/// An 8-byte hand-written future.
#[derive(Debug)]
struct Handwritten(u64);

impl Future for Handwritten {
    type Output = u64;

    fn poll(self: Pin<&mut Self>, _: &mut TaskContext<'_>) -> Poll<u64> {
        Poll::Ready(black_box(self.0))
    }
}

pin_project_lite::pin_project! {
    /// The floor for any wrapper that carries a `ctx::Context`: the context
    /// pointer next to the future, nothing else. Polls the inner future
    /// without installing anything; it is only here to be measured.
    struct Floor<F> {
        cx: Context,
        #[pin]
        inner: F,
    }
}

impl<F: Future> Future for Floor<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        black_box(this.cx);
        this.inner.poll(cx)
    }
}

/// Bytes and blocks allocated while `spawn` runs; then joins the task.
async fn allocated(spawn: impl FnOnce() -> JoinHandle<u64>) -> (u64, u64) {
    let before = dhat::HeapStats::get();
    let handle = spawn();
    let after = dhat::HeapStats::get();
    black_box(handle.await.unwrap());
    (
        after.total_bytes - before.total_bytes,
        after.total_blocks - before.total_blocks,
    )
}

/// Prints one row per wrapper for futures made by `make`.
async fn rows<M, F>(shape: &str, make: M)
where
    M: Fn(u64) -> F,
    F: Future<Output = u64> + Send + 'static,
{
    let floor = |f| Floor {
        cx: Context::current(),
        inner: f,
    };
    let cases: [(&str, usize, (u64, u64)); 6] = [
        (
            "bare `tokio::spawn`",
            size_of_val(&make(1)),
            allocated(|| tokio::spawn(make(1))).await,
        ),
        (
            "`ctx::spawn` (`Instrumented<F>`)",
            size_of_val(&make(1).in_current_context()),
            allocated(|| ctx::spawn(make(1))).await,
        ),
        (
            "floor: `Context` + `F`",
            size_of_val(&floor(make(1))),
            allocated(|| tokio::spawn(floor(make(1)))).await,
        ),
        (
            "opentelemetry `WithContext<F>`",
            size_of_val(&make(1).with_current_context()),
            allocated(|| tokio::spawn(make(1).with_current_context())).await,
        ),
        (
            "tracing `Instrumented<F>`",
            size_of_val(&make(1).in_current_span()),
            allocated(|| tokio::spawn(make(1).in_current_span())).await,
        ),
        (
            "`task_local!` `scope`",
            size_of_val(&TASK_REQUEST.scope(1, make(1))),
            allocated(|| tokio::spawn(TASK_REQUEST.scope(TASK_REQUEST.get(), make(1)))).await,
        ),
    ];
    for (case, size, (bytes, blocks)) in cases {
        println!("| {shape} | {case} | {size} | {bytes} | {blocks} |");
    }
}

fn main() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let body = async {
        // Let the runtime grow its queues before anything is counted.
        for i in 0..64 {
            black_box(tokio::spawn(small(i)).await.unwrap());
        }
        println!("`ctx::Context`: {} bytes; `opentelemetry::Context`: {} bytes; `tracing::Span`: {} bytes", size_of::<Context>(), size_of::<opentelemetry::Context>(), size_of::<tracing::Span>());
        println!();
        println!(
            "| future | spawned as | future size (bytes) | task allocation (bytes) | allocations |"
        );
        println!("|---|---|---:|---:|---:|");
        rows("small `async` (1 × u64)", small).await;
        rows("medium `async` (2 × u64)", medium).await;
        rows("hand-written (1 × u64)", Handwritten).await;
    };
    rt.block_on(in_all_contexts(body));
}
