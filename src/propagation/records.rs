//! Carriers for message records: Kafka-style header lists of `(name,
//! bytes)` pairs, and ordered or hashed maps of text or byte values.
//!
//! A message broker's record headers are a list in which a name may appear
//! more than once, with byte values (Kafka, Pulsar's properties as text,
//! NATS and AMQP headers as maps). These implementations let the
//! propagators read and write them as they read and write HTTP headers:
//! names are matched case-insensitively, a value that is not valid for its
//! format is ignored as its format's rules say (the bytes need not be
//! UTF-8), and a format's fields are the context's alone on inject.
//!
//! | carrier | extract | inject |
//! |---|---|---|
//! | `Vec<(K, V)>`, `K: AsRef<str>`, `V: AsRef<[u8]>` | yes | when `K: From<String>`, `V: From<Vec<u8>>` |
//! | `BTreeMap<String, String>`, `BTreeMap<String, Vec<u8>>` | yes | yes |
//! | `HashMap<String, Vec<u8>>` (and `HashMap<String, String>`, in `carrier.rs`) | yes | yes |

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use super::carrier::{Extractor, Injector};

/// A list of record headers, such as a Kafka record's: `(name, value)`
/// pairs in order, where a name may repeat and values are bytes.
///
/// [`get`](Extractor::get) returns the first value whose name matches
/// case-insensitively; [`get_all`](Extractor::get_all) every such value, in
/// the list's order, so the W3C rules apply to repeated names as to
/// repeated HTTP headers (two `traceparent`s are invalid, `tracestate`s
/// and `baggage`s are joined).
///
/// # Examples
/// ```
/// use ctx::propagation::{Propagated, Propagators};
/// use ctx::trace::TraceContext;
///
/// // A producer adds the context to the record's headers...
/// let mut headers: Vec<(String, Vec<u8>)> = vec![("content-type".into(), b"json".to_vec())];
/// let sent = Propagated::new().with_trace(TraceContext::new_root());
/// Propagators::new().inject(&sent, &mut headers);
/// assert_eq!(headers[0].0, "content-type");
/// assert!(headers.iter().any(|(k, _)| k == "traceparent"));
///
/// // ...and the consumer reads it back.
/// let remote = Propagators::new().extract(&headers);
/// assert_eq!(remote.trace, sent.trace);
/// ```
impl<K: AsRef<str>, V: AsRef<[u8]>> Extractor for Vec<(K, V)> {
    fn get(&self, name: &str) -> Option<&[u8]> {
        self.iter()
            .find(|(k, _)| k.as_ref().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }

    fn get_all<'a>(&'a self, name: &str, f: &mut dyn FnMut(&'a [u8])) {
        for (k, v) in self {
            if k.as_ref().eq_ignore_ascii_case(name) {
                f(v.as_ref());
            }
        }
    }
}

/// A list of record headers with byte values (`Vec<(String, Vec<u8>)>`,
/// `Vec<(String, bytes::Bytes)>`, `Vec<(Box<str>, Box<[u8]>)>`, ...).
///
/// [`set`](Injector::set) puts the value in place of the first pair whose
/// name matches case-insensitively (or appends one) and removes the other
/// matching pairs, so the list keeps its order and never holds a field
/// twice after it; [`remove`](Injector::remove) removes every matching
/// pair. Pairs of other names are left as they are.
impl<K, V> Injector for Vec<(K, V)>
where
    K: AsRef<str> + From<String>,
    V: AsRef<[u8]> + From<Vec<u8>>,
{
    fn set(&mut self, name: &str, value: &str) {
        let mut at = None;
        let mut kept = 0;
        self.retain(|(k, _)| {
            if k.as_ref().eq_ignore_ascii_case(name) {
                if at.is_some() {
                    return false;
                }
                at = Some(kept);
            }
            kept += 1;
            true
        });
        let pair = (K::from(name.to_owned()), V::from(value.as_bytes().to_vec()));
        match at {
            Some(i) => self[i] = pair,
            None => self.push(pair),
        }
    }

    fn remove(&mut self, name: &str) {
        if !self.is_empty() {
            self.retain(|(k, _)| !k.as_ref().eq_ignore_ascii_case(name));
        }
    }
}

/// The first value of `name` in a map: the exact (lowercase) key by one
/// lookup, else any key that matches case-insensitively.
fn map_get<'a, V: AsRef<[u8]> + 'a>(
    exact: Option<&'a V>,
    entries: impl IntoIterator<Item = (&'a String, &'a V)>,
    name: &str,
) -> Option<&'a [u8]> {
    if let Some(v) = exact {
        return Some(v.as_ref());
    }
    entries
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_ref())
}

