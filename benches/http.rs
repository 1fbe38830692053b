//! The server layer's cost per request, with no `tracing` subscriber
//! installed, side by side with the bare router, tower-http's request-id +
//! trace stack and an OpenTelemetry layer, and two layers that do only
//! part of ctx's response work (`body_wrapper`: a pass-through body, which
//! axum boxes again; `body_and_echo`: that plus the two echoed ids, written
//! plainly), so that their share of ctx's cost is measured in the same run:
//!
//! - `http_oneshot_*`: one request through `router.clone().oneshot(req)`,
//!   its body read to the end, with and without an inbound `traceparent`;
//! - `http_loopback`: requests per second over 127.0.0.1 (`axum::serve`),
//!   driven by an in-process client with 8 keep-alive connections.
//!
//! Run with `cargo bench --bench http`; the summary at the end prints the
//! cost each layer adds over the bare router and the ratios, from
//! criterion's estimates and then from interleaved runs (every case's
//! batches alternated round by round, so that a busy machine skews the
//! ratios less). The logging
//! cost is in `http_logging.rs` (a global subscriber can be set only once
//! per process).

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use support::{print_added, Load, ONESHOT_GROUPS};

const CASES: [&str; 7] = [
    "bare",
    "ctx",
    "ctx_no_echo",
    "body_wrapper",
    "body_and_echo",
    "tower_http",
    "otel",
];
/// The ratios printed: ctx's added cost, and the parts of it any layer
/// doing the same response work pays, each over tower-http's.
const RATIOS: [(&str, &str); 4] = [
    ("ctx", "tower_http"),
    ("ctx_no_echo", "tower_http"),
    ("body_wrapper", "tower_http"),
    ("body_and_echo", "tower_http"),
];
const CONNECTIONS: usize = 8;
/// The interleaved runs: rounds, and requests per case per round.
const ROUNDS: usize = 25;
const ONESHOT_BATCH: u64 = 4_000;
const LOOPBACK_BATCH: u64 = 4_000;

fn oneshot_groups(c: &mut Criterion) {
    let rt = support::current_thread();
    let routers = support::compared();
    for (group, traceparent) in ONESHOT_GROUPS {
        let group = format!("http_oneshot_{group}");
        support::oneshot_group(c, &rt, &group, &routers, traceparent);
    }
}

/// The loopback runtime: the server and the load generator share its two
/// workers.
fn loopback_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Serves `router` on loopback and opens the load's connections to it.
fn serve_warm(rt: &tokio::runtime::Runtime, load: &Load, router: axum::Router) -> SocketAddr {
    let addr = rt.block_on(support::serve(router));
    rt.block_on(load.run(addr, 4 * CONNECTIONS as u64));
    addr
}

fn loopback_group(c: &mut Criterion) {
    let rt = loopback_runtime();
    let load = Load::new(CONNECTIONS);
    let mut g = c.benchmark_group("http_loopback");
    // One iteration is one request: criterion reports requests per second.
    g.throughput(Throughput::Elements(1));
    for (name, router) in support::compared() {
        let addr = serve_warm(&rt, &load, router);
        g.bench_function(name, |b| {
            b.to_async(&rt)
                .iter_custom(|requests| load.run(addr, requests));
        });
    }
    g.finish();
}

/// The same comparisons, each case's batches interleaved with the others'
/// (see `support::interleaved`), for ratios that a busy machine skews less.
fn interleaved_runs() {
    let routers = support::compared();
    let names: Vec<&str> = routers.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, CASES, "the criterion summaries read these names");
    let current = support::current_thread();
    for (group, traceparent) in ONESHOT_GROUPS {
        let title = format!("http_oneshot_{group}");
        let shape = (ROUNDS, ONESHOT_BATCH);
        support::interleaved_oneshot(&current, &title, &routers, traceparent, shape, &RATIOS);
    }

    let rt = loopback_runtime();
    let load = Load::new(CONNECTIONS);
    let addrs: Vec<_> = routers
        .into_iter()
        .map(|(_, router)| serve_warm(&rt, &load, router))
        .collect();
    let times = support::interleaved(addrs.len(), ROUNDS, |i| {
        rt.block_on(load.run(addrs[i], LOOPBACK_BATCH))
    });
    println!(
        "\nhttp_loopback: interleaved, {ROUNDS} rounds of {LOOPBACK_BATCH} requests per case, \
         {CONNECTIONS} connections; median [p25, p75]"
    );
    println!("| case | requests/s | vs bare (per round) |");
    println!("|---|---:|---:|");
    for (i, case) in names.iter().enumerate() {
        let rps = |r: usize| LOOPBACK_BATCH as f64 / times[i][r];
        let (m, q25, q75) = support::quartiles((0..ROUNDS).map(rps).collect());
        let (v, v25, v75) =
            support::quartiles((0..ROUNDS).map(|r| times[0][r] / times[i][r]).collect());
        println!("| {case} | {m:.0} [{q25:.0}, {q75:.0}] | {v:.3} [{v25:.3}, {v75:.3}] |");
    }
}

fn main() {
    let mut c = support::criterion(Duration::from_secs(2));
    oneshot_groups(&mut c);
    loopback_group(&mut c);
    c.final_summary();

    // The summaries read criterion's saved estimates, and the interleaved
    // runs repeat every case: both only when every case ran in this run (no
    // filter given, as in `cargo bench --bench http -- ctx`).
    if !support::unfiltered() {
        return;
    }
    print_added("http_oneshot_no_traceparent", &CASES, "bare", &RATIOS);
    print_added("http_oneshot_traceparent", &CASES, "bare", &RATIOS);
    println!("\nhttp_loopback ({CONNECTIONS} connections)");
    println!("| case | requests/s | vs bare |");
    println!("|---|---:|---:|");
    let base = support::estimate_ns("http_loopback", "bare");
    for case in CASES {
        if let (Some(t), Some(base)) = (support::estimate_ns("http_loopback", case), base) {
            println!("| {case} | {:.0} | {:.3} |", 1e9 / t, base / t);
        }
    }
    interleaved_runs();
}
