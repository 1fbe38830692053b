//! [`CallId`]: where a piece of work sits in its request's tree of calls, as
//! Baidu's CallID and Alibaba EagleEye's RpcId write it (`0`, `0.1`,
//! `0.1.2`).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::trim_ows;

/// A hierarchical call id: the root of a request's tree is `0`, the calls
/// and tasks it starts are `0.1`, `0.2`, …, theirs `0.1.1`, `0.1.2`, and so
/// on. Order and nesting can be read off the ids alone, without a
/// collector.
///
/// Each id hands out its children's ids in order, from one counter shared
/// by every clone of it, so children are unique and numbered in the order
/// they were made, across threads. Cloning costs one reference count.
///
/// The text form is at most [`MAX_LEN`](Self::MAX_LEN) bytes: past it the
/// tree is cut, and the children of an id that long take their parent's id
/// (see [`child`](Self::child)).
///
/// # Examples
/// ```
/// use ctx::call_id::CallId;
///
/// let root = CallId::root();
/// let first = root.child();
/// let second = root.child();
/// assert_eq!((first.as_str(), second.as_str()), ("0.1", "0.2"));
/// assert_eq!(first.child().as_str(), "0.1.1");
///
/// let inbound = CallId::parse(b"0.3.1").unwrap();
/// assert_eq!(inbound.child().as_str(), "0.3.1.1");
/// assert!(CallId::parse(b"0..1").is_none());
/// ```
#[derive(Clone)]
pub struct CallId {
    node: Arc<Node>,
}

struct Node {
    path: Box<str>,
    /// How many children this id has handed out.
    children: AtomicU64,
}

impl CallId {
    /// The longest text form, in bytes, that an id parses from or grows to.
    pub const MAX_LEN: usize = 128;

    /// The root of a new tree: `0`.
    pub fn root() -> CallId {
        CallId::from_path("0".into())
    }

    fn from_path(path: Box<str>) -> CallId {
        CallId {
            node: Arc::new(Node {
                path,
                children: AtomicU64::new(0),
            }),
        }
    }

    /// An id from its text form (a header value), with the surrounding
    /// spaces and tabs trimmed: dot-separated decimal numbers (each of one
    /// to ten digits, no sign, no empty segment), at most
    /// [`MAX_LEN`](Self::MAX_LEN) bytes. `None` otherwise.
    pub fn parse(value: &[u8]) -> Option<CallId> {
        let value = trim_ows(value);
        if value.is_empty() || value.len() > Self::MAX_LEN {
            return None;
        }
        let valid = value.split(|&b| b == b'.').all(|segment| {
            (1..=10).contains(&segment.len()) && segment.iter().all(u8::is_ascii_digit)
        });
        if !valid {
            return None;
        }
        // Only ASCII digits and dots.
        let path = std::str::from_utf8(value).ok()?;
        Some(CallId::from_path(path.into()))
    }

    /// The next child's id: this id with the next number appended (`0.2`
    /// after `0.1`). Safe to call from any thread: each call gets its own
    /// number.
    ///
    /// A child whose id would be longer than [`MAX_LEN`](Self::MAX_LEN)
    /// bytes takes this id instead (the tree is cut at that depth; the
    /// numbering above it stays unique).
    pub fn child(&self) -> CallId {
        let n = self.node.children.fetch_add(1, Ordering::Relaxed) + 1;
        let mut path = String::with_capacity(self.node.path.len() + 4);
        path.push_str(&self.node.path);
        path.push('.');
        // Writing to a String cannot fail.
        let _ = fmt::Write::write_fmt(&mut path, format_args!("{n}"));
        if path.len() > Self::MAX_LEN {
            return self.clone();
        }
        CallId::from_path(path.into_boxed_str())
    }

    /// The text form, such as `0.1.2`.
    pub fn as_str(&self) -> &str {
        &self.node.path
    }

    /// How deep in the tree the id is: 0 for the root, 1 for its children.
    pub fn depth(&self) -> usize {
        self.node.path.bytes().filter(|&b| b == b'.').count()
    }

    /// The parent's id (`0.1` for `0.1.2`); `None` for a root.
    pub fn parent(&self) -> Option<&str> {
        self.node.path.rfind('.').map(|dot| &self.node.path[..dot])
    }

    /// How many children's ids this id has handed out.
    pub fn children(&self) -> u64 {
        self.node.children.load(Ordering::Relaxed)
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CallId").field(&self.as_str()).finish()
    }
}

/// Ids are equal when their text forms are (the children handed out so far
/// do not count).
impl PartialEq for CallId {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for CallId {}

impl std::hash::Hash for CallId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_vectors() {
        let ok = ["0", "0.1", "0.1.22", " 0.3\t", "7.4294967295", "1234567890"];
        for v in ok {
            assert_eq!(
                CallId::parse(v.as_bytes()).map(|c| c.to_string()),
                Some(v.trim().to_owned()),
                "{v:?}"
            );
        }
        let bad = [
            "",
            " ",
            ".",
            "0.",
            ".0",
            "0..1",
            "0.a",
            "-1",
            "+1",
            "0,1",
            "0 .1",
            "12345678901",
            "0.\u{663}",
        ];
        for v in bad {
            assert!(CallId::parse(v.as_bytes()).is_none(), "{v:?}");
        }
        let long = format!("0{}", ".1".repeat(64));
        assert_eq!(long.len(), CallId::MAX_LEN + 1);
        assert!(CallId::parse(long.as_bytes()).is_none());
        let exact = format!("0{}.12", ".1".repeat(62));
        assert_eq!(exact.len(), CallId::MAX_LEN);
        assert!(CallId::parse(exact.as_bytes()).is_some());
    }

    #[test]
    fn children_are_numbered_in_order() {
        let root = CallId::root();
        let shared = root.clone();
        assert_eq!(root.child().as_str(), "0.1");
        assert_eq!(shared.child().as_str(), "0.2", "clones share the counter");
        let c = root.child();
        assert_eq!(c.as_str(), "0.3");
        assert_eq!(c.child().as_str(), "0.3.1");
        assert_eq!(c.depth(), 1);
        assert_eq!(c.parent(), Some("0"));
        assert_eq!(root.parent(), None);
        assert_eq!(root.children(), 3);
        assert_eq!(CallId::parse(b"0.3").unwrap(), c, "equality is the text");
    }

    #[test]
    fn the_tree_is_cut_at_the_length_limit() {
        let deep = CallId::parse(format!("0{}", ".1".repeat(63)).as_bytes()).unwrap();
        assert_eq!(deep.as_str().len(), CallId::MAX_LEN - 1);
        // `.1` would take it to 129 bytes.
        assert_eq!(deep.child(), deep);
        let near = CallId::parse(format!("0{}", ".1".repeat(62)).as_bytes()).unwrap();
        assert_eq!(near.child().as_str().len(), CallId::MAX_LEN - 1);
    }
}
