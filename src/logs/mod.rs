//! Every log line carries its request's ids: `tracing_subscriber::fmt` lines
//! written inside a request's context get its `trace_id`, `span_id` and
//! `request_id`, as Java's MDC (`%X{trace_id}`) and .NET's
//! `ActivityTrackingOptions` give them.
//!
//! # Set-up
//!
//! One call on your own fmt subscriber or layer, which keeps every setting
//! you gave it (timestamps, level, target, ANSI, span list, thread ids, the
//! writer, filters and the other layers of the registry):
//!
//! ```
//! tracing_subscriber::fmt()
//!     .map_event_format(ctx::logs::with_ids)
//!     .init();
//! ```
//!
//! and in JSON, one object per line with the ids at its top level:
//!
//! ```
//! tracing_subscriber::fmt()
//!     .json()
//!     .map_event_format(ctx::logs::with_ids)
//!     .init();
//! ```
//!
//! With a registry, the same call goes on the layer:
//! `tracing_subscriber::fmt::layer().json().map_event_format(ctx::logs::with_ids)`.
//!
//! # What a line looks like
//!
//! An `info!("order placed")` in a handler behind
//! [`ContextLayer`](crate::http::ContextLayer), in text and in JSON:
//!
//! ```text
//! 2025-06-02T10:00:00.000001Z  INFO shop: order placed trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=53995c3f42cd8ad8 request_id=req-42
//! {"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"53995c3f42cd8ad8","request_id":"req-42","timestamp":"2025-06-02T10:00:00.000001Z","level":"INFO","fields":{"message":"order placed"},"target":"shop"}
//! ```
//!
//! In text the ids come after the event's own fields, written as fmt writes
//! a field (with ANSI on: the name in italics, `=` dimmed); in JSON they are
//! the first keys of the object. The ids are lowercase W3C hex
//! ([`TraceId`](crate::trace::TraceId) and
//! [`SpanId`](crate::trace::SpanId)'s `Display`); `request_id` is written
//! when the context holds one (the server layer puts the trace id there
//! when no `x-request-id` came in).
//!
//! # Where it works
//!
//! fmt formats an event on the thread that emits it, so the fields are read
//! from ctx's current context there ([`TraceContext::current`],
//! [`request_id()`](crate::request_id)). Every place ctx carries the context
//! to gets them: the handler and its response body, [`ctx::spawn`] tasks,
//! [`ctx::spawn_blocking`] closures, [`ctx::thread`](crate::thread) threads,
//! [`ctx::wrap`](crate::wrap)ped closures on any pool, and code in
//! [`Context::run`](crate::Context::run) or a [`Key::scope`]. Work started
//! with a plain `tokio::spawn` has no context, and its lines have no ids.
//!
//! Lines written where the current context holds no trace, no request id
//! and none of the extras below are written by your format itself, byte for
//! byte as without ctx, for the price of one look at the thread's context.
//!
//! # Extras
//!
//! Values of your own keys ([`WithIds::with_key`], a field named by the
//! key's name) and chosen baggage members ([`WithIds::with_baggage`], fields
//! named `baggage.<member>`) can be added to every line, the access log
//! included, as .NET's `ActivityTrackingOptions.Baggage` and OpenTelemetry
//! Java's `add-baggage` do:
//!
//! ```
//! use ctx::Key;
//!
//! static TENANT: Key<String> = Key::new("tenant");
//!
//! tracing_subscriber::fmt()
//!     .map_event_format(|format| {
//!         ctx::logs::with_ids(format)
//!             .with_key(&TENANT)
//!             .with_baggage(["region"])
//!     })
//!     .init();
//! ```
//!
//! In text, extras are written with `Display`, plainly, except that control
//! characters (a newline, an escape sequence) are written escaped
//! (`\n`, `\u{1b}`): baggage comes from callers, and one line stays one
//! line. In JSON every value is a string, escaped as JSON.
//!
//! # The access log, and events that carry the fields themselves
//!
//! An event with a field of the same name as one ctx would add keeps its
//! own, as `info!(trace_id = %other, "...")` does, and the server layer's
//! access-log event (target
//! [`ACCESS_LOG_TARGET`](crate::http::ACCESS_LOG_TARGET)), whose fields
//! include `trace_id`, `span_id` and `request_id`. In text such a field is
//! not written a second time: the access-log line gets only the extras. In
//! JSON a key is not added where the event's own field already is at the
//! top level (`flatten_event(true)`); the event's fields nested under
//! `"fields"` (the default) do not count, so that every object has the ids
//! at its top level, the access log's included.
//!
//! # Limits
//!
//! - The formats supported are tracing-subscriber's own [`Format`] with
//!   [`Full`] (the default), [`Compact`] and [`Json`]; `Pretty` exists only
//!   with tracing-subscriber's `ansi` feature, which ctx does not turn on
//!   (doing so would turn colours on for every build that left them off).
//!   Custom [`FormatEvent`]s are not wrapped.
//! - The timer must be `Clone` (all of tracing-subscriber's are): the text
//!   formats are kept twice, with ANSI on and off, because a line that gets
//!   fields is formatted into a buffer first and tracing-subscriber offers
//!   no public way to give that buffer the writer's ANSI setting.
//! - For the same reason, in a line that gets fields the event's message is
//!   sanitized of ANSI escapes as fmt does by default, even when the layer
//!   was built with `with_ansi_sanitization(false)`; and a format given an
//!   explicit `Format::with_ansi(false)` under a layer with ANSI on is
//!   written with ANSI there. Lines without fields are untouched.
//! - In text, the fields are written in the style of fmt's default field
//!   formatter, whatever field formatter (`fmt_fields`) the layer has.
//!
//! [`TraceContext::current`]: crate::trace::TraceContext::current
//! [`ctx::spawn`]: crate::spawn
//! [`ctx::spawn_blocking`]: crate::spawn_blocking
//! [`Key::scope`]: crate::Key::scope

