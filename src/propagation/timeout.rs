//! Timeouts on the wire: gRPC's `grpc-timeout` header, and a plain-HTTP
//! header of milliseconds.
//!
//! `grpc-timeout` (gRPC over HTTP/2, "Requests"): 1 to 8 ASCII digits, then
//! one unit, `H` (hours), `M` (minutes), `S` (seconds), `m` (milliseconds),
//! `u` (microseconds) or `n` (nanoseconds). Nothing else: no sign, no
//! space, no second unit. Parsers are strict and never panic; formatting
//! writes the finest unit whose value fits in 8 digits, rounding *down*,
//! so that a budget is never extended on the way.

use std::fmt;
use std::time::Duration;

/// The gRPC timeout header, `grpc-timeout`.
pub const GRPC_TIMEOUT: &str = "grpc-timeout";

/// [`GRPC_TIMEOUT`] as a `HeaderName`.
#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub(crate) static GRPC_TIMEOUT_NAME: http::HeaderName = http::HeaderName::from_static(GRPC_TIMEOUT);

/// A plain-HTTP header of the caller's timeout in milliseconds, for
/// services that opt in (it has no standard; the server layer reads none
/// by default).
pub const X_REQUEST_TIMEOUT_MS: &str = "x-request-timeout-ms";

/// The largest value of a `grpc-timeout` (8 digits).
const MAX_GRPC_VALUE: u64 = 99_999_999;

/// The most digits a millisecond header may have: 18 fit in a `u64`.
const MAX_MS_DIGITS: usize = 18;

/// The units of `grpc-timeout`, finest first, with their length.
const UNITS: [(u8, Duration); 6] = [
    (b'n', Duration::from_nanos(1)),
    (b'u', Duration::from_micros(1)),
    (b'm', Duration::from_millis(1)),
    (b'S', Duration::from_secs(1)),
    (b'M', Duration::from_secs(60)),
    (b'H', Duration::from_secs(3600)),
];

/// Reads a `grpc-timeout` value: `None` unless it is exactly 1 to 8 ASCII
/// digits and one of the units `H M S m u n`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ctx::propagation::parse_grpc_timeout;
///
/// assert_eq!(parse_grpc_timeout(b"250m"), Some(Duration::from_millis(250)));
/// assert_eq!(parse_grpc_timeout(b"2H"), Some(Duration::from_secs(7200)));
/// assert_eq!(parse_grpc_timeout(b"123456789S"), None); // 9 digits
/// assert_eq!(parse_grpc_timeout(b"5 S"), None);
/// assert_eq!(parse_grpc_timeout(b"5s"), None); // units are case-sensitive
/// ```
pub fn parse_grpc_timeout(value: &[u8]) -> Option<Duration> {
    let (&unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let n = parse_digits(digits)?;
    // The units of `UNITS`, matched directly (this runs on every gRPC
    // call with a deadline). 8 digits of hours fit in a `u64` of seconds.
    Some(match unit {
        b'H' => Duration::from_secs(n * 3600),
        b'M' => Duration::from_secs(n * 60),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

/// Formats `timeout` as a `grpc-timeout` value: the finest unit whose value
/// fits in 8 digits, rounded down; longer than 99,999,999 hours is capped
/// at that.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ctx::propagation::format_grpc_timeout;
///
/// assert_eq!(format_grpc_timeout(Duration::from_millis(250)).to_string(), "250000u");
/// assert_eq!(format_grpc_timeout(Duration::from_secs(30)).to_string(), "30000000u");
/// assert_eq!(format_grpc_timeout(Duration::from_secs(3600)).to_string(), "3600000m");
/// assert_eq!(format_grpc_timeout(Duration::ZERO).to_string(), "0n");
/// ```
pub fn format_grpc_timeout(timeout: Duration) -> GrpcTimeout {
    for (unit, per) in UNITS {
        let n = timeout.as_nanos() / per.as_nanos();
        if n <= u128::from(MAX_GRPC_VALUE) {
            // At most 8 digits: fits in a `u32`.
            return GrpcTimeout {
                value: n as u32,
                unit,
            };
        }
    }
    GrpcTimeout {
        value: MAX_GRPC_VALUE as u32,
        unit: b'H',
    }
}

/// A formatted `grpc-timeout` value (see [`format_grpc_timeout`]): its
/// `Display` writes it, and it turns into a header value without a
/// second look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrpcTimeout {
    value: u32,
    unit: u8,
}

impl GrpcTimeout {
    /// The time this value stands for.
    pub fn duration(&self) -> Duration {
        let per = UNITS
            .iter()
            .find(|(u, _)| *u == self.unit)
            .map_or(Duration::from_secs(3600), |(_, per)| *per);
        per * self.value
    }

    /// The value as a header value.
    pub fn to_header_value(&self) -> http::HeaderValue {
        let mut buf = [0u8; 9];
        let len = write_digits(u64::from(self.value), &mut buf);
        buf[len] = self.unit;
        // Digits and an ASCII letter: always a valid header value.
        http::HeaderValue::from_bytes(&buf[..=len])
            .unwrap_or_else(|_| http::HeaderValue::from_static("0n"))
    }
}

impl fmt::Display for GrpcTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.value, char::from(self.unit))
    }
}

