//! W3C Baggage: the `baggage` header.

use super::carrier::{Extractor, Fields, Injector};
use super::names::BAGGAGE;
use super::propagated::Propagated;
use super::propagator::{FieldNames, Propagator};
use crate::baggage::Baggage;

/// W3C Baggage: reads and writes the `baggage` header.
///
/// Several `baggage` fields are joined in order. Invalid members are
/// dropped one by one and the limits of the specification apply (see
/// [`crate::baggage`]); nothing here fails a request. Injection writes the
/// header when the baggage is not empty; otherwise (also when every member
/// is over the limits) it removes a `baggage` header already in the
/// carrier, which belongs to another context.
///
/// # Examples
/// ```
/// use ctx::propagation::{BaggagePropagator, Propagated, Propagator};
/// use http::HeaderMap;
///
/// let mut headers = HeaderMap::new();
/// headers.append("baggage", "a=1".parse().unwrap());
/// headers.append("baggage", "b=two%20words".parse().unwrap());
///
/// let mut remote = Propagated::new();
/// BaggagePropagator::new().extract(&headers, &mut remote);
/// assert_eq!(remote.baggage.get("b"), Some("two words"));
///
/// let mut out = HeaderMap::new();
/// BaggagePropagator::new().inject(&remote, &mut out);
/// assert_eq!(out["baggage"], "a=1,b=two%20words");
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct BaggagePropagator {
    _priv: (),
}

impl BaggagePropagator {
    /// The W3C baggage propagator.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Propagator for BaggagePropagator {
    fn extract(&self, carrier: &dyn Extractor, into: &mut Propagated) {
        if !into.baggage.is_empty() {
            return;
        }
        let fields = Fields::collect(carrier, BAGGAGE);
        if !fields.as_slice().is_empty() {
            into.baggage = Baggage::parse_fields(fields.as_slice());
        }
    }

    fn inject(&self, from: &Propagated, carrier: &mut dyn Injector) {
        // No baggage to send: a `baggage` header already in the carrier is
        // not this context's.
        if from.baggage.is_empty() {
            carrier.remove(BAGGAGE);
            return;
        }
        let header = from.baggage.header();
        if header.is_empty() {
            carrier.remove(BAGGAGE);
        } else {
            carrier.set(BAGGAGE, &header);
        }
    }

    /// `baggage`.
    fn fields(&self) -> FieldNames<'_> {
        FieldNames::one(BAGGAGE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;

    fn extract(values: &[&str]) -> Baggage {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("baggage", v.parse().unwrap());
        }
        let mut p = Propagated::new();
        BaggagePropagator::new().extract(&h, &mut p);
        p.baggage
    }

    /// (baggage fields, expected header after extract, reason)
    const VECTORS: &[(&[&str], &str, &str)] = &[
        (&["a=1"], "a=1", "one field"),
        (&["a=1", "b=2"], "a=1,b=2", "fields are joined in order"),
        (
            &["a=1", "a=2"],
            "a=2",
            "a key repeated across fields: the later wins",
        ),
        (
            &["a=1", "bad key=2"],
            "a=1",
            "an invalid member in one field drops only that member",
        ),
        (&[], "", "no header"),
    ];

    #[test]
    fn vectors() {
        for &(values, expected, reason) in VECTORS {
            assert_eq!(extract(values).to_string(), expected, "{reason}");
        }
    }

    #[test]
    fn inject_skips_empty_baggage() {
        let mut h = HeaderMap::new();
        BaggagePropagator::new().inject(&Propagated::new(), &mut h);
        assert!(h.is_empty());
        // A baggage whose only member is over the limits writes nothing.
        let mut b = Baggage::new();
        b.insert("big", "x".repeat(Baggage::MAX_MEMBER_LEN))
            .unwrap();
        BaggagePropagator::new().inject(&Propagated::new().with_baggage(b), &mut h);
        assert!(h.is_empty());
    }

    #[test]
    fn fields_are_baggage() {
        let p = BaggagePropagator::new();
        assert_eq!(p.fields().collect::<Vec<_>>(), ["baggage"]);
    }

    #[test]
    fn inject_removes_a_baggage_that_is_not_the_contexts() {
        let stale = || {
            let mut h = HeaderMap::new();
            h.insert("baggage", "user=mallory".parse().unwrap());
            h.insert("host", "example.com".parse().unwrap());
            h
        };
        let mut h = stale();
        BaggagePropagator::new().inject(&Propagated::new(), &mut h);
        assert!(!h.contains_key("baggage"), "no baggage: {h:?}");
        assert_eq!(h.len(), 1);

        let mut h = stale();
        let mut over = Baggage::new();
        over.insert("big", "x".repeat(Baggage::MAX_MEMBER_LEN))
            .unwrap();
        BaggagePropagator::new().inject(&Propagated::new().with_baggage(over), &mut h);
        assert!(
            !h.contains_key("baggage"),
            "nothing within the limits: {h:?}"
        );

        let mut h = stale();
        let fields = Propagated::new().with_baggage("user=alice".parse().unwrap());
        BaggagePropagator::new().inject(&fields, &mut h);
        assert_eq!(h["baggage"], "user=alice");
        assert_eq!(h.get_all("baggage").iter().count(), 1);
    }
}
