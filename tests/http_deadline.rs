//! Deadlines and cancellation over HTTP, with axum servers and a hyper
//! client on 127.0.0.1: the deadline read from the request, seen by the
//! request's spawned task and blocking closure, never extended, forwarded
//! with the time left through a chain of two services, failing fast once
//! passed; the request's cancellation signal observed by a task and a
//! blocking closure when the client goes away and when the deadline
//! passes, detached work left alone, and the request's context released.
#![cfg(all(
    feature = "tokio",
    feature = "http",
    feature = "axum",
    feature = "cancel"
))]
// The servers run in plain tasks, as `axum::serve` does in an application.
#![allow(clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use ctx::http::{ContextLayer, DeadlineLayer, PropagateLayer};
use ctx::Key;
use http::{HeaderName, Request, StatusCode};
use http_body_util::BodyExt;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tower::{ServiceBuilder, ServiceExt};

type HttpClient = Client<HttpConnector, Body>;

fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

fn timeout_header() -> HeaderName {
    HeaderName::from_static(ctx::propagation::X_REQUEST_TIMEOUT_MS)
}

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

async fn fetch(client: &HttpClient, uri: String, headers: &[(&str, &str)]) -> (StatusCode, String) {
    let mut req = Request::get(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = client
        .request(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// Milliseconds left, or `-` without a deadline.
fn left_ms() -> String {
    ctx::deadline::remaining().map_or_else(|| "-".into(), |d| d.as_millis().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadline_is_read_from_the_request_and_seen_by_spawned_work() {
    let router = Router::new()
        .route(
            "/",
            get(|| async {
                let here = ctx::deadline::current();
                let task = ctx::spawn(async { ctx::deadline::current() })
                    .await
                    .unwrap();
                let blocking = ctx::spawn_blocking(ctx::deadline::current).await.unwrap();
                let same = here.is_some() && task == here && blocking == here;
                format!("{} {same}", left_ms())
            }),
        )
        .layer(ContextLayer::new().deadline_header(Some(timeout_header())));
    let addr = serve(router).await;
    let c = client();
    let uri = format!("http://{addr}/");

    let (_, body) = fetch(&c, uri.clone(), &[("x-request-timeout-ms", "5000")]).await;
    let (ms, same) = body.split_once(' ').unwrap();
    let ms: u64 = ms.parse().unwrap();
    assert!(ms <= 5000 && ms > 3000, "{body}");
    assert_eq!(
        same, "true",
        "task and blocking closure see the handler's deadline"
    );

    // gRPC's header counts on gRPC requests only; the shorter one wins.
    let grpc = [("content-type", "application/grpc"), ("grpc-timeout", "2S")];
    let (_, body) = fetch(&c, uri.clone(), &grpc).await;
    let ms: u64 = body.split_once(' ').unwrap().0.parse().unwrap();
    assert!(ms <= 2000 && ms > 1000, "{body}");
    let (_, body) = fetch(&c, uri.clone(), &[grpc[1]]).await;
    assert_eq!(
        body, "- false",
        "grpc-timeout on a request that is not gRPC"
    );
    let both = [grpc[0], grpc[1], ("x-request-timeout-ms", "500")];
    let (_, body) = fetch(&c, uri.clone(), &both).await;
    let ms: u64 = body.split_once(' ').unwrap().0.parse().unwrap();
    assert!(ms <= 500, "{body}");

    // Malformed values are ignored, never an error.
    for bad in [
        ("x-request-timeout-ms", "-5"),
        ("x-request-timeout-ms", "1e3"),
    ] {
        let (status, body) = fetch(&c, uri.clone(), &[bad]).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "- false"));
    }
    let bad = [
        ("content-type", "application/grpc"),
        ("grpc-timeout", "123456789S"),
    ];
    let (status, body) = fetch(&c, uri.clone(), &bad).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "- false"));

    // Without the setting, the plain header is not read.
    let router = Router::new()
        .route("/", get(|| async { left_ms() }))
        .layer(ContextLayer::new());
    let addr = serve(router).await;
    let (_, body) = fetch(
        &c,
        format!("http://{addr}/"),
        &[("x-request-timeout-ms", "5000")],
    )
    .await;
    assert_eq!(body, "-");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_never_extends_the_deadline() {
    let router = Router::new()
        .route(
            "/",
            get(|| async {
                let request = ctx::deadline::current().unwrap();
                let longer = ctx::deadline::within(Duration::from_secs(3600), async {
                    ctx::spawn(async { ctx::deadline::current() })
                        .await
                        .unwrap()
                })
                .await;
                let shorter = ctx::deadline::within(Duration::from_millis(10), async {
                    ctx::spawn_blocking(ctx::deadline::current).await.unwrap()
                })
                .await;
                let after = ctx::deadline::current();
                format!(
                    "{} {} {}",
                    longer == Some(request),
                    shorter.is_some_and(|s| s < request),
                    after == Some(request)
                )
            }),
        )
        .layer(ContextLayer::new().deadline_header(Some(timeout_header())));
    let addr = serve(router).await;
    let (_, body) = fetch(
        &client(),
        format!("http://{addr}/"),
        &[("x-request-timeout-ms", "60000")],
    )
    .await;
    assert_eq!(body, "true true true");
}

#[derive(Clone)]
struct Chain {
    next: String,
    client: HttpClient,
}

/// Service A: waits 100 ms, then calls B through ctx's client layers, and
/// answers with its own time left before the call and B's answer.
async fn front(State(chain): State<Chain>) -> String {
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = ctx::deadline::remaining().map(|d| d.as_millis());
    let client = ServiceBuilder::new()
        .layer(DeadlineLayer::new())
        .map_response(|res: http::Response<hyper::body::Incoming>| res.map(Body::new))
        .layer(PropagateLayer::new().deadline_header(Some(timeout_header())))
        .service(chain.client.clone());
    let req = Request::get(&chain.next).body(Body::empty()).unwrap();
    let res = client.oneshot(req).await.unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    format!(
        "{} {} {}",
        before.map_or(-1, |b| b as i64),
        status.as_u16(),
        String::from_utf8_lossy(&body)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_time_left_is_forwarded_through_a_chain_and_a_passed_deadline_fails_fast() {
    let hits = Arc::new(AtomicUsize::new(0));
    let seen = hits.clone();
    let back = Router::new()
        .route(
            "/",
            get(move || {
                let seen = seen.clone();
                async move {
                    seen.fetch_add(1, Ordering::SeqCst);
                    left_ms()
                }
            }),
        )
        .layer(ContextLayer::new().deadline_header(Some(timeout_header())));
    let back = serve(back).await;
    let front_app = Router::new()
        .route("/", get(front))
        .with_state(Chain {
            next: format!("http://{back}/"),
            client: client(),
        })
        .layer(ContextLayer::new().deadline_header(Some(timeout_header())));
    let front_addr = serve(front_app).await;
    let c = client();

    let (_, body) = fetch(
        &c,
        format!("http://{front_addr}/"),
        &[("x-request-timeout-ms", "3000")],
    )
    .await;
    let parts: Vec<&str> = body.split(' ').collect();
    let before: u64 = parts[0].parse().unwrap();
    let downstream: u64 = parts[2].parse().unwrap();
    assert_eq!(parts[1], "200", "{body}");
    assert!(before <= 2900, "A waited 100 ms of its budget: {body}");
    assert!(
        downstream <= before && downstream > 1000,
        "B shares A's budget: {body}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    // A budget smaller than A's wait: A's call to B is not sent.
    let (status, body) = fetch(
        &c,
        format!("http://{front_addr}/"),
        &[("x-request-timeout-ms", "50")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "0 504 ", "the call failed fast");
    assert_eq!(hits.load(Ordering::SeqCst), 1, "B never saw the late call");
}

/// A value whose live copies are counted: put in a request's context, it
/// lives as long as that context does.
struct Counted(Arc<AtomicUsize>);

impl Counted {
    fn new(live: &Arc<AtomicUsize>) -> Counted {
        live.fetch_add(1, Ordering::SeqCst);
        Counted(live.clone())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

static LIVE: Key<Counted> = Key::new("live");

#[derive(Clone)]
struct Observe {
    events: mpsc::UnboundedSender<String>,
    live: Arc<AtomicUsize>,
    token: Arc<Mutex<Option<ctx::cancel::CancellationToken>>>,
}

/// A handler that starts a task and a blocking closure that each report
/// when they see the request cancelled, a detached task that reports what
/// it sees, then waits for its own cancellation (or forever).
async fn observed(State(o): State<Observe>) -> StatusCode {
    LIVE.scope(Counted::new(&o.live), async move {
        *o.token.lock().unwrap() = ctx::cancel::token();
        let tx = o.events.clone();
        ctx::spawn(async move {
            ctx::cancel::cancelled().await;
            let _ = tx.send("task".into());
        });
        let tx = o.events.clone();
        ctx::spawn_blocking(move || {
            let start = Instant::now();
            while !ctx::cancel::is_cancelled() {
                if start.elapsed() > Duration::from_secs(10) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            let _ = tx.send("blocking".into());
        });
        let tx = o.events.clone();
        ctx::spawn_detached(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let seen = format!(
                "detached {} {} {}",
                ctx::cancel::is_cancelled(),
                ctx::cancel::token().is_none(),
                ctx::deadline::current().is_none(),
            );
            let _ = tx.send(seen);
        });
        let _ = o.events.send("started".into());
        ctx::cancel::cancelled().await;
        StatusCode::GATEWAY_TIMEOUT
    })
    .await
}

async fn observer_app() -> (SocketAddr, Observe, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let o = Observe {
        events: tx,
        live: Arc::new(AtomicUsize::new(0)),
        token: Arc::default(),
    };
    let router = Router::new()
        .route("/", get(observed))
        .with_state(o.clone())
        .layer(
            ContextLayer::new()
                .deadline_header(Some(timeout_header()))
                .cancellation(true),
        );
    (serve(router).await, o, rx)
}

/// The next `n` events, each within `bound`.
async fn next_events(
    rx: &mut mpsc::UnboundedReceiver<String>,
    n: usize,
    bound: Duration,
) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        let e = tokio::time::timeout(bound, rx.recv()).await;
        out.push(e.expect("an observer did not report in time").unwrap());
    }
    out.sort();
    out
}

/// Waits (bounded) until the request's context is gone, then checks that
/// the token taken from it is cancelled (which ends its timer task).
async fn released(o: &Observe) {
    let start = Instant::now();
    while o.live.load(Ordering::SeqCst) != 0 {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the request's context leaked"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let token = o
        .token
        .lock()
        .unwrap()
        .take()
        .expect("the handler took a token");
    assert!(token.is_cancelled());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_disconnects_cancels_the_request_s_work() {
    let (addr, o, mut rx) = observer_app().await;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(
        next_events(&mut rx, 1, Duration::from_secs(5)).await,
        ["started"]
    );
    let gone = Instant::now();
    drop(stream);
    let seen = next_events(&mut rx, 2, Duration::from_secs(2)).await;
    assert_eq!(seen, ["blocking", "task"]);
    assert!(gone.elapsed() < Duration::from_secs(2));
    // Detached work keeps running, outside the request.
    let detached = next_events(&mut rx, 1, Duration::from_secs(2)).await;
    assert_eq!(detached, ["detached false true true"]);
    released(&o).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_that_passes_cancels_the_request_s_work() {
    let (addr, o, mut rx) = observer_app().await;
    let c = client();
    let start = Instant::now();
    let call = tokio::spawn(async move {
        fetch(
            &c,
            format!("http://{addr}/"),
            &[("x-request-timeout-ms", "150")],
        )
        .await
    });
    let mut seen = next_events(&mut rx, 3, Duration::from_secs(2)).await;
    assert!(
        start.elapsed() >= Duration::from_millis(150),
        "not before the deadline"
    );
    seen.retain(|e| e != "started");
    assert_eq!(seen, ["blocking", "task"]);
    // The handler stopped too, and answered.
    let (status, _) = call.await.unwrap();
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    let detached = next_events(&mut rx, 1, Duration::from_secs(2)).await;
    assert_eq!(detached, ["detached false true true"]);
    released(&o).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_response_future_cancels_in_process() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let o = Observe {
        events: tx,
        live: Arc::new(AtomicUsize::new(0)),
        token: Arc::default(),
    };
    let router = Router::new()
        .route("/", get(observed))
        .with_state(o.clone())
        .layer(ContextLayer::new().cancellation(true));
    let req = Request::get("/").body(Body::empty()).unwrap();
    let call = router.oneshot(req);
    // Polled until the handler is waiting, then given up on.
    assert!(tokio::time::timeout(Duration::from_millis(100), call)
        .await
        .is_err());
    let mut seen = next_events(&mut rx, 3, Duration::from_secs(2)).await;
    seen.retain(|e| e != "started");
    assert_eq!(seen, ["blocking", "task"]);
    let detached = next_events(&mut rx, 1, Duration::from_secs(2)).await;
    assert_eq!(detached, ["detached false true true"]);
    released(&o).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_whose_work_never_asks_is_never_cancelled_and_releases_everything() {
    let live = Arc::new(AtomicUsize::new(0));
    let l = live.clone();
    let router = Router::new()
        .route(
            "/",
            get(move || {
                let l = l.clone();
                async move {
                    LIVE.scope(Counted::new(&l), async {
                        let task = ctx::spawn(async { ctx::cancel::is_cancelled() });
                        format!("{} {}", task.await.unwrap(), ctx::cancel::is_cancelled())
                    })
                    .await
                }
            }),
        )
        .layer(ContextLayer::new().cancellation(true));
    let addr = serve(router).await;
    let (_, body) = fetch(&client(), format!("http://{addr}/"), &[]).await;
    assert_eq!(body, "false false");
    let start = Instant::now();
    while live.load(Ordering::SeqCst) != 0 {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the request's context leaked"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[test]
fn a_server_driven_inside_a_scope_with_a_deadline_gives_each_request_its_own() {
    // `cx.run(|| rt.block_on(..))` polls the server's plain connection tasks
    // under `cx`: its deadline is not theirs, or every request would end
    // by it whatever its caller sent.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cx = rt.block_on(ctx::deadline::within(Duration::from_millis(500), async {
        ctx::Context::current()
    }));
    assert!(cx.run(ctx::deadline::current).is_some());
    let bodies = cx.run(|| {
        rt.block_on(async {
            let router = Router::new().route("/", get(|| async { left_ms() })).layer(
                ContextLayer::new()
                    .deadline_header(Some(timeout_header()))
                    .cancellation(true),
            );
            let addr = serve(router).await;
            let c = client();
            let uri = format!("http://{addr}/");
            let (_, sent) = fetch(&c, uri.clone(), &[("x-request-timeout-ms", "60000")]).await;
            let (_, none) = fetch(&c, uri, &[]).await;
            (sent, none)
        })
    });
    let sent: u64 = bodies.0.parse().unwrap();
    assert!(
        sent > 30_000,
        "the caller's 60 s, not the scope's 0.5 s: {bodies:?}"
    );
    assert_eq!(bodies.1, "-", "no deadline sent: none: {bodies:?}");
}
