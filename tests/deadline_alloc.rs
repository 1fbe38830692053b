//! Allocations per request of the server layer's deadline and cancellation
//! (no subscriber installed): reading deadlines costs nothing on a request
//! without one; a deadline and the cancellation signal together cost no
//! allocation of their own; asking for the token costs more only then.
//!
//! One test in its own binary: the counting allocator is global, and no other
//! test may allocate while it counts.
#![cfg(all(
    feature = "http",
    feature = "axum",
    feature = "tokio",
    feature = "cancel"
))]

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use ctx::http::ContextLayer;
use http::{HeaderName, HeaderValue, Request};
use http_body_util::BodyExt;
use tower::ServiceExt;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const WARM_UP: u64 = 50;
const REQUESTS: u64 = 200;

fn app(layer: ContextLayer, asks: bool) -> Router {
    let router = if asks {
        Router::new().route(
            "/",
            get(|| async {
                assert!(ctx::cancel::token().is_some());
                "hello"
            }),
        )
    } else {
        Router::new().route("/", get(|| async { "hello" }))
    };
    router.layer(layer).with_state(())
}

async fn one(router: &Router, deadline: bool) {
    let mut req = Request::get("/");
    if deadline {
        // As from a server: a header value that clones without allocating.
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

fn per_request(rt: &tokio::runtime::Runtime, router: &Router, deadline: bool) -> f64 {
    rt.block_on(async {
        for _ in 0..WARM_UP {
            one(router, deadline).await;
        }
        let before = dhat::HeapStats::get().total_blocks;
        for _ in 0..REQUESTS {
            one(router, deadline).await;
        }
        let after = dhat::HeapStats::get().total_blocks;
        (after - before) as f64 / REQUESTS as f64
    })
}

fn deadline_and_cancellation_allocations_per_request() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let header = || Some(HeaderName::from_static("x-request-timeout-ms"));
    let off = || ContextLayer::new().deadline(false);
    let base = per_request(&rt, &app(off(), false), false);
    // The same request with the header (building a request's header map
    // allocates), to a layer that does not read it.
    let base_sent = per_request(&rt, &app(off(), false), true);
    let reading = per_request(
        &rt,
        &app(ContextLayer::new().deadline_header(header()), false),
        false,
    );
    let with_deadline = per_request(
        &rt,
        &app(ContextLayer::new().deadline_header(header()), false),
        true,
    );
    let both_layer = || {
        ContextLayer::new()
            .deadline_header(header())
            .cancellation(true)
    };
    let both = per_request(&rt, &app(both_layer(), false), true);
    let cancel_only = per_request(
        &rt,
        &app(ContextLayer::new().cancellation(true), false),
        false,
    );
    let asked = per_request(&rt, &app(both_layer(), true), true);
    println!(
        "allocations per request: layer {base:.2} (with the header sent, not read: \
         {base_sent:.2}), reading deadlines (none sent) {reading:.2}, \
         a deadline {with_deadline:.2}, deadline + cancellation {both:.2}, \
         cancellation alone {cancel_only:.2}, token asked for {asked:.2}"
    );
    assert_eq!(
        reading, base,
        "reading deadlines costs nothing when none came"
    );
    // The budget (deadline and signal) lives in the request's table: no
    // allocation of its own.
    assert_eq!(
        with_deadline, base_sent,
        "a deadline allocates nothing of its own"
    );
    assert_eq!(
        both, base_sent,
        "deadline and cancellation together allocate nothing of their own"
    );
    assert_eq!(
        cancel_only, base,
        "cancellation allocates nothing until it is asked for"
    );
    // Asking makes the token (and, with a deadline, its timer task).
    assert!(
        asked > both,
        "the token is made on the first ask: {asked} vs {both}"
    );
}

#[path = "support/alone.rs"]
mod alone;

fn main() {
    alone::run(
        "deadline_and_cancellation_allocations_per_request",
        deadline_and_cancellation_allocations_per_request,
    );
}
