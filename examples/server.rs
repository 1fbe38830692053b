//! A service on a fixed port, to try with curl.
//!
//! Run with:
//!
//! ```sh
//! cargo run --example server --features axum
//! ```
//!
//! then, in another terminal:
//!
//! ```sh
//! curl -i localhost:3000/
//! curl -i -H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' \
//!      -H 'baggage: user=alice' localhost:3000/users/7
//! ```
//!
//! Set `PORT` to serve elsewhere.

use axum::extract::Path;
use axum::routing::get;
use axum::Router;
use ctx::http::ContextLayer;
use ctx::trace::TraceContext;

async fn index(trace: TraceContext) -> String {
    format!("trace {} span {}\n", trace.trace_id(), trace.span_id())
}

async fn user(Path(id): Path<u32>, trace: TraceContext) -> String {
    // Background work keeps the request's trace id.
    ctx::spawn(async move {
        // As hex, the way the access log writes it, so the lines match.
        let trace_id = ctx::trace_id().map(|t| t.to_string());
        tracing::info!(user = id, trace_id = trace_id.as_deref(), "audit job ran");
    });
    let user = ctx::baggage::get("user").unwrap_or_else(|| "anonymous".into());
    format!(
        "user {id} for {user}, trace {} (parent span {:?})\n",
        trace.trace_id(),
        trace.parent_span_id().map(|s| s.to_string())
    )
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}"))
        .await
        .expect("bind the port (set PORT to use another)");
    println!("listening on http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/", get(index))
        .route("/users/{id}", get(user))
        .layer(ContextLayer::new());
    axum::serve(listener, app).await.unwrap();
}
