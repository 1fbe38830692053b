//! Keys declared to cross process boundaries: a user's key sent by every
//! injection and restored under the same key by the next service's
//! `ContextLayer`, as a baggage member or in a header of its own; bounded,
//! validated, and dropped for untrusted callers.
//!
//! Declarations are process-wide: every test here declares the same
//! statics (declaring one again does nothing).

#![allow(clippy::disallowed_methods)] // servers are started with plain spawns, outside any request

mod support;

use axum::body::Body;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use ctx::http::{ContextLayer, PropagateLayer, Trust};
use ctx::propagation::{self, Propagated, Propagators, RemoteKey};
use ctx::Key;
use http::{HeaderMap, Request};
use http_body_util::BodyExt;
use tower::{Service, ServiceBuilder, ServiceExt};

use support::http::{client, get_with, listen, HttpClient};

static TENANT: Key<String> = Key::new("tenant");
static TENANT_REMOTE: RemoteKey<String> = RemoteKey::baggage(&TENANT, "tenant");
static SHARD: Key<u32> = Key::new("shard");
static SHARD_REMOTE: RemoteKey<u32> = RemoteKey::header(&SHARD, "x-shard");

fn declare() {
    propagation::declare(&TENANT_REMOTE).unwrap();
    propagation::declare(&SHARD_REMOTE).unwrap();
}

fn seen() -> String {
    format!(
        "tenant={} shard={} baggage={}",
        TENANT.get().unwrap_or_else(|| "-".into()),
        SHARD.get().map_or_else(|| "-".into(), |s| s.to_string()),
        Some(ctx::baggage::Baggage::current())
            .filter(|b| !b.is_empty())
            .map_or_else(|| "-".into(), |b| b.to_string()),
    )
}

#[test]
fn injection_sends_the_keys_values_and_nothing_stale() {
    declare();
    let mut headers = HeaderMap::new();
    TENANT.sync_scope("acme corp".into(), || {
        SHARD.sync_scope(7, || ctx::http::inject(&mut headers));
    });
    assert_eq!(headers["baggage"], "tenant=acme%20corp");
    assert_eq!(headers["x-shard"], "7");

    // Reused headers: the values of another context are not sent on.
    ctx::http::inject(&mut headers);
    assert!(!headers.contains_key("baggage"), "{headers:?}");
    assert!(!headers.contains_key("x-shard"), "{headers:?}");

    // The key owns its member: a baggage member of that name set by other
    // code is replaced by the key's value, or dropped without one.
    ctx::baggage::sync_scope("tenant", "stale", || {
        let out = Propagated::current();
        assert_eq!(out.baggage.get("tenant"), None);
        TENANT.sync_scope("fresh".into(), || {
            assert_eq!(Propagated::current().baggage.get("tenant"), Some("fresh"));
        });
    });
}

