//! gRPC through ctx's HTTP layers: a tonic server behind `ContextLayer`
//! and tonic clients (a `Channel`, with `PropagateLayer` or with metadata
//! set by hand) on 127.0.0.1. Unary and server-streaming calls run in the
//! caller's trace; the metadata carries `traceparent`, `tracestate`,
//! `baggage`, B3 and the request id; the access log names the service, the
//! method and the gRPC status, from the trailers or from a trailers-only
//! response; a chain of two services is one trace.
//!
//! One binary with a global subscriber that records the access-log and
//! outbound-call events.
#![cfg(all(feature = "http", feature = "tokio"))]

#[path = "support/grpc.rs"]
mod grpc;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use ctx::http::record::{RecordedSpan, RequestEnd, RequestStart, SpanRecorder};
use ctx::http::{ContextLayer, PropagateLayer, ACCESS_LOG_TARGET, CLIENT_LOG_TARGET};
use ctx::propagation::{RequestId, REQUEST_ID};
use ctx::trace::{SpanId, TraceContext, TraceId, TraceState};
use ctx::Context;
use futures::StreamExt;
use grpc::{channel, propagating, serve, Ask, Probe, ProbeClient};
use tonic::Code;
use tower::ServiceBuilder;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt};
use tracing_subscriber::Layer;

type Event = HashMap<String, String>;

/// Records every access-log and outbound-call event's fields (the target
/// under `"target"`).
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Event>>>);

struct Fields<'a>(&'a mut Event);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

impl<S: tracing::Subscriber> Layer<S> for Recorder {
    fn on_event(&self, event: &tracing::Event<'_>, _: LayerContext<'_, S>) {
        let target = event.metadata().target();
        if target != ACCESS_LOG_TARGET && target != CLIENT_LOG_TARGET {
            return;
        }
        let mut fields = Event::new();
        fields.insert("target".into(), target.to_string());
        event.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push(fields);
    }
}

fn recorder() -> &'static Recorder {
    static RECORDER: OnceLock<Recorder> = OnceLock::new();
    RECORDER.get_or_init(|| {
        let recorder = Recorder::default();
        let subscriber = tracing_subscriber::registry().with(recorder.clone());
        tracing::subscriber::set_global_default(subscriber).unwrap();
        recorder
    })
}

fn events_of(target: &str, trace: &str) -> Vec<Event> {
    recorder()
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e["target"] == target)
        .filter(|e| e.get("trace_id").map(String::as_str) == Some(trace))
        .cloned()
        .collect()
}

