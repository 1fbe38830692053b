//! [`HeaderIndex`]: the headers ctx reads, found in one pass over a request.
// Used by the server layer (feature `http`); tested everywhere.
#![cfg_attr(not(feature = "http"), allow(dead_code))]

use http::header::{HeaderMap, HeaderName, HeaderValue};

use super::carrier::{
    known_index as known, Extractor, CONTENT_TYPE_AT, GRPC_TIMEOUT_AT, KNOWN_HEADERS,
};

/// A header name, with its place among the names a [`HeaderIndex`] finds
/// worked out once (when a layer is configured), so that looking it up in
/// a request's index compares no strings.
#[derive(Clone, Debug)]
pub(crate) struct IndexedName {
    name: HeaderName,
    known: Option<usize>,
}

impl IndexedName {
    pub(crate) fn new(name: HeaderName) -> IndexedName {
        let known = known(name.as_str());
        IndexedName { name, known }
    }

    /// The name itself.
    pub(crate) fn name(&self) -> &HeaderName {
        &self.name
    }
}

/// A request's headers with the values of every name ctx reads located in
/// one pass over the map: the propagators then ask for up to ten names,
/// and each answer is an array lookup instead of hashing the name and
/// probing the map. Names it does not know are looked up in the map.
pub(crate) struct HeaderIndex<'a> {
    map: &'a HeaderMap,
    /// For each known name: its first value, and how many it has.
    found: [(Option<&'a HeaderValue>, u32); KNOWN_HEADERS.len()],
}

impl<'a> HeaderIndex<'a> {
    #[inline]
    pub(crate) fn new(map: &'a HeaderMap) -> HeaderIndex<'a> {
        let mut found = [(None, 0); KNOWN_HEADERS.len()];
        if map.is_empty() {
            return HeaderIndex { map, found };
        }
        for (name, value) in map {
            if let Some(i) = known(name.as_str()) {
                let (first, count) = &mut found[i];
                first.get_or_insert(value);
                *count += 1;
            }
        }
        HeaderIndex { map, found }
    }

    /// The first value of the header `name`.
    #[inline]
    pub(crate) fn indexed(&self, name: &IndexedName) -> Option<&'a HeaderValue> {
        match name.known {
            Some(i) => self.found[i].0,
            None if self.map.is_empty() => None,
            None => self.map.get(&name.name),
        }
    }

    /// The first value of `grpc-timeout`.
    #[inline]
    pub(crate) fn grpc_timeout(&self) -> Option<&'a HeaderValue> {
        self.found[GRPC_TIMEOUT_AT].0
    }

    /// The first value of `content-type`.
    #[inline]
    pub(crate) fn content_type(&self) -> Option<&'a HeaderValue> {
        self.found[CONTENT_TYPE_AT].0
    }
}

impl Extractor for HeaderIndex<'_> {
    fn get(&self, name: &str) -> Option<&[u8]> {
        if self.map.is_empty() {
            return None;
        }
        match known(name) {
            Some(i) => self.found[i].0.map(HeaderValue::as_bytes),
            None => Extractor::get(self.map, name),
        }
    }

    fn get_all<'b>(&'b self, name: &str, f: &mut dyn FnMut(&'b [u8])) {
        if self.map.is_empty() {
            return;
        }
        match known(name).map(|i| self.found[i]) {
            Some((None, _)) => {}
            Some((Some(v), 1)) => f(v.as_bytes()),
            // Several values (rare): the map has them in order.
            Some(_) | None => Extractor::get_all(self.map, name, f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagation::carrier::header_map;
    use crate::propagation::propagators::Propagators;

    #[test]
    fn index_answers_like_the_map() {
        let map = header_map(&[
            ("host", "example.com"),
            (
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
            ("tracestate", "a=1"),
            ("tracestate", "b=2"),
            ("baggage", "k=v"),
            ("x-request-id", "req-1"),
            ("x-custom", "c"),
        ]);
        let index = HeaderIndex::new(&map);
        for name in KNOWN_HEADERS
            .iter()
            .map(HeaderName::as_str)
            .chain(["host", "x-custom", "absent"])
        {
            assert_eq!(
                Extractor::get(&index, name),
                Extractor::get(&map, name),
                "{name}"
            );
            let (mut a, mut b) = (Vec::new(), Vec::new());
            Extractor::get_all(&index, name, &mut |v| a.push(v));
            Extractor::get_all(&map, name, &mut |v| b.push(v));
            assert_eq!(a, b, "{name}");
        }
        let id = HeaderName::from_static("x-request-id");
        let custom = HeaderName::from_static("x-custom");
        let absent = HeaderName::from_static("absent");
        for name in KNOWN_HEADERS.iter().cloned().chain([id, custom, absent]) {
            let indexed = IndexedName::new(name.clone());
            assert_eq!(index.indexed(&indexed), map.get(&name), "{name}");
        }
        assert_eq!(index.grpc_timeout(), None);
        assert_eq!(index.content_type(), None);
        let timed = header_map(&[
            ("content-type", "application/grpc"),
            ("grpc-timeout", "5S"),
            ("x-custom", "c"),
        ]);
        let timed_index = HeaderIndex::new(&timed);
        assert_eq!(
            timed_index.grpc_timeout().map(HeaderValue::as_bytes),
            Some(&b"5S"[..])
        );
        assert_eq!(
            timed_index.content_type().map(HeaderValue::as_bytes),
            Some(&b"application/grpc"[..])
        );
        // The propagators read the same context through either.
        let p = Propagators::new();
        assert_eq!(p.extract(&index), p.extract(&map));
    }
}
