//! W3C Trace Context Level 2: the `traceparent` and `tracestate` headers.

use std::fmt;

use super::carrier::{Extractor, Fields, Injector};
use super::names::{TRACEPARENT, TRACESTATE};
use super::propagated::Propagated;
use super::propagator::{FieldNames, Propagator};
use crate::model::{
    ascii_str, decode_hex_u8, encode_hex_u8, trim_ows, SpanId, TraceContext, TraceFlags, TraceId,
    TraceState,
};

/// The fields of a `traceparent` header: trace id, parent (caller's span)
/// id and flags.
///
/// [`parse`](TraceParent::parse) follows the Level 2 rules: two lowercase hex
/// digits of version other than `ff`; for version `00` exactly 55
/// characters; for a higher version at least 55, and if longer, a `-` after
/// the flags (the extra fields are ignored); lowercase hex ids that are not
/// all zero; surrounding spaces and tabs trimmed. The flags keep `sampled`
/// and `random` and clear the bits the specification does not define. It
/// never allocates.
///
/// # Examples
/// ```
/// use ctx::propagation::TraceParent;
///
/// let tp = TraceParent::parse(b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03").unwrap();
/// assert!(tp.flags().is_sampled() && tp.flags().is_random());
/// assert_eq!(tp.to_string(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03");
///
/// // A future version may carry more fields.
/// assert!(TraceParent::parse(b"cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future").is_some());
/// // Version 00 may not.
/// assert!(TraceParent::parse(b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future").is_none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceParent {
    trace_id: TraceId,
    parent_id: SpanId,
    flags: TraceFlags,
}

impl TraceParent {
    /// A `traceparent` with these fields.
    pub fn new(trace_id: TraceId, parent_id: SpanId, flags: TraceFlags) -> Self {
        TraceParent {
            trace_id,
            parent_id,
            flags,
        }
    }

    /// The trace id.
    #[inline]
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The caller's span id (`parent-id` in the specification).
    #[inline]
    pub fn parent_id(&self) -> SpanId {
        self.parent_id
    }

    /// The trace flags.
    #[inline]
    pub fn flags(&self) -> TraceFlags {
        self.flags
    }

    /// The length of a version `00` header.
    pub const LEN: usize = 55;
    /// The longest `traceparent` input ctx parses, in bytes, before
    /// trimming. Version `00` is 55 bytes; future versions may add fields,
    /// and the specification asks to disallow only "prohibitively large"
    /// headers. Longer input is rejected before any parsing.
    pub const MAX_LEN: usize = 512;

    /// Parses one `traceparent` value; `None` when it is invalid.
    pub fn parse(value: &[u8]) -> Option<Self> {
        if value.len() > Self::MAX_LEN {
            return None;
        }
        let v = trim_ows(value);
        if v.len() < Self::LEN {
            return None;
        }
        let version = decode_hex_u8(&v[0..2])?;
        if version == 0xff || v[2] != b'-' || v[35] != b'-' || v[52] != b'-' {
            return None;
        }
        if v.len() > Self::LEN && (version == 0 || v[Self::LEN] != b'-') {
            return None;
        }
        Some(TraceParent {
            trace_id: TraceId::from_hex(&v[3..35])?,
            parent_id: SpanId::from_hex(&v[36..52])?,
            flags: TraceFlags::new(decode_hex_u8(&v[53..55])?).known(),
        })
    }

    /// The version `00` header form, in a stack buffer.
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut buf = [b'-'; Self::LEN];
        buf[0] = b'0';
        buf[1] = b'0';
        self.trace_id().encode_hex(&mut buf[3..35]);
        self.parent_id().encode_hex(&mut buf[36..52]);
        encode_hex_u8(self.flags().bits(), &mut buf[53..55]);
        buf
    }
}

impl From<&TraceContext> for TraceParent {
    /// The `traceparent` a context sends: its span is the receiver's parent.
    /// Only the flags this version defines are sent ("vendors MUST set
    /// those to zero", W3C Trace Context 3.2.2.5).
    fn from(t: &TraceContext) -> Self {
        TraceParent {
            trace_id: t.trace_id(),
            parent_id: t.span_id(),
            flags: t.flags().known(),
        }
    }
}

/// The version `00` header form.
impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(ascii_str(&self.to_bytes()))
    }
}

