//! Context across channels and queues: a [`Carried`] message takes its
//! sender's context through tokio's `mpsc`, `broadcast`, `watch` and
//! `oneshot`, `std::sync::mpsc` and a plain queue; a consumer serving many
//! requests handles each message in its own request's context and is back
//! in its own context between messages, on both runtimes.
#![allow(clippy::disallowed_methods)] // plain spawns stand for contextless consumers

mod support;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use ctx::{Carried, Context, Key};
use futures::StreamExt as _;
use support::{hop, on_both_runtimes};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

/// The request a message was sent from.
static REQUEST: Key<u32> = Key::new("request");
/// The consumer's own value, present only outside the messages.
static WORKER: Key<&'static str> = Key::new("worker");
/// A key with a fork policy: each message gets the sender's value plus one.
static DEPTH: Key<u32> = Key::new("depth").with_fork(|d| d + 1);

const REQUESTS: u32 = 64;

/// What a consumer saw while handling one message, and right after it.
#[derive(Debug, PartialEq)]
struct Seen {
    msg: u32,
    request: Option<u32>,
    worker_inside: Option<&'static str>,
    after: (Option<u32>, Option<&'static str>),
}

/// Starts `REQUESTS` concurrent requests, each in its own context, that
/// each send one message made by `send` (after hopping, so the sends
/// interleave and run on any worker).
fn start_requests<F, Fut>(send: F) -> Vec<tokio::task::JoinHandle<()>>
where
    F: Fn(u32) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    (0..REQUESTS)
        .map(|i| {
            let fut = send(i);
            tokio::spawn(REQUEST.scope(i, async move {
                hop().await;
                fut.await;
                // The sender's context is its own after the send.
                assert_eq!(REQUEST.get(), Some(i));
            }))
        })
        .collect()
}

fn check_all(mut seen: Vec<Seen>) {
    assert_eq!(seen.len(), REQUESTS as usize);
    seen.sort_by_key(|s| s.msg);
    for (i, s) in seen.iter().enumerate() {
        assert_eq!(
            *s,
            Seen {
                msg: i as u32,
                request: Some(i as u32),
                worker_inside: None,
                after: (None, Some("consumer")),
            }
        );
    }
}

#[test]
fn mpsc_consumer_handles_each_message_in_its_request() {
    on_both_runtimes(|| async {
        let (tx, mut rx) = mpsc::channel::<Carried<u32>>(8);
        let consumer = tokio::spawn(WORKER.scope("consumer", async move {
            let mut seen = Vec::new();
            while let Some(job) = rx.recv().await {
                let (msg, request, worker_inside) = job
                    .scope(|msg| async move {
                        hop().await;
                        let inside = (msg, REQUEST.get(), WORKER.get());
                        // Written while handling: stays with the message.
                        WORKER.set("leaked?");
                        hop().await;
                        assert_eq!(WORKER.get(), Some("leaked?"));
                        inside
                    })
                    .await;
                seen.push(Seen {
                    msg,
                    request,
                    worker_inside,
                    after: (REQUEST.get(), WORKER.get()),
                });
            }
            seen
        }));
        let senders = start_requests(|i| {
            let tx = tx.clone();
            async move { tx.send(Carried::new(i)).await.unwrap() }
        });
        drop(tx);
        for s in senders {
            s.await.unwrap();
        }
        check_all(consumer.await.unwrap());
    });
}

#[test]
fn worker_value_is_not_seen_inside_a_message() {
    on_both_runtimes(|| async {
        let (tx, mut rx) = mpsc::unbounded_channel::<Carried<u32>>();
        let consumer = ctx::spawn(WORKER.scope("consumer", async move {
            let mut inside = Vec::new();
            while let Some(job) = rx.recv().await {
                inside.push(job.run(|_| (REQUEST.get(), WORKER.get())));
                assert_eq!((REQUEST.get(), WORKER.get()), (None, Some("consumer")));
            }
            inside
        }));
        REQUEST.sync_scope(1, || tx.send(Carried::new(1)).unwrap());
        // A message made outside any context carries none.
        tx.send(Carried::new(2)).unwrap();
        drop(tx);
        assert_eq!(consumer.await.unwrap(), [(Some(1), None), (None, None)]);
    });
}

#[test]
fn stream_of_carried_messages() {
    on_both_runtimes(|| async {
        let (tx, mut rx) = mpsc::channel::<Carried<u32>>(4);
        let consumer = tokio::spawn(WORKER.scope("consumer", async move {
            futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
                .then(|job| {
                    job.scope(|msg| async move {
                        hop().await;
                        Seen {
                            msg,
                            request: REQUEST.get(),
                            worker_inside: WORKER.get(),
                            after: (None, None),
                        }
                    })
                })
                .map(|mut seen| {
                    seen.after = (REQUEST.get(), WORKER.get());
                    seen
                })
                .collect::<Vec<_>>()
                .await
        }));
        let senders = start_requests(|i| {
            let tx = tx.clone();
            async move { tx.send(Carried::new(i)).await.unwrap() }
        });
        drop(tx);
        for s in senders {
            s.await.unwrap();
        }
        check_all(consumer.await.unwrap());
    });
}

