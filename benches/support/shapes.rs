//! What the spawn-side benches share: the key and task-local each peer
//! holds, the spawned future shapes, and the driver's contexts, so that
//! `sizes` measures the wrappers `spawn` times. (Each keeps its own floor
//! type: `sizes` a `Context` beside the future, `spawn` an `Arc<u64>`; one
//! word each.)
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::hint::black_box;

use ctx::{Context, FutureExt as _, Key};
use opentelemetry::context::FutureExt as _;
use tracing::Instrument as _;

pub static REQUEST: Key<u64> = Key::new("request");

tokio::task_local! {
    pub static TASK_REQUEST: u64;
}

/// The value the opentelemetry context holds.
#[derive(Debug)]
pub struct OtelRequest(#[allow(dead_code)] pub u64);

/// A 16-byte future (`async fn`): one `u64` and the state.
pub async fn small(a: u64) -> u64 {
    black_box(a)
}

/// A 24-byte `async` block: two `u64`s and the state.
pub fn medium(a: u64) -> impl Future<Output = u64> + Send + 'static {
    let b = a + 1;
    async move { black_box(a) ^ black_box(b) }
}

/// Runs `body` inside every kind of context the benches compare (a
/// one-value `ctx` context, a one-value opentelemetry context, a tracing
/// span, a `task_local!` scope), so that each case pays the same for its
/// driver.
pub fn in_all_contexts<F: Future>(body: F) -> impl Future<Output = F::Output> {
    let cx = Context::new().with(&REQUEST, 42);
    let otel_cx = opentelemetry::Context::new().with_value(OtelRequest(42));
    TASK_REQUEST.scope(
        42,
        body.instrument(tracing::info_span!("driver"))
            .with_context(otel_cx)
            .in_context(cx),
    )
}
