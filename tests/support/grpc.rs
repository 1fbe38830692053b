//! A small gRPC service, `ctx.test.Probe`, served by tonic on 127.0.0.1
//! behind `ContextLayer`, and its client: the messages are hand-written
//! prost types and the service and client are written against tonic's
//! `server::Grpc` and `client::Grpc`, so no protoc or build script is
//! needed.
//!
//! Methods (every answer says what the handler saw of the request's
//! context):
//! - `Seen` (unary): the trace context, baggage `user` and request id of
//!   the handler, and the trace id a `ctx::spawn`ed task and a
//!   `ctx::spawn_blocking` closure see.
//! - `Stream` (server-streaming): `count` messages, each read when the
//!   response body is polled for it.
//! - `Fail` (unary): fails with status `code` before any message (a
//!   trailers-only response).
//! - `FailLate` (server-streaming): one message, then status `code` in the
//!   trailers.
//! - `Call` (unary): calls `Seen` on the downstream service through a
//!   tonic `Channel` behind `PropagateLayer`; answers both views.

#![allow(dead_code, unreachable_pub)]
#![allow(clippy::disallowed_methods)] // the test server runs in a plain tokio task, as under tonic

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use ctx::http::{ContextLayer, PropagateLayer, PropagateService};
use ctx::trace::TraceContext;
use futures::Stream;
use http::uri::PathAndQuery;
use http_body::Body as HttpBody;
use tonic::body::Body;
use tonic::server::{Grpc, NamedService};
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Endpoint, Server};
use tonic::{Code, Request, Response, Status};
use tonic_prost::ProstCodec;
use tower::{Service, ServiceBuilder};

/// What a call asks for.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Ask {
    /// How many messages `Stream` sends.
    #[prost(uint32, tag = "1")]
    pub count: u32,
    /// The status code `Fail` and `FailLate` end with.
    #[prost(int32, tag = "2")]
    pub code: i32,
}

/// What a handler (or a streamed message) saw; ids as lowercase hex, empty
/// when absent.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Seen {
    #[prost(string, tag = "1")]
    pub trace_id: String,
    #[prost(string, tag = "2")]
    pub span_id: String,
    #[prost(string, tag = "3")]
    pub parent_span_id: String,
    /// The baggage member `user`.
    #[prost(string, tag = "4")]
    pub baggage: String,
    #[prost(string, tag = "5")]
    pub request_id: String,
    /// The trace id a `ctx::spawn`ed task saw.
    #[prost(string, tag = "6")]
    pub spawned: String,
    /// The trace id a `ctx::spawn_blocking` closure saw.
    #[prost(string, tag = "7")]
    pub blocking: String,
    /// The message's place in a stream.
    #[prost(uint32, tag = "8")]
    pub index: u32,
    /// The trace context's `tracestate`, in its header form.
    #[prost(string, tag = "9")]
    pub tracestate: String,
}

/// `Call`'s answer: the first service's view and the second's.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Chain {
    #[prost(message, optional, tag = "1")]
    pub first: Option<Seen>,
    #[prost(message, optional, tag = "2")]
    pub second: Option<Seen>,
}

/// The service's name, as in its paths (`/ctx.test.Probe/Seen`).
pub const SERVICE: &str = "ctx.test.Probe";

fn hex(id: Option<impl ToString>) -> String {
    id.map(|i| i.to_string()).unwrap_or_default()
}

fn trace_id() -> String {
    hex(ctx::trace_id())
}

/// What the current context holds, without the spawned views.
pub fn here() -> Seen {
    let trace = TraceContext::current();
    Seen {
        trace_id: hex(trace.as_ref().map(TraceContext::trace_id)),
        span_id: hex(trace.as_ref().map(TraceContext::span_id)),
        parent_span_id: hex(trace.as_ref().and_then(TraceContext::parent_span_id)),
        baggage: ctx::baggage::get("user").unwrap_or_default(),
        request_id: ctx::request_id()
            .map(|r| r.as_str().to_owned())
            .unwrap_or_default(),
        tracestate: trace
            .as_ref()
            .map(|t| t.state().header().to_owned())
            .unwrap_or_default(),
        ..Seen::default()
    }
}

