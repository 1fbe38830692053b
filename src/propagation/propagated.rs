//! [`Propagated`]: what travels between services, and its way into and out
//! of a [`Context`].

use super::remote::{self, RemoteValues};
use crate::baggage::{Baggage, BAGGAGE};
#[cfg(feature = "http")]
use crate::budget::Budget;
use crate::call_id::{CallId, CALL_ID};
use crate::context::Entry;
use crate::model::RequestId;
use crate::trace::{TraceContext, TRACE_CONTEXT};
#[cfg(feature = "http")]
use crate::value::BUDGET;
use crate::value::REQUEST_ID;
use crate::Context;

/// What travels between services: the caller's trace context, the baggage,
/// the request id and the call id.
///
/// [`Propagators::extract`] fills it from an inbound carrier and
/// [`Propagators::inject`] writes it to an outbound one.
///
/// [`Propagators::extract`]: crate::propagation::Propagators::extract
/// [`Propagators::inject`]: crate::propagation::Propagators::inject
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Propagated {
    /// The trace context. After extraction it is the *remote parent*: its
    /// `span_id` is the caller's span, so a server starts its own span with
    /// [`TraceContext::child`]. `None` when no format carried a valid one, in
    /// which case the server starts a new trace.
    pub trace: Option<TraceContext>,
    /// The baggage, empty when none was carried.
    pub baggage: Baggage,
    /// The request id, if one was carried.
    pub request_id: Option<RequestId>,
    /// A sampling decision that came without a trace context (B3's `b3: 0`
    /// alone, or `x-b3-sampled` without ids): a caller that asks not to be
    /// traced. A server that starts a new trace takes it; `None` when no
    /// such decision came, or when `trace` carries the decision.
    pub sampled: Option<bool>,
    /// The hierarchical call id (see [`crate::call_id`]), when a
    /// [`CallIdPropagator`](crate::propagation::CallIdPropagator) read one or
    /// the context holds one.
    pub call_id: Option<CallId>,
    /// The values of keys declared with a header of their own
    /// ([`RemoteKey::header`](super::RemoteKey::header)); those declared
    /// as baggage members travel in `baggage`.
    pub(crate) remote: RemoteValues,
}

impl Propagated {
    /// Nothing: no trace context, no baggage, no request id.
    pub fn new() -> Self {
        Self::default()
    }

    /// The trace context, baggage and request id of the current
    /// [`Context`]: what an outgoing call sends. Cheap: each
    /// field is a copy or a reference count.
    ///
    /// The trace context is sent as it is; a client that records its own
    /// span for the call sets `trace` to
    /// [`TraceContext::child_of_current`] first.
    ///
    /// # Examples
    /// ```
    /// use ctx::propagation::{Propagated, Propagators};
    /// use ctx::trace::TraceContext;
    ///
    /// let mut headers = http::HeaderMap::new();
    /// TraceContext::new_root().sync_scope(|| {
    ///     ctx::baggage::sync_scope("user", "alice", || {
    ///         Propagators::new().inject(&Propagated::current(), &mut headers);
    ///     });
    /// });
    /// assert!(headers.contains_key("traceparent"));
    /// assert_eq!(headers["baggage"], "user=alice");
    /// ```
    pub fn current() -> Self {
        Self::from_context(&Context::current())
    }

    /// The trace context, baggage, request id and call id held by `cx`,
    /// with the values of the keys [declared](super::declare) to travel.
    pub fn from_context(cx: &Context) -> Self {
        let mut fields = Propagated {
            trace: cx.get(&TRACE_CONTEXT).cloned(),
            baggage: cx.get(&BAGGAGE).cloned().unwrap_or_default(),
            request_id: cx.get(&REQUEST_ID).cloned(),
            sampled: None,
            call_id: cx.get(&CALL_ID).cloned(),
            remote: RemoteValues::default(),
        };
        if remote::any() {
            remote::read_from(cx, &mut fields.baggage, &mut fields.remote);
        }
        fields
    }

    /// `cx` with these fields stored under [`TRACE_CONTEXT`], [`BAGGAGE`],
    /// [`REQUEST_ID`] and [`CALL_ID`] (the fields that are empty leave `cx`'s values as
    /// they are).
    ///
    /// A server usually replaces `trace` with a child first, so that the
    /// context holds its own span rather than the caller's.
    ///
    /// The new snapshot's table is built once, whatever the number of
    /// fields, and holds the trace context and the request id itself: one
    /// allocation, plus one for the baggage when it is present.
    pub fn to_context(&self, cx: &Context) -> Context {
        self.clone().into_context(cx)
    }

