//! A message through a channel, handled in its sender's context: what
//! `ctx::Carried` adds per message, beside a bare message and the same done
//! by hand with opentelemetry's `Context`.
//!
//! Each iteration sends one `u64` on a tokio unbounded `mpsc` (sync `send`,
//! `try_recv`: no runtime, so the channel's own cost is small and fixed)
//! from inside a request's context (a trace context and one value of a
//! key), and the consumer runs a handler that reads one value:
//!
//! - `bare`: the message alone; the handler reads the consumer's (empty)
//!   context;
//! - `carried_run`: `Carried::new` at the send, `run` at the consumer;
//! - `carried_scope`: the same with `scope`, the handler an `async` block
//!   polled once (a noop waker);
//! - `opentelemetry`: `(msg, Context::current())` sent, `attach()` around
//!   the handler, the way one carries an opentelemetry context by hand.
//!
//! Then the same cases interleaved (each case's batches alternating with
//! the others', so that a busy machine slows them alike), printed as a
//! table of ns per message and the cost over `bare`.
//!
//! Run with `cargo bench --bench channels`.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::Criterion;
use ctx::trace::TraceContext;
use ctx::{Carried, Context, Key};
use opentelemetry::Context as OtelContext;
use tokio::sync::mpsc;

#[path = "support/stats.rs"]
mod stats;

static TENANT: Key<u64> = Key::new("tenant");

/// An opentelemetry value: the type is the key.
#[derive(Debug)]
struct Tenant(u64);

/// The request's context on the sending side.
fn request() -> Context {
    TraceContext::new_root()
        .sync_scope(Context::current)
        .with(&TENANT, 7)
}

fn handler() -> Option<u64> {
    TENANT.get()
}

fn poll_once<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    match fut
        .as_mut()
        .poll(&mut TaskContext::from_waker(Waker::noop()))
    {
        Poll::Ready(v) => v,
        Poll::Pending => unreachable!("the handler does not wait"),
    }
}

/// Both ends of an unbounded channel.
type Channel<T> = (mpsc::UnboundedSender<T>, mpsc::UnboundedReceiver<T>);

/// One message of each case: send in `sender`'s context, receive and
/// handle in the consumer's.
struct Cases {
    sender: Context,
    bare: (mpsc::UnboundedSender<u64>, mpsc::UnboundedReceiver<u64>),
    carried: Channel<Carried<u64>>,
    otel: Channel<(u64, OtelContext)>,
    otel_sender: OtelContext,
}

const NAMES: [&str; 4] = ["bare", "carried_run", "carried_scope", "opentelemetry"];

impl Cases {
    fn new() -> Cases {
        Cases {
            sender: request(),
            bare: mpsc::unbounded_channel(),
            carried: mpsc::unbounded_channel(),
            otel: mpsc::unbounded_channel(),
            otel_sender: OtelContext::new().with_value(Tenant(7)),
        }
    }

    fn run(&mut self, case: usize) -> Option<u64> {
        match case {
            0 => self.bare(),
            1 => self.carried_run(),
            2 => self.carried_scope(),
            _ => self.opentelemetry(),
        }
    }

    // One function per case, never inlined, so that a profiler (callgrind's
    // instruction counts, the load-independent figure) sees each apart.

    #[inline(never)]
    fn bare(&mut self) -> Option<u64> {
        self.sender.run(|| self.bare.0.send(black_box(1)).unwrap());
        let msg = self.bare.1.try_recv().unwrap();
        black_box(msg);
        handler()
    }

    #[inline(never)]
    fn carried_run(&mut self) -> Option<u64> {
        self.sender
            .run(|| self.carried.0.send(Carried::new(black_box(1))).unwrap());
        let job = self.carried.1.try_recv().unwrap();
        job.run(|msg| {
            black_box(msg);
            handler()
        })
    }

    #[inline(never)]
    fn carried_scope(&mut self) -> Option<u64> {
        self.sender
            .run(|| self.carried.0.send(Carried::new(black_box(1))).unwrap());
        let job = self.carried.1.try_recv().unwrap();
        poll_once(job.scope(|msg| async move {
            black_box(msg);
            handler()
        }))
    }

    #[inline(never)]
    fn opentelemetry(&mut self) -> Option<u64> {
        let guard = self.otel_sender.clone().attach();
        self.otel
            .0
            .send((black_box(1), OtelContext::current()))
            .unwrap();
        drop(guard);
        let (msg, cx) = self.otel.1.try_recv().unwrap();
        let _guard = cx.attach();
        black_box(msg);
        OtelContext::current().get::<Tenant>().map(|t| t.0)
    }
}

fn per_message(c: &mut Criterion) {
    let mut g = c.benchmark_group("channel_message");
    let mut cases = Cases::new();
    for (i, name) in NAMES.iter().enumerate() {
        let want = if i == 0 { None } else { Some(7) };
        assert_eq!(cases.run(i), want, "{name}");
        g.bench_function(*name, |b| b.iter(|| black_box(cases.run(i))));
    }
    g.finish();
}

fn interleaved() {
    const BATCH: usize = 20_000;
    let mut cases = Cases::new();
    let times = stats::interleaved(NAMES.len(), 30, |i| {
        let start = Instant::now();
        for _ in 0..BATCH {
            black_box(cases.run(i));
        }
        start.elapsed()
    });
    stats::print_over_first("channel_message", &NAMES, &times, BATCH as f64, ("ns", 1e9));
}

fn main() {
    let mut c = stats::criterion(Duration::from_secs(2));
    per_message(&mut c);
    c.final_summary();
    if stats::unfiltered() {
        interleaved();
    }
}
