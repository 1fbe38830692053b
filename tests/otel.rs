//! ctx and opentelemetry in one trace (`ctx::otel`): spans made with
//! opentelemetry's API and with `tracing` (through tracing-opentelemetry)
//! in a ctx context are children of ctx's span, in the future itself, a
//! `ctx::spawn` task, a `spawn_blocking` closure and a `ctx::thread`;
//! ctx's injection names opentelemetry's span when it is inner; ctx's
//! propagators and opentelemetry's read each other; and one request through
//! `ContextLayer` (the `otlp` example's pipeline) is exported over OTLP/gRPC
//! to a collector on 127.0.0.1 as one tree.
//!
//! The exporter is shared by the tests (the `tracing` subscriber is
//! global): each test starts a trace of its own and reads only its spans.
#![allow(clippy::disallowed_methods)] // plain spawns on purpose: contextless baselines, wrapped work on plain threads, servers

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use ctx::otel::TextMap;
use ctx::propagation::{Propagated, Propagators};
use ctx::trace::{SpanId, TraceContext, TraceFlags, TraceId, TRACE_CONTEXT};
use ctx::{Context, FutureExt as _};
use opentelemetry::context::FutureExt as _;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{
    Span as _, SpanContext, TraceContextExt, Tracer as _, TracerProvider as _,
};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracer, SdkTracerProvider, SpanData};
use tracing::Instrument as _;
use tracing_subscriber::layer::SubscriberExt as _;

#[path = "../examples/otlp.rs"]
#[allow(dead_code)]
mod otlp_example;

/// The in-memory pipeline every test but the OTLP one exports to.
struct Telemetry {
    exporter: InMemorySpanExporter,
    provider: SdkTracerProvider,
}

fn telemetry() -> &'static Telemetry {
    static TELEMETRY: OnceLock<Telemetry> = OnceLock::new();
    TELEMETRY.get_or_init(|| {
        ctx::otel::init().expect("ctx::otel::init");
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("tracing")));
        tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");
        Telemetry { exporter, provider }
    })
}

/// A tracer of the in-memory pipeline, for opentelemetry's API.
fn tracer() -> SdkTracer {
    telemetry().provider.tracer("api")
}

/// The finished spans of `trace`, by name.
fn spans_of(trace: TraceId) -> HashMap<String, SpanData> {
    let mut spans = HashMap::new();
    for span in telemetry().exporter.get_finished_spans().unwrap() {
        if span.span_context.trace_id().to_bytes() == trace.to_bytes() {
            let name = span.name.to_string();
            assert!(
                spans.insert(name.clone(), span).is_none(),
                "two spans named {name}"
            );
        }
    }
    spans
}

/// The span named `name` in `spans`, whose parent must be `parent`.
#[track_caller]
fn assert_child(spans: &HashMap<String, SpanData>, name: &str, parent: SpanId) {
    let span = spans
        .get(name)
        .unwrap_or_else(|| panic!("no span {name} in the trace: {:?}", spans.keys()));
    assert_eq!(
        span.parent_span_id.to_bytes(),
        parent.to_bytes(),
        "{name}'s parent"
    );
}

/// The span id of a finished span.
fn id_of(spans: &HashMap<String, SpanData>, name: &str) -> SpanId {
    SpanId::from_bytes(spans[name].span_context.span_id().to_bytes()).unwrap()
}

/// A runtime with two workers, so that tasks move between threads.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Work run in `root`'s scope, made ready for opentelemetry, on a worker.
fn run_in<F>(root: &TraceContext, work: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    // Scopes nest: the otel scope is first polled inside the root's.
    let work = root.clone().scope(ctx::otel::scope(work));
    runtime().block_on(async { tokio::spawn(work).await.unwrap() });
}

#[test]
fn opentelemetry_api_spans_are_children_of_ctx_s_span_at_every_hop() {
    let root = TraceContext::new_root();
    run_in(&root, async {
        tracer().start("future").end();
        tokio::task::yield_now().await;
        tracer().in_span("in_span", |_| {});
        ctx::spawn(async {
            tokio::task::yield_now().await;
            tracer().start("task").end();
        })
        .await
        .unwrap();
        ctx::spawn_blocking(|| tracer().start("blocking").end())
            .await
            .unwrap();
        ctx::thread::spawn(|| tracer().start("thread").end())
            .join()
            .unwrap();
    });
    let spans = spans_of(root.trace_id());
    for name in ["future", "in_span", "task", "blocking", "thread"] {
        assert_child(&spans, name, root.span_id());
    }
}