    /// `cx` with a request's values: its server span `trace` and these
    /// fields' baggage, request id and call id, one that is empty here being removed
    /// from `cx` rather than inherited, so that a request seeded inside
    /// another request's context (an in-process call, a server started in a
    /// scope) never carries that request's baggage or id. The other values
    /// of `cx` are kept. `budget`, when given, is the request's deadline
    /// and cancellation signal, put in the same table.
    #[cfg(feature = "http")]
    #[inline]
    pub(crate) fn replace_in(
        mut self,
        trace: TraceContext,
        cx: &Context,
        budget: Option<Budget>,
    ) -> Context {
        if cx.is_empty()
            && self.baggage.is_empty()
            && self.call_id.is_none()
            && self.remote.is_empty()
        {
            return Context::of_request(trace, self.request_id, budget);
        }
        self.trace = Some(trace);
        let mut base: Option<Context> = None;
        if self.baggage.is_empty() && cx.contains(&BAGGAGE) {
            base = Some(base.as_ref().unwrap_or(cx).without(&BAGGAGE));
        }
        if self.request_id.is_none() && cx.contains(&REQUEST_ID) {
            base = Some(base.as_ref().unwrap_or(cx).without(&REQUEST_ID));
        }
        // Another call's id (a surrounding request's) is never this one's.
        if self.call_id.is_none() && cx.contains(&CALL_ID) {
            base = Some(base.as_ref().unwrap_or(cx).without(&CALL_ID));
        }
        let budget = budget.map(|b| Entry::new(&BUDGET, b));
        self.into_context_with(base.as_ref().unwrap_or(cx), budget)
    }

    /// [`to_context`](Propagated::to_context), moving the fields in.
    pub(crate) fn into_context(self, cx: &Context) -> Context {
        self.into_context_with(cx, None)
    }

    /// [`into_context`](Propagated::into_context) with one more entry.
    fn into_context_with(self, cx: &Context, extra: Option<Entry>) -> Context {
        let Propagated {
            trace,
            baggage,
            request_id,
            sampled: _,
            call_id,
            remote,
        } = self;
        if trace.is_none()
            && baggage.is_empty()
            && request_id.is_none()
            && call_id.is_none()
            && remote.is_empty()
            && extra.is_none()
        {
            return cx.clone();
        }
        let declared = if remote::any() {
            remote::entries(&baggage, &remote)
        } else {
            Vec::new()
        };
        let cx = cx.with_entries([
            trace.map(|t| Entry::new(&TRACE_CONTEXT, t)),
            (!baggage.is_empty()).then(|| Entry::new(&BAGGAGE, baggage)),
            request_id.map(|id| Entry::new(&REQUEST_ID, id)),
            call_id.map(|id| Entry::new(&CALL_ID, id)),
            extra,
        ]);
        declared
            .into_iter()
            .fold(cx, |cx, entry| cx.with_entry(entry))
    }

    /// These fields with the trace context set.
    #[must_use]
    pub fn with_trace(mut self, trace: TraceContext) -> Self {
        self.trace = Some(trace);
        self
    }

    /// These fields with the baggage set.
    #[must_use]
    pub fn with_baggage(mut self, baggage: Baggage) -> Self {
        self.baggage = baggage;
        self
    }

    /// These fields with a bare sampling decision set (see
    /// [`sampled`](Propagated::sampled)).
    #[must_use]
    pub fn with_sampled(mut self, sampled: bool) -> Self {
        self.sampled = Some(sampled);
        self
    }

    /// These fields with the request id set.
    #[must_use]
    pub fn with_request_id(mut self, request_id: RequestId) -> Self {
        self.request_id = Some(request_id);
        self
    }

    /// These fields with the call id set.
    #[must_use]
    pub fn with_call_id(mut self, call_id: CallId) -> Self {
        self.call_id = Some(call_id);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_round_trip() {
        let fields = Propagated::new()
            .with_trace(TraceContext::new_root())
            .with_baggage("k=v".parse().unwrap())
            .with_request_id(RequestId::random())
            .with_call_id(CallId::parse(b"0.4").unwrap());
        let cx = fields.to_context(&Context::new());
        assert_eq!(Propagated::from_context(&cx), fields);
        cx.run(|| assert_eq!(Propagated::current(), fields));
        assert_eq!(Propagated::current(), Propagated::new());
        assert_eq!(Propagated::new().to_context(&Context::new()).len(), 0);
    }
}
