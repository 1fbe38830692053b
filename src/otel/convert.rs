//! Conversions between ctx's trace and baggage model and opentelemetry's.

use std::fmt;

use opentelemetry::baggage::Baggage as OtelBaggage;
use opentelemetry::trace::{
    SpanContext, SpanId as OtelSpanId, TraceFlags as OtelTraceFlags, TraceId as OtelTraceId,
    TraceState as OtelTraceState,
};

use crate::model::{Baggage, Member, SpanId, TraceContext, TraceFlags, TraceId, TraceState};

/// The error of converting an opentelemetry [`SpanContext`] that is not
/// valid (an all-zero trace or span id, such as [`SpanContext::NONE`], the
/// span context of "no span") into a [`TraceContext`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidSpanContext {
    _priv: (),
}

impl fmt::Display for InvalidSpanContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid span context: all-zero trace or span id")
    }
}

impl std::error::Error for InvalidSpanContext {}

impl From<TraceId> for OtelTraceId {
    fn from(id: TraceId) -> OtelTraceId {
        OtelTraceId::from_bytes(id.to_bytes())
    }
}

impl From<SpanId> for OtelSpanId {
    fn from(id: SpanId) -> OtelSpanId {
        OtelSpanId::from_bytes(id.to_bytes())
    }
}

/// The trace id of `sc`, if it is not all zero.
pub(super) fn trace_id_of(sc: &SpanContext) -> Option<TraceId> {
    TraceId::from_bytes(sc.trace_id().to_bytes())
}

/// The span id of `sc`, if it is not all zero.
pub(super) fn span_id_of(sc: &SpanContext) -> Option<SpanId> {
    SpanId::from_bytes(sc.span_id().to_bytes())
}

/// The span context opentelemetry sees for a ctx span: the same ids, flags
/// and trace state, marked *remote* (`is_remote`): the span is not one of
/// opentelemetry's SDK, which treats it as a parent that came from
/// elsewhere (its samplers' remote-parent settings apply). The parent span
/// id has no place in a `SpanContext` and is dropped.
///
/// Trace-state members opentelemetry's stricter grammar refuses are left
/// out; the others keep their order.
///
/// # Examples
///
/// ```
/// use ctx::trace::TraceContext;
/// use opentelemetry::trace::SpanContext;
///
/// let span = TraceContext::new_root().with_state("vendor=v1".parse().unwrap());
/// let sc = SpanContext::from(&span);
/// assert!(sc.is_valid() && sc.is_remote() && sc.is_sampled());
/// assert_eq!(sc.trace_id().to_bytes(), span.trace_id().to_bytes());
/// assert_eq!(sc.span_id().to_bytes(), span.span_id().to_bytes());
/// assert_eq!(sc.trace_state().get("vendor"), Some("v1"));
/// // And back.
/// let back = TraceContext::try_from(&sc).unwrap();
/// assert_eq!(back, span);
/// ```
impl From<&TraceContext> for SpanContext {
    fn from(t: &TraceContext) -> SpanContext {
        SpanContext::new(
            t.trace_id().into(),
            t.span_id().into(),
            OtelTraceFlags::new(t.flags().bits()),
            true,
            otel_state(t.state()),
        )
    }
}

/// See [`From<&TraceContext>`](#impl-From%3C%26TraceContext%3E-for-SpanContext).
impl From<TraceContext> for SpanContext {
    fn from(t: TraceContext) -> SpanContext {
        SpanContext::from(&t)
    }
}

/// The ctx span for an opentelemetry span context: the same ids, the flags
/// ctx knows (`sampled`, `random`; the other bits are cleared, as ctx's
/// propagators clear them), the trace state, and no parent (a
/// `SpanContext` does not name one). Fails for an invalid span context
/// (all-zero ids): there is no span to name.
///
/// Trace-state members ctx's grammar refuses are left out; the others keep
/// their order.
///
/// # Examples
///
/// ```
/// use ctx::otel::InvalidSpanContext;
/// use ctx::trace::TraceContext;
/// use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
///
/// let sc = SpanContext::new(
///     TraceId::from(0x4bf92f3577b34da6a3ce929d0e0e4736),
///     SpanId::from(0x00f067aa0ba902b7),
///     TraceFlags::SAMPLED,
///     true,
///     TraceState::default(),
/// );
/// let t = TraceContext::try_from(&sc).unwrap();
/// assert_eq!(t.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert!(t.is_sampled() && t.parent_span_id().is_none());
///
/// assert_eq!(TraceContext::try_from(&SpanContext::NONE), Err(InvalidSpanContext::new()));
/// ```
impl TryFrom<&SpanContext> for TraceContext {
    type Error = InvalidSpanContext;