/// W3C Trace Context Level 2: reads and writes `traceparent` and
/// `tracestate`.
///
/// Extraction rules, as the specification states them:
/// - several `traceparent` fields make the value invalid;
/// - an invalid `traceparent` (see [`TraceParent::parse`]) leaves the trace
///   context empty, so the caller starts a new trace, and `tracestate` is
///   then not read at all;
/// - several `tracestate` fields are joined in order; an invalid member or
///   more than 32 members drop the whole `tracestate` (the `traceparent` is
///   kept); see [`TraceState::parse`].
///
/// Injection writes `traceparent` (version `00`) and, when it is not empty,
/// `tracestate`. The two headers are the trace context's alone: with no
/// trace context, injection removes both from the carrier, and with an
/// empty trace state, it removes `tracestate`.
///
/// # Examples
/// ```
/// use ctx::propagation::{Propagated, Propagator, TraceContextPropagator};
/// use http::HeaderMap;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
/// headers.append("tracestate", "rojo=00f067aa0ba902b7".parse().unwrap());
/// headers.append("tracestate", "congo=t61rcWkgMzE".parse().unwrap());
///
/// let mut remote = Propagated::new();
/// TraceContextPropagator::new().extract(&headers, &mut remote);
/// let trace = remote.trace.unwrap();
/// assert_eq!(trace.state().header(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct TraceContextPropagator {
    _priv: (),
}

impl TraceContextPropagator {
    /// The W3C trace context propagator.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Propagator for TraceContextPropagator {
    fn extract(&self, carrier: &dyn Extractor, into: &mut Propagated) {
        if into.trace.is_some() {
            return;
        }
        let mut first = None;
        let mut count = 0;
        carrier.get_all(TRACEPARENT, &mut |v| {
            count += 1;
            first.get_or_insert(v);
        });
        let (1, Some(value)) = (count, first) else {
            return;
        };
        let Some(tp) = TraceParent::parse(value) else {
            return;
        };
        let fields = Fields::collect(carrier, TRACESTATE);
        let state = match fields.as_slice() {
            [] => TraceState::new(),
            fields => TraceState::parse_fields(fields).unwrap_or_default(),
        };
        into.trace =
            Some(TraceContext::new(tp.trace_id(), tp.parent_id(), tp.flags()).with_state(state));
    }

    fn inject(&self, from: &Propagated, carrier: &mut dyn Injector) {
        let Some(trace) = &from.trace else {
            // No trace to send: one already in the carrier is not this
            // context's.
            carrier.remove(TRACEPARENT);
            carrier.remove(TRACESTATE);
            return;
        };
        let tp = TraceParent::from(trace).to_bytes();
        carrier.set(TRACEPARENT, ascii_str(&tp));
        // A `tracestate` belongs to the `traceparent` beside it: one already
        // in the carrier goes when this trace has none.
        if trace.state().is_empty() {
            carrier.remove(TRACESTATE);
        } else {
            carrier.set(TRACESTATE, trace.state().header());
        }
    }

    /// `traceparent` and `tracestate`.
    fn fields(&self) -> FieldNames<'_> {
        FieldNames::new(&[TRACEPARENT, TRACESTATE])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;

    const TRACE_ID: &str = "12345678901234567890123456789012";
    const PARENT_ID: &str = "1234567890123456";

    /// (trace id, parent id, flags)
    type Expected = Option<(&'static str, &'static str, u8)>;
    type Headers = &'static [(&'static str, &'static str)];