use std::fmt;
use std::sync::Arc;

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{Compact, Format, Full, Json, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::key::Key;

mod fields;

use fields::{with_scratch, Extra, KeyOf, Line};

/// Wraps one of tracing-subscriber's fmt formats so that every event written
/// inside a request's context carries its `trace_id`, `span_id` and
/// `request_id` (see the [module docs](self)).
///
/// Made to be given to `map_event_format`, on a subscriber builder or a
/// layer: the format you configured is kept as it is.
///
/// # Examples
///
/// ```
/// use std::io;
/// use std::sync::{Arc, Mutex};
///
/// use ctx::trace::TraceContext;
///
/// // Lines kept in memory, to look at them.
/// #[derive(Clone, Default)]
/// struct Lines(Arc<Mutex<Vec<u8>>>);
/// impl io::Write for Lines {
///     fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
///         self.0.lock().unwrap().extend_from_slice(buf);
///         Ok(buf.len())
///     }
///     fn flush(&mut self) -> io::Result<()> {
///         Ok(())
///     }
/// }
///
/// let lines = Lines::default();
/// let writer = lines.clone();
/// let subscriber = tracing_subscriber::fmt()
///     .without_time()
///     .with_target(false)
///     .with_ansi(false)
///     .with_writer(move || writer.clone())
///     .map_event_format(ctx::logs::with_ids)
///     .finish();
///
/// let trace = TraceContext::new_root();
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info!("outside any request");
///     trace.clone().sync_scope(|| tracing::info!(order = 7, "order placed"));
/// });
///
/// let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
/// let expected = format!(
///     " INFO outside any request\n \
///      INFO order placed order=7 trace_id={} span_id={}\n",
///     trace.trace_id(),
///     trace.span_id(),
/// );
/// assert_eq!(text, expected);
/// ```
pub fn with_ids<F: Layout, T: Clone>(format: Format<F, T>) -> WithIds<F, T> {
    WithIds {
        ansi: format.clone().with_ansi(true),
        inner: format,
        extras: Vec::new(),
    }
}

/// A fmt [`Format`] whose lines carry the current context's ids: made by
/// [`with_ids`], see there and the [module docs](self).
pub struct WithIds<F, T> {
    /// The format as the user built it: lines without fields, and lines
    /// with fields where the writer has no ANSI.
    inner: Format<F, T>,
    /// The same with ANSI forced on: lines with fields where the writer has
    /// ANSI (the buffer they are formatted into has none of its own).
    ansi: Format<F, T>,
    extras: Vec<Extra>,
}

impl<F, T> WithIds<F, T> {
    /// Adds the value of `key` to every line where the current context holds
    /// one, as a field named by the key's [name](Key::name), written with
    /// its `Display`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ctx::Key;
    ///
    /// static TENANT: Key<String> = Key::new("tenant");
    ///
    /// let subscriber = tracing_subscriber::fmt()
    ///     .map_event_format(|f| ctx::logs::with_ids(f).with_key(&TENANT))
    ///     .finish();
    /// tracing::subscriber::with_default(subscriber, || {
    ///     // Written with `tenant=acme`.
    ///     TENANT.sync_scope("acme".to_string(), || tracing::info!("order placed"));
    /// });
    /// ```
    pub fn with_key<V>(mut self, key: &'static Key<V>) -> Self
    where
        V: fmt::Display + Send + Sync + 'static,
    {
        self.extras.push(Extra::Key(Arc::new(KeyOf(key))));
        self
    }

    /// Adds the listed baggage members to every line where the current
    /// baggage holds them, as fields named `baggage.<member>`. Only the
    /// members listed are written: baggage is set by callers and may hold
    /// what does not belong in logs.
    ///
    /// # Examples
    ///
    /// ```
    /// let subscriber = tracing_subscriber::fmt()
    ///     .map_event_format(|f| ctx::logs::with_ids(f).with_baggage(["region", "tier"]))
    ///     .finish();
    /// tracing::subscriber::with_default(subscriber, || {
    ///     // Written with `baggage.region=eu`.
    ///     ctx::baggage::sync_scope("region", "eu", || tracing::info!("order placed"));
    /// });
    /// ```
    pub fn with_baggage<I>(mut self, members: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        for member in members {
            self.extras.push(Extra::baggage(member.into()));
        }
        self
    }
}

impl<F: Clone, T: Clone> Clone for WithIds<F, T> {
    fn clone(&self) -> Self {
        WithIds {
            inner: self.inner.clone(),
            ansi: self.ansi.clone(),
            extras: self.extras.clone(),
        }
    }
}

impl<F: fmt::Debug, T: fmt::Debug> fmt::Debug for WithIds<F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WithIds")
            .field("inner", &self.inner)
            .field("extras", &self.extras)
            .finish_non_exhaustive()
    }
}

