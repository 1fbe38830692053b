//! `ctx::logs` end to end: the lines fmt writes with `with_ids`, in text
//! (ANSI off and on) and JSON, next to the lines the same fmt settings
//! write without it.
//!
//! One process-wide subscriber (a registry, as a service has) holds several
//! fmt layers side by side, each writing to its own buffer: every format
//! with ctx's ids and extras, and the same format without ctx, all with one
//! fixed clock so that lines compare byte for byte. Each test logs lines of
//! its own (a marker in the message, its own trace id) and reads them back.
#![cfg(all(
    feature = "http",
    feature = "axum",
    feature = "tokio",
    feature = "tracing-subscriber"
))]
#![allow(clippy::disallowed_methods)] // plain spawns on purpose: contextless baselines, wrapped work on plain threads, servers

mod support;

use std::io;
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use ctx::http::{ContextLayer, ACCESS_LOG_TARGET};
use ctx::logs::{Layout, WithIds};
use ctx::propagation::{RequestId, REQUEST_ID};
use ctx::trace::TraceContext;
use ctx::{Context, Key};
use serde_json::{Map, Value};
use support::http::{client, echoed, get_with, listen};
use tracing::info;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::{Format, Writer};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

static TENANT: Key<String> = Key::new("tenant");
static OTHER: Key<u32> = Key::new("other");

const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// What one fmt layer wrote, in memory.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Sink {
    /// The lines holding every one of `needles`.
    fn lines_with(&self, needles: &[&str]) -> Vec<String> {
        let bytes = self.0.lock().unwrap().clone();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .filter(|l| needles.iter().all(|n| l.contains(n)))
            .map(str::to_string)
            .collect()
    }

    /// The one line holding every one of `needles`.
    fn line(&self, needles: &[&str]) -> String {
        let mut lines = self.lines_with(needles);
        assert_eq!(lines.len(), 1, "one line with {needles:?}: {lines:#?}");
        lines.pop().unwrap()
    }
}

/// The layers' buffers: `*_plain` are the same fmt settings without ctx.
struct Logs {
    text: Sink,
    text_plain: Sink,
    ansi: Sink,
    ansi_plain: Sink,
    json: Sink,
    json_plain: Sink,
    /// JSON with `flatten_event(true)`: the event's fields at the top level.
    flat: Sink,
    /// Compact text with the user's settings: no time, thread ids, no
    /// target, and an `EnvFilter` that drops the target `noisy`.
    settings: Sink,
}

/// A clock that always says the same, so that two layers' lines compare.
fn fixed_time(w: &mut Writer<'_>) -> std::fmt::Result {
    w.write_str("2025-06-02T10:00:00.000000Z")
}

const TIME: fn(&mut Writer<'_>) -> std::fmt::Result = fixed_time;

/// ctx's ids plus the extras the tests use.
fn with_extras<F: Layout, T: Clone>(format: Format<F, T>) -> WithIds<F, T> {
    ctx::logs::with_ids(format)
        .with_key(&TENANT)
        .with_baggage(["region"])
}

/// The process-wide subscriber, installed once.
fn logs() -> &'static Logs {
    static LOGS: OnceLock<Logs> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Logs {
            text: Sink::default(),
            text_plain: Sink::default(),
            ansi: Sink::default(),
            ansi_plain: Sink::default(),
            json: Sink::default(),
            json_plain: Sink::default(),
            flat: Sink::default(),
            settings: Sink::default(),
        };
        let to = |sink: &Sink| {
            let sink = sink.clone();
            move || sink.clone()
        };
        let subscriber = tracing_subscriber::registry()
            .with(LevelFilter::INFO)
            .with(
                fmt::layer()
                    .with_ansi(false)
                    .with_timer(TIME)
                    .with_writer(to(&logs.text))
                    .map_event_format(with_extras),
            )
            .with(
                fmt::layer()
                    .with_ansi(false)
                    .with_timer(TIME)
                    .with_writer(to(&logs.text_plain)),
            )
            .with(
                fmt::layer()
                    .with_ansi(true)
                    .with_timer(TIME)
                    .with_writer(to(&logs.ansi))
                    .map_event_format(with_extras),
            )
            .with(
                fmt::layer()
                    .with_ansi(true)
                    .with_timer(TIME)
                    .with_writer(to(&logs.ansi_plain)),
            )
            .with(
                fmt::layer()
                    .json()
                    .with_timer(TIME)
                    .with_writer(to(&logs.json))
                    .map_event_format(with_extras),
            )
            .with(
                fmt::layer()
                    .json()
                    .with_timer(TIME)
                    .with_writer(to(&logs.json_plain)),
            )
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_timer(TIME)
                    .with_writer(to(&logs.flat))
                    .map_event_format(with_extras),
            )
            .with(
                fmt::layer()
                    .compact()
                    .without_time()
                    .with_thread_ids(true)
                    .with_target(false)
                    .with_ansi(false)
                    .with_writer(to(&logs.settings))
                    .map_event_format(ctx::logs::with_ids)
                    .with_filter(EnvFilter::new("info,noisy=off")),
            );
        tracing::subscriber::set_global_default(subscriber).unwrap();
        tracing_log::LogTracer::init().unwrap();
        logs
    })
}

