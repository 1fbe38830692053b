//! OpenTelemetry: ctx's trace model and propagators where opentelemetry's
//! are expected.
//!
//! - **Conversions**: [`TraceContext`] ↔ opentelemetry's
//!   [`SpanContext`](opentelemetry::trace::SpanContext) (`From` and
//!   `TryFrom`, ids, flags and trace state; an invalid span context gives no
//!   trace context), and ctx's [`Baggage`](crate::baggage::Baggage) ↔
//!   opentelemetry's.
//! - **Propagation**: [`TextMap`] makes any ctx propagator an opentelemetry
//!   `TextMapPropagator`; [`OtelCarrier`] and [`CtxCarrier`] use each side's
//!   carriers as the other's.
//!
//! # Set-up
//!
//! ```
//! use opentelemetry::global;
//!
//! // ctx's formats for opentelemetry's instrumentations.
//! global::set_text_map_propagator(ctx::otel::TextMap::default());
//! ```
//!
//! [`TraceContext`]: crate::trace::TraceContext

mod carrier;
mod convert;
mod propagator;

pub use carrier::{CtxCarrier, OtelCarrier};
pub use convert::InvalidSpanContext;
pub use propagator::TextMap;