#[tracing::instrument]
async fn instrumented(step: u32) {
    tokio::task::yield_now().await;
    tracing::info_span!("inside").in_scope(|| {});
}

#[test]
fn tracing_spans_are_children_of_ctx_s_span_at_every_hop() {
    let root = TraceContext::new_root();
    run_in(&root, async {
        tracing::info_span!("future").in_scope(|| {});
        instrumented(0).await;
        ctx::spawn(async {
            tokio::task::yield_now().await;
            tracing::info_span!("task").in_scope(|| {});
        })
        .await
        .unwrap();
        ctx::spawn_blocking(|| tracing::info_span!("blocking").in_scope(|| {}))
            .await
            .unwrap();
        ctx::thread::spawn(|| tracing::info_span!("thread").in_scope(|| {}))
            .join()
            .unwrap();
    });
    let spans = spans_of(root.trace_id());
    for name in ["future", "instrumented", "task", "blocking", "thread"] {
        assert_child(&spans, name, root.span_id());
    }
    assert_child(&spans, "inside", id_of(&spans, "instrumented"));
}

#[test]
fn work_spawned_inside_an_opentelemetry_span_is_its_child() {
    let root = TraceContext::new_root();
    run_in(&root, async {
        // A span made current with opentelemetry's API around async work...
        let outer = tracer().start("outer");
        let cx = opentelemetry::Context::current_with_span(outer);
        async {
            ctx::spawn(async { tracer().start("task").end() })
                .await
                .unwrap();
            ctx::spawn_blocking(|| tracing::info_span!("blocking").in_scope(|| {}))
                .await
                .unwrap();
        }
        .with_context(cx.clone())
        .await;
        cx.span().end();
        // ...and a tracing span entered around async work.
        async {
            ctx::spawn(async { tracer().start("in_tracing").end() })
                .await
                .unwrap();
            let thread = ctx::thread::spawn(|| tracer().start("thread_in_tracing").end());
            thread.join().unwrap();
        }
        .instrument(tracing::info_span!("traced"))
        .await;
    });
    let spans = spans_of(root.trace_id());
    assert_child(&spans, "outer", root.span_id());
    assert_child(&spans, "task", id_of(&spans, "outer"));
    assert_child(&spans, "blocking", id_of(&spans, "outer"));
    assert_child(&spans, "traced", root.span_id());
    assert_child(&spans, "in_tracing", id_of(&spans, "traced"));
    assert_child(&spans, "thread_in_tracing", id_of(&spans, "traced"));
}

#[test]
fn a_context_seeded_from_a_traceparent_parents_the_spans() {
    telemetry();
    let mut headers = http::HeaderMap::new();
    let caller = TraceContext::new_root();
    ctx::propagation::inject(&Propagated::new().with_trace(caller.clone()), &mut headers);
    let inbound = ctx::propagation::extract(&headers);
    let server = inbound.trace.as_ref().unwrap().child();
    let cx = inbound
        .with_trace(server.clone())
        .to_context(&Context::new());

    let rt = runtime();
    // Ready for opentelemetry (what a server does for each request): the
    // future's own spans and its children's.
    rt.block_on(
        async {
            tracer().start("future").end();
            ctx::spawn(async { tracing::info_span!("task").in_scope(|| {}) })
                .await
                .unwrap();
        }
        .in_context(ctx::otel::with_trace(&cx)),
    );
    // Not made ready: spawned work still gets ctx's span as its parent (the
    // capture makes the opentelemetry context), the future's own spans do not.
    rt.block_on(
        async {
            ctx::spawn_blocking(|| tracer().start("blocking").end())
                .await
                .unwrap();
            tracer().start("not_ready").end();
        }
        .in_context(cx),
    );
    let spans = spans_of(caller.trace_id());
    for name in ["future", "task", "blocking"] {
        assert_child(&spans, name, server.span_id());
    }
    assert!(!spans.contains_key("not_ready"), "a root of its own trace");
}