/// The line layouts of tracing-subscriber's [`Format`] that [`WithIds`]
/// knows where to add fields to: [`Full`] and [`Compact`] (text: after the
/// event's fields, before the newline) and [`Json`] (the first keys of the
/// object). Sealed.
pub trait Layout: sealed::Sealed + Clone {}

impl Layout for Full {}
impl Layout for Compact {}
impl Layout for Json {}

mod sealed {
    use tracing_subscriber::fmt::format::{Compact, Full, Json};

    pub trait Sealed {
        /// A JSON object per line (else a text line).
        const JSON: bool;
    }
    impl Sealed for Full {
        const JSON: bool = false;
    }
    impl Sealed for Compact {
        const JSON: bool = false;
    }
    impl Sealed for Json {
        const JSON: bool = true;
    }
}

impl<S, N, F, T> FormatEvent<S, N> for WithIds<F, T>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: Layout,
    Format<F, T>: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let Some(line) = Line::new(&self.extras, event) else {
            // Nothing to add: the user's format, on the real writer.
            return self.inner.format_event(ctx, writer, event);
        };
        // JSON has no ANSI; text follows the writer the layer made.
        let ansi = !F::JSON && writer.has_ansi_escapes();
        let format = if ansi { &self.ansi } else { &self.inner };
        with_scratch(|scratch| {
            format.format_event(ctx, Writer::new(&mut scratch.line), event)?;
            line.splice(scratch, F::JSON, ansi, &mut writer)
        })
    }
}
