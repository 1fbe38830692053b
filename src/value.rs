//! [`Value`]: how a context table holds one value.

use std::any::Any;
use std::sync::Arc;

use crate::baggage::Baggage;
use crate::propagation::RequestId;
use crate::trace::TraceContext;

/// One value of a context table.
///
/// A value is shared behind an `Arc`, so that copy-on-write copies pointers,
/// never values. The crate's own per-request values (the trace context, the
/// baggage, the request id) are already cheap to clone (`Copy` ids and
/// reference-counted lists), so they are held in the table itself instead:
/// seeding a request's context then costs one allocation (the table), not
/// one per value.
#[derive(Clone)]
pub(crate) enum Value {
    Shared(Arc<dyn Any + Send + Sync>),
    Trace(TraceContext),
    Baggage(Baggage),
    RequestId(RequestId),
}

impl Value {
    /// Stores `value`: in the table for the crate's own request values,
    /// behind an `Arc` for every other type. The type tests are resolved
    /// at compile time.
    #[inline]
    pub(crate) fn new<T: Send + Sync + 'static>(value: T) -> Value {
        let mut slot = Some(value);
        let any: &mut dyn Any = &mut slot;
        if let Some(v) = any.downcast_mut::<Option<TraceContext>>() {
            return v.take().map_or_else(Value::empty, Value::Trace);
        }
        if let Some(v) = any.downcast_mut::<Option<Baggage>>() {
            return v.take().map_or_else(Value::empty, Value::Baggage);
        }
        if let Some(v) = any.downcast_mut::<Option<RequestId>>() {
            return v.take().map_or_else(Value::empty, Value::RequestId);
        }
        slot.map_or_else(Value::empty, |v| Value::Shared(Arc::new(v)))
    }

    /// Never stored: `new` always has its value. Only there so that the
    /// code above needs no `unwrap`.
    #[cold]
    fn empty() -> Value {
        Value::Shared(Arc::new(()))
    }

    /// The value, to downcast.
    #[inline]
    pub(crate) fn as_any(&self) -> &(dyn Any + Send + Sync) {
        match self {
            Value::Shared(v) => &**v,
            Value::Trace(v) => v,
            Value::Baggage(v) => v,
            Value::RequestId(v) => v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_values_are_held_in_the_table_and_others_shared() {
        let trace = TraceContext::new_root();
        assert!(matches!(Value::new(trace.clone()), Value::Trace(t) if t == trace));
        assert!(matches!(Value::new(Baggage::new()), Value::Baggage(_)));
        let id = RequestId::new("abc").unwrap();
        assert!(matches!(Value::new(id.clone()), Value::RequestId(r) if r == id));
        let shared = Value::new(7u32);
        assert!(matches!(shared, Value::Shared(_)));
        assert_eq!(shared.as_any().downcast_ref::<u32>(), Some(&7));
        assert_eq!(
            Value::new(id.clone()).as_any().downcast_ref::<RequestId>(),
            Some(&id)
        );
    }
}
