//! The server layer's cost per request with its access-log line formatted,
//! against tower-http set up to write one INFO line per request.
//!
//! The process-wide default subscriber is `tracing_subscriber::fmt` at INFO
//! (no ANSI colours) writing to `std::io::sink()`: every line is formatted,
//! none is written anywhere. Cases, each one `router.clone().oneshot(req)`
//! with its body read to the end:
//!
//! - `bare`: the router alone (it logs nothing);
//! - `ctx`: `ContextLayer::new()`, whose access-log event is INFO;
//! - `tower_http_info_span`: `SetRequestId(uuid)` + `TraceLayer` +
//!   `PropagateRequestId`, the `TraceLayer` configured for exactly one INFO
//!   line per request: its span at INFO (so the line carries `method`, `uri`
//!   and `version`, as ctx's carries method and route), `on_request`,
//!   `on_body_chunk` and `on_eos` off, `on_response` at INFO (`latency`,
//!   `status`), `on_failure` left as is (only on errors);
//! - `tower_http_no_span`: the same, the span left at its default DEBUG, so
//!   filtered out: a cheaper line with only `latency` and `status`.
//!
//! Run with `cargo bench --bench http_logging`; the summary at the end
//! prints the cost each case adds over the bare router and the ratios, from
//! criterion's estimates and then from interleaved runs.

mod support;

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::{bare, ctx_layer, finish, hello, oneshot, print_added, ONESHOT_GROUPS};
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

/// The interleaved runs: rounds, and requests per case per round.
const ROUNDS: usize = 25;
const BATCH: u64 = 2_000;
const CASES: [&str; 4] = ["bare", "ctx", "tower_http_info_span", "tower_http_no_span"];

/// tower-http's request-id + trace stack, one INFO line per request; the
/// span at `span_level`.
fn tower_http_one_line(span_level: Level) -> axum::Router {
    let trace = TraceLayer::new_for_http()
        .make_span_with(DefaultMakeSpan::new().level(span_level))
        .on_request(())
        .on_response(DefaultOnResponse::new().level(Level::INFO))
        .on_body_chunk(())
        .on_eos(());
    finish(
        hello().layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(trace)
                .layer(PropagateRequestIdLayer::x_request_id()),
        ),
    )
}

/// Counts the lines a fmt subscriber writes.
#[derive(Clone, Default)]
struct Lines(Arc<AtomicUsize>);

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = buf.iter().filter(|b| **b == b'\n').count();
        self.0.fetch_add(n, Ordering::Relaxed);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The lines one request writes, with the same subscriber settings as the
/// bench, to check each case writes what it says it does.
fn lines_per_request(rt: &tokio::runtime::Runtime, router: &axum::Router) -> usize {
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || rt.block_on(oneshot(router, true)));
    lines.0.load(Ordering::Relaxed)
}

fn main() {
    let rt = support::current_thread();
    let routers = [
        ("bare", bare()),
        ("ctx", ctx_layer()),
        ("tower_http_info_span", tower_http_one_line(Level::INFO)),
        ("tower_http_no_span", tower_http_one_line(Level::DEBUG)),
    ];
    for (name, router) in &routers {
        let expected = usize::from(*name != "bare");
        assert_eq!(lines_per_request(&rt, router), expected, "{name}");
    }

    tracing_subscriber::fmt()
        .with_max_level(Level::INFO)
        .with_ansi(false)
        .with_writer(std::io::sink)
        .init();

    let mut c = support::criterion(Duration::from_secs(2));
    for (group, traceparent) in ONESHOT_GROUPS {
        let group = format!("http_logging_{group}");
        support::oneshot_group(&mut c, &rt, &group, &routers, traceparent);
    }
    c.final_summary();

    let ratios = [
        ("ctx", "tower_http_info_span"),
        ("ctx", "tower_http_no_span"),
    ];
    // The summaries read criterion's saved estimates, and then the same
    // comparisons run with each case's batches interleaved with the others'
    // (see `support::interleaved`): both only when every case ran in this
    // run (no filter given).
    if support::unfiltered() {
        print_added("http_logging_no_traceparent", &CASES, "bare", &ratios);
        print_added("http_logging_traceparent", &CASES, "bare", &ratios);
        let names: Vec<&str> = routers.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, CASES, "the criterion summaries read these names");
        for (group, traceparent) in ONESHOT_GROUPS {
            let title = format!("http_logging_{group}");
            support::interleaved_oneshot(
                &rt,
                &title,
                &routers,
                traceparent,
                (ROUNDS, BATCH),
                &ratios,
            );
        }
    }
}