/// The `n` access-log events of `trace`, waited for: the server writes
/// its line when the response's last frame is sent, which may be after the
/// client has read it (or, for an abandoned call, when the server notices
/// the reset). Fails on fewer after 10 s, or more.
async fn access_events(trace: &str, n: usize) -> Vec<Event> {
    for _ in 0..1000 {
        let events = events_of(ACCESS_LOG_TARGET, trace);
        if events.len() >= n {
            // A second line would be a bug: give it time to show.
            tokio::time::sleep(Duration::from_millis(20)).await;
            let events = events_of(ACCESS_LOG_TARGET, trace);
            assert_eq!(events.len(), n, "access-log events of {trace}: {events:?}");
            return events;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "{n} access-log events of {trace} expected: {:?}",
        events_of(ACCESS_LOG_TARGET, trace)
    );
}

async fn the_access_event(trace: &str) -> Event {
    access_events(trace, 1).await.remove(0)
}

/// A root span with a `tracestate`, baggage `user=alice` and request id
/// `req-7`: the context a caller sends.
fn callers_context() -> (Context, TraceContext) {
    let root = TraceContext::new_root()
        .with_state(TraceState::parse(b"vendor=opaque,other=1").expect("valid tracestate"));
    let cx = Context::new()
        .with(&ctx::trace::TRACE_CONTEXT, root.clone())
        .with(&REQUEST_ID, RequestId::new("req-7").unwrap());
    let cx = cx.run(|| ctx::baggage::sync_scope("user", "alice", Context::current));
    (cx, root)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unary_call_runs_in_the_callers_trace_with_its_baggage_and_request_id() {
    recorder();
    let addr = serve(ContextLayer::new(), Probe::default()).await;
    let mut client = ProbeClient::new(propagating(addr).await);
    let (cx, root) = callers_context();

    let response = ctx::FutureExt::in_context(client.seen(Ask::default()), cx)
        .await
        .expect("the call succeeds");
    let echoed_traceparent = response
        .metadata()
        .get("traceparent")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let echoed_request_id = response
        .metadata()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let seen = response.into_inner();

    let trace = root.trace_id().to_string();
    assert_eq!(seen.trace_id, trace, "{seen:?}");
    assert_eq!(seen.spawned, trace, "a ctx::spawn of the handler");
    assert_eq!(seen.blocking, trace, "a spawn_blocking of the handler");
    // The server span is a child of the call's span, which is a child of
    // the caller's: neither is the caller's span itself.
    assert_ne!(seen.parent_span_id, root.span_id().to_string());
    assert_ne!(seen.span_id, root.span_id().to_string());
    assert!(seen.span_id.parse::<SpanId>().is_ok(), "{seen:?}");
    assert!(seen.parent_span_id.parse::<SpanId>().is_ok(), "{seen:?}");
    assert_eq!(seen.tracestate, "vendor=opaque,other=1");
    assert_eq!(seen.baggage, "alice");
    assert_eq!(seen.request_id, "req-7");

    // The response's metadata echo the server span and the request id.
    assert_eq!(
        echoed_traceparent,
        format!("00-{trace}-{}-{:02x}", seen.span_id, root.flags().bits())
    );
    assert_eq!(echoed_request_id, "req-7");

    let e = the_access_event(&trace).await;
    assert_eq!(e["method"], "POST");
    assert_eq!(e["route"], "/ctx.test.Probe/Seen");
    assert_eq!(e["status"], "200");
    assert_eq!(e["span_id"], seen.span_id);
    assert_eq!(e["parent_span_id"], seen.parent_span_id);
    assert_eq!(e["request_id"], "req-7");
    assert_eq!(e["outcome"], "complete");
    assert_eq!(e["rpc_system"], "grpc");
    assert_eq!(e["rpc_service"], "ctx.test.Probe");
    assert_eq!(e["rpc_method"], "Seen");
    assert_eq!(e["grpc_status"], "0", "OK, from the trailers");
}

/// A caller that is no Rust at all writes the metadata itself: each format
/// the layer reads arrives as gRPC metadata.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metadata_carries_traceparent_tracestate_baggage_b3_and_the_request_id() {
    recorder();
    let addr = serve(ContextLayer::new(), Probe::default()).await;
    let mut client = ProbeClient::new(channel(addr).await);

    // W3C trace context and baggage.
    let trace = TraceId::random().to_string();
    let caller = SpanId::random().to_string();
    let mut req = tonic::Request::new(Ask::default());
    let md = req.metadata_mut();
    md.insert(
        "traceparent",
        format!("00-{trace}-{caller}-01").parse().unwrap(),
    );
    md.insert("tracestate", "congo=t61rcWkgMzE".parse().unwrap());
    md.insert("baggage", "user=bob%20b,tier=gold".parse().unwrap());
    md.insert("x-request-id", "grpc-req-1".parse().unwrap());
    let seen = client.seen(req).await.unwrap().into_inner();
    assert_eq!(seen.trace_id, trace);
    assert_eq!(
        seen.parent_span_id, caller,
        "the server span's parent is the caller's"
    );
    assert_eq!(seen.tracestate, "congo=t61rcWkgMzE");
    assert_eq!(seen.baggage, "bob b");
    assert_eq!(seen.request_id, "grpc-req-1");
    assert_eq!(the_access_event(&trace).await["request_id"], "grpc-req-1");

    // B3, single header.
    let trace = TraceId::random().to_string();
    let caller = SpanId::random().to_string();
    let mut req = tonic::Request::new(Ask::default());
    req.metadata_mut()
        .insert("b3", format!("{trace}-{caller}-1").parse().unwrap());
    let response = client.seen(req).await.unwrap();
    let echoed_request_id = response
        .metadata()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let seen = response.into_inner();
    assert_eq!(
        (seen.trace_id.as_str(), seen.parent_span_id.as_str()),
        (trace.as_str(), caller.as_str())
    );
    // No request id came: the trace id stands in for it.
    assert_eq!(seen.request_id, trace);
    assert_eq!(echoed_request_id, trace);
    the_access_event(&trace).await;

    // B3, multiple headers.
    let trace = TraceId::random().to_string();
    let caller = SpanId::random().to_string();
    let mut req = tonic::Request::new(Ask::default());
    let md = req.metadata_mut();
    md.insert("x-b3-traceid", trace.parse().unwrap());
    md.insert("x-b3-spanid", caller.parse().unwrap());
    md.insert("x-b3-sampled", "1".parse().unwrap());
    let seen = client.seen(req).await.unwrap().into_inner();
    assert_eq!(
        (seen.trace_id.as_str(), seen.parent_span_id.as_str()),
        (trace.as_str(), caller.as_str())
    );
    the_access_event(&trace).await;

    // Nothing sent: a new trace, still a context of its own.
    let seen = client.seen(Ask::default()).await.unwrap().into_inner();
    assert!(seen.trace_id.parse::<TraceId>().is_ok());
    assert_eq!(seen.parent_span_id, "");
    assert_eq!(seen.spawned, seen.trace_id);
    assert_eq!(seen.baggage, "");
}

/// A server-streaming response's messages are made while the body is
/// polled, each inside the request's context, on whichever worker polls
/// it; the access log is written once, when the stream's trailers are
/// sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_streaming_response_is_produced_in_the_requests_context() {
    recorder();
    let addr = serve(ContextLayer::new(), Probe::default()).await;
    let mut client = ProbeClient::new(propagating(addr).await);
    let (cx, root) = callers_context();
    let trace = root.trace_id().to_string();

    // Several calls at once, so that one connection's streams interleave.
    let mut calls = Vec::new();
    for _ in 0..4 {
        let mut client = client.clone();
        let (cx, root) = callers_context();
        calls.push(ctx::spawn(ctx::FutureExt::in_context(
            async move {
                let mut stream = client
                    .stream(Ask { count: 20, code: 0 })
                    .await
                    .unwrap()
                    .into_inner();
                let mut seen = Vec::new();
                while let Some(message) = stream.next().await {
                    seen.push(message.unwrap());
                }
                (root, seen)
            },
            cx,
        )));
    }
    let mut stream = ctx::FutureExt::in_context(client.stream(Ask { count: 50, code: 0 }), cx)
        .await
        .unwrap()
        .into_inner();
    let mut seen = Vec::new();
    while let Some(message) = stream.next().await {
        seen.push(message.unwrap());
    }
    assert_eq!(seen.len(), 50);
    for (i, s) in seen.iter().enumerate() {
        assert_eq!(s.index as usize, i);
        assert_eq!(s.trace_id, trace, "message {i}");
        assert_eq!(s.baggage, "alice", "message {i}");
        assert_eq!(s.request_id, "req-7", "message {i}");
    }
    let server_span = &seen[0].span_id;
    assert!(
        seen.iter().all(|s| &s.span_id == server_span),
        "one server span"
    );

    for call in calls {
        let (root, seen) = call.await.unwrap();
        assert_eq!(seen.len(), 20);
        let trace = root.trace_id().to_string();
        assert!(seen.iter().all(|s| s.trace_id == trace), "{seen:?}");
        the_access_event(&trace).await;
    }

    let e = the_access_event(&trace).await;
    assert_eq!(e["rpc_method"], "Stream");
    assert_eq!(e["grpc_status"], "0");
    assert_eq!(e["outcome"], "complete");
    assert_eq!(&e["span_id"], server_span);
}