/// [`here`], with what a spawned task and a blocking closure see.
async fn seen_with_hops() -> Seen {
    tokio::task::yield_now().await;
    let spawned = ctx::spawn(async { trace_id() }).await.unwrap();
    let blocking = ctx::spawn_blocking(trace_id).await.unwrap();
    Seen {
        spawned,
        blocking,
        ..here()
    }
}

type SeenStream = Pin<Box<dyn Stream<Item = Result<Seen, Status>> + Send>>;

/// The downstream client `Call` uses.
pub type Downstream = PropagateService<Channel>;

/// The `ctx.test.Probe` service.
#[derive(Clone, Default)]
pub struct Probe {
    downstream: Option<Downstream>,
}

impl Probe {
    /// A probe whose `Call` calls `Seen` on `downstream`.
    pub fn calling(downstream: Downstream) -> Probe {
        Probe {
            downstream: Some(downstream),
        }
    }
}

impl NamedService for Probe {
    const NAME: &'static str = SERVICE;
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl Service<http::Request<Body>> for Probe {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<http::Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let probe = self.clone();
        let method = req.uri().path().rsplit('/').next().unwrap_or_default();
        match method {
            "Seen" => Box::pin(async move {
                let svc = tower::service_fn(|_: Request<Ask>| async {
                    Ok::<_, Status>(Response::new(seen_with_hops().await))
                });
                let mut grpc = Grpc::new(ProstCodec::<Seen, Ask>::default());
                Ok(grpc.unary(svc, req).await)
            }),
            "Stream" => Box::pin(async move {
                let svc = tower::service_fn(|req: Request<Ask>| async move {
                    let count = req.into_inner().count;
                    let stream = futures::stream::unfold(0, move |index| async move {
                        if index == count {
                            return None;
                        }
                        // Each message is made while the body is polled.
                        tokio::task::yield_now().await;
                        let seen = Seen { index, ..here() };
                        Some((Ok(seen), index + 1))
                    });
                    Ok::<_, Status>(Response::new(Box::pin(stream) as SeenStream))
                });
                let mut grpc = Grpc::new(ProstCodec::<Seen, Ask>::default());
                Ok(grpc.server_streaming(svc, req).await)
            }),
            "Fail" => Box::pin(async move {
                let svc = tower::service_fn(|req: Request<Ask>| async move {
                    let code = Code::from(req.into_inner().code);
                    Err::<Response<Seen>, _>(Status::new(code, "asked to fail"))
                });
                let mut grpc = Grpc::new(ProstCodec::<Seen, Ask>::default());
                Ok(grpc.unary(svc, req).await)
            }),
            "FailLate" => Box::pin(async move {
                let svc = tower::service_fn(|req: Request<Ask>| async move {
                    let code = Code::from(req.into_inner().code);
                    let stream = futures::stream::iter([
                        Ok(here()),
                        Err(Status::new(code, "failed after one message")),
                    ]);
                    Ok::<_, Status>(Response::new(Box::pin(stream) as SeenStream))
                });
                let mut grpc = Grpc::new(ProstCodec::<Seen, Ask>::default());
                Ok(grpc.server_streaming(svc, req).await)
            }),
            "Call" => Box::pin(async move {
                let svc = tower::service_fn(move |_: Request<Ask>| {
                    let downstream = probe.downstream.clone();
                    async move {
                        let downstream = downstream
                            .ok_or_else(|| Status::failed_precondition("no downstream"))?;
                        let second = ProbeClient::new(downstream)
                            .seen(Ask::default())
                            .await?
                            .into_inner();
                        Ok::<_, Status>(Response::new(Chain {
                            first: Some(here()),
                            second: Some(second),
                        }))
                    }
                });
                let mut grpc = Grpc::new(ProstCodec::<Chain, Ask>::default());
                Ok(grpc.unary(svc, req).await)
            }),
            _ => Box::pin(async { Ok(Status::unimplemented("no such method").into_http()) }),
        }
    }
}