/// Every value of `name` in a map: the exact key's first, then the other
/// spellings in the map's order.
fn map_get_all<'a, V: AsRef<[u8]> + 'a>(
    exact: Option<&'a V>,
    entries: impl IntoIterator<Item = (&'a String, &'a V)>,
    name: &str,
    f: &mut dyn FnMut(&'a [u8]),
) {
    if let Some(v) = exact {
        f(v.as_ref());
    }
    for (k, v) in entries {
        if k != name && k.eq_ignore_ascii_case(name) {
            f(v.as_ref());
        }
    }
}

/// Record headers or properties as an ordered map of text values; names are
/// matched as for `HashMap<String, String>`: case-insensitively, the
/// lowercase spelling first.
///
/// # Examples
/// ```
/// use std::collections::BTreeMap;
///
/// use ctx::propagation::{Propagated, Propagators};
/// use ctx::trace::TraceContext;
///
/// let mut props = BTreeMap::new();
/// props.insert("X-Request-Id".to_string(), "stale".to_string());
/// Propagators::new().inject(&Propagated::new().with_trace(TraceContext::new_root()), &mut props);
/// // The stale id, whatever its case, belongs to another message.
/// assert!(props.keys().all(|k| !k.eq_ignore_ascii_case("x-request-id")));
/// assert!(Propagators::new().extract(&props).trace.is_some());
/// ```
impl Extractor for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<&[u8]> {
        let exact = BTreeMap::get(self, name);
        map_get(exact, self.iter(), name)
    }

    fn get_all<'a>(&'a self, name: &str, f: &mut dyn FnMut(&'a [u8])) {
        map_get_all(BTreeMap::get(self, name), self.iter(), name, f);
    }
}

