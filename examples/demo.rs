//! The classic failure and its fix, side by side, over real HTTP.
//!
//! Starts two axum services on 127.0.0.1 (an "orders" front service and an
//! "inventory" service it calls), then sends them requests with its own
//! client. The orders handler hands work on the way real services do: an
//! `@Async`-style background job, `spawn_blocking`, a std thread, a stream
//! polled by another task, and an outbound call to inventory. Once with plain
//! tokio/std primitives (the trace id is lost at each hop, and inventory
//! starts a new, unrelated trace), once with ctx (kept everywhere). The
//! access-log lines the layer writes are printed as they happen.
//!
//! Run with:
//!
//! ```sh
//! cargo run --example demo
//! ```
#![allow(clippy::disallowed_methods)] // the plain primitives, shown losing the context beside ctx's twins

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use ctx::http::{ContextLayer, PropagateLayer};
use ctx::StreamExt as _;
use futures::StreamExt;
use http_body_util::BodyExt;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::{Service, ServiceBuilder, ServiceExt};

type HttpClient = Client<HttpConnector, Body>;

#[derive(Clone)]
struct Orders {
    inventory: SocketAddr,
    client: HttpClient,
}

/// The trace id of the current context, or a marker.
fn tid() -> String {
    ctx::trace_id().map_or_else(|| "-- lost --".into(), |t| t.to_string())
}

/// The hops of a handler written with plain tokio/std primitives.
async fn plain(State(orders): State<Orders>) -> String {
    let mut out = vec![("handler", tid())];

    // An `@Async` job: fire and forget, it reports when it runs.
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1)).await;
        let _ = tx.send(tid());
    });
    out.push(("background job (spawn)", rx.await.unwrap()));
    out.push((
        "spawn_blocking",
        tokio::task::spawn_blocking(tid).await.unwrap(),
    ));
    out.push(("std thread", std::thread::spawn(tid).join().unwrap()));
    let stream = futures::stream::iter([()]).then(|_| async { tid() });
    let seen: Vec<String> = tokio::spawn(stream.collect()).await.unwrap();
    out.push(("stream on another task", seen.concat()));

    // A client with no propagation: the chain breaks at the service edge.
    let inventory = call(&mut orders.client.clone(), orders.inventory).await;
    out.push(("inventory service", inventory));
    render(out)
}

/// The same hops with ctx's twins.
async fn with_ctx(State(orders): State<Orders>) -> String {
    let mut out = vec![("handler", tid())];

    let (tx, rx) = tokio::sync::oneshot::channel();
    ctx::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1)).await;
        let _ = tx.send(tid());
    });
    out.push(("background job (spawn)", rx.await.unwrap()));
    out.push(("spawn_blocking", ctx::spawn_blocking(tid).await.unwrap()));
    out.push(("std thread", ctx::thread::spawn(tid).join().unwrap()));
    let stream = futures::stream::iter([()])
        .then(|_| async { tid() })
        .in_current_context();
    let seen: Vec<String> = tokio::spawn(stream.collect()).await.unwrap();
    out.push(("stream on another task", seen.concat()));

    let mut client = ServiceBuilder::new()
        .layer(PropagateLayer::new())
        .service(orders.client.clone());
    let inventory = call(&mut client, orders.inventory).await;
    out.push(("inventory service", inventory));
    render(out)
}

async fn call<S>(client: &mut S, addr: SocketAddr) -> String
where
    S: Service<http::Request<Body>, Response = http::Response<hyper::body::Incoming>>,
    S::Error: std::fmt::Debug,
{
    let req = http::Request::get(format!("http://{addr}/stock"))
        .body(Body::empty())
        .unwrap();
    let res = client.ready().await.unwrap().call(req).await.unwrap();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8_lossy(&body).into_owned()
}

fn render(hops: Vec<(&str, String)>) -> String {
    hops.into_iter()
        .map(|(hop, id)| format!("{hop}\t{id}\n"))
        .collect()
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::main]
async fn main() {
    // The access log goes through `tracing`: print it.
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter("ctx::access=info")
        .with_ansi(std::io::stdout().is_terminal())
        .compact()
        .init();

    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let inventory = serve(
        Router::new()
            .route("/stock", get(|| async { tid() }))
            .layer(ContextLayer::new()),
    )
    .await;
    let orders = serve(
        Router::new()
            .route("/plain", get(plain))
            .route("/ctx", get(with_ctx))
            .with_state(Orders {
                inventory,
                client: client.clone(),
            })
            .layer(ContextLayer::new()),
    )
    .await;
    println!("orders on http://{orders}, inventory on http://{inventory}\n");

    for n in 1..=2 {
        // The caller (a gateway, another service) sends its trace context.
        let caller = ctx::trace::TraceContext::new_root();
        let traceparent = ctx::propagation::TraceParent::from(&caller).to_string();
        println!("request {n}: traceparent {traceparent}");
        let mut columns = Vec::new();
        for path in ["/plain", "/ctx"] {
            let req = http::Request::get(format!("http://{orders}{path}"))
                .header("traceparent", &traceparent)
                .body(Body::empty())
                .unwrap();
            let res = client.request(req).await.unwrap();
            let body = res.into_body().collect().await.unwrap().to_bytes();
            columns.push(String::from_utf8(body.to_vec()).unwrap());
        }
        print_side_by_side(&caller.trace_id().to_string(), &columns[0], &columns[1]);
    }
}

fn print_side_by_side(expected: &str, plain: &str, with_ctx: &str) {
    let mark = |id: &str| {
        if id == expected {
            format!("{id}  ok")
        } else if id.starts_with("--") {
            id.to_string()
        } else {
            format!("{id}  NEW TRACE: chain broken")
        }
    };
    println!("  {:<24} {:<58} ctx", "hop", "plain tokio / std");
    for (p, c) in plain.lines().zip(with_ctx.lines()) {
        let (hop, p) = p.split_once('\t').unwrap();
        let (_, c) = c.split_once('\t').unwrap();
        println!("  {hop:<24} {:<58} {}", mark(p), mark(c));
    }
    println!();
}
