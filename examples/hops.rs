//! The failure ctx fixes, and the fix, side by side.
//!
//! A request's trace id is set once, then the work hops: a spawned task, the
//! blocking pool, a std thread, a stream, a thread pool callback. With plain
//! tokio/std primitives the id is lost at every hop; with ctx's twins it is
//! kept.
//!
//! Run with:
//!
//! ```sh
//! cargo run --example hops
//! ```
#![allow(clippy::disallowed_methods)] // the plain primitives, shown losing the context beside ctx's twins

use ctx::{FutureExt, Key, StreamExt as _};
use futures::StreamExt;

static TRACE_ID: Key<String> = Key::new("trace_id");

fn show(id: Option<String>) -> String {
    id.unwrap_or_else(|| "-- lost --".into())
}

async fn request(trace_id: &'static str) {
    TRACE_ID.set(trace_id.to_string());
    println!(
        "\nrequest {trace_id}: handler sees {}",
        show(TRACE_ID.get())
    );
    println!("  {:<28} {:<20} {:<20}", "hop", "plain", "ctx");

    let plain = tokio::spawn(async { TRACE_ID.get() }).await.unwrap();
    let kept = ctx::spawn(async { TRACE_ID.get() }).await.unwrap();
    row("tokio::spawn", plain, kept);

    let plain = tokio::task::spawn_blocking(|| TRACE_ID.get())
        .await
        .unwrap();
    let kept = ctx::spawn_blocking(|| TRACE_ID.get()).await.unwrap();
    row("spawn_blocking", plain, kept);

    let plain = std::thread::spawn(|| TRACE_ID.get()).join().unwrap();
    let kept = ctx::thread::spawn(|| TRACE_ID.get()).join().unwrap();
    row("std::thread::spawn", plain, kept);

    // A stream polled later, by another task.
    let stream = futures::stream::iter([()]).map(|_| TRACE_ID.get());
    let plain = tokio::spawn(stream.collect::<Vec<_>>()).await.unwrap();
    let stream = futures::stream::iter([()]).map(|_| TRACE_ID.get());
    let kept = tokio::spawn(stream.in_current_context().collect::<Vec<_>>())
        .await
        .unwrap();
    row("stream on another task", plain[0].clone(), kept[0].clone());

    // A callback run by a pool thread (rayon, a custom executor...).
    let (tx, rx) = std::sync::mpsc::channel::<Box<dyn FnOnce() + Send>>();
    let pool = std::thread::spawn(move || {
        for job in rx {
            job();
        }
    });
    let (otx, orx) = std::sync::mpsc::channel();
    let o = otx.clone();
    tx.send(Box::new(move || o.send(TRACE_ID.get()).unwrap()))
        .unwrap();
    tx.send(Box::new(ctx::wrap(move || {
        otx.send(TRACE_ID.get()).unwrap()
    })))
    .unwrap();
    drop(tx);
    pool.join().unwrap();
    row("thread pool job", orx.recv().unwrap(), orx.recv().unwrap());
}

fn row(hop: &str, plain: Option<String>, kept: Option<String>) {
    println!("  {hop:<28} {:<20} {:<20}", show(plain), show(kept));
}

#[tokio::main]
async fn main() {
    for id in ["4bf92f3577b34da6", "a3ce929d0e0e4736"] {
        // Each request runs in its own root scope, as a server layer does.
        request(id).in_context(ctx::Context::new()).await;
    }
}
