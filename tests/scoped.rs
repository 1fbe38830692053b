#![allow(clippy::disallowed_methods)] // plain spawns are the baseline the scopes are compared with
//! Scopes compose the way `tokio::task_local!` scopes do: a `Key::scope`
//! (and the trace and baggage scopes) adds its value to the context current
//! at its first poll, while `in_current_context` keeps capturing at the call.

mod support;

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};

use ctx::baggage::{self, Baggage};
use ctx::trace::TraceContext;
use ctx::{Context, FutureExt, Key};
use support::{hop, on_both_runtimes};

static USER: Key<&'static str> = Key::new("user");
static TENANT: Key<&'static str> = Key::new("tenant");
static REQUEST: Key<u32> = Key::new("request");

/// Polls `fut` once, on this thread, with a no-op waker.
fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    let waker = std::task::Waker::noop();
    fut.poll(&mut TaskContext::from_waker(waker))
}

/// A future that is pending once, then returns what `f` reads.
async fn after_a_pending<R>(f: impl FnOnce() -> R) -> R {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await;
    f()
}

#[tokio::test]
async fn nested_scopes_stack_like_task_locals() {
    let both = USER.scope(
        "ann",
        TENANT.scope("acme", async { (USER.get(), TENANT.get()) }),
    );
    assert_eq!(both.await, (Some("ann"), Some("acme")));

    // The same key nested: the inner value wins inside, the outer is back
    // after it.
    let seen = USER
        .scope("ann", async {
            let inner = USER.scope("bob", async { USER.get() }).await;
            (inner, USER.get())
        })
        .await;
    assert_eq!(seen, (Some("bob"), Some("ann")));

    // tokio's own task-locals, for the same shape, agree.
    tokio::task_local! {
        static T_USER: &'static str;
        static T_TENANT: &'static str;
    }
    let tokio_both = T_USER.scope(
        "ann",
        T_TENANT.scope("acme", async { (T_USER.get(), T_TENANT.get()) }),
    );
    assert_eq!(tokio_both.await, ("ann", "acme"));
}

#[tokio::test]
async fn trace_and_baggage_scopes_compose_with_key_scopes() {
    let root = TraceContext::new_root();
    let id = root.trace_id();
    let seen = USER.scope(
        "ann",
        root.scope(baggage::scope(
            "tenant",
            "acme",
            baggage::scope("region", "eu", async {
                (USER.get(), ctx::trace_id(), Baggage::current().to_string())
            }),
        )),
    );
    assert_eq!(
        seen.await,
        (Some("ann"), Some(id), "tenant=acme,region=eu".to_string())
    );

    // A whole baggage replaces the current one, at its first poll too.
    let replaced: Baggage = "x=1".parse().unwrap();
    let seen = baggage::scope(
        "tenant",
        "acme",
        replaced.scope(async { Baggage::current().to_string() }),
    );
    assert_eq!(seen.await, "x=1");
}

#[tokio::test]
async fn in_current_context_still_captures_at_the_call() {
    // Made outside any scope, polled inside one: it keeps what it captured.
    let captured = async { USER.get() }.in_current_context();
    assert_eq!(USER.scope("ann", captured).await, None);
    // Made inside one scope, polled in another: the first one's.
    let made_in_ann = USER.sync_scope("ann", || async { USER.get() }.in_current_context());
    assert_eq!(USER.scope("bob", made_in_ann).await, Some("ann"));
    // A scope made in the same places follows where it is polled.
    let scope = TENANT.scope("acme", async { (USER.get(), TENANT.get()) });
    assert_eq!(USER.scope("bob", scope).await, (Some("bob"), Some("acme")));
}

#[test]
fn a_scope_made_in_one_request_and_polled_in_another_takes_the_polling_requests_context() {
    let first = Context::new().with(&REQUEST, 1).with(&USER, "ann");
    let second = Context::new().with(&REQUEST, 2);
    // Built while request 1 is current...
    let scope =
        first.run(|| TENANT.scope("acme", async { (REQUEST.get(), USER.get(), TENANT.get()) }));
    // ...first polled while request 2 is: request 2's values and its own.
    let mut scope = pin!(scope);
    let seen = second.run(|| poll_once(scope.as_mut()));
    assert_eq!(seen, Poll::Ready((Some(2), None, Some("acme"))));
    // And the capture made in request 1 keeps request 1's, wherever polled.
    let captured = first.run(|| async { (REQUEST.get(), USER.get()) }.in_current_context());
    let seen = second.run(|| poll_once(pin!(captured)));
    assert_eq!(seen, Poll::Ready((Some(1), Some("ann"))));
    // Neither leaks into the thread.
    assert_eq!((REQUEST.get(), TENANT.get()), (None, None));
}

