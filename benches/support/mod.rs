//! What the HTTP benches share: the routers compared, the request they send,
//! a loopback load generator, and a summary of "added over bare" read back
//! from criterion's estimates.
#![allow(dead_code, unreachable_pub)]
#![allow(clippy::disallowed_methods)] // the benches' own server task, outside any context

#[path = "stats.rs"]
mod stats;
#[allow(unused_imports)] // each bench uses its own subset
pub use stats::{criterion, interleaved, quartiles, unfiltered};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use axum_tracing_opentelemetry::middleware::{OtelAxumLayer, OtelInResponseLayer};
use bytes::Bytes;
use ctx::http::ContextLayer;
use http::{HeaderName, HeaderValue, Request, Response};
use http_body_util::combinators::MapErr;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::util::MapResponseLayer;
use tower::{ServiceBuilder, ServiceExt};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// The inbound `traceparent` of the "with traceparent" cases.
pub const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// The bare router: one GET route returning a short string.
pub fn hello() -> Router {
    Router::new().route("/", get(|| async { "hello" }))
}

/// What `axum::serve` does to a router (`into_make_service`): turn every
/// handler into a route once, instead of on every request. Every case goes
/// through it, so that `oneshot` measures what a served router does.
pub fn finish(router: Router) -> Router {
    router.with_state(())
}

pub fn bare() -> Router {
    finish(hello())
}

pub fn ctx_layer() -> Router {
    finish(hello().layer(ContextLayer::new()))
}

/// ctx's layer echoing neither `traceparent` nor a request id (and so
/// reading no `x-request-id` either): extraction, the context, the server
/// span and the body.
pub fn ctx_no_echo() -> Router {
    let layer = ContextLayer::new()
        .echo_traceparent(false)
        .request_id_header(None);
    finish(hello().layer(layer))
}

/// tower-http's usual stack: a UUID request id, `TraceLayer` with its
/// defaults, and the request id copied to the response.
pub fn tower_http() -> Router {
    finish(
        hello().layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(TraceLayer::new_for_http())
                .layer(PropagateRequestIdLayer::x_request_id()),
        ),
    )
}

/// Part of what ctx's layer does, with nothing else: the response body
/// wrapped in a pass-through body. Under `Router::layer` axum boxes the
/// wrapped body again, as it does for any layer that runs the body (ctx's
/// must: a streaming body is produced inside the request's context).
pub fn body_wrapper() -> Router {
    finish(hello().layer(MapResponseLayer::new(wrap_body)))
}

/// The body wrapper plus the two echoed headers, written plainly: a new
/// 128-bit and 64-bit id, formatted as a `traceparent` line in one buffer,
/// which also gives the request id its bytes (the trace-id part), and both
/// inserted into the response. No extraction, no context, no access log:
/// what echoing the two ids costs whoever does it.
pub fn body_and_echo() -> Router {
    finish(
        hello().layer(MapResponseLayer::new(|mut res: Response<Body>| {
            let line = traceparent_line(next_id(), next_id() as u64);
            let line = Bytes::from_owner(line);
            let rid = HeaderValue::from_maybe_shared(line.slice(3..35)).unwrap();
            let tp = HeaderValue::from_maybe_shared(line).unwrap();
            res.headers_mut().insert(X_REQUEST_ID.clone(), rid);
            res.headers_mut().insert(TRACEPARENT_NAME.clone(), tp);
            wrap_body(res)
        })),
    )
}

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static TRACEPARENT_NAME: HeaderName = HeaderName::from_static("traceparent");

/// A pass-through wrapper of axum's body.
type Wrapped = MapErr<Body, fn(axum::Error) -> axum::Error>;

fn wrap_body(res: Response<Body>) -> Response<Wrapped> {
    res.map(|body| body.map_err(std::convert::identity as fn(_) -> _))
}

/// A new pseudo-random id (xorshift, per thread).
fn next_id() -> u128 {
    thread_local!(static STATE: std::cell::Cell<u64> = const { std::cell::Cell::new(0x9e37_79b9_7f4a_7c15) });
    STATE.with(|s| {
        let step = || {
            let mut x = s.get();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            s.set(x);
            x
        };
        (u128::from(step()) << 64) | u128::from(step())
    })
}