#[test]
fn broadcast_every_subscriber_gets_the_senders_context() {
    on_both_runtimes(|| async {
        let (tx, _) = broadcast::channel::<Carried<u32>>(REQUESTS as usize);
        let subscribers: Vec<_> = (0..3)
            .map(|_| {
                let mut rx = tx.subscribe();
                tokio::spawn(WORKER.scope("consumer", async move {
                    let mut seen = Vec::new();
                    while let Ok(job) = rx.recv().await {
                        let (msg, request, worker_inside) = job
                            .scope(|msg| async move {
                                hop().await;
                                (msg, REQUEST.get(), WORKER.get())
                            })
                            .await;
                        seen.push(Seen {
                            msg,
                            request,
                            worker_inside,
                            after: (REQUEST.get(), WORKER.get()),
                        });
                    }
                    seen
                }))
            })
            .collect();
        let senders = start_requests(|i| {
            let tx = tx.clone();
            async move {
                tx.send(Carried::new(i)).unwrap();
            }
        });
        for s in senders {
            s.await.unwrap();
        }
        drop(tx);
        for sub in subscribers {
            check_all(sub.await.unwrap());
        }
    });
}

#[test]
fn watch_value_is_read_in_the_context_of_its_last_writer() {
    on_both_runtimes(|| async {
        let (tx, mut rx) = watch::channel(Carried::with_context(0, Context::new()));
        let (ack_tx, mut ack_rx) = mpsc::unbounded_channel::<()>();
        let reader = tokio::spawn(WORKER.scope("consumer", async move {
            let mut seen = Vec::new();
            while rx.changed().await.is_ok() {
                let (msg, request) = rx.borrow_and_update().run_ref(|m| (*m, REQUEST.get()));
                assert_eq!((REQUEST.get(), WORKER.get()), (None, Some("consumer")));
                seen.push((msg, request));
                ack_tx.send(()).unwrap();
            }
            seen
        }));
        let tx = Arc::new(tx);
        for i in 1..=3 {
            // One write at a time, each from its own request, each read
            // before the next (watch keeps only the latest value).
            let tx = Arc::clone(&tx);
            tokio::spawn(REQUEST.scope(100 + i, async move {
                hop().await;
                tx.send(Carried::new(i)).unwrap();
            }))
            .await
            .unwrap();
            ack_rx.recv().await.unwrap();
        }
        drop(tx);
        let seen = reader.await.unwrap();
        assert_eq!(seen, [(1, Some(101)), (2, Some(102)), (3, Some(103))]);
    });
}

#[test]
fn oneshot_reply_carries_the_responders_context() {
    on_both_runtimes(|| async {
        // A request asks a service task for an answer; the answer comes
        // back with the service's context, the request stays in its own.
        let (req_tx, mut req_rx) = mpsc::channel::<Carried<oneshot::Sender<Carried<u32>>>>(4);
        let service = tokio::spawn(WORKER.scope("service", async move {
            while let Some(ask) = req_rx.recv().await {
                let (reply, asker) = ask.into_parts();
                let asked_by = asker.get(&REQUEST).copied();
                let answer = Carried::new(asked_by.unwrap_or(0) * 10);
                reply.send(answer).unwrap();
            }
        }));
        let askers = start_requests(|i| {
            let req_tx = req_tx.clone();
            async move {
                let (tx, rx) = oneshot::channel();
                req_tx.send(Carried::new(tx)).await.unwrap();
                let answer = rx.await.unwrap();
                assert_eq!(answer.context().get(&WORKER), Some(&"service"));
                let seen = answer
                    .scope(|n| async move {
                        hop().await;
                        (n, REQUEST.get(), WORKER.get())
                    })
                    .await;
                assert_eq!(seen, (i * 10, None, Some("service")));
            }
        });
        drop(req_tx);
        for a in askers {
            a.await.unwrap();
        }
        service.await.unwrap();
    });
}

#[test]
fn std_mpsc_worker_thread() {
    let (tx, rx) = std::sync::mpsc::channel::<Carried<u32>>();
    let worker = WORKER.sync_scope("consumer", || {
        ctx::thread::spawn(move || {
            rx.iter()
                .map(|job| Seen {
                    msg: *job.get_ref(),
                    request: job.run_ref(|_| REQUEST.get()),
                    worker_inside: job.run(|_| WORKER.get()),
                    after: (REQUEST.get(), WORKER.get()),
                })
                .collect::<Vec<_>>()
        })
    });
    let senders: Vec<_> = (0..REQUESTS)
        .map(|i| {
            let tx = tx.clone();
            std::thread::spawn(move || REQUEST.sync_scope(i, || tx.send(Carried::new(i)).unwrap()))
        })
        .collect();
    drop(tx);
    for s in senders {
        s.join().unwrap();
    }
    check_all(worker.join().unwrap());
}

