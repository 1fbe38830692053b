//! gRPC interop with another ecosystem, both directions: Python `grpcio`
//! with OpenTelemetry's gRPC instrumentation (`tests/interop/grpc_peer.py`)
//! calls ctx's tonic server, and ctx's tonic client calls the Python
//! server. The trace continues across each hop, with the baggage and the
//! request id.
//!
//! The Python packages come from `tests/interop/requirements.txt`,
//! installed into a virtual environment under `target/tmp` on first use
//! (shared with `tests/interop_python.rs`); see `tests/interop/README.md`.
//! Without python3 and its `venv` module, or PyPI for that first install,
//! the test fails and says why: it never passes by skipping.
#![cfg(all(feature = "http", feature = "tokio"))]

#[path = "support/grpc.rs"]
mod grpc;
#[path = "support/python.rs"]
mod python;

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ctx::http::{ContextLayer, PropagateLayer};
use ctx::propagation::{RequestId, REQUEST_ID};
use ctx::trace::{TraceContext, TRACE_CONTEXT};
use ctx::Context;
use grpc::{channel, serve, Ask, Probe, ProbeClient, Seen};
use prost::Message;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tower::ServiceBuilder;

fn peer() -> Command {
    let mut cmd = Command::new(python::venv_python(python::venv()));
    cmd.arg(Path::new(python::MANIFEST_DIR).join("tests/interop/grpc_peer.py"));
    cmd.kill_on_drop(true);
    cmd
}

fn from_hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Python's client, inside its own root span with baggage `user=py-user`
/// and request id `py-req-1`, calls ctx's tonic server: the handler, and
/// the work it spawns, continue the trace under the span the
/// instrumentation sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_to_ctx_server() {
    let addr = serve(ContextLayer::new(), Probe::default()).await;
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        peer()
            .arg("client")
            .arg(addr.to_string())
            .stdin(Stdio::null())
            .output(),
    )
    .await
    .expect("the Python client finishes")
    .unwrap_or_else(|e| panic!("could not start the Python peer: {e}\n{}", python::HELP));
    assert!(
        out.status.success(),
        "the Python client failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    let seen = Seen::decode(from_hex(report["response"].as_str().unwrap()).as_slice())
        .expect("a Seen message");

    let trace = report["trace_id"].as_str().unwrap();
    let client_spans = report["client_span_id"].as_array().unwrap();
    assert_eq!(client_spans.len(), 1, "one client span: {report}");
    assert_eq!(
        report["client_parent_span_id"][0], report["root_span_id"],
        "Python's client span is a child of its root: {report}"
    );
    assert_eq!(seen.trace_id, trace, "{seen:?}");
    assert_eq!(
        seen.parent_span_id,
        client_spans[0].as_str().unwrap(),
        "the server span's parent is Python's client span"
    );
    assert_ne!(seen.span_id, seen.parent_span_id);
    assert_eq!(seen.spawned, trace, "a ctx::spawn of the handler");
    assert_eq!(seen.blocking, trace, "a spawn_blocking of the handler");
    assert_eq!(seen.baggage, "py-user");
    assert_eq!(seen.request_id, "py-req-1");
}

/// ctx's tonic client, behind `PropagateLayer`, calls Python's
/// instrumented server: the Python server span continues ctx's trace, a
/// child of the span ctx sent, and sees its baggage and request id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctx_client_to_python_server() {
    let mut server = peer()
        .arg("server")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start the Python peer: {e}\n{}", python::HELP));
    let mut line = String::new();
    let stdout = server.stdout.take().unwrap();
    tokio::time::timeout(
        Duration::from_secs(60),
        BufReader::new(stdout).read_line(&mut line),
    )
    .await
    .expect("the Python server starts")
    .unwrap();
    let port = serde_json::from_str::<Value>(&line)
        .unwrap_or_else(|e| panic!("the Python server said {line:?}: {e}"))["port"]
        .as_u64()
        .unwrap();
    let addr = format!("127.0.0.1:{port}").parse().unwrap();

    // What the channel was handed, after PropagateLayer.
    let sent = Arc::new(Mutex::new(None));
    let record = sent.clone();
    let client = ServiceBuilder::new()
        .layer(PropagateLayer::new())
        .map_request(move |req: http::Request<tonic::body::Body>| {
            *record.lock().unwrap() = Some(req.headers().clone());
            req
        })
        .service(channel(addr).await);
    let mut client = ProbeClient::new(client);

    let root = TraceContext::new_root();
    let cx = Context::new()
        .with(&TRACE_CONTEXT, root.clone())
        .with(&REQUEST_ID, RequestId::new("req-7").unwrap());
    let cx = cx.run(|| ctx::baggage::sync_scope("user", "alice", Context::current));
    let seen = ctx::FutureExt::in_context(client.seen(Ask::default()), cx)
        .await
        .expect("the Python server answers")
        .into_inner();

    let headers = sent.lock().unwrap().take().expect("a request was sent");
    let traceparent = headers["traceparent"].to_str().unwrap();
    let trace = root.trace_id().to_string();
    let sent_span = &traceparent[36..52];
    assert!(
        traceparent.starts_with(&format!("00-{trace}-")),
        "{traceparent}"
    );
    assert_eq!(
        seen.trace_id, trace,
        "Python continues ctx's trace: {seen:?}"
    );
    assert_eq!(
        seen.parent_span_id, sent_span,
        "a child of the span ctx sent"
    );
    assert_ne!(seen.span_id, sent_span);
    assert_eq!(
        seen.baggage, "alice",
        "OpenTelemetry's baggage, from ctx's header"
    );
    assert_eq!(seen.request_id, "req-7");

    drop(server.stdin.take());
    let _ = tokio::time::timeout(Duration::from_secs(5), server.wait()).await;
}
