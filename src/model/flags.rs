//! [`TraceFlags`]: the 8-bit flag field of W3C Trace Context.

use std::fmt;
use std::ops::{BitAnd, BitOr, BitOrAssign};

use super::id::{ascii_str, encode_hex_u8};

/// The trace flags of W3C Trace Context Level 2: `sampled` (`0x01`) and
/// `random` (`0x02`).
///
/// The type holds any byte, so flags can be inspected exactly as received;
/// the propagators clear the bits the specification does not define before
/// they build a [`TraceContext`](super::TraceContext), as the specification
/// requires ("Vendors MUST set those to zero").
///
/// # Examples
/// ```
/// use ctx::trace::TraceFlags;
///
/// let flags = TraceFlags::SAMPLED | TraceFlags::RANDOM;
/// assert!(flags.is_sampled() && flags.is_random());
/// assert_eq!(flags.to_string(), "03");
/// assert!(!flags.with_sampled(false).is_sampled());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct TraceFlags(u8);

impl TraceFlags {
    /// No flag set: not sampled, no claim that the trace id is random.
    pub const NONE: TraceFlags = TraceFlags(0);
    /// The caller may have recorded trace data (`00000001`).
    pub const SAMPLED: TraceFlags = TraceFlags(0x01);
    /// At least the right-most 7 bytes of the trace id are random
    /// (`00000010`, Trace Context Level 2).
    pub const RANDOM: TraceFlags = TraceFlags(0x02);
    /// Every flag this version of the specification defines.
    pub const KNOWN: TraceFlags = TraceFlags(0x03);

    /// Builds flags from raw bits (unknown bits are kept).
    pub const fn new(bits: u8) -> Self {
        TraceFlags(bits)
    }

    /// The raw bits.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether every bit of `other` is set in `self`.
    pub const fn contains(self, other: TraceFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether the `sampled` flag is set.
    pub const fn is_sampled(self) -> bool {
        self.contains(Self::SAMPLED)
    }

    /// Whether the `random` flag is set.
    pub const fn is_random(self) -> bool {
        self.contains(Self::RANDOM)
    }

    /// These flags with `sampled` set or cleared.
    #[must_use]
    pub const fn with_sampled(self, sampled: bool) -> Self {
        if sampled {
            TraceFlags(self.0 | Self::SAMPLED.0)
        } else {
            TraceFlags(self.0 & !Self::SAMPLED.0)
        }
    }

    /// These flags with `random` set or cleared.
    #[must_use]
    pub const fn with_random(self, random: bool) -> Self {
        if random {
            TraceFlags(self.0 | Self::RANDOM.0)
        } else {
            TraceFlags(self.0 & !Self::RANDOM.0)
        }
    }

    /// These flags with every bit the specification does not define cleared.
    #[must_use]
    pub const fn known(self) -> Self {
        TraceFlags(self.0 & Self::KNOWN.0)
    }
}

impl BitOr for TraceFlags {
    type Output = TraceFlags;

    fn bitor(self, rhs: TraceFlags) -> TraceFlags {
        TraceFlags(self.0 | rhs.0)
    }
}

impl BitOrAssign for TraceFlags {
    fn bitor_assign(&mut self, rhs: TraceFlags) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for TraceFlags {
    type Output = TraceFlags;

    fn bitand(self, rhs: TraceFlags) -> TraceFlags {
        TraceFlags(self.0 & rhs.0)
    }
}

/// Two lowercase hex digits, the `trace-flags` field of `traceparent`.
impl fmt::Display for TraceFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 2];
        encode_hex_u8(self.0, &mut buf);
        f.pad(ascii_str(&buf))
    }
}

impl fmt::Debug for TraceFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceFlags({self}")?;
        if self.is_sampled() {
            f.write_str(" sampled")?;
        }
        if self.is_random() {
            f.write_str(" random")?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (bits, sampled, random, text, reason)
    const VECTORS: &[(u8, bool, bool, &str, &str)] = &[
        (0x00, false, false, "00", "nothing set"),
        (0x01, true, false, "01", "sampled only"),
        (0x02, false, true, "02", "random only (Level 2)"),
        (0x03, true, true, "03", "sampled and random"),
        (
            0x09,
            true,
            false,
            "09",
            "unknown bit 0x08 does not hide sampled",
        ),
        (0xff, true, true, "ff", "all bits"),
    ];

    #[test]
    fn vectors() {
        for &(bits, sampled, random, text, reason) in VECTORS {
            let f = TraceFlags::new(bits);
            assert_eq!(f.is_sampled(), sampled, "{reason}");
            assert_eq!(f.is_random(), random, "{reason}");
            assert_eq!(f.to_string(), text, "{reason}");
            assert_eq!(f.known().bits(), bits & 0x03, "{reason}");
        }
    }

    #[test]
    fn setters() {
        let f = TraceFlags::NONE.with_sampled(true).with_random(true);
        assert_eq!(f, TraceFlags::KNOWN);
        assert_eq!(f.with_sampled(false), TraceFlags::RANDOM);
        assert_eq!(f.with_random(false), TraceFlags::SAMPLED);
        let mut g = TraceFlags::default();
        g |= TraceFlags::RANDOM;
        assert_eq!(g & TraceFlags::RANDOM, TraceFlags::RANDOM);
        assert_eq!(format!("{f:?}"), "TraceFlags(03 sampled random)");
    }
}
