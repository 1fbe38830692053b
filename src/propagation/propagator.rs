//! The [`Propagator`] trait: one wire format; and [`FieldNames`], the names
//! of the fields a format uses.

use std::fmt;
use std::iter::FusedIterator;
use std::{slice, vec};

use super::carrier::{Extractor, Injector};
use super::propagated::Propagated;

/// One wire format: reads it from a carrier and writes it to one.
///
/// # Contract
/// - `extract` fills only the fields of `into` that are still empty (no
///   trace context, empty baggage, no request id), so that in a
///   [`Propagators`] list the first format present wins. Invalid input
///   leaves `into` unchanged.
/// - `inject` makes the carrier's fields of this format describe `from`
///   alone: it writes those `from` has a value for and removes the others
///   with [`Injector::remove`] (a `baggage` header when the baggage is
///   empty, `traceparent` when there is no trace context), so that a value
///   already in the carrier never travels with a context it does not
///   belong to. The formats of one [`Propagators`] list should therefore
///   not share fields.
/// - [`fields`](Propagator::fields) names every field `extract` reads and
///   `inject` writes or removes.
/// - None of them panics, whatever the carrier holds.
///
/// [`Propagators`]: crate::propagation::Propagators
pub trait Propagator: fmt::Debug + Send + Sync + 'static {
    /// Reads this format from `carrier` into the empty fields of `into`.
    fn extract(&self, carrier: &dyn Extractor, into: &mut Propagated);

    /// Writes this format from `from` into `carrier`.
    fn inject(&self, from: &Propagated, carrier: &mut dyn Injector);

    /// The names of the fields this format reads and writes, lowercase, each
    /// once: the headers a proxy must pass through, a CORS policy must
    /// allow, or a carrier must clear before it is reused.
    ///
    /// The default names none. A required method would break every
    /// propagator written outside ctx, so an implementation that does not
    /// override it compiles and lists nothing; every propagator of ctx
    /// overrides it, and yours should.
    ///
    /// # Examples
    /// ```
    /// use ctx::propagation::{
    ///     Extractor, FieldNames, Injector, Propagated, Propagator, Propagators,
    /// };
    ///
    /// // A format of one header, `x-tenant`, that carries nothing ctx keeps:
    /// // it only shows how a propagator names its fields.
    /// #[derive(Debug)]
    /// struct Tenant;
    ///
    /// impl Propagator for Tenant {
    ///     fn extract(&self, _: &dyn Extractor, _: &mut Propagated) {}
    ///     fn inject(&self, _: &Propagated, _: &mut dyn Injector) {}
    ///     fn fields(&self) -> FieldNames<'_> {
    ///         FieldNames::new(&["x-tenant"])
    ///     }
    /// }
    ///
    /// assert_eq!(Tenant.fields().collect::<Vec<_>>(), ["x-tenant"]);
    /// assert_eq!(
    ///     Propagators::new().with(Tenant).fields().collect::<Vec<_>>(),
    ///     [
    ///         "traceparent", "tracestate", "baggage", "b3", "x-b3-traceid",
    ///         "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled", "x-b3-flags",
    ///         "x-request-id", "x-tenant",
    ///     ],
    /// );
    /// ```
    fn fields(&self) -> FieldNames<'_> {
        FieldNames::empty()
    }
}

/// The names of the fields a [`Propagator`] uses, from
/// [`Propagator::fields`]: an iterator of `&str`.
///
/// A propagator with a fixed set of names returns them with
/// [`new`](FieldNames::new) (no allocation), one with a configured name
/// with [`one`](FieldNames::one), and one that computes them collects an
/// iterator of names (`.collect::<FieldNames>()`).
#[derive(Clone, Debug)]
pub struct FieldNames<'a> {
    inner: Inner<'a>,
}

#[derive(Clone, Debug)]
enum Inner<'a> {
    Slice(slice::Iter<'a, &'a str>),
    One(Option<&'a str>),
    Owned(vec::IntoIter<&'a str>),
}

impl<'a> FieldNames<'a> {
    /// The names in `names`, in order.
    pub fn new(names: &'a [&'a str]) -> Self {
        FieldNames {
            inner: Inner::Slice(names.iter()),
        }
    }

    /// The one name `name`.
    pub fn one(name: &'a str) -> Self {
        FieldNames {
            inner: Inner::One(Some(name)),
        }
    }

    /// No names.
    pub fn empty() -> Self {
        Self::new(&[])
    }
}

impl Default for FieldNames<'_> {
    fn default() -> Self {
        Self::empty()
    }
}

impl<'a> Iterator for FieldNames<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        match &mut self.inner {
            Inner::Slice(names) => names.next().copied(),
            Inner::One(name) => name.take(),
            Inner::Owned(names) => names.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let len = match &self.inner {
            Inner::Slice(names) => names.len(),
            Inner::One(name) => usize::from(name.is_some()),
            Inner::Owned(names) => names.len(),
        };
        (len, Some(len))
    }
}

impl ExactSizeIterator for FieldNames<'_> {}

impl FusedIterator for FieldNames<'_> {}

impl<'a> FromIterator<&'a str> for FieldNames<'a> {
    fn from_iter<I: IntoIterator<Item = &'a str>>(names: I) -> Self {
        FieldNames {
            inner: Inner::Owned(names.into_iter().collect::<Vec<_>>().into_iter()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Silent;

    impl Propagator for Silent {
        fn extract(&self, _: &dyn Extractor, _: &mut Propagated) {}
        fn inject(&self, _: &Propagated, _: &mut dyn Injector) {}
    }

    #[test]
    fn a_propagator_that_names_nothing_has_no_fields() {
        assert_eq!(Silent.fields().len(), 0);
        assert_eq!(Silent.fields().next(), None);
    }

    #[test]
    fn field_names_iterate_in_order_and_know_their_length() {
        let mut names = FieldNames::new(&["a", "b"]);
        assert_eq!(names.len(), 2);
        assert_eq!(names.next(), Some("a"));
        assert_eq!(names.len(), 1);
        assert_eq!(names.next(), Some("b"));
        assert_eq!(names.next(), None);
        assert_eq!(names.next(), None);

        let mut one = FieldNames::one("x");
        assert_eq!(one.len(), 1);
        assert_eq!(one.next(), Some("x"));
        assert_eq!((one.len(), one.next()), (0, None));

        let owned = String::from("c,d");
        let collected: FieldNames<'_> = owned.split(',').collect();
        assert_eq!(collected.len(), 2);
        assert_eq!(collected.collect::<Vec<_>>(), ["c", "d"]);
        assert_eq!(FieldNames::default().len(), 0);
    }
}
