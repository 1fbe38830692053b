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
/// header only when the baggage is not empty.
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
        if from.baggage.is_empty() {
            return;
        }
        let header = from.baggage.header();
        if !header.is_empty() {
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
}
