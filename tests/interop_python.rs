//! Cross-implementation check of ctx's wire formats against the OpenTelemetry
//! Python reference propagators (W3C Trace Context, W3C Baggage, B3 single
//! and multi header), in both directions.
//!
//! The test installs the pinned packages of `tests/interop/requirements.txt`
//! into a virtual environment under cargo's `target/tmp` the first time it
//! runs (and again whenever that file changes), then starts
//! `tests/interop/otel_peer.py` and talks JSON to it over stdin and stdout.
//! It needs `python3` with the `venv` module and access to PyPI for that
//! first install; without them it fails and says why. See
//! `tests/interop/README.md`.
//!
//! Every difference between ctx and the reference that this test knows of is
//! pinned with its exact inputs and both outcomes, in [`known_differences`]
//! (what each side reads) and [`known_difference_reference_writes_space_as_plus`]
//! (what the reference writes); any other difference fails the test.

use std::env;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use ctx::baggage::{Baggage, Member};
use ctx::propagation::{
    B3Propagator, BaggagePropagator, Propagated, Propagator, TraceContextPropagator,
};
use ctx::trace::{SpanId, TraceContext, TraceFlags, TraceId, TraceState};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{json, Value};

/// How many generated cases each direction of each format checks.
const CASES: usize = 400;

// ---------------------------------------------------------------------------
// The Python side: virtual environment and peer process.

// The virtual environment, shared with tests/interop_grpc.rs.
#[path = "support/python.rs"]
mod python;

use python::{requirements_path, venv, venv_python, HELP, MANIFEST_DIR};

/// The running `otel_peer.py`.
struct Peer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Peer {
    fn start() -> Peer {
        let script = Path::new(MANIFEST_DIR).join("tests/interop/otel_peer.py");
        let mut child = Command::new(venv_python(venv()))
            .arg(&script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}\n{HELP}", script.display()));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Peer {
            child,
            stdin,
            stdout,
        }
    }

    fn call(&mut self, request: Value) -> Value {
        let mut line = request.to_string();
        line.push('\n');
        self.stdin
            .write_all(line.as_bytes())
            .expect("write to the Python peer");
        self.stdin.flush().expect("flush to the Python peer");
        let mut answer = String::new();
        let n = self
            .stdout
            .read_line(&mut answer)
            .expect("read from the Python peer");
        assert!(n > 0, "the Python peer exited; request was {request}");
        let answer: Value = serde_json::from_str(&answer).expect("the Python peer answers JSON");
        assert_eq!(
            answer["ok"],
            json!(true),
            "the Python peer failed on {request}:\n{}",
            answer["error"].as_str().unwrap_or_default()
        );
        answer
    }

    fn extract(&mut self, format: Format, headers: &[(String, String)]) -> Outcome {
        let answer =
            self.call(json!({"op": "extract", "format": format.name(), "headers": headers}));
        Outcome::from_json(&answer)
    }

    fn inject(
        &mut self,
        format: Format,
        span: Option<&Span>,
        baggage: &[(String, String)],
    ) -> Vec<(String, String)> {
        let answer = self.call(json!({
            "op": "inject",
            "format": format.name(),
            "span": span.map(Span::to_json),
            "baggage": baggage,
        }));
        pairs_from_json(&answer["headers"])
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// A format-neutral view of what a propagator read, to compare the two sides.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    TraceContext,
    Baggage,
    B3Single,
    B3Multi,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::TraceContext => "tracecontext",
            Format::Baggage => "baggage",
            Format::B3Single => "b3single",
            Format::B3Multi => "b3multi",
        }
    }

    fn propagator(self) -> Box<dyn Propagator> {
        match self {
            Format::TraceContext => Box::new(TraceContextPropagator::new()),
            Format::Baggage => Box::new(BaggagePropagator::new()),
            Format::B3Single => Box::new(B3Propagator::single()),
            Format::B3Multi => Box::new(B3Propagator::multi()),
        }
    }
}

/// The span fields both implementations expose: ids as lowercase hex, the
/// flag byte and the `tracestate` members in order.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Span {
    trace_id: String,
    span_id: String,
    flags: u8,
    tracestate: Vec<(String, String)>,
}

impl Span {
    fn from_ctx(t: &TraceContext) -> Span {
        Span {
            trace_id: t.trace_id().to_string(),
            span_id: t.span_id().to_string(),
            flags: t.flags().bits(),
            tracestate: t
                .state()
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }
    }

    fn from_json(v: &Value) -> Option<Span> {
        if v.is_null() {
            return None;
        }
        Some(Span {
            trace_id: v["trace_id"].as_str().expect("trace_id").to_owned(),
            span_id: v["span_id"].as_str().expect("span_id").to_owned(),
            flags: u8::try_from(v["flags"].as_u64().expect("flags")).expect("flags fit a byte"),
            tracestate: pairs_from_json(&v["tracestate"]),
        })
    }

    fn to_json(&self) -> Value {
        json!({
            "trace_id": self.trace_id,
            "span_id": self.span_id,
            "flags": self.flags,
            "tracestate": self.tracestate,
        })
    }

    /// What B3 carries of this span: the sampling decision, and no
    /// tracestate.
    fn b3(&self) -> Span {
        Span {
            flags: self.flags & TraceFlags::SAMPLED.bits(),
            tracestate: vec![],
            ..self.clone()
        }
    }

    fn to_ctx(&self) -> TraceContext {
        TraceContext::new(
            self.trace_id.parse().expect("valid trace id"),
            self.span_id.parse().expect("valid span id"),
            TraceFlags::new(self.flags),
        )
        .with_state(tracestate_of(&self.tracestate))
    }
}

/// What one side extracted from a set of headers.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Outcome {
    span: Option<Span>,
    baggage: Vec<(String, String)>,
}

impl Outcome {
    fn from_json(v: &Value) -> Outcome {
        Outcome {
            span: Span::from_json(&v["span"]),
            baggage: pairs_from_json(&v["baggage"]),
        }
    }
}

