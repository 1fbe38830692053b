//! A gRPC unary call through ctx's `ContextLayer`, beside the bare tonic
//! service and tower-http's `TraceLayer::new_for_grpc()`, in one run:
//!
//! - `grpc_oneshot/*`: one call handed to the service in process
//!   (`svc.clone().oneshot(req)`, the service tonic's server would call),
//!   its response body read to the trailers; the request carries a
//!   `traceparent` in its metadata. No `tracing` subscriber.
//! - `grpc_oneshot_logged/*`: ctx's layer with a subscriber that wants the
//!   access log (a bare `tracing_subscriber::registry()`, which takes each
//!   event and writes nothing), so the log record is built and its event
//!   dispatched: a gRPC call (`grpc`: service, method and status read)
//!   beside a plain HTTP request (`plain_http`: what a request that is not
//!   gRPC pays for ctx's gRPC support, against a build without it).
//! - `grpc_loopback/*`: one call at a time over 127.0.0.1, a tonic
//!   `Channel` to a tonic `Server`; the client sends the same metadata to
//!   each server.
//!
//! Run with `cargo bench --bench grpc` (short:
//! `cargo bench --bench grpc -- --warm-up-time 1 --measurement-time 3`).
#![allow(clippy::disallowed_methods)] // the loopback server runs in a plain tokio task, as under tonic

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use bytes::{BufMut, Bytes, BytesMut};
use criterion::{criterion_group, Criterion};
use ctx::http::ContextLayer;
use http::uri::PathAndQuery;
use http_body_util::{BodyExt, Full};
use prost::Message;
use tonic::body::Body;
use tonic::server::{Grpc, NamedService};
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Endpoint, Server};
use tonic_prost::ProstCodec;
use tower::{Layer, Service, ServiceExt};
use tower_http::trace::TraceLayer;

/// The one message: a short text.
#[derive(Clone, PartialEq, prost::Message)]
struct Text {
    #[prost(string, tag = "1")]
    text: String,
}

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const PATH: &str = "/bench.Echo/Say";

/// `bench.Echo`: `Say` answers its request's text.
#[derive(Clone, Default)]
struct Echo;

impl NamedService for Echo {
    const NAME: &'static str = "bench.Echo";
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl Service<http::Request<Body>> for Echo {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<http::Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        Box::pin(async move {
            let say = tower::service_fn(|req: tonic::Request<Text>| async move {
                Ok::<_, tonic::Status>(tonic::Response::new(req.into_inner()))
            });
            let mut grpc = Grpc::new(ProstCodec::<Text, Text>::default());
            Ok(grpc.unary(say, req).await)
        })
    }
}

/// A length-prefixed gRPC message frame of `Text { text: "hello" }`.
fn frame() -> Bytes {
    let message = Text {
        text: "hello".into(),
    }
    .encode_to_vec();
    let mut buf = BytesMut::with_capacity(5 + message.len());
    buf.put_u8(0);
    buf.put_u32(message.len() as u32);
    buf.put_slice(&message);
    buf.freeze()
}

fn grpc_request(frame: &Bytes) -> http::Request<Body> {
    grpc_request_timed(frame, false)
}

/// The call, with a `grpc-timeout` of 30 seconds in its metadata if `timed`
/// (as a tonic client with a timeout sends it).
fn grpc_request_timed(frame: &Bytes, timed: bool) -> http::Request<Body> {
    let mut req = http::Request::builder()
        .method(http::Method::POST)
        .uri(PATH)
        .header(http::header::CONTENT_TYPE, "application/grpc")
        .header(http::header::TE, "trailers")
        .header("traceparent", TRACEPARENT);
    if timed {
        req = req.header("grpc-timeout", http::HeaderValue::from_static("30S"));
    }
    req.body(Body::new(Full::new(frame.clone()))).unwrap()
}

