//! `grpc-timeout` and the millisecond header: never panic; what parses is
//! 1 to 8 digits and a unit (or 1 to 18 digits), formats back within the
//! unit's precision and never longer; any duration (the input's first 12
//! bytes as seconds and nanoseconds) formats to a value that parses to at
//! most it, less than one unit of the format's below it.
#![no_main]

use std::time::Duration;

use ctx::propagation::{
    format_grpc_timeout, format_timeout_ms, parse_grpc_timeout, parse_timeout_ms,
};
use libfuzzer_sys::fuzz_target;

/// The length of one unit of a formatted value.
fn unit_of(text: &str) -> Duration {
    match text.as_bytes().last() {
        Some(b'n') => Duration::from_nanos(1),
        Some(b'u') => Duration::from_micros(1),
        Some(b'm') => Duration::from_millis(1),
        Some(b'S') => Duration::from_secs(1),
        Some(b'M') => Duration::from_secs(60),
        Some(b'H') => Duration::from_secs(3600),
        _ => panic!("no unit in {text:?}"),
    }
}

fn check_format(d: Duration) {
    let t = format_grpc_timeout(d);
    let text = t.to_string();
    assert!(text.len() >= 2 && text.len() <= 9, "{text:?}");
    assert_eq!(t.to_header_value().as_bytes(), text.as_bytes());
    let back = parse_grpc_timeout(text.as_bytes()).expect("a formatted value parses");
    assert_eq!(back, t.duration());
    assert!(back <= d, "{d:?} was extended to {back:?}");
    // Capped at 99999999H; below that, within one unit.
    if text != "99999999H" {
        assert!(d - back < unit_of(&text), "{d:?} came back as {back:?}");
    }
    let ms = format_timeout_ms(d);
    let back = parse_timeout_ms(ms.as_bytes()).expect("a formatted value parses");
    assert!(back <= d);
    if d.as_millis() < 999_999_999_999_999_999 {
        assert!(d - back < Duration::from_millis(1));
    }
}

fuzz_target!(|data: &[u8]| {
    if let Some(d) = parse_grpc_timeout(data) {
        let (unit, digits) = data.split_last().unwrap();
        assert!(!digits.is_empty() && digits.len() <= 8);
        assert!(digits.iter().all(u8::is_ascii_digit));
        assert!(b"HMSmun".contains(unit));
        check_format(d);
    }
    if let Some(d) = parse_timeout_ms(data) {
        assert!(!data.is_empty() && data.len() <= 18);
        assert!(data.iter().all(u8::is_ascii_digit));
        check_format(d);
    }
    if data.len() >= 12 {
        let secs = u64::from_le_bytes(data[..8].try_into().unwrap());
        let nanos = u32::from_le_bytes(data[8..12].try_into().unwrap()) % 1_000_000_000;
        check_format(Duration::new(secs, nanos));
    }
});