/// Error statuses reach the access log: from a trailers-only response (the
/// call failed before its first message), from the trailers after a
/// message, and for a method the server does not have.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_statuses_are_logged_from_the_trailers_and_from_trailers_only_responses() {
    recorder();
    let addr = serve(ContextLayer::new(), Probe::default()).await;
    let mut client = ProbeClient::new(propagating(addr).await);

    // Trailers-only: NOT_FOUND before any message.
    let root = TraceContext::new_root();
    let trace = root.trace_id().to_string();
    let err = root
        .scope(client.fail(Ask {
            count: 0,
            code: Code::NotFound as i32,
        }))
        .await
        .expect_err("the call fails");
    assert_eq!(err.code(), Code::NotFound);
    let e = the_access_event(&trace).await;
    assert_eq!(e["rpc_method"], "Fail");
    assert_eq!(e["grpc_status"], "5");
    assert_eq!(e["status"], "200", "gRPC answers errors with HTTP 200");
    assert_eq!(e["outcome"], "complete");

    // Every code, trailers-only.
    for code in [
        Code::InvalidArgument,
        Code::Internal,
        Code::Unavailable,
        Code::DataLoss,
    ] {
        let root = TraceContext::new_root();
        let err = root
            .clone()
            .scope(client.fail(Ask {
                count: 0,
                code: code as i32,
            }))
            .await
            .expect_err("the call fails");
        assert_eq!(err.code(), code);
        let e = the_access_event(&root.trace_id().to_string()).await;
        assert_eq!(e["grpc_status"], (code as i32).to_string());
    }

    // In the trailers, after one message: INTERNAL.
    let root = TraceContext::new_root();
    let trace = root.trace_id().to_string();
    let (first, last) = root
        .scope(async {
            let mut stream = client
                .fail_late(Ask {
                    count: 0,
                    code: Code::Internal as i32,
                })
                .await
                .unwrap()
                .into_inner();
            let first = stream.next().await.unwrap();
            let last = stream.next().await.unwrap();
            (first, last)
        })
        .await;
    assert_eq!(first.unwrap().trace_id, trace);
    assert_eq!(
        last.expect_err("the stream ends in an error").code(),
        Code::Internal
    );
    let e = the_access_event(&trace).await;
    assert_eq!(e["rpc_method"], "FailLate");
    assert_eq!(e["grpc_status"], "13");
    assert_eq!(e["outcome"], "complete");

    // A method the service does not have: UNIMPLEMENTED from the service.
    let root = TraceContext::new_root();
    let trace = root.trace_id().to_string();
    let err = root
        .scope(client.unary_at("/ctx.test.Probe/Nope", Ask::default()))
        .await
        .expect_err("no such method");
    assert_eq!(err.code(), Code::Unimplemented);
    let e = the_access_event(&trace).await;
    assert_eq!(e["rpc_service"], "ctx.test.Probe");
    assert_eq!(e["rpc_method"], "Nope");
    assert_eq!(e["grpc_status"], "12");
}