#[test]
fn a_nested_ctx_span_is_inner_to_the_opentelemetry_span_it_was_made_in() {
    let root = TraceContext::new_root();
    let made = std::sync::Arc::new(std::sync::Mutex::new(None));
    let record = made.clone();
    run_in(&root, async move {
        let inner = tracer().in_span("otel_span", |_| {
            // ctx's span for a piece of work, made inside opentelemetry's.
            let child = TraceContext::child_of_current();
            child.clone().sync_scope(|| {
                tracer().start("in_ctx_child").end();
                // ctx's next span is a child of the inner ctx span.
                assert_eq!(
                    TraceContext::child_of_current().parent_span_id(),
                    Some(child.span_id())
                );
            });
            child
        });
        *record.lock().unwrap() = Some(inner);
    });
    let child = made.lock().unwrap().take().unwrap();
    let spans = spans_of(root.trace_id());
    assert_child(&spans, "otel_span", root.span_id());
    assert_eq!(child.parent_span_id(), Some(id_of(&spans, "otel_span")));
    assert_child(&spans, "in_ctx_child", child.span_id());
}

#[test]
fn injection_inside_an_opentelemetry_span_names_it() {
    let root = TraceContext::new_root();
    run_in(&root, async {
        let ours = ctx::span_id().unwrap();
        // In ctx's span alone: a child of it.
        assert_eq!(
            TraceContext::child_of_current().parent_span_id(),
            Some(ours)
        );

        tracer().in_span("client_call", |cx| {
            let call = cx.span().span_context().clone();
            let call_id = SpanId::from_bytes(call.span_id().to_bytes());
            // The span ctx makes for an outgoing call is a child of the
            // innermost span, opentelemetry's here; `innermost` names it.
            let outbound = TraceContext::child_of_current();
            assert_eq!(outbound.parent_span_id(), call_id);
            assert_eq!(TraceContext::innermost().map(|t| t.span_id()), call_id);
            assert_eq!(ctx::span_id(), Some(ours), "ctx's own span is unchanged");
            // And the traceparent `ctx::propagation` writes for it.
            let mut headers = http::HeaderMap::new();
            Propagators::new().inject(
                &Propagated::new().with_trace(outbound.clone()),
                &mut headers,
            );
            let sent = headers["traceparent"].to_str().unwrap();
            assert_eq!(
                sent,
                ctx::propagation::TraceParent::from(&outbound).to_string()
            );
        });
    });

    // An opentelemetry span of another trace (a message's, say) made
    // current inside ctx's span: `ctx::http::inject` continues that trace.
    let other = TraceContext::new_root();
    run_in(&root, async move {
        let parent =
            opentelemetry::Context::new().with_remote_span_context(SpanContext::from(&other));
        let span = tracer().start_with_context("consume", &parent);
        let consume = span.span_context().clone();
        let _attached = parent.with_span(span).attach();
        let mut headers = http::HeaderMap::new();
        ctx::http::inject(&mut headers);
        let sent = ctx::propagation::extract(&headers).trace.unwrap();
        assert_eq!(sent.trace_id(), other.trace_id());
        assert_ne!(
            sent.span_id().to_bytes(),
            consume.span_id().to_bytes(),
            "a new span for the call"
        );
    });
}

#[test]
fn plain_tasks_see_no_opentelemetry_context_and_workers_are_restored() {
    let root = TraceContext::new_root();
    let rt = runtime();
    let work = root.clone().scope(ctx::otel::scope(async {
        assert!(opentelemetry::Context::current().has_active_span());
        // A plain spawn does not inherit.
        tokio::spawn(async { opentelemetry::Context::current().has_active_span() })
            .await
            .unwrap()
    }));
    assert!(!rt.block_on(async { tokio::spawn(work).await.unwrap() }));
    // Every worker is back to no span once the work is done.
    for _ in 0..8 {
        let seen = rt.block_on(async {
            tokio::spawn(async {
                tokio::task::yield_now().await;
                opentelemetry::Context::current().has_active_span()
            })
            .await
            .unwrap()
        });
        assert!(!seen);
    }
    assert!(!opentelemetry::Context::current().has_active_span());
}

