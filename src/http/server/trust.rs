//! [`Trust`]: whether the layer believes the trace context a caller sends.

/// Whether to believe the trace context a caller sends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Trust {
    /// Continue the caller's trace: the server span is a child of the
    /// caller's span, and the caller's baggage is kept. For services behind
    /// your own edge.
    #[default]
    Inbound,
    /// Treat the caller as untrusted (a public edge): start a new trace
    /// (or continue this process's own, when the service is called inside
    /// one), drop the inbound baggage and the values of the keys declared
    /// to travel ([`RemoteKey`](crate::propagation::RemoteKey)), and keep the
    /// inbound trace id only as the
    /// [access log](super::ContextLayer#access-log)'s `inbound_trace_id`
    /// field. The request id is still kept, as a correlation handle; it is
    /// bounded and validated like every header.
    Untrusted,
}
