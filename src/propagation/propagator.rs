//! The [`Propagator`] trait: one wire format.

use std::fmt;

use super::carrier::{Extractor, Injector};
use super::propagated::Propagated;

/// One wire format: reads it from a carrier and writes it to one.
///
/// # Contract
/// - `extract` fills only the fields of `into` that are still empty (no
///   trace context, empty baggage, no request id), so that in a
///   [`Propagators`] list the first format present wins. Invalid input
///   leaves `into` unchanged.
/// - `inject` writes the fields it knows about when they are set, and
///   nothing otherwise.
/// - Neither panics, whatever the carrier holds.
///
/// [`Propagators`]: crate::propagation::Propagators
pub trait Propagator: fmt::Debug + Send + Sync + 'static {
    /// Reads this format from `carrier` into the empty fields of `into`.
    fn extract(&self, carrier: &dyn Extractor, into: &mut Propagated);

    /// Writes this format from `from` into `carrier`.
    fn inject(&self, from: &Propagated, carrier: &mut dyn Injector);
}
