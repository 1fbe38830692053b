//! Header names used by the propagators, lowercase as the specifications
//! recommend (carriers match names case-insensitively).

/// W3C Trace Context.
pub const TRACEPARENT: &str = "traceparent";
/// W3C Trace Context.
pub const TRACESTATE: &str = "tracestate";
/// W3C Baggage.
pub const BAGGAGE: &str = "baggage";
/// B3 single header.
pub const B3: &str = "b3";
/// B3 multi header: the trace id.
pub const X_B3_TRACE_ID: &str = "x-b3-traceid";
/// B3 multi header: the span id.
pub const X_B3_SPAN_ID: &str = "x-b3-spanid";
/// B3 multi header: the parent span id.
pub const X_B3_PARENT_SPAN_ID: &str = "x-b3-parentspanid";
/// B3 multi header: the sampling decision.
pub const X_B3_SAMPLED: &str = "x-b3-sampled";
/// B3 multi header: the debug flag.
pub const X_B3_FLAGS: &str = "x-b3-flags";
/// The default request-id header.
pub const X_REQUEST_ID: &str = "x-request-id";
/// The default header of the hierarchical call id.
pub const X_CALL_ID: &str = "x-call-id";
