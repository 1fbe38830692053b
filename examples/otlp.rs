//! One request through ctx's `ContextLayer`, its spans exported to
//! OpenTelemetry over OTLP/gRPC.
//!
//! Run with:
//!
//! ```sh
//! cargo run --example otlp --features "opentelemetry axum"
//! ```
//!
//! The example serves an axum router behind `ContextLayer` on 127.0.0.1 (a
//! random port) and sends it one request with a `traceparent` of a new
//! trace. The handler makes a span with opentelemetry's API, and inside it
//! spawns a task that makes a span with `tracing` (through
//! `tracing-opentelemetry`) and a blocking closure that makes one with
//! opentelemetry's API again: ctx carries the parents across both hops. The
//! spans are exported over OTLP/gRPC to `OTEL_EXPORTER_OTLP_ENDPOINT`
//! (default `http://localhost:4317`), flushed, and the example exits,
//! printing the trace id.
//!
//! To see the trace in Jaeger, start it first:
//!
//! ```sh
//! docker run --rm -p 4317:4317 -p 16686:16686 jaegertracing/all-in-one
//! ```
//!
//! then run the example, open <http://localhost:16686>, pick the service
//! `ctx-otlp-example` and look up the printed trace id. The tree is ctx's
//! server span `GET /checkout` (recorded by `ctx::otel::ServerSpans`, the
//! span the response's `traceparent` echoes), `checkout` under it, and
//! `reserve_stock` and `charge_card` under that.
//!
//! With no collector listening, the export fails within a few seconds (the
//! exporter's timeout): the example reports the error and exits with status 1.

use std::error::Error;
use std::future::IntoFuture;
use std::process::ExitCode;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use ctx::http::ContextLayer;
use ctx::propagation::{Propagated, TraceParent};
use ctx::trace::{SpanId, TraceContext, TraceId};
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{TraceContextExt as _, Tracer as _};
use opentelemetry::{global, KeyValue};
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing::Instrument as _;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

/// The service name the spans are exported under.
pub(crate) const SERVICE: &str = "ctx-otlp-example";

/// How long one export may take, retries included: with no collector, the
/// example gives up after this.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(3);

type BoxError = Box<dyn Error + Send + Sync>;

/// The tracer provider: spans batched and exported over OTLP/gRPC to
/// `endpoint`, or else to `OTEL_EXPORTER_OTLP_ENDPOINT`, or else to
/// `http://localhost:4317`. Call it inside a tokio runtime (the gRPC channel
/// runs on it) that keeps running until the provider is shut down.
pub(crate) fn tracer_provider(endpoint: Option<&str>) -> Result<SdkTracerProvider, BoxError> {
    let mut exporter = SpanExporter::builder()
        .with_tonic()
        .with_timeout(EXPORT_TIMEOUT);
    if let Some(endpoint) = endpoint {
        exporter = exporter.with_endpoint(endpoint);
    }
    Ok(SdkTracerProvider::builder()
        .with_resource(Resource::builder().with_service_name(SERVICE).build())
        .with_batch_exporter(exporter.build()?)
        .build())
}

/// `tracing`'s spans as opentelemetry's, through `tracer`'s provider (INFO
/// and above: the gRPC stack's own debug spans stay out of the export).
pub(crate) fn otel_layer<S>(provider: &SdkTracerProvider) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    use opentelemetry::trace::TracerProvider as _;
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(SERVICE))
        .with_filter(LevelFilter::INFO)
}

/// The service: one route behind ctx's `ContextLayer`.
pub(crate) fn app() -> Router {
    Router::new()
        .route("/checkout", get(checkout))
        // The server span, exported as an OpenTelemetry span: the handler's
        // spans and those of the work it spawns are its children.
        .layer(ContextLayer::new().record_spans(ctx::otel::ServerSpans::new()))
}

/// The handler: a span of its own, and inside it a task and a blocking
/// closure that each make one.
async fn checkout() -> String {
    let tracer = global::tracer(SERVICE);
    let span = tracer.start("checkout");
    let cx = opentelemetry::Context::current_with_span(span);
    async {
        let task = ctx::spawn(
            async {
                tracing::info!("stock reserved");
            }
            .instrument(tracing::info_span!("reserve_stock", items = 3)),
        );
        let blocking = ctx::spawn_blocking(|| {
            global::tracer(SERVICE).in_span("charge_card", |cx| {
                cx.span().set_attribute(KeyValue::new("amount_cents", 4200));
            });
        });
        let (task, blocking) = tokio::join!(task, blocking);
        task.and(blocking).expect("the task and the closure finish");
    }
    .with_context(cx.clone())
    .await;
    cx.span().end();
    ctx::trace_id().map(|id| id.to_string()).unwrap_or_default()
}

/// What one request showed.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// The trace the caller started and sent.
    pub(crate) trace_id: TraceId,
    /// The server span `ContextLayer` made, as the response echoes it.
    pub(crate) server_span: SpanId,
}

/// Serves [`app`] on 127.0.0.1 and sends it one request with the
/// `traceparent` of a new trace; stops the server once it answered.
pub(crate) async fn serve_one_request() -> Result<Outcome, BoxError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = ctx::spawn_detached(
        axum::serve(listener, app())
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .into_future(),
    );

    let caller = TraceContext::new_root();
    let mut request =
        http::Request::get(format!("http://{addr}/checkout")).body(Empty::<bytes::Bytes>::new())?;
    ctx::propagation::inject(
        &Propagated::new().with_trace(caller.clone()),
        request.headers_mut(),
    );
    let client = Client::builder(TokioExecutor::new()).build_http();
    let response = client.request(request).await?;
    let echoed = response
        .headers()
        .get("traceparent")
        .and_then(|v| TraceParent::parse(v.as_bytes()))
        .ok_or("the response echoes no traceparent")?;
    drop(response);
    let _ = stop.send(());
    server.await??;
    Ok(Outcome {
        trace_id: caller.trace_id(),
        server_span: echoed.parent_id(),
    })
}

fn main() -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let _entered = runtime.enter();
    let provider = match tracer_provider(None) {
        Ok(provider) => provider,
        Err(e) => {
            eprintln!("cannot set up the OTLP exporter: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The set-up an application already has: the tracer provider and a
    // `tracing` subscriber with tracing-opentelemetry's layer...
    global::set_tracer_provider(provider.clone());
    tracing_subscriber::registry()
        .with(otel_layer(&provider))
        .with(tracing_subscriber::fmt::layer().with_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        ))
        .init();
    // ...and ctx's, once.
    ctx::otel::init().expect("ctx::otel::init");

    let outcome = runtime.block_on(serve_one_request());
    // Export what is buffered now, and report whether it got through.
    let flushed = provider.force_flush();
    let shut = provider.shutdown();
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => {
            eprintln!("the request failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "trace {} (ctx's server span {})",
        outcome.trace_id, outcome.server_span
    );
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
        .unwrap_or_else(|_| "http://localhost:4317".into());
    match flushed.and(shut) {
        Ok(()) => {
            println!("exported to {endpoint}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("the export to {endpoint} failed (is a collector listening?): {e}");
            ExitCode::FAILURE
        }
    }
}