/// Stores the value under the name as given (lowercase) and removes the
/// other spellings of it; [`remove`](Injector::remove) removes every
/// spelling.
impl Injector for BTreeMap<String, String> {
    fn set(&mut self, name: &str, value: &str) {
        self.retain(|k, _| k == name || !k.eq_ignore_ascii_case(name));
        match self.get_mut(name) {
            Some(v) => {
                v.clear();
                v.push_str(value);
            }
            None => {
                self.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    fn remove(&mut self, name: &str) {
        if !self.is_empty() {
            self.retain(|k, _| !k.eq_ignore_ascii_case(name));
        }
    }
}

/// Record headers as an ordered map of byte values (one value per name):
/// matched as for `BTreeMap<String, String>`; the bytes need not be UTF-8.
impl Extractor for BTreeMap<String, Vec<u8>> {
    fn get(&self, name: &str) -> Option<&[u8]> {
        map_get(BTreeMap::get(self, name), self.iter(), name)
    }

    fn get_all<'a>(&'a self, name: &str, f: &mut dyn FnMut(&'a [u8])) {
        map_get_all(BTreeMap::get(self, name), self.iter(), name, f);
    }
}

/// As for `BTreeMap<String, String>`, with the value's bytes.
impl Injector for BTreeMap<String, Vec<u8>> {
    fn set(&mut self, name: &str, value: &str) {
        self.retain(|k, _| k == name || !k.eq_ignore_ascii_case(name));
        match self.get_mut(name) {
            Some(v) => {
                v.clear();
                v.extend_from_slice(value.as_bytes());
            }
            None => {
                self.insert(name.to_owned(), value.as_bytes().to_vec());
            }
        }
    }

    fn remove(&mut self, name: &str) {
        if !self.is_empty() {
            self.retain(|k, _| !k.eq_ignore_ascii_case(name));
        }
    }
}

/// Record headers as a hash map of byte values: matched as for
/// `HashMap<String, String>`; the bytes need not be UTF-8.
impl<S: BuildHasher> Extractor for HashMap<String, Vec<u8>, S> {
    fn get(&self, name: &str) -> Option<&[u8]> {
        map_get(HashMap::get(self, name), self.iter(), name)
    }

    fn get_all<'a>(&'a self, name: &str, f: &mut dyn FnMut(&'a [u8])) {
        map_get_all(HashMap::get(self, name), self.iter(), name, f);
    }
}

/// As for `HashMap<String, String>`, with the value's bytes.
impl<S: BuildHasher> Injector for HashMap<String, Vec<u8>, S> {
    fn set(&mut self, name: &str, value: &str) {
        self.retain(|k, _| k == name || !k.eq_ignore_ascii_case(name));
        match self.get_mut(name) {
            Some(v) => {
                v.clear();
                v.extend_from_slice(value.as_bytes());
            }
            None => {
                self.insert(name.to_owned(), value.as_bytes().to_vec());
            }
        }
    }

    fn remove(&mut self, name: &str) {
        if !self.is_empty() {
            self.retain(|k, _| !k.eq_ignore_ascii_case(name));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all<'a>(carrier: &'a dyn Extractor, name: &str) -> Vec<&'a [u8]> {
        let mut values = Vec::new();
        carrier.get_all(name, &mut |v| values.push(v));
        values
    }

    #[test]
    fn pairs_keep_order_and_repeats() {
        let pairs: Vec<(String, Vec<u8>)> = vec![
            ("Baggage".into(), b"a=1".to_vec()),
            ("other".into(), b"x".to_vec()),
            ("baggage".into(), b"b=2".to_vec()),
        ];
        assert_eq!(Extractor::get(&pairs, "baggage"), Some(&b"a=1"[..]));
        assert_eq!(all(&pairs, "baggage"), [&b"a=1"[..], b"b=2"]);
        assert!(all(&pairs, "traceparent").is_empty());
    }

    #[test]
    fn pairs_set_replaces_in_place_and_drops_repeats() {
        let mut pairs: Vec<(String, Vec<u8>)> = vec![
            ("a".into(), b"1".to_vec()),
            ("BAGGAGE".into(), b"old".to_vec()),
            ("b".into(), b"2".to_vec()),
            ("baggage".into(), b"older".to_vec()),
        ];
        pairs.set("baggage", "new");
        let names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["a", "baggage", "b"]);
        assert_eq!(pairs[1].1, b"new");
        pairs.set("x-request-id", "id");
        assert_eq!(
            pairs.last().unwrap(),
            &("x-request-id".into(), b"id".to_vec())
        );
        Injector::remove(&mut pairs, "Baggage");
        let names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["a", "b", "x-request-id"]);
    }

    #[test]
    fn byte_maps_match_names_case_insensitively() {
        let mut m: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        m.insert("TraceState".into(), b"a=1".to_vec());
        m.insert("tracestate".into(), b"b=2".to_vec());
        assert_eq!(Extractor::get(&m, "tracestate"), Some(&b"b=2"[..]));
        assert_eq!(all(&m, "tracestate"), [&b"b=2"[..], b"a=1"]);
        m.set("tracestate", "c=3");
        assert_eq!(m.len(), 1);
        assert_eq!(m["tracestate"], b"c=3");

        let mut h: HashMap<String, Vec<u8>> = HashMap::new();
        h.insert("B3".into(), vec![0xff]);
        assert_eq!(Extractor::get(&h, "b3"), Some(&[0xff][..]));
        h.set("b3", "1");
        assert_eq!(h.len(), 1);
        Injector::remove(&mut h, "B3");
        assert!(h.is_empty());
    }
}
