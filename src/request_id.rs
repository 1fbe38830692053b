//! The current [`RequestId`]: [`request_id()`] and [`RequestId::current`].

use crate::model::RequestId;
use crate::value::REQUEST_ID;

/// The current request id, if the current context holds one (the server
/// layer puts the inbound `x-request-id` there, or the trace id in its
/// stead).
///
/// # Examples
/// ```
/// use ctx::propagation::{RequestId, REQUEST_ID};
///
/// assert_eq!(ctx::request_id(), None);
/// REQUEST_ID.sync_scope(RequestId::new("r-1").unwrap(), || {
///     assert_eq!(ctx::request_id().unwrap().as_str(), "r-1");
/// });
/// ```
pub fn request_id() -> Option<RequestId> {
    REQUEST_ID.get()
}

impl RequestId {
    /// The request id of the current [`Context`](crate::Context), if any
    /// (the same as [`ctx::request_id()`](crate::request_id)).
    ///
    /// # Examples
    /// ```
    /// use ctx::propagation::{RequestId, REQUEST_ID};
    ///
    /// REQUEST_ID.sync_scope(RequestId::new("r-1").unwrap(), || {
    ///     assert_eq!(RequestId::current().unwrap().as_str(), "r-1");
    /// });
    /// ```
    pub fn current() -> Option<Self> {
        request_id()
    }
}