/// `fields` as fmt's default field formatter writes them, each after a
/// space: `name=value`, or with ANSI the name in italics and `=` dimmed.
fn text_fields(fields: &[(&str, &str)], ansi: bool) -> String {
    fields
        .iter()
        .map(|(name, value)| {
            if ansi {
                format!(" \x1b[3m{name}\x1b[0m\x1b[2m=\x1b[0m{value}")
            } else {
                format!(" {name}={value}")
            }
        })
        .collect()
}

fn parse(line: &str) -> Map<String, Value> {
    match serde_json::from_str(line) {
        Ok(Value::Object(map)) => map,
        other => panic!("not a JSON object: {line} ({other:?})"),
    }
}

/// Asserts that ctx's JSON object is the plain one with `fields` added as
/// its first keys.
fn assert_json_adds(ours: &str, plain: &str, fields: &[(&str, &str)]) {
    let first: Vec<String> = fields
        .iter()
        .map(|(name, value)| format!("{}:{},", Value::from(*name), Value::from(*value)))
        .collect();
    assert!(
        ours.starts_with(&format!("{{{}", first.concat())),
        "the first keys of {ours}"
    );
    let mut object = parse(ours);
    for (name, value) in fields {
        assert_eq!(object.remove(*name), Some(Value::from(*value)), "{ours}");
    }
    assert_eq!(object, parse(plain), "the rest of {ours}");
}

/// How many times ` name=` starts a field in a text line.
fn count_field(line: &str, name: &str) -> usize {
    line.matches(&format!(" {name}=")).count()
}

async fn set_tenant(req: Request, next: Next) -> Response {
    if let Some(tenant) = req.headers().get("x-tenant") {
        TENANT.set(tenant.to_str().unwrap().to_string());
    }
    next.run(req).await
}

/// Logs from the handler and from every hop ctx carries the context to,
/// and from a plain tokio task, which it does not.
async fn hops() -> &'static str {
    info!("hops: handler");
    info!(target: "noisy", "hops: noisy target");
    ctx::spawn(async { info!("hops: spawned task") })
        .await
        .unwrap();
    ctx::spawn_blocking(|| info!("hops: blocking closure"))
        .await
        .unwrap();
    ctx::thread::spawn(|| info!("hops: ctx thread"))
        .join()
        .unwrap();
    let job = ctx::wrap(|| info!("hops: wrapped closure"));
    std::thread::spawn(job).join().unwrap();
    log::info!("hops: log record");
    tokio::spawn(async { info!("hops: plain tokio task") })
        .await
        .unwrap();
    "ok"
}

