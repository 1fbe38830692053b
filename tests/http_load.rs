//! The access log's fields, and a load run: 2,000 requests, each with its
//! own trace id, through handlers that spawn, block and call out; no response
//! or log line may carry a foreign or missing id.
//!
//! One binary with a global subscriber that records the access-log events.
#![cfg(all(feature = "http", feature = "axum", feature = "tokio"))]

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use ctx::http::{ContextLayer, ACCESS_LOG_TARGET};
use ctx::trace::{SpanId, TraceId};
use support::http::{client, echoed, get_with, lines, start_app};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt};
use tracing_subscriber::Layer;

type Event = HashMap<String, String>;

/// Records every access-log event's fields.
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
        if event.metadata().target() != ACCESS_LOG_TARGET {
            return;
        }
        let mut fields = Event::new();
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

fn events_for(trace: &str) -> Vec<Event> {
    recorder()
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.get("trace_id").map(String::as_str) == Some(trace))
        .cloned()
        .collect()
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
    for e in &events {
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
