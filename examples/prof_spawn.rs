//! Scratch: spawn+join profile (not committed).
#![allow(missing_docs, missing_debug_implementations, clippy::all)]
use std::hint::black_box;
static REQUEST: ctx::Key<u64> = ctx::Key::new("request");
async fn small(a: u64) -> u64 {
    black_box(a)
}
fn main() {
    let mut args = std::env::args().skip(1);
    let case = args.next().unwrap();
    let n: u64 = args.next().unwrap().parse().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let cx = ctx::Context::new().with(&REQUEST, 42);
    rt.block_on(rt.spawn(ctx::FutureExt::in_context(
        async move {
            if std::env::var("WARM").is_ok() {
                ctx::spawn(small(0)).await.unwrap();
            }
            for i in 0..(n + 100) {
                let v = if case == "ctx" {
                    ctx::spawn(small(i)).await.unwrap()
                } else {
                    tokio::spawn(small(i)).await.unwrap()
                };
                black_box(v);
            }
        },
        cx,
    )))
    .unwrap();
}