/// Reads a timeout of whole milliseconds, the form of a plain-HTTP timeout
/// header (such as `x-request-timeout-ms`): 1 to 18 ASCII digits and
/// nothing else.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ctx::propagation::parse_timeout_ms;
///
/// assert_eq!(parse_timeout_ms(b"1500"), Some(Duration::from_millis(1500)));
/// assert_eq!(parse_timeout_ms(b"-1"), None);
/// assert_eq!(parse_timeout_ms(b"1.5"), None);
/// assert_eq!(parse_timeout_ms(b""), None);
/// ```
pub fn parse_timeout_ms(value: &[u8]) -> Option<Duration> {
    if value.is_empty() || value.len() > MAX_MS_DIGITS {
        return None;
    }
    parse_digits(value).map(Duration::from_millis)
}

/// Formats `timeout` as whole milliseconds, rounded down, for a plain-HTTP
/// timeout header.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let v = ctx::propagation::format_timeout_ms(Duration::from_micros(2_999));
/// assert_eq!(v, "2");
/// ```
pub fn format_timeout_ms(timeout: Duration) -> http::HeaderValue {
    let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    let mut buf = [0u8; 20];
    let len = write_digits(ms.min(10u64.pow(MAX_MS_DIGITS as u32) - 1), &mut buf);
    http::HeaderValue::from_bytes(&buf[..len])
        .unwrap_or_else(|_| http::HeaderValue::from_static("0"))
}

/// Whether `headers` say the request is a gRPC call (see
/// [`is_grpc_content_type`]).
#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub(crate) fn is_grpc(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| is_grpc_content_type(v.as_bytes()))
}

/// Whether a `content-type` is a gRPC call's: `application/grpc`, alone or
/// followed by `+` and a codec name or by parameters (`;`), in any letter
/// case. gRPC-Web (`application/grpc-web`) is not: its status travels in
/// the body, not in trailers.
#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub(crate) fn is_grpc_content_type(v: &[u8]) -> bool {
    const GRPC: &[u8] = b"application/grpc";
    v.len() >= GRPC.len()
        && v[..GRPC.len()].eq_ignore_ascii_case(GRPC)
        && matches!(v.get(GRPC.len()), None | Some(b'+' | b';'))
}

/// Puts the time left before the current deadline on an outbound request:
/// as `grpc-timeout` on a gRPC request (the shorter of it and one already
/// there), else in `plain` when given. Without a deadline, nothing.
#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub(crate) fn inject_deadline(headers: &mut http::HeaderMap, plain: Option<&http::HeaderName>) {
    let Some(left) = crate::deadline::remaining() else {
        return;
    };
    if is_grpc(headers) {
        let left = match headers
            .get(GRPC_TIMEOUT)
            .and_then(|v| parse_grpc_timeout(v.as_bytes()))
        {
            Some(own) => own.min(left),
            None => left,
        };
        headers.insert(
            GRPC_TIMEOUT_NAME.clone(),
            format_grpc_timeout(left).to_header_value(),
        );
    } else if let Some(name) = plain {
        headers.insert(name.clone(), format_timeout_ms(left));
    }
}

/// The number `digits` (ASCII digits only) spell. `digits` is at most
/// [`MAX_MS_DIGITS`] long (both callers check): 18 decimal digits fit in a
/// `u64`, so no step can overflow.
fn parse_digits(digits: &[u8]) -> Option<u64> {
    debug_assert!(digits.len() <= MAX_MS_DIGITS);
    let mut n = 0u64;
    for &b in digits {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n * 10 + u64::from(d);
    }
    Some(n)
}

