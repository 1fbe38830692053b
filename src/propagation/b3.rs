//! Zipkin B3: the single `b3` header and the `X-B3-*` headers.

use super::carrier::{Extractor, Injector};
use super::names::{
    B3, X_B3_FLAGS, X_B3_PARENT_SPAN_ID, X_B3_SAMPLED, X_B3_SPAN_ID, X_B3_TRACE_ID,
};
use super::propagated::Propagated;
use super::propagator::{FieldNames, Propagator};
use crate::model::{
    ascii_str, decode_hex_u128, trim_ows, SpanId, TraceContext, TraceFlags, TraceId,
};

/// Which B3 headers [`B3Propagator`] writes. It always reads both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum B3Encoding {
    /// The single `b3` header (what the B3 specification recommends).
    #[default]
    Single,
    /// The `X-B3-TraceId`, `X-B3-SpanId`, `X-B3-ParentSpanId` and
    /// `X-B3-Sampled` headers.
    Multi,
    /// Both encodings.
    SingleAndMulti,
}

impl B3Encoding {
    fn writes_single(self) -> bool {
        self != B3Encoding::Multi
    }

    fn writes_multi(self) -> bool {
        self != B3Encoding::Single
    }
}

/// Zipkin B3 propagation.
///
/// Extraction reads the single `b3` header and, when it is absent or
/// invalid, the `X-B3-*` headers:
/// - trace ids are 32 or 16 lowercase hex digits (a 64-bit id is
///   left-padded with zeros to 128 bits), span ids 16; none may be all zero;
/// - the sampling state `1` or `d` (debug) sets the `sampled` flag, `0` and
///   an absent state (deferred) leave it clear; `X-B3-Sampled` also accepts
///   the legacy `true`/`false` (any other value counts as deferred), and
///   `X-B3-Flags: 1` (debug) means sampled;
/// - a `b3` header holding only a sampling state carries no ids and yields
///   no trace context;
/// - a malformed id, or a malformed field of the single header, makes the
///   whole encoding invalid.
///
/// Injection writes the trace id as 32 hex digits, the span id, the
/// sampling state `1` or `0`, and the parent span id when there is one; with
/// no trace context, only a bare sampling decision
/// ([`Propagated::sampled`]), if there is one. The B3 headers are the
/// context's alone: injection removes from the carrier those of them it
/// does not write (the other encoding, a parent span, `x-b3-flags`, and
/// with no trace context the ids).
///
/// Its [`fields`](Propagator::fields) are the headers of both encodings,
/// whatever the encoding it writes: `b3`, `x-b3-traceid`, `x-b3-spanid`,
/// `x-b3-parentspanid`, `x-b3-sampled` and `x-b3-flags`.
///
/// # Examples
/// ```
/// use ctx::propagation::{B3Propagator, Propagated, Propagator};
/// use http::HeaderMap;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("x-b3-traceid", "a3ce929d0e0e4736".parse().unwrap());
/// headers.insert("x-b3-spanid", "00f067aa0ba902b7".parse().unwrap());
/// headers.insert("x-b3-sampled", "1".parse().unwrap());
///
/// let mut remote = Propagated::new();
/// B3Propagator::new().extract(&headers, &mut remote);
/// let trace = remote.trace.unwrap();
/// assert_eq!(trace.trace_id().to_string(), "0000000000000000a3ce929d0e0e4736");
/// assert!(trace.is_sampled());
///
/// let mut out = HeaderMap::new();
/// B3Propagator::new().inject(&Propagated::new().with_trace(trace), &mut out);
/// assert_eq!(out["b3"], "0000000000000000a3ce929d0e0e4736-00f067aa0ba902b7-1");
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct B3Propagator {
    encoding: B3Encoding,
}

impl B3Propagator {
    /// The longest `b3` value ctx parses, in bytes, before trimming. The
    /// longest valid value is 68 bytes; longer input is rejected before any
    /// parsing.
    pub const MAX_LEN: usize = 128;

    /// Reads both encodings, writes the single `b3` header.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads both encodings, writes the single `b3` header.
    pub fn single() -> Self {
        Self::with_encoding(B3Encoding::Single)
    }