/// Reads a response body to its end, trailers included; returns the
/// number of data bytes.
async fn drain<B: http_body::Body>(body: B) -> usize
where
    B::Error: std::fmt::Debug,
{
    let collected = body.collect().await.unwrap();
    assert!(
        collected.trailers().is_some(),
        "a gRPC response ends in trailers"
    );
    collected.to_bytes().len()
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn oneshot(c: &mut Criterion) {
    let rt = current_thread();
    let frame = frame();
    let mut group = c.benchmark_group("grpc_oneshot");
    let bare = Echo;
    group.bench_function("bare", |b| {
        b.to_async(&rt).iter(|| async {
            let res = bare.clone().oneshot(grpc_request(&frame)).await.unwrap();
            drain(res.into_body()).await
        })
    });
    let ctx = ContextLayer::new().layer(Echo);
    group.bench_function("ctx", |b| {
        b.to_async(&rt).iter(|| async {
            let res = ctx.clone().oneshot(grpc_request(&frame)).await.unwrap();
            drain(res.into_body()).await
        })
    });
    let tower_http = TraceLayer::new_for_grpc().layer(Echo);
    group.bench_function("tower_http", |b| {
        b.to_async(&rt).iter(|| async {
            let res = tower_http
                .clone()
                .oneshot(grpc_request(&frame))
                .await
                .unwrap();
            drain(res.into_body()).await
        })
    });
    group.finish();
}

/// A plain HTTP service: a short text body, no trailers.
async fn hello(_: http::Request<Full<Bytes>>) -> Result<http::Response<Full<Bytes>>, Infallible> {
    Ok(http::Response::new(Full::new(Bytes::from_static(b"hello"))))
}

fn plain_request() -> http::Request<Full<Bytes>> {
    http::Request::builder()
        .method(http::Method::POST)
        .uri("/items")
        .header(http::header::CONTENT_TYPE, "application/json")
        .header("traceparent", TRACEPARENT)
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap()
}

fn oneshot_logged(c: &mut Criterion) {
    let rt = current_thread();
    let frame = frame();
    // The bench runs on this thread (a current-thread runtime): the
    // subscriber is this thread's default for the group.
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry());
    assert!(tracing::enabled!(target: ctx::http::ACCESS_LOG_TARGET, tracing::Level::INFO));
    let mut group = c.benchmark_group("grpc_oneshot_logged");
    let grpc = ContextLayer::new().layer(Echo);
    group.bench_function("grpc", |b| {
        b.to_async(&rt).iter(|| async {
            let res = grpc.clone().oneshot(grpc_request(&frame)).await.unwrap();
            drain(res.into_body()).await
        })
    });
    let plain = ContextLayer::new().layer(tower::service_fn(hello));
    group.bench_function("plain_http", |b| {
        b.to_async(&rt).iter(|| async {
            let res = plain.clone().oneshot(plain_request()).await.unwrap();
            res.into_body().collect().await.unwrap().to_bytes().len()
        })
    });
    group.finish();
}

/// Serves `Echo` behind `$layer` on 127.0.0.1; returns its address. (A
/// macro: the server's bounds on a layer's service are many.)
macro_rules! serve {
    ($rt:expr, $layer:expr) => {{
        let listener = $rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let layer = $layer;
        $rt.spawn(async move {
            Server::builder()
                .layer(layer)
                .add_service(Echo)
                .serve_with_incoming(TcpIncoming::from(listener))
                .await
                .unwrap()
        });
        addr
    }};
}

async fn connect(addr: SocketAddr) -> tonic::client::Grpc<Channel> {
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    tonic::client::Grpc::new(channel)
}

async fn say(client: &mut tonic::client::Grpc<Channel>) -> usize {
    client.ready().await.unwrap();
    let mut req = tonic::Request::new(Text {
        text: "hello".into(),
    });
    req.metadata_mut()
        .insert("traceparent", TRACEPARENT.parse().unwrap());
    let res = client
        .unary::<_, Text, _>(req, PathAndQuery::from_static(PATH), ProstCodec::default())
        .await
        .unwrap();
    res.into_inner().text.len()
}

