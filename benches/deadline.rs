//! The server layer's cost per request with deadlines and cancellation on
//! and off, beside the layer alone and the bare router (axum `oneshot`, its
//! body read to the end, no `tracing` subscriber):
//!
//! - `bare`, `layer`: the bare router, and `ContextLayer` with deadline
//!   reading off (the layer's cost as it was);
//! - `layer_reading`: deadline reading on (`grpc-timeout` and a plain
//!   header), a request carrying neither: what every request pays now;
//! - `bare_sent`, `deadline`, `deadline_cancel`, `deadline_cancel_asked`:
//!   requests carrying `x-request-timeout-ms` (building a request with a
//!   header costs the client too, so these compare with `bare_sent`): to
//!   the bare router; to the layer reading it; with cancellation on too;
//!   and with a handler that asks for the token (the token and its timer
//!   task are made); `layer_sent`: the layer with deadline reading off
//!   given the same request, so that `deadline_cancel` over `layer_sent`
//!   is the cost of the feature on vs off for one request.
//!
//! Run with `cargo bench --features cancel,axum --bench deadline`; the summary
//! prints each case's time and, from interleaved runs (every case's batches
//! alternated round by round), what deadline and cancellation add (over
//! `layer_sent`, or with the layer over `bare_sent`) divided by the layer's
//! added cost (`layer` over `bare`).

#[path = "support/stats.rs"]
mod stats;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use ctx::http::ContextLayer;
use http::{HeaderName, HeaderValue, Request};
use http_body_util::BodyExt;
use tower::ServiceExt;

const ROUNDS: usize = 25;
const BATCH: u64 = 2_000;

fn hello(asks: bool) -> Router {
    if asks {
        Router::new().route(
            "/",
            get(|| async {
                let token = ctx::cancel::token();
                assert!(token.is_some());
                "hello"
            }),
        )
    } else {
        Router::new().route("/", get(|| async { "hello" }))
    }
}

fn layered(layer: ContextLayer, asks: bool) -> Router {
    hello(asks).layer(layer).with_state(())
}

fn header() -> Option<HeaderName> {
    Some(HeaderName::from_static(
        ctx::propagation::X_REQUEST_TIMEOUT_MS,
    ))
}

/// The cases: name, router, whether the request carries a deadline.
fn cases() -> Vec<(&'static str, Router, bool)> {
    let reading = || ContextLayer::new().deadline_header(header());
    vec![
        ("bare", hello(false).with_state(()), false),
        (
            "layer",
            layered(ContextLayer::new().deadline(false), false),
            false,
        ),
        ("layer_reading", layered(reading(), false), false),
        ("bare_sent", hello(false).with_state(()), true),
        (
            "layer_sent",
            layered(ContextLayer::new().deadline(false), false),
            true,
        ),
        ("deadline", layered(reading(), false), true),
        (
            "deadline_cancel",
            layered(reading().cancellation(true), false),
            true,
        ),
        (
            "deadline_cancel_asked",
            layered(reading().cancellation(true), true),
            true,
        ),
    ]
}

async fn oneshot(router: &Router, deadline: bool) {
    let mut req = Request::get("/");
    if deadline {
        req = req.header("x-request-timeout-ms", HeaderValue::from_static("30000"));
    }
    let res = router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"hello");
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cases = cases();
    // `DEADLINE_CASE=name DEADLINE_N=n`: only `n` requests of one case, for
    // counting instructions under `valgrind --tool=callgrind` (the
    // difference of two counts, over the difference of their `n`, is one
    // request's, whatever the machine's load).
    if let (Ok(name), Ok(n)) = (std::env::var("DEADLINE_CASE"), std::env::var("DEADLINE_N")) {
        let (_, router, deadline) = cases.iter().find(|c| c.0 == name).expect("a case's name");
        let n: u64 = n.parse().expect("a count");
        rt.block_on(async {
            for _ in 0..n {
                oneshot(router, *deadline).await;
            }
        });
        return;
    }
    let mut c = stats::criterion(Duration::from_secs(2));
    let mut g = c.benchmark_group("deadline_oneshot");
    for (name, router, deadline) in &cases {
        g.bench_function(*name, |b| {
            b.to_async(&rt).iter(|| oneshot(router, *deadline));
        });
    }
    g.finish();
    c.final_summary();
    if !stats::unfiltered() {
        return;
    }

    let times = stats::interleaved(cases.len(), ROUNDS, |i| {
        rt.block_on(async {
            let start = Instant::now();
            for _ in 0..BATCH {
                oneshot(&cases[i].1, cases[i].2).await;
            }
            start.elapsed()
        })
    });
    let names: Vec<&str> = cases.iter().map(|(n, _, _)| *n).collect();
    stats::print_over_first(
        "deadline_oneshot",
        &names,
        &times,
        BATCH as f64,
        ("µs", 1e6),
    );
    // The layer's added cost per round: over `bare` for requests without a
    // deadline header, over `bare_sent` for those with one.
    let at = |name: &str| names.iter().position(|n| *n == name).unwrap();
    let added = |case: &str, base: &str, r: usize| times[at(case)][r] - times[at(base)][r];
    // `x over layer_sent`: the feature on vs off for the same request.
    for (case, base) in [
        ("layer_reading", "bare"),
        ("layer_sent", "bare_sent"),
        ("deadline", "layer_sent"),
        ("deadline_cancel", "layer_sent"),
        ("deadline", "bare_sent"),
        ("deadline_cancel", "bare_sent"),
        ("deadline_cancel_asked", "bare_sent"),
    ] {
        let ratios = (0..ROUNDS)
            .map(|r| added(case, base, r) / added("layer", "bare", r))
            .collect();
        let (m, q25, q75) = stats::quartiles(ratios);
        println!(
            "added({case} over {base}) / added(layer over bare) = {m:.3} [{q25:.3}, {q75:.3}]"
        );
    }
}
