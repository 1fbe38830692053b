//! What a line gets and how it is written: the fields read from the current
//! context, spliced into the line the user's format wrote (text: before the
//! newline; JSON: after the opening brace), and the escaping of their
//! values.

use std::cell::RefCell;
use std::fmt::{self, Display, Write as _};
use std::io;
use std::sync::Arc;

use tracing::field::FieldSet;
use tracing::Event;
use tracing_subscriber::fmt::format::Writer;

use crate::baggage::BAGGAGE;
use crate::context::Context;
use crate::key::Key;
use crate::model::ascii_str;
use crate::propagation::{RequestId, REQUEST_ID};
use crate::slot;
use crate::trace::{SpanId, TraceId, TRACE_CONTEXT};

/// A field added to every line besides the ids.
#[derive(Clone)]
pub(super) enum Extra {
    /// A key of the user's.
    Key(Arc<dyn KeyField>),
    /// A baggage member, and its field's name (`baggage.<member>`).
    Baggage { member: Box<str>, field: Box<str> },
}

impl Extra {
    pub(super) fn baggage(member: String) -> Extra {
        let field = format!("baggage.{member}").into_boxed_str();
        Extra::Baggage {
            member: member.into_boxed_str(),
            field,
        }
    }

    fn name(&self) -> &str {
        match self {
            Extra::Key(key) => key.name(),
            Extra::Baggage { field, .. } => field,
        }
    }
}

impl fmt::Debug for Extra {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Extra::Key(key) => f.debug_tuple("Key").field(&key.name()).finish(),
            Extra::Baggage { member, .. } => f.debug_tuple("Baggage").field(member).finish(),
        }
    }
}

/// A key whose value type is forgotten: its name, and its value in a context
/// as something to display.
pub(super) trait KeyField: Send + Sync {
    fn name(&self) -> &'static str;
    fn value<'a>(&self, cx: &'a Context) -> Option<&'a dyn Display>;
}

pub(super) struct KeyOf<V: Send + Sync + 'static>(pub(super) &'static Key<V>);

impl<V: Display + Send + Sync + 'static> KeyField for KeyOf<V> {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn value<'a>(&self, cx: &'a Context) -> Option<&'a dyn Display> {
        cx.get(self.0).map(|v| v as &dyn Display)
    }
}

/// What one event gets, read from the context current where it is
/// formatted.
pub(super) struct Line<'a> {
    trace: Option<(TraceId, SpanId)>,
    request_id: Option<RequestId>,
    /// The current context, for the extras (empty when there are none).
    cx: Context,
    extras: &'a [Extra],
    /// The event's own fields: a field of the same name is not written twice.
    declared: &'static FieldSet,
}

