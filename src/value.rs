//! How a context table holds its values: [`Stored`] in the table, and
//! [`store`] to put one in; and the three keys whose values the table holds
//! in place, [`TRACE_CONTEXT`], [`REQUEST_ID`] and [`BUDGET`].

use std::any::Any;
use std::sync::Arc;

use crate::budget::Budget;
use crate::key::{key_addr, ErasedKey, Key};
use crate::model::{RequestId, TraceContext};

/// The key under which the current [`TraceContext`] lives in the
/// [`Context`](crate::Context).
///
/// [`TraceContext::current`], [`TraceContext::scope`] and the functions of
/// [`ctx::trace`](crate::trace) use it; it is public so that a context can
/// be built by hand with [`Context::with`](crate::Context::with).
pub static TRACE_CONTEXT: Key<TraceContext> = Key::new("ctx.trace");

/// The key under which the current [`RequestId`] lives in the
/// [`Context`](crate::Context).
///
/// [`ctx::request_id`](crate::request_id) and
/// [`RequestId::current`] read it; the server layer sets it.
pub static REQUEST_ID: Key<RequestId> = Key::new("ctx.request_id");

/// The key of a context's deadline and, with the feature `cancel`, its
/// cancellation signal (`ctx::deadline`, `ctx::cancel`): one value, held in
/// the table's header, so that a request's deadline and cancellation cost
/// no allocation beyond the table's.
pub(crate) static BUDGET: Key<Budget> = Key::new("ctx.deadline");

/// What a context table stores for one key.
///
/// Values are shared behind an `Arc`, so that copy-on-write copies
/// pointers, never values. The per-request values the server layer seeds,
/// the [`TraceContext`] under [`TRACE_CONTEXT`], the [`RequestId`] under
/// [`REQUEST_ID`] and the [`Budget`] under [`BUDGET`], are the exception:
/// they are held in the table's header ([`Lodged`]; `InHeader` says so), so
/// that seeding a request's context costs one allocation, while every entry
/// stays two words.
#[derive(Clone)]
pub(crate) enum Stored {
    Shared(Arc<dyn Any + Send + Sync>),
    InHeader,
}

/// A value on its way into a table's header.
pub(crate) enum Lodged {
    Trace(TraceContext),
    RequestId(RequestId),
    Budget(Budget),
}

/// Which header field, if any, holds `key`'s value.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderField {
    Trace,
    RequestId,
    Budget,
}

impl HeaderField {
    /// The field for `key`: only the three keys named above have one.
    #[inline]
    pub(crate) fn of(key: &'static dyn ErasedKey) -> Option<HeaderField> {
        let this = key_addr(key);
        if this == key_addr(&TRACE_CONTEXT) {
            Some(HeaderField::Trace)
        } else if this == key_addr(&REQUEST_ID) {
            Some(HeaderField::RequestId)
        } else if this == key_addr(&BUDGET) {
            Some(HeaderField::Budget)
        } else {
            None
        }
    }
}

/// Stores `value` for `key`: what the table's entry holds, and the value
/// for the table's header when `key` has a header field.
#[inline]
pub(crate) fn store<T: Send + Sync + 'static>(
    key: &'static Key<T>,
    value: T,
) -> (Stored, Option<Lodged>) {
    let Some(field) = HeaderField::of(key) else {
        return (Stored::Shared(Arc::new(value)), None);
    };
    // The key is one of the three, so `T` is its type: the downcasts succeed.
    let mut slot = Some(value);
    let any: &mut dyn Any = &mut slot;
    let lodged = match field {
        HeaderField::Trace => any
            .downcast_mut::<Option<TraceContext>>()
            .and_then(Option::take)
            .map(Lodged::Trace),
        HeaderField::RequestId => any
            .downcast_mut::<Option<RequestId>>()
            .and_then(Option::take)
            .map(Lodged::RequestId),
        HeaderField::Budget => any
            .downcast_mut::<Option<Budget>>()
            .and_then(Option::take)
            .map(Lodged::Budget),
    };
    match (lodged, slot) {
        (Some(lodged), _) => (Stored::InHeader, Some(lodged)),
        // Unreachable (see above); shared, as any other value would be.
        (None, Some(v)) => (Stored::Shared(Arc::new(v)), None),
        (None, None) => (Stored::Shared(Arc::new(())), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static OTHER_TRACE: Key<TraceContext> = Key::new("other trace");
    static N: Key<u32> = Key::new("n");

    #[test]
    fn only_the_three_request_keys_go_to_the_header() {
        let trace = TraceContext::new_root();
        let (stored, lodged) = store(&TRACE_CONTEXT, trace.clone());
        assert!(matches!(stored, Stored::InHeader));
        assert!(matches!(lodged, Some(Lodged::Trace(t)) if t == trace));
        let id = RequestId::new("r-1").unwrap();
        let (stored, lodged) = store(&REQUEST_ID, id.clone());
        assert!(matches!(stored, Stored::InHeader));
        assert!(matches!(lodged, Some(Lodged::RequestId(r)) if r == id));
        let when = std::time::Instant::now();
        let (stored, lodged) = store(&BUDGET, Budget::new(Some(when)));
        assert!(matches!(stored, Stored::InHeader));
        assert!(matches!(lodged, Some(Lodged::Budget(b)) if b.deadline == Some(when)));
        // Another key of the same type is shared: the header has one place.
        let (stored, lodged) = store(&OTHER_TRACE, trace);
        assert!(matches!(stored, Stored::Shared(_)) && lodged.is_none());
        let (stored, lodged) = store(&N, 7);
        assert!(lodged.is_none());
        let Stored::Shared(v) = stored else {
            panic!("a u32 is shared")
        };
        assert_eq!(v.downcast_ref::<u32>(), Some(&7));
    }
}