#[test]
fn extraction_restores_the_keys_and_drops_what_does_not_parse() {
    declare();
    let read = |pairs: &[(&'static str, &str)]| {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        let cx = propagation::extract(&h).to_context(&ctx::Context::new());
        (cx.get(&TENANT).cloned(), cx.get(&SHARD).copied())
    };
    assert_eq!(
        read(&[("baggage", "tenant=acme,other=1"), ("x-shard", " 42 ")]),
        (Some("acme".into()), Some(42))
    );
    assert_eq!(read(&[("x-shard", "not a number")]), (None, None));
    assert_eq!(
        read(&[("x-shard", "-1")]),
        (None, None),
        "u32 does not parse it"
    );
    let long = "1".repeat(propagation::MAX_REMOTE_VALUE_LEN + 1);
    assert_eq!(read(&[("x-shard", &long)]), (None, None), "over the limit");
    assert_eq!(
        read(&[("baggage", "tenant=a b")]),
        (None, None),
        "invalid baggage"
    );
    assert_eq!(read(&[]), (None, None));
}

#[test]
fn declarations_are_checked() {
    static OTHER: Key<String> = Key::new("other");
    static BAD_MEMBER: RemoteKey<String> = RemoteKey::baggage(&OTHER, "bad member");
    static BAD_HEADER: RemoteKey<String> = RemoteKey::header(&OTHER, "X-Upper");
    static SAME_NAME: RemoteKey<String> = RemoteKey::baggage(&OTHER, "tenant");
    static SAME_KEY: RemoteKey<String> = RemoteKey::header(&TENANT, "x-tenant");
    declare();
    for bad in [&BAD_MEMBER, &BAD_HEADER, &SAME_NAME, &SAME_KEY] {
        let err = propagation::declare(bad).unwrap_err();
        assert!(!err.to_string().is_empty(), "{bad:?}");
    }
    // Again: nothing happens.
    propagation::declare(&TENANT_REMOTE).unwrap();
}

#[test]
fn a_type_with_a_codec_of_its_own() {
    #[derive(Debug, PartialEq)]
    struct Plan(&'static str);
    static PLAN: Key<Plan> = Key::new("plan");
    static PLAN_REMOTE: RemoteKey<Plan> = RemoteKey::baggage_with(
        &PLAN,
        "plan",
        |s| match s {
            "gold" => Some(Plan("gold")),
            "free" => Some(Plan("free")),
            _ => None,
        },
        |p| p.0.to_owned(),
    );
    propagation::declare(&PLAN_REMOTE).unwrap();
    let mut headers = HeaderMap::new();
    PLAN.sync_scope(Plan("gold"), || ctx::http::inject(&mut headers));
    assert_eq!(headers["baggage"], "plan=gold");
    let cx = propagation::extract(&headers).to_context(&ctx::Context::new());
    assert_eq!(cx.get(&PLAN), Some(&Plan("gold")));
    headers.insert("baggage", "plan=platinum".parse().unwrap());
    let cx = propagation::extract(&headers).to_context(&ctx::Context::new());
    assert_eq!(cx.get(&PLAN), None);
}

#[derive(Clone)]
struct Front {
    back: String,
    client: HttpClient,
}

/// `/front`: sets the keys and calls the back service, from the handler and
/// from a spawned task.
async fn front(State(app): State<Front>) -> String {
    let call = |app: Front| async move {
        let mut client = ServiceBuilder::new()
            .layer(PropagateLayer::new())
            .service(app.client.clone());
        let req = Request::get(&app.back).body(Body::empty()).unwrap();
        let res = client.ready().await.unwrap().call(req).await.unwrap();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(body.to_vec()).unwrap()
    };
    let work = async move {
        let direct = call(app.clone()).await;
        let spawned = ctx::spawn(call(app)).await.unwrap();
        format!("{direct}\n{spawned}")
    };
    TENANT
        .sync_scope("eu+acme".into(), || {
            SHARD.sync_scope(3, || ctx::FutureExt::in_current_context(work))
        })
        .await
}

async fn back() -> String {
    seen()
}

async fn start(layer: ContextLayer, router: Router) -> std::net::SocketAddr {
    let (listener, addr) = listen().await;
    let app = router.layer(layer);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test]
async fn a_declared_key_crosses_two_services() {
    declare();
    let back_addr = start(ContextLayer::new(), Router::new().route("/back", get(back))).await;
    let state = Front {
        back: format!("http://{back_addr}/back"),
        client: client(),
    };
    let front_addr = start(
        ContextLayer::new(),
        Router::new().route("/front", get(front)).with_state(state),
    )
    .await;
    let (_, body) = get_with(&client(), front_addr, "/front", &[]).await;
    let want = "tenant=eu+acme shard=3 baggage=tenant=eu%2Bacme";
    assert_eq!(body, format!("{want}\n{want}"));

    // A caller's values, as any client sends them, and as the next hop
    // forwards them: the member exactly as it came.
    let sent = [("baggage", "tenant=eu+west"), ("x-shard", "9")];
    let (_, body) = get_with(&client(), back_addr, "/back", &sent).await;
    assert_eq!(body, "tenant=eu+west shard=9 baggage=tenant=eu+west");

    // An untrusted caller's values are dropped with its baggage.
    let edge = start(
        ContextLayer::new().trust(Trust::Untrusted),
        Router::new().route("/back", get(back)),
    )
    .await;
    let (_, body) = get_with(&client(), edge, "/back", &sent).await;
    assert_eq!(body, "tenant=- shard=- baggage=-");

    // A layer with propagators of its own reads the declared keys too.
    let custom = start(
        ContextLayer::new().propagators(Propagators::empty()),
        Router::new().route("/back", get(back)),
    )
    .await;
    let (_, body) = get_with(&client(), custom, "/back", &[("x-shard", "5")]).await;
    assert_eq!(body, "tenant=- shard=5 baggage=-");
}
