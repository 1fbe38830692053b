//! Spawned work keeps the user's `tracing` span.
//!
//! With [`carry()`] called once at start-up, every capture ctx makes for a
//! child (`ctx::spawn` and its siblings, [`wrap`](crate::wrap), streams)
//! takes the `tracing` span current at the call, the one entered with
//! `.instrument(span)`, `#[instrument]` or `span.in_scope(..)`, and the
//! child runs inside it on every poll and call: its events and the spans it
//! creates are nested under that span and show its fields, as `tracing`'s
//! own `.in_current_span()` would, without writing it at each spawn. (One
//! difference: `in_current_span()` also enters the span while the future is
//! dropped; ctx enters carried spans around polls and calls only, so the
//! destructors of a cancelled task run outside it. See
//! [`Key::with_replay`](crate::Key::with_replay).)
//!
//! The spans and their fields are the user's: ctx only carries them (one
//! `Span` clone per capture when the span differs from the one the context
//! already carries; none when it is the same).
//!
//! # Examples
//!
//! ```
//! use tracing::info_span;
//!
//! ctx::spans::carry().unwrap();
//!
//! tracing::subscriber::with_default(tracing_subscriber::registry(), || {
//!     let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//!     let seen = rt.block_on(async {
//!         let task = info_span!("order", id = 7).in_scope(|| {
//!             // A plain spawn would start outside any span.
//!             ctx::spawn(async { tracing::Span::current().metadata().map(|m| m.name()) })
//!         });
//!         task.await.unwrap()
//!     });
//!     // Events and spans made in the task are nested under `order{id=7}`.
//!     assert_eq!(seen, Some("order"));
//! });
//! ```

use tracing::Span;

use crate::carry::{self, Carrier, RegisterError};
use crate::context::Context;
use crate::key::Key;

/// The key under which a context carries a `tracing` span. Work that runs
/// in a context holding one runs inside it (entered around every poll and
/// call, see [`Key::with_replay`]).
pub static SPAN: Key<Span> =
    Key::new("ctx.tracing.span").with_replay(|span, run| span.in_scope(run));

static SPANS: Carrier = Carrier::new("tracing span", capture);

/// The current span into `cx`, unless it is there already; with no span
/// current, none is handed on (not one `cx` kept from elsewhere).
fn capture(cx: &Context) -> Option<Context> {
    // Compared by id first: `Span::current()` clones the span (a
    // reference count in the subscriber), needed only when it differs.
    let current = tracing::dispatcher::get_default(|d| d.current_span());
    let Some(id) = current.id() else {
        return cx.contains(&SPAN).then(|| cx.without(&SPAN));
    };
    if cx.get(&SPAN).and_then(Span::id).as_ref() == Some(id) {
        return None;
    }
    let span = Span::current();
    if span.is_none() {
        return None;
    }
    Some(cx.with(&SPAN, span))
}

/// Makes every capture from now on carry the current `tracing` span (see
/// the [module docs](self)). Calling it again does nothing.
///
/// # Errors
///
/// Fails when [`carry::MAX_CARRIERS`] carriers are registered already.
pub fn carry() -> Result<(), RegisterError> {
    carry::register(&SPANS)
}
