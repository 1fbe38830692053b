//! Deadlines over gRPC with a real tonic server and client on 127.0.0.1:
//! the caller's budget (`grpc-timeout`) read by `ContextLayer`, carried by
//! `PropagateLayer` on a tonic `Channel` through a chain of two services,
//! and a call whose deadline has passed answered `DEADLINE_EXCEEDED`
//! without being sent.
#![cfg(all(feature = "tokio", feature = "http", feature = "cancel"))]
// The servers run in plain tasks, as `Server::serve` does in an application.
#![allow(clippy::disallowed_methods)]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use ctx::http::{ContextLayer, DeadlineLayer, PropagateLayer};
use http::uri::PathAndQuery;
use tonic::body::Body;
use tonic::transport::{Channel, Server};
use tonic::{Code, Status};
use tonic_prost::ProstCodec;
use tower::{Service, ServiceBuilder};

/// The one message of the test service, both ways.
#[derive(Clone, PartialEq, prost::Message)]
struct Msg {
    #[prost(string, tag = "1")]
    text: String,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What a service does with a call: its answer, run in the request's
/// context.
type Handler = Arc<dyn Fn(Msg) -> BoxFuture<Result<Msg, Status>> + Send + Sync>;

/// `test.Echo/Call`, served by `handler`.
#[derive(Clone)]
struct Echo {
    handler: Handler,
    hits: Arc<AtomicUsize>,
}

impl tonic::server::NamedService for Echo {
    const NAME: &'static str = "test.Echo";
}

struct Unary(Handler);

impl tonic::server::UnaryService<Msg> for Unary {
    type Response = Msg;
    type Future = BoxFuture<Result<tonic::Response<Msg>, Status>>;

    fn call(&mut self, req: tonic::Request<Msg>) -> Self::Future {
        let fut = (self.0)(req.into_inner());
        Box::pin(async move { fut.await.map(tonic::Response::new) })
    }
}

impl Service<http::Request<Body>> for Echo {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<http::Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        self.hits.fetch_add(1, Ordering::SeqCst);
        let handler = self.handler.clone();
        Box::pin(async move {
            if req.uri().path() != "/test.Echo/Call" {
                return Ok(Status::unimplemented("no such method").into_http());
            }
            let mut grpc = tonic::server::Grpc::new(ProstCodec::<Msg, Msg>::default());
            Ok(grpc.unary(Unary(handler), req).await)
        })
    }
}

/// Serves `handler` behind `ContextLayer` on 127.0.0.1; returns its address
/// and its count of calls received.
async fn serve(handler: Handler) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let svc = Echo {
        handler,
        hits: hits.clone(),
    };
    let incoming = tokio_stream_of(listener);
    tokio::spawn(async move {
        Server::builder()
            .layer(ContextLayer::new())
            .add_service(svc)
            .serve_with_incoming(incoming)
            .await
            .unwrap();
    });
    (addr, hits)
}

/// The listener's connections as the stream tonic serves.
fn tokio_stream_of(
    listener: tokio::net::TcpListener,
) -> impl futures::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    futures::stream::unfold(listener, |l| async move {
        let conn = l.accept().await.map(|(s, _)| s);
        Some((conn, l))
    })
}

/// A tonic client for `addr` through ctx's client layers.
async fn connect(
    addr: SocketAddr,
) -> tonic::client::Grpc<ctx::http::DeadlineService<ctx::http::PropagateService<Channel>>> {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let svc = ServiceBuilder::new()
        .layer(DeadlineLayer::new())
        .layer(PropagateLayer::new())
        .service(channel);
    tonic::client::Grpc::new(svc)
}

async fn call(addr: SocketAddr, text: &str) -> Result<Msg, Status> {
    let mut client = connect(addr).await;
    client
        .ready()
        .await
        .map_err(|e| Status::unknown(e.to_string()))?;
    let req = tonic::Request::new(Msg { text: text.into() });
    let path = PathAndQuery::from_static("/test.Echo/Call");
    client
        .unary(req, path, ProstCodec::<Msg, Msg>::default())
        .await
        .map(tonic::Response::into_inner)
}