#[test]
fn ctx_s_propagators_and_opentelemetry_s_read_each_other() {
    let theirs = TraceContextPropagator::new();
    let ours = TextMap::default();

    // ctx writes, opentelemetry reads.
    let mut span = TraceContext::new_root();
    span.state_mut().insert("vendor", "v1").unwrap();
    let cx = opentelemetry::Context::new().with_remote_span_context(SpanContext::from(&span));
    let mut carrier: HashMap<String, String> = HashMap::new();
    ours.inject_context(&cx, &mut carrier);
    let read = theirs.extract(&carrier);
    let read = TraceContext::try_from(read.span().span_context()).unwrap();
    // opentelemetry keeps the sampled flag alone (W3C Level 1): the random
    // flag of Level 2 is dropped on its side.
    let level_1 = span.clone().with_flags(TraceFlags::SAMPLED);
    assert_eq!(read, level_1);

    // opentelemetry writes, ctx reads.
    let mut carrier: HashMap<String, String> = HashMap::new();
    theirs.inject_context(&cx, &mut carrier);
    let read = ours.extract(&carrier);
    assert!(read.span().span_context().is_remote());
    assert_eq!(
        TraceContext::try_from(read.span().span_context()).unwrap(),
        level_1
    );

    // Baggage, both ways, against opentelemetry's baggage propagator.
    let mut carrier: HashMap<String, String> = HashMap::new();
    ctx::baggage::sync_scope("user", "alice smith", || {
        ours.inject_context(&opentelemetry::Context::new(), &mut carrier);
    });
    let read = BaggagePropagator::new().extract(&carrier);
    use opentelemetry::baggage::BaggageExt as _;
    assert_eq!(
        read.baggage().get("user").map(|v| v.as_str()),
        Some("alice smith")
    );
    let mut carrier: HashMap<String, String> = HashMap::new();
    BaggagePropagator::new().inject_context(&read, &mut carrier);
    let back = ours.extract(&carrier);
    assert_eq!(
        back.baggage().get("user").map(|v| v.as_str()),
        Some("alice smith")
    );

    // As opentelemetry's global propagator.
    opentelemetry::global::set_text_map_propagator(TextMap::default());
    let mut carrier: HashMap<String, String> = HashMap::new();
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&cx, &mut carrier));
    assert!(carrier["traceparent"].contains(&span.span_id().to_string()));
    assert!(carrier.contains_key("b3"), "every default format of ctx");
}

#[test]
fn one_request_exported_over_otlp_forms_one_tree() {
    // ctx's set-up (and the shared subscriber, which this test's threads
    // replace with their own below).
    telemetry();
    // The collector, and the gRPC channel to it, on a runtime of their own
    // that runs until the spans are read.
    let collector_rt = runtime();
    let mut collector = collector_rt
        .block_on(fake_opentelemetry_collector::FakeCollectorServer::start())
        .expect("the collector starts on 127.0.0.1");
    let provider = {
        let _entered = collector_rt.enter();
        otlp_example::tracer_provider(Some(&collector.endpoint())).unwrap()
    };
    // The example's pipeline: opentelemetry's global tracer and a `tracing`
    // subscriber with tracing-opentelemetry's layer, on every thread of the
    // server's runtime (the global subscriber is the other tests').
    opentelemetry::global::set_tracer_provider(provider.clone());
    let dispatch = tracing::Dispatch::new(
        tracing_subscriber::registry().with(otlp_example::otel_layer(&provider)),
    );
    let server_rt = {
        let dispatch = dispatch.clone();
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .on_thread_start(move || {
                // For the thread's life: the runtime's threads end with it.
                std::mem::forget(tracing::dispatcher::set_default(&dispatch));
            })
            .build()
            .unwrap()
    };
    let outcome = server_rt
        .block_on(otlp_example::serve_one_request())
        .expect("the request is served");
    drop(server_rt);
    provider.force_flush().expect("the spans are exported");
    provider.shutdown().unwrap();

    let exported = collector_rt.block_on(collector.exported_spans(4, Duration::from_secs(10)));
    let trace_id = outcome.trace_id.to_string();
    let ours: HashMap<&str, _> = exported
        .iter()
        .filter(|s| s.trace_id == trace_id)
        .map(|s| (s.name.as_str(), s))
        .collect();
    let names: Vec<&str> = exported.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(ours.len(), 4, "exported: {names:?}");
    // One tree: ctx's server span (exported, and the one the response
    // echoed), the handler's span under it, and the task's and the blocking
    // closure's under that.
    let server = ours["GET /checkout"];
    assert_eq!(server.span_id, outcome.server_span.to_string());
    let checkout = ours["checkout"];
    assert_eq!(checkout.parent_span_id, server.span_id);
    assert_eq!(ours["reserve_stock"].parent_span_id, checkout.span_id);
    assert_eq!(ours["charge_card"].parent_span_id, checkout.span_id);
    collector.abort();
}

