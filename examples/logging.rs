//! Every log line of a request carries its ids: one line of set-up on
//! `tracing_subscriber::fmt`, in text and then in JSON.
//!
//! Serves one request through ctx's `ContextLayer` on 127.0.0.1 (a port the
//! system picks), sent with a caller's `traceparent` and `x-request-id`. The
//! handler logs, and so do a task it spawns and a blocking closure it runs;
//! the lines written outside the request have no ids. The access log keeps
//! its own ids, not written twice. First in text; then the example runs
//! itself again with `json`, for the same in JSON, one object per line.
//! The log lines go to stdout, the headings to stderr.
//!
//! Run with:
//!
//! ```sh
//! cargo run --example logging --features tracing-subscriber
//! ```

use std::net::SocketAddr;
use std::process::Command;

use axum::routing::get;
use axum::Router;
use ctx::http::ContextLayer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tracing::info;

async fn place_order() -> &'static str {
    info!(order = 7, "order placed");
    ctx::spawn(async { info!("confirmation e-mail queued") })
        .await
        .unwrap();
    ctx::spawn_blocking(|| info!("invoice rendered"))
        .await
        .unwrap();
    "ok"
}

/// One request, as a caller in a trace would send it.
async fn send(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = "GET /orders HTTP/1.1\r\n\
                   host: localhost\r\n\
                   traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\
                   x-request-id: req-42\r\n\
                   connection: close\r\n\r\n";
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::main]
async fn main() {
    let json = std::env::args().nth(1).as_deref() == Some("json");
    if json {
        tracing_subscriber::fmt()
            .json()
            .map_event_format(ctx::logs::with_ids)
            .init();
    } else {
        eprintln!("== text");
        tracing_subscriber::fmt()
            .map_event_format(ctx::logs::with_ids)
            .init();
    }

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    info!(%addr, "listening (outside any request: no ids)");
    let app = Router::new()
        .route("/orders", get(place_order))
        .layer(ContextLayer::new());
    ctx::spawn_detached(async move { axum::serve(listener, app).await.unwrap() });

    let response = send(addr).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    info!("done (outside any request again)");

    if !json {
        // The global subscriber is set once per process: JSON in a new one.
        eprintln!("== json");
        let me = std::env::current_exe().unwrap();
        let status = Command::new(me).arg("json").status().unwrap();
        assert!(status.success());
    }
}
