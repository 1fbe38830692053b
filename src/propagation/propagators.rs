//! [`Propagators`], an ordered list of propagators used as one; the default
//! list; and the free [`extract`] and [`inject`], which use it.

use std::sync::{Arc, OnceLock};

use super::b3::B3Propagator;
use super::baggage::BaggagePropagator;
use super::carrier::{Extractor, Injector};
use super::propagated::Propagated;
use super::propagator::Propagator;
use super::request_id::RequestIdPropagator;
use super::traceparent::TraceContextPropagator;

/// An ordered list of propagators used as one.
///
/// On extract, the propagators run in order and each fills only what the
/// ones before it left empty. On inject, every propagator writes its format.
///
/// # Examples
/// ```
/// use ctx::propagation::{B3Propagator, Propagated, Propagators, TraceContextPropagator};
/// use ctx::trace::TraceContext;
/// use http::HeaderMap;
///
/// // Prefer B3, fall back to W3C, and write both.
/// let propagators = Propagators::empty()
///     .with(B3Propagator::multi())
///     .with(TraceContextPropagator::new());
///
/// let mut headers = HeaderMap::new();
/// propagators.inject(&Propagated::new().with_trace(TraceContext::new_root()), &mut headers);
/// assert!(headers.contains_key("x-b3-traceid"));
/// assert!(headers.contains_key("traceparent"));
/// ```
#[derive(Clone, Debug)]
pub struct Propagators {
    list: Vec<Arc<dyn Propagator>>,
}

impl Propagators {
    /// The default list: [`TraceContextPropagator`], [`BaggagePropagator`],
    /// [`B3Propagator`] (reads both B3 encodings, writes the single `b3`
    /// header) and [`RequestIdPropagator`] (`x-request-id`).
    pub fn new() -> Self {
        Self::empty()
            .with(TraceContextPropagator::new())
            .with(BaggagePropagator::new())
            .with(B3Propagator::new())
            .with(RequestIdPropagator::new())
    }

    /// An empty list, to build with [`with`](Self::with).
    pub fn empty() -> Self {
        Propagators { list: Vec::new() }
    }

    /// This list with `propagator` added last.
    #[must_use]
    pub fn with(mut self, propagator: impl Propagator) -> Self {
        self.list.push(Arc::new(propagator));
        self
    }

    /// Reads every configured format from `carrier`.
    pub fn extract(&self, carrier: &dyn Extractor) -> Propagated {
        let mut out = Propagated::default();
        Propagator::extract(self, carrier, &mut out);
        out
    }

    /// Writes every configured format into `carrier`.
    pub fn inject(&self, from: &Propagated, carrier: &mut dyn Injector) {
        Propagator::inject(self, from, carrier);
    }
}

impl Default for Propagators {
    fn default() -> Self {
        Self::new()
    }
}

impl Propagator for Propagators {
    fn extract(&self, carrier: &dyn Extractor, into: &mut Propagated) {
        for p in &self.list {
            p.extract(carrier, into);
        }
    }

    fn inject(&self, from: &Propagated, carrier: &mut dyn Injector) {
        for p in &self.list {
            p.inject(from, carrier);
        }
    }
}

pub(crate) fn default_propagators() -> &'static Propagators {
    static DEFAULT: OnceLock<Propagators> = OnceLock::new();
    DEFAULT.get_or_init(Propagators::new)
}

/// Reads `carrier` with the default [`Propagators`].
///
/// # Examples
/// ```
/// let mut headers = http::HeaderMap::new();
/// headers.insert("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1".parse().unwrap());
/// let remote = ctx::propagation::extract(&headers);
/// assert_eq!(remote.trace.unwrap().trace_id().to_string(), "80f198ee56343ba864fe8b2a57d3eff7");
/// ```
pub fn extract(carrier: &dyn Extractor) -> Propagated {
    default_propagators().extract(carrier)
}

/// Writes `from` into `carrier` with the default [`Propagators`].
pub fn inject(from: &Propagated, carrier: &mut dyn Injector) {
    default_propagators().inject(from, carrier);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baggage::Baggage;
    use crate::model::RequestId;
    use crate::propagation::carrier::header_map;
    use crate::trace::{SpanId, TraceContext, TraceFlags, TraceId};
    use http::HeaderMap;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        header_map(pairs)
    }

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const B3: &str = "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1";

    type Headers = &'static [(&'static str, &'static str)];

    /// (headers, expected trace id, reason)
    const COMPOSITE: &[(Headers, Option<&str>, &str)] = &[
        (
            &[("traceparent", TP)],
            Some("4bf92f3577b34da6a3ce929d0e0e4736"),
            "W3C alone",
        ),
        (
            &[("b3", B3)],
            Some("80f198ee56343ba864fe8b2a57d3eff7"),
            "B3 alone",
        ),
        (
            &[("traceparent", TP), ("b3", B3)],
            Some("4bf92f3577b34da6a3ce929d0e0e4736"),
            "W3C first in the default order",
        ),
        (
            &[("traceparent", "garbage"), ("b3", B3)],
            Some("80f198ee56343ba864fe8b2a57d3eff7"),
            "invalid W3C falls back to B3",
        ),
        (
            &[("traceparent", TP), ("traceparent", TP), ("b3", B3)],
            Some("80f198ee56343ba864fe8b2a57d3eff7"),
            "duplicate traceparent is invalid, B3 is next",
        ),
        (
            &[("TraceParent", TP)],
            Some("4bf92f3577b34da6a3ce929d0e0e4736"),
            "mixed-case names on the wire (HeaderMap lowercases them, as hyper does)",
        ),
        (&[], None, "nothing to extract"),
    ];

    #[test]
    fn composite_order() {
        let p = Propagators::new();
        for &(pairs, expected, reason) in COMPOSITE {
            let got = p
                .extract(&headers(pairs))
                .trace
                .map(|t| t.trace_id().to_string());
            assert_eq!(got.as_deref(), expected, "{reason}");
        }
    }

    #[test]
    fn default_inject_writes_every_format() {
        let mut trace = TraceContext::new(
            TraceId::from_u128(0x4bf92f3577b34da6a3ce929d0e0e4736).unwrap(),
            SpanId::from_u64(0x00f067aa0ba902b7).unwrap(),
            TraceFlags::SAMPLED,
        )
        .with_state("congo=t61rcWkgMzE".parse().unwrap());
        trace
            .state_mut()
            .insert("rojo", "00f067aa0ba902b7")
            .unwrap();
        let mut baggage = Baggage::new();
        baggage.insert("k", "v").unwrap();
        let fields = Propagated::new()
            .with_trace(trace)
            .with_baggage(baggage)
            .with_request_id(RequestId::new("req-1").unwrap());
        let mut h = HeaderMap::new();
        inject(&fields, &mut h);
        assert_eq!(h["traceparent"], TP);
        assert_eq!(h["tracestate"], "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
        assert_eq!(h["baggage"], "k=v");
        assert_eq!(
            h["b3"],
            "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1"
        );
        assert_eq!(h["x-request-id"], "req-1");
        assert_eq!(
            extract(&h),
            fields,
            "what is injected extracts back the same"
        );
    }

    #[test]
    fn empty_fields_inject_nothing() {
        let mut h = HeaderMap::new();
        inject(&Propagated::new(), &mut h);
        assert!(h.is_empty());
    }
}
