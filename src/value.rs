//! How a context table holds its values: [`Stored`] in the table, [`Value`]
//! on the way in.

use std::any::Any;
use std::sync::Arc;

use crate::key::Key;
use crate::trace::{TraceContext, TRACE_CONTEXT};

/// What a context table stores for one key.
///
/// Values are shared behind an `Arc`, so that copy-on-write copies
/// pointers, never values. The request's [`TraceContext`] under
/// [`TRACE_CONTEXT`] is the exception: it is held in the table's header
/// (`Trace` points there), so that seeding a request's context costs one
/// allocation, not two, while every entry stays two words.
#[derive(Clone)]
pub(crate) enum Stored {
    Shared(Arc<dyn Any + Send + Sync>),
    Trace,
}

/// A value on its way into a table: where it will live.
pub(crate) enum Value {
    Shared(Arc<dyn Any + Send + Sync>),
    Trace(TraceContext),
}

impl Value {
    /// `value` for `key`: held in the table's header for [`TRACE_CONTEXT`],
    /// shared for every other key.
    #[inline]
    pub(crate) fn new<T: Send + Sync + 'static>(key: &'static Key<T>, value: T) -> Value {
        let trace_key: *const () = std::ptr::from_ref(&TRACE_CONTEXT).cast();
        if std::ptr::from_ref(key).cast::<()>() != trace_key {
            return Value::Shared(Arc::new(value));
        }
        // The key is `TRACE_CONTEXT`, so `T` is `TraceContext`.
        let mut slot = Some(value);
        let any: &mut dyn Any = &mut slot;
        match any
            .downcast_mut::<Option<TraceContext>>()
            .and_then(Option::take)
        {
            Some(trace) => Value::Trace(trace),
            None => slot.map_or_else(
                // Unreachable: only a successful `take` empties `slot`.
                || Value::Shared(Arc::new(())),
                |v| Value::Shared(Arc::new(v)),
            ),
        }
    }

    /// Splits the value into what the entry stores and what goes into the
    /// table's header.
    pub(crate) fn store(self) -> (Stored, Option<TraceContext>) {
        match self {
            Value::Shared(v) => (Stored::Shared(v), None),
            Value::Trace(t) => (Stored::Trace, Some(t)),
        }
    }
}

impl Stored {
    /// The value, to downcast; `trace` is the table header's trace context.
    #[inline]
    pub(crate) fn as_any<'a>(
        &'a self,
        trace: Option<&'a TraceContext>,
    ) -> Option<&'a (dyn Any + Send + Sync)> {
        match self {
            Stored::Shared(v) => Some(&**v),
            Stored::Trace => trace.map(|t| t as &(dyn Any + Send + Sync)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static OTHER_TRACE: Key<TraceContext> = Key::new("other trace");
    static N: Key<u32> = Key::new("n");

    #[test]
    fn only_the_trace_key_goes_to_the_header() {
        let trace = TraceContext::new_root();
        assert!(matches!(Value::new(&TRACE_CONTEXT, trace.clone()), Value::Trace(t) if t == trace));
        // Another key of the same type is shared: the header has one place.
        assert!(matches!(
            Value::new(&OTHER_TRACE, trace.clone()),
            Value::Shared(_)
        ));
        let (stored, header) = Value::new(&N, 7).store();
        assert!(header.is_none());
        assert_eq!(stored.as_any(None).unwrap().downcast_ref::<u32>(), Some(&7));
        let (stored, header) = Value::new(&TRACE_CONTEXT, trace.clone()).store();
        assert!(matches!(stored, Stored::Trace));
        let any = stored.as_any(header.as_ref()).unwrap();
        assert_eq!(any.downcast_ref::<TraceContext>(), Some(&trace));
    }
}
