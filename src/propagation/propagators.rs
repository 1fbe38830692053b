//! [`Propagators`], an ordered list of propagators used as one; the default
//! list; and the free [`extract`] and [`inject`], which use it.

use std::sync::{Arc, OnceLock};

use super::b3::B3Propagator;
use super::baggage::BaggagePropagator;
use super::carrier::{Extractor, Injector};
use super::propagated::Propagated;
use super::propagator::{FieldNames, Propagator};
use super::request_id::RequestIdPropagator;
use super::traceparent::TraceContextPropagator;

/// An ordered list of propagators used as one.
///
/// On extract, the propagators run in order and each fills only what the
/// ones before it left empty. On inject, every propagator writes its format
/// and removes the fields of its format that the context has no value for
/// (see [`Propagator`]'s contract), so the formats of one list should not
/// share fields: two [`B3Propagator`]s with different encodings would
/// remove each other's headers, where one with
/// [`B3Encoding::SingleAndMulti`](crate::propagation::B3Encoding::SingleAndMulti)
/// writes both.
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

    /// The fields of every configured format, in the order of the list, each
    /// name once (see [`Propagator::fields`]).
    ///
    /// # Examples
    /// ```
    /// use ctx::propagation::{Propagators, RequestIdPropagator, TraceContextPropagator};
    ///
    /// let propagators = Propagators::empty()
    ///     .with(TraceContextPropagator::new())
    ///     .with(RequestIdPropagator::with_header("X-Correlation-Id"))
    ///     .with(TraceContextPropagator::new());
    /// assert_eq!(
    ///     propagators.fields().collect::<Vec<_>>(),
    ///     ["traceparent", "tracestate", "x-correlation-id"],
    /// );
    /// ```
    pub fn fields(&self) -> FieldNames<'_> {
        Propagator::fields(self)
    }
}

impl Default for Propagators {
    fn default() -> Self {
        Self::new()
    }
}

impl Propagator for Propagators {
    /// Every format of the list, then the headers of the keys
    /// [declared](super::declare) to travel in one of their own.
    fn extract(&self, carrier: &dyn Extractor, into: &mut Propagated) {
        for p in &self.list {
            p.extract(carrier, into);
        }
        if super::remote::any() {
            super::remote::extract(carrier, &mut into.remote);
        }
    }

    /// Every format of the list, then the headers of the keys declared to
    /// travel in one of their own.
    fn inject(&self, from: &Propagated, carrier: &mut dyn Injector) {
        for p in &self.list {
            p.inject(from, carrier);
        }
        if super::remote::any() {
            super::remote::inject(&from.remote, carrier);
        }
    }

    /// The union of the list's fields, in order, without duplicates (names
    /// compared case-insensitively). Collected on each call: it is meant for
    /// setting things up, not for every request.
    fn fields(&self) -> FieldNames<'_> {
        let mut names: Vec<&str> = Vec::new();
        for name in self.list.iter().flat_map(|p| p.fields()) {
            if !names.iter().any(|seen| seen.eq_ignore_ascii_case(name)) {
                names.push(name);
            }
        }
        names.into_iter().collect()
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
    use crate::propagation::b3::B3Encoding;
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

    #[test]
    fn fields_are_the_union_in_order() {
        assert_eq!(
            Propagators::new().fields().collect::<Vec<_>>(),
            [
                "traceparent",
                "tracestate",
                "baggage",
                "b3",
                "x-b3-traceid",
                "x-b3-spanid",
                "x-b3-parentspanid",
                "x-b3-sampled",
                "x-b3-flags",
                "x-request-id",
            ]
        );
        let twice = Propagators::empty()
            .with(B3Propagator::multi())
            .with(RequestIdPropagator::with_header("X-B3-Sampled"))
            .with(Propagators::new());
        let names: Vec<&str> = twice.fields().collect();
        assert_eq!(
            names[..6],
            [
                "b3",
                "x-b3-traceid",
                "x-b3-spanid",
                "x-b3-parentspanid",
                "x-b3-sampled",
                "x-b3-flags"
            ]
        );
        assert_eq!(
            names[6..],
            ["traceparent", "tracestate", "baggage", "x-request-id"]
        );
        assert_eq!(Propagators::empty().fields().len(), 0);
    }