/// Service A's handler calls service B through a tonic `Channel` behind
/// `PropagateLayer`: one trace, B's server span a child of A's outbound
/// call, which is a child of A's server span.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_chain_of_two_services_is_one_trace() {
    recorder();
    let b = serve(ContextLayer::new(), Probe::default()).await;
    let to_b = ServiceBuilder::new()
        .layer(PropagateLayer::new().log_requests(tracing::Level::INFO))
        .service(channel(b).await);
    let a = serve(ContextLayer::new(), Probe::calling(to_b)).await;
    let mut client = ProbeClient::new(propagating(a).await);

    let (cx, root) = callers_context();
    let trace = root.trace_id().to_string();
    let chain = ctx::FutureExt::in_context(client.call(Ask::default()), cx)
        .await
        .unwrap()
        .into_inner();
    let (first, second) = (chain.first.unwrap(), chain.second.unwrap());
    assert_eq!(first.trace_id, trace);
    assert_eq!(second.trace_id, trace, "B continues the trace");
    assert_ne!(first.span_id, second.span_id);
    // The baggage and the request id travel on.
    assert_eq!(
        (second.baggage.as_str(), second.request_id.as_str()),
        ("alice", "req-7")
    );
    assert_eq!(second.tracestate, "vendor=opaque,other=1");

    // A's outbound call: a child of A's server span, and B's parent.
    let calls = events_of(CLIENT_LOG_TARGET, &trace);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["parent_span_id"], first.span_id);
    assert_eq!(calls[0]["span_id"], second.parent_span_id);
    // tonic's client hands its channel a path; the channel adds the origin.
    assert_eq!(calls[0]["uri"], "/ctx.test.Probe/Seen");

    let events = access_events(&trace, 2).await;
    let line = |method: &str| {
        events
            .iter()
            .find(|e| e["rpc_method"] == method)
            .unwrap_or_else(|| panic!("no {method} line: {events:?}"))
    };
    assert_eq!(line("Call")["span_id"], first.span_id);
    assert_eq!(line("Seen")["span_id"], second.span_id);
    assert_eq!(line("Seen")["parent_span_id"], second.parent_span_id);
    assert!(events.iter().all(|e| e["grpc_status"] == "0"));
}

