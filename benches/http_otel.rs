//! The server layer with its server span exported to OpenTelemetry, against
//! axum-tracing-opentelemetry's `OtelAxumLayer` with the same pipeline: a
//! `tracing` subscriber with tracing-opentelemetry's layer, an SDK tracer
//! provider with a simple processor, and an exporter that discards every
//! span. Both record one server span per request. Cases, each one
//! `router.clone().oneshot(req)` with its body read to the end, with and
//! without an inbound `traceparent`:
//!
//! - `bare`: the router alone;
//! - `ctx`: `ContextLayer::new()` with its access log off (the other stack
//!   writes no log line);
//! - `ctx_otel`: the same with `record_spans(ctx::otel::ServerSpans)`;
//! - `otel_axum`: `OtelAxumLayer` + `OtelInResponseLayer` (which echoes the
//!   `traceparent`, as ctx does);
//! - `sdk_span`: the floor of recording a server span at all: one SDK span
//!   with two attributes started and ended per request (a `map_request`
//!   layer), nothing else.
//!
//! Run with `cargo bench --all-features --bench http_otel`: interleaved
//! rounds, each case's added cost over `bare`, and the ratio of
//! `ctx_otel`'s added cost to `otel_axum`'s.

mod support;

use axum::Router;
use axum_tracing_opentelemetry::middleware::{OtelAxumLayer, OtelInResponseLayer};
use ctx::http::ContextLayer;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use support::{bare, finish, hello, ONESHOT_GROUPS};
use tower::ServiceBuilder;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

const ROUNDS: usize = 25;
const BATCH: u64 = 2_000;

/// An exporter that drops every span.
#[derive(Debug)]
struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        drop(batch);
        Ok(())
    }
}

fn main() {
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(Discard)
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench")))
        .init();
    ctx::otel::init().unwrap();

    let routers: Vec<(&'static str, Router)> = vec![
        ("bare", bare()),
        (
            "ctx",
            finish(hello().layer(ContextLayer::new().access_log(None))),
        ),
        (
            "ctx_otel",
            finish(
                hello().layer(
                    ContextLayer::new()
                        .access_log(None)
                        .record_spans(ctx::otel::ServerSpans::new()),
                ),
            ),
        ),
        ("sdk_span", {
            let tracer = provider.tracer("floor");
            finish(hello().layer(ServiceBuilder::new().map_request(
                move |req: axum::extract::Request| {
                    use opentelemetry::trace::{SpanKind, Tracer as _};
                    let span = tracer.build(
                        opentelemetry::trace::SpanBuilder::from_name("GET /")
                            .with_kind(SpanKind::Server)
                            .with_attributes([
                                opentelemetry::KeyValue::new("http.request.method", "GET"),
                                opentelemetry::KeyValue::new(
                                    "url.path",
                                    req.uri().path().to_owned(),
                                ),
                            ]),
                    );
                    drop(span);
                    req
                },
            )))
        }),
        (
            "otel_axum",
            finish(
                hello().layer(
                    ServiceBuilder::new()
                        .layer(OtelAxumLayer::default())
                        .layer(OtelInResponseLayer),
                ),
            ),
        ),
    ];
    let rt = support::current_thread();
    // Warm-up, and a check that each stack answers.
    rt.block_on(async {
        for (_, router) in &routers {
            for _ in 0..200 {
                support::oneshot(router, true).await;
            }
        }
    });
    for (group, traceparent) in ONESHOT_GROUPS {
        support::interleaved_oneshot(
            &rt,
            &format!("http_otel_{group}"),
            &routers,
            traceparent,
            (ROUNDS, BATCH),
            &[
                ("ctx_otel", "otel_axum"),
                ("ctx", "otel_axum"),
                ("sdk_span", "otel_axum"),
            ],
        );
    }
    provider.shutdown().unwrap();
}