/// An extra's value.
enum Value<'a> {
    /// A baggage member's.
    Str(&'a str),
    /// A key's.
    Display(&'a dyn Display),
}

/// What there is to write, in order.
enum Field<'a> {
    /// The trace context's `trace_id` and `span_id`.
    Ids((TraceId, SpanId)),
    /// The request id: visible ASCII, written as it is in text.
    RequestId(&'a str),
    /// An extra: anything, escaped as needed.
    Extra(&'a str, Value<'a>),
}

/// The pieces the ids are written with, each with the separator before it
/// (`[1..]` when there is none): text, text with ANSI (fmt's
/// `DefaultFields` puts the name in italics and `=` dimmed), and JSON.
const TRACE_ID: [&str; 3] = [
    " trace_id=",
    " \x1b[3mtrace_id\x1b[0m\x1b[2m=\x1b[0m",
    ",\"trace_id\":\"",
];
const SPAN_ID: [&str; 3] = [
    " span_id=",
    " \x1b[3mspan_id\x1b[0m\x1b[2m=\x1b[0m",
    ",\"span_id\":\"",
];
const REQUEST_ID_NAME: [&str; 3] = [
    " request_id=",
    " \x1b[3mrequest_id\x1b[0m\x1b[2m=\x1b[0m",
    ",\"request_id\":",
];
const TEXT: usize = 0;
const ANSI: usize = 1;
const JSON: usize = 2;

/// The ids' hex digits, written on the stack.
struct Hex {
    trace: [u8; 32],
    span: [u8; 16],
}

impl Hex {
    fn of((trace, span): (TraceId, SpanId)) -> Hex {
        let mut hex = Hex {
            trace: [0; 32],
            span: [0; 16],
        };
        trace.encode_hex(&mut hex.trace);
        span.encode_hex(&mut hex.span);
        hex
    }
}

/// Writes `piece` (a name with the separator before it), without the
/// separator the first time.
fn piece(out: &mut Writer<'_>, first: &mut bool, piece: &str) -> fmt::Result {
    let piece = if *first { &piece[1..] } else { piece };
    *first = false;
    out.write_str(piece)
}

impl<'a> Line<'a> {
    /// `None` when there is nothing to add: no trace, no request id, no
    /// extra with a value (the empty context is the first, cheapest test).
    pub(super) fn new(extras: &'a [Extra], event: &Event<'_>) -> Option<Line<'a>> {
        // The ids are copied out of the thread's slot, without a reference
        // count on the context (no code of the user's runs meanwhile); the
        // extras need the context itself.
        let (trace, request_id) = slot::with_current(|cx| {
            if cx.is_empty() {
                return None;
            }
            let trace = cx.get(&TRACE_CONTEXT).map(|t| (t.trace_id(), t.span_id()));
            Some((trace, cx.get(&REQUEST_ID).cloned()))
        })?;
        let line = Line {
            trace,
            request_id,
            cx: if extras.is_empty() {
                Context::new()
            } else {
                Context::current()
            },
            extras,
            declared: event.metadata().fields(),
        };
        let any = line.trace.is_some()
            || line.request_id.is_some()
            || extras.iter().any(|e| line.extra(e).is_some());
        any.then_some(line)
    }

    fn extra<'s>(&'s self, extra: &'s Extra) -> Option<Value<'s>> {
        match extra {
            Extra::Key(key) => key.value(&self.cx).map(Value::Display),
            Extra::Baggage { member, .. } => self.cx.get(&BAGGAGE)?.get(member).map(Value::Str),
        }
    }

    /// Calls `f` with each field to write, in order: the ids, then the
    /// extras.
    fn each(&self, mut f: impl FnMut(Field<'_>) -> fmt::Result) -> fmt::Result {
        if let Some(ids) = self.trace {
            f(Field::Ids(ids))?;
        }
        if let Some(id) = &self.request_id {
            f(Field::RequestId(id.as_str()))?;
        }
        for extra in self.extras {
            if let Some(value) = self.extra(extra) {
                f(Field::Extra(extra.name(), value))?;
            }
        }
        Ok(())
    }

    fn declares(&self, name: &str) -> bool {
        self.declared.field(name).is_some()
    }

    /// Writes the line the format wrote into `scratch` to `out`, with the
    /// fields: a JSON object's first keys, or in a text line (with ANSI
    /// styles or not) before its newline.
    pub(super) fn splice(
        &self,
        scratch: &mut Scratch,
        json: bool,
        ansi: bool,
        out: &mut Writer<'_>,
    ) -> fmt::Result {
        let Scratch { line, ids } = scratch;
        match (json, ansi) {
            (true, _) => self.splice_json(line, ids, out),
            (false, ansi) => self.splice_text(line, ids, if ansi { ANSI } else { TEXT }, out),
        }
    }

    /// Writes `line` (a text line the format wrote) to `out` with the fields
    /// before its newline, as fmt's default field formatter writes a field.
    fn splice_text(
        &self,
        line: &str,
        written: &mut Written,
        form: usize,
        out: &mut Writer<'_>,
    ) -> fmt::Result {
        let (head, tail) = match line.strip_suffix('\n') {
            Some(head) => (head, "\n"),
            None => (line, ""),
        };
        out.write_str(head)?;
        let mut first = head.is_empty() || head.ends_with(' ');
        self.each(|field| match field {
            Field::Ids(ids) => {
                let (trace_id, span_id) = (self.declares("trace_id"), self.declares("span_id"));
                if !trace_id && !span_id {
                    return piece(out, &mut first, written.get(ids, form));
                }
                let hex = Hex::of(ids);
                if !trace_id {
                    piece(out, &mut first, TRACE_ID[form])?;
                    out.write_str(ascii_str(&hex.trace))?;
                }
                if !span_id {
                    piece(out, &mut first, SPAN_ID[form])?;
                    out.write_str(ascii_str(&hex.span))?;
                }
                Ok(())
            }
            Field::RequestId(_) if self.declares("request_id") => Ok(()),
            Field::RequestId(id) => {
                piece(out, &mut first, REQUEST_ID_NAME[form])?;
                out.write_str(id)
            }
            Field::Extra(name, _) if self.declares(name) => Ok(()),
            Field::Extra(name, value) => {
                if !std::mem::take(&mut first) {
                    out.write_char(' ')?;
                }
                if form == ANSI {
                    write!(out, "\x1b[3m{name}\x1b[0m\x1b[2m=\x1b[0m")?;
                } else {
                    out.write_str(name)?;
                    out.write_char('=')?;
                }
                match value {
                    Value::Str(v) => Controls(out).write_str(v),
                    Value::Display(v) => write!(Controls(out), "{v}"),
                }
            }
        })?;
        out.write_str(tail)
    }

    /// Writes `object` (a JSON object the format wrote, and its newline) to
    /// `out` with the fields as its first keys.
    fn splice_json(
        &self,
        object: &str,
        written: &mut Written,
        out: &mut Writer<'_>,
    ) -> fmt::Result {
        let Some(rest) = object.strip_prefix('{') else {
            return out.write_str(object);
        };
        out.write_char('{')?;
        // An event's own field at the top level (`flatten_event`) wins;
        // under `"fields"` it does not count.
        let skips = |name: &str| self.declares(name) && has_top_level_key(object, name);
        let mut first = true;
        self.each(|field| match field {
            Field::Ids(ids) => {
                let (trace_id, span_id) = (skips("trace_id"), skips("span_id"));
                if !trace_id && !span_id {
                    return piece(out, &mut first, written.get(ids, JSON));
                }
                let hex = Hex::of(ids);
                if !trace_id {
                    piece(out, &mut first, TRACE_ID[JSON])?;
                    out.write_str(ascii_str(&hex.trace))?;
                    out.write_char('"')?;
                }
                if !span_id {
                    piece(out, &mut first, SPAN_ID[JSON])?;
                    out.write_str(ascii_str(&hex.span))?;
                    out.write_char('"')?;
                }
                Ok(())
            }
            Field::RequestId(_) if skips("request_id") => Ok(()),
            Field::RequestId(id) => {
                piece(out, &mut first, REQUEST_ID_NAME[JSON])?;
                json_str(out, id)
            }
            Field::Extra(name, _) if skips(name) => Ok(()),
            Field::Extra(name, value) => {
                if !std::mem::take(&mut first) {
                    out.write_char(',')?;
                }
                json_str(out, name)?;
                out.write_char(':')?;
                match value {
                    Value::Str(v) => json_str(out, v),
                    Value::Display(v) => json_display(out, v),
                }
            }
        })?;
        if !first && !rest.starts_with('}') {
            out.write_char(',')?;
        }
        out.write_str(rest)
    }
}

/// What a thread keeps from one line to the next: the buffer a line is
/// formatted into, and the ids as the last line wrote them.
#[derive(Default)]
pub(super) struct Scratch {
    pub(super) line: String,
    ids: Written,
}

/// The ids of the last line and their written form: a request's lines on
/// one thread repeat them, and this saves encoding them again.
#[derive(Default)]
struct Written {
    ids: Option<((TraceId, SpanId), usize)>,
    text: String,
}

impl Written {
    fn get(&mut self, ids: (TraceId, SpanId), form: usize) -> &str {
        if self.ids != Some((ids, form)) {
            let hex = Hex::of(ids);
            self.text.clear();
            self.text.push_str(TRACE_ID[form]);
            self.text.push_str(ascii_str(&hex.trace));
            if form == JSON {
                self.text.push('"');
            }
            self.text.push_str(SPAN_ID[form]);
            self.text.push_str(ascii_str(&hex.span));
            if form == JSON {
                self.text.push('"');
            }
            self.ids = Some((ids, form));
        }
        &self.text
    }
}

/// Runs `f` with the thread's scratch, its line empty; or with a new one
/// when the thread's is in use (an event formatted while another is) or
/// gone (the thread is exiting).
pub(super) fn with_scratch<R>(mut f: impl FnMut(&mut Scratch) -> R) -> R {
    thread_local! {
        static SCRATCH: RefCell<Scratch> = RefCell::default();
    }
    /// A buffer grown past this by a huge line is not kept.
    const KEEP: usize = 64 * 1024;
    let reused = SCRATCH.try_with(|cell| {
        let mut scratch = cell.try_borrow_mut().ok()?;
        scratch.line.clear();
        let r = f(&mut scratch);
        if scratch.line.capacity() > KEEP {
            scratch.line = String::new();
        } else {
            scratch.line.clear();
        }
        Some(r)
    });
    match reused {
        Ok(Some(r)) => r,
        _ => f(&mut Scratch::default()),
    }
}

/// Writes a text value with its control characters escaped (`\n`,
/// `\u{1b}`), so that a value cannot break a line or drive a terminal.
struct Controls<'a, 'w>(&'a mut Writer<'w>);

impl fmt::Write for Controls<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut start = 0;
        for (i, c) in s.char_indices() {
            if c.is_control() {
                self.0.write_str(&s[start..i])?;
                write!(self.0, "{}", c.escape_debug())?;
                start = i + c.len_utf8();
            }
        }
        self.0.write_str(&s[start..])
    }
}