fn loopback(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let bare = serve!(rt, tower::layer::util::Identity::new());
    let ctx = serve!(rt, ContextLayer::new());
    let tower_http = serve!(rt, TraceLayer::new_for_grpc());
    let mut group = c.benchmark_group("grpc_loopback");
    for (name, addr) in [("bare", bare), ("ctx", ctx), ("tower_http", tower_http)] {
        let client = rt.block_on(connect(addr));
        group.bench_function(name, |b| {
            b.to_async(&rt).iter(|| {
                let mut client = client.clone();
                async move { say(&mut client).await }
            })
        });
    }
    group.finish();
}

/// The instruction-count driver: with `CTX_GRPC_COUNT=<case>:<n>` the
/// binary runs `n` in-process requests of `case` and exits, without
/// criterion, for `valgrind --tool=callgrind` (two runs of different `n`,
/// subtracted, give the count per request without the set-up). Cases:
/// `bare`, `ctx` (a gRPC call, no subscriber), `tower_http` (the same
/// through `TraceLayer::new_for_grpc()`), `ctx_logged` (a gRPC call,
/// the access log on) and `plain_logged` (a plain HTTP request through
/// the layer, the access log on); and calls carrying `grpc-timeout: 30S`:
/// `bare_timed`, `ctx_timed_off` (the layer with deadline reading off),
/// `ctx_timed` (reading it, the default) and, with feature `cancel`,
/// `ctx_timed_cancel` (and cancellation on).
fn count(spec: &str) {
    let (case, n) = spec.split_once(':').expect("CTX_GRPC_COUNT=<case>:<n>");
    let n: u64 = n.parse().expect("a count");
    let rt = current_thread();
    let frame = frame();
    let _subscriber = case
        .ends_with("_logged")
        .then(|| tracing::subscriber::set_default(tracing_subscriber::registry()));
    let grpc = ContextLayer::new().layer(Echo);
    let plain = ContextLayer::new().layer(tower::service_fn(hello));
    let tower_http = TraceLayer::new_for_grpc().layer(Echo);
    let timed_off = ContextLayer::new().deadline(false).layer(Echo);
    let timed = ContextLayer::new().layer(Echo);
    #[cfg(feature = "cancel")]
    let timed_cancel = ContextLayer::new().cancellation(true).layer(Echo);
    let mut total = 0;
    for _ in 0..n {
        total += rt.block_on(async {
            match case {
                "bare" => {
                    drain(
                        Echo.oneshot(grpc_request(&frame))
                            .await
                            .unwrap()
                            .into_body(),
                    )
                    .await
                }
                "ctx" | "ctx_logged" => {
                    let res = grpc.clone().oneshot(grpc_request(&frame)).await.unwrap();
                    drain(res.into_body()).await
                }
                "tower_http" => {
                    let res = tower_http
                        .clone()
                        .oneshot(grpc_request(&frame))
                        .await
                        .unwrap();
                    drain(res.into_body()).await
                }
                "bare_timed" => {
                    let res = Echo.oneshot(grpc_request_timed(&frame, true)).await;
                    drain(res.unwrap().into_body()).await
                }
                "ctx_timed_off" | "ctx_timed" | "ctx_timed_cancel" => {
                    let svc = match case {
                        "ctx_timed_off" => &timed_off,
                        "ctx_timed" => &timed,
                        #[cfg(feature = "cancel")]
                        _ => &timed_cancel,
                        #[cfg(not(feature = "cancel"))]
                        _ => panic!("ctx_timed_cancel needs feature `cancel`"),
                    };
                    let req = grpc_request_timed(&frame, true);
                    let res = svc.clone().oneshot(req).await.unwrap();
                    drain(res.into_body()).await
                }
                "plain_logged" => {
                    let res = plain.clone().oneshot(plain_request()).await.unwrap();
                    res.into_body().collect().await.unwrap().to_bytes().len()
                }
                other => panic!("no case {other}"),
            }
        });
    }
    println!("{case}: {n} requests, {total} bytes");
}

criterion_group!(benches, oneshot, oneshot_logged, loopback);

fn main() {
    if let Ok(spec) = std::env::var("CTX_GRPC_COUNT") {
        return count(&spec);
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