/// What the recorder saw at a request's end: `grpc_status()`, `is_error()`.
type End = (Option<u32>, bool);

/// What the recorder saw at each request's end.
#[derive(Clone, Default)]
struct Ends(Arc<Mutex<Vec<End>>>);

struct EndOf(Ends);

impl SpanRecorder for Ends {
    fn start(&self, _: &RequestStart<'_>, cx: Context) -> (Context, Option<Box<dyn RecordedSpan>>) {
        (cx, Some(Box::new(EndOf(self.clone()))))
    }
}

impl RecordedSpan for EndOf {
    fn end(self: Box<Self>, end: &RequestEnd<'_>) {
        self.0
             .0
            .lock()
            .unwrap()
            .push((end.grpc_status(), end.is_error()));
    }
}

/// A span recorder learns the gRPC status, and counts the server's
/// failures (not the caller's) as errors, though HTTP says 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_span_recorder_sees_the_grpc_status() {
    let ends = Ends::default();
    // No subscriber needed: the recorder's span ends whether or not a line
    // is written.
    let layer = ContextLayer::new()
        .access_log(None)
        .record_spans(ends.clone());
    let addr = serve(layer, Probe::default()).await;
    let mut client = ProbeClient::new(channel(addr).await);

    client.seen(Ask::default()).await.unwrap();
    for code in [Code::NotFound, Code::Internal] {
        client
            .fail(Ask {
                count: 0,
                code: code as i32,
            })
            .await
            .unwrap_err();
    }
    // The recorder's span ends with the response's last frame.
    for _ in 0..500 {
        if ends.0.lock().unwrap().len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let got = ends.0.lock().unwrap().clone();
    assert_eq!(got, [(Some(0), false), (Some(5), false), (Some(13), true)]);
}

/// A request that is not a gRPC call (no gRPC `content-type`, or
/// gRPC-Web's) gets none of the gRPC fields, even when its response carries
/// a `grpc-status`.
#[tokio::test(flavor = "current_thread")]
async fn a_request_that_is_not_grpc_has_no_rpc_fields() {
    use tower::{Layer, ServiceExt};
    recorder();
    let svc = ContextLayer::new().layer(tower::service_fn(|_: http::Request<String>| async {
        let mut res = http::Response::new(String::from("ok"));
        res.headers_mut()
            .insert("grpc-status", "0".parse().unwrap());
        Ok::<_, std::convert::Infallible>(res)
    }));
    for content_type in [
        None,
        Some("application/json"),
        Some("application/grpc-web+proto"),
    ] {
        let trace = TraceId::random().to_string();
        let mut req = http::Request::builder()
            .method("POST")
            .uri("/ctx.test.Probe/Seen")
            .header("traceparent", format!("00-{trace}-{}-01", SpanId::random()));
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let res = svc
            .clone()
            .oneshot(req.body(String::new()).unwrap())
            .await
            .unwrap();
        drop(res);
        let e = the_access_event(&trace).await;
        assert_eq!(e["route"], "/ctx.test.Probe/Seen");
        for field in ["rpc_system", "rpc_service", "rpc_method", "grpc_status"] {
            assert!(!e.contains_key(field), "{content_type:?}: {field} in {e:?}");
        }
    }
}