#[test]
fn after_its_first_poll_a_scope_keeps_its_context_wherever_it_is_polled() {
    let first = Context::new().with(&REQUEST, 1);
    let second = Context::new().with(&REQUEST, 2);
    let scope = TENANT.scope("acme", async {
        REQUEST.set(10); // a write of the scope's own, kept across the await
        after_a_pending(|| (REQUEST.get(), TENANT.get())).await
    });
    let mut scope = pin!(scope);
    assert!(
        scope.context().is_none(),
        "no context before the first poll"
    );
    assert_eq!(first.run(|| poll_once(scope.as_mut())), Poll::Pending);
    let cx = scope
        .context()
        .expect("a context after the first poll")
        .clone();
    assert_eq!(
        (cx.get(&REQUEST), cx.get(&TENANT)),
        (Some(&10), Some(&"acme"))
    );
    // Polled again in another request: still its own context.
    let seen = second.run(|| poll_once(scope.as_mut()));
    assert_eq!(seen, Poll::Ready((Some(10), Some("acme"))));
    // The requests' own contexts never saw the scope's values.
    assert_eq!((first.get(&REQUEST), first.get(&TENANT)), (Some(&1), None));
    assert_eq!(
        (second.get(&REQUEST), second.get(&TENANT)),
        (Some(&2), None)
    );
}

#[test]
fn spawned_scopes_start_from_the_task_they_run_in() {
    on_both_runtimes(|| {
        USER.scope("ann", async {
            // A plain task has no context: only the scope's own value.
            let plain = tokio::spawn(TENANT.scope("acme", async {
                hop().await;
                (USER.get(), TENANT.get())
            }));
            assert_eq!(plain.await.unwrap(), (None, Some("acme")));
            // A ctx task starts from the parent's: both.
            let kept = ctx::spawn(TENANT.scope("acme", async {
                hop().await;
                (USER.get(), TENANT.get())
            }));
            assert_eq!(kept.await.unwrap(), (Some("ann"), Some("acme")));
            // And the scope's writes stay in it, across hops.
            let own = TENANT
                .scope("acme", async {
                    USER.set("bob");
                    hop().await;
                    USER.get()
                })
                .await;
            assert_eq!(own, Some("bob"));
            assert_eq!(USER.get(), Some("ann"));
        })
    });
}

#[test]
fn a_panicking_scope_restores_the_thread() {
    let outer = Context::new().with(&USER, "ann");
    let r = std::panic::catch_unwind(|| {
        outer.run(|| {
            let scope = TENANT.scope("acme", async { panic!("the scope's future panics") });
            let _ = poll_once(pin!(scope));
        })
    });
    assert!(r.is_err());
    assert_eq!((USER.get(), TENANT.get()), (None, None));
    // Inside the outer scope, after a caught panic, the outer context is
    // current again.
    outer.run(|| {
        let r = std::panic::catch_unwind(|| {
            let scope = TENANT.scope("acme", async { panic!("again") });
            let _ = poll_once(pin!(scope));
        });
        assert!(r.is_err());
        assert_eq!((USER.get(), TENANT.get()), (Some("ann"), None));
    });
}

/// Records the tenant and user its destructor sees.
struct SeesOnDrop(Arc<Mutex<Vec<UserAndTenant>>>);

type UserAndTenant = (Option<&'static str>, Option<&'static str>);

impl Drop for SeesOnDrop {
    fn drop(&mut self) {
        self.0.lock().unwrap().push((USER.get(), TENANT.get()));
    }
}

#[test]
fn a_scopes_future_is_dropped_in_its_context_once_it_has_one() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let outer = Context::new().with(&USER, "ann");
    // Polled once: dropped in the scope's context, wherever it is dropped.
    let guard = SeesOnDrop(seen.clone());
    let mut polled = Box::pin(TENANT.scope("acme", async move {
        let _guard = guard;
        std::future::pending::<()>().await;
    }));
    assert_eq!(outer.run(|| poll_once(polled.as_mut())), Poll::Pending);
    drop(polled);
    // Never polled: it never entered its scope, and is dropped in the
    // context current at the drop.
    let guard = SeesOnDrop(seen.clone());
    let never = TENANT.scope("acme", async move {
        let _guard = guard;
    });
    outer.run(|| drop(never));
    assert_eq!(
        *seen.lock().unwrap(),
        [(Some("ann"), Some("acme")), (Some("ann"), None)]
    );
    assert_eq!((USER.get(), TENANT.get()), (None, None));
}

#[test]
fn into_inner_gives_the_future_back_without_its_scope() {
    let scope = TENANT.scope("acme", async { TENANT.get() });
    let inner = scope.into_inner();
    assert_eq!(futures::executor::block_on(inner), None);
}