    /// (traceparent value, expected or None, reason)
    const VECTORS: &[(&str, Expected, &str)] = &[
        (
            "00-12345678901234567890123456789012-1234567890123456-01",
            Some((TRACE_ID, PARENT_ID, 0x01)),
            "valid, sampled",
        ),
        (
            "00-12345678901234567890123456789012-1234567890123456-00",
            Some((TRACE_ID, PARENT_ID, 0x00)),
            "valid, not sampled",
        ),
        (
            "00-12345678901234567890123456789012-1234567890123456-02",
            Some((TRACE_ID, PARENT_ID, 0x02)),
            "random flag is kept",
        ),
        (
            "00-12345678901234567890123456789012-1234567890123456-03",
            Some((TRACE_ID, PARENT_ID, 0x03)),
            "sampled and random",
        ),
        (
            "00-12345678901234567890123456789012-1234567890123456-09",
            Some((TRACE_ID, PARENT_ID, 0x01)),
            "undefined flag bits are cleared",
        ),
        (
            "00-12345678901234567890123456789012-1234567890123456-ff",
            Some((TRACE_ID, PARENT_ID, 0x03)),
            "all flag bits: only known ones kept",
        ),
        (
            " 00-12345678901234567890123456789012-1234567890123456-01",
            Some((TRACE_ID, PARENT_ID, 0x01)),
            "leading space is trimmed",
        ),
        (
            "\t00-12345678901234567890123456789012-1234567890123456-01",
            Some((TRACE_ID, PARENT_ID, 0x01)),
            "leading tab is trimmed",
        ),
        (
            "00-12345678901234567890123456789012-1234567890123456-01 ",
            Some((TRACE_ID, PARENT_ID, 0x01)),
            "trailing space is trimmed",
        ),
        (
            "00-12345678901234567890123456789012-1234567890123456-01\t",
            Some((TRACE_ID, PARENT_ID, 0x01)),
            "trailing tab is trimmed",
        ),
        (
            "\t 00-12345678901234567890123456789012-1234567890123456-01 \t",
            Some((TRACE_ID, PARENT_ID, 0x01)),
            "mixed OWS on both sides",
        ),
        (
            "cc-12345678901234567890123456789012-1234567890123456-01",
            Some((TRACE_ID, PARENT_ID, 0x01)),
            "future version, same layout",
        ),
        (
            "cc-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like",
            Some((TRACE_ID, PARENT_ID, 0x01)),
            "future version with extra fields",
        ),
        (
            "01-12345678901234567890123456789012-1234567890123456-01-",
            Some((TRACE_ID, PARENT_ID, 0x01)),
            "future version, empty extra field",
        ),
        (
            "cc-12345678901234567890123456789012-1234567890123456-01.what-the-future-will-be-like",
            None,
            "future version: flags must be followed by '-'",
        ),
        (
            "00-12345678901234567890123456789012-1234567890123456-01.",
            None,
            "version 00 with trailing characters",
        ),
        (
            "00-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like",
            None,
            "version 00 with extra fields",
        ),
        (
            "ff-12345678901234567890123456789012-1234567890123456-01",
            None,
            "version ff is forbidden",
        ),
        (
            "0x-12345678901234567890123456789012-1234567890123456-01",
            None,
            "version with a non-hex character",
        ),
        (
            "CC-12345678901234567890123456789012-1234567890123456-01",
            None,
            "uppercase version",
        ),
        (
            "000-12345678901234567890123456789012-1234567890123456-01",
            None,
            "version too long",
        ),
        (
            "0-12345678901234567890123456789012-1234567890123456-01",
            None,
            "version too short",
        ),
        (
            "00-00000000000000000000000000000000-1234567890123456-01",
            None,
            "all-zero trace id",
        ),
        (
            "00-1234567890123456789012345678901.-1234567890123456-01",
            None,
            "trace id with an illegal character",
        ),
        (
            "00-ABCDEF78901234567890123456789012-1234567890123456-01",
            None,
            "uppercase trace id",
        ),
        (
            "00-123456789012345678901234567890123-1234567890123456-01",
            None,
            "trace id too long",
        ),
        (
            "00-1234567890123456789012345678901-1234567890123456-01",
            None,
            "trace id too short",
        ),
        (
            "00-12345678901234567890123456789012-0000000000000000-01",
            None,
            "all-zero parent id",
        ),
        (
            "00-12345678901234567890123456789012-123456789012345.-01",
            None,
            "parent id with an illegal character",
        ),
        (
            "00-12345678901234567890123456789012-ABCDEF7890123456-01",
            None,
            "uppercase parent id",
        ),
        (
            "00-12345678901234567890123456789012-12345678901234567-01",
            None,
            "parent id too long",
        ),
        (
            "00-12345678901234567890123456789012-123456789012345-01",
            None,
            "parent id too short",
        ),
        (
            "00-12345678901234567890123456789012-1234567890123456-.0",
            None,
            "flags with an illegal character",
        ),
        (
            "00-12345678901234567890123456789012-1234567890123456-0A",
            None,
            "uppercase flags",
        ),
        (
            "00-12345678901234567890123456789012-1234567890123456-001",
            None,
            "flags too long",
        ),
        (
            "00-12345678901234567890123456789012-1234567890123456-1",
            None,
            "flags too short",
        ),
        (
            "00_12345678901234567890123456789012_1234567890123456_01",
            None,
            "wrong separators",
        ),
        (
            "00-12345678901234567890123456789012-1234567890123456-0 1",
            None,
            "space inside",
        ),
        ("", None, "empty"),
        ("   ", None, "whitespace only"),
    ];