const CARRIED: [&str; 6] = [
    "hops: handler",
    "hops: spawned task",
    "hops: blocking closure",
    "hops: ctx thread",
    "hops: wrapped closure",
    "hops: log record",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hop_of_a_request_logs_its_ids_in_text_and_json() {
    let logs = logs();
    let (listener, addr) = listen().await;
    let app = Router::new()
        .route("/hops", get(hops))
        .layer(axum::middleware::from_fn(set_tenant))
        .layer(ContextLayer::new());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let trace = "7a3ce929d0e0e47364bf92f3577b34da";
    let traceparent = format!("00-{trace}-{CALLER_SPAN}-01");
    let (res, body) = get_with(
        &client(),
        addr,
        "/hops",
        &[
            ("traceparent", &traceparent),
            ("baggage", "region=eu-west,user=alice"),
            ("x-request-id", "req-42"),
            ("x-tenant", "acme"),
        ],
    )
    .await;
    assert_eq!((res.status().as_u16(), body.as_str()), (200, "ok"));
    let (echoed_trace, span) = echoed(&res);
    assert_eq!(echoed_trace, trace);
    assert_ne!(span, CALLER_SPAN, "the server span has its own id");

    // The request's ids (the server span's), then the extras; the member
    // `user` is not on the allowlist.
    let added = [
        ("trace_id", trace),
        ("span_id", span.as_str()),
        ("request_id", "req-42"),
        ("tenant", "acme"),
        ("baggage.region", "eu-west"),
    ];
    for hop in CARRIED {
        let plain = logs.text_plain.line(&[hop]);
        assert_eq!(
            logs.text.line(&[hop]),
            format!("{plain}{}", text_fields(&added, false)),
            "text, {hop}"
        );
        let plain = logs.ansi_plain.line(&[hop]);
        assert_eq!(
            logs.ansi.line(&[hop]),
            format!("{plain}{}", text_fields(&added, true)),
            "ANSI, {hop}"
        );
        assert_json_adds(
            &logs.json.line(&[hop]),
            &logs.json_plain.line(&[hop]),
            &added,
        );
        assert!(!logs.text.line(&[hop]).contains("alice"));

        // The user's settings are kept: compact, no time, the thread id,
        // no target.
        let line = logs.settings.line(&[hop]);
        assert!(line.starts_with(" INFO ThreadId("), "{line}");
        assert!(!line.contains("2025-") && !line.contains("logs:"), "{line}");
        assert!(
            line.ends_with(&format!(
                "{hop} trace_id={trace} span_id={span} request_id=req-42"
            )),
            "{line}"
        );
    }
    // The log record's target is the module's, as without ctx.
    assert!(logs
        .text
        .line(&["hops: log record"])
        .contains(" logs: hops: log record "));

    // The settings layer's filter is its own: the noisy target is dropped
    // there and written by the others.
    assert!(logs.settings.lines_with(&["noisy target"]).is_empty());
    assert_eq!(logs.text.lines_with(&["noisy target", trace]).len(), 1);

    // A plain tokio task has no context: its lines are the plain ones.
    let hop = "hops: plain tokio task";
    assert_eq!(logs.text.line(&[hop]), logs.text_plain.line(&[hop]));
    assert_eq!(logs.ansi.line(&[hop]), logs.ansi_plain.line(&[hop]));
    assert_eq!(logs.json.line(&[hop]), logs.json_plain.line(&[hop]));

    // The access log has its own ids: they are not written twice, and it
    // gets the extras.
    let access = logs.text.line(&[ACCESS_LOG_TARGET, trace]);
    for id in ["trace_id", "span_id", "request_id"] {
        assert_eq!(count_field(&access, id), 1, "{id} in {access}");
    }
    assert!(access.contains(&format!(" span_id={span} ")), "{access}");
    assert!(
        access.ends_with(" tenant=acme baggage.region=eu-west"),
        "{access}"
    );
    // In JSON with the event's fields at the top level, its own are the
    // only ones.
    let flat = logs.flat.line(&[ACCESS_LOG_TARGET, trace]);
    assert_eq!(flat.matches("\"trace_id\":").count(), 1, "{flat}");
    let object = parse(&flat);
    assert_eq!(object["trace_id"], trace);
    assert_eq!(object["span_id"], span.as_str());
    assert_eq!(object["tenant"], "acme");
    assert_eq!(object["baggage.region"], "eu-west");
    // Nested under "fields" (the default), the object still has the ids at
    // its top level, like every other line.
    let object = parse(&logs.json.line(&[ACCESS_LOG_TARGET, trace]));
    assert_eq!(object["trace_id"], trace);
    assert_eq!(object["fields"]["trace_id"], trace);
    assert_eq!(object["span_id"], span.as_str());
    assert_eq!(object["baggage.region"], "eu-west");
}

#[test]
fn the_fields_are_written_as_fmt_writes_an_events_own() {
    let logs = logs();
    let trace = TraceContext::new_root();
    let (t, s) = (trace.trace_id().to_string(), trace.span_id().to_string());
    let cx = Context::new()
        .with(&ctx::trace::TRACE_CONTEXT, trace)
        .with(&REQUEST_ID, RequestId::new("r-7").unwrap());
    // The same event twice: from ctx's context, and outside any context
    // with the fields written by hand.
    cx.run(|| info!(n = 1, "same: by ctx"));
    info!(n = 1, trace_id = %t, span_id = %s, request_id = %"r-7", "same: by ctx");

    for (ours, plain) in [
        (&logs.text, &logs.text_plain),
        (&logs.ansi, &logs.ansi_plain),
    ] {
        let by_hand = plain.line(&["same: by ctx", &t]);
        assert!(by_hand.contains("trace_id"), "{by_hand}");
        // Both of ctx's lines are the plain one: the first spliced, the
        // second written by the format alone.
        assert_eq!(
            ours.lines_with(&["same: by ctx"]),
            [by_hand.clone(), by_hand]
        );
    }
    // JSON: the fields at the top level, where fmt puts the event's own
    // under "fields".
    let ours = parse(&logs.json.line(&["same: by ctx", "{\"trace_id\""]));
    let mut by_hand = parse(&logs.json_plain.line(&["same: by ctx", &t]));
    for name in ["trace_id", "span_id", "request_id"] {
        let value = by_hand["fields"]
            .as_object_mut()
            .unwrap()
            .remove(name)
            .unwrap();
        by_hand.insert(name.to_string(), value);
    }
    assert_eq!(ours, by_hand);
}

#[test]
fn lines_outside_any_request_are_the_plain_formats_own() {
    let logs = logs();
    info!(n = 1, "untouched: no context");
    // A context with values, but no trace, request id or extra.
    Context::new()
        .with(&OTHER, 7)
        .run(|| info!("untouched: other values"));
    // ...and one with a baggage member that is not on the allowlist.
    ctx::baggage::sync_scope("user", "alice", || info!("untouched: other baggage"));
    log::info!("untouched: a log record");
    for marker in [
        "untouched: no context",
        "untouched: other values",
        "untouched: other baggage",
        "untouched: a log record",
    ] {
        assert_eq!(logs.text.line(&[marker]), logs.text_plain.line(&[marker]));
        assert_eq!(logs.ansi.line(&[marker]), logs.ansi_plain.line(&[marker]));
        assert_eq!(logs.json.line(&[marker]), logs.json_plain.line(&[marker]));
    }
}

#[test]
fn log_records_get_the_fields() {
    let logs = logs();
    let trace = TraceContext::new_root();
    let (t, s) = (trace.trace_id().to_string(), trace.span_id().to_string());
    trace.sync_scope(|| log::warn!("a log record: {}", 42));
    let marker = "a log record: 42";
    let added = [("trace_id", t.as_str()), ("span_id", s.as_str())];
    let plain = logs.text_plain.line(&[marker]);
    // Normalised as fmt normalises it: the level and the module's target.
    assert!(plain.contains(" WARN logs: a log record: 42"), "{plain}");
    assert_eq!(
        logs.text.line(&[marker]),
        format!("{plain}{}", text_fields(&added, false))
    );
    assert_json_adds(
        &logs.json.line(&[marker]),
        &logs.json_plain.line(&[marker]),
        &added,
    );
    let object = parse(&logs.flat.line(&[marker]));
    assert_eq!(
        (&object["trace_id"], &object["target"]),
        (&Value::from(t), &Value::from("logs"))
    );
}

#[test]
fn extras_are_escaped_in_json_and_kept_on_one_line_in_text() {
    let logs = logs();
    let value = "eu \"west\"\\\n\u{1b}[31mred\u{1b}[0m é";
    let cx = Context::new().with(&TENANT, "t\tab".to_string());
    cx.run(|| {
        ctx::baggage::sync_scope("region", value, || info!("escaped: extras"));
    });
    let text = logs.text.line(&["escaped: extras"]);
    assert!(
        text.ends_with(" tenant=t\\tab baggage.region=eu \"west\"\\\\n\\u{1b}[31mred\\u{1b}[0m é"),
        "{text}"
    );
    let object = parse(&logs.json.line(&["escaped: extras"]));
    assert_eq!(object["baggage.region"], value);
    assert_eq!(object["tenant"], "t\tab");
    assert!(!object.contains_key("trace_id"), "no trace, no trace id");
}

#[test]
fn an_event_with_a_field_of_the_same_name_keeps_its_own() {
    let logs = logs();
    let trace = TraceContext::new_root();
    let (t, s) = (trace.trace_id().to_string(), trace.span_id().to_string());
    trace.sync_scope(|| info!(trace_id = "mine", "own: trace id"));

    let text = logs.text.line(&["own: trace id"]);
    assert_eq!(count_field(&text, "trace_id"), 1, "{text}");
    assert!(
        text.ends_with(&format!("own: trace id trace_id=\"mine\" span_id={s}")),
        "{text}"
    );
    // At the top level, the event's own; nested, ctx's is added.
    let flat = logs.flat.line(&["own: trace id"]);
    assert_eq!(flat.matches("\"trace_id\":").count(), 1, "{flat}");
    assert_eq!(parse(&flat)["trace_id"], "mine");
    let nested = parse(&logs.json.line(&["own: trace id"]));
    assert_eq!(
        (&nested["trace_id"], &nested["fields"]["trace_id"]),
        (&Value::from(t), &Value::from("mine"))
    );
}

/// The access log of a request cut short is emitted inside the request's
/// context, so it gets the extras: a response future dropped before the
/// service answered (`cancelled`), and a body dropped before its end
/// (`dropped`).
#[test]
fn the_access_log_of_a_request_cut_short_gets_the_extras() {
    use tower::{Layer as _, Service as _};

    let logs = logs();
    let send = |trace: &str| {
        support::http::request(
            http::Method::GET,
            "/cut",
            &[
                ("traceparent", &format!("00-{trace}-{CALLER_SPAN}-01")),
                ("baggage", "region=eu-west"),
            ],
        )
    };
    let cancelled = "1bf7651916cd43dd8448eb211c80319c";
    let mut never =
        ContextLayer::new().layer(tower::service_fn(|_: http::Request<axum::body::Body>| {
            std::future::pending::<Result<Response, std::convert::Infallible>>()
        }));
    drop(never.call(send(cancelled)));

    let dropped = "2bf7651916cd43dd8448eb211c80319c";
    let mut answers = ContextLayer::new().layer(tower::service_fn(
        |_: http::Request<axum::body::Body>| async {
            Ok::<_, std::convert::Infallible>(Response::new(axum::body::Body::from("unread")))
        },
    ));
    let response = futures::executor::block_on(answers.call(send(dropped))).unwrap();
    drop(response);

    for (trace, outcome) in [(cancelled, "cancelled"), (dropped, "dropped")] {
        let access = logs.text.line(&[ACCESS_LOG_TARGET, trace]);
        assert!(
            access.contains(&format!("outcome=\"{outcome}\"")),
            "{access}"
        );
        assert_eq!(count_field(&access, "trace_id"), 1, "{access}");
        assert!(access.ends_with(" baggage.region=eu-west"), "{access}");
    }
}

/// The server layer logs a request whose service panics in `call` (before
/// any response future exists) from the unwind, still inside the request's
/// context: the line gets the extras, which only that context holds.
#[test]
fn the_access_log_of_a_panicking_call_gets_the_extras() {
    use tower::{Layer as _, Service as _};

    let logs = logs();
    let trace = "0af7651916cd43dd8448eb211c80319c";
    let mut service = ContextLayer::new().layer(tower::service_fn(
        |_: http::Request<axum::body::Body>| -> std::future::Ready<Result<Response, std::convert::Infallible>> {
            panic!("call panicked")
        },
    ));
    let req = support::http::request(
        http::Method::GET,
        "/panics",
        &[
            ("traceparent", &format!("00-{trace}-{CALLER_SPAN}-01")),
            ("baggage", "region=eu-west"),
        ],
    );
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        drop(service.call(req));
    }));
    assert!(caught.is_err());
    let access = logs.text.line(&[ACCESS_LOG_TARGET, trace]);
    assert!(access.contains("outcome=\"panicked\""), "{access}");
    assert!(access.ends_with(" baggage.region=eu-west"), "{access}");
}