    /// Reads both encodings, writes the `X-B3-*` headers.
    pub fn multi() -> Self {
        Self::with_encoding(B3Encoding::Multi)
    }

    /// Reads both encodings, writes the given one(s).
    pub fn with_encoding(encoding: B3Encoding) -> Self {
        B3Propagator { encoding }
    }

    /// The encoding this propagator writes.
    pub fn encoding(&self) -> B3Encoding {
        self.encoding
    }

    /// Parses a single `b3` header value into the caller's trace context;
    /// `None` when it is invalid or carries no ids. Never allocates.
    ///
    /// # Examples
    /// ```
    /// use ctx::propagation::B3Propagator;
    ///
    /// let t = B3Propagator::parse_single(
    ///     b"80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d-05e3ac9a4f6e3b90",
    /// ).unwrap();
    /// assert!(t.is_sampled(), "debug implies sampled");
    /// assert_eq!(t.parent_span_id().unwrap().to_string(), "05e3ac9a4f6e3b90");
    /// assert!(B3Propagator::parse_single(b"0").is_none(), "a bare sampling state has no ids");
    /// ```
    pub fn parse_single(value: &[u8]) -> Option<TraceContext> {
        if value.len() > Self::MAX_LEN {
            return None;
        }
        let mut parts = trim_ows(value).split(|&b| b == b'-');
        let trace_id = parse_trace_id(parts.next()?)?;
        let span_id = SpanId::from_hex(parts.next()?)?;
        let sampled = match parts.next() {
            None => false,
            Some(state) => single_decision(state)?,
        };
        let parent_span_id = match parts.next() {
            None => None,
            Some(p) => Some(SpanId::from_hex(p)?),
        };
        if parts.next().is_some() {
            return None;
        }
        Some(remote(trace_id, span_id, parent_span_id, sampled))
    }

    /// Reads the `X-B3-*` headers into the caller's trace context; `None`
    /// when the ids are missing or invalid.
    pub fn parse_multi(carrier: &dyn Extractor) -> Option<TraceContext> {
        let field = |name| {
            carrier
                .get(name)
                .filter(|v| v.len() <= Self::MAX_LEN)
                .map(trim_ows)
        };
        let trace_id = parse_trace_id(field(X_B3_TRACE_ID)?)?;
        let span_id = SpanId::from_hex(field(X_B3_SPAN_ID)?)?;
        let parent_span_id = match carrier.get(X_B3_PARENT_SPAN_ID) {
            None => None,
            Some(p) if p.len() > Self::MAX_LEN => return None,
            Some(p) => Some(SpanId::from_hex(trim_ows(p))?),
        };
        let sampled = multi_decision(carrier) == Some(true);
        Some(remote(trace_id, span_id, parent_span_id, sampled))
    }

    /// The sampling decision of a carrier that sends one without ids: `b3`
    /// holding only `0`, `1` or `d`, or `x-b3-sampled` (or `x-b3-flags: 1`)
    /// with no `x-b3-traceid`.
    fn sampling_only(carrier: &dyn Extractor) -> Option<bool> {
        if let Some(single) = carrier.get(B3) {
            return single_decision(trim_ows(single));
        }
        if carrier.get(X_B3_TRACE_ID).is_some() {
            return None;
        }
        multi_decision(carrier)
    }

    /// The single `b3` header form of `trace`, in a stack buffer: the
    /// returned slice of it is the value.
    fn format_single(trace: &TraceContext, buf: &mut [u8; 68]) -> usize {
        trace.trace_id().encode_hex(&mut buf[0..32]);
        buf[32] = b'-';
        trace.span_id().encode_hex(&mut buf[33..49]);
        buf[49] = b'-';
        buf[50] = sampling_state(trace.is_sampled()).as_bytes()[0];
        match trace.parent_span_id() {
            Some(parent) => {
                buf[51] = b'-';
                parent.encode_hex(&mut buf[52..68]);
                68
            }
            None => 51,
        }
    }
}

/// The sampling state B3 writes.
fn sampling_state(sampled: bool) -> &'static str {
    if sampled {
        "1"
    } else {
        "0"
    }
}

