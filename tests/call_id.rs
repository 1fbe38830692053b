//! Hierarchical call ids: numbering of child tasks under concurrency, and a
//! call tree across two services on 127.0.0.1, with the access log.

#![allow(clippy::disallowed_methods)] // servers are started with plain spawns, outside any request

mod support;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use ctx::call_id::{self, CallId, CALL_ID};
use ctx::http::{ContextLayer, PropagateLayer, Trust};
use ctx::propagation::{CallIdPropagator, Propagators};
use ctx::{FutureExt as _, JoinSetExt as _};
use http::Request;
use http_body_util::BodyExt;
use tower::{Service, ServiceBuilder, ServiceExt};
use tracing::field::{Field, Visit};
use tracing::subscriber::Subscriber;
use tracing_subscriber::layer::{Context as LayerContext, Layer, SubscriberExt};

use support::http::{client, get_with, listen, HttpClient};

fn id() -> String {
    call_id::current().map_or_else(|| "-".to_owned(), |c| c.to_string())
}

fn rank(id: &str) -> u64 {
    id.rsplit('.').next().unwrap().parse().unwrap()
}

#[test]
fn concurrent_children_get_unique_ids_in_order() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(CALL_ID.scope(CallId::root(), async {
        // 200 children spawned from one parent, running concurrently on two
        // workers, each spawning two of its own.
        let mut handles = Vec::new();
        for _ in 0..200 {
            handles.push(ctx::spawn(async {
                let me = id();
                tokio::task::yield_now().await;
                let a = ctx::spawn(async { id() }).await.unwrap();
                let b = ctx::spawn(async { id() }).await.unwrap();
                (me, a, b)
            }));
        }
        let mut seen = Vec::new();
        for h in handles {
            seen.push(h.await.unwrap());
        }
        // Spawned in order, numbered in order: the n-th spawn is 0.n.
        for (n, (me, a, b)) in seen.iter().enumerate() {
            assert_eq!(me, &format!("0.{}", n + 1));
            assert_eq!(a, &format!("{me}.1"));
            assert_eq!(b, &format!("{me}.2"));
        }
        let unique: BTreeSet<&String> = seen.iter().flat_map(|(m, a, b)| [m, a, b]).collect();
        assert_eq!(unique.len(), 600);
        assert_eq!(id(), "0", "the parent keeps its id");
        assert_eq!(CALL_ID.get().unwrap().children(), 200);
    }));
}

#[test]
fn ids_from_many_threads_at_once_are_unique() {
    let root = CallId::root();
    let ids = Arc::new(Mutex::new(Vec::new()));
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let mine: Vec<u64> = (0..500).map(|_| rank(root.child().as_str())).collect();
                assert!(mine.windows(2).all(|w| w[0] < w[1]), "ordered per caller");
                ids.lock().unwrap().extend(mine);
            });
        }
    });
    let mut all = ids.lock().unwrap().clone();
    all.sort_unstable();
    assert_eq!(all, (1..=2000).collect::<Vec<u64>>());
}

#[tokio::test]
async fn every_helper_hands_a_child_its_own_id() {
    CALL_ID
        .scope(CallId::root(), async {
            let spawned = ctx::spawn(async { id() }).await.unwrap();
            let blocking = ctx::spawn_blocking(id).await.unwrap();
            let thread = ctx::thread::spawn(id).join().unwrap();
            let wrapped = ctx::wrap(id)();
            let instrumented = async { id() }.in_current_context().await;
            let mut set = tokio::task::JoinSet::new();
            set.ctx_spawn(async { id() });
            let joined = set.join_next().await.unwrap().unwrap();
            assert_eq!(
                [spawned, blocking, thread, wrapped, instrumented, joined],
                ["0.1", "0.2", "0.3", "0.4", "0.5", "0.6"].map(String::from)
            );
            // Reading does not fork, and nothing outside got an id.
            assert_eq!(id(), "0");
        })
        .await;
    assert_eq!(id(), "-");
    assert_eq!(ctx::spawn(async { id() }).await.unwrap(), "-");
}

/// One event: its target and its fields.
type Recorded = (String, HashMap<String, String>);

/// ctx's events (access log, outbound calls), as they were emitted.
#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<Recorded>>>);

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: Subscriber> Layer<S> for Events {
    fn on_event(&self, event: &tracing::Event<'_>, _: LayerContext<'_, S>) {
        let target = event.metadata().target();
        if target.starts_with("ctx::") {
            let mut fields = HashMap::new();
            event.record(&mut Fields(&mut fields));
            self.0.lock().unwrap().push((target.to_owned(), fields));
        }
    }
}

impl Events {
    fn call_ids(&self, target: &str) -> BTreeSet<String> {
        let events = self.0.lock().unwrap();
        events
            .iter()
            .filter(|(t, _)| t == target)
            .filter_map(|(_, f)| f.get("call_id").cloned())
            .collect()
    }
}

fn with_call_ids() -> Propagators {
    Propagators::new().with(CallIdPropagator::new())
}