/// The reference has no model of baggage properties: it keeps a member's
/// properties as part of its value string (`v;p=1`), percent-decoded as a
/// whole. This renders a ctx member the same way, so the two can be compared.
fn python_view(m: &Member) -> String {
    let mut s = m.value().to_owned();
    for p in m.properties() {
        s.push(';');
        s.push_str(p.key());
        if let Some(v) = p.value() {
            s.push('=');
            s.push_str(v);
        }
    }
    s
}

fn pairs_from_json(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .expect("a list of pairs")
        .iter()
        .map(|p| {
            (
                p[0].as_str().expect("pair name").to_owned(),
                p[1].as_str().expect("pair value").to_owned(),
            )
        })
        .collect()
}

fn header_map(pairs: &[(String, String)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).expect("header name"),
            HeaderValue::from_str(v).expect("header value"),
        );
    }
    h
}

fn header_pairs(h: &HeaderMap) -> Vec<(String, String)> {
    h.iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                v.to_str().expect("visible ASCII header").to_owned(),
            )
        })
        .collect()
}

/// A valid `tracestate` built from its `key=value` members.
fn tracestate_of(list: &[(String, String)]) -> TraceState {
    let header: Vec<String> = list.iter().map(|(k, v)| format!("{k}={v}")).collect();
    TraceState::parse(header.join(",").as_bytes()).expect("valid tracestate")
}

/// Baggage as the reference shows it: each key with its value and
/// properties.
fn baggage_view(baggage: &Baggage) -> Vec<(String, String)> {
    baggage
        .iter()
        .map(|m| (m.key().to_owned(), python_view(m)))
        .collect()
}

/// What ctx extracts from `headers` with the propagator for `format`.
fn ctx_extract(format: Format, headers: &[(String, String)]) -> Outcome {
    let mut out = Propagated::new();
    format.propagator().extract(&header_map(headers), &mut out);
    Outcome {
        span: out.trace.as_ref().map(Span::from_ctx),
        baggage: baggage_view(&out.baggage),
    }
}