/// The sampling state of the single header: `1`, `d` (debug, which implies
/// sampled) or `0`; `None` for anything else.
fn single_decision(state: &[u8]) -> Option<bool> {
    match state {
        b"1" | b"d" => Some(true),
        b"0" => Some(false),
        _ => None,
    }
}

/// The decision of the multi headers: `X-B3-Flags: 1` (debug) implies
/// sampled, else `X-B3-Sampled` (`1`, `true`, `d`, or `0`, `false`).
fn multi_decision(carrier: &dyn Extractor) -> Option<bool> {
    let field = |name| carrier.get(name).map(trim_ows);
    if field(X_B3_FLAGS) == Some(b"1") {
        return Some(true);
    }
    match field(X_B3_SAMPLED)? {
        b"1" | b"true" | b"d" => Some(true),
        b"0" | b"false" => Some(false),
        _ => None,
    }
}

/// 32 hex digits, or 16 left-padded with zeros.
fn parse_trace_id(hex: &[u8]) -> Option<TraceId> {
    match hex.len() {
        32 => TraceId::from_hex(hex),
        16 => decode_hex_u128(hex).and_then(TraceId::from_u128),
        _ => None,
    }
}

fn remote(
    trace_id: TraceId,
    span_id: SpanId,
    parent_span_id: Option<SpanId>,
    sampled: bool,
) -> TraceContext {
    TraceContext::new(trace_id, span_id, TraceFlags::NONE.with_sampled(sampled))
        .with_parent_span_id(parent_span_id)
}

impl Propagator for B3Propagator {
    fn extract(&self, carrier: &dyn Extractor, into: &mut Propagated) {
        if into.trace.is_some() {
            return;
        }
        into.trace = carrier
            .get(B3)
            .and_then(Self::parse_single)
            .or_else(|| Self::parse_multi(carrier));
        if into.trace.is_none() && into.sampled.is_none() {
            into.sampled = Self::sampling_only(carrier);
        }
    }

    fn inject(&self, from: &Propagated, carrier: &mut dyn Injector) {
        let Some(trace) = &from.trace else {
            // A bare decision travels on as one (B3's deny-only header), and
            // the rest goes: ids already in the carrier are another trace's.
            let state = from.sampled.map(sampling_state);
            match state.filter(|_| self.encoding.writes_single()) {
                Some(state) => carrier.set(B3, state),
                None => carrier.remove(B3),
            }
            for name in [X_B3_TRACE_ID, X_B3_SPAN_ID, X_B3_PARENT_SPAN_ID, X_B3_FLAGS] {
                carrier.remove(name);
            }
            match state.filter(|_| self.encoding.writes_multi()) {
                Some(state) => carrier.set(X_B3_SAMPLED, state),
                None => carrier.remove(X_B3_SAMPLED),
            }
            return;
        };
        // The headers of the encoding not written, and a parent header this
        // trace has no value for, go: a value already in the carrier would
        // describe another span.
        if self.encoding.writes_single() {
            let mut buf = [0u8; 68];
            let len = Self::format_single(trace, &mut buf);
            carrier.set(B3, ascii_str(&buf[..len]));
        } else {
            carrier.remove(B3);
        }
        if self.encoding.writes_multi() {
            let mut buf = [0u8; 32];
            trace.trace_id().encode_hex(&mut buf);
            carrier.set(X_B3_TRACE_ID, ascii_str(&buf));
            trace.span_id().encode_hex(&mut buf[..16]);
            carrier.set(X_B3_SPAN_ID, ascii_str(&buf[..16]));
            match trace.parent_span_id() {
                Some(parent) => {
                    parent.encode_hex(&mut buf[..16]);
                    carrier.set(X_B3_PARENT_SPAN_ID, ascii_str(&buf[..16]));
                }
                None => carrier.remove(X_B3_PARENT_SPAN_ID),
            }
            carrier.set(X_B3_SAMPLED, sampling_state(trace.is_sampled()));
            carrier.remove(X_B3_FLAGS);
        } else {
            for name in [
                X_B3_TRACE_ID,
                X_B3_SPAN_ID,
                X_B3_PARENT_SPAN_ID,
                X_B3_SAMPLED,
                X_B3_FLAGS,
            ] {
                carrier.remove(name);
            }
        }
    }

