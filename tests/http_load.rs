//! The access log's fields, and a load run: 2,000 requests, each with its
//! own trace id, through handlers that spawn, block and call out; no response
//! or log line may carry a foreign or missing id.
//!
//! One binary with a global subscriber that records the access-log events.
#![cfg(all(feature = "http", feature = "axum", feature = "tokio"))]

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use ctx::http::{ContextLayer, Trust, ACCESS_LOG_TARGET, CLIENT_LOG_TARGET};
use ctx::trace::{SpanId, TraceId};
use support::http::{client, echoed, get_with, lines, request, start_app};
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
        fields.insert("level".into(), event.metadata().level().to_string());
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

/// The access-log events of `trace`.
fn events_for(trace: &str) -> Vec<Event> {
    events_of(ACCESS_LOG_TARGET, trace)
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

/// The one access-log event of `trace` (fails on none or several).
fn the_event(trace: &str) -> Event {
    let mut events = events_for(trace);
    assert_eq!(events.len(), 1, "one access-log event: {events:?}");
    events.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_log_has_the_right_fields() {
    recorder();
    let addr = start_app(ContextLayer::new()).await;
    let trace = TraceId::random().to_string();
    let caller = SpanId::random().to_string();
    let tp = format!("00-{trace}-{caller}-01");
    let (res, _) = get_with(
        &client(),
        addr,
        "/fail",
        &[("traceparent", &tp), ("x-request-id", "req-7")],
    )
    .await;
    assert_eq!(res.status(), 500);
    let (_, server_span) = echoed(&res);

    let events = events_for(&trace);
    assert_eq!(events.len(), 1, "exactly one access-log event: {events:?}");
    let e = &events[0];
    assert_eq!(e["level"], "INFO");
    assert_eq!(e["method"], "GET");
    assert_eq!(e["route"], "/fail");
    assert_eq!(e["status"], "500");
    assert_eq!(e["span_id"], server_span);
    assert_eq!(e["parent_span_id"], caller);
    assert_eq!(e["request_id"], "req-7");
    assert_eq!(e["outcome"], "complete");
    assert!(e["latency_us"].parse::<u64>().is_ok());
    assert_eq!(e["message"], "request");

    // A streaming body is logged when it ends, with the route template.
    let trace = TraceId::random().to_string();
    let tp = format!("00-{trace}-{caller}-01");
    let (res, body) = get_with(&client(), addr, "/stream", &[("traceparent", &tp)]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(body.lines().count(), 3);
    let events = events_for(&trace);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["route"], "/stream");
    assert_eq!(events[0]["status"], "200");
    assert_eq!(events[0]["outcome"], "complete");
}

#[tokio::test(flavor = "current_thread")]
async fn an_untrusted_callers_trace_id_is_logged_as_inbound_trace_id() {
    use tower::ServiceExt;
    recorder();
    for (trust, logged) in [(Trust::Untrusted, true), (Trust::Inbound, false)] {
        let app = probe_app(ContextLayer::new().trust(trust));
        let (sent, req) = probe_request(http::Method::GET, "/", &[]);
        let res = app.oneshot(req).await.unwrap();
        let trace = body_text(res).await.split('|').nth(3).unwrap().to_string();
        let event = the_event(&trace);
        if logged {
            // A new trace, with the one sent kept for the log only.
            assert_ne!(trace, sent);
            assert_eq!(event["inbound_trace_id"], sent, "{event:?}");
        } else {
            assert_eq!(trace, sent);
            assert!(!event.contains_key("inbound_trace_id"), "{event:?}");
        }
    }
}

/// The fields the access-log docs list (`ContextLayer`, "Access log") are
/// the fields the event has, and the outcomes they list are the ones there
/// are: a field added to one and not the other fails here.
#[test]
fn the_documented_access_log_fields_are_the_events_fields() {
    use std::collections::BTreeSet;
    use tower::ServiceExt;

    let docs = include_str!("../src/http/server/layer.rs");
    let section = docs
        .split("/// # Access log\n")
        .nth(1)
        .and_then(|rest| rest.split("\n/// # ").next())
        .expect("an Access log section in ContextLayer's docs");
    // `/// - `name`: meaning` (a field), `///   - `name`: meaning` (an outcome).
    let listed = |prefix: &str| -> BTreeSet<String> {
        section
            .lines()
            .filter_map(|l| l.strip_prefix(prefix)?.strip_prefix('`')?.split_once("`:"))
            .map(|(name, _)| name.to_string())
            .collect()
    };

    // The fields the event's callsite declares, present or not.
    #[derive(Clone, Default)]
    struct Declared(Arc<Mutex<BTreeSet<String>>>);
    impl<S: tracing::Subscriber> Layer<S> for Declared {
        fn on_event(&self, event: &tracing::Event<'_>, _: LayerContext<'_, S>) {
            if event.metadata().target() == ACCESS_LOG_TARGET {
                let names = event
                    .metadata()
                    .fields()
                    .iter()
                    .map(|f| f.name().to_string());
                self.0.lock().unwrap().extend(names);
            }
        }
    }
    let declared = Declared::default();
    let subscriber = tracing_subscriber::registry().with(declared.clone());
    tracing::subscriber::with_default(subscriber, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let app = probe_app(ContextLayer::new());
            let res = app
                .oneshot(request(http::Method::GET, "/", &[]))
                .await
                .unwrap();
            body_text(res).await
        });
    });
    let mut declared = declared.0.lock().unwrap().clone();
    assert!(
        declared.remove("message"),
        "no access-log event: {declared:?}"
    );
    assert_eq!(listed("/// - "), declared);

    // `Outcome::Complete => "complete",`
    let outcomes: BTreeSet<String> = include_str!("../src/http/outcome.rs")
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Outcome::")?.split_once(" => \""))
        .map(|(_, value)| value.trim_end_matches("\",").to_string())
        .collect();
    assert_eq!(outcomes.len(), 6, "{outcomes:?}");
    assert_eq!(listed("///   - "), outcomes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_2000_requests_zero_foreign_or_missing_ids() {
    recorder();
    let addr = start_app(ContextLayer::new()).await;
    let client = client();
    const REQUESTS: usize = 2_000;
    const CONCURRENCY: usize = 64;

    let sem = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..REQUESTS {
        let permit = sem.clone().acquire_owned().await.unwrap();
        let client = client.clone();
        tasks.spawn(async move {
            let _permit = permit;
            let trace = TraceId::random().to_string();
            let tp = format!("00-{trace}-{}-01", SpanId::random());
            let (res, body) = get_with(&client, addr, "/hops", &[("traceparent", &tp)]).await;
            let mut bad = 0usize;
            if res.status() != 200 || echoed(&res).0 != trace {
                bad += 1;
            }
            for (hop, seen) in lines(&body) {
                let expected = match hop.as_str() {
                    "plain_spawn" | "baggage" | "downstream_parent" => continue,
                    "stream" => format!("{trace},{trace}"),
                    "downstream_received" => {
                        if seen.split('-').nth(1) != Some(trace.as_str()) {
                            bad += 1;
                        }
                        continue;
                    }
                    _ => trace.clone(),
                };
                if seen != expected {
                    bad += 1;
                }
            }
            (trace, bad)
        });
    }
    let mut traces = Vec::with_capacity(REQUESTS);
    let mut bad = 0;
    while let Some(r) = tasks.join_next().await {
        let (trace, b) = r.unwrap();
        traces.push(trace);
        bad += b;
    }
    assert_eq!(bad, 0, "responses with a foreign or missing id");

    // Every request was logged twice (the request and its downstream call),
    // each time with its own trace id; no line carries an id we did not send.
    let events = recorder().0.lock().unwrap().clone();
    let mut per_trace: HashMap<&str, usize> = HashMap::new();
    for e in events.iter().filter(|e| e["target"] == ACCESS_LOG_TARGET) {
        if e["route"] == "/hops" || e["route"] == "/downstream" {
            *per_trace.entry(e["trace_id"].as_str()).or_default() += 1;
        }
    }
    for t in &traces {
        assert_eq!(per_trace.remove(t.as_str()), Some(2), "log lines of {t}");
    }
    let foreign: Vec<_> = per_trace.keys().collect();
    // Other tests in this binary log their own traces on other routes only.
    assert!(
        foreign.is_empty(),
        "log lines with foreign ids: {foreign:?}"
    );
}

static TENANT: ctx::Key<&'static str> = ctx::Key::new("tenant");

/// A router whose `/` answers `request id|baggage user|tenant` as the
/// handler sees them, plus a handler that never answers and one whose body
/// a server drops unread, all behind `layer`.
fn probe_app(layer: ContextLayer) -> axum::Router {
    use axum::routing::get;
    use ctx::propagation::RequestId;
    axum::Router::new()
        .route(
            "/",
            get(|| async {
                let id = RequestId::current();
                let trace = ctx::trace::TraceContext::current().unwrap();
                format!(
                    "{}|{}|{}|{}|{}",
                    id.as_ref().map_or("-", RequestId::as_str),
                    ctx::baggage::get("user").as_deref().unwrap_or("-"),
                    TENANT.get().unwrap_or("-"),
                    trace.trace_id(),
                    trace.parent_span_id().map_or("-".into(), |s| s.to_string()),
                )
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                "late"
            }),
        )
        .route(
            "/no-content",
            get(|| async { (http::StatusCode::NO_CONTENT, "unsent") }),
        )
        .layer(layer)
}

/// A request to `path` with `method`, a new trace id and `headers`; the
/// trace id is returned with it.
fn probe_request(
    method: http::Method,
    path: &str,
    headers: &[(&str, &str)],
) -> (String, http::Request<axum::body::Body>) {
    let trace = TraceId::random().to_string();
    let traceparent = format!("00-{trace}-{}-01", SpanId::random());
    let mut all = vec![("traceparent", traceparent.as_str())];
    all.extend_from_slice(headers);
    (trace, request(method, path, &all))
}

async fn body_text(res: http::Response<axum::body::Body>) -> String {
    use http_body_util::BodyExt;
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_response_future_dropped_before_the_answer_is_logged_as_cancelled() {
    use tower::ServiceExt;
    recorder();
    let (trace, req) = probe_request(http::Method::GET, "/slow", &[]);
    let call = probe_app(ContextLayer::new()).oneshot(req);
    let timed_out = tokio::time::timeout(std::time::Duration::from_millis(50), call).await;
    assert!(timed_out.is_err(), "the handler never answers");

    let event = the_event(&trace);
    assert_eq!(event["outcome"], "cancelled");
    assert_eq!(event["route"], "/slow");
    assert!(!event.contains_key("status"), "{event:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_panic_in_the_handler_or_the_body_is_logged_as_panicked() {
    use axum::routing::get;
    use futures::FutureExt as _;
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    recorder();
    let app = axum::Router::new()
        .route(
            "/panic",
            get(|| async {
                if TENANT.get().is_none() {
                    panic!("handler panics (the test expects it)");
                }
                "unreachable"
            }),
        )
        .route(
            "/panic-body",
            get(|| async {
                let chunks = futures::StreamExt::map(futures::stream::iter([0, 1]), |i| {
                    assert_eq!(i, 0, "the body panics (the test expects it)");
                    Ok::<_, std::convert::Infallible>("chunk")
                });
                axum::body::Body::from_stream(chunks)
            }),
        )
        // tower-http's CatchPanicLayer outside: it answers the 500 itself.
        .layer(
            tower::ServiceBuilder::new()
                .layer(tower_http::catch_panic::CatchPanicLayer::new())
                .layer(ContextLayer::new()),
        );

    let (trace, req) = probe_request(http::Method::GET, "/panic", &[]);
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), 500);
    let event = the_event(&trace);
    assert_eq!(event["outcome"], "panicked");
    assert!(!event.contains_key("status"), "{event:?}");

    // A layer inside ctx's whose `call` panics: no response future is
    // made, and the request is still logged.
    let boom = tower::ServiceBuilder::new()
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        .layer(ContextLayer::new())
        .map_request(|req: http::Request<axum::body::Body>| {
            assert!(req.uri().path() != "/", "call panics (the test expects it)");
            req
        })
        .service(app.clone());
    let (trace, req) = probe_request(http::Method::GET, "/", &[]);
    let res = boom.oneshot(req).await.unwrap();
    assert_eq!(res.status(), 500);
    let event = the_event(&trace);
    assert_eq!(event["outcome"], "panicked");

    let (trace, req) = probe_request(http::Method::GET, "/panic-body", &[]);
    let res = app.oneshot(req).await.unwrap();
    assert_eq!(res.status(), 200);
    let read = std::panic::AssertUnwindSafe(res.into_body().collect());
    assert!(read.catch_unwind().await.is_err(), "the body panicked");
    let event = the_event(&trace);
    assert_eq!(event["outcome"], "panicked");
    assert_eq!(event["status"], "200");
}

#[test]
fn a_request_served_while_the_thread_unwinds_is_not_logged_as_panicked() {
    use tower::ServiceExt;
    recorder();
    // A request served inside a destructor that runs during a panic: its
    // polls return normally, so its response, cut short by a timeout, is
    // `cancelled`, not `panicked`, though the thread is unwinding.
    struct ServeOnDrop(Arc<Mutex<Option<String>>>);
    impl Drop for ServeOnDrop {
        fn drop(&mut self) {
            let (trace, req) = probe_request(http::Method::GET, "/slow", &[]);
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap();
            let call = probe_app(ContextLayer::new()).oneshot(req);
            let wait = std::time::Duration::from_millis(20);
            let timed_out = rt.block_on(async { tokio::time::timeout(wait, call).await });
            if timed_out.is_err() {
                *self.0.lock().unwrap() = Some(trace);
            }
        }
    }
    let served = Arc::new(Mutex::new(None));
    let on_drop = ServeOnDrop(served.clone());
    let unwound = std::panic::catch_unwind(move || {
        let _serve = on_drop;
        panic!("unwinding on purpose (the test expects it)");
    });
    assert!(unwound.is_err());
    let trace = served.lock().unwrap().clone();
    let trace = trace.expect("the request timed out during the unwind");
    let event = the_event(&trace);
    assert_eq!(event["outcome"], "cancelled");
}

#[test]
fn a_server_driven_inside_a_traced_scope_gives_each_request_its_own_trace() {
    // `cx.run(|| rt.block_on(..))` polls the server's plain connection tasks
    // under `cx`: its trace is not theirs to continue, or every request
    // would share it (and, with no request id sent, one request id).
    let outer = ctx::trace::TraceContext::new_root();
    let cx = ctx::Context::new().with(&ctx::trace::TRACE_CONTEXT, outer.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let seen = cx.run(|| {
        rt.block_on(async {
            // No access log: the load test reads every line of this binary.
            let addr = start_app(ContextLayer::new().access_log(None)).await;
            let client = client();
            let mut seen = Vec::new();
            for _ in 0..2 {
                let (res, body) = get_with(&client, addr, "/downstream", &[]).await;
                let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
                seen.push((lines(&body)[1].1.clone(), id));
            }
            seen
        })
    });
    let outer_trace = outer.trace_id().to_string();
    assert_ne!(seen[0].0, seen[1].0, "{seen:?}");
    assert_ne!(seen[0].1, seen[1].1, "{seen:?}");
    assert!(
        seen.iter().all(|(trace, _)| *trace != outer_trace),
        "{seen:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn responses_without_a_body_on_the_wire_are_logged_complete() {
    use tower::ServiceExt;
    recorder();
    // axum answers HEAD with the GET route and drops its body; a server drops
    // a 204's body unread. Both responses are complete when they are sent.
    for (method, path, status) in [
        (http::Method::HEAD, "/", 200),
        (http::Method::GET, "/no-content", 204),
    ] {
        let (trace, req) = probe_request(method.clone(), path, &[]);
        let res = probe_app(ContextLayer::new()).oneshot(req).await.unwrap();
        assert_eq!(res.status(), status);
        drop(res);
        let events = events_for(&trace);
        assert_eq!(events.len(), 1, "{method} {path}: {events:?}");
        assert_eq!(events[0]["outcome"], "complete", "{method} {path}");
        assert_eq!(events[0]["status"], status.to_string());
    }
    // A body dropped before its end still says so.
    let (trace, req) = probe_request(http::Method::GET, "/", &[]);
    drop(probe_app(ContextLayer::new()).oneshot(req).await.unwrap());
    assert_eq!(events_for(&trace)[0]["outcome"], "dropped");
}

#[tokio::test(flavor = "current_thread")]
async fn the_request_id_is_the_same_in_the_context_the_log_and_the_response() {
    use tower::ServiceExt;
    recorder();
    // (inbound header, the id expected everywhere; `None`: the trace id)
    for (inbound, expected) in [
        (None, None),
        (Some("req-1"), Some("req-1")),
        // Padding is trimmed, also in the echo.
        (Some(" req-2\t"), Some("req-2")),
        // Invalid: the trace id stands in.
        (Some("two words"), None),
    ] {
        let headers: Vec<(&str, &str)> = inbound.iter().map(|v| ("x-request-id", *v)).collect();
        let (trace, req) = probe_request(http::Method::GET, "/", &headers);
        let expected = expected.unwrap_or(&trace);
        let res = probe_app(ContextLayer::new()).oneshot(req).await.unwrap();
        assert_eq!(res.headers()["x-request-id"], expected, "{inbound:?}");
        let body = body_text(res).await;
        assert_eq!(body.split('|').next(), Some(expected), "{inbound:?}");
        let events = events_for(&trace);
        assert_eq!(events[0]["request_id"], expected, "{inbound:?}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_request_inherits_no_request_scoped_value_of_its_caller() {
    use ctx::propagation::{RequestId, REQUEST_ID};
    use ctx::trace::TraceContext;
    use tower::ServiceExt;
    recorder();
    // An in-process call made inside another request's context: the tenant
    // (an application value) is inherited, the caller's baggage and request
    // id are not, whatever the trust policy. The request sends a
    // `traceparent`: a trusted one is continued, an untrusted one is not,
    // and then the caller's own trace is.
    for (layer, trusted) in [
        (ContextLayer::new(), true),
        (
            ContextLayer::new().trust(ctx::http::Trust::Untrusted),
            false,
        ),
    ] {
        let app = probe_app(layer);
        let (sent_trace, req) = probe_request(http::Method::GET, "/", &[]);
        let sent = req.headers()["traceparent"].to_str().unwrap();
        let sent_span = sent.split('-').nth(2).unwrap().to_string();
        let caller = TraceContext::new_root();
        // Every value in the caller's context, checked there first: a
        // value missing from it would make the checks below pass for
        // nothing.
        let call = async {
            assert_eq!(RequestId::current().unwrap().as_str(), "outer-req");
            assert_eq!(ctx::baggage::get("user").as_deref(), Some("alice"));
            assert_eq!(TENANT.get(), Some("acme"));
            app.oneshot(req).await
        };
        let caller_cx = ctx::Context::new()
            .with(&REQUEST_ID, RequestId::new("outer-req").unwrap())
            .with(&TENANT, "acme")
            .with(&ctx::trace::TRACE_CONTEXT, caller.clone());
        // The baggage scope is opened inside the caller's (a scope takes the
        // context when it is made).
        let call = async { ctx::baggage::scope("user", "alice", call).await };
        let call = ctx::FutureExt::in_context(call, caller_cx);
        let body = body_text(call.await.unwrap()).await;
        let fields: Vec<&str> = body.split('|').collect();
        let [id, user, tenant, trace, parent] = fields[..] else {
            panic!("{body}")
        };
        assert_ne!(id, "outer-req");
        assert_eq!((user, tenant), ("-", "acme"));
        let expected = if trusted {
            sent_trace.clone()
        } else {
            caller.trace_id().to_string()
        };
        assert_eq!(trace, expected);
        let expected_parent = if trusted {
            sent_span
        } else {
            caller.span_id().to_string()
        };
        assert_eq!(parent, expected_parent);
        // No request id came in: the server's trace id stands in.
        assert_eq!(id, trace);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn with_no_trace_sent_a_request_continues_the_trace_it_is_called_in() {
    use ctx::trace::TraceContext;
    use tower::ServiceExt;
    recorder();
    // An in-process call with no headers, and a second layer inside the
    // first: the server span is a child of the surrounding one, so the
    // handler, the response and both access-log lines name one trace.
    let caller = TraceContext::new_root();
    let req = request(http::Method::GET, "/", &[]);
    let res = caller
        .clone()
        .scope(probe_app(ContextLayer::new()).oneshot(req))
        .await
        .unwrap();
    let body = body_text(res).await;
    let fields: Vec<&str> = body.split('|').collect();
    assert_eq!(fields[3], caller.trace_id().to_string(), "{body}");
    assert_eq!(fields[4], caller.span_id().to_string(), "{body}");

    let nested = probe_app(ContextLayer::new()).layer(ContextLayer::new());
    let res = nested
        .oneshot(request(http::Method::GET, "/", &[]))
        .await
        .unwrap();
    let echoed = res.headers()["traceparent"].to_str().unwrap().to_string();
    let outer_span = echoed.split('-').nth(2).unwrap().to_string();
    let body = body_text(res).await;
    let fields: Vec<&str> = body.split('|').collect();
    let trace = fields[3].to_string();
    assert!(echoed.contains(&trace), "{echoed} vs {body}");
    assert_eq!(
        fields[4], outer_span,
        "the inner span's parent is the outer one"
    );
    // Two access-log lines: the outer server span (a new root) and the
    // inner one, its child.
    let events = events_for(&trace);
    assert_eq!(events.len(), 2, "{events:?}");
    let outer = events.iter().find(|e| e["span_id"] == outer_span);
    let outer = outer.unwrap_or_else(|| panic!("no outer line: {events:?}"));
    assert!(!outer.contains_key("parent_span_id"), "{events:?}");
    let inner = events.iter().find(|e| e["span_id"] != outer_span).unwrap();
    assert_eq!(inner["parent_span_id"], outer_span, "{events:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn the_outbound_call_line_stitches_the_access_logs_of_two_services() {
    use axum::routing::get;
    use ctx::http::PropagateLayer;
    use tower::{Layer as _, ServiceExt};
    recorder();
    // Service A calls service B (in process) through a client that logs
    // each call.
    let app_a = axum::Router::new()
        .route(
            "/",
            get(|| async {
                let b = PropagateLayer::new()
                    .log_requests(tracing::Level::INFO)
                    .layer(probe_app(ContextLayer::new()));
                let res = b
                    .oneshot(request(http::Method::GET, "/", &[]))
                    .await
                    .unwrap();
                body_text(res).await
            }),
        )
        .layer(ContextLayer::new());
    let (trace, req) = probe_request(http::Method::GET, "/", &[]);
    let res = app_a.oneshot(req).await.unwrap();
    let b_saw = body_text(res).await;

    let calls = events_of(CLIENT_LOG_TARGET, &trace);
    assert_eq!(calls.len(), 1, "one line per outbound call: {calls:?}");
    let call = &calls[0];
    assert_eq!(
        (call["method"].as_str(), call["uri"].as_str()),
        ("GET", "/")
    );
    // Two access lines in the trace: A's server span is the call's parent,
    // and B's server span is a child of the call.
    let lines = events_for(&trace);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let a = lines
        .iter()
        .find(|e| e["span_id"] == call["parent_span_id"]);
    let a = a.unwrap_or_else(|| panic!("no access line is the call's parent: {lines:?}"));
    let b = lines.iter().find(|e| e["span_id"] != a["span_id"]).unwrap();
    assert_ne!(call["span_id"], a["span_id"]);
    assert_eq!(b["parent_span_id"], call["span_id"], "{b:?} {call:?}");
    assert!(b_saw.contains(&trace), "{b_saw}");
    // Without the option, no line.
    let quiet = PropagateLayer::new().layer(probe_app(ContextLayer::new()));
    let (trace, req) = probe_request(http::Method::GET, "/", &[]);
    let caller = ctx::propagation::extract(req.headers()).trace.unwrap();
    caller
        .scope(quiet.oneshot(request(http::Method::GET, "/", &[])))
        .await
        .unwrap();
    assert!(events_of(CLIENT_LOG_TARGET, &trace).is_empty());
    assert_eq!(events_for(&trace).len(), 1);
}

#[test]
fn the_outbound_call_line_logs_no_credentials_or_query() {
    recorder();
    let trace = ctx::trace::TraceContext::new_root();
    let uri: http::Uri = "https://user:secret@payments.internal/charge?card_token=tok_123"
        .parse()
        .unwrap();
    trace.clone().sync_scope(|| {
        let mut headers = http::HeaderMap::new();
        ctx::http::inject_logged(
            &mut headers,
            tracing::Level::INFO,
            &http::Method::POST,
            &uri,
        );
    });
    let calls = events_of(CLIENT_LOG_TARGET, &trace.trace_id().to_string());
    assert_eq!(calls.len(), 1, "{calls:?}");
    // The access log names a request by its route or path, never its query;
    // the outbound line writes the whole URI, password and query included.
    let logged = &calls[0]["uri"];
    assert!(
        !logged.contains("secret") && !logged.contains("tok_123"),
        "{logged}"
    );
}