    fn try_from(sc: &SpanContext) -> Result<TraceContext, InvalidSpanContext> {
        let (Some(trace_id), Some(span_id)) = (trace_id_of(sc), span_id_of(sc)) else {
            return Err(InvalidSpanContext::new());
        };
        let flags = TraceFlags::new(sc.trace_flags().to_u8()).known();
        Ok(TraceContext::new(trace_id, span_id, flags).with_state(ctx_state(sc.trace_state())))
    }
}

/// See [`TryFrom<&SpanContext>`](#impl-TryFrom%3C%26SpanContext%3E-for-TraceContext).
impl TryFrom<SpanContext> for TraceContext {
    type Error = InvalidSpanContext;

    fn try_from(sc: SpanContext) -> Result<TraceContext, InvalidSpanContext> {
        TraceContext::try_from(&sc)
    }
}

impl InvalidSpanContext {
    /// The error value (for comparisons in tests).
    pub const fn new() -> InvalidSpanContext {
        InvalidSpanContext { _priv: () }
    }
}

impl Default for InvalidSpanContext {
    fn default() -> Self {
        Self::new()
    }
}

/// ctx's trace state in opentelemetry's form. The empty state allocates
/// nothing.
fn otel_state(state: &TraceState) -> OtelTraceState {
    if state.is_empty() {
        return OtelTraceState::NONE;
    }
    OtelTraceState::from_key_value(state.iter()).unwrap_or_else(|_| {
        // A member opentelemetry refuses: keep the others.
        OtelTraceState::from_key_value(
            state
                .iter()
                .filter(|member| OtelTraceState::from_key_value([*member]).is_ok()),
        )
        .unwrap_or_default()
    })
}

/// opentelemetry's trace state in ctx's form.
fn ctx_state(state: &OtelTraceState) -> TraceState {
    let header = state.header();
    if header.is_empty() {
        return TraceState::new();
    }
    TraceState::parse(header.as_bytes()).unwrap_or_else(|| {
        // A member ctx refuses: keep the others.
        let kept: Vec<String> = state
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .filter(|member| TraceState::parse(member.as_bytes()).is_some())
            .collect();
        TraceState::parse(kept.join(",").as_bytes()).unwrap_or_default()
    })
}

/// ctx's baggage as opentelemetry's: each member's key and (decoded)
/// value, and its properties as opentelemetry's metadata text
/// (`p1=v1;p2`, values percent-encoded as on the wire). Members beyond
/// opentelemetry's limits (64 members, 8192 bytes) are left out.
///
/// # Examples
///
/// ```
/// use ctx::baggage::Baggage;
///
/// let ours: Baggage = "user=alice;pii,tenant=acme%20corp".parse().unwrap();
/// let theirs = opentelemetry::baggage::Baggage::from(&ours);
/// let (value, metadata) = theirs.get_with_metadata("user").unwrap();
/// assert_eq!((value.as_str(), metadata.as_str()), ("alice", "pii"));
/// assert_eq!(theirs.get("tenant").map(|v| v.as_str()), Some("acme corp"));
/// // And back: opentelemetry's baggage is unordered, ctx's comes back in key order.
/// assert_eq!(Baggage::from(&theirs).to_string(), "tenant=acme%20corp,user=alice;pii");
/// ```
impl From<&Baggage> for OtelBaggage {
    fn from(baggage: &Baggage) -> OtelBaggage {
        let mut out = OtelBaggage::new();
        for member in baggage {
            out.insert_with_metadata(
                member.key().to_owned(),
                member.value().to_owned(),
                properties_text(member),
            );
        }
        out
    }
}

/// opentelemetry's baggage as ctx's, in key order (opentelemetry's is
/// unordered). Members whose key is not a valid token, or whose metadata
/// does not parse as W3C properties, are left out; so is what exceeds ctx's
/// limits when the baggage is written.
impl From<&OtelBaggage> for Baggage {
    fn from(baggage: &OtelBaggage) -> Baggage {
        let mut members: Vec<Member> = baggage
            .iter()
            .filter_map(|(key, (value, metadata))| {
                member(key.as_str(), value.as_str(), metadata.as_str())
            })
            .collect();
        members.sort_by(|a, b| a.key().cmp(b.key()));
        members.into_iter().collect()
    }
}

