//! The cost of ctx's ids on a formatted log line: one INFO event,
//! `info!(order = 7, "order placed")`, formatted by `tracing_subscriber::fmt`
//! (default timestamps, ANSI off) into `std::io::sink()`, in text and in
//! JSON. Cases:
//!
//! - `plain`: fmt alone, inside a request's context (a trace context,
//!   entered): no ids on the line;
//! - `ctx`: fmt with `map_event_format(ctx::logs::with_ids)` in the same
//!   context: `trace_id` and `span_id` on the line;
//! - `span`: fmt alone, inside an entered
//!   `info_span!("request", trace_id = %.., span_id = %..)`, the usual way
//!   to get ids on lines (the span's fields are formatted once, when it is
//!   made; each line writes them again);
//! - `plain_outside`, `ctx_outside`: the same two formats outside any
//!   context (the lines are the same).
//!
//! Each case runs with its own subscriber as the thread's default. Run with
//! `cargo bench --bench logs --features tracing-subscriber`; the summary at
//! the end gives each case's time per event, its cost over `plain` and the
//! ratios, from runs with the cases' batches interleaved.

use std::hint::black_box;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ctx::trace::TraceContext;
use ctx::Context;
use tracing::{info, info_span, Dispatch, Span};
use tracing_subscriber::fmt::MakeWriter;

#[path = "support/stats.rs"]
mod stats;

/// The interleaved runs: rounds, and events per case per round.
const ROUNDS: usize = 30;
const BATCH: u64 = 5_000;

const CASES: [&str; 5] = ["plain", "ctx", "span", "plain_outside", "ctx_outside"];

#[derive(Clone, Copy)]
enum Lines {
    Text,
    Json,
}

/// A fmt subscriber writing to `writer`, with ctx's ids or without.
fn subscriber<W>(lines: Lines, ids: bool, writer: W) -> Dispatch
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(writer);
    match (lines, ids) {
        (Lines::Text, false) => Dispatch::new(builder.finish()),
        (Lines::Text, true) => {
            Dispatch::new(builder.map_event_format(ctx::logs::with_ids).finish())
        }
        (Lines::Json, false) => Dispatch::new(builder.json().finish()),
        (Lines::Json, true) => Dispatch::new(
            builder
                .json()
                .map_event_format(ctx::logs::with_ids)
                .finish(),
        ),
    }
}

/// One case: a subscriber, and the context or span its events are in.
struct Case {
    dispatch: Dispatch,
    cx: Option<Context>,
    span: Option<Span>,
}

impl Case {
    fn new<W>(name: &str, lines: Lines, trace: &TraceContext, writer: W) -> Case
    where
        W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    {
        let request = Context::new().with(&ctx::trace::TRACE_CONTEXT, trace.clone());
        let ids = name.starts_with("ctx");
        let dispatch = subscriber(lines, ids, writer);
        let span = (name == "span").then(|| {
            tracing::dispatcher::with_default(&dispatch, || {
                info_span!(
                    "request",
                    trace_id = %trace.trace_id(),
                    span_id = %trace.span_id()
                )
            })
        });
        let cx = matches!(name, "plain" | "ctx").then_some(request);
        Case { dispatch, cx, span }
    }

    /// Emits `n` events.
    fn run(&self, n: u64) {
        tracing::dispatcher::with_default(&self.dispatch, || {
            let _cx = self.cx.as_ref().map(Context::enter);
            let _span = self.span.as_ref().map(Span::enter);
            for i in 0..n {
                info!(order = black_box(i & 7), "order placed");
            }
        });
    }
}

/// A writer keeping what it is given, to check each case's line.
#[derive(Clone, Default)]
struct Kept(Arc<Mutex<Vec<u8>>>);

impl io::Write for Kept {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Checks that each case writes the line it says: the ids where they
/// should be, none elsewhere, and the outside cases alike.
fn check(lines: Lines, trace: &TraceContext) {
    let id = trace.trace_id().to_string();
    let mut seen = Vec::new();
    for name in CASES {
        let kept = Kept::default();
        let writer = kept.clone();
        Case::new(name, lines, trace, move || writer.clone()).run(1);
        let mut line = String::from_utf8(kept.0.lock().unwrap().clone()).unwrap();
        // Drop the timestamp: the first word, or the JSON value.
        let (start, len) = match lines {
            Lines::Text => (0, line.find(' ').unwrap()),
            Lines::Json => {
                let start = line.find("\"timestamp\":\"").unwrap() + 13;
                (start, line[start..].find('"').unwrap())
            }
        };
        line.replace_range(start..start + len, "");
        let has_id = line.contains(&id);
        assert_eq!(has_id, matches!(name, "ctx" | "span"), "{name}: {line}");
        seen.push(line);
    }
    assert_eq!(
        seen[3], seen[4],
        "outside any context the lines are the same"
    );
    if let Lines::Json = lines {
        assert!(seen[1].starts_with("{\"trace_id\":"), "{}", seen[1]);
    }
}

fn main() {
    let trace = TraceContext::new_root();
    let mut c = stats::criterion(Duration::from_secs(2));
    let formats = [("text", Lines::Text), ("json", Lines::Json)];
    let mut all = Vec::new();
    for (format, lines) in formats {
        check(lines, &trace);
        let cases: Vec<Case> = CASES
            .iter()
            .map(|name| Case::new(name, lines, &trace, io::sink))
            .collect();
        let mut group = c.benchmark_group(format!("logs_{format}"));
        for (name, case) in CASES.iter().zip(&cases) {
            group.bench_function(*name, |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    case.run(iters);
                    start.elapsed()
                })
            });
        }
        group.finish();
        all.push((format, cases));
    }
    c.final_summary();

    if stats::unfiltered() {
        for (format, cases) in &all {
            let times = stats::interleaved(cases.len(), ROUNDS, |i| {
                let start = Instant::now();
                cases[i].run(BATCH);
                start.elapsed()
            });
            let title = format!("logs_{format}");
            stats::print_over_first(&title, &CASES, &times, BATCH as f64, ("ns", 1e9));
            let pairs = [
                ("ctx", "plain"),
                ("ctx", "span"),
                ("span", "plain"),
                ("ctx_outside", "plain_outside"),
            ];
            stats::print_ratios("t", &CASES, ROUNDS, &pairs, |i, r| times[i][r]);
            // The cost each way adds to a line, over the plain one.
            let added = |i: usize, r: usize| times[i][r] - times[0][r];
            stats::print_ratios("added", &CASES, ROUNDS, &[("ctx", "span")], added);
        }
    }
}
