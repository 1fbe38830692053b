//! A handler enqueues work and a pool of workers runs it: every log line and
//! every outbound call of a job carries the trace id of the request that
//! enqueued it.
//!
//! One service on 127.0.0.1 (a port the system picks), behind ctx's
//! `ContextLayer`:
//!
//! - `POST /orders/{n}` wraps a job in `ctx::Carried` (the message plus the
//!   request's context), sends it over a tokio `mpsc` channel and answers
//!   `202 Accepted` at once;
//! - a pool of workers, started outside any request, share the channel's
//!   receiver and run each job with `Carried::scope`, so the job runs in its
//!   request's context and the worker is back in its own (none) between
//!   jobs;
//! - a job logs, calls the service's own `GET /audit` through
//!   `PropagateLayer` (its access-log line shows the job's trace id), and
//!   puts a record on an outbox queue with the context injected into the
//!   record's Kafka-style headers (`Vec<(String, Vec<u8>)>`);
//! - a relay, standing for the consumer on the other side of the broker,
//!   extracts the context from each record's headers and logs in it.
//!
//! The example drives itself: it sends a few requests at once, each with a
//! caller's `traceparent` of its own, waits for every job and record,
//! checks that each carried its request's trace id, prints one line per
//! job, and exits. Log lines (`tracing_subscriber::fmt` with
//! `ctx::logs::with_ids`) go to stdout with their ids.
//!
//! Run with:
//!
//! ```sh
//! cargo run --example jobs --features axum,tracing-subscriber
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use ctx::http::{ContextLayer, PropagateLayer};
use ctx::propagation::Propagated;
use ctx::trace::TraceContext;
use ctx::{Carried, Context, FutureExt as _};
use http_body_util::BodyExt;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::{mpsc, Mutex};
use tower::{Service, ServiceBuilder, ServiceExt};
use tracing::info;

const WORKERS: usize = 3;
const ORDERS: u32 = 5;

type HttpClient = Client<HttpConnector, Body>;

/// A unit of work, as the handler enqueues it.
#[derive(Debug)]
struct Job {
    order: u32,
}

/// A record on the outbox queue, as a broker would carry it.
struct Record {
    key: u32,
    headers: Vec<(String, Vec<u8>)>,
}

/// What the example checks: the trace id each part of a job saw.
enum Report {
    Job {
        order: u32,
        worker: usize,
        job: String,
        audit: String,
    },
    Record {
        order: u32,
        trace: String,
    },
}

#[derive(Clone)]
struct App {
    jobs: mpsc::Sender<Carried<Job>>,
    outbox: mpsc::UnboundedSender<Record>,
    reports: mpsc::UnboundedSender<Report>,
    audit_url: String,
    client: HttpClient,
}

/// The trace id of the current context, or `-`.
fn tid() -> String {
    ctx::trace_id().map_or_else(|| "-".to_string(), |t| t.to_string())
}

async fn enqueue(State(app): State<App>, Path(order): Path<u32>) -> (StatusCode, String) {
    info!(order, "order accepted, job queued");
    app.jobs.send(Carried::new(Job { order })).await.unwrap();
    (StatusCode::ACCEPTED, tid())
}

async fn audit() -> String {
    info!("audit entry written");
    tid()
}

/// One worker of the pool: takes jobs off the shared receiver, one at a
/// time, and runs each in the context it came with.
async fn worker(id: usize, jobs: Arc<Mutex<mpsc::Receiver<Carried<Job>>>>, app: App) {
    loop {
        // The lock is held only while waiting for the next job.
        let next = jobs.lock().await.recv().await;
        let Some(job) = next else { break };
        job.scope(|job| run_job(id, job, app.clone())).await;
        // Between jobs, the worker has no request's context.
        assert_eq!(ctx::trace_id(), None);
    }
}

async fn run_job(worker: usize, job: Job, app: App) {
    info!(worker, order = job.order, "job started");
    // Some blocking work, on the blocking pool, in the same context.
    ctx::spawn_blocking(|| {
        std::thread::sleep(Duration::from_millis(2));
        info!("invoice rendered");
    })
    .await
    .unwrap();

    // An outbound HTTP call, through the propagating client.
    let mut client = ServiceBuilder::new()
        .layer(PropagateLayer::new())
        .service(app.client.clone());
    let req = http::Request::get(&app.audit_url)
        .body(Body::empty())
        .unwrap();
    let res = client.ready().await.unwrap().call(req).await.unwrap();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let audit = String::from_utf8(body.to_vec()).unwrap();

    // An outbound record: the context goes into its headers, as a child
    // span of the job's (the "send" of the message).
    let mut headers = vec![("content-type".to_string(), b"text/plain".to_vec())];
    let fields = Propagated::current().with_trace(TraceContext::child_of_current());
    ctx::propagation::inject(&fields, &mut headers);
    app.outbox
        .send(Record {
            key: job.order,
            headers,
        })
        .unwrap();

    info!(worker, order = job.order, "job done");
    app.reports
        .send(Report::Job {
            order: job.order,
            worker,
            job: tid(),
            audit,
        })
        .unwrap();
}