    /// `b3`, `x-b3-traceid`, `x-b3-spanid`, `x-b3-parentspanid`,
    /// `x-b3-sampled` and `x-b3-flags`, whatever the encoding: extraction
    /// reads both encodings, and injection writes one and removes the other
    /// (`x-b3-flags` is read, and removed, but never written).
    fn fields(&self) -> FieldNames<'_> {
        FieldNames::new(&[
            B3,
            X_B3_TRACE_ID,
            X_B3_SPAN_ID,
            X_B3_PARENT_SPAN_ID,
            X_B3_SAMPLED,
            X_B3_FLAGS,
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;

    const T128: &str = "80f198ee56343ba864fe8b2a57d3eff7";
    const T64: &str = "64fe8b2a57d3eff7";
    const T64_PADDED: &str = "000000000000000064fe8b2a57d3eff7";
    const SPAN: &str = "e457b5a2e4d86bd1";
    const PARENT: &str = "05e3ac9a4f6e3b90";

    /// (trace id, span id, parent span id, sampled)
    type Expected = Option<(&'static str, &'static str, Option<&'static str>, bool)>;
    type Headers = &'static [(&'static str, &'static str)];

    /// (b3 value, expected or None, reason)
    const SINGLE: &[(&str, Expected, &str)] = &[
        (
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90",
            Some((T128, SPAN, Some(PARENT), true)),
            "all four fields",
        ),
        (
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1",
            Some((T128, SPAN, None, true)),
            "sampled, no parent",
        ),
        (
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0",
            Some((T128, SPAN, None, false)),
            "not sampled",
        ),
        (
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d",
            Some((T128, SPAN, None, true)),
            "debug implies sampled",
        ),
        (
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1",
            Some((T128, SPAN, None, false)),
            "deferred sampling",
        ),
        (
            "64fe8b2a57d3eff7-e457b5a2e4d86bd1-1",
            Some((T64_PADDED, SPAN, None, true)),
            "64-bit trace id is left-padded",
        ),
        (
            " 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1\t",
            Some((T128, SPAN, None, true)),
            "OWS is trimmed",
        ),
        ("0", None, "sampling state only: no ids"),
        ("1", None, "sampling state only: no ids"),
        ("d", None, "sampling state only: no ids"),
        ("", None, "empty"),
        (
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-x",
            None,
            "unknown sampling state",
        ),
        (
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-true",
            None,
            "'true' is not a single-header state",
        ),
        (
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b9",
            None,
            "short parent id",
        ),
        (
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90-x",
            None,
            "a fifth field",
        ),
        (
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-",
            None,
            "empty parent field",
        ),
        (
            "80F198EE56343BA864FE8B2A57D3EFF7-e457b5a2e4d86bd1-1",
            None,
            "uppercase trace id",
        ),
        (
            "80f198ee56343ba864fe8b2a57d3eff-e457b5a2e4d86bd1-1",
            None,
            "31-digit trace id",
        ),
        (
            "80f198ee56343ba864fe8b2a57d3eff7ab-e457b5a2e4d86bd1-1",
            None,
            "34-digit trace id",
        ),
        (
            "00000000000000000000000000000000-e457b5a2e4d86bd1-1",
            None,
            "all-zero trace id",
        ),
        (
            "0000000000000000-e457b5a2e4d86bd1-1",
            None,
            "all-zero 64-bit trace id",
        ),
        (
            "80f198ee56343ba864fe8b2a57d3eff7-0000000000000000-1",
            None,
            "all-zero span id",
        ),
        (
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-0000000000000000",
            None,
            "all-zero parent id",
        ),
        ("80f198ee56343ba864fe8b2a57d3eff7", None, "trace id only"),
        ("80f198ee56343ba864fe8b2a57d3eff7--1", None, "empty span id"),
    ];

    fn tuple(t: TraceContext) -> (String, String, Option<String>, bool) {
        (
            t.trace_id().to_string(),
            t.span_id().to_string(),
            t.parent_span_id().map(|p| p.to_string()),
            t.is_sampled(),
        )
    }

    fn owned(e: (&str, &str, Option<&str>, bool)) -> (String, String, Option<String>, bool) {
        (e.0.to_owned(), e.1.to_owned(), e.2.map(str::to_owned), e.3)
    }

    #[test]
    fn single_vectors() {
        for &(value, expected, reason) in SINGLE {
            let got = B3Propagator::parse_single(value.as_bytes()).map(tuple);
            assert_eq!(got, expected.map(owned), "{reason}: {value:?}");
        }
    }

    fn multi(pairs: &[(&str, &str)]) -> Option<TraceContext> {
        let h = crate::propagation::carrier::header_map(pairs);
        let mut p = Propagated::new();
        B3Propagator::new().extract(&h, &mut p);
        p.trace
    }

    /// (headers, expected, reason)
    const MULTI: &[(Headers, Expected, &str)] = &[
        (
            &[
                ("X-B3-TraceId", T128),
                ("X-B3-SpanId", SPAN),
                ("X-B3-ParentSpanId", PARENT),
                ("X-B3-Sampled", "1"),
            ],
            Some((T128, SPAN, Some(PARENT), true)),
            "all headers, mixed-case names on the wire (HeaderMap lowercases them)",
        ),
        (
            &[("x-b3-traceid", T128), ("x-b3-spanid", SPAN)],
            Some((T128, SPAN, None, false)),
            "deferred sampling",
        ),
        (
            &[
                ("x-b3-traceid", T64),
                ("x-b3-spanid", SPAN),
                ("x-b3-sampled", "1"),
            ],
            Some((T64_PADDED, SPAN, None, true)),
            "64-bit trace id is left-padded",
        ),
        (
            &[
                ("x-b3-traceid", T128),
                ("x-b3-spanid", SPAN),
                ("x-b3-sampled", "0"),
            ],
            Some((T128, SPAN, None, false)),
            "not sampled",
        ),
        (
            &[
                ("x-b3-traceid", T128),
                ("x-b3-spanid", SPAN),
                ("x-b3-sampled", "true"),
            ],
            Some((T128, SPAN, None, true)),
            "legacy 'true'",
        ),
        (
            &[
                ("x-b3-traceid", T128),
                ("x-b3-spanid", SPAN),
                ("x-b3-sampled", "false"),
            ],
            Some((T128, SPAN, None, false)),
            "legacy 'false'",
        ),
        (
            &[
                ("x-b3-traceid", T128),
                ("x-b3-spanid", SPAN),
                ("x-b3-flags", "1"),
            ],
            Some((T128, SPAN, None, true)),
            "debug flag implies sampled",
        ),
        (
            &[
                ("x-b3-traceid", T128),
                ("x-b3-spanid", SPAN),
                ("x-b3-sampled", "0"),
                ("x-b3-flags", "1"),
            ],
            Some((T128, SPAN, None, true)),
            "debug overrides sampled=0",
        ),
        (
            &[
                ("x-b3-traceid", T128),
                ("x-b3-spanid", SPAN),
                ("x-b3-sampled", "maybe"),
            ],
            Some((T128, SPAN, None, false)),
            "unknown sampled value is treated as deferred",
        ),
        (&[("x-b3-traceid", T128)], None, "span id missing"),
        (&[("x-b3-spanid", SPAN)], None, "trace id missing"),
        (
            &[("x-b3-traceid", "xyz"), ("x-b3-spanid", SPAN)],
            None,
            "invalid trace id",
        ),
        (
            &[("x-b3-traceid", T128), ("x-b3-spanid", "E457B5A2E4D86BD1")],
            None,
            "uppercase span id",
        ),
        (
            &[
                ("x-b3-traceid", T128),
                ("x-b3-spanid", SPAN),
                ("x-b3-parentspanid", "bad"),
            ],
            None,
            "invalid parent id",
        ),
        (
            &[
                ("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"),
                ("x-b3-traceid", T64),
                ("x-b3-spanid", PARENT),
            ],
            Some((T128, SPAN, None, true)),
            "the single header takes precedence",
        ),
        (
            &[
                ("b3", "garbage"),
                ("x-b3-traceid", T128),
                ("x-b3-spanid", SPAN),
            ],
            Some((T128, SPAN, None, false)),
            "invalid single header falls back to multi",
        ),
        (
            &[("b3", "1"), ("x-b3-traceid", T128), ("x-b3-spanid", SPAN)],
            Some((T128, SPAN, None, false)),
            "sampling-only single header falls back to multi",
        ),
    ];

    #[test]
    fn multi_vectors() {
        for &(pairs, expected, reason) in MULTI {
            assert_eq!(multi(pairs).map(tuple), expected.map(owned), "{reason}");
        }
    }

    #[test]
    fn oversized_single_header_is_rejected() {
        let long = format!(
            "{T128}-{SPAN}-1-{PARENT}{}",
            " ".repeat(B3Propagator::MAX_LEN)
        );
        assert!(B3Propagator::parse_single(long.as_bytes()).is_none());
    }

    #[test]
    fn inject_encodings() {
        let trace =
            B3Propagator::parse_single(format!("{T128}-{SPAN}-0-{PARENT}").as_bytes()).unwrap();
        let fields = Propagated::new().with_trace(trace);

        let mut h = HeaderMap::new();
        B3Propagator::single().inject(&fields, &mut h);
        assert_eq!(h["b3"], format!("{T128}-{SPAN}-0-{PARENT}").as_str());
        assert_eq!(h.len(), 1);

        let mut h = HeaderMap::new();
        B3Propagator::multi().inject(&fields, &mut h);
        assert_eq!(h["x-b3-traceid"], T128);
        assert_eq!(h["x-b3-spanid"], SPAN);
        assert_eq!(h["x-b3-parentspanid"], PARENT);
        assert_eq!(h["x-b3-sampled"], "0");
        assert!(!h.contains_key("b3"));

        let mut h = HeaderMap::new();
        B3Propagator::with_encoding(B3Encoding::SingleAndMulti).inject(&fields, &mut h);
        assert_eq!(h.len(), 5);
    }

    #[test]
    fn a_sampling_decision_without_ids_is_kept_apart() {
        type Headers = &'static [(&'static str, &'static str)];
        let cases: [(Headers, Option<bool>); 9] = [
            (&[("b3", "0")], Some(false)),
            (&[("b3", " 1 ")], Some(true)),
            (&[("b3", "d")], Some(true)),
            (&[("b3", "2")], None),
            (&[("x-b3-sampled", "0")], Some(false)),
            (&[("x-b3-sampled", "true")], Some(true)),
            (&[("x-b3-flags", "1"), ("x-b3-sampled", "0")], Some(true)),
            // Ids that fail to parse are not a bare decision.
            (&[("x-b3-traceid", "zz"), ("x-b3-sampled", "0")], None),
            (&[], None),
        ];
        for (headers, expected) in cases {
            let mut h = HeaderMap::new();
            for (k, v) in headers {
                h.insert(*k, v.parse().unwrap());
            }
            let mut p = Propagated::new();
            B3Propagator::new().extract(&h, &mut p);
            assert_eq!(
                (p.trace.is_some(), p.sampled),
                (false, expected),
                "{headers:?}"
            );
        }
        // A bare decision is sent on as one.
        let mut h = HeaderMap::new();
        let deny = Propagated::new().with_sampled(false);
        B3Propagator::new().inject(&deny, &mut h);
        assert_eq!(h["b3"], "0");
        let mut back = Propagated::new();
        B3Propagator::new().extract(&h, &mut back);
        assert_eq!(back, deny);
        // With ids, the decision rides in the trace context.
        let mut h = HeaderMap::new();
        h.insert("b3", format!("{T128}-{SPAN}-0").parse().unwrap());
        let mut p = Propagated::new();
        B3Propagator::new().extract(&h, &mut p);
        assert_eq!(p.sampled, None);
        assert!(!p.trace.unwrap().is_sampled());
    }

    #[test]
    fn inject_replaces_what_the_carrier_held() {
        let stale = [
            ("b3", "11111111111111111111111111111111-2222222222222222-1"),
            ("x-b3-traceid", "11111111111111111111111111111111"),
            ("x-b3-spanid", "2222222222222222"),
            ("x-b3-parentspanid", "3333333333333333"),
            ("x-b3-sampled", "1"),
            ("x-b3-flags", "1"),
        ];
        let carrier = || {
            let mut h = HeaderMap::new();
            for (k, v) in stale {
                h.insert(k, v.parse().unwrap());
            }
            h
        };
        // A new root: no parent span.
        let trace = B3Propagator::parse_single(format!("{T128}-{SPAN}-0").as_bytes()).unwrap();
        let fields = Propagated::new().with_trace(trace);

        let mut h = carrier();
        B3Propagator::single().inject(&fields, &mut h);
        assert_eq!(h["b3"], format!("{T128}-{SPAN}-0").as_str());
        assert_eq!(h.len(), 1, "{h:?}");

        let mut h = carrier();
        B3Propagator::multi().inject(&fields, &mut h);
        assert_eq!(h["x-b3-traceid"], T128);
        assert_eq!(h["x-b3-spanid"], SPAN);
        assert_eq!(h["x-b3-sampled"], "0");
        assert_eq!(h.len(), 3, "{h:?}");

        let mut h = carrier();
        B3Propagator::with_encoding(B3Encoding::SingleAndMulti).inject(&fields, &mut h);
        assert_eq!(h.len(), 4, "{h:?}");
        assert!(!h.contains_key("x-b3-parentspanid") && !h.contains_key("x-b3-flags"));
    }

    #[test]
    fn round_trip_without_parent() {
        let v = format!("{T128}-{SPAN}-1");
        let t = B3Propagator::parse_single(v.as_bytes()).unwrap();
        let mut buf = [0u8; 68];
        let n = B3Propagator::format_single(&t, &mut buf);
        assert_eq!(&buf[..n], v.as_bytes());
    }

    #[test]
    fn fields_are_both_encodings_whatever_is_written() {
        let all = [
            "b3",
            "x-b3-traceid",
            "x-b3-spanid",
            "x-b3-parentspanid",
            "x-b3-sampled",
            "x-b3-flags",
        ];
        for encoding in [
            B3Encoding::Single,
            B3Encoding::Multi,
            B3Encoding::SingleAndMulti,
        ] {
            let p = B3Propagator::with_encoding(encoding);
            assert_eq!(p.fields().collect::<Vec<_>>(), all, "{encoding:?}");
        }
    }

    #[test]
    fn inject_without_a_trace_removes_the_ids() {
        let carrier = || {
            let mut h = HeaderMap::new();
            for (k, v) in [
                ("b3", "11111111111111111111111111111111-2222222222222222-1"),
                ("x-b3-traceid", "11111111111111111111111111111111"),
                ("x-b3-spanid", "2222222222222222"),
                ("x-b3-parentspanid", "3333333333333333"),
                ("x-b3-sampled", "1"),
                ("x-b3-flags", "1"),
                ("host", "example.com"),
            ] {
                h.insert(k, v.parse().unwrap());
            }
            h
        };
        let names = |h: &HeaderMap| {
            let mut names: Vec<String> = h.keys().map(|k| k.to_string()).collect();
            names.sort();
            names
        };
        let deny = Propagated::new().with_sampled(false);
        for (encoding, written) in [
            (B3Encoding::Single, &["b3", "host"][..]),
            (B3Encoding::Multi, &["host", "x-b3-sampled"][..]),
            (
                B3Encoding::SingleAndMulti,
                &["b3", "host", "x-b3-sampled"][..],
            ),
        ] {
            let p = B3Propagator::with_encoding(encoding);
            let mut h = carrier();
            p.inject(&Propagated::new(), &mut h);
            assert_eq!(names(&h), ["host"], "{encoding:?}: nothing to send");

            // A bare decision is sent alone.
            let mut h = carrier();
            p.inject(&deny, &mut h);
            assert_eq!(names(&h), written, "{encoding:?}: a bare decision");
            for value in h.iter().filter(|(k, _)| *k != "host").map(|(_, v)| v) {
                assert_eq!(value, "0", "{encoding:?}");
            }
        }
    }
}
