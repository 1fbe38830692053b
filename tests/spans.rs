//! `ctx::spans::carry()`: spawned work keeps the `tracing` span current at
//! the spawn, through every helper, on both runtimes; events are nested
//! under it and new spans are its children; plain `tokio::spawn` is not
//! changed; and the span closes once every child is done.
#![allow(clippy::disallowed_methods)] // plain spawns on purpose: contextless baselines, wrapped work on plain threads, servers

mod support;

use std::sync::{Arc, Mutex, OnceLock};

use ctx::{JoinSetExt, StreamExt};
use futures::StreamExt as _;
use support::{hop, on_both_runtimes};
use tracing::span::{Attributes, Id};
use tracing::{info, info_span, Instrument, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// What the recording layer saw.
#[derive(Default)]
struct Seen {
    /// (event message, names of its spans from the root), per event.
    events: Vec<(String, Vec<String>)>,
    /// (span name, parent span name), per new span.
    spans: Vec<(String, Option<String>)>,
    /// Names of the spans closed.
    closed: Vec<String>,
}

struct Record(Arc<Mutex<Seen>>);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Record {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, cx: LayerContext<'_, S>) {
        let span = cx.span(id).expect("the new span");
        let parent = span.parent().map(|p| p.name().to_string());
        let _ = attrs;
        self.0
            .lock()
            .unwrap()
            .spans
            .push((span.name().to_string(), parent));
    }

    fn on_event(&self, event: &tracing::Event<'_>, cx: LayerContext<'_, S>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                if f.name() == "message" {
                    self.0 = format!("{v:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        let scope = cx
            .event_scope(event)
            .map(|s| s.from_root().map(|s| s.name().to_string()).collect())
            .unwrap_or_default();
        self.0.lock().unwrap().events.push((message.0, scope));
    }

    fn on_close(&self, id: Id, cx: LayerContext<'_, S>) {
        let name = cx.span(&id).expect("the closing span").name().to_string();
        self.0.lock().unwrap().closed.push(name);
    }
}

/// The process-wide recorder (one per test binary), with span carrying on.
fn seen() -> &'static Arc<Mutex<Seen>> {
    static SEEN: OnceLock<Arc<Mutex<Seen>>> = OnceLock::new();
    SEEN.get_or_init(|| {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let subscriber = tracing_subscriber::registry().with(Record(seen.clone()));
        tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
        ctx::spans::carry().expect("room for the carrier");
        seen
    })
}

/// The spans of the events whose message is `message`.
fn scopes_of(message: &str) -> Vec<Vec<String>> {
    seen()
        .lock()
        .unwrap()
        .events
        .iter()
        .filter(|(m, _)| m == message)
        .map(|(_, s)| s.clone())
        .collect()
}

fn names(s: &[&str]) -> Vec<String> {
    s.iter().map(|s| s.to_string()).collect()
}

#[test]
fn spawned_work_keeps_the_span_current_at_the_spawn() {
    seen();
    let round = std::sync::atomic::AtomicUsize::new(0);
    on_both_runtimes(move || {
        let tag = format!(
            "round {}",
            round.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        async move {
            let request = info_span!("request", round = %tag);
            let (task, blocking, thread, wrapped, wrapped_fn, set, stream) =
                request.in_scope(|| {
                    let task = ctx::spawn({
                        let tag = tag.clone();
                        async move {
                            info!("{tag}: task before a hop");
                            hop().await;
                            info!("{tag}: task after a hop");
                            info_span!("child of task").in_scope(|| info!("{tag}: in child"));
                        }
                    });
                    let t = tag.clone();
                    let blocking = ctx::spawn_blocking(move || info!("{t}: blocking"));
                    let t = tag.clone();
                    let thread = ctx::thread::spawn(move || info!("{t}: thread"));
                    let t = tag.clone();
                    let wrapped = ctx::wrap(move || info!("{t}: wrapped"));
                    let t = tag.clone();
                    let wrapped_fn = ctx::wrap_fn(move |n: u32| info!("{t}: wrapped_fn {n}"));
                    let mut set = tokio::task::JoinSet::new();
                    let t = tag.clone();
                    set.ctx_spawn(async move { info!("{t}: join set") });
                    let t = tag.clone();
                    let stream = futures::stream::iter([1])
                        .then(move |_| {
                            let t = t.clone();
                            async move {
                                hop().await;
                                info!("{t}: stream")
                            }
                        })
                        .in_current_context();
                    (task, blocking, thread, wrapped, wrapped_fn, set, stream)
                });
            // A plain spawn starts outside any span.
            let t = tag.clone();
            let plain = request.in_scope(|| tokio::spawn(async move { info!("{t}: plain") }));

            task.await.unwrap();
            blocking.await.unwrap();
            thread.join().unwrap();
            std::thread::spawn(wrapped).join().unwrap();
            std::thread::spawn(move || wrapped_fn(1)).join().unwrap();
            set.join_all().await;
            stream.collect::<Vec<_>>().await;
            plain.await.unwrap();

            let request_only = names(&["request"]);
            for what in [
                "task before a hop",
                "task after a hop",
                "blocking",
                "thread",
                "wrapped",
                "wrapped_fn 1",
                "join set",
                "stream",
            ] {
                assert_eq!(
                    scopes_of(&format!("{tag}: {what}")),
                    std::slice::from_ref(&request_only),
                    "{what}"
                );
            }
            assert_eq!(
                scopes_of(&format!("{tag}: in child")),
                [names(&["request", "child of task"])]
            );
            assert_eq!(scopes_of(&format!("{tag}: plain")), [Vec::<String>::new()]);
        }
    });
    let seen = seen().lock().unwrap();
    assert!(seen
        .spans
        .iter()
        .any(|(n, p)| n == "child of task" && p.as_deref() == Some("request")));
}

#[test]
fn a_span_entered_by_instrument_reaches_the_work_spawned_inside() {
    seen();
    on_both_runtimes(|| async {
        async {
            let inner = ctx::spawn(async { info!("instrumented: spawned") });
            inner.await.unwrap();
        }
        .instrument(info_span!("handler"))
        .await;
        assert_eq!(
            scopes_of("instrumented: spawned").last().cloned(),
            Some(names(&["handler"]))
        );
    });
}

#[test]
fn the_span_closes_once_its_children_are_done() {
    seen();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let child = info_span!("outlived").in_scope(|| {
            ctx::spawn(async move {
                let _ = rx.await;
                info!("outlived: child done");
            })
        });
        // The span's own handle is gone; the child still holds it.
        hop().await;
        let closed = |seen: &Seen| seen.closed.iter().filter(|n| *n == "outlived").count();
        assert_eq!(
            closed(&seen().lock().unwrap()),
            0,
            "closed while a child runs"
        );
        tx.send(()).unwrap();
        child.await.unwrap();
        assert_eq!(
            closed(&seen().lock().unwrap()),
            1,
            "not closed after the child"
        );
    });
}

