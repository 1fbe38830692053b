//! Shared helpers for the integration tests.
#![allow(dead_code, unreachable_pub)]
#![allow(clippy::disallowed_methods)] // the harness's own tasks and threads (warm-up, servers), outside any context

use std::future::Future;
use std::time::Duration;

/// Runs `make()` to completion on a current-thread runtime and on a
/// multi-thread runtime (2 workers), each with its worker and blocking
/// threads warmed up first, so that a pass cannot come from fresh threads.
pub fn on_both_runtimes<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    for rt in runtimes() {
        rt.block_on(async {
            warm_up().await;
            tokio::spawn(make()).await.expect("test task panicked");
        });
    }
}

/// A current-thread and a multi-thread runtime.
pub fn runtimes() -> Vec<tokio::runtime::Runtime> {
    vec![
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(4)
            .enable_all()
            .build()
            .unwrap(),
    ]
}

/// Runs plain tasks and blocking closures so that the runtime's worker and
/// blocking-pool threads exist and have run work before the test starts.
pub async fn warm_up() {
    let mut tasks = Vec::new();
    for _ in 0..8 {
        tasks.push(tokio::task::spawn_blocking(|| {
            std::thread::sleep(Duration::from_millis(2))
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut tasks = Vec::new();
    for _ in 0..16 {
        tasks.push(tokio::spawn(async { tokio::task::yield_now().await }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

/// Yields a few times so that a multi-thread runtime may resume the task on
/// another worker.
pub async fn hop() {
    for _ in 0..3 {
        tokio::task::yield_now().await;
    }
}

#[cfg(all(feature = "http", feature = "axum", feature = "tokio"))]
pub mod http;
