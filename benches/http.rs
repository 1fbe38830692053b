//! The server layer's cost per request, with no `tracing` subscriber
//! installed, side by side with the bare router, tower-http's request-id +
//! trace stack and an OpenTelemetry layer:
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

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use support::{bare, ctx_layer, ctx_no_log, oneshot, otel, print_added, tower_http, Load};

const CASES: [&str; 5] = ["bare", "ctx", "ctx_no_access_log", "tower_http", "otel"];
const CONNECTIONS: usize = 8;
/// The interleaved runs: rounds, and requests per case per round.
const ROUNDS: usize = 25;
const ONESHOT_BATCH: u64 = 4_000;
const LOOPBACK_BATCH: u64 = 4_000;

fn routers() -> Vec<(&'static str, axum::Router)> {
    vec![
        ("bare", bare()),
        ("ctx", ctx_layer()),
        ("ctx_no_access_log", ctx_no_log()),
        ("tower_http", tower_http()),
        ("otel", otel()),
    ]
}

fn oneshot_groups(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for (group, traceparent) in [
        ("http_oneshot_no_traceparent", false),
        ("http_oneshot_traceparent", true),
    ] {
        let mut g = c.benchmark_group(group);
        for (name, router) in routers() {
            g.bench_function(name, |b| {
                b.to_async(&rt).iter(|| oneshot(&router, traceparent));
            });
        }
        g.finish();
    }
}

fn loopback_group(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let load = Load::new(CONNECTIONS);
    let mut g = c.benchmark_group("http_loopback");
    // One iteration is one request: criterion reports requests per second.
    g.throughput(Throughput::Elements(1));
    for (name, router) in routers() {
        let addr = rt.block_on(support::serve(router));
        // Open the connections before measuring.
        rt.block_on(load.run(addr, 4 * CONNECTIONS as u64));
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
    let routers = routers();
    let ratios = [("ctx", "tower_http"), ("ctx_no_access_log", "tower_http")];
    let current = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for (title, traceparent) in [
        ("http_oneshot_no_traceparent", false),
        ("http_oneshot_traceparent", true),
    ] {
        let times = support::interleaved(routers.len(), ROUNDS, |i| {
            current.block_on(async {
                let start = Instant::now();
                for _ in 0..ONESHOT_BATCH {
                    oneshot(&routers[i].1, traceparent).await;
                }
                start.elapsed()
            })
        });
        support::print_paired_added(title, &CASES, &times, ONESHOT_BATCH, &ratios);
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let load = Load::new(CONNECTIONS);
    let addrs: Vec<_> = routers
        .into_iter()
        .map(|(_, router)| {
            let addr = rt.block_on(support::serve(router));
            rt.block_on(load.run(addr, 4 * CONNECTIONS as u64));
            addr
        })
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
    for (i, case) in CASES.iter().enumerate() {
        let rps = |r: usize| LOOPBACK_BATCH as f64 / times[i][r];
        let (m, q25, q75) = support::quartiles((0..ROUNDS).map(rps).collect());
        let (v, v25, v75) =
            support::quartiles((0..ROUNDS).map(|r| times[0][r] / times[i][r]).collect());
        println!("| {case} | {m:.0} [{q25:.0}, {q75:.0}] | {v:.3} [{v25:.3}, {v75:.3}] |");
    }
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(40)
        .configure_from_args();
    oneshot_groups(&mut c);
    loopback_group(&mut c);
    c.final_summary();

    let ratios = [("ctx", "tower_http"), ("ctx_no_access_log", "tower_http")];
    print_added("http_oneshot_no_traceparent", &CASES, "bare", &ratios);
    print_added("http_oneshot_traceparent", &CASES, "bare", &ratios);
    println!("\nhttp_loopback ({CONNECTIONS} connections)");
    println!("| case | requests/s | vs bare |");
    println!("|---|---:|---:|");
    let base = support::estimate_ns("http_loopback", "bare");
    for case in CASES {
        if let (Some(t), Some(base)) = (support::estimate_ns("http_loopback", case), base) {
            println!("| {case} | {:.0} | {:.3} |", 1e9 / t, base / t);
        }
    }

    // Skipped when a filter is given (`cargo bench --bench http -- ctx`).
    if support::unfiltered() {
        interleaved_runs();
    }
}