    /// A carrier that records the names a propagator asks for, sets and
    /// removes.
    #[derive(Default)]
    struct Recorder {
        map: HeaderMap,
        names: std::cell::RefCell<Vec<String>>,
    }

    impl Extractor for Recorder {
        fn get(&self, name: &str) -> Option<&[u8]> {
            self.names.borrow_mut().push(name.to_owned());
            Extractor::get(&self.map, name)
        }

        fn get_all<'a>(&'a self, name: &str, f: &mut dyn FnMut(&'a [u8])) {
            self.names.borrow_mut().push(name.to_owned());
            Extractor::get_all(&self.map, name, f);
        }
    }

    impl Injector for Recorder {
        fn set(&mut self, name: &str, value: &str) {
            self.names.get_mut().push(name.to_owned());
            Injector::set(&mut self.map, name, value);
        }

        fn remove(&mut self, name: &str) {
            self.names.get_mut().push(name.to_owned());
            Injector::remove(&mut self.map, name);
        }
    }

    #[test]
    fn every_name_a_propagator_uses_is_in_its_fields() {
        let b3 = |encoding| B3Propagator::with_encoding(encoding);
        let propagators: [&dyn Propagator; 8] = [
            &TraceContextPropagator::new(),
            &BaggagePropagator::new(),
            &b3(B3Encoding::Single),
            &b3(B3Encoding::Multi),
            &b3(B3Encoding::SingleAndMulti),
            &RequestIdPropagator::with_header("X-Correlation-Id"),
            &RequestIdPropagator::new(),
            &Propagators::new(),
        ];
        let parent = TraceContext::new_root().child();
        let sent = [
            Propagated::new(),
            Propagated::new().with_sampled(false),
            Propagated::new()
                .with_trace(TraceContext::new_root().with_state("a=1".parse().unwrap()))
                .with_baggage("k=v".parse().unwrap())
                .with_request_id(RequestId::random()),
            Propagated::new().with_trace(parent),
        ];
        for p in propagators {
            let fields: Vec<&str> = p.fields().collect();
            for from in &sent {
                let mut carrier = Recorder::default();
                p.inject(from, &mut carrier);
                // Read back what was written, and also from a carrier that
                // has nothing (every fallback is tried).
                let empty = Recorder::default();
                p.extract(&carrier, &mut Propagated::new());
                p.extract(&empty, &mut Propagated::new());
                let used = carrier.names.into_inner().into_iter();
                for name in used.chain(empty.names.into_inner()) {
                    assert!(
                        fields.contains(&name.as_str()),
                        "{p:?} uses {name}, fields {fields:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_hash_map_carries_every_format() {
        use std::collections::HashMap;

        let fields = Propagated::new()
            .with_trace(TraceContext::new_root().with_state("a=1".parse().unwrap()))
            .with_baggage("k=v".parse().unwrap())
            .with_request_id(RequestId::random());
        let mut m: HashMap<String, String> = HashMap::new();
        inject(&fields, &mut m);
        assert_eq!(extract(&m), fields);
        // A broker that changed the names' case changes nothing.
        let upper: HashMap<String, String> = m
            .iter()
            .map(|(k, v)| (k.to_ascii_uppercase(), v.clone()))
            .collect();
        assert_eq!(extract(&upper), fields);
        // Two spellings of `traceparent` are two fields: invalid, as in HTTP.
        let mut two = upper.clone();
        two.insert("traceparent".into(), upper["TRACEPARENT"].clone());
        two.remove("B3");
        assert_eq!(extract(&two).trace, None);
    }

    #[test]
    fn empty_fields_clear_every_format() {
        let stale = [
            ("traceparent", TP),
            ("tracestate", "old=1"),
            ("baggage", "user=mallory"),
            ("b3", B3),
            ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
            ("x-b3-spanid", "e457b5a2e4d86bd1"),
            ("x-b3-sampled", "1"),
            ("x-request-id", "another-request"),
            ("host", "example.com"),
        ];
        let mut h = header_map(&stale);
        inject(&Propagated::new(), &mut h);
        assert_eq!(h.keys().collect::<Vec<_>>(), ["host"]);

        let mut m: std::collections::HashMap<String, String> = stale
            .iter()
            .map(|(k, v)| (k.to_ascii_uppercase(), v.to_string()))
            .collect();
        inject(&Propagated::new(), &mut m);
        assert_eq!(m.keys().collect::<Vec<_>>(), ["HOST"]);
    }
}