#[test]
#[ignore = "known gap, documented in ctx::spans and Key::with_replay: the drop of an Instrumented installs ctx's context but runs no replay function, so a carried span is not entered for destructors; closing it needs a replay hook shaped for drops"]
fn a_cancelled_tasks_destructors_run_inside_its_span_as_with_in_current_span() {
    seen();
    /// Logs when dropped: what a cancelled task's clean-up looks like.
    struct LogOnDrop(&'static str);
    impl Drop for LogOnDrop {
        fn drop(&mut self) {
            info!("{}", self.0);
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // tracing's own way: the future is dropped inside its span.
        let theirs = info_span!("cancelled").in_scope(|| {
            let guard = LogOnDrop("dropped: in_current_span");
            tokio::spawn(
                async move {
                    let _guard = guard;
                    std::future::pending::<()>().await;
                }
                .in_current_span(),
            )
        });
        // ctx's, which the module docs say behaves "as tracing's own
        // `.in_current_span()` would".
        let ours = info_span!("cancelled").in_scope(|| {
            let guard = LogOnDrop("dropped: ctx::spawn");
            ctx::spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await;
            })
        });
        hop().await;
        theirs.abort();
        ours.abort();
        let _ = theirs.await;
        let _ = ours.await;
    });
    assert_eq!(
        scopes_of("dropped: in_current_span"),
        [names(&["cancelled"])]
    );
    assert_eq!(scopes_of("dropped: ctx::spawn"), [names(&["cancelled"])]);
}

#[test]
fn a_capture_in_the_span_the_context_already_carries_clones_no_span() {
    seen();
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tracing::span::{Attributes as Attrs, Record as Values};
    use tracing::{Event, Metadata};

    static CLONES: AtomicUsize = AtomicUsize::new(0);
    /// The registry, counting `clone_span` (what a `Span` clone costs).
    struct Counting(tracing_subscriber::Registry);
    impl Subscriber for Counting {
        fn enabled(&self, m: &Metadata<'_>) -> bool {
            self.0.enabled(m)
        }
        fn new_span(&self, a: &Attrs<'_>) -> Id {
            self.0.new_span(a)
        }
        fn record(&self, s: &Id, v: &Values<'_>) {
            self.0.record(s, v)
        }
        fn record_follows_from(&self, s: &Id, f: &Id) {
            self.0.record_follows_from(s, f)
        }
        fn event(&self, e: &Event<'_>) {
            self.0.event(e)
        }
        fn enter(&self, s: &Id) {
            self.0.enter(s)
        }
        fn exit(&self, s: &Id) {
            self.0.exit(s)
        }
        fn clone_span(&self, s: &Id) -> Id {
            CLONES.fetch_add(1, Ordering::SeqCst);
            self.0.clone_span(s)
        }
        fn try_close(&self, s: Id) -> bool {
            self.0.try_close(s)
        }
        fn current_span(&self) -> tracing_core::span::Current {
            self.0.current_span()
        }
    }

    tracing::subscriber::with_default(Counting(tracing_subscriber::registry()), || {
        let span = info_span!("carried");
        // Inside a wrapped closure: the context carries `span`, which the
        // replay made current.
        let clones = span.in_scope(|| {
            ctx::wrap(|| {
                let before = CLONES.load(Ordering::SeqCst);
                for _ in 0..10 {
                    drop(ctx::wrap(|| ()));
                }
                CLONES.load(Ordering::SeqCst) - before
            })
        })();
        // The module docs: "one `Span` clone per capture when the span
        // differs from the one the context already carries; none when it
        // is the same".
        assert_eq!(clones, 0, "span clones for 10 captures in the same span");
    });
}

#[test]
fn a_spawn_outside_any_span_does_not_get_a_span_the_context_kept() {
    seen();
    // A context captured inside a span (it carries the span)...
    let kept = info_span!("kept").in_scope(|| ctx::wrap(ctx::Context::current))();
    // ...entered later where no span is current: `enter` installs no span.
    let _guard = kept.enter();
    assert!(tracing::Span::current().is_none());
    let child = ctx::wrap(|| tracing::Span::current().metadata().map(|m| m.name()));
    // The module docs: a capture "takes the `tracing` span current at the
    // call"; none is.
    assert_eq!(child(), None);
}
