//! The HTTP layer end to end on loopback: inbound extraction, every hop of a
//! handler, outbound propagation, malformed and huge headers, streaming
//! bodies, and the axum extractors.
#![cfg(all(feature = "http", feature = "axum", feature = "tokio"))]
#![allow(clippy::disallowed_methods)] // plain spawns on purpose: contextless baselines, wrapped work on plain threads, servers

mod support;

use ctx::http::ContextLayer;
use support::http::{client, echoed, get_with, lines, request, start_app};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

fn traceparent() -> String {
    format!("00-{TRACE}-{CALLER_SPAN}-01")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hop_sees_the_inbound_trace_id() {
    let addr = start_app(ContextLayer::new()).await;
    let client = client();
    let tp = traceparent();
    let (res, body) = get_with(
        &client,
        addr,
        "/hops",
        &[("traceparent", &tp), ("baggage", "user=alice")],
    )
    .await;
    assert_eq!(res.status(), 200);

    // The server span continues the caller's trace with a new span id.
    let (echo_trace, server_span) = echoed(&res);
    assert_eq!(echo_trace, TRACE);
    assert_ne!(server_span, CALLER_SPAN);
    // No request id came in: the trace id stands in for it.
    assert_eq!(res.headers()["x-request-id"], TRACE);

    let hops = lines(&body);
    for (hop, seen) in &hops {
        match hop.as_str() {
            "plain_spawn" => assert_eq!(seen, "-", "plain tokio::spawn must not see it"),
            "stream" => assert_eq!(seen, &format!("{TRACE},{TRACE}")),
            "downstream_received" => {
                // The outbound call is a child span of the server span.
                let parts: Vec<&str> = seen.split('-').collect();
                assert_eq!(parts[1], TRACE);
                assert_ne!(parts[2], server_span, "outbound call gets its own span id");
                assert_ne!(parts[2], CALLER_SPAN);
                let parent = hops.iter().find(|(k, _)| k == "downstream_parent").unwrap();
                assert_eq!(parent.1, parts[2], "downstream's parent is the call's span");
            }
            "downstream_trace" => assert_eq!(seen, TRACE),
            "downstream_parent" => {}
            "baggage" => assert_eq!(seen, "alice"),
            _ => assert_eq!(seen, TRACE, "hop {hop}"),
        }
    }
    assert_eq!(hops.len(), 11, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_or_with_bad_headers_get_a_fresh_trace() {
    let addr = start_app(ContextLayer::new()).await;
    let client = client();
    let huge = "a".repeat(16 * 1024);
    let huge_baggage = format!("k={huge}");
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![],
        vec![("traceparent", "garbage")],
        vec![(
            "traceparent",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )],
        vec![(
            "traceparent",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        )],
        vec![(
            "traceparent",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        )],
        vec![("traceparent", &huge)],
        vec![("baggage", &huge_baggage), ("tracestate", &huge)],
        vec![("b3", "not-b3"), ("x-b3-traceid", "zz")],
        vec![("x-request-id", "two words")],
        vec![("x-request-id", &huge[..300])],
    ];
    let mut seen = std::collections::HashSet::new();
    for headers in cases {
        let (res, body) = get_with(&client, addr, "/hops", &headers).await;
        assert_eq!(res.status(), 200, "{headers:?}");
        let (trace, _) = echoed(&res);
        assert_eq!(trace.len(), 32);
        assert_ne!(trace, "0".repeat(32));
        assert_ne!(trace, TRACE);
        assert!(
            seen.insert(trace.clone()),
            "each request gets its own trace"
        );
        // A missing or invalid request id is replaced by the trace id.
        assert_eq!(res.headers()["x-request-id"], trace.as_str());
        for (hop, id) in lines(&body) {
            if hop == "handler" || hop == "spawn" || hop == "thread" {
                assert_eq!(id, trace, "{headers:?}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_id_is_kept_and_echoed() {
    let addr = start_app(ContextLayer::new()).await;
    let (res, _) = get_with(&client(), addr, "/hops", &[("x-request-id", "req-42")]).await;
    assert_eq!(res.headers()["x-request-id"], "req-42");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_body_is_produced_inside_the_context() {
    let addr = start_app(ContextLayer::new()).await;
    let tp = traceparent();
    let (res, body) = get_with(&client(), addr, "/stream", &[("traceparent", &tp)]).await;
    assert_eq!(res.status(), 200);
    let chunks: Vec<&str> = body.lines().collect();
    assert_eq!(
        chunks,
        [
            format!("0:{TRACE}"),
            format!("1:{TRACE}"),
            format!("2:{TRACE}")
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_callers_start_a_new_trace_and_lose_baggage() {
    let addr = start_app(ContextLayer::new().trust(ctx::http::Trust::Untrusted)).await;
    let tp = traceparent();
    let (res, body) = get_with(
        &client(),
        addr,
        "/hops",
        &[("traceparent", &tp), ("baggage", "user=mallory")],
    )
    .await;
    let (trace, _) = echoed(&res);
    assert_ne!(trace, TRACE);
    let hops = lines(&body);
    assert!(hops.iter().any(|(k, v)| k == "handler" && v == &trace));
    assert!(
        hops.iter().any(|(k, v)| k == "baggage" && v == "-"),
        "{body}"
    );
}

/// One GET `/` through `app`, with `headers`, no network.
async fn oneshot_get(
    app: axum::Router,
    headers: &[(&str, &str)],
) -> http::Response<axum::body::Body> {
    use tower::ServiceExt;
    app.oneshot(request(http::Method::GET, "/", headers))
        .await
        .unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn echo_headers_can_be_switched_off() {
    let app = axum::Router::new()
        .route("/", axum::routing::get(|| async { "ok" }))
        .layer(
            ContextLayer::new()
                .echo_traceparent(false)
                .request_id_header(None)
                .access_log(None),
        );
    let res = oneshot_get(app, &[]).await;
    assert_eq!(res.status(), 200);
    assert!(!res.headers().contains_key("traceparent"));
    assert!(!res.headers().contains_key("x-request-id"));
}

#[tokio::test(flavor = "current_thread")]
async fn extractors_need_the_layer() {
    use axum::routing::get;
    use ctx::trace::TraceContext;
    use http_body_util::BodyExt;

    async fn handler(trace: TraceContext, cx: ctx::Context) -> String {
        assert!(cx.contains(&ctx::trace::TRACE_CONTEXT));
        trace.trace_id().to_string()
    }
    let with = axum::Router::new()
        .route("/", get(handler))
        .layer(ContextLayer::new());
    let tp = traceparent();
    let res = oneshot_get(with, &[("traceparent", &tp)]).await;
    assert_eq!(res.status(), 200);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, TRACE);

    // route_layer works too.
    let routed = axum::Router::new()
        .route("/", get(handler))
        .route_layer(ContextLayer::new());
    let res = oneshot_get(routed, &[]).await;
    assert_eq!(res.status(), 200);

    let without = axum::Router::new().route("/", get(handler));
    let res = oneshot_get(without, &[]).await;
    assert_eq!(res.status(), 500);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8(body.to_vec()).unwrap();
    assert!(body.contains("ContextLayer"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layer_around_the_whole_router_over_the_network() {
    let router = axum::Router::new().route(
        "/",
        axum::routing::get(|| async { ctx::trace_id().unwrap().to_string() }),
    );
    // `axum::serve` wants axum's body type back.
    let service = tower::ServiceBuilder::new()
        .map_response(|res: http::Response<_>| res.map(axum::body::Body::new))
        .layer(ContextLayer::new())
        .service(router);
    let (listener, addr) = support::http::listen().await;
    tokio::spawn(async move {
        axum::serve(
            listener,
            axum::ServiceExt::<axum::extract::Request>::into_make_service(service),
        )
        .await
        .unwrap()
    });
    let tp = traceparent();
    let (res, body) = get_with(&client(), addr, "/", &[("traceparent", &tp)]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(body, TRACE);
    // Unmatched routes get ids too when the layer wraps the router.
    let (res, _) = get_with(&client(), addr, "/nowhere", &[("traceparent", &tp)]).await;
    assert_eq!(res.status(), 404);
    assert_eq!(echoed(&res).0, TRACE);
}

#[tokio::test(flavor = "current_thread")]
async fn a_request_id_found_by_a_propagator_is_echoed() {
    use ctx::propagation::{Propagators, RequestIdPropagator};

    let app = axum::Router::new()
        .route("/", axum::routing::get(|| async { "ok" }))
        .layer(ContextLayer::new().propagators(
            Propagators::new().with(RequestIdPropagator::with_header("x-correlation-id")),
        ));
    let res = oneshot_get(app, &[("x-correlation-id", "corr-9")]).await;
    assert_eq!(res.headers()["x-request-id"], "corr-9");
}

#[tokio::test(flavor = "current_thread")]
async fn a_bare_b3_deny_keeps_the_new_trace_unsampled() {
    use ctx::http::Trust;
    let app = |trust| {
        axum::Router::new()
            .route("/", axum::routing::get(|| async { "ok" }))
            .layer(ContextLayer::new().trust(trust).access_log(None))
    };
    // The echoed `traceparent`'s flags: the server span's sampling.
    let sampled = |res: &http::Response<axum::body::Body>| {
        let tp = res.headers()["traceparent"].to_str().unwrap().to_string();
        let flags = u8::from_str_radix(&tp[53..55], 16).unwrap();
        flags & 1 == 1
    };
    let res = oneshot_get(app(Trust::Inbound), &[("b3", "0")]).await;
    assert!(!sampled(&res), "the caller asked not to be sampled");
    let res = oneshot_get(app(Trust::Inbound), &[("x-b3-sampled", "0")]).await;
    assert!(!sampled(&res));
    let res = oneshot_get(app(Trust::Inbound), &[("b3", "1")]).await;
    assert!(sampled(&res));
    let res = oneshot_get(app(Trust::Inbound), &[]).await;
    assert!(sampled(&res), "new traces are sampled by default");
    // An untrusted caller's decision is ignored with the rest of its context.
    let res = oneshot_get(app(Trust::Untrusted), &[("b3", "0")]).await;
    assert!(sampled(&res));
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn tower_http_timeout_outside_the_layer() {
    // tower-http's `TimeoutLayer` answers a timeout with a default body:
    // the layer's body type must have one for the stack to compile.
    use std::time::Duration;
    use tower_http::timeout::TimeoutLayer;

    let app = axum::Router::new()
        .route(
            "/",
            axum::routing::get(|| async { ctx::trace_id().unwrap().to_string() }),
        )
        .route(
            "/slow",
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                "late"
            }),
        )
        .layer(
            tower::ServiceBuilder::new()
                .layer(TimeoutLayer::with_status_code(
                    http::StatusCode::REQUEST_TIMEOUT,
                    Duration::from_secs(1),
                ))
                .layer(ContextLayer::new().access_log(None)),
        );
    let tp = traceparent();
    let res = oneshot_get(app.clone(), &[("traceparent", &tp)]).await;
    assert_eq!(res.status(), 200);
    let sent = res.headers()["traceparent"].to_str().unwrap().to_string();
    assert!(sent.starts_with(&format!("00-{TRACE}-")), "{sent}");
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap();
    assert_eq!(body.to_bytes(), TRACE.as_bytes());

    use tower::ServiceExt;
    let slow = app
        .oneshot(request(http::Method::GET, "/slow", &[]))
        .await
        .unwrap();
    assert_eq!(slow.status(), http::StatusCode::REQUEST_TIMEOUT);
    let body = http_body_util::BodyExt::collect(slow.into_body())
        .await
        .unwrap();
    assert!(body.to_bytes().is_empty());
}
