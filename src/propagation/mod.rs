//! Reading and writing the trace context, baggage and request id on the
//! wire.
//!
//! - [`Extractor`] and [`Injector`] adapt a carrier: they are implemented for
//!   [`http::HeaderMap`] and for `HashMap<String, String>` (message-broker
//!   headers, names matched case-insensitively), and a few lines adapt gRPC
//!   metadata or another carrier. Message records have theirs too: Kafka-style
//!   header lists (`Vec<(K, V)>` with byte values, names that may repeat) and
//!   `BTreeMap`/`HashMap`s of text or byte values (see the implementations
//!   listed on [`Extractor`]).
//! - A [`Propagator`] reads one format from an extractor into a
//!   [`Propagated`], writes it from a [`Propagated`] into an injector, and
//!   names the fields it uses ([`Propagator::fields`]):
//!   [`TraceContextPropagator`] (W3C `traceparent` and `tracestate`, Level 2),
//!   [`BaggagePropagator`] (W3C `baggage`), [`B3Propagator`] (`b3` and
//!   `X-B3-*`) and [`RequestIdPropagator`] (`x-request-id` or another
//!   header); [`CallIdPropagator`] (`x-call-id`, the hierarchical call id of
//!   [`crate::call_id`]) is there to add.
//! - [`Propagators`] combines them: on extract, each format fills only what
//!   the formats before it left empty, so the first one present wins; on
//!   inject, every format writes. The default order is W3C trace context,
//!   W3C baggage, B3, request id.
//!
//! Bad input never fails a request and never panics: an invalid value is
//! dropped as the specification of its format says, and the rest is kept.
//! Every parser checks the input size before it does any work.
//!
//! # Examples
//! ```
//! use ctx::propagation::{Propagated, Propagators};
//! use http::HeaderMap;
//!
//! let propagators = Propagators::new();
//!
//! // A server reads the caller's context...
//! let mut inbound = HeaderMap::new();
//! inbound.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
//! inbound.insert("baggage", "userId=alice".parse().unwrap());
//! let remote = propagators.extract(&inbound);
//! let caller = remote.trace.as_ref().unwrap();
//! assert_eq!(caller.span_id().to_string(), "00f067aa0ba902b7");
//! assert_eq!(remote.baggage.get("userId"), Some("alice"));
//!
//! // ...starts its own span as a child of the caller's...
//! let server = caller.child();
//!
//! // ...and passes it on to the services it calls.
//! let mut outbound_fields = remote.clone();
//! outbound_fields.trace = Some(server.clone());
//! let mut outbound = HeaderMap::new();
//! propagators.inject(&outbound_fields, &mut outbound);
//! assert_eq!(
//!     outbound["traceparent"],
//!     format!("00-{}-{}-01", server.trace_id(), server.span_id()).as_str(),
//! );
//! assert_eq!(outbound["baggage"], "userId=alice");
//! ```

mod b3;
mod baggage;
mod call_id;
mod carrier;
mod index;
pub mod names;
mod propagated;
mod propagator;
mod propagators;
mod records;
mod remote;
mod request_id;
mod timeout;
mod traceparent;

pub use self::b3::{B3Encoding, B3Propagator};
pub use self::baggage::BaggagePropagator;
pub use self::call_id::CallIdPropagator;
pub use self::carrier::{Extractor, Injector};
pub use self::propagated::Propagated;
pub use self::propagator::{FieldNames, Propagator};
pub use self::propagators::{extract, inject, Propagators};
pub use self::remote::{declare, DeclareError, RemoteKey, MAX_REMOTE_KEYS, MAX_REMOTE_VALUE_LEN};
pub use self::request_id::RequestIdPropagator;
pub use self::timeout::{
    format_grpc_timeout, format_timeout_ms, parse_grpc_timeout, parse_timeout_ms, GrpcTimeout,
    GRPC_TIMEOUT, X_REQUEST_TIMEOUT_MS,
};
pub use self::traceparent::{TraceContextPropagator, TraceParent};
pub use crate::model::RequestId;
pub use crate::value::REQUEST_ID;

#[cfg(feature = "http")]
pub(crate) use self::index::{HeaderIndex, IndexedName};
#[cfg(feature = "http")]
pub(crate) use self::propagators::default_propagators;
#[cfg(feature = "http")]
pub(crate) use self::timeout::{inject_deadline, is_grpc, is_grpc_content_type};