    #[test]
    fn traceparent_vectors() {
        for &(value, expected, reason) in VECTORS {
            let got = TraceParent::parse(value.as_bytes());
            let got = got.map(|tp| {
                (
                    tp.trace_id().to_string(),
                    tp.parent_id().to_string(),
                    tp.flags().bits(),
                )
            });
            let expected = expected.map(|(t, p, f)| (t.to_owned(), p.to_owned(), f));
            assert_eq!(got, expected, "{reason}: {value:?}");
        }
    }

    #[test]
    fn oversized_input_is_rejected() {
        let long = format!(
            "cc-{TRACE_ID}-{PARENT_ID}-01-{}",
            "x".repeat(TraceParent::MAX_LEN)
        );
        assert!(TraceParent::parse(long.as_bytes()).is_none());
        let fits = format!(
            "cc-{TRACE_ID}-{PARENT_ID}-01-{}",
            "x".repeat(TraceParent::MAX_LEN - 56)
        );
        assert_eq!(fits.len(), TraceParent::MAX_LEN);
        assert!(TraceParent::parse(fits.as_bytes()).is_some());
    }

    #[test]
    fn format_round_trip() {
        for f in ["00", "01", "02", "03"] {
            let v = format!("00-{TRACE_ID}-{PARENT_ID}-{f}");
            assert_eq!(TraceParent::parse(v.as_bytes()).unwrap().to_string(), v);
        }
        let future = format!("cc-{TRACE_ID}-{PARENT_ID}-01-extra");
        assert_eq!(
            TraceParent::parse(future.as_bytes()).unwrap().to_string(),
            format!("00-{TRACE_ID}-{PARENT_ID}-01"),
            "a higher version is written back as version 00"
        );
    }

    fn extract(pairs: &[(&str, &str)]) -> Option<TraceContext> {
        let h = crate::propagation::carrier::header_map(pairs);
        let mut p = Propagated::new();
        TraceContextPropagator::new().extract(&h, &mut p);
        p.trace
    }

    const TP: &str = "00-12345678901234567890123456789012-1234567890123456-00";

    /// (headers, expected (trace id or None, tracestate header), reason)
    const EXTRACT: &[(Headers, Option<&str>, &str)] = &[
        (&[("traceparent", TP)], Some(""), "traceparent alone"),
        (
            &[("traceparent", TP), ("tracestate", "foo=1")],
            Some("foo=1"),
            "with tracestate",
        ),
        (
            &[("TRACEPARENT", TP), ("TraceState", "foo=1")],
            Some("foo=1"),
            "mixed-case names on the wire (HeaderMap lowercases them)",
        ),
        (
            &[("traceparent", TP), ("traceparent", TP)],
            None,
            "two traceparent fields are invalid even when equal",
        ),
        (
            &[("tracestate", "foo=1")],
            None,
            "tracestate without traceparent",
        ),
        (
            &[
                (
                    "traceparent",
                    "00-00000000000000000000000000000000-1234567890123456-01",
                ),
                ("tracestate", "foo=1"),
            ],
            None,
            "invalid traceparent drops tracestate too",
        ),
        (
            &[
                ("traceparent", TP),
                ("tracestate", "foo=1"),
                ("tracestate", "bar=2"),
            ],
            Some("foo=1,bar=2"),
            "tracestate fields are joined in order",
        ),
        (
            &[("traceparent", TP), ("tracestate", "foo=1,bar")],
            Some(""),
            "invalid member drops tracestate, keeps traceparent",
        ),
        (
            &[
                ("traceparent", TP),
                ("tracestate", "foo=1"),
                ("tracestate", "BAR=2"),
            ],
            Some(""),
            "invalid member in a second field",
        ),
        (
            &[("traceparent", TP), ("tracestate", "")],
            Some(""),
            "empty tracestate",
        ),
        (
            &[("traceparent", TP), ("tracestate", "foo=1,,bar=2")],
            Some("foo=1,bar=2"),
            "empty members are skipped",
        ),
        (
            &[("traceparent", TP), ("tracestate", " foo=1 \t, bar=2\t")],
            Some("foo=1,bar=2"),
            "OWS around members",
        ),
    ];