/// Writes `s` as a JSON string: as it is when nothing in it needs escaping
/// (ids, names, most values), else escaped by serde_json.
fn json_str(out: &mut Writer<'_>, s: &str) -> fmt::Result {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.write_char('"')?;
        out.write_str(s)?;
        out.write_char('"')
    } else {
        json_display(out, &s)
    }
}

/// Writes `value` as a JSON string, escaped by serde_json, with no buffer
/// of its own.
fn json_display(out: &mut Writer<'_>, value: &dyn Display) -> fmt::Result {
    use serde::Serializer as _;
    let mut sink = Utf8Sink {
        out,
        pending: [0; 4],
        pending_len: 0,
    };
    let result = serde_json::Serializer::new(&mut sink).collect_str(value);
    if result.is_err() || sink.pending_len != 0 {
        return Err(fmt::Error);
    }
    Ok(())
}

/// serde_json writes bytes; the writer takes `str`s. serde_json only writes
/// whole UTF-8 sequences, but a sequence split across two writes is put
/// together rather than refused.
struct Utf8Sink<'a, 'w> {
    out: &'a mut Writer<'w>,
    pending: [u8; 4],
    pending_len: usize,
}

impl io::Write for Utf8Sink<'_, '_> {
    fn write(&mut self, mut buf: &[u8]) -> io::Result<usize> {
        let n = buf.len();
        let fmt_error = |_| io::Error::other("the log writer failed");
        // Complete a sequence left over from the last write.
        while self.pending_len != 0 {
            let Some((&byte, rest)) = buf.split_first() else {
                return Ok(n);
            };
            self.pending[self.pending_len] = byte;
            self.pending_len += 1;
            buf = rest;
            match std::str::from_utf8(&self.pending[..self.pending_len]) {
                Ok(s) => {
                    self.out.write_str(s).map_err(fmt_error)?;
                    self.pending_len = 0;
                }
                Err(e) if e.error_len().is_some() || self.pending_len == 4 => {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, e));
                }
                Err(_) => {}
            }
        }
        match std::str::from_utf8(buf) {
            Ok(s) => self.out.write_str(s).map_err(fmt_error)?,
            Err(e) if e.error_len().is_none() => {
                // An incomplete sequence at the end: keep it for the next write.
                let (valid, rest) = buf.split_at(e.valid_up_to());
                let valid = std::str::from_utf8(valid)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                self.out.write_str(valid).map_err(fmt_error)?;
                self.pending[..rest.len()].copy_from_slice(rest);
                self.pending_len = rest.len();
            }
            Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Whether the JSON object `object` has `key` among its own (top-level)
/// keys. A small scan for the one case where it matters (an event with a
/// field named like one of ours); `key` is compared as written, unescaped.
fn has_top_level_key(object: &str, key: &str) -> bool {
    let bytes = object.as_bytes();
    let mut depth = 0usize;
    // Inside the object, right after `{` or `,`: the next string is a key.
    let mut key_next = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let start = i + 1;
                let mut j = start;
                while j < bytes.len() && bytes[j] != b'"' {
                    j += if bytes[j] == b'\\' { 2 } else { 1 };
                }
                let closed = j < bytes.len();
                if closed && depth == 1 && key_next && object.get(start..j) == Some(key) {
                    return true;
                }
                key_next = false;
                i = j;
            }
            b'{' | b'[' => {
                depth += 1;
                key_next = depth == 1;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                key_next = false;
            }
            b',' => key_next = depth == 1,
            _ => {}
        }
        i += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_keys_are_told_from_nested_ones_and_from_strings() {
        let object =
            r#"{"a":1,"fields":{"trace_id":"x"},"s":"\"trace_id\":","spans":[{"b":2}],"c":"d"}"#;
        for key in ["a", "fields", "s", "spans", "c"] {
            assert!(has_top_level_key(object, key), "{key}");
        }
        for key in ["trace_id", "b", "d", "x", "1"] {
            assert!(!has_top_level_key(object, key), "{key}");
        }
        assert!(has_top_level_key(r#"{"trace_id":"x"}"#, "trace_id"));
        assert!(!has_top_level_key("{}", "trace_id"));
        assert!(!has_top_level_key(r#"{"unterminated"#, "unterminated"));
    }

    #[test]
    fn json_strings_are_escaped_and_text_controls_are_visible() {
        let mut out = String::new();
        let mut w = Writer::new(&mut out);
        json_str(&mut w, "a\"b\\c\nd\u{1b}é€😀").unwrap();
        json_str(&mut w, "plain é").unwrap();
        json_display(&mut w, &format_args!("{}\t", 7)).unwrap();
        Controls(&mut w)
            .write_str("x\ny\u{1b}[31mz\u{85}é")
            .unwrap();
        assert_eq!(
            out,
            "\"a\\\"b\\\\c\\nd\\u001bé€😀\"\"plain é\"\"7\\t\"x\\ny\\u{1b}[31mz\\u{85}é"
        );
    }

    #[test]
    fn the_sink_puts_split_sequences_together_and_refuses_bad_bytes() {
        use std::io::Write as _;
        let mut out = String::new();
        let mut w = Writer::new(&mut out);
        let mut sink = Utf8Sink {
            out: &mut w,
            pending: [0; 4],
            pending_len: 0,
        };
        let bytes = "a😀b".as_bytes();
        for chunk in [&bytes[..2], &bytes[2..3], &bytes[3..]] {
            sink.write_all(chunk).unwrap();
        }
        assert_eq!(sink.pending_len, 0);
        assert!(sink.write_all(&[0xff]).is_err());
        assert_eq!(out, "a😀b");
    }

    #[test]
    fn the_scratch_is_reused_and_a_nested_use_gets_its_own() {
        let outer = with_scratch(|scratch| {
            scratch.line.push_str("outer");
            let inner = with_scratch(|inner| {
                assert!(
                    inner.line.is_empty(),
                    "a new one while the thread's is in use"
                );
                inner.line.push_str("inner");
                inner.line.clone()
            });
            format!("{}+{inner}", scratch.line)
        });
        assert_eq!(outer, "outer+inner");
        with_scratch(|scratch| assert!(scratch.line.is_empty(), "cleared after use"));
    }

    #[test]
    fn the_written_ids_follow_the_ids_and_the_form() {
        let a = (TraceId::random(), SpanId::random());
        let b = (a.0, SpanId::random());
        let mut written = Written::default();
        for (ids, form) in [
            (a, TEXT),
            (a, TEXT),
            (b, TEXT),
            (b, ANSI),
            (b, JSON),
            (a, JSON),
        ] {
            let expected = match form {
                TEXT => format!(" trace_id={} span_id={}", ids.0, ids.1),
                ANSI => format!(
                    " \x1b[3mtrace_id\x1b[0m\x1b[2m=\x1b[0m{} \x1b[3mspan_id\x1b[0m\x1b[2m=\x1b[0m{}",
                    ids.0, ids.1
                ),
                _ => format!(",\"trace_id\":\"{}\",\"span_id\":\"{}\"", ids.0, ids.1),
            };
            assert_eq!(written.get(ids, form), expected);
        }
    }
}
