//! An axum app on 127.0.0.1 whose handlers report the trace id seen at every
//! hop, and a client to drive it.
#![allow(clippy::disallowed_methods)] // the harness's own tasks and threads (warm-up, servers), outside any context

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use ctx::http::{ContextLayer, PropagateLayer};
use ctx::StreamExt as _;
use futures::StreamExt;
use http::{HeaderMap, Request, Response};
use http_body_util::BodyExt;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::{Service, ServiceBuilder, ServiceExt};

pub type HttpClient = Client<HttpConnector, Body>;

/// A plain client (no propagation): the test's own caller.
pub fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// A listener on an ephemeral port of 127.0.0.1, and its address.
pub async fn listen() -> (tokio::net::TcpListener, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

fn tid() -> String {
    ctx::trace_id().map_or_else(|| "-".to_string(), |t| t.to_string())
}

#[derive(Clone)]
struct App {
    downstream: String,
    client: HttpClient,
}

/// `/hops`: the trace id at every hop, one `hop=value` per line.
/// `/downstream`: what a second service received.
/// `/stream`: a streaming body whose chunks read the trace id.
/// `/fail`: a 500 from the handler.
pub async fn start_app(layer: ContextLayer) -> SocketAddr {
    let (listener, addr) = listen().await;
    let state = App {
        downstream: format!("http://{addr}/downstream"),
        client: client(),
    };
    let app = Router::new()
        .route("/hops", get(hops))
        .route("/downstream", get(downstream))
        .route("/stream", get(stream))
        .route(
            "/fail",
            get(|| async { (http::StatusCode::INTERNAL_SERVER_ERROR, tid()) }),
        )
        .with_state(state)
        .layer(layer);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn hops(State(app): State<App>) -> String {
    let mut lines = vec![format!("handler={}", tid())];
    let baggage = ctx::baggage::get("user");
    lines.push(format!("baggage={}", baggage.as_deref().unwrap_or("-")));
    tokio::task::yield_now().await;
    lines.push(format!("after_await={}", tid()));
    lines.push(format!(
        "spawn={}",
        ctx::spawn(async { tid() }).await.unwrap()
    ));
    lines.push(format!(
        "spawn_blocking={}",
        ctx::spawn_blocking(|| {
            std::thread::sleep(Duration::from_millis(1));
            tid()
        })
        .await
        .unwrap()
    ));
    lines.push(format!(
        "thread={}",
        ctx::thread::spawn(tid).join().unwrap()
    ));
    let stream = futures::stream::iter(0..2)
        .then(|_| async {
            tokio::task::yield_now().await;
            tid()
        })
        .in_current_context();
    let seen: Vec<String> = tokio::spawn(stream.collect()).await.unwrap();
    lines.push(format!("stream={}", seen.join(",")));
    lines.push(format!(
        "plain_spawn={}",
        tokio::spawn(async { tid() }).await.unwrap()
    ));

    // The outbound call, through the propagating client.
    let mut client = ServiceBuilder::new()
        .layer(PropagateLayer::new())
        .service(app.client.clone());
    let req = Request::get(&app.downstream).body(Body::empty()).unwrap();
    let res = client.ready().await.unwrap().call(req).await.unwrap();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    lines.push(String::from_utf8(body.to_vec()).unwrap());
    lines.join("\n")
}

async fn downstream(headers: HeaderMap) -> String {
    let sent = headers
        .get("traceparent")
        .map_or("-", |v| v.to_str().unwrap_or("-"))
        .to_string();
    let me = ctx::trace::TraceContext::current().unwrap();
    format!(
        "downstream_received={sent}\ndownstream_trace={}\ndownstream_parent={}",
        me.trace_id(),
        me.parent_span_id().map_or("-".into(), |s| s.to_string())
    )
}

async fn stream() -> impl IntoResponse {
    let chunks = futures::stream::iter(0..3).then(|i| async move {
        tokio::time::sleep(Duration::from_millis(2)).await;
        Ok::<_, std::convert::Infallible>(format!("{i}:{}\n", tid()))
    });
    Body::from_stream(chunks)
}

/// Sends a GET with `headers` and returns the response with its body.
pub async fn get_with(
    client: &HttpClient,
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> (Response<()>, String) {
    let uri = format!("http://{addr}{path}");
    let res = client
        .request(request(http::Method::GET, &uri, headers))
        .await
        .unwrap();
    let (parts, body) = res.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (
        Response::from_parts(parts, ()),
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

/// A `method` request to `uri` with `headers` (in that order) and an empty
/// body: what the tests send, in process or over a socket.
pub fn request(method: http::Method, uri: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.body(Body::empty()).unwrap()
}

/// `key=value` lines into pairs.
pub fn lines(body: &str) -> Vec<(String, String)> {
    body.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The echoed `traceparent`'s (trace id, span id).
pub fn echoed(res: &Response<()>) -> (String, String) {
    let tp = res.headers()["traceparent"].to_str().unwrap();
    let parts: Vec<&str> = tp.split('-').collect();
    assert_eq!(parts.len(), 4, "traceparent {tp}");
    (parts[1].to_string(), parts[2].to_string())
}