#[test]
fn plain_queue_drained_by_one_task() {
    on_both_runtimes(|| async {
        let queue: Arc<Mutex<VecDeque<Carried<u32>>>> = Arc::default();
        let senders = start_requests(|i| {
            let queue = Arc::clone(&queue);
            async move { queue.lock().unwrap().push_back(Carried::new(i)) }
        });
        for s in senders {
            s.await.unwrap();
        }
        let seen = WORKER
            .scope("consumer", async move {
                let mut seen = Vec::new();
                loop {
                    let job = queue.lock().unwrap().pop_front();
                    let Some(job) = job else { break };
                    let (msg, request, worker_inside) = job
                        .scope(|msg| async move {
                            hop().await;
                            (msg, REQUEST.get(), WORKER.get())
                        })
                        .await;
                    seen.push(Seen {
                        msg,
                        request,
                        worker_inside,
                        after: (REQUEST.get(), WORKER.get()),
                    });
                }
                seen
            })
            .await;
        check_all(seen);
    });
}

#[test]
fn captured_when_made_not_when_sent() {
    let (tx, rx) = std::sync::mpsc::channel::<Carried<()>>();
    REQUEST.sync_scope(1, || {
        let job = Carried::new(());
        REQUEST.set(2);
        tx.send(job).unwrap();
        assert_eq!(REQUEST.get(), Some(2));
    });
    assert_eq!(rx.recv().unwrap().run(|()| REQUEST.get()), Some(1));
}

#[test]
fn fork_policy_applies_to_each_message() {
    let jobs: Vec<Carried<()>> = DEPTH.sync_scope(1, || (0..2).map(|_| Carried::new(())).collect());
    for job in jobs {
        assert_eq!(job.run(|()| DEPTH.get()), Some(2));
    }
    // `map` keeps the context, `into_inner` drops it.
    let job = DEPTH.sync_scope(5, || Carried::new(1u8)).map(u32::from);
    assert_eq!(job.context().get(&DEPTH), Some(&6));
    assert_eq!(job.into_inner(), 1);
}

#[test]
fn panicking_handler_leaves_the_consumer_in_its_own_context() {
    on_both_runtimes(|| async {
        use futures::FutureExt as _;
        let job = REQUEST.sync_scope(7, || Carried::new(()));
        WORKER
            .scope("consumer", async move {
                let caught = std::panic::AssertUnwindSafe(job.scope(|()| async {
                    hop().await;
                    assert_eq!(REQUEST.get(), Some(7));
                    panic!("job failed");
                }))
                .catch_unwind()
                .await;
                assert!(caught.is_err());
                assert_eq!((REQUEST.get(), WORKER.get()), (None, Some("consumer")));
            })
            .await;
    });
}

#[test]
fn one_context_wider_than_the_message_and_send_sync() {
    fn send_sync_clone<T: Send + Sync + Clone + Unpin>() {}
    send_sync_clone::<Carried<u64>>();
    assert_eq!(
        std::mem::size_of::<Carried<u64>>(),
        std::mem::size_of::<u64>() + std::mem::size_of::<Context>()
    );
}

thread_local! {
    /// Another system's per-thread value, carried by a registered carrier.
    static LOCALE: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

static LOCALE_KEY: Key<u32> = Key::new("locale").with_replay(|locale, run| {
    struct Restore(u32);
    impl Drop for Restore {
        fn drop(&mut self) {
            LOCALE.set(self.0);
        }
    }
    let _restore = Restore(LOCALE.replace(*locale));
    run();
});

static LOCALES: ctx::carry::Carrier = ctx::carry::Carrier::new("locale", |cx| {
    let locale = LOCALE.get();
    (locale != 0 && cx.get(&LOCALE_KEY) != Some(&locale)).then(|| cx.with(&LOCALE_KEY, locale))
});

#[test]
fn a_carried_thread_local_follows_the_message() {
    ctx::carry::register(&LOCALES).unwrap();
    LOCALE.set(5);
    let job = Carried::new(());
    LOCALE.set(0);

    // Replayed around `run` on another thread, and restored after it.
    let (tx, rx) = std::sync::mpsc::channel::<Carried<()>>();
    tx.send(job.clone()).unwrap();
    let seen = std::thread::spawn(move || {
        let job = rx.recv().unwrap();
        let inside = job.run_ref(|()| LOCALE.get());
        (inside, job.run(|()| LOCALE.get()), LOCALE.get())
    })
    .join()
    .unwrap();
    assert_eq!(seen, (5, 5, 0));

    // Replayed around every poll of `scope`.
    on_both_runtimes(move || {
        let job = job.clone();
        async move {
            let inside = job
                .scope(|()| async {
                    hop().await;
                    LOCALE.get()
                })
                .await;
            assert_eq!((inside, LOCALE.get()), (5, 0));
        }
    });
}
