//! Keys that cross process boundaries: [`RemoteKey`] and [`declare`].

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::baggage::Baggage;
use crate::context::{Context, Entry};
use crate::key::Key;

/// The most keys that can be declared.
pub const MAX_REMOTE_KEYS: usize = 16;

/// The longest value, in bytes, read from or written to a key's own header.
/// Baggage members have the W3C Baggage limits.
pub const MAX_REMOTE_VALUE_LEN: usize = 1024;

/// How a key travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wire {
    Baggage,
    Header,
}

/// A user's [`Key`] declared to travel between services: as a W3C baggage
/// member or in a header of its own. Once [`declare`]d, every injection
/// ([`inject`](crate::http::inject), `PropagateLayer`, [`Propagators`](super::Propagators))
/// sends the key's current value, and `ContextLayer` puts the value that
/// came in back under the same key in the request's context: the next
/// service reads `TENANT.get()` as the first one set it, with no header
/// handled by hand.
///
/// The value is written with [`Display`](fmt::Display) and read with
/// [`FromStr`]; one that does not parse is dropped (the key stays unset),
/// never an error. Baggage members are bounded and validated as all
/// baggage is; a header of its own takes at most
/// [`MAX_REMOTE_VALUE_LEN`] bytes of visible ASCII (and inner spaces), and
/// a longer or otherwise invalid value is dropped. Both are dropped for
/// callers a server does not trust ([`Trust::Untrusted`](crate::http::Trust)),
/// as the baggage is.
///
/// The key is the member's (or header's) owner: an outbound call sends the
/// key's current value, replacing a baggage member of that name, and sends
/// no such member or header when the key has no value.
///
/// # Examples
/// ```
/// use ctx::propagation::{self, RemoteKey};
/// use ctx::Key;
///
/// static TENANT: Key<String> = Key::new("tenant");
/// static TENANT_REMOTE: RemoteKey<String> = RemoteKey::baggage(&TENANT, "tenant");
/// static SHARD: Key<u32> = Key::new("shard");
/// static SHARD_REMOTE: RemoteKey<u32> = RemoteKey::header(&SHARD, "x-shard");
///
/// // Once, at start-up.
/// propagation::declare(&TENANT_REMOTE).unwrap();
/// propagation::declare(&SHARD_REMOTE).unwrap();
///
/// // The caller's side: its values go out with the call.
/// let mut headers = http::HeaderMap::new();
/// TENANT.sync_scope("acme".to_owned(), || {
///     SHARD.sync_scope(7, || ctx::http::inject(&mut headers));
/// });
/// assert_eq!(headers["baggage"], "tenant=acme");
/// assert_eq!(headers["x-shard"], "7");
///
/// // The next service's side (what ContextLayer does for each request).
/// let cx = propagation::extract(&headers).to_context(&ctx::Context::new());
/// assert_eq!(cx.get(&TENANT).map(String::as_str), Some("acme"));
/// assert_eq!(cx.get(&SHARD), Some(&7));
/// ```
pub struct RemoteKey<T: Send + Sync + 'static> {
    key: &'static Key<T>,
    name: &'static str,
    wire: Wire,
    parse: fn(&str) -> Option<T>,
    format: fn(&T) -> String,
}

fn parse_from_str<T: FromStr>(s: &str) -> Option<T> {
    s.parse().ok()
}

fn format_display<T: fmt::Display>(v: &T) -> String {
    v.to_string()
}

impl<T: FromStr + fmt::Display + Send + Sync + 'static> RemoteKey<T> {
    /// `key` travels as the W3C baggage member `member` (a token: letters,
    /// digits and ``!#$%&'*+-.^_`|~``; [`declare`] checks it).
    pub const fn baggage(key: &'static Key<T>, member: &'static str) -> Self {
        Self::baggage_with(key, member, parse_from_str::<T>, format_display::<T>)
    }

    /// `key` travels in the header `name` of its own (lowercase; [`declare`]
    /// checks it).
    pub const fn header(key: &'static Key<T>, name: &'static str) -> Self {
        Self::header_with(key, name, parse_from_str::<T>, format_display::<T>)
    }
}

