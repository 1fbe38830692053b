//! The reqwest recipe of `ctx::http::inject`'s documentation, end to end: a
//! reqwest client calling a ctx-layered server on 127.0.0.1 carries the
//! caller's trace (as a new child span) and baggage.
#![cfg(all(feature = "http", feature = "axum", feature = "tokio"))]

mod support;

use ctx::http::ContextLayer;
use ctx::trace::TraceContext;
use support::http::{lines, start_app};

/// `GET http://addr/path` with reqwest, the current context injected the
/// way the recipe says; the response body's `key=value` lines.
async fn get(client: &reqwest::Client, url: String) -> Vec<(String, String)> {
    let mut headers = reqwest::header::HeaderMap::new();
    ctx::http::inject(&mut headers);
    let response = client.get(url).headers(headers).send().await.unwrap();
    assert_eq!(response.status(), 200);
    lines(&response.text().await.unwrap())
}

fn value<'a>(lines: &'a [(String, String)], key: &str) -> &'a str {
    let found = lines.iter().find(|(k, _)| k == key);
    found
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {key} in {lines:?}"))
}

#[tokio::test]
async fn a_reqwest_call_carries_the_trace_and_baggage_through_inject() {
    let addr = start_app(ContextLayer::new()).await;
    let client = reqwest::Client::new();
    let caller = TraceContext::new_root();
    let trace = caller.trace_id().to_string();

    // What the server's span says about its parent: the call's own span,
    // a child of the caller's, not the caller's span itself.
    let seen = caller
        .clone()
        .scope(get(&client, format!("http://{addr}/downstream")))
        .await;
    assert_eq!(value(&seen, "downstream_trace"), trace);
    let received = value(&seen, "downstream_received");
    assert!(received.starts_with(&format!("00-{trace}-")), "{received}");
    let parent = value(&seen, "downstream_parent");
    assert_eq!(received.split('-').nth(2), Some(parent));
    assert_ne!(parent, caller.span_id().to_string());

    // Every hop of the handler sees the caller's trace, and the baggage
    // arrives (the baggage scope inside the trace's: a scope adds its
    // value to the context it is first polled in).
    let url = format!("http://{addr}/hops");
    let hops = caller
        .scope(async { ctx::baggage::scope("user", "alice", get(&client, url)).await })
        .await;
    for hop in [
        "handler",
        "after_await",
        "spawn",
        "spawn_blocking",
        "thread",
    ] {
        assert_eq!(value(&hops, hop), trace, "{hop}");
    }
    assert_eq!(value(&hops, "baggage"), "alice");

    // With no trace current, the call starts one: the server continues it.
    let fresh = get(&client, format!("http://{addr}/downstream")).await;
    let fresh_trace = value(&fresh, "downstream_trace");
    assert_ne!(fresh_trace, trace);
    assert!(value(&fresh, "downstream_received").contains(fresh_trace));
}
