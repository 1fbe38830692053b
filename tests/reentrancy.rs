//! No user code runs while the thread's slot is in a half-updated state:
//! destructors of context values and of futures may read and write the
//! context without panicking, and see a consistent one.
#![allow(clippy::disallowed_methods)] // plain spawns on purpose: contextless baselines, wrapped work on plain threads, servers

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ctx::{Context, FutureExt, Key};

static MARK: Key<&'static str> = Key::new("mark");
static NOISY: Key<Noisy> = Key::new("noisy");

type Seen = Arc<Mutex<Vec<Option<&'static str>>>>;

/// A context value whose destructor uses the context.
struct Noisy {
    drops: Arc<AtomicUsize>,
    seen: Seen,
}

impl Drop for Noisy {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        self.seen.lock().unwrap().push(MARK.get());
        // Writes and captures from a destructor are harmless. (`try_set`:
        // a destructor may run where no scope is open.)
        let _ = MARK.try_set("written-in-drop");
        let cx = Context::current();
        cx.run(|| NOISY.with(|_| ()));
    }
}

fn noisy() -> (Noisy, Arc<AtomicUsize>, Seen) {
    let drops = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(Vec::new()));
    (
        Noisy {
            drops: drops.clone(),
            seen: seen.clone(),
        },
        drops,
        seen,
    )
}

#[test]
fn value_dropped_by_set_sees_the_new_context() {
    let (n, drops, seen) = noisy();
    Context::new().run(|| {
        NOISY.set(n);
        MARK.set("before");
        let (n2, _, _) = noisy();
        // Replacing the last reference drops the old value: after the slot
        // holds the new snapshot.
        NOISY.set(n2);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        assert_eq!(*seen.lock().unwrap(), [Some("before")]);
        // The destructor's write landed in the scope, consistently.
        assert_eq!(MARK.get(), Some("written-in-drop"));
        assert!(NOISY.is_set());
    });
}

#[test]
fn value_dropped_when_a_guard_restores() {
    let (n, drops, seen) = noisy();
    let outer = Context::new().with(&MARK, "outer");
    outer.run(|| {
        Context::new().with(&MARK, "inner").run(|| NOISY.set(n));
        // The inner scope's snapshot was the last owner: its value dropped
        // after the outer context was back in place.
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        assert_eq!(*seen.lock().unwrap(), [Some("outer")]);
        assert_eq!(MARK.get(), Some("written-in-drop"));
    });
    assert_eq!(MARK.get(), None);
}

#[test]
fn value_dropped_after_the_last_poll() {
    let (n, drops, seen) = noisy();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let out = async {
            NOISY.set(n);
            tokio::task::yield_now().await;
            MARK.get()
        }
        .in_context(Context::new().with(&MARK, "task"))
        .await;
        assert_eq!(out, Some("task"));
        // The task's context (and the value in it) is dropped when the
        // finished future is, after the thread has its own context back:
        // here, none.
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        assert_eq!(*seen.lock().unwrap(), [None]);
    });
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn future_drop_may_spawn_and_capture() {
    struct SpawnOnDrop(Arc<Mutex<Option<Option<&'static str>>>>);
    impl Drop for SpawnOnDrop {
        fn drop(&mut self) {
            let job = ctx::wrap(|| MARK.get());
            *self.0.lock().unwrap() = Some(std::thread::spawn(job).join().unwrap());
        }
    }
    let seen = Arc::new(Mutex::new(None));
    let probe = SpawnOnDrop(seen.clone());
    let fut = async move {
        let _probe = probe;
    }
    .in_context(Context::new().with(&MARK, "dropping"));
    drop(fut);
    assert_eq!(*seen.lock().unwrap(), Some(Some("dropping")));
}

/// A thread-local whose destructor uses the context while the thread exits:
/// the slot has no destructor of its own, so it is still there.
/// It reports what it saw (inside a scope, inside the future's drop, and
/// afterwards) to the test: a panic in a thread-local's destructor would
/// abort the process rather than fail the test.
struct UsesContextOnExit(std::sync::mpsc::Sender<[Option<&'static str>; 3]>);

impl Drop for UsesContextOnExit {
    fn drop(&mut self) {
        let seen = Context::new().with(&MARK, "exiting").run(|| MARK.get());
        // Dropping an instrumented future installs its context for the drop,
        // with the parking stack possibly gone already.
        let dropped = Arc::new(Mutex::new(None));
        struct Probe(Arc<Mutex<Option<&'static str>>>);
        impl Drop for Probe {
            fn drop(&mut self) {
                *self.0.lock().unwrap() = MARK.get();
            }
        }
        let probe = Probe(dropped.clone());
        let fut = async move {
            let _probe = probe;
        }
        .in_context(Context::new().with(&MARK, "future"));
        drop(fut);
        let in_drop = *dropped.lock().unwrap();
        let _ = self.0.send([seen, in_drop, MARK.get()]);
    }
}

thread_local! {
    static ON_EXIT: std::cell::RefCell<Option<UsesContextOnExit>> =
        const { std::cell::RefCell::new(None) };
}

#[test]
fn context_works_in_thread_local_destructors() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        ON_EXIT.with(|slot| *slot.borrow_mut() = Some(UsesContextOnExit(tx)));
    })
    .join()
    .expect("the exiting thread must not panic");
    let [seen, in_drop, after] = rx.recv().unwrap();
    assert_eq!(seen, Some("exiting"));
    // Nothing is left installed on the thread.
    assert_eq!(after, None);
    // The future's drop sees its own context (the parking stack is made, or
    // made again, during the thread's teardown).
    assert_eq!(in_drop, Some("future"));
}