    #[test]
    fn extract_vectors() {
        for &(pairs, expected, reason) in EXTRACT {
            let got = extract(pairs);
            match expected {
                None => assert!(got.is_none(), "{reason}"),
                Some(state) => {
                    let t = got.unwrap_or_else(|| panic!("{reason}: no context"));
                    assert_eq!(t.trace_id().to_string(), TRACE_ID, "{reason}");
                    assert_eq!(t.span_id().to_string(), PARENT_ID, "{reason}");
                    assert_eq!(t.parent_span_id(), None, "{reason}");
                    assert_eq!(t.state().header(), state, "{reason}");
                }
            }
        }
    }

    #[test]
    fn thirty_three_members_across_fields_drop_tracestate() {
        let members: Vec<String> = (1..=33).map(|i| format!("bar{i:02}={i:02}")).collect();
        let a = members[..17].join(",");
        let b = members[17..].join(",");
        let t = extract(&[("traceparent", TP), ("tracestate", &a), ("tracestate", &b)]).unwrap();
        assert!(t.state().is_empty());
        let b32 = members[17..32].join(",");
        let t = extract(&[
            ("traceparent", TP),
            ("tracestate", &a),
            ("tracestate", &b32),
        ])
        .unwrap();
        assert_eq!(t.state().len(), 32);
    }

    #[test]
    fn inject_writes_version_00() {
        let mut trace = TraceContext::new_root();
        trace = trace.with_flags(TraceFlags::RANDOM);
        let mut h = HeaderMap::new();
        TraceContextPropagator::new().inject(&Propagated::new().with_trace(trace.clone()), &mut h);
        assert_eq!(
            h["traceparent"],
            format!("00-{}-{}-02", trace.trace_id(), trace.span_id()).as_str()
        );
        assert!(
            !h.contains_key("tracestate"),
            "empty tracestate is not sent"
        );
    }

    #[test]
    fn inject_sends_only_defined_flags_and_drops_a_stale_tracestate() {
        let mut trace = TraceContext::new_root();
        trace = trace.with_flags(TraceFlags::new(0x81));
        let mut h = HeaderMap::new();
        h.insert("traceparent", TP.parse().unwrap());
        h.insert(
            "tracestate",
            "old=belongs-to-another-trace".parse().unwrap(),
        );
        TraceContextPropagator::new().inject(&Propagated::new().with_trace(trace.clone()), &mut h);
        assert_eq!(
            h["traceparent"],
            format!("00-{}-{}-01", trace.trace_id(), trace.span_id()).as_str()
        );
        assert!(!h.contains_key("tracestate"), "{h:?}");
    }

    #[test]
    fn a_later_propagator_does_not_overwrite() {
        let mut h = HeaderMap::new();
        h.insert("traceparent", TP.parse().unwrap());
        let first = TraceContext::new_root();
        let mut p = Propagated::new().with_trace(first.clone());
        TraceContextPropagator::new().extract(&h, &mut p);
        assert_eq!(p.trace, Some(first));
    }

    #[test]
    fn fields_are_traceparent_and_tracestate() {
        let p = TraceContextPropagator::new();
        assert_eq!(p.fields().collect::<Vec<_>>(), [TRACEPARENT, TRACESTATE]);
    }

    #[test]
    fn inject_without_a_trace_removes_both_headers() {
        let mut h = HeaderMap::new();
        h.insert("traceparent", TP.parse().unwrap());
        h.insert("tracestate", "old=1".parse().unwrap());
        h.insert("host", "example.com".parse().unwrap());
        TraceContextPropagator::new().inject(&Propagated::new(), &mut h);
        assert!(
            !h.contains_key("traceparent") && !h.contains_key("tracestate"),
            "{h:?}"
        );
        assert_eq!(h.len(), 1);
    }
}
