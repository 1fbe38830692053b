//! The settings of a [`ContextLayer`](super::ContextLayer), and their
//! defaults.

use std::fmt;
use std::sync::Arc;

use http::header::HeaderName;
use tracing::Level;

use super::trust::Trust;
use crate::http::record::SpanRecorder;
use crate::propagation::{
    B3Propagator, BaggagePropagator, IndexedName, Propagators, TraceContextPropagator,
};

/// Settings shared by every clone of a layer and its services (what they
/// make of a request: `seed.rs`).
#[derive(Clone, Debug)]
pub(super) struct Config {
    pub(super) propagators: Propagators,
    pub(super) trust: Trust,
    pub(super) echo_traceparent: bool,
    pub(super) request_id_header: Option<IndexedName>,
    pub(super) access_log: Option<Level>,
    pub(super) recorder: Option<Recorder>,
    /// Read `grpc-timeout` on gRPC requests.
    pub(super) deadline: bool,
    /// The plain-HTTP header of milliseconds to read a deadline from.
    pub(super) deadline_header: Option<IndexedName>,
    /// Give each request a cancellation signal.
    #[cfg(feature = "cancel")]
    pub(super) cancellation: bool,
}

/// A [`SpanRecorder`], shared by the layer's services.
#[derive(Clone)]
pub(super) struct Recorder(pub(super) Arc<dyn SpanRecorder>);

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SpanRecorder")
    }
}

/// The defaults of [`ContextLayer::new`](super::ContextLayer::new), which
/// [`ContextService::new`](super::ContextService::new) has too.
impl Default for Config {
    fn default() -> Config {
        Config {
            // The request id is the layer's own (`request_id_header`).
            propagators: Propagators::empty()
                .with(TraceContextPropagator::new())
                .with(BaggagePropagator::new())
                .with(B3Propagator::new()),
            trust: Trust::Inbound,
            echo_traceparent: true,
            request_id_header: Some(IndexedName::new(HeaderName::from_static("x-request-id"))),
            access_log: Some(Level::INFO),
            recorder: None,
            deadline: true,
            deadline_header: None,
            #[cfg(feature = "cancel")]
            cancellation: false,
        }
    }
}