/// `00-<trace>-<span>-01`, lowercase hex: one table lookup per byte.
fn traceparent_line(trace: u128, span: u64) -> [u8; 55] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    const PAIRS: [[u8; 2]; 256] = {
        let mut pairs = [[0; 2]; 256];
        let mut b = 0;
        while b < 256 {
            pairs[b] = [HEX[b >> 4], HEX[b & 0xf]];
            b += 1;
        }
        pairs
    };
    let mut line = *b"00-00000000000000000000000000000000-0000000000000000-01";
    for (out, b) in line[3..35].chunks_exact_mut(2).zip(trace.to_be_bytes()) {
        out.copy_from_slice(&PAIRS[usize::from(b)]);
    }
    for (out, b) in line[36..52].chunks_exact_mut(2).zip(span.to_be_bytes()) {
        out.copy_from_slice(&PAIRS[usize::from(b)]);
    }
    line
}

/// axum-tracing-opentelemetry: W3C extraction into the request's span (or
/// its fallback OpenTelemetry context when the span is disabled) and the
/// trace context injected into the response.
pub fn otel() -> Router {
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    finish(
        hello().layer(
            ServiceBuilder::new()
                .layer(OtelAxumLayer::default())
                .layer(OtelInResponseLayer),
        ),
    )
}

/// Every stack the HTTP benches compare, the bare router first (the
/// baseline).
pub fn compared() -> Vec<(&'static str, Router)> {
    vec![
        ("bare", bare()),
        ("ctx", ctx_layer()),
        ("ctx_no_echo", ctx_no_echo()),
        ("body_wrapper", body_wrapper()),
        ("body_and_echo", body_and_echo()),
        ("tower_http", tower_http()),
        ("otel", otel()),
    ]
}

/// The per-request groups: without and with an inbound `traceparent`.
pub const ONESHOT_GROUPS: [(&str, bool); 2] = [("no_traceparent", false), ("traceparent", true)];

/// The runtime of the per-request (`oneshot`) measurements.
pub fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

