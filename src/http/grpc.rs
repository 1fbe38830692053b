//! gRPC over the HTTP layers: which requests are gRPC calls, the service
//! and method they name, and the status their response ends with.
//!
//! gRPC is HTTP/2 with conventions (gRPC's `PROTOCOL-HTTP2.md`): the
//! request's `content-type` is `application/grpc` or `application/grpc+`
//! a codec name (`+proto`, `+json`), its path is `/{service}/{method}`
//! (`/helloworld.Greeter/SayHello`), and the call's status is the
//! `grpc-status` field of the response's trailers, or of its headers when
//! the response has no body at all (a "trailers-only" response, how
//! servers answer a call that fails before its first message). The HTTP
//! status of a gRPC response is 200 whatever the call's outcome.
//!
//! The metadata of a call are its HTTP headers, so the layers' formats
//! (`traceparent`, `tracestate`, `baggage`, B3, the request id) travel in
//! it with nothing gRPC-specific; this file only serves the access log and
//! the span recorder.
//!
//! Nothing here allocates: the service and the method are slices of the
//! request's path, read when the log line is written.

use http::header::{HeaderMap, HeaderName};
use http::Uri;

pub(crate) use crate::propagation::is_grpc;

/// A gRPC call the layer serves: where it went, and its status once the
/// response said it.
#[derive(Clone, Debug)]
pub(crate) struct Rpc {
    /// The request's URI, whose path names the service and the method.
    uri: Uri,
    /// `grpc-status`, from the response's headers (trailers-only) or its
    /// trailers; `None` until one of them carries a valid one.
    pub(crate) status: Option<u32>,
}

impl Rpc {
    /// The call `req` is, if it is a gRPC request.
    #[inline]
    pub(crate) fn of<B>(req: &http::Request<B>) -> Option<Rpc> {
        if !is_grpc(req.headers()) {
            return None;
        }
        Some(Rpc {
            uri: req.uri().clone(),
            status: None,
        })
    }

    /// The service the path names (`helloworld.Greeter`), if the path has
    /// gRPC's form.
    pub(crate) fn service(&self) -> Option<&str> {
        split_path(self.uri.path()).map(|(service, _)| service)
    }

    /// The method the path names (`SayHello`), if the path has gRPC's
    /// form.
    pub(crate) fn method(&self) -> Option<&str> {
        split_path(self.uri.path()).map(|(_, method)| method)
    }

    /// Reads `grpc-status` from a response's headers or trailers, when
    /// they carry a valid one; a later one (the trailers) overrides an
    /// earlier one.
    pub(crate) fn read_status(&mut self, fields: &HeaderMap) {
        if let Some(status) = status(fields) {
            self.status = Some(status);
        }
    }
}

/// Splits a gRPC path, `/{service}/{method}`, into its two parts; `None`
/// when the path has another form (no leading `/`, an empty part, more
/// than two parts).
pub(crate) fn split_path(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix('/')?;
    let (service, method) = rest.split_once('/')?;
    if service.is_empty() || method.is_empty() || method.contains('/') {
        return None;
    }
    Some((service, method))
}

static GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");

/// The `grpc-status` of `fields`: a decimal number (`1*DIGIT`, at most
/// ten digits, within `u32`). Absent or malformed: `None`.
pub(crate) fn status(fields: &HeaderMap) -> Option<u32> {
    parse_status(fields.get(&GRPC_STATUS)?.as_bytes())
}

fn parse_status(v: &[u8]) -> Option<u32> {
    if v.is_empty() || v.len() > 10 {
        return None;
    }
    v.iter().try_fold(0u32, |n, &b| {
        let digit = b.checked_sub(b'0').filter(|d| *d < 10)?;
        n.checked_mul(10)?.checked_add(u32::from(digit))
    })
}

/// Whether a call that ended with gRPC status `code` failed on the
/// server's side, as OpenTelemetry's semantic conventions for gRPC server
/// spans count it: `UNKNOWN` (2), `DEADLINE_EXCEEDED` (4), `UNIMPLEMENTED`
/// (12), `INTERNAL` (13), `UNAVAILABLE` (14), `DATA_LOSS` (15). The other
/// codes are the caller's errors (`INVALID_ARGUMENT`, `NOT_FOUND`) or
/// success.
pub(crate) fn is_server_error(code: u32) -> bool {
    matches!(code, 2 | 4 | 12 | 13 | 14 | 15)
}

