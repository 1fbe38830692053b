//! Step 4 of [`ContextLayer`](super::ContextLayer): the response headers
//! that echo the server span and the request id.

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};

use crate::propagation::TraceParent;

/// What the response headers echo: the server span, and the request id as
/// it came in. Carries the layer's settings it needs, so that the response
/// future holds no reference count on the layer's configuration.
#[derive(Debug)]
pub(super) struct Echo {
    pub(super) traceparent: TraceParent,
    pub(super) echo_traceparent: bool,
    pub(super) request_id: Option<HeaderValue>,
    pub(super) request_id_header: Option<HeaderName>,
}

impl Echo {
    /// Writes the headers. Both values share one allocation: the request id
    /// that stands in when none came is the trace-id part of `traceparent`.
    pub(super) fn write(self, headers: &mut http::HeaderMap) {
        let Echo {
            traceparent,
            echo_traceparent,
            request_id,
            request_id_header,
        } = self;
        let needs_line = echo_traceparent || (request_id_header.is_some() && request_id.is_none());
        let line = needs_line.then(|| Bytes::from_owner(traceparent.to_bytes()));
        if let Some(name) = request_id_header {
            // "00-" then the 32 hex digits of the trace id.
            let v = request_id.or_else(|| {
                let line = line.as_ref()?;
                HeaderValue::from_maybe_shared(line.slice(3..35)).ok()
            });
            if let Some(v) = v {
                headers.insert(name, v);
            }
        }
        if let (true, Some(line)) = (echo_traceparent, line) {
            if let Ok(v) = HeaderValue::from_maybe_shared(line) {
                headers.insert(TRACEPARENT.clone(), v);
            }
        }
    }
}

static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
