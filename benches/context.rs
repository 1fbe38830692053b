//! Reading and writing the context with 1, 8 and 64 values in it, side by
//! side with opentelemetry's `Context`, which is keyed by type.
//!
//! - `capture`: `Context::current()`, the snapshot a spawn takes (includes
//!   dropping it);
//! - `capture_policy`: `Context::capture()`, what a spawn hands its child,
//!   for a context of plain keys (`plain`: no policy, the same snapshot
//!   shared), against `Context::current()` (`current`) and against the same
//!   context with one more value under a key with a fork policy (`fork`) or
//!   a local-only key (`local`), which make the child's copy;
//! - `key_get`: reading one value from the current context, `Key::get` against
//!   opentelemetry's `Context::map_current(|cx| cx.get())`, its cheapest way
//!   (no clone of the context) and `Context::current().get()`, the usual one;
//! - `get`: reading one value from a context held in hand;
//! - `with`: copy-on-write insertion of one more value into a context that
//!   holds 1, 8 or 64 (includes dropping the new context);
//! - `wrap`: calling a closure wrapped by `ctx::wrap`, which captures the
//!   context and installs it around the call, against the bare closure and the
//!   same done by hand with opentelemetry: the cost `ctx::spawn_blocking` adds
//!   to the blocking closure.
//!
//! All values are `u64`. Each size uses distinct keys (`static` keys for ctx,
//! distinct types for opentelemetry).
//!
//! Run with `cargo bench --bench context`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion};
use ctx::{Context, Key};
use opentelemetry::Context as OtelContext;

#[path = "support/stats.rs"]
mod stats;

/// The number of values in the context, per case.
const SIZES: [usize; 3] = [1, 8, 64];