#[cfg(test)]
mod tests {
    use http::header::CONTENT_TYPE;

    use super::*;
    use crate::propagation::is_grpc_content_type;

    #[test]
    fn content_types() {
        // (value, is gRPC, why)
        let cases: &[(&str, bool, &str)] = &[
            ("application/grpc", true, "the plain form"),
            ("application/grpc+proto", true, "a codec"),
            ("application/grpc+json", true, "another codec"),
            ("Application/GRPC", true, "media types are case-insensitive"),
            ("application/grpc;charset=utf-8", true, "parameters"),
            (
                "application/grpc-web",
                false,
                "gRPC-Web carries its status in the body",
            ),
            ("application/grpc-web+proto", false, "gRPC-Web"),
            ("application/grpcx", false, "another type"),
            ("application/json", false, "not gRPC"),
            ("application/gr", false, "shorter than the type"),
            ("", false, "empty"),
        ];
        for (value, grpc, why) in cases {
            assert_eq!(
                is_grpc_content_type(value.as_bytes()),
                *grpc,
                "{value:?}: {why}"
            );
        }
        let mut headers = HeaderMap::new();
        assert!(!is_grpc(&headers), "no content-type");
        headers.insert(CONTENT_TYPE, "application/grpc".parse().unwrap());
        assert!(is_grpc(&headers));
    }

    #[test]
    fn paths() {
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            (
                "/helloworld.Greeter/SayHello",
                Some(("helloworld.Greeter", "SayHello")),
            ),
            ("/Svc/M", Some(("Svc", "M"))),
            (
                "/a.b.c.Service/Method_2",
                Some(("a.b.c.Service", "Method_2")),
            ),
            ("/", None),
            ("/Service", None),
            ("/Service/", None),
            ("//Method", None),
            ("/a/b/c", None),
            ("Service/Method", None),
            ("", None),
        ];
        for (path, want) in cases {
            assert_eq!(split_path(path), *want, "{path:?}");
        }
    }

    #[test]
    fn statuses() {
        let cases: &[(&[u8], Option<u32>)] = &[
            (b"0", Some(0)),
            (b"5", Some(5)),
            (b"16", Some(16)),
            (b"007", Some(7)),
            (b"4294967295", Some(u32::MAX)),
            (b"4294967296", None),
            (b"99999999999", None),
            (b"", None),
            (b"-1", None),
            (b"+1", None),
            (b" 1", None),
            (b"1 ", None),
            (b"1a", None),
            (b"OK", None),
        ];
        for (value, want) in cases {
            assert_eq!(
                parse_status(value),
                *want,
                "{:?}",
                String::from_utf8_lossy(value)
            );
        }
    }

    #[test]
    fn the_status_comes_from_the_last_fields_that_carry_one() {
        let req = http::Request::builder()
            .uri("/pkg.Svc/Do")
            .header(CONTENT_TYPE, "application/grpc")
            .body(())
            .unwrap();
        let mut rpc = Rpc::of(&req).expect("a gRPC request");
        assert_eq!((rpc.service(), rpc.method()), (Some("pkg.Svc"), Some("Do")));
        assert_eq!(rpc.status, None, "unknown until the response says");
        rpc.read_status(&HeaderMap::new());
        assert_eq!(rpc.status, None, "headers without grpc-status");
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", "13".parse().unwrap());
        rpc.read_status(&trailers);
        assert_eq!(rpc.status, Some(13));
        trailers.insert("grpc-status", "bogus".parse().unwrap());
        rpc.read_status(&trailers);
        assert_eq!(rpc.status, Some(13), "a malformed value changes nothing");

        let plain = http::Request::builder()
            .uri("/pkg.Svc/Do")
            .body(())
            .unwrap();
        assert!(Rpc::of(&plain).is_none(), "no gRPC content-type");
    }

    #[test]
    fn server_errors() {
        let errors: Vec<u32> = (0..=16).filter(|c| is_server_error(*c)).collect();
        assert_eq!(errors, [2, 4, 12, 13, 14, 15]);
    }
}