/// Serves `probe` behind `layer` on an ephemeral port of 127.0.0.1.
pub async fn serve(layer: ContextLayer, probe: Probe) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = TcpIncoming::from(listener);
    tokio::spawn(async move {
        Server::builder()
            .layer(layer)
            .add_service(probe)
            .serve_with_incoming(incoming)
            .await
            .unwrap()
    });
    addr
}

/// A channel to `addr`, connected.
pub async fn channel(addr: SocketAddr) -> Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// A channel to `addr` whose calls carry the current context.
pub async fn propagating(addr: SocketAddr) -> Downstream {
    ServiceBuilder::new()
        .layer(PropagateLayer::new())
        .service(channel(addr).await)
}

/// The client of `ctx.test.Probe`, over any gRPC transport.
#[derive(Clone, Debug)]
pub struct ProbeClient<T> {
    inner: tonic::client::Grpc<T>,
}

type StdError = Box<dyn std::error::Error + Send + Sync>;

impl<T> ProbeClient<T>
where
    T: tonic::client::GrpcService<Body>,
    T::Error: Into<StdError>,
    T::ResponseBody: HttpBody<Data = Bytes> + Send + 'static,
    <T::ResponseBody as HttpBody>::Error: Into<StdError> + Send,
{
    pub fn new(inner: T) -> ProbeClient<T> {
        ProbeClient {
            inner: tonic::client::Grpc::new(inner),
        }
    }

    async fn ready(&mut self) -> Result<(), Status> {
        self.inner
            .ready()
            .await
            .map_err(|e| Status::unavailable(format!("not ready: {}", e.into())))
    }

    pub async fn seen(
        &mut self,
        ask: impl tonic::IntoRequest<Ask>,
    ) -> Result<Response<Seen>, Status> {
        self.ready().await?;
        let path = PathAndQuery::from_static("/ctx.test.Probe/Seen");
        self.inner
            .unary(ask.into_request(), path, ProstCodec::default())
            .await
    }

    pub async fn stream(
        &mut self,
        ask: impl tonic::IntoRequest<Ask>,
    ) -> Result<Response<tonic::Streaming<Seen>>, Status> {
        self.ready().await?;
        let path = PathAndQuery::from_static("/ctx.test.Probe/Stream");
        self.inner
            .server_streaming(ask.into_request(), path, ProstCodec::default())
            .await
    }

    pub async fn fail(
        &mut self,
        ask: impl tonic::IntoRequest<Ask>,
    ) -> Result<Response<Seen>, Status> {
        self.ready().await?;
        let path = PathAndQuery::from_static("/ctx.test.Probe/Fail");
        self.inner
            .unary(ask.into_request(), path, ProstCodec::default())
            .await
    }

    pub async fn fail_late(
        &mut self,
        ask: impl tonic::IntoRequest<Ask>,
    ) -> Result<Response<tonic::Streaming<Seen>>, Status> {
        self.ready().await?;
        let path = PathAndQuery::from_static("/ctx.test.Probe/FailLate");
        self.inner
            .server_streaming(ask.into_request(), path, ProstCodec::default())
            .await
    }

    pub async fn call(
        &mut self,
        ask: impl tonic::IntoRequest<Ask>,
    ) -> Result<Response<Chain>, Status> {
        self.ready().await?;
        let path = PathAndQuery::from_static("/ctx.test.Probe/Call");
        self.inner
            .unary(ask.into_request(), path, ProstCodec::default())
            .await
    }

    /// Calls `path` (any method, known or not) as a unary call.
    pub async fn unary_at(
        &mut self,
        path: &'static str,
        ask: impl tonic::IntoRequest<Ask>,
    ) -> Result<Response<Seen>, Status> {
        self.ready().await?;
        self.inner
            .unary(
                ask.into_request(),
                PathAndQuery::from_static(path),
                ProstCodec::default(),
            )
            .await
    }
}