/// Registers one criterion bench per router: a `oneshot` request each.
pub fn oneshot_group(
    c: &mut criterion::Criterion,
    rt: &tokio::runtime::Runtime,
    group: &str,
    routers: &[(&'static str, Router)],
    traceparent: bool,
) {
    let mut g = c.benchmark_group(group);
    for (name, router) in routers {
        g.bench_function(*name, |b| {
            b.to_async(rt).iter(|| oneshot(router, traceparent));
        });
    }
    g.finish();
}

/// The interleaved `oneshot` run of `routers` (the first one the
/// baseline): `rounds` rounds of `batch` requests per router, printed as
/// each router's added cost and the `ratios` of added costs.
pub fn interleaved_oneshot(
    rt: &tokio::runtime::Runtime,
    title: &str,
    routers: &[(&'static str, Router)],
    traceparent: bool,
    (rounds, batch): (usize, u64),
    ratios: &[(&str, &str)],
) {
    let times = interleaved(routers.len(), rounds, |i| {
        rt.block_on(async {
            let start = Instant::now();
            for _ in 0..batch {
                oneshot(&routers[i].1, traceparent).await;
            }
            start.elapsed()
        })
    });
    let names: Vec<&str> = routers.iter().map(|(name, _)| *name).collect();
    print_paired_added(title, &names, &times, batch, ratios);
}

/// `GET /`, with or without an inbound `traceparent`.
pub fn request(traceparent: bool) -> Request<Body> {
    let mut req = Request::get("/");
    if traceparent {
        req = req.header("traceparent", TRACEPARENT);
    }
    req.body(Body::empty()).unwrap()
}

/// One request through a clone of `router`, its body read to the end (the
/// way a server does, which is also when the access log is written).
pub async fn oneshot(router: &Router, traceparent: bool) {
    let res = router.clone().oneshot(request(traceparent)).await.unwrap();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"hello");
}

/// Serves `router` on an ephemeral port of 127.0.0.1, in the current
/// runtime.
pub async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// A load generator: keep-alive HTTP/1 connections, one request in flight
/// on each.
#[derive(Clone)]
pub struct Load {
    client: Client<HttpConnector, Empty<bytes::Bytes>>,
    connections: usize,
}

impl Load {
    pub fn new(connections: usize) -> Load {
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(connections)
            .pool_idle_timeout(Duration::from_secs(600))
            .build_http();
        Load {
            client,
            connections,
        }
    }

    /// Sends `total` requests to `addr`, spread over the connections, and
    /// returns the wall time they took. Every response must be a 200 with
    /// the expected body.
    pub async fn run(&self, addr: SocketAddr, total: u64) -> Duration {
        let uri: http::Uri = format!("http://{addr}/").parse().unwrap();
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        let n = self.connections as u64;
        for i in 0..n {
            let share = total / n + u64::from(i < total % n);
            let client = self.client.clone();
            let uri = uri.clone();
            tasks.spawn(async move {
                for _ in 0..share {
                    let req = Request::get(uri.clone()).body(Empty::new()).unwrap();
                    let res = client.request(req).await.unwrap();
                    assert!(res.status().is_success());
                    let body = res.into_body().collect().await.unwrap().to_bytes();
                    assert_eq!(&body[..], b"hello");
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap();
        }
        start.elapsed()
    }
}

/// Where criterion keeps its results: `$CRITERION_HOME`, else
/// `$CARGO_TARGET_DIR/criterion`, else `criterion/` in the target directory
/// this bench was built in.
fn criterion_dir() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return Some(PathBuf::from(home));
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return Some(PathBuf::from(target).join("criterion"));
    }
    // target/release/deps/<bench>
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.parent()?.join("criterion"))
}

/// The estimate criterion saved for `group/id` (the slope when there is
/// one, else the mean), in nanoseconds per iteration: this run's only if
/// the case ran in it, so callers read it only when no filter was given.
pub fn estimate_ns(group: &str, id: &str) -> Option<f64> {
    let path = criterion_dir()?
        .join(group)
        .join(id)
        .join("new")
        .join("estimates.json");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    let pick = |name: &str| json.get(name)?.get("point_estimate")?.as_f64();
    pick("slope").or_else(|| pick("mean"))
}

/// Prints, for one group, each case's time and its cost over `baseline`,
/// then `numerator / denominator` of those added costs.
pub fn print_added(group: &str, cases: &[&str], baseline: &str, ratios: &[(&str, &str)]) {
    let Some(base) = estimate_ns(group, baseline) else {
        println!("{group}: no estimate for {baseline} (filtered out?)");
        return;
    };
    println!("\n{group}");
    println!("| case | time / request | added over {baseline} |");
    println!("|---|---:|---:|");
    for case in cases {
        if let Some(t) = estimate_ns(group, case) {
            println!(
                "| {case} | {:.2} µs | {:+.2} µs |",
                t / 1e3,
                (t - base) / 1e3
            );
        }
    }
    for (num, den) in ratios {
        if let (Some(n), Some(d)) = (estimate_ns(group, num), estimate_ns(group, den)) {
            println!(
                "added({num}) / added({den}) = {:.2}",
                (n - base) / (d - base)
            );
        }
    }
}

/// Prints the paired per-round statistics of an interleaved per-request
/// run: each case's added cost over `cases[0]`, and the ratios of added
/// costs, as median [p25, p75] over rounds. `per_batch` is the number of
/// requests in a batch.
pub fn print_paired_added(
    title: &str,
    cases: &[&str],
    times: &[Vec<f64>],
    per_batch: u64,
    ratios: &[(&str, &str)],
) {
    stats::print_over_first(title, cases, times, per_batch as f64, ("µs", 1e6));
    stats::print_ratios("added", cases, times[0].len(), ratios, |i, r| {
        times[i][r] - times[0][r]
    });
}