#[test]
fn the_trace_context_in_a_seeded_context_is_what_with_trace_reads() {
    // `with_trace` on a context without a trace context changes nothing;
    // with one, work run in it sees that span as opentelemetry's current.
    let empty = Context::new();
    assert!(ctx::otel::with_trace(&empty).ptr_eq(&empty));
    let span = TraceContext::new_root();
    let cx = ctx::otel::with_trace(&Context::new().with(&TRACE_CONTEXT, span.clone()));
    let seen = cx.run(|| {
        opentelemetry::Context::current()
            .span()
            .span_context()
            .clone()
    });
    assert_eq!(
        TraceContext::try_from(&seen).unwrap().span_id(),
        span.span_id()
    );
}

#[test]
fn the_server_span_is_exported_as_a_server_span_with_ctx_s_ids() {
    use axum::routing::get;
    use ctx::http::ContextLayer;
    use opentelemetry::trace::{Status, Tracer as _};
    use tower::ServiceExt;

    telemetry();
    let app = axum::Router::new()
        .route(
            "/orders/{id}",
            get(|| async {
                // A span of the handler's, and one in a spawned task.
                tracer().in_span("handler work", |_| ());
                ctx::spawn(async { tracer().in_span("spawned work", |_| ()) })
                    .await
                    .unwrap();
                ctx::trace_id().unwrap().to_string()
            }),
        )
        .route(
            "/fail",
            get(|| async { (http::StatusCode::INTERNAL_SERVER_ERROR, "no") }),
        )
        .layer(ContextLayer::new().record_spans(ctx::otel::ServerSpans::with_tracer(tracer())));
    let caller = TraceContext::new_root();
    let traceparent = ctx::propagation::TraceParent::from(&caller).to_string();
    let (echoed, handler_trace) = runtime().block_on(async {
        let req = http::Request::get("/orders/7")
            .header("traceparent", &traceparent)
            .header("host", "shop.test:8080")
            .body(axum::body::Body::empty())
            .unwrap();
        let res = app.clone().oneshot(req).await.unwrap();
        let echoed = res.headers()["traceparent"].to_str().unwrap().to_string();
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        let req = http::Request::get("/fail")
            .header("traceparent", &traceparent)
            .body(axum::body::Body::empty())
            .unwrap();
        let failed = app.oneshot(req).await.unwrap();
        drop(axum::body::to_bytes(failed.into_body(), usize::MAX).await);
        (echoed, String::from_utf8(body.to_vec()).unwrap())
    });
    assert_eq!(handler_trace, caller.trace_id().to_string());

    let spans = spans_of(caller.trace_id());
    let server = &spans["GET /orders/{id}"];
    assert_eq!(server.span_kind, opentelemetry::trace::SpanKind::Server);
    // Its parent is the caller's span, and ctx's echo names it.
    assert_child(&spans, "GET /orders/{id}", caller.span_id());
    let server_id = id_of(&spans, "GET /orders/{id}");
    assert!(
        echoed.contains(&server_id.to_string()),
        "{echoed} vs {server_id}"
    );
    assert_child(&spans, "handler work", server_id);
    assert_child(&spans, "spawned work", server_id);
    let attribute = |span: &SpanData, key: &str| {
        span.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.to_string())
    };
    assert_eq!(
        attribute(server, "http.request.method").as_deref(),
        Some("GET")
    );
    assert_eq!(attribute(server, "url.path").as_deref(), Some("/orders/7"));
    assert_eq!(
        attribute(server, "http.route").as_deref(),
        Some("/orders/{id}")
    );
    assert_eq!(
        attribute(server, "server.address").as_deref(),
        Some("shop.test")
    );
    assert_eq!(
        attribute(server, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(server.status, Status::Unset);
    let fail = &spans["GET /fail"];
    assert_eq!(
        attribute(fail, "http.response.status_code").as_deref(),
        Some("500")
    );
    assert!(
        matches!(fail.status, Status::Error { .. }),
        "{:?}",
        fail.status
    );

    // An unsampled caller: nothing recorded, the echo keeps ctx's span.
    let unsampled = TraceContext::new_root().with_flags(ctx::trace::TraceFlags::NONE);
    let traceparent = ctx::propagation::TraceParent::from(&unsampled).to_string();
    let app = axum::Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(ContextLayer::new().record_spans(ctx::otel::ServerSpans::with_tracer(tracer())));
    runtime().block_on(async {
        let req = http::Request::get("/")
            .header("traceparent", &traceparent)
            .body(axum::body::Body::empty())
            .unwrap();
        let res = app.oneshot(req).await.unwrap();
        assert!(res.headers()["traceparent"]
            .to_str()
            .unwrap()
            .contains(&unsampled.trace_id().to_string()));
    });
    assert!(spans_of(unsampled.trace_id()).is_empty());
}
