//! Carriers across the two propagation APIs: opentelemetry's
//! `Extractor`/`Injector` used as ctx's, and ctx's used as opentelemetry's.

use std::borrow::Cow;
use std::ops::{Deref, DerefMut};

use opentelemetry::propagation::{Extractor as OtelExtractor, Injector as OtelInjector};

use crate::propagation::{Extractor, Injector};

/// An opentelemetry carrier (an [`Extractor`](OtelExtractor) or an
/// [`Injector`](OtelInjector), by reference) used as ctx's: hand it to
/// [`Propagators`](crate::propagation::Propagators) or any
/// [`Propagator`](crate::propagation::Propagator).
///
/// opentelemetry's injectors cannot remove a field, so the fields a
/// propagator removes (a stale `tracestate`) are left as they are: inject
/// into a fresh carrier, or clear the propagator's fields first, as
/// opentelemetry asks of its own carriers.
///
/// # Examples
///
/// ```
/// use std::collections::HashMap;
/// use ctx::otel::OtelCarrier;
/// use ctx::propagation::{Propagated, Propagators};
/// use ctx::trace::TraceContext;
///
/// let span = TraceContext::new_root();
/// let mut map: HashMap<String, String> = HashMap::new();
/// Propagators::new().inject(&Propagated::new().with_trace(span.clone()), &mut OtelCarrier(&mut map));
/// assert!(map["traceparent"].contains(&span.trace_id().to_string()));
///
/// let back = Propagators::new().extract(&OtelCarrier(&map));
/// assert_eq!(back.trace, Some(span));
/// ```
#[derive(Debug)]
pub struct OtelCarrier<C>(pub C);

impl<C> Extractor for OtelCarrier<C>
where
    C: Deref,
    C::Target: OtelExtractor,
{
    fn get(&self, name: &str) -> Option<&[u8]> {
        self.0.get(name).map(str::as_bytes)
    }

    fn get_all<'a>(&'a self, name: &str, f: &mut dyn FnMut(&'a [u8])) {
        for value in self.0.get_all(name).into_iter().flatten() {
            f(value.as_bytes());
        }
    }
}

impl<C> Injector for OtelCarrier<C>
where
    C: DerefMut,
    C::Target: OtelInjector,
{
    fn set(&mut self, name: &str, value: &str) {
        self.0.set(name, value.to_owned());
    }
}

/// A ctx carrier (an [`Extractor`] or an [`Injector`], by reference) used
/// as opentelemetry's: hand it to any opentelemetry `TextMapPropagator`.
///
/// ctx's extractors cannot list their fields, so
/// [`keys`](OtelExtractor::keys) is empty: a propagator that scans every
/// field (rather than asking for the ones it knows) finds none. Values that
/// are not UTF-8 are absent, as opentelemetry's `HeaderExtractor` has them.
///
/// # Examples
///
/// ```
/// use ctx::otel::CtxCarrier;
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::trace::TraceContextExt;
/// use opentelemetry_sdk::propagation::TraceContextPropagator;
///
/// let mut headers = http::HeaderMap::new();
/// headers.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
/// let cx = TraceContextPropagator::new().extract(&CtxCarrier(&headers));
/// assert_eq!(cx.span().span_context().trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// ```
#[derive(Debug)]
pub struct CtxCarrier<C>(pub C);

impl<C> OtelExtractor for CtxCarrier<C>
where
    C: Deref,
    C::Target: Extractor,
{
    fn get(&self, key: &str) -> Option<&str> {
        let value = self.0.get(&lowercase(key))?;
        std::str::from_utf8(value).ok()
    }

    fn keys(&self) -> Vec<&str> {
        Vec::new()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let mut values = Vec::new();
        self.0.get_all(&lowercase(key), &mut |v| {
            if let Ok(v) = std::str::from_utf8(v) {
                values.push(v);
            }
        });
        (!values.is_empty()).then_some(values)
    }
}

impl<C> OtelInjector for CtxCarrier<C>
where
    C: DerefMut,
    C::Target: Injector,
{
    fn set(&mut self, key: &str, value: String) {
        self.0.set(&lowercase(key), &value);
    }
}

/// `name` in lowercase, as ctx's carriers take names; borrowed when it is
/// already (opentelemetry's propagators pass lowercase names).
fn lowercase(name: &str) -> Cow<'_, str> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn otel_carriers_as_ctx_ones() {
        let mut map: HashMap<String, String> = HashMap::new();
        OtelCarrier(&mut map).set("baggage", "k=v");
        assert_eq!(OtelCarrier(&map).get("baggage"), Some(&b"k=v"[..]));
        let carrier = OtelCarrier(&map);
        let mut seen = Vec::new();
        carrier.get_all("baggage", &mut |v| seen.push(v));
        assert_eq!(seen, [&b"k=v"[..]]);
        OtelCarrier(&map).get_all("tracestate", &mut |_| panic!("no such field"));
    }

    #[test]
    fn ctx_carriers_as_otel_ones() {
        let mut headers = http::HeaderMap::new();
        CtxCarrier(&mut headers).set("TraceState", "a=1".to_owned());
        headers.append("tracestate", "b=2".parse().unwrap());
        headers.append("x-bytes", http::HeaderValue::from_bytes(b"\xff").unwrap());
        let carrier = CtxCarrier(&headers);
        assert_eq!(OtelExtractor::get(&carrier, "TRACESTATE"), Some("a=1"));
        assert_eq!(carrier.get_all("tracestate"), Some(vec!["a=1", "b=2"]));
        assert_eq!(OtelExtractor::get(&carrier, "x-bytes"), None, "not UTF-8");
        assert_eq!(carrier.get_all("x-bytes"), None);
        assert!(carrier.keys().is_empty());
    }
}