/// Writes `n` in decimal at the start of `buf`; returns the length.
fn write_digits(mut n: u64, buf: &mut [u8]) -> usize {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let len = tmp.len() - i;
    buf[..len].copy_from_slice(&tmp[i..]);
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_vectors() {
        // (input, expected, why)
        let cases: &[(&[u8], Option<Duration>, &str)] = &[
            (b"1H", Some(Duration::from_secs(3600)), "hours"),
            (b"3M", Some(Duration::from_secs(180)), "minutes"),
            (b"10S", Some(Duration::from_secs(10)), "seconds"),
            (b"100m", Some(Duration::from_millis(100)), "milliseconds"),
            (b"7u", Some(Duration::from_micros(7)), "microseconds"),
            (
                b"99999999n",
                Some(Duration::from_nanos(99_999_999)),
                "8 digits",
            ),
            (
                b"00000001S",
                Some(Duration::from_secs(1)),
                "leading zeros count",
            ),
            (b"0m", Some(Duration::ZERO), "zero: already expired"),
            (
                b"99999999H",
                Some(Duration::from_secs(99_999_999 * 3600)),
                "the largest",
            ),
            (b"", None, "empty"),
            (b"S", None, "no digits"),
            (b"5", None, "no unit"),
            (b"123456789n", None, "9 digits"),
            (b"5s", None, "lowercase seconds is not a unit"),
            (b"5h", None, "lowercase hours is not a unit"),
            (b"+5S", None, "a sign"),
            (b"-5S", None, "a minus"),
            (b" 5S", None, "a space before"),
            (b"5S ", None, "a space after"),
            (b"5mS", None, "two units"),
            (b"1.5S", None, "a fraction"),
            (b"\xff5S", None, "a non-ASCII byte"),
            (b"\xd9\xa3S", None, "a non-ASCII digit"),
        ];
        for (input, expected, why) in cases {
            assert_eq!(parse_grpc_timeout(input), *expected, "{why}");
        }
    }

    #[test]
    fn grpc_timeout_parses_every_unit_as_formatting_does() {
        for (unit, per) in UNITS {
            for n in [0u32, 1, 7, 99_999_999] {
                let text = format!("{n}{}", unit as char);
                assert_eq!(parse_grpc_timeout(text.as_bytes()), Some(per * n), "{text}");
            }
        }
    }

    #[test]
    fn grpc_timeout_formats_in_the_finest_unit_that_fits() {
        let cases = [
            (Duration::from_nanos(99_999_999), "99999999n"),
            (Duration::from_nanos(100_000_000), "100000u"),
            (Duration::from_nanos(100_000_999), "100000u"), // rounded down
            (Duration::from_secs(99), "99000000u"),
            (Duration::from_secs(100), "100000m"),
            (Duration::from_secs(100_000), "100000S"),
            (Duration::from_secs(100_000_000), "1666666M"),
            (Duration::from_secs(99_999_999 * 60 + 59), "99999999M"),
            (Duration::from_secs(6_000_000_000), "1666666H"),
            (Duration::MAX, "99999999H"),
        ];
        for (d, text) in cases {
            let t = format_grpc_timeout(d);
            assert_eq!(t.to_string(), text);
            assert_eq!(t.to_header_value(), text);
            assert_eq!(parse_grpc_timeout(text.as_bytes()), Some(t.duration()));
        }
    }

    #[test]
    fn grpc_timeout_round_trips_within_its_unit() {
        let mut d = Duration::from_nanos(1);
        while d < Duration::from_secs(400_000_000_000) {
            let back = parse_grpc_timeout(format_grpc_timeout(d).to_string().as_bytes()).unwrap();
            assert!(back <= d, "{d:?} extended to {back:?}");
            let unit = UNITS
                .iter()
                .map(|(_, p)| *p)
                .find(|p| d.as_nanos() / p.as_nanos() <= u128::from(MAX_GRPC_VALUE))
                .unwrap();
            assert!(d - back < unit, "{d:?} came back as {back:?}");
            d = d * 3 + Duration::from_nanos(7);
        }
    }

    #[test]
    fn millisecond_header() {
        assert_eq!(parse_timeout_ms(b"0"), Some(Duration::ZERO));
        assert_eq!(
            parse_timeout_ms(b"999999999999999999"),
            Some(Duration::from_millis(999_999_999_999_999_999))
        );
        assert_eq!(parse_timeout_ms(b"1000000000000000000"), None, "19 digits");
        assert_eq!(parse_timeout_ms(b"12a"), None);
        assert_eq!(parse_timeout_ms(b" 12"), None);
        assert_eq!(format_timeout_ms(Duration::from_millis(1500)), "1500");
        assert_eq!(format_timeout_ms(Duration::MAX), "999999999999999999");
        assert_eq!(format_timeout_ms(Duration::from_micros(999)), "0");
    }
}

#[cfg(test)]
mod grpc_tests {
    use super::*;

    #[test]
    fn grpc_content_types() {
        for (ct, grpc) in [
            ("application/grpc", true),
            ("application/grpc+proto", true),
            ("Application/GRPC;charset=utf-8", true),
            ("application/grpc-web", false),
            ("application/grpcx", false),
            ("application/json", false),
            ("application/grp", false),
        ] {
            let mut h = http::HeaderMap::new();
            h.insert(http::header::CONTENT_TYPE, ct.parse().unwrap());
            assert_eq!(is_grpc(&h), grpc, "{ct}");
        }
        assert!(!is_grpc(&http::HeaderMap::new()));
    }
}
