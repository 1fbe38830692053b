//! No user code runs while the thread's slot is in a half-updated state:
//! destructors of context values and of futures may read and write the
//! context without panicking, and see a consistent one.

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
        // Writes and captures from a destructor are harmless.
        MARK.set("written-in-drop");
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
    let (n, drops, _seen) = noisy();
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