impl<T: Send + Sync + 'static> RemoteKey<T> {
    /// [`baggage`](Self::baggage) with a text form of its own, for a type
    /// without `FromStr` and `Display` (or with other ones): `parse`
    /// returns `None` for a value to drop.
    pub const fn baggage_with(
        key: &'static Key<T>,
        member: &'static str,
        parse: fn(&str) -> Option<T>,
        format: fn(&T) -> String,
    ) -> Self {
        RemoteKey {
            key,
            name: member,
            wire: Wire::Baggage,
            parse,
            format,
        }
    }

    /// [`header`](Self::header) with a text form of its own (see
    /// [`baggage_with`](Self::baggage_with)).
    pub const fn header_with(
        key: &'static Key<T>,
        name: &'static str,
        parse: fn(&str) -> Option<T>,
        format: fn(&T) -> String,
    ) -> Self {
        RemoteKey {
            key,
            name,
            wire: Wire::Header,
            parse,
            format,
        }
    }

    /// The baggage member's or the header's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl<T: Send + Sync + 'static> fmt::Debug for RemoteKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteKey")
            .field("key", &self.key.name())
            .field("wire", &self.wire)
            .field("name", &self.name)
            .finish()
    }
}

/// A declared key, its type erased.
trait Declared: Send + Sync {
    fn wire(&self) -> Wire;
    fn name(&self) -> &'static str;
    /// The key's value in `cx`, in text form.
    fn read(&self, cx: &Context) -> Option<String>;
    /// The entry for a value that came in, if it parses.
    fn entry(&self, value: &str) -> Option<Entry>;
    fn same(&self, other: &dyn Declared) -> bool;
    fn key_addr(&self) -> usize;
}

impl<T: Send + Sync + 'static> Declared for RemoteKey<T> {
    fn wire(&self) -> Wire {
        self.wire
    }

    fn name(&self) -> &'static str {
        self.name
    }

    fn read(&self, cx: &Context) -> Option<String> {
        cx.get(self.key).map(self.format)
    }

    fn entry(&self, value: &str) -> Option<Entry> {
        (self.parse)(value).map(|v| Entry::new(self.key, v))
    }

    fn same(&self, other: &dyn Declared) -> bool {
        self.key_addr() == other.key_addr()
            && self.wire == other.wire()
            && self.name == other.name()
    }

    fn key_addr(&self) -> usize {
        std::ptr::from_ref(self.key) as *const () as usize
    }
}

/// Why a key could not be declared.
#[derive(Clone, PartialEq, Eq)]
pub struct DeclareError {
    reason: &'static str,
}

impl fmt::Debug for DeclareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DeclareError").field(&self.reason).finish()
    }
}

impl fmt::Display for DeclareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason)
    }
}

impl std::error::Error for DeclareError {}

static DECLARED: [OnceLock<&'static dyn Declared>; MAX_REMOTE_KEYS] =
    [const { OnceLock::new() }; MAX_REMOTE_KEYS];
/// How many of `DECLARED` are set: written after the slot, read before it.
static COUNT: AtomicUsize = AtomicUsize::new(0);
/// Serialises declarations (never taken on the request path).
static DECLARING: Mutex<()> = Mutex::new(());

/// Declares `remote`: from now on every injection sends its key's value and
/// every extraction reads it back (see [`RemoteKey`]). Declaring the same
/// `static` again does nothing.
///
/// # Errors
/// When the name is not a valid baggage key (a token) or a valid lowercase
/// header name, when another declaration uses the same member or header
/// name or the same key, or when [`MAX_REMOTE_KEYS`] are declared already.
pub fn declare<T: Send + Sync + 'static>(
    remote: &'static RemoteKey<T>,
) -> Result<(), DeclareError> {
    let err = |reason| Err(DeclareError { reason });
    let valid = match remote.wire {
        Wire::Baggage => Baggage::new().insert(remote.name, "").is_ok(),
        Wire::Header => {
            http::HeaderName::from_bytes(remote.name.as_bytes()).is_ok()
                && !remote.name.bytes().any(|b| b.is_ascii_uppercase())
        }
    };
    if !valid {
        return err("not a valid baggage member or lowercase header name");
    }
    let _lock = DECLARING.lock().unwrap_or_else(|e| e.into_inner());
    let len = COUNT.load(Ordering::Acquire);
    for d in declared() {
        if d.same(remote) {
            return Ok(());
        }
        if d.key_addr() == remote.key_addr() {
            return err("the key is declared already");
        }
        if d.wire() == remote.wire && d.name().eq_ignore_ascii_case(remote.name) {
            return err("another key is declared with that name");
        }
    }
    let Some(slot) = DECLARED.get(len) else {
        return err("no room for another remote key");
    };
    if slot.set(remote).is_err() {
        // Unreachable: slots past `COUNT` are empty and only this function,
        // under the lock, fills them.
        return err("no room for another remote key");
    }
    COUNT.store(len + 1, Ordering::Release);
    Ok(())
}

