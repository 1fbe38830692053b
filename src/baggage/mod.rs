//! W3C Baggage: application-defined `key=value` pairs that travel with a
//! request across services.
//!
//! [`Baggage`] is an ordered set of [`Member`]s, each with a key, a value and
//! optional [`Property`]s. Values are plain (decoded) strings in memory and
//! are percent-encoded on the wire. A member that arrived in a header and
//! that no code changed goes out again exactly as its sender wrote it (less
//! the optional whitespace around its parts), even where the sender's
//! encoding differs from ctx's (`eu+west` from a form encoder, `%c3%a9`,
//! `%41`): a chain of services that disagree on encoding keeps each value as
//! its sender wrote it. Members set by code are written in ctx's encoding.
//!
//! The header form follows the W3C Baggage limits: at most
//! [`Baggage::MAX_MEMBERS`] members, [`Baggage::MAX_MEMBER_LEN`] bytes per
//! member and [`Baggage::MAX_HEADER_LEN`] bytes in all. What exceeds them is
//! dropped, member by member, on parsing and on formatting; it never fails a
//! request.
//!
//! The current baggage lives in the [`Context`] under the key
//! [`BAGGAGE`]: [`Baggage::current`] and [`get`] read it, [`scope`],
//! [`sync_scope`] and [`set`] add an entry for a piece of work and
//! everything it starts.
//!
//! # Examples
//! Reading and writing the current baggage:
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! ctx::baggage::scope("tenant", "acme", async {
//!     assert_eq!(ctx::baggage::get("tenant").as_deref(), Some("acme"));
//!     // Spawned work inherits it.
//!     let seen = ctx::spawn(async { ctx::baggage::get("tenant") }).await.unwrap();
//!     assert_eq!(seen.as_deref(), Some("acme"));
//! })
//! .await;
//! assert_eq!(ctx::baggage::get("tenant"), None);
//! # }
//! ```
//!
//! The header form:
//! ```
//! use ctx::baggage::Baggage;
//!
//! let mut baggage = Baggage::parse(b"userId=alice, serverNode=DF%2028;region=eu, bad key=1");
//! assert_eq!(baggage.get("userId"), Some("alice"));
//! assert_eq!(baggage.get("serverNode"), Some("DF 28"));
//! assert_eq!(baggage.len(), 2, "the invalid member is dropped");
//!
//! baggage.insert("tenant", "acme corp").unwrap();
//! assert_eq!(
//!     baggage.to_string(),
//!     "userId=alice,serverNode=DF%2028;region=eu,tenant=acme%20corp",
//! );
//!
//! // Forwarded as the sender wrote it; '+' is a literal plus in W3C Baggage.
//! let forwarded = Baggage::parse(b"region=eu+west");
//! assert_eq!(forwarded.get("region"), Some("eu+west"));
//! assert_eq!(forwarded.to_string(), "region=eu+west");
//! ```

use std::future::Future;

use crate::access::in_scope;
use crate::context::Context;
use crate::key::Key;
use crate::scoped::Scoped;

pub use crate::model::{Baggage, InvalidBaggage, Member, Property};

/// The key under which the current [`Baggage`] lives in the
/// [`Context`].
pub static BAGGAGE: Key<Baggage> = Key::new("ctx.baggage");

/// The decoded value for `key` in the current baggage.
///
/// # Examples
/// ```
/// ctx::baggage::sync_scope("user", "alice", || {
///     assert_eq!(ctx::baggage::get("user").as_deref(), Some("alice"));
/// });
/// assert_eq!(ctx::baggage::get("user"), None);
/// ```
pub fn get(key: &str) -> Option<String> {
    BAGGAGE.with(|b| b.and_then(|b| b.get(key)).map(str::to_owned))
}

/// Wraps `fut` so that it runs with `key=value` added to the current
/// baggage; tasks it spawns inherit the entry, the caller does not see it.
///
/// The entry is added to the baggage current at the future's first poll,
/// so scopes nest whichever is built first (see
/// [`Key::scope`](crate::Key::scope)). An existing entry for `key` is
/// replaced for the duration. When `key` is not a valid token (see
/// [`InvalidBaggage`]) the baggage is left as it is.
///
/// # Examples
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use ctx::baggage::{self, Baggage};
///
/// let both = baggage::scope("tenant", "acme", baggage::scope("user", "ann", async {
///     Baggage::current().to_string()
/// }));
/// assert_eq!(both.await, "tenant=acme,user=ann");
/// # }
/// ```
pub fn scope<F: Future>(key: impl Into<String>, value: impl Into<String>, fut: F) -> Scoped<F> {
    let entry = Context::new().with(&PENDING_ENTRY, (key.into(), value.into()));
    Scoped::new(fut, entry, add_entry)
}

/// A [`scope`]'s entry until its first poll.
static PENDING_ENTRY: Key<(String, String)> = Key::new("ctx.baggage.pending");

/// A [`scope`]'s merge: its entry into the baggage current at its first
/// poll.
fn add_entry(entry: &Context) -> Context {
    let cx = in_scope();
    let Some((key, value)) = entry.get(&PENDING_ENTRY) else {
        return cx;
    };
    let mut baggage = cx.get(&BAGGAGE).cloned().unwrap_or_default();
    let _ = baggage.insert(key.clone(), value.clone());
    cx.with(&BAGGAGE, baggage)
}

/// Runs `f` with `key=value` added to the current baggage; see [`scope`].
pub fn sync_scope<R>(key: impl Into<String>, value: impl Into<String>, f: impl FnOnce() -> R) -> R {
    BAGGAGE.sync_scope(with_entry(key.into(), value.into()), f)
}

/// Adds `key=value` to the baggage of the current scope. An invalid key
/// is ignored.
///
/// # Panics
///
/// Outside any scope, as [`Key::set`] does.
///
/// # Examples
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use ctx::FutureExt;
///
/// async {
///     ctx::baggage::set("step", "1");
///     tokio::task::yield_now().await;
///     assert_eq!(ctx::baggage::get("step").as_deref(), Some("1"));
/// }
/// .in_current_context()
/// .await;
/// # }
/// ```
#[track_caller]
pub fn set(key: impl Into<String>, value: impl Into<String>) {
    BAGGAGE.set(with_entry(key.into(), value.into()));
}

/// The current baggage plus one entry (unchanged if the key is invalid).
fn with_entry(key: String, value: String) -> Baggage {
    let mut baggage = Baggage::current();
    let _ = baggage.insert(key, value);
    baggage
}

impl Baggage {
    /// The baggage of the current [`Context`], empty if it
    /// has none. Costs one reference count.
    pub fn current() -> Baggage {
        BAGGAGE.get().unwrap_or_default()
    }

    /// Wraps `fut` so that it runs with this baggage (replacing the one
    /// current at its first poll, see [`Key::scope`]).
    pub fn scope<F: Future>(self, fut: F) -> Scoped<F> {
        BAGGAGE.scope(self, fut)
    }

    /// Runs `f` with this baggage (replacing the current one).
    pub fn sync_scope<R>(self, f: impl FnOnce() -> R) -> R {
        BAGGAGE.sync_scope(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_scopes_nest_and_restore() {
        assert!(Baggage::current().is_empty());
        sync_scope("a", "1", || {
            sync_scope("b", "2", || {
                assert_eq!(Baggage::current().to_string(), "a=1,b=2");
                sync_scope("a", "3", || assert_eq!(get("a").as_deref(), Some("3")));
                assert_eq!(get("a").as_deref(), Some("1"));
            });
            assert_eq!(get("b"), None);
            sync_scope("bad key", "x", || {
                assert_eq!(Baggage::current().to_string(), "a=1")
            });
            set("c", "4");
            assert_eq!(get("c").as_deref(), Some("4"));
        });
        assert!(Baggage::current().is_empty());
        let replaced: Baggage = "x=1".parse().unwrap();
        replaced.sync_scope(|| assert_eq!(Baggage::current().to_string(), "x=1"));
    }

    #[tokio::test]
    async fn scope_persists_across_awaits() {
        let seen = scope("k", "v", async {
            tokio::task::yield_now().await;
            get("k")
        })
        .await;
        assert_eq!(seen.as_deref(), Some("v"));
        assert_eq!(get("k"), None);
    }
}