/// The consumer of the outbox: each record runs in the context its headers
/// carry, as a child span of the producer's.
async fn relay(
    mut outbox: mpsc::UnboundedReceiver<Record>,
    reports: mpsc::UnboundedSender<Report>,
) {
    while let Some(record) = outbox.recv().await {
        let mut remote = ctx::propagation::extract(&record.headers);
        remote.trace = remote.trace.map(|parent| parent.child());
        let cx = remote.to_context(&Context::new());
        async {
            info!(order = record.key, "record consumed");
            reports
                .send(Report::Record {
                    order: record.key,
                    trace: tid(),
                })
                .unwrap();
        }
        .in_context(cx)
        .await;
    }
}

/// The trace id the caller of order `n` sends.
fn caller_trace(n: u32) -> String {
    format!("4bf92f3577b34da6a3ce929d0e0e47{n:02x}")
}

/// Order `n`, sent as a caller in its own trace would send it.
async fn send_order(client: HttpClient, addr: SocketAddr, n: u32) -> (StatusCode, String) {
    let req = http::Request::post(format!("http://{addr}/orders/{n}"))
        .header(
            "traceparent",
            format!("00-{}-00f067aa0ba902b7-01", caller_trace(n)),
        )
        .body(Body::empty())
        .unwrap();
    let res = client.request(req).await.unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .map_event_format(ctx::logs::with_ids)
        .init();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();

    let (jobs_tx, jobs_rx) = mpsc::channel(16);
    let (outbox_tx, outbox_rx) = mpsc::unbounded_channel();
    let (reports_tx, mut reports) = mpsc::unbounded_channel();
    let app = App {
        jobs: jobs_tx,
        outbox: outbox_tx,
        reports: reports_tx.clone(),
        audit_url: format!("http://{addr}/audit"),
        client: client.clone(),
    };

    // Long-lived tasks started outside any request: they carry no context
    // of their own, and take each job's or record's.
    let jobs_rx = Arc::new(Mutex::new(jobs_rx));
    for id in 1..=WORKERS {
        ctx::spawn_detached(worker(id, Arc::clone(&jobs_rx), app.clone()));
    }
    ctx::spawn_detached(relay(outbox_rx, reports_tx));
    let router = Router::new()
        .route("/orders/{n}", post(enqueue))
        .route("/audit", get(audit))
        .with_state(app)
        .layer(ContextLayer::new());
    ctx::spawn_detached(async move { axum::serve(listener, router).await.unwrap() });
    info!(%addr, workers = WORKERS, "listening (outside any request: no ids)");

    // The requests, all at once.
    let sends: Vec<_> = (1..=ORDERS)
        .map(|n| ctx::spawn_detached(send_order(client.clone(), addr, n)))
        .collect();
    for (n, send) in (1..=ORDERS).zip(sends) {
        let (status, trace) = send.await.unwrap();
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(
            trace,
            caller_trace(n),
            "the handler continues the caller's trace"
        );
    }

    // A job report and a record report per order.
    let mut jobs = BTreeMap::new();
    let mut records = BTreeMap::new();
    while jobs.len() < ORDERS as usize || records.len() < ORDERS as usize {
        let report = tokio::time::timeout(Duration::from_secs(10), reports.recv())
            .await
            .expect("every job reports within 10 s")
            .unwrap();
        match report {
            Report::Job {
                order,
                worker,
                job,
                audit,
            } => {
                jobs.insert(order, (worker, job, audit));
            }
            Report::Record { order, trace } => {
                records.insert(order, trace);
            }
        }
    }

    println!("order  worker  request trace id                  job  /audit  record");
    for n in 1..=ORDERS {
        let want = caller_trace(n);
        let (worker, job, audit) = &jobs[&n];
        let record = &records[&n];
        let ok = |seen: &str| if seen == want { "ok" } else { "LOST" };
        println!(
            "{n:>5}  {worker:>6}  {want}  {:>3}  {:>6}  {:>6}",
            ok(job),
            ok(audit),
            ok(record)
        );
        assert_eq!(
            job, &want,
            "order {n}: the job ran in its request's context"
        );
        assert_eq!(audit, &want, "order {n}: the job's HTTP call carried it");
        assert_eq!(record, &want, "order {n}: the job's record carried it");
    }
    info!("all jobs done (outside any request again)");
}