/// The headers ctx injects for `fields` with the propagator for `format`.
fn ctx_inject(format: Format, fields: &Propagated) -> Vec<(String, String)> {
    let mut h = HeaderMap::new();
    format.propagator().inject(fields, &mut h);
    header_pairs(&h)
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

// ---------------------------------------------------------------------------
// ctx's side of the generated cases.

/// SplitMix64: small, seedable, good enough to pick test inputs. The seed is
/// printed with every failure; set CTX_INTEROP_SEED to replay it.
struct Rng(u64);

impl Rng {
    fn from_env(salt: u64) -> (Rng, u64) {
        let seed = match env::var("CTX_INTEROP_SEED") {
            Ok(s) => s.parse().expect("CTX_INTEROP_SEED is a u64"),
            Err(_) => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("clock")
                .as_nanos() as u64,
        };
        (Rng(seed ^ salt), seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn string(&mut self, alphabet: &[char], len: usize) -> String {
        (0..len).map(|_| self.pick(alphabet)).collect()
    }
}

fn chars(s: &str) -> Vec<char> {
    s.chars().collect()
}

const LCALPHA: &str = "abcdefghijklmnopqrstuvwxyz";
const DIGIT: &str = "0123456789";

/// A `tracestate` list inside the key grammar both sides accept (the W3C
/// Level 1 grammar, which the reference implements; ctx's Level 2 grammar is
/// a superset, see [`known_differences`]).
fn random_tracestate(rng: &mut Rng) -> Vec<(String, String)> {
    let key_chars = chars(&format!("{LCALPHA}{DIGIT}_-*/"));
    let first = chars(LCALPHA);
    let tenant_first = chars(&format!("{LCALPHA}{DIGIT}"));
    let value_chars: Vec<char> = (0x21u8..0x7f)
        .map(char::from)
        .filter(|c| *c != ',' && *c != '=')
        .collect();
    let mut inner_chars = value_chars.clone();
    inner_chars.extend([' ', ' ']);

    let n = rng.pick(&[0, 1, 1, 2, 3, 5, 8, 32]);
    let mut out: Vec<(String, String)> = Vec::new();
    while out.len() < n {
        let key = if rng.chance(30) {
            let tenant_len = rng.below(21);
            let system_len = rng.below(14);
            format!(
                "{}{}@{}{}",
                rng.pick(&tenant_first),
                rng.string(&key_chars, tenant_len),
                rng.pick(&first),
                rng.string(&key_chars, system_len)
            )
        } else {
            let len = rng.below(31);
            format!("{}{}", rng.pick(&first), rng.string(&key_chars, len))
        };
        if out.iter().any(|(k, _)| *k == key) {
            continue;
        }
        let len = if n <= 8 {
            rng.pick(&[1, 2, 8, 16, 64, 256])
        } else {
            rng.pick(&[1, 2, 8, 16, 64])
        };
        let value = format!(
            "{}{}",
            rng.string(&inner_chars, len - 1),
            rng.pick(&value_chars)
        );
        out.push((key, value));
    }
    out
}

/// Baggage keys: `token` characters, less `%` and `+`, which the reference
/// percent-decodes in keys (see [`known_differences`]).
const BAGGAGE_KEY_CHARS: &str =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$&'*-.^_`|~";
/// Characters for the ends of a value: the reference strips whitespace from
/// both ends of a decoded value, so spaces and tabs go only inside.
const BAGGAGE_VALUE_ENDS: &str = "az09=,;%+&/:?#\"\\'!*()[]{}<>@$^`|~._-\u{e9}\u{fc}\u{df}\u{4e2d}\u{6587}\u{416}\u{1f600}\u{2603}";

fn random_baggage(rng: &mut Rng) -> Baggage {
    let key_chars = chars(BAGGAGE_KEY_CHARS);
    let ends = chars(BAGGAGE_VALUE_ENDS);
    let mut inner = ends.clone();
    inner.extend([' ', ' ', ' ', '\t']);
    let value = |rng: &mut Rng| -> String {
        match rng.below(4) {
            0 => String::new(),
            1 => rng.string(&ends, 1),
            _ => {
                let len = rng.below(24);
                format!(
                    "{}{}{}",
                    rng.pick(&ends),
                    rng.string(&inner, len),
                    rng.pick(&ends)
                )
            }
        }
    };
    let n = rng.pick(&[1, 1, 2, 3, 6, 12]);
    let mut baggage = Baggage::new();
    while baggage.len() < n {
        let key_len = 1 + rng.below(16);
        let key = rng.string(&key_chars, key_len);
        let mut member = Member::new(key, value(rng)).expect("a token key");
        if rng.chance(25) {
            for _ in 0..1 + rng.below(3) {
                let pkey_len = 1 + rng.below(8);
                let pkey = rng.string(&chars(&format!("{LCALPHA}{DIGIT}")), pkey_len);
                let pvalue = if rng.chance(30) {
                    None
                } else {
                    // A property value ends the member's string in the
                    // reference's view, so keep whitespace inside it too.
                    Some(format!("{}{}", rng.pick(&ends), value(rng)))
                };
                member = member
                    .with_property(pkey, pvalue)
                    .expect("a token property key");
            }
        }
        baggage.insert_member(member);
    }
    baggage
}

fn random_trace(rng: &mut Rng, format: Format) -> TraceContext {
    let mut t = TraceContext::new_root();
    if rng.chance(30) {
        t = t.child();
    }
    t = t.with_flags(TraceFlags::new(rng.below(4) as u8));
    if format != Format::TraceContext && rng.chance(25) {
        // A trace id with the high 64 bits zero, as a 64-bit B3 id becomes.
        let trace_id = TraceId::from_u128(u128::from(SpanId::random().to_u64())).expect("non-zero");
        t = TraceContext::new(trace_id, t.span_id(), t.flags())
            .with_parent_span_id(t.parent_span_id());
    }
    if format == Format::TraceContext {
        t = t.with_state(tracestate_of(&random_tracestate(rng)));
    }
    t
}

/// What the reference must read from the headers ctx wrote for `fields`.
fn expected_by_python(format: Format, fields: &Propagated) -> Outcome {
    let span = fields.trace.as_ref().map(|t| {
        let s = Span::from_ctx(t);
        if format == Format::TraceContext {
            s
        } else {
            s.b3()
        }
    });
    Outcome {
        span,
        baggage: baggage_view(&fields.baggage),
    }
}

// ---------------------------------------------------------------------------
// The checks.

#[test]
fn reference_versions_are_the_pinned_ones() {
    let mut peer = Peer::start();
    let info = peer.call(json!({"op": "info"}));
    let requirements = fs::read_to_string(requirements_path()).unwrap();
    for name in [
        "opentelemetry-api",
        "opentelemetry-sdk",
        "opentelemetry-propagator-b3",
    ] {
        let version = info["versions"][name]
            .as_str()
            .unwrap_or_else(|| panic!("{name} is installed"));
        assert!(
            requirements
                .lines()
                .any(|l| l.trim() == format!("{name}=={version}")),
            "{name} {version} is not the version pinned in requirements.txt"
        );
    }
}

/// ctx injects generated contexts; the reference must extract exactly them.
fn ctx_to_python(format: Format, salt: u64) {
    let (mut rng, seed) = Rng::from_env(salt);
    let mut peer = Peer::start();
    for i in 0..CASES {
        let fields = if format == Format::Baggage {
            Propagated::new().with_baggage(random_baggage(&mut rng))
        } else {
            Propagated::new().with_trace(random_trace(&mut rng, format))
        };
        let headers = ctx_inject(format, &fields);
        assert!(!headers.is_empty(), "ctx injected nothing for {fields:?}");
        let got = peer.extract(format, &headers);
        let want = expected_by_python(format, &fields);
        assert_eq!(
            got,
            want,
            "{} ctx -> Python, case {i} (CTX_INTEROP_SEED={seed}): headers {headers:?}",
            format.name()
        );
    }
}

/// The reference generates and injects contexts (ids from the SDK's
/// `RandomIdGenerator`); ctx must extract exactly them.
fn python_to_ctx(format: Format, salt: u64) {
    let (_, seed) = Rng::from_env(salt);
    let mut peer = Peer::start();
    let answer = peer.call(
        json!({"op": "generate", "format": format.name(), "seed": seed >> 11, "count": CASES}),
    );
    let cases = answer["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), CASES);
    for (i, case) in cases.iter().enumerate() {
        let headers = pairs_from_json(&case["headers"]);
        assert!(
            !headers.is_empty(),
            "the reference injected nothing for {case}"
        );
        let mut want = Outcome::from_json(case);
        if let (Some(span), true) = (&mut want.span, format != Format::TraceContext) {
            span.flags &= TraceFlags::SAMPLED.bits();
        }
        let got = ctx_extract(format, &headers);
        assert_eq!(
            got,
            want,
            "{} Python -> ctx, case {i} (CTX_INTEROP_SEED={seed}): headers {headers:?}",
            format.name()
        );
    }
}

#[test]
fn tracecontext_ctx_to_python() {
    ctx_to_python(Format::TraceContext, 1);
}

#[test]
fn tracecontext_python_to_ctx() {
    python_to_ctx(Format::TraceContext, 2);
}

#[test]
fn baggage_ctx_to_python() {
    ctx_to_python(Format::Baggage, 3);
}

#[test]
fn baggage_python_to_ctx() {
    python_to_ctx(Format::Baggage, 4);
}

#[test]
fn b3_single_ctx_to_python() {
    ctx_to_python(Format::B3Single, 5);
}

#[test]
fn b3_single_python_to_ctx() {
    python_to_ctx(Format::B3Single, 6);
}

#[test]
fn b3_multi_ctx_to_python() {
    ctx_to_python(Format::B3Multi, 7);
}

#[test]
fn b3_multi_python_to_ctx() {
    python_to_ctx(Format::B3Multi, 8);
}

// ---------------------------------------------------------------------------
// The same headers, read by both sides.

/// Symbolic names for the ids the vectors use, so the expected outcomes stay
/// readable.
const T: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const S: &str = "00f067aa0ba902b7";
const B: &str = "80f198ee56343ba864fe8b2a57d3eff7";
const E: &str = "e457b5a2e4d86bd1";
const P: &str = "05e3ac9a4f6e3b90";
const B64: &str = "64fe8b2a57d3eff7";
const ALIASES: &[(&str, &str)] = &[
    (T, "T"),
    (S, "S"),
    (B, "B"),
    (E, "E"),
    ("000000000000000064fe8b2a57d3eff7", "B64"),
];

fn alias(id: &str) -> &str {
    ALIASES
        .iter()
        .find(|(full, _)| *full == id)
        .map_or(id, |(_, a)| a)
}

/// A one-line form of an outcome: `-` for nothing, else
/// `TRACE-SPAN-FLAGS [tracestate]` and/or the baggage as `k=v | k=v`.
fn summary(o: &Outcome) -> String {
    let mut parts = Vec::new();
    if let Some(s) = &o.span {
        let mut line = format!(
            "{}-{}-{:02x}",
            alias(&s.trace_id),
            alias(&s.span_id),
            s.flags
        );
        if !s.tracestate.is_empty() {
            let members: Vec<String> = s
                .tracestate
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            line.push_str(&format!(" [{}]", members.join(",")));
        }
        parts.push(line);
    }
    if !o.baggage.is_empty() {
        let members: Vec<String> = o.baggage.iter().map(|(k, v)| format!("{k}={v}")).collect();
        parts.push(members.join(" | "));
    }
    if parts.is_empty() {
        "-".to_owned()
    } else {
        parts.join(" ")
    }
}

/// One set of headers, what ctx must read from it, and what the reference
/// must read: `None` when that is the same (the usual case), or the
/// reference's outcome when the two differ on purpose or by a known bug.
struct Vector {
    format: Format,
    headers: Vec<(String, String)>,
    ctx: String,
    python: Option<String>,
    reason: String,
}

fn agree(format: Format, headers: &[(&str, &str)], both: &str, reason: &str) -> Vector {
    Vector {
        format,
        headers: pairs(headers),
        ctx: both.to_owned(),
        python: None,
        reason: reason.to_owned(),
    }
}

fn differ(
    format: Format,
    headers: &[(&str, &str)],
    ctx: &str,
    python: &str,
    reason: &str,
) -> Vector {
    assert_ne!(ctx, python, "a difference must differ: {reason}");
    Vector {
        format,
        headers: pairs(headers),
        ctx: ctx.to_owned(),
        python: Some(python.to_owned()),
        reason: reason.to_owned(),
    }
}

fn traceparent_vectors() -> Vec<Vector> {
    use Format::TraceContext as F;
    let tp = format!("00-{T}-{S}-01");
    let tp = tp.as_str();
    let long_future = format!("cc-{T}-{S}-01-{}", "x".repeat(512 - 56));
    let too_long_future = format!("{long_future}x");
    // One `traceparent`, the same outcome in both implementations.
    let one =
        |value: &str, both: &str, reason: &str| agree(F, &[("traceparent", value)], both, reason);
    vec![
        one(tp, "T-S-01", "valid, sampled"),
        one(&format!("00-{T}-{S}-00"), "T-S-00", "valid, not sampled"),
        one(&format!("00-{T}-{S}-02"), "T-S-02", "random flag (Level 2)"),
        one(&format!("00-{T}-{S}-03"), "T-S-03", "sampled and random"),
        differ(
            F,
            &[("traceparent", &format!("00-{T}-{S}-09"))],
            "T-S-01",
            "T-S-09",
            "flag bits the specification does not define: ctx clears them, as Level 2 says \
             (\"vendors MUST set those to zero\"); the reference passes them on",
        ),
        differ(
            F,
            &[("traceparent", &format!("00-{T}-{S}-ff"))],
            "T-S-03",
            "T-S-ff",
            "all flag bits set: ctx keeps only sampled and random",
        ),
        one(
            &format!(" \t00-{T}-{S}-01\t "),
            "T-S-01",
            "OWS around the value",
        ),
        one(
            &format!("cc-{T}-{S}-01"),
            "T-S-01",
            "future version, same layout",
        ),
        one(
            &format!("cc-{T}-{S}-01-future"),
            "T-S-01",
            "future version, extra field",
        ),
        one(&long_future, "T-S-01", "future version, 512 bytes"),
        one(
            &too_long_future,
            "-",
            "future version, 513 bytes: over the limit",
        ),
        one(
            &format!("cc-{T}-{S}-01x"),
            "-",
            "future version, no '-' after the flags",
        ),
        one(
            &format!("00-{T}-{S}-01-future"),
            "-",
            "version 00 with an extra field",
        ),
        one(&format!("ff-{T}-{S}-01"), "-", "version ff is invalid"),
        one(&format!("0A-{T}-{S}-01"), "-", "uppercase version"),
        one(
            &format!("00-{}-{S}-01", T.to_uppercase()),
            "-",
            "uppercase trace id",
        ),
        one(
            &format!("00-{}-{S}-01", "0".repeat(32)),
            "-",
            "all-zero trace id",
        ),
        one(
            &format!("00-{T}-{}-01", "0".repeat(16)),
            "-",
            "all-zero span id",
        ),
        one(&format!("00-{T}-{S}-1"), "-", "one-digit flags"),
        one(&format!("00-{T}-{S}-0g"), "-", "non-hex flags"),
        one(&format!("00-{}-{S}-01", &T[1..]), "-", "31-digit trace id"),
        one(&format!("00_{T}_{S}_01"), "-", "wrong separators"),
        one("", "-", "empty"),
        agree(
            F,
            &[("tracestate", "a=1")],
            "-",
            "tracestate without traceparent",
        ),
        differ(
            F,
            &[("traceparent", tp), ("traceparent", tp)],
            "-",
            "T-S-01",
            "two traceparent fields: ctx drops them, as the specification says for multiple \
             traceparent headers; the reference reads the first",
        ),
    ]
}

fn tracestate_vectors() -> Vec<Vector> {
    use Format::TraceContext as F;
    let tp = format!("00-{T}-{S}-01");
    let tp = tp.as_str();
    let ts = |state: &str, ctx: &str, reason: &str| {
        agree(
            F,
            &[("traceparent", tp), ("tracestate", state)],
            ctx,
            reason,
        )
    };
    let members = |n: usize| {
        (0..n)
            .map(|i| format!("k{i}=v{i}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let key256 = "k".repeat(256);
    let value256 = "v".repeat(256);
    let mut out =
        vec![
        ts(
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
            "T-S-01 [rojo=00f067aa0ba902b7,congo=t61rcWkgMzE]",
            "the specification's example",
        ),
        ts("rojo=1 , congo=2\t", "T-S-01 [rojo=1,congo=2]", "OWS around members"),
        ts(",,a=1, ,b=2,,", "T-S-01 [a=1,b=2]", "empty members are skipped"),
        ts("", "T-S-01", "empty value"),
        ts("k= v", "T-S-01 [k= v]", "a value may start with a space"),
        ts("k=a b", "T-S-01 [k=a b]", "a space inside a value"),
        ts("k=v\t", "T-S-01 [k=v]", "trailing tab is OWS"),
        ts("a_-*/b=v", "T-S-01 [a_-*/b=v]", "every special key character"),
        ts("fw529a3039@dt=FIO", "T-S-01 [fw529a3039@dt=FIO]", "multi-tenant key"),
        ts("dd=s:1;o:rum", "T-S-01 [dd=s:1;o:rum]", "':' and ';' in a value"),
        ts("A=1", "T-S-01", "uppercase key: the whole list is dropped, the traceparent kept"),
        ts("a=1,b", "T-S-01", "member without '='"),
        ts("k=v=w", "T-S-01", "'=' in a value"),
        ts("k=", "T-S-01", "empty value"),
        ts("=v", "T-S-01", "empty key"),
        ts(&members(33), "T-S-01", "33 members: over the limit of 32"),
        ts(&format!("{key256}=v"), &format!("T-S-01 [{key256}=v]"), "256-character key"),
        ts(&format!("{key256}k=v"), "T-S-01", "257-character key"),
        ts(&format!("k={value256}"), &format!("T-S-01 [k={value256}]"), "256-character value"),
        ts(&format!("k={value256}v"), "T-S-01", "257-character value"),
        agree(
            F,
            &[("traceparent", tp), ("tracestate", "a=1"), ("tracestate", "b=2")],
            "T-S-01 [a=1,b=2]",
            "two tracestate fields are joined",
        ),
        differ(
            F,
            &[("traceparent", tp), ("tracestate", "a=1,a=2")],
            "T-S-01 [a=1]",
            "T-S-01",
            "a repeated key: ctx keeps the left-most member; the reference drops the whole list",
        ),
        differ(
            F,
            &[("traceparent", tp), ("tracestate", "1abc=v")],
            "T-S-01 [1abc=v]",
            "T-S-01",
            "a key starting with a digit: valid in the Level 2 key grammar ctx uses, not in the \
             Level 1 grammar of the reference",
        ),
        differ(
            F,
            &[("traceparent", tp), ("tracestate", "a@b@c=v")],
            "T-S-01 [a@b@c=v]",
            "T-S-01",
            "two '@' in a key: Level 2 grammar (ctx) against Level 1 (reference)",
        ),
        differ(
            F,
            &[("traceparent", tp), ("tracestate", "t@system678901234=v")],
            "T-S-01 [t@system678901234=v]",
            "T-S-01",
            "a system id of 15 characters: Level 2 grammar (ctx) against Level 1's 14 (reference)",
        ),
    ];
    let long = members(32);
    let expected = format!("T-S-01 [{long}]");
    out.push(ts(&long, &expected, "32 members"));
    // Valid members of 256-character values: 31 of them take 8080 bytes,
    // 32 take 8341, past the 8192-byte limit of both sides.
    let wide = |n: usize| {
        (0..n)
            .map(|i| format!("k{i}={value256}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let (fits, over) = (wide(31), wide(32));
    assert_eq!((fits.len(), over.len()), (8080, 8341));
    out.push(ts(&fits, &format!("T-S-01 [{fits}]"), "8080 bytes"));
    out.push(ts(
        &over,
        "T-S-01",
        "8341 bytes: over the limit, the list is dropped",
    ));
    out
}

fn baggage_vectors() -> Vec<Vector> {
    use Format::Baggage as F;
    let bg = |value: &str, both: &str, reason: &str| agree(F, &[("baggage", value)], both, reason);
    let members = |n: usize| (0..n).map(|i| format!("k{i}=v")).collect::<Vec<_>>();
    let mut out = vec![
        bg("k=v", "k=v", "one member"),
        bg("a=1,b=2,c=3", "a=1 | b=2 | c=3", "order is kept"),
        bg(" a = 1 , b\t=\t2 ", "a=1 | b=2", "OWS around members, keys and values"),
        bg("k=a%20b", "k=a b", "percent-encoded space"),
        bg("k=%E2%98%83%C3%A9", "k=\u{2603}\u{e9}", "percent-encoded UTF-8"),
        bg("k=%e2%98%83", "k=\u{2603}", "lowercase escapes"),
        bg("k=a%2Cb%3Bc%3Dd%25", "k=a,b;c=d%", "encoded delimiters"),
        bg("k=a=b", "k=a=b", "'=' in a value"),
        bg("k==v", "k==v", "a value starting with '='"),
        bg("k=", "k=", "empty value"),
        bg("k=%", "k=%", "a lone '%' is kept"),
        bg("k=%zz", "k=%zz", "a '%' without hex digits is kept"),
        bg("k=%FF", "k=\u{fffd}", "invalid UTF-8 becomes U+FFFD"),
        bg("k=v;p=1;q", "k=v;p=1;q", "properties with and without a value"),
        bg("k=v;p=a%20b", "k=v;p=a b", "percent-encoded property value"),
        bg("K.e-y_!~=v", "K.e-y_!~=v", "token characters in a key"),
        bg("a=1,a=2", "a=2", "a repeated key: the later value wins"),
        bg("bad key=1,k=v", "k=v", "a space in a key drops that member"),
        bg("=v,k=v", "k=v", "empty key"),
        bg("novalue,k=v", "k=v", "member without '='"),
        bg("k=a b,x=y", "x=y", "a raw space inside a value"),
        bg("k=\"q\",x=y", "x=y", "a quote in a value"),
        bg("k=a\\b,x=y", "x=y", "a backslash in a value"),
        bg(",,k=v,,", "k=v", "empty members"),
        bg("", "-", "empty header"),
        differ(
            F,
            &[("baggage", "k=a+b")],
            "k=a+b",
            "k=a b",
            "'+' is a literal baggage-octet; the reference decodes it as a space \
             (form encoding, open-telemetry/opentelemetry-python#5566)",
        ),
        differ(
            F,
            &[("baggage", "a+b=v")],
            "a+b=v",
            "a b=v",
            "keys are not percent-encoded in W3C Baggage; the reference form-decodes them",
        ),
        differ(
            F,
            &[("baggage", "k%41=v")],
            "k%41=v",
            "kA=v",
            "keys are not percent-encoded in W3C Baggage; the reference decodes them",
        ),
        differ(
            F,
            &[("baggage", "k=%20x%20")],
            "k= x ",
            "k=x",
            "encoded spaces at the ends of a value are data; the reference strips them after decoding",
        ),
        differ(
            F,
            &[("baggage", "k=v;,x=y")],
            "k=v | x=y",
            "x=y",
            "a stray ';' after a value: ctx skips the empty property, the reference drops the member",
        ),
        differ(
            F,
            &[("baggage", "k=v; p = 1 ;q")],
            "k=v;p=1;q",
            "k=v; p = 1 ;q",
            "OWS inside properties: ctx parses the properties; the reference has no property model \
             and keeps their text as part of the value",
        ),
        differ(
            F,
            &[("baggage", "a=1"), ("baggage", "b=2")],
            "a=1 | b=2",
            "a=1",
            "two baggage fields: ctx joins them (RFC 9110 field combination); the reference reads \
             only the first",
        ),
    ];
    // Limits: 180 members, 4096 bytes a member, 8192 bytes in all.
    let list = members(181);
    let first180: Vec<String> = list[..180].to_vec();
    out.push(bg(
        &list.join(","),
        &first180.join(" | "),
        "181 members: the first 180 are kept",
    ));
    let fits = format!("big={}", "x".repeat(4096 - 4));
    let over = format!("big={}", "x".repeat(4096 - 3));
    out.push(bg(
        &format!("a=1,{fits}"),
        &format!("a=1 | {fits}"),
        "a member of 4096 bytes is kept",
    ));
    out.push(bg(
        &format!("a=1,{over},b=2"),
        "a=1 | b=2",
        "a member of 4097 bytes is dropped",
    ));
    let three = format!("a={0},b={0},c={0}", "x".repeat(2800));
    out.push(differ(
        F,
        &[("baggage", &three)],
        &format!("a={0} | b={0}", "x".repeat(2800)),
        "-",
        "a header of more than 8192 bytes: ctx keeps the members within the first 8192 bytes; \
         the reference drops the whole header",
    ));
    out
}

fn b3_vectors() -> Vec<Vector> {
    // Both propagators read both encodings, whichever one they write.
    use Format::B3Multi as F;
    let single = |value: &str, both: &str, reason: &str| agree(F, &[("b3", value)], both, reason);
    let multi =
        |headers: &[(&str, &str)], both: &str, reason: &str| agree(F, headers, both, reason);
    vec![
        single(&format!("{B}-{E}-1-{P}"), "B-E-01", "all four fields"),
        single(&format!("{B}-{E}-1"), "B-E-01", "sampled"),
        single(&format!("{B}-{E}-0"), "B-E-00", "not sampled"),
        single(&format!("{B}-{E}-d"), "B-E-01", "debug implies sampled"),
        single(&format!("{B64}-{E}-1"), "B64-E-01", "a 64-bit trace id is left-padded"),
        single("0", "-", "a sampling state alone carries no ids"),
        single("1", "-", "a sampling state alone carries no ids"),
        single(&format!("{B}-{E}-1-{P}-x"), "-", "a fifth field"),
        single(&format!("{}-{E}-1", "0".repeat(32)), "-", "all-zero trace id"),
        single(&format!("{B}-{}-1", "0".repeat(16)), "-", "all-zero span id"),
        single(&format!("{}-{E}-1", &B[1..]), "-", "31-digit trace id"),
        multi(
            &[("x-b3-traceid", B), ("x-b3-spanid", E), ("x-b3-parentspanid", P), ("x-b3-sampled", "1")],
            "B-E-01",
            "all headers",
        ),
        multi(&[("x-b3-traceid", B), ("x-b3-spanid", E)], "B-E-00", "no sampling state"),
        multi(&[("x-b3-traceid", B64), ("x-b3-spanid", E), ("x-b3-sampled", "1")], "B64-E-01", "64-bit trace id"),
        multi(&[("x-b3-traceid", B), ("x-b3-spanid", E), ("x-b3-sampled", "0")], "B-E-00", "not sampled"),
        multi(&[("x-b3-traceid", B), ("x-b3-spanid", E), ("x-b3-sampled", "true")], "B-E-01", "legacy 'true'"),
        multi(&[("x-b3-traceid", B), ("x-b3-spanid", E), ("x-b3-sampled", "d")], "B-E-01", "'d'"),
        multi(&[("x-b3-traceid", B), ("x-b3-spanid", E), ("x-b3-flags", "1")], "B-E-01", "debug flag"),
        multi(
            &[("x-b3-traceid", B), ("x-b3-spanid", E), ("x-b3-sampled", "0"), ("x-b3-flags", "1")],
            "B-E-01",
            "debug overrides sampled=0",
        ),
        multi(&[("x-b3-traceid", B)], "-", "no span id"),
        multi(&[("x-b3-spanid", E)], "-", "no trace id"),
        multi(
            &[("b3", &format!("{B}-{E}-1")), ("x-b3-traceid", B64), ("x-b3-spanid", P)],
            "B-E-01",
            "the single header takes precedence",
        ),
        // Where the two differ. ctx follows the B3 specification strictly
        // (lower-hex ids, the four single-header states, a valid parent id
        // when one is sent); the reference is more lenient in places.
        differ(
            F,
            &[("b3", &format!("{B}-{E}"))],
            "B-E-00",
            "B-E-01",
            "single header without a sampling state (deferred): ctx leaves the decision open \
             (not sampled), as it does for X-B3-* without X-B3-Sampled; the reference records it as \
             sampled for the single header only",
        ),
        differ(
            F,
            &[("b3", &format!("{B}-{E}-1-{}", &P[1..]))],
            "-",
            "B-E-01",
            "a malformed parent span id: ctx rejects the header; the reference ignores the field",
        ),
        differ(
            F,
            &[("b3", &format!("{B}-{E}-x"))],
            "-",
            "B-E-00",
            "an unknown sampling state: ctx rejects the header; the reference reads it as not sampled",
        ),
        differ(
            F,
            &[("b3", &format!("{B}-{E}-true"))],
            "-",
            "B-E-01",
            "'true' is a legacy X-B3-Sampled value, not a single-header state; the reference accepts it",
        ),
        differ(
            F,
            &[("b3", &format!("{B}-{E}-"))],
            "-",
            "B-E-00",
            "an empty sampling state: ctx rejects the header; the reference reads it as not sampled",
        ),
        differ(
            F,
            &[("b3", &format!("{}-{E}-1", B.to_uppercase()))],
            "-",
            "B-E-01",
            "uppercase hex: B3 ids are lower-hex; the reference accepts either case",
        ),
        differ(
            F,
            &[("b3", &format!(" {B}-{E}-1"))],
            "B-E-01",
            "-",
            "OWS around the single header: ctx trims it (RFC 9110 field values); the reference does not",
        ),
        differ(
            F,
            &[("x-b3-traceid", B), ("x-b3-spanid", E), ("x-b3-sampled", "True")],
            "B-E-00",
            "B-E-01",
            "X-B3-Sampled 'True': ctx accepts '1', 'd' and the legacy lowercase 'true'; the reference \
             also accepts 'True'",
        ),
        differ(
            F,
            &[("x-b3-traceid", B), ("x-b3-spanid", E), ("x-b3-parentspanid", "bad")],
            "-",
            "B-E-00",
            "a malformed X-B3-ParentSpanId: ctx rejects the headers; the reference ignores it",
        ),
        differ(
            F,
            &[("b3", "garbage"), ("x-b3-traceid", B), ("x-b3-spanid", E)],
            "B-E-00",
            "-",
            "an invalid single header next to valid X-B3-*: ctx falls back to X-B3-*; the reference \
             stops at the single header",
        ),
        differ(
            F,
            &[("b3", "1"), ("x-b3-traceid", B), ("x-b3-spanid", E)],
            "B-E-00",
            "-",
            "a single header with a sampling state alone next to X-B3-*: ctx reads the ids from \
             X-B3-*; the reference stops at the single header",
        ),
    ]
}

fn vectors() -> Vec<Vector> {
    let mut all = traceparent_vectors();
    all.extend(tracestate_vectors());
    all.extend(baggage_vectors());
    all.extend(b3_vectors());
    all
}

/// Runs each vector through both sides; `differences` selects the vectors
/// where the two differ on record, or those where they must agree.
fn check_vectors(differences: bool) {
    let mut peer = Peer::start();
    let mut failures = Vec::new();
    let mut checked = 0;
    for v in vectors()
        .into_iter()
        .filter(|v| v.python.is_some() == differences)
    {
        checked += 1;
        let ctx = summary(&ctx_extract(v.format, &v.headers));
        let python = summary(&peer.extract(v.format, &v.headers));
        let want_python = v.python.as_deref().unwrap_or(&v.ctx);
        if ctx != v.ctx || python != want_python {
            failures.push(format!(
                "{} ({}): headers {:?}\n    ctx:       {ctx}\n    expected:  {}\n    reference: {python}\n    expected:  {want_python}",
                v.reason,
                v.format.name(),
                v.headers,
                v.ctx,
            ));
        }
    }
    assert!(checked > 20, "only {checked} vectors");
    assert!(
        failures.is_empty(),
        "{} of {checked} vectors failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Header sets both sides must read the same way, with the outcome stated
/// by the test (not taken from either side).
#[test]
fn shared_vectors() {
    check_vectors(false);
}

/// Every difference between ctx and the reference that is known, pinned
/// with its exact input and both outcomes, so that a change on either side
/// shows up here. The reason of each says which side follows the
/// specification.
#[test]
fn known_differences() {
    check_vectors(true);
}

// ---------------------------------------------------------------------------
// Chosen contexts, written by each side and read by the other.

fn fixed_spans() -> Vec<Span> {
    let state = |list: &[(&str, &str)]| pairs(list);
    let many: Vec<(String, String)> = (0..32)
        .map(|i| (format!("vendor{i}"), format!("value-{i}")))
        .collect();
    let mut spans = vec![
        (vec![], 1),
        (
            state(&[("rojo", "00f067aa0ba902b7"), ("congo", "t61rcWkgMzE")]),
            1,
        ),
        (
            state(&[("congo", "ucfJifl5GOE"), ("rojo", "00f067aa0ba902b7")]),
            0,
        ),
        (state(&[("fw529a3039@dt", "FIO"), ("abc@xyz", "1")]), 3),
        (
            state(&[
                ("dd", "s:1;o:rum;t.dm:-0"),
                ("k", " leading space"),
                ("x", "a b  c"),
            ]),
            2,
        ),
        (state(&[("k", "~!@#$%^&*()_+[]{}|;':\"<>?./`")]), 1),
        (many, 1),
    ];
    spans.push((vec![("k".repeat(256), "v".repeat(256))], 1));
    spans
        .into_iter()
        .map(|(tracestate, flags)| Span {
            trace_id: T.to_owned(),
            span_id: S.to_owned(),
            flags,
            tracestate,
        })
        .collect()
}

#[test]
fn fixed_trace_contexts_both_ways() {
    let mut peer = Peer::start();
    for span in fixed_spans() {
        let fields = Propagated::new().with_trace(span.to_ctx());
        let want = Outcome {
            span: Some(span.clone()),
            baggage: vec![],
        };

        let ours = ctx_inject(Format::TraceContext, &fields);
        assert_eq!(
            peer.extract(Format::TraceContext, &ours),
            want,
            "ctx -> Python: {ours:?}"
        );

        let theirs = peer.inject(Format::TraceContext, Some(&span), &[]);
        assert_eq!(ours, theirs, "both write the same headers for {span:?}");
        assert_eq!(
            ctx_extract(Format::TraceContext, &theirs),
            want,
            "Python -> ctx: {theirs:?}"
        );

        for format in [Format::B3Single, Format::B3Multi] {
            let b3 = Outcome {
                span: Some(span.b3()),
                baggage: vec![],
            };
            let ours = ctx_inject(format, &fields);
            assert_eq!(
                peer.extract(format, &ours),
                b3,
                "{} ctx -> Python: {ours:?}",
                format.name()
            );
            let theirs = peer.inject(format, Some(&span), &[]);
            assert_eq!(
                ours,
                theirs,
                "both write the same {} headers",
                format.name()
            );
            assert_eq!(
                ctx_extract(format, &theirs),
                b3,
                "{} Python -> ctx: {theirs:?}",
                format.name()
            );
        }
    }
}

/// Values that need encoding, written by ctx and read by the reference.
#[test]
fn fixed_baggage_ctx_to_python() {
    let mut peer = Peer::start();
    let values = [
        "plain",
        "two words",
        "a=b",
        "a,b",
        "a;b",
        "100%",
        "a+b",
        "caf\u{e9} \u{4e2d}\u{6587} \u{1f600}",
        "\"quoted\" back\\slash",
        "tab\tinside",
        "",
    ];
    for value in values {
        let mut baggage = Baggage::new();
        baggage.insert("k", value).unwrap();
        baggage.insert_member(
            Member::new("withprops", value)
                .unwrap()
                .with_property("p", Some("x y".to_owned()))
                .unwrap()
                .with_property("flag", None)
                .unwrap(),
        );
        let fields = Propagated::new().with_baggage(baggage);
        let headers = ctx_inject(Format::Baggage, &fields);
        let got = peer.extract(Format::Baggage, &headers);
        let want = expected_by_python(Format::Baggage, &fields);
        assert_eq!(got, want, "value {value:?}: headers {headers:?}");
        assert_eq!(got.baggage[1].1, format!("{value};p=x y;flag"));
    }
}

/// Values the reference writes, read by ctx.
#[test]
fn fixed_baggage_python_to_ctx() {
    let mut peer = Peer::start();
    let values = [
        "plain",
        "a=b",
        "a,b",
        "a;b",
        "v;p=1",
        "100%",
        "a+b",
        "caf\u{e9}\u{4e2d}\u{6587}\u{1f600}",
        "\"quoted\"back\\slash",
        "",
    ];
    for value in values {
        let bag = pairs(&[("k", value), ("other", "1")]);
        let headers = peer.inject(Format::Baggage, None, &bag);
        let got = ctx_extract(Format::Baggage, &headers);
        assert_eq!(got.baggage, bag, "value {value:?}: headers {headers:?}");
    }
}

/// The one known difference in what the reference writes: it form-encodes
/// baggage, so a space goes out as `+`, which W3C Baggage (and ctx) read as
/// a literal plus (open-telemetry/opentelemetry-python#5566). ctx writes
/// `%20`, which the reference reads back as a space.
#[test]
fn known_difference_reference_writes_space_as_plus() {
    let mut peer = Peer::start();
    let bag = pairs(&[("k", "two words")]);

    let theirs = peer.inject(Format::Baggage, None, &bag);
    assert_eq!(theirs, pairs(&[("baggage", "k=two+words")]));
    assert_eq!(
        ctx_extract(Format::Baggage, &theirs).baggage,
        pairs(&[("k", "two+words")])
    );

    let mut baggage = Baggage::new();
    baggage.insert("k", "two words").unwrap();
    let ours = ctx_inject(Format::Baggage, &Propagated::new().with_baggage(baggage));
    assert_eq!(ours, pairs(&[("baggage", "k=two%20words")]));
    assert_eq!(peer.extract(Format::Baggage, &ours).baggage, bag);
}

/// Python → ctx → Python: members ctx did not change go out byte for byte as
/// they came in, so the second Python service reads what the first one
/// wrote, even where the two encodings disagree (`+` for a space, lowercase
/// or needless escapes); members set by ctx's code go out in ctx's encoding,
/// which the reference reads back too.
#[test]
fn baggage_python_to_ctx_to_python_is_forwarded_unchanged() {
    let mut peer = Peer::start();
    let bag = pairs(&[
        ("region", "eu west"),
        ("plus", "a+b"),
        ("mixed", "caf\u{e9} 100% \u{1f600}"),
        ("plain", "v"),
    ]);
    let theirs = peer.inject(Format::Baggage, None, &bag);
    let [(name, sent)] = &theirs[..] else {
        panic!("one baggage header: {theirs:?}")
    };
    assert_eq!(name, "baggage");
    assert!(sent.contains("region=eu+west"), "{sent}");

    // ctx reads it as W3C Baggage says (a literal '+')...
    let mut fields = Propagated::new();
    BaggagePropagator::new().extract(&header_map(&theirs), &mut fields);
    assert_eq!(fields.baggage.get("region"), Some("eu+west"));
    // ...and forwards it as it arrived, with a member of its own added.
    fields.baggage.insert("hop", "ctx one").unwrap();
    let forwarded = ctx_inject(Format::Baggage, &fields);
    assert_eq!(
        forwarded,
        pairs(&[("baggage", &format!("{sent},hop=ctx%20one"))]),
        "the received members are forwarded byte for byte"
    );
    let mut want = bag.clone();
    want.push(("hop".to_owned(), "ctx one".to_owned()));
    assert_eq!(peer.extract(Format::Baggage, &forwarded).baggage, want);

    // A member ctx's code changes is written in ctx's encoding.
    fields.baggage.insert("region", "us east").unwrap();
    let changed = ctx_inject(Format::Baggage, &fields);
    assert!(changed[0].1.starts_with("region=us%20east,"), "{changed:?}");
    assert_eq!(
        peer.extract(Format::Baggage, &changed).baggage[0],
        ("region".to_owned(), "us east".to_owned())
    );
}
