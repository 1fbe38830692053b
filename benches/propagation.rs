//! Extract from and inject into an `http::HeaderMap`, ctx's propagators side
//! by side with the `opentelemetry` crate's (`opentelemetry_sdk`'s W3C trace
//! context and baggage propagators, `opentelemetry-propagator-b3`),
//! for each header ctx reads and writes: `traceparent`, `tracestate`,
//! `baggage`, `b3` and `X-B3-*`.
//!
//! Run with `cargo bench --bench propagation`; the results are recorded in
//! the "Propagation" section of `BENCHMARKS.md`.
//!
//! Both sides get the same headers, and the set-up checks that they read the
//! same ids, flags, trace state and baggage from them and write the same
//! headers, so each row compares the same work, but one: in "b3 single
//! inject" the reference writes the `X-B3-*` headers too (see
//! `check_same_work`), so that row times unequal work; "b3 single+multi"
//! compares the same output.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use http::{HeaderMap, HeaderName, HeaderValue};

use ctx::propagation::{
    B3Propagator, BaggagePropagator, Propagated, Propagator, TraceContextPropagator,
};

use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry::Context as OtelContext;
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_propagator_b3::{B3Encoding, Propagator as OtelB3};

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACESTATE: &str =
    "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7,fw529a3039@dt=FIO,dd=s:1;o:rum;t.dm:-0";
const BAGGAGE: &str = "userId=alice,serverNode=DF%2028,isProduction=false,tenant=acme;pii=no";
const B3_SINGLE: &str = "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1";

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for &(k, v) in pairs {
        h.append(HeaderName::from_static(k), HeaderValue::from_static(v));
    }
    h
}

/// One row: a header set, ctx's propagator and the reference one.
struct Row {
    name: &'static str,
    input: HeaderMap,
    ctx: Box<dyn Propagator>,
    otel: Box<dyn TextMapPropagator + Send + Sync>,
}

fn rows() -> Vec<Row> {
    vec![
        Row {
            name: "traceparent",
            input: headers(&[("traceparent", TRACEPARENT)]),
            ctx: Box::new(TraceContextPropagator::new()),
            otel: Box::new(opentelemetry_sdk::propagation::TraceContextPropagator::new()),
        },
        Row {
            name: "traceparent+tracestate",
            input: headers(&[("traceparent", TRACEPARENT), ("tracestate", TRACESTATE)]),
            ctx: Box::new(TraceContextPropagator::new()),
            otel: Box::new(opentelemetry_sdk::propagation::TraceContextPropagator::new()),
        },
        Row {
            name: "baggage",
            input: headers(&[("baggage", BAGGAGE)]),
            ctx: Box::new(BaggagePropagator::new()),
            otel: Box::new(opentelemetry_sdk::propagation::BaggagePropagator::new()),
        },
        Row {
            name: "b3 single",
            input: headers(&[("b3", B3_SINGLE)]),
            ctx: Box::new(B3Propagator::single()),
            otel: Box::new(OtelB3::with_encoding(B3Encoding::SingleHeader)),
        },
        Row {
            name: "b3 single+multi",
            input: headers(&[("b3", B3_SINGLE)]),
            ctx: Box::new(B3Propagator::with_encoding(
                ctx::propagation::B3Encoding::SingleAndMulti,
            )),
            otel: Box::new(OtelB3::with_encoding(B3Encoding::SingleAndMultiHeader)),
        },
        Row {
            name: "b3 multi",
            input: headers(&[
                ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
                ("x-b3-spanid", "e457b5a2e4d86bd1"),
                ("x-b3-sampled", "1"),
            ]),
            ctx: Box::new(B3Propagator::multi()),
            otel: Box::new(OtelB3::with_encoding(B3Encoding::MultipleHeader)),
        },
    ]
}

fn ctx_extract(p: &dyn Propagator, h: &HeaderMap) -> Propagated {
    let mut out = Propagated::new();
    p.extract(h, &mut out);
    out
}

fn otel_extract(p: &dyn TextMapPropagator, h: &HeaderMap) -> OtelContext {
    p.extract(&HeaderExtractor(h))
}

