//! How a context table holds its values: [`Stored`], and [`store`] to put
//! one in.

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

/// Stores `value` for `key`: what the table's entry holds, and the trace
/// context for the table's header when the key is [`TRACE_CONTEXT`] (every
/// other key's value is shared).
#[inline]
pub(crate) fn store<T: Send + Sync + 'static>(
    key: &'static Key<T>,
    value: T,
) -> (Stored, Option<TraceContext>) {
    let trace_key: *const () = std::ptr::from_ref(&TRACE_CONTEXT).cast();
    if std::ptr::from_ref(key).cast::<()>() != trace_key {
        return (Stored::Shared(Arc::new(value)), None);
    }
    // The key is `TRACE_CONTEXT`, so `T` is `TraceContext`.
    let mut slot = Some(value);
    let any: &mut dyn Any = &mut slot;
    match any
        .downcast_mut::<Option<TraceContext>>()
        .and_then(Option::take)
    {
        Some(trace) => (Stored::Trace, Some(trace)),
        None => {
            // Unreachable: only a successful `take` empties `slot`.
            let shared: Arc<dyn Any + Send + Sync> = match slot {
                Some(v) => Arc::new(v),
                None => Arc::new(()),
            };
            (Stored::Shared(shared), None)
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
        let (stored, header) = store(&TRACE_CONTEXT, trace.clone());
        assert!(matches!(stored, Stored::Trace));
        assert_eq!(header.as_ref(), Some(&trace));
        let any = stored.as_any(header.as_ref()).unwrap();
        assert_eq!(any.downcast_ref::<TraceContext>(), Some(&trace));
        // Another key of the same type is shared: the header has one place.
        let (stored, header) = store(&OTHER_TRACE, trace.clone());
        assert!(matches!(stored, Stored::Shared(_)) && header.is_none());
        let (stored, header) = store(&N, 7);
        assert!(header.is_none());
        assert_eq!(stored.as_any(None).unwrap().downcast_ref::<u32>(), Some(&7));
    }
}
