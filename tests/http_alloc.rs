//! Allocations per request of the server layer (no subscriber installed),
//! with no inbound ids, with a `traceparent`, and with a `traceparent` and
//! an `x-request-id` (a UUID): at most 5 over the bare
//! router, and at most 2 of its own (the request's context table and the
//! buffer its two echoed headers share).
//!
//! Both are asserted in two setups: `ContextLayer` added with
//! `Router::layer` (its own counted over the same router with a no-op layer
//! that only wraps the body: axum clones the layered route and boxes its
//! future and the new body type on every request, whatever the layer), and
//! `ContextLayer` wrapped around the bare router. The counts, with
//! tower-http's request-id + trace stack and an OpenTelemetry layer
//! alongside, are printed for `BENCHMARKS.md` (run with `--nocapture`).
//!
//! One test in its own binary: the counting allocator is global, and no other
//! test may allocate while it counts.
#![cfg(all(feature = "http", feature = "axum", feature = "tokio"))]

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use axum_tracing_opentelemetry::middleware::{OtelAxumLayer, OtelInResponseLayer};
use ctx::http::ContextLayer;
use http::Request;
use http::Response;
use http_body_util::combinators::MapErr;
use http_body_util::BodyExt;
use tower::util::MapResponseLayer;
use tower::{Layer, Service, ServiceBuilder, ServiceExt};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// The budget: allocations per request over the bare router.
const BUDGET: f64 = 5.0;
/// The layer's own allocations per request: the context table, and the
/// buffer shared by the echoed `traceparent` and `x-request-id`.
const OWN_BUDGET: f64 = 2.0;
const WARM_UP: u64 = 50;
const REQUESTS: u64 = 200;
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn hello() -> Router {
    Router::new().route("/", get(|| async { "hello" }))
}

/// What `axum::serve` does (`into_make_service`): turn every handler into a
/// route once, not on every request.
fn finish(router: Router) -> Router {
    router.with_state(())
}

/// A layer that only wraps the response body, doing nothing else: what
/// axum's `Router::layer` costs any middleware that wraps the body (the
/// layered route is cloned and its future boxed per request, and the new
/// body type is boxed into axum's `Body`).
fn noop_body_layer() -> MapResponseLayer<fn(Response<Body>) -> Response<Wrapped>> {
    fn same(e: axum::Error) -> axum::Error {
        e
    }
    fn wrap(res: Response<Body>) -> Response<Wrapped> {
        res.map(|body| body.map_err(same as Same))
    }
    MapResponseLayer::new(wrap)
}

type Same = fn(axum::Error) -> axum::Error;
type Wrapped = MapErr<Body, Same>;

/// What the requests carry.
#[derive(Clone, Copy)]
enum Inbound {
    Nothing,
    Traceparent,
    TraceparentAndRequestId,
}

impl Inbound {
    fn label(self) -> &'static str {
        match self {
            Inbound::Nothing => "nothing",
            Inbound::Traceparent => "traceparent",
            Inbound::TraceparentAndRequestId => "traceparent, x-request-id",
        }
    }
}

async fn one<S, B>(service: &S, inbound: Inbound)
where
    S: Service<Request<Body>, Response = Response<B>> + Clone,
    S::Error: std::fmt::Debug,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let mut req = Request::get("/");
    if !matches!(inbound, Inbound::Nothing) {
        req = req.header("traceparent", TRACEPARENT);
    }
    if matches!(inbound, Inbound::TraceparentAndRequestId) {
        // A server (hyper) hands the service header values that share the
        // connection's read buffer: cloning one (to echo it) takes a
        // reference count. A static value clones without allocating too;
        // one built with `from_str` would allocate on its first clone.
        let id = http::HeaderValue::from_static("0f8fad5b-d9cb-469f-a165-70867728950e");
        req = req.header("x-request-id", id);
    }
    let req = req.body(Body::empty()).unwrap();
    let res = service.clone().oneshot(req).await.unwrap();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"hello");
}

/// Average allocations (blocks) per request, after a warm-up.
fn per_request<S, B>(rt: &tokio::runtime::Runtime, service: &S, inbound: Inbound) -> f64
where
    S: Service<Request<Body>, Response = Response<B>> + Clone,
    S::Error: std::fmt::Debug,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    rt.block_on(async {
        for _ in 0..WARM_UP {
            one(service, inbound).await;
        }
        let before = dhat::HeapStats::get().total_blocks;
        for _ in 0..REQUESTS {
            one(service, inbound).await;
        }
        let after = dhat::HeapStats::get().total_blocks;
        (after - before) as f64 / REQUESTS as f64
    })
}

fn allocations_per_request() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    let bare = finish(hello());
    let noop = finish(hello().layer(noop_body_layer()));
    let ctx = finish(hello().layer(ContextLayer::new()));
    let ctx_no_log = finish(hello().layer(ContextLayer::new().access_log(None)));
    let ctx_outside = ContextLayer::new().layer(finish(hello()));
    let tower_http = finish(
        hello().layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(TraceLayer::new_for_http())
                .layer(PropagateRequestIdLayer::x_request_id()),
        ),
    );
    let otel = finish(
        hello().layer(
            ServiceBuilder::new()
                .layer(OtelAxumLayer::default())
                .layer(OtelInResponseLayer),
        ),
    );

    println!("| case | inbound | allocations / request | over bare |");
    println!("|---|---|---:|---:|");
    let cases: [(&str, &dyn Fn(Inbound) -> f64); 7] = [
        ("bare", &|i| per_request(&rt, &bare, i)),
        ("no-op body layer", &|i| per_request(&rt, &noop, i)),
        ("ctx", &|i| per_request(&rt, &ctx, i)),
        ("ctx, access_log(None)", &|i| {
            per_request(&rt, &ctx_no_log, i)
        }),
        ("ctx around the router", &|i| {
            per_request(&rt, &ctx_outside, i)
        }),
        ("tower-http", &|i| per_request(&rt, &tower_http, i)),
        ("otel", &|i| per_request(&rt, &otel, i)),
    ];
    for inbound in [
        Inbound::Nothing,
        Inbound::Traceparent,
        Inbound::TraceparentAndRequestId,
    ] {
        let counts: Vec<f64> = cases.iter().map(|(_, count)| count(inbound)).collect();
        let tp = inbound.label();
        for ((name, _), n) in cases.iter().zip(&counts) {
            println!("| {name} | {tp} | {n:.1} | {:+.1} |", n - counts[0]);
        }
        let [bare, noop, ctx, ctx_no_log, ctx_outside, ..] = counts[..] else {
            unreachable!()
        };
        // Over the bare router, and the layer's own (over the same router
        // shape without it).
        for (name, over_bare, own) in [
            ("ctx (Router::layer)", ctx - bare, ctx - noop),
            (
                "ctx, access_log(None) (Router::layer)",
                ctx_no_log - bare,
                ctx_no_log - noop,
            ),
            // Around the router the layer wraps the bare router itself: its
            // own count is its count over bare, held to the tighter budget.
            (
                "ctx around the router",
                ctx_outside - bare,
                ctx_outside - bare,
            ),
        ] {
            assert!(
                over_bare <= BUDGET,
                "{name} (inbound: {tp}) adds {over_bare} allocations per request over \
                 the bare router, budget {BUDGET}"
            );
            assert!(
                own <= OWN_BUDGET,
                "{name} (inbound: {tp}) makes {own} allocations of its own per request, \
                 budget {OWN_BUDGET}"
            );
        }
    }
}

#[path = "support/alone.rs"]
mod alone;

fn main() {
    alone::run("allocations_per_request", allocations_per_request);
}