/// Both sides read the same thing from the row's headers and write the same
/// headers back.
fn check_same_work(row: &Row) {
    let ours = ctx_extract(&*row.ctx, &row.input);
    let theirs = otel_extract(&*row.otel, &row.input);
    if let Some(t) = &ours.trace {
        let sc = theirs.span().span_context().clone();
        assert!(sc.is_valid(), "{}: the reference read no span", row.name);
        assert_eq!(
            t.trace_id().to_string(),
            sc.trace_id().to_string(),
            "{}",
            row.name
        );
        assert_eq!(
            t.span_id().to_string(),
            sc.span_id().to_string(),
            "{}",
            row.name
        );
        assert_eq!(t.is_sampled(), sc.is_sampled(), "{}", row.name);
        assert_eq!(
            t.state().header(),
            sc.trace_state().header(),
            "{}",
            row.name
        );
    } else {
        let ours: Vec<(String, String)> = ours
            .baggage
            .iter()
            .map(|m| (m.key().to_owned(), m.value().to_owned()))
            .collect();
        let theirs: Vec<(String, String)> = {
            let mut v: Vec<(String, String)> = theirs
                .baggage()
                .iter()
                .map(|(k, (v, _))| (k.to_string(), v.to_string()))
                .collect();
            // The reference keeps baggage in a hash map.
            v.sort_by_key(|(k, _)| ours.iter().position(|(o, _)| o == k));
            v
        };
        assert!(!ours.is_empty(), "{}: ctx read no baggage", row.name);
        assert_eq!(ours, theirs, "{}", row.name);
    }

    let mut ours_out = HeaderMap::new();
    row.ctx
        .inject(&ctx_extract(&*row.ctx, &row.input), &mut ours_out);
    let mut theirs_out = HeaderMap::new();
    row.otel.inject_context(
        &otel_extract(&*row.otel, &row.input),
        &mut HeaderInjector(&mut theirs_out),
    );
    if row.name == "baggage" {
        // The reference writes members in hash-map order: compare as sets.
        let split = |h: &HeaderMap| {
            let mut v: Vec<String> = h["baggage"]
                .to_str()
                .unwrap()
                .split(',')
                .map(str::to_owned)
                .collect();
            v.sort();
            v
        };
        assert_eq!(split(&ours_out), split(&theirs_out), "{}", row.name);
    } else {
        // The reference also writes an empty `tracestate`; ctx leaves it out.
        if theirs_out.get("tracestate").is_some_and(|v| v.is_empty()) {
            theirs_out.remove("tracestate");
        }
        if row.name == "b3 single" {
            // The reference's `SingleHeader` encoding writes the `X-B3-*`
            // headers as well: its check for the `UnSpecified` encoding
            // (`encoding & 0 == 0`) is always true. The "b3 single+multi"
            // row compares equal output.
            for name in ["x-b3-traceid", "x-b3-spanid", "x-b3-sampled"] {
                assert!(theirs_out.remove(name).is_some(), "{}: {name}", row.name);
            }
        }
        assert_eq!(ours_out, theirs_out, "{}: injected headers", row.name);
    }
}

fn bench(c: &mut Criterion) {
    for row in rows() {
        check_same_work(&row);

        let mut g = c.benchmark_group(format!("{} extract", row.name));
        g.bench_function("ctx", |b| {
            b.iter(|| ctx_extract(&*row.ctx, black_box(&row.input)))
        });
        g.bench_function("opentelemetry", |b| {
            b.iter(|| otel_extract(&*row.otel, black_box(&row.input)))
        });
        g.finish();

        // Inject what was extracted, into a fresh map each time (a client
        // builds a new request per call).
        let ours = ctx_extract(&*row.ctx, &row.input);
        let theirs = otel_extract(&*row.otel, &row.input);
        let mut g = c.benchmark_group(format!("{} inject", row.name));
        g.bench_function("ctx", |b| {
            b.iter(|| {
                let mut h = HeaderMap::new();
                row.ctx.inject(black_box(&ours), &mut h);
                h
            })
        });
        g.bench_function("opentelemetry", |b| {
            b.iter(|| {
                let mut h = HeaderMap::new();
                row.otel
                    .inject_context(black_box(&theirs), &mut HeaderInjector(&mut h));
                h
            })
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