/// Declares a `static` ctx key and an opentelemetry value type per pair, and
/// tables to build contexts of any size from them.
macro_rules! keys {
    ($($key:ident $otel:ident),* $(,)?) => {
        $(
            static $key: Key<u64> = Key::new(stringify!($key));

            /// An opentelemetry value: the type is the key.
            #[derive(Debug)]
            struct $otel(#[allow(dead_code)] u64);
        )*

        /// Every ctx key, in declaration order.
        static KEYS: &[&Key<u64>] = &[$(&$key),*];

        /// Inserts the value of the i-th opentelemetry type.
        static OTEL_WITH: &[fn(&OtelContext, u64) -> OtelContext] =
            &[$(|cx, v| cx.with_value($otel(v))),*];
    };
}

keys! {
    K00 V00, K01 V01, K02 V02, K03 V03, K04 V04, K05 V05, K06 V06, K07 V07,
    K08 V08, K09 V09, K10 V10, K11 V11, K12 V12, K13 V13, K14 V14, K15 V15,
    K16 V16, K17 V17, K18 V18, K19 V19, K20 V20, K21 V21, K22 V22, K23 V23,
    K24 V24, K25 V25, K26 V26, K27 V27, K28 V28, K29 V29, K30 V30, K31 V31,
    K32 V32, K33 V33, K34 V34, K35 V35, K36 V36, K37 V37, K38 V38, K39 V39,
    K40 V40, K41 V41, K42 V42, K43 V43, K44 V44, K45 V45, K46 V46, K47 V47,
    K48 V48, K49 V49, K50 V50, K51 V51, K52 V52, K53 V53, K54 V54, K55 V55,
    K56 V56, K57 V57, K58 V58, K59 V59, K60 V60, K61 V61, K62 V62, K63 V63,
    // Not in any measured context: the key `with` inserts.
    K64 V64,
}

/// A ctx context holding the first `n` keys.
fn ctx_of(n: usize) -> Context {
    KEYS[..n]
        .iter()
        .zip(0..)
        .fold(Context::new(), |cx, (&key, v)| cx.with(key, v))
}

/// An opentelemetry context holding the first `n` value types.
fn otel_of(n: usize) -> OtelContext {
    OTEL_WITH[..n]
        .iter()
        .zip(0..)
        .fold(OtelContext::new(), |cx, (with, v)| with(&cx, v))
}

fn capture(c: &mut Criterion) {
    let mut g = c.benchmark_group("capture");
    for n in SIZES {
        let cx = ctx_of(n);
        g.bench_function(BenchmarkId::new("ctx", n), |b| {
            cx.run(|| b.iter(|| black_box(Context::current())))
        });
        let _guard = otel_of(n).attach();
        g.bench_function(BenchmarkId::new("opentelemetry", n), |b| {
            b.iter(|| black_box(OtelContext::current()))
        });
    }
    g.finish();
}

/// A key with a fork policy and a local-only key, beside the plain ones.
static FORKED: Key<u64> = Key::new("forked").with_fork(|n| n + 1);
static LOCAL: Key<u64> = Key::local("local");

fn capture_policy(c: &mut Criterion) {
    let mut g = c.benchmark_group("capture_policy");
    for n in [1, 8] {
        let plain = ctx_of(n);
        g.bench_function(BenchmarkId::new("current", n), |b| {
            plain.run(|| b.iter(|| black_box(Context::current())))
        });
        g.bench_function(BenchmarkId::new("plain", n), |b| {
            plain.run(|| b.iter(|| black_box(Context::capture())))
        });
        let fork = plain.with(&FORKED, 1);
        g.bench_function(BenchmarkId::new("fork", n), |b| {
            fork.run(|| b.iter(|| black_box(Context::capture())))
        });
        let local = plain.with(&LOCAL, 1);
        g.bench_function(BenchmarkId::new("local", n), |b| {
            local.run(|| b.iter(|| black_box(Context::capture())))
        });
    }
    g.finish();
}

fn key_get(c: &mut Criterion) {
    let mut g = c.benchmark_group("key_get");
    for n in SIZES {
        let cx = ctx_of(n);
        assert_eq!(cx.run(|| K00.get()), Some(0));
        g.bench_function(BenchmarkId::new("ctx", n), |b| {
            cx.run(|| b.iter(|| black_box(K00.get())))
        });
        let _guard = otel_of(n).attach();
        g.bench_function(BenchmarkId::new("opentelemetry_map_current", n), |b| {
            b.iter(|| black_box(OtelContext::map_current(|cx| cx.get::<V00>().map(|v| v.0))))
        });
        g.bench_function(BenchmarkId::new("opentelemetry_current", n), |b| {
            b.iter(|| black_box(OtelContext::current().get::<V00>().map(|v| v.0)))
        });
    }
    g.finish();
}

fn get(c: &mut Criterion) {
    let mut g = c.benchmark_group("get");
    for n in SIZES {
        let cx = ctx_of(n);
        g.bench_function(BenchmarkId::new("ctx", n), |b| {
            b.iter(|| black_box(black_box(&cx).get(&K00).copied()))
        });
        let otel = otel_of(n);
        g.bench_function(BenchmarkId::new("opentelemetry", n), |b| {
            b.iter(|| black_box(black_box(&otel).get::<V00>().map(|v| v.0)))
        });
    }
    g.finish();
}

fn with(c: &mut Criterion) {
    let mut g = c.benchmark_group("with");
    for n in SIZES {
        let cx = ctx_of(n);
        g.bench_function(BenchmarkId::new("ctx", n), |b| {
            b.iter(|| black_box(black_box(&cx).with(&K64, 64)))
        });
        let otel = otel_of(n);
        g.bench_function(BenchmarkId::new("opentelemetry", n), |b| {
            b.iter(|| black_box(black_box(&otel).with_value(V64(64))))
        });
    }
    g.finish();
}

fn wrap(c: &mut Criterion) {
    let mut g = c.benchmark_group("wrap");
    let cx = ctx_of(1);
    let _guard = otel_of(1).attach();
    cx.run(|| {
        g.bench_function("bare", |b| {
            b.iter(|| {
                let f = || black_box(1u64);
                black_box(f())
            })
        });
        g.bench_function("ctx", |b| {
            b.iter(|| {
                let f = ctx::wrap(|| black_box(1u64));
                black_box(f())
            })
        });
        g.bench_function("opentelemetry", |b| {
            b.iter(|| {
                let cx = OtelContext::current();
                let f = move || {
                    let _guard = cx.attach();
                    black_box(1u64)
                };
                black_box(f())
            })
        });
    });
    g.finish();
}

fn main() {
    let mut c = stats::criterion(Duration::from_secs(2));
    capture(&mut c);
    capture_policy(&mut c);
    key_get(&mut c);
    get(&mut c);
    with(&mut c);
    wrap(&mut c);
    c.final_summary();
}
