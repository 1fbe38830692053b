//! [`RequestId`]: an opaque string that names one request in logs. (The
//! header it travels in, and how a header value is read into one, are
//! `propagation`'s.)

use std::fmt;
use std::sync::Arc;

use super::TraceId;

/// A request id: 1 to [`MAX_LEN`](RequestId::MAX_LEN) visible ASCII
/// characters (`!` to `~`, no spaces or control characters, so it is safe
/// to print in logs).
///
/// Ids of up to 38 bytes (UUIDs, 32-digit hex ids, ULIDs) are held in
/// place: making and cloning one allocates nothing. Longer ones are shared:
/// cloning costs one reference count.
///
/// # Examples
/// ```
/// use ctx::propagation::RequestId;
///
/// let id = RequestId::new("8f2c1a9e-req").unwrap();
/// assert_eq!(id.as_str(), "8f2c1a9e-req");
/// assert!(RequestId::new("two words").is_none());
/// assert_eq!(RequestId::random().as_str().len(), 32);
/// ```
#[derive(Clone)]
pub struct RequestId(Repr);

/// The longest id held in place, in bytes.
const INLINE: usize = 38;

#[derive(Clone)]
enum Repr {
    /// Visible ASCII, `len` bytes of `bytes`.
    Inline {
        len: u8,
        bytes: [u8; INLINE],
    },
    Shared(Arc<str>),
}

impl RequestId {
    /// `id` must be 1 to `MAX_LEN` bytes of visible ASCII.
    fn from_valid(id: &str) -> RequestId {
        let mut bytes = [0; INLINE];
        match (bytes.get_mut(..id.len()), u8::try_from(id.len())) {
            (Some(place), Ok(len)) => {
                place.copy_from_slice(id.as_bytes());
                RequestId(Repr::Inline { len, bytes })
            }
            _ => RequestId(Repr::Shared(Arc::from(id))),
        }
    }
}

impl RequestId {
    /// The longest request id accepted, in bytes. Longer values are ignored
    /// rather than truncated (a truncated id would no longer match the
    /// caller's logs).
    pub const MAX_LEN: usize = 256;

    /// A request id from `id`, as it is; `None` when it is empty, longer
    /// than [`MAX_LEN`](Self::MAX_LEN), or holds anything but visible ASCII
    /// (a space included).
    ///
    /// ```
    /// use ctx::propagation::RequestId;
    ///
    /// assert_eq!(RequestId::new("req-1").unwrap().as_str(), "req-1");
    /// assert!(RequestId::new(" req-1").is_none());
    /// ```
    pub fn new(id: &str) -> Option<Self> {
        Self::valid(id.as_bytes())
    }

    /// A request id from `v`, as it is (see [`new`](Self::new)).
    pub(crate) fn valid(v: &[u8]) -> Option<Self> {
        if v.is_empty() || v.len() > Self::MAX_LEN || !v.iter().all(|b| b.is_ascii_graphic()) {
            return None;
        }
        std::str::from_utf8(v).ok().map(RequestId::from_valid)
    }

    /// A new random request id: 32 lowercase hex digits from the same
    /// generator as trace ids (see [`TraceId::random`]).
    pub fn random() -> Self {
        Self::from(TraceId::random())
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Only visible ASCII is ever stored, so this never falls back.
            Repr::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or("")
            }
            Repr::Shared(s) => s,
        }
    }
}

impl From<TraceId> for RequestId {
    /// The trace id's 32 hex digits, for services that use the trace id as
    /// their request id.
    fn from(id: TraceId) -> Self {
        let mut bytes = [0; INLINE];
        id.encode_hex(&mut bytes[..32]);
        RequestId(Repr::Inline { len: 32, bytes })
    }
}

impl AsRef<str> for RequestId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for RequestId {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for RequestId {}

impl std::hash::Hash for RequestId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialOrd for RequestId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for RequestId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestId({:?})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ids_are_held_in_place_long_ones_shared() {
        for len in [1, 26, 32, 36, INLINE, INLINE + 1, RequestId::MAX_LEN] {
            let text: String = (0..len)
                .map(|i| char::from(b'a' + (i % 26) as u8))
                .collect();
            let id = RequestId::new(&text).unwrap();
            assert_eq!(id.as_str(), text);
            assert_eq!(id.to_string(), text);
            assert_eq!(matches!(id.0, Repr::Inline { .. }), len <= INLINE, "{len}");
            let copy = id.clone();
            assert_eq!(copy, id);
            assert_eq!(copy.cmp(&id), std::cmp::Ordering::Equal);
        }
        let trace = TraceId::random();
        let from_trace = RequestId::from(trace);
        assert_eq!(from_trace.as_str(), trace.to_string());
        assert!(matches!(from_trace.0, Repr::Inline { len: 32, .. }));
        // Order and equality follow the text, whatever the representation.
        let short = RequestId::new("b").unwrap();
        let long = RequestId::new(&"a".repeat(INLINE + 5)).unwrap();
        assert!(long < short);
        assert_ne!(long, short);
    }

    #[test]
    fn new_takes_the_id_as_it_is() {
        for id in [" a", "a ", "\ta", "a b"] {
            assert!(RequestId::new(id).is_none(), "{id:?}");
        }
        assert_eq!(RequestId::new("a-1").unwrap().as_str(), "a-1");
    }
}