/// A client that stops reading a server-streaming response and drops it:
/// the call is logged as `dropped`, with no gRPC status (none was sent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_the_client_abandons_is_logged_dropped_without_a_status() {
    recorder();
    let addr = serve(ContextLayer::new(), Probe::default()).await;
    let mut client = ProbeClient::new(propagating(addr).await);
    let root = TraceContext::new_root();
    let trace = root.trace_id().to_string();
    root.scope(async {
        let mut stream = client
            .stream(Ask {
                count: 1_000_000,
                code: 0,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(stream.next().await.unwrap().unwrap().trace_id, trace);
        // Dropping the stream resets the HTTP/2 stream.
    })
    .await;
    let e = the_access_event(&trace).await;
    assert_eq!(e["rpc_method"], "Stream");
    assert_eq!(e["outcome"], "dropped");
    assert!(!e.contains_key("grpc_status"), "{e:?}");
}

/// With `ctx::otel::ServerSpans`, a gRPC call's span is named
/// `{service}/{method}`, has the RPC conventions' attributes and the gRPC
/// status, and an error status for the server's failures only.
#[cfg(feature = "opentelemetry")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opentelemetry_server_spans_of_grpc_calls() {
    use opentelemetry::trace::{Status as SpanStatus, TracerProvider as _};
    use opentelemetry::Value;
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};

    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let layer = ContextLayer::new()
        .access_log(None)
        .record_spans(ctx::otel::ServerSpans::with_tracer(provider.tracer("grpc")));
    let addr = serve(layer, Probe::default()).await;
    let mut client = ProbeClient::new(channel(addr).await);
    client.seen(Ask::default()).await.unwrap();
    for code in [Code::NotFound, Code::Internal] {
        client
            .fail(Ask {
                count: 0,
                code: code as i32,
            })
            .await
            .unwrap_err();
    }
    let mut spans = Vec::new();
    for _ in 0..500 {
        spans = exporter.get_finished_spans().unwrap();
        if spans.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(spans.len(), 3, "{spans:?}");
    let attr = |span: &opentelemetry_sdk::trace::SpanData, key: &str| {
        span.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.clone())
    };
    let mut by_status = HashMap::new();
    for span in &spans {
        assert_eq!(attr(span, "rpc.system"), Some(Value::from("grpc")));
        assert_eq!(
            attr(span, "rpc.service"),
            Some(Value::from("ctx.test.Probe"))
        );
        let Some(Value::I64(code)) = attr(span, "rpc.grpc.status_code") else {
            panic!("no status code: {span:?}");
        };
        by_status.insert(code, span.clone());
    }
    let seen = &by_status[&0];
    assert_eq!(seen.name, "ctx.test.Probe/Seen");
    assert_eq!(attr(seen, "rpc.method"), Some(Value::from("Seen")));
    assert_eq!(seen.status, SpanStatus::Unset);
    assert_eq!(by_status[&5].name, "ctx.test.Probe/Fail");
    assert_eq!(
        by_status[&5].status,
        SpanStatus::Unset,
        "NOT_FOUND is the caller's"
    );
    assert!(
        matches!(by_status[&13].status, SpanStatus::Error { .. }),
        "INTERNAL is the server's: {:?}",
        by_status[&13].status
    );
}