#[derive(Clone)]
struct Front {
    back: String,
    client: HttpClient,
}

/// `/front`: two calls to the back service, and a spawned task that makes a
/// third; returns the ids every hop saw.
async fn front(State(app): State<Front>) -> String {
    let call = |app: Front| async move {
        let mut client = ServiceBuilder::new()
            .layer(
                PropagateLayer::new()
                    .propagators(with_call_ids())
                    .log_requests(tracing::Level::INFO),
            )
            .service(app.client.clone());
        let req = Request::get(&app.back).body(Body::empty()).unwrap();
        let res = client.ready().await.unwrap().call(req).await.unwrap();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(body.to_vec()).unwrap()
    };
    let first = call(app.clone()).await;
    let second = call(app.clone()).await;
    let from_task = ctx::spawn(call(app.clone())).await.unwrap();
    format!("front={}\n{first}\n{second}\n{from_task}", id())
}

/// `/back`: its own id, and a spawned child's.
async fn back() -> String {
    let child = ctx::spawn(async { id() }).await.unwrap();
    format!("back={}|{child}", id())
}

async fn start(layer: ContextLayer, router: Router) -> std::net::SocketAddr {
    let (listener, addr) = listen().await;
    let app = router.layer(layer);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[test]
fn a_call_tree_across_two_services() {
    let events = Events::default();
    let subscriber = tracing_subscriber::registry().with(events.clone());
    let _default = tracing::subscriber::set_default(subscriber);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let layer = || ContextLayer::new().propagators(with_call_ids());
        let back_addr = start(layer(), Router::new().route("/back", get(back))).await;
        let state = Front {
            back: format!("http://{back_addr}/back"),
            client: client(),
        };
        let front_addr = start(
            layer(),
            Router::new().route("/front", get(front)).with_state(state),
        )
        .await;

        let (_, body) = get_with(&client(), front_addr, "/front", &[]).await;
        let lines: Vec<&str> = body.lines().collect();
        assert_eq!(
            lines,
            [
                "front=0",
                "back=0.1|0.1.1",
                "back=0.2|0.2.1",
                // The task is 0.3; its call is its first child.
                "back=0.3.1|0.3.1.1",
            ],
            "{body}"
        );

        // An inbound id continues the tree; an untrusted caller's does not.
        let (_, body) = get_with(&client(), back_addr, "/back", &[("x-call-id", "0.7.2")]).await;
        assert_eq!(body, "back=0.7.2|0.7.2.1");
        let (_, body) = get_with(&client(), back_addr, "/back", &[("x-call-id", "0..2")]).await;
        assert_eq!(body, "back=0|0.1", "an invalid id starts a tree");
        let untrusted = start(
            layer().trust(Trust::Untrusted),
            Router::new().route("/back", get(back)),
        )
        .await;
        let (_, body) = get_with(&client(), untrusted, "/back", &[("x-call-id", "0.7.2")]).await;
        assert_eq!(body, "back=0|0.1");

        // Without the propagator there is no call id at all.
        let plain = start(ContextLayer::new(), Router::new().route("/back", get(back))).await;
        let (_, body) = get_with(&client(), plain, "/back", &[("x-call-id", "0.7.2")]).await;
        assert_eq!(body, "back=-|-");
    });

    // The access log shows each request's id, the outbound-call lines the
    // ids they sent: the tree can be read from the logs alone.
    let logged = events.call_ids(ctx::http::ACCESS_LOG_TARGET);
    let want: BTreeSet<String> = ["0", "0.1", "0.2", "0.3.1", "0.7.2"]
        .map(String::from)
        .into();
    assert_eq!(logged, want);
    let sent = events.call_ids(ctx::http::CLIENT_LOG_TARGET);
    assert_eq!(sent, ["0.1", "0.2", "0.3.1"].map(String::from).into());
    let plain_lines = events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|(t, f)| t == ctx::http::ACCESS_LOG_TARGET && !f.contains_key("call_id"))
        .count();
    assert_eq!(
        plain_lines, 1,
        "the layer without the propagator logs no call id"
    );
}

/// A request seeded inside another piece of work's context (an in-process
/// call) by a layer without the call-id propagator: each request is a child
/// of that work, never a second holder of its id.
#[tokio::test]
async fn an_in_process_request_is_a_child_of_its_callers_call() {
    let svc = ServiceBuilder::new()
        // No access log: this test has no subscriber, and its callsites'
        // interest would be cached for the tests that have one.
        .layer(ContextLayer::new().access_log(None))
        .service_fn(|_req: Request<Body>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(Body::from(id())))
        });
    let seen = CALL_ID
        .scope(CallId::root(), async {
            let mut seen = Vec::new();
            for _ in 0..2 {
                let response = svc.clone().oneshot(Request::new(Body::empty())).await;
                let body = response.unwrap().into_body().collect().await.unwrap();
                seen.push(String::from_utf8(body.to_bytes().to_vec()).unwrap());
            }
            seen.push(id());
            seen
        })
        .await;
    assert_eq!(seen, ["0.1", "0.2", "0"]);
}