fn declared() -> impl Iterator<Item = &'static dyn Declared> {
    let len = COUNT.load(Ordering::Acquire);
    DECLARED[..len]
        .iter()
        .filter_map(|slot| slot.get().copied())
}

/// Whether any key is declared: the request path's one check.
#[inline]
pub(crate) fn any() -> bool {
    COUNT.load(Ordering::Acquire) != 0
}

/// The values of keys declared with a header of their own, as read from a
/// carrier or from a context (by slot index).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RemoteValues(Vec<(usize, String)>);

impl RemoteValues {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A header value worth reading: bounded, visible ASCII and inner spaces.
fn valid_header_value(v: &[u8]) -> Option<&str> {
    let v = crate::model::trim_ows(v);
    let ok = !v.is_empty()
        && v.len() <= MAX_REMOTE_VALUE_LEN
        && v.iter().all(|&b| b == b' ' || b.is_ascii_graphic());
    ok.then(|| std::str::from_utf8(v).ok()).flatten()
}

/// Outbound: the declared keys' values of `cx` into `baggage` and `values`.
#[cold]
pub(crate) fn read_from(cx: &Context, baggage: &mut Baggage, values: &mut RemoteValues) {
    for (i, d) in declared().enumerate() {
        let value = d.read(cx);
        match d.wire() {
            Wire::Baggage => match value {
                // An unchanged member keeps the form it came in.
                Some(v) if baggage.get(d.name()) == Some(v.as_str()) => {}
                // Checked by `declare`: the name is a token.
                Some(v) => drop(baggage.insert(d.name(), v)),
                None => drop(baggage.remove(d.name())),
            },
            Wire::Header => {
                if let Some(v) = value.filter(|v| valid_header_value(v.as_bytes()).is_some()) {
                    values.0.push((i, v));
                }
            }
        }
    }
}

/// Inbound: the declared headers' values in `carrier`.
#[cold]
pub(crate) fn extract(carrier: &dyn super::Extractor, values: &mut RemoteValues) {
    for (i, d) in declared().enumerate() {
        if d.wire() == Wire::Header && !values.0.iter().any(|(j, _)| *j == i) {
            if let Some(v) = carrier.get(d.name()).and_then(valid_header_value) {
                values.0.push((i, v.to_owned()));
            }
        }
    }
}

/// Outbound: the declared headers, written or (with no value) removed.
#[cold]
pub(crate) fn inject(values: &RemoteValues, carrier: &mut dyn super::Injector) {
    for (i, d) in declared().enumerate() {
        if d.wire() != Wire::Header {
            continue;
        }
        match values.0.iter().find(|(j, _)| *j == i) {
            Some((_, v)) => carrier.set(d.name(), v),
            None => carrier.remove(d.name()),
        }
    }
}

/// Inbound: the entries for the declared keys whose values came in
/// (baggage members and headers) and parse.
#[cold]
pub(crate) fn entries(baggage: &Baggage, values: &RemoteValues) -> Vec<Entry> {
    let mut out = Vec::new();
    for (i, d) in declared().enumerate() {
        let value = match d.wire() {
            Wire::Baggage => baggage.get(d.name()),
            Wire::Header => values
                .0
                .iter()
                .find(|(j, _)| *j == i)
                .map(|(_, v)| v.as_str()),
        };
        if let Some(entry) = value.and_then(|v| d.entry(v)) {
            out.push(entry);
        }
    }
    out
}