/// The properties of `member` as they follow its value on the wire, without
/// the leading `;` (empty when it has none).
fn properties_text(member: &Member) -> String {
    if member.properties().is_empty() {
        return String::new();
    }
    // The header form of the member alone: the key is a token and the value
    // is percent-encoded, so the first `;` starts the properties.
    let alone: Baggage = std::iter::once(Member::clone(member)).collect();
    let header = alone.to_string();
    header
        .split_once(';')
        .map(|(_, properties)| properties.to_owned())
        .unwrap_or_default()
}

/// A ctx member from opentelemetry's parts, if they are valid for ctx.
fn member(key: &str, value: &str, metadata: &str) -> Option<Member> {
    let mut member = Member::new(key, value).ok()?;
    let metadata = metadata.trim();
    if metadata.is_empty() {
        return Some(member);
    }
    // Parse the properties with ctx's own parser, behind a stand-in member.
    let parsed = Baggage::parse(format!("k=;{metadata}").as_bytes());
    let stand_in = parsed.iter().next()?;
    for property in stand_in.properties() {
        member = member
            .with_property(property.key(), property.value().map(str::to_owned))
            .ok()?;
    }
    Some(member)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_flags_and_state_round_trip() {
        let mut t = TraceContext::new_root().with_flags(TraceFlags::RANDOM);
        t.state_mut().insert("rojo", "00f067aa0ba902b7").unwrap();
        t.state_mut().insert("congo", "t61rcWkgMzE").unwrap();
        let sc = SpanContext::from(&t);
        assert!(!sc.is_sampled(), "random alone is not sampled");
        assert_eq!(sc.trace_flags().to_u8(), 0x02);
        assert_eq!(sc.trace_state().header(), t.state().header());
        assert_eq!(TraceContext::try_from(sc), Ok(t));
    }

    #[test]
    fn unknown_flag_bits_are_cleared() {
        let sc = SpanContext::new(
            OtelTraceId::from(1u128),
            OtelSpanId::from(2u64),
            OtelTraceFlags::new(0xff),
            false,
            OtelTraceState::NONE,
        );
        let t = TraceContext::try_from(&sc).unwrap();
        assert_eq!(t.flags(), TraceFlags::KNOWN);
    }

    #[test]
    fn invalid_span_contexts_give_no_trace_context() {
        let zero_span = SpanContext::new(
            OtelTraceId::from(1u128),
            OtelSpanId::INVALID,
            OtelTraceFlags::SAMPLED,
            false,
            OtelTraceState::NONE,
        );
        let zero_trace = SpanContext::new(
            OtelTraceId::INVALID,
            OtelSpanId::from(1u64),
            OtelTraceFlags::SAMPLED,
            false,
            OtelTraceState::NONE,
        );
        for sc in [SpanContext::NONE, zero_span, zero_trace] {
            assert_eq!(TraceContext::try_from(&sc), Err(InvalidSpanContext::new()));
        }
    }

    #[test]
    fn trace_state_members_the_other_side_refuses_are_dropped() {
        // ctx takes the current grammar's multi-tenant keys; opentelemetry
        // keeps Level 1's limit of 14 characters after the `@`.
        let state: TraceState = "a=1,t@averyverylongvendorname=2,c=3".parse().unwrap();
        assert_eq!(otel_state(&state).header(), "a=1,c=3");
        // opentelemetry takes a value that is not ASCII; ctx does not.
        let theirs =
            OtelTraceState::from_key_value([("a", "1"), ("b", "\u{e9}"), ("c", "3")]).unwrap();
        assert_eq!(ctx_state(&theirs).header(), "a=1,c=3");
    }

    #[test]
    fn baggage_properties_and_encoding_survive() {
        let ours: Baggage = "k=v;p=a%2Cb;q,x=%F0%9F%98%80".parse().unwrap();
        let theirs = OtelBaggage::from(&ours);
        assert_eq!(theirs.len(), 2);
        let (value, metadata) = theirs.get_with_metadata("k").unwrap();
        assert_eq!((value.as_str(), metadata.as_str()), ("v", "p=a%2Cb;q"));
        assert_eq!(theirs.get("x").map(|v| v.as_str()), Some("\u{1F600}"));
        assert_eq!(Baggage::from(&theirs), ours);
    }

    #[test]
    fn otel_baggage_ctx_cannot_hold_is_dropped() {
        let mut theirs = OtelBaggage::new();
        theirs.insert("ok", "1");
        theirs.insert("also'ok", "2");
        theirs.insert_with_metadata("meta", "3", "bad prop");
        let ours = Baggage::from(&theirs);
        let keys: Vec<&str> = ours.iter().map(Member::key).collect();
        assert_eq!(
            keys,
            ["also'ok", "ok"],
            "sorted, the bad metadata's member left out"
        );
    }
}