fn left_ms() -> String {
    ctx::deadline::remaining().map_or_else(|| "-".into(), |d| d.as_millis().to_string())
}

/// B: answers with the time it has left, as seen by the handler, a task it
/// spawns and a blocking closure.
fn back() -> Handler {
    Arc::new(|_| {
        Box::pin(async {
            let here = ctx::deadline::current();
            let task = ctx::spawn(async { ctx::deadline::current() })
                .await
                .unwrap();
            let blocking = ctx::spawn_blocking(ctx::deadline::current).await.unwrap();
            let same = here.is_some() && task == here && blocking == here;
            Ok(Msg {
                text: format!("{} {same}", left_ms()),
            })
        })
    })
}

/// A: waits, then calls B (at `msg.text`) and answers with its own time
/// left before the call and B's answer, or B's status code.
fn front(wait: Duration) -> Handler {
    Arc::new(move |msg| {
        Box::pin(async move {
            tokio::time::sleep(wait).await;
            let before = left_ms();
            let addr: SocketAddr = msg.text.parse().unwrap();
            let answer = match call(addr, "").await {
                Ok(m) => m.text,
                Err(s) => format!("status {:?}", s.code()),
            };
            Ok(Msg {
                text: format!("{before} {answer}"),
            })
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_timeout_is_forwarded_through_a_chain() {
    let (b, b_hits) = serve(back()).await;
    let (a, _) = serve(front(Duration::from_millis(100))).await;

    let reply = ctx::deadline::within(Duration::from_secs(3), call(a, &b.to_string()))
        .await
        .unwrap();
    let parts: Vec<&str> = reply.text.split(' ').collect();
    let before: u64 = parts[0].parse().unwrap();
    let downstream: u64 = parts[1].parse().unwrap();
    assert!(
        before <= 2900 && before > 1000,
        "A waited 100 ms of 3 s: {reply:?}"
    );
    assert!(
        downstream <= before && downstream > 1000,
        "B shares A's budget: {reply:?}"
    );
    assert_eq!(
        parts[2], "true",
        "B's task and blocking closure see B's deadline"
    );
    assert_eq!(b_hits.load(Ordering::SeqCst), 1);

    // No deadline anywhere: none is sent, none is seen.
    let reply = call(b, "").await.unwrap();
    assert_eq!(reply.text, "- false");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_whose_deadline_has_passed_is_deadline_exceeded_and_not_sent() {
    let (b, b_hits) = serve(back()).await;
    // Straight from a client.
    let status = ctx::deadline::within(Duration::ZERO, call(b, ""))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded);
    assert_eq!(b_hits.load(Ordering::SeqCst), 0, "the call was not sent");

    // From A, whose caller's budget ran out while it worked. (Served by
    // tonic, A's call is also cut short by tonic's own timeout: its caller
    // may see that first. What matters here is that B is never called.)
    let (a, _) = serve(front(Duration::from_millis(150))).await;
    let answer = ctx::deadline::within(Duration::from_millis(300), async {
        let mut client = connect(a).await;
        client.ready().await.unwrap();
        let mut req = tonic::Request::new(Msg {
            text: b.to_string(),
        });
        // Shorter than A's wait: the budget A gets from `grpc-timeout`.
        req.set_timeout(Duration::from_millis(50));
        let path = PathAndQuery::from_static("/test.Echo/Call");
        client
            .unary(req, path, ProstCodec::<Msg, Msg>::default())
            .await
    })
    .await;
    match answer {
        Ok(reply) => assert!(
            reply.get_ref().text.ends_with("status DeadlineExceeded"),
            "{reply:?}"
        ),
        Err(status) => assert!(
            matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled),
            "{status:?}"
        ),
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        b_hits.load(Ordering::SeqCst),
        0,
        "A's late call to B was not sent"
    );
}
