//! `ContextLayer::record_spans`: a recorder is called once when a request's
//! context is made (with the server span, and its returned context is the
//! one the handler runs in) and its span ended once, where the access log
//! is written, with the status and outcome; also with no subscriber.

use std::sync::{Arc, Mutex};

use axum::routing::get;
use ctx::http::record::{RecordedSpan, RequestEnd, RequestStart, SpanRecorder};
use ctx::http::ContextLayer;
use ctx::trace::SpanId;
use ctx::{Context, Key};
use tower::ServiceExt;

static MARK: Key<&'static str> = Key::new("recorder mark");

#[derive(Debug, Clone, PartialEq)]
struct Started {
    method: String,
    path: String,
    route: Option<String>,
    span_id: SpanId,
    parent: Option<SpanId>,
    remote_parent: bool,
    host: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
struct Ended {
    span_id: SpanId,
    status: Option<u16>,
    outcome: &'static str,
    route: String,
    error: bool,
    /// The recorder's mark, read in the context the end runs in.
    mark: Option<&'static str>,
}

#[derive(Default, Clone)]
struct Record {
    started: Arc<Mutex<Vec<Started>>>,
    ended: Arc<Mutex<Vec<Ended>>>,
}

struct Span {
    id: SpanId,
    ended: Arc<Mutex<Vec<Ended>>>,
}

impl RecordedSpan for Span {
    fn end(self: Box<Self>, end: &RequestEnd<'_>) {
        self.ended.lock().unwrap().push(Ended {
            span_id: self.id,
            status: end.status().map(|s| s.as_u16()),
            outcome: end.outcome(),
            route: end.route().to_string(),
            error: end.is_error(),
            mark: MARK.get(),
        });
    }
}

impl SpanRecorder for Record {
    fn start(
        &self,
        start: &RequestStart<'_>,
        cx: Context,
    ) -> (Context, Option<Box<dyn RecordedSpan>>) {
        self.started.lock().unwrap().push(Started {
            method: start.method().to_string(),
            path: start.uri().path().to_string(),
            route: start.route().map(str::to_string),
            span_id: start.span().span_id(),
            parent: start.span().parent_span_id(),
            remote_parent: start.remote_parent(),
            host: start
                .headers()
                .get("host")
                .map(|h| h.to_str().unwrap().to_string()),
        });
        let span = Span {
            id: start.span().span_id(),
            ended: self.ended.clone(),
        };
        (cx.with(&MARK, "recorded"), Some(Box::new(span)))
    }
}

fn app(record: &Record) -> axum::Router {
    axum::Router::new()
        .route("/users/{id}", get(|| async { MARK.get().unwrap_or("-") }))
        .route(
            "/fail",
            get(|| async { (http::StatusCode::INTERNAL_SERVER_ERROR, "no") }),
        )
        .route(
            "/slow",
            get(|| async {
                std::future::pending::<()>().await;
                "late"
            }),
        )
        .route(
            "/panic",
            get(|| async {
                if MARK.get().is_some() {
                    panic!("handler panics");
                }
                "unreachable"
            }),
        )
        .layer(ContextLayer::new().record_spans(record.clone()))
}

fn request(path: &str, headers: &[(&str, &str)]) -> http::Request<axum::body::Body> {
    let mut req = http::Request::get(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.body(axum::body::Body::empty()).unwrap()
}

async fn text(res: http::Response<axum::body::Body>) -> String {
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn a_request_is_started_and_ended_once_in_its_context() {
    let record = Record::default();
    let caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let res = app(&record)
        .oneshot(request(
            "/users/7",
            &[("traceparent", caller), ("host", "api.test")],
        ))
        .await
        .unwrap();
    let echoed = res.headers()["traceparent"].to_str().unwrap().to_string();
    // The handler ran in the context the recorder returned.
    assert_eq!(text(res).await, "recorded");

    let started = record.started.lock().unwrap().clone();
    assert_eq!(started.len(), 1, "{started:?}");
    let s = &started[0];
    assert_eq!((s.method.as_str(), s.path.as_str()), ("GET", "/users/7"));
    assert_eq!(s.route.as_deref(), Some("/users/{id}"));
    assert_eq!(s.parent, Some("00f067aa0ba902b7".parse().unwrap()));
    assert!(s.remote_parent);
    assert_eq!(s.host.as_deref(), Some("api.test"));
    assert!(echoed.contains(&s.span_id.to_string()), "{echoed}");

    // No subscriber is installed: no access-log event, the span ends all
    // the same, inside the request's context.
    let ended = record.ended.lock().unwrap().clone();
    assert_eq!(
        ended,
        [Ended {
            span_id: s.span_id,
            status: Some(200),
            outcome: "complete",
            route: "/users/{id}".into(),
            error: false,
            mark: Some("recorded"),
        }]
    );
}

#[tokio::test]
async fn errors_cancellations_and_panics_end_the_span_as_such() {
    let record = Record::default();
    // A request with no caller's span: a new trace, no remote parent.
    let res = app(&record).oneshot(request("/fail", &[])).await.unwrap();
    assert_eq!(res.status(), 500);
    drop(text(res).await);
    // A response future dropped before the answer.
    let slow = app(&record).oneshot(request("/slow", &[]));
    let _ = tokio::time::timeout(std::time::Duration::from_millis(20), slow).await;
    // A panic, turned into a 500 by a layer further out.
    let caught = app(&record).layer(tower_http::catch_panic::CatchPanicLayer::new());
    let res = caught.oneshot(request("/panic", &[])).await.unwrap();
    assert_eq!(res.status(), 500);

    let started = record.started.lock().unwrap().clone();
    assert_eq!(started.len(), 3);
    assert!(started
        .iter()
        .all(|s| !s.remote_parent && s.parent.is_none()));
    let ended = record.ended.lock().unwrap().clone();
    let summary: Vec<(Option<u16>, &str, bool)> = ended
        .iter()
        .map(|e| (e.status, e.outcome, e.error))
        .collect();
    assert_eq!(
        summary,
        [
            (Some(500), "complete", true),
            (None, "cancelled", false),
            (None, "panicked", true),
        ]
    );
    for (s, e) in started.iter().zip(&ended) {
        assert_eq!(s.span_id, e.span_id);
    }
}

/// A service whose `call` itself panics (before it returns a future).
#[derive(Clone)]
struct PanicsInCall;

impl tower::Service<http::Request<axum::body::Body>> for PanicsInCall {
    type Response = http::Response<axum::body::Body>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<axum::body::Body>) -> Self::Future {
        panic!("call panics");
    }
}

#[test]
fn a_panic_in_call_ends_the_span_inside_the_requests_context() {
    use tower::Layer;
    let record = Record::default();
    let mut svc = ContextLayer::new()
        .record_spans(record.clone())
        .layer(PanicsInCall);
    let called = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        tower::Service::call(&mut svc, request("/users/7", &[]))
    }));
    assert!(called.is_err());
    let ended = record.ended.lock().unwrap().clone();
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(ended[0].outcome, "panicked");
    // The module docs: the span is ended "inside the request's context",
    // as on every other outcome (see the tests above).
    assert_eq!(ended[0].mark, Some("recorded"), "{ended:?}");
}

#[tokio::test]
async fn a_request_starts_debug_output_shows_no_credentials() {
    /// A recorder that logs what it is given, the way one debugs a recorder.
    struct Debugs(Arc<Mutex<String>>);
    impl SpanRecorder for Debugs {
        fn start(
            &self,
            start: &RequestStart<'_>,
            cx: Context,
        ) -> (Context, Option<Box<dyn RecordedSpan>>) {
            *self.0.lock().unwrap() = format!("{start:?}");
            (cx, None)
        }
    }
    let shown = Arc::new(Mutex::new(String::new()));
    let app = axum::Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(ContextLayer::new().record_spans(Debugs(shown.clone())));
    let res = app
        .oneshot(request(
            "/",
            &[
                ("authorization", "Bearer s3cr3t"),
                ("cookie", "session=abc"),
            ],
        ))
        .await
        .unwrap();
    drop(text(res).await);
    let shown = shown.lock().unwrap().clone();
    assert!(!shown.is_empty());
    assert!(
        !shown.contains("s3cr3t") && !shown.contains("session=abc"),
        "{shown}"
    );
}
