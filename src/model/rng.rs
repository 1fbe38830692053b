//! A small per-thread random number generator for trace and span ids.
//!
//! Ids must be unique, not secret: a fast non-cryptographic generator is the
//! right tool, and it keeps id generation lock-free and free of system calls
//! (one `getrandom` per request is a measurable share of a request's cost).
//!
//! The generator is wyrand (Wang Yi's 64-bit generator: one addition and one
//! 64×64→128 multiplication per output, passes BigCrush and PractRand) with its
//! state in a thread-local `Cell<u64>`.
//!
//! # Seeding
//! Each thread seeds its state on first use by hashing, with a fresh
//! [`std::collections::hash_map::RandomState`] (whose keys the standard library
//! draws from the operating system's random source once per thread and then
//! varies per instance), these inputs:
//! - the current thread's [`std::thread::ThreadId`],
//! - the wall-clock time in nanoseconds,
//! - a process-wide counter, so two threads never share an input set,
//! - the process id and the address of a stack variable.
//!
//! Caveat: a process that `fork`s without `exec` continues the parent thread's
//! sequence in the child, so parent and child produce the same ids after the
//! fork. Async Rust programs rarely fork; programs that do should not rely on
//! ids generated after a fork being distinct across the two processes.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

const WY_ADD: u64 = 0xa076_1d64_78bd_642f;
const WY_XOR: u64 = 0xe703_7ed1_a0b4_28db;

thread_local! {
    // 0 means "not seeded yet". A seeded state that happens to step onto 0
    // is simply re-seeded on the next call, which is harmless.
    static STATE: Cell<u64> = const { Cell::new(0) };
}

/// Returns the next 64 random bits from this thread's generator.
pub(crate) fn next_u64() -> u64 {
    STATE.with(|state| {
        let mut s = state.get();
        if s == 0 {
            s = seed();
        }
        s = s.wrapping_add(WY_ADD);
        state.set(s);
        let t = u128::from(s).wrapping_mul(u128::from(s ^ WY_XOR));
        ((t >> 64) as u64) ^ (t as u64)
    })
}

/// Returns a random non-zero `u64`.
pub(crate) fn non_zero_u64() -> std::num::NonZeroU64 {
    loop {
        if let Some(v) = std::num::NonZeroU64::new(next_u64()) {
            return v;
        }
    }
}

/// Returns a random non-zero `u128`.
pub(crate) fn non_zero_u128() -> std::num::NonZeroU128 {
    loop {
        let v = (u128::from(next_u64()) << 64) | u128::from(next_u64());
        if let Some(v) = std::num::NonZeroU128::new(v) {
            return v;
        }
    }
}

fn seed() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    std::thread::current().id().hash(&mut h);
    COUNTER.fetch_add(1, Ordering::Relaxed).hash(&mut h);
    std::process::id().hash(&mut h);
    let local = 0u8;
    (std::ptr::addr_of!(local) as usize).hash(&mut h);
    if let Ok(d) = SystemTime::now().duration_since(UNIX_EPOCH) {
        d.as_nanos().hash(&mut h);
    }
    // Never return the "unseeded" marker.
    h.finish() | 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn outputs_do_not_repeat_in_a_short_run() {
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            assert!(seen.insert(next_u64()));
        }
    }

    #[test]
    #[allow(clippy::disallowed_methods)] // plain threads: no context is involved
    fn threads_get_different_sequences() {
        let a = std::thread::spawn(|| (next_u64(), next_u64()))
            .join()
            .unwrap();
        let b = std::thread::spawn(|| (next_u64(), next_u64()))
            .join()
            .unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn bits_are_roughly_balanced() {
        // Each bit position should be set about half of the time.
        let n = 4096;
        let mut counts = [0u32; 64];
        for _ in 0..n {
            let v = next_u64();
            for (i, c) in counts.iter_mut().enumerate() {
                *c += ((v >> i) & 1) as u32;
            }
        }
        for c in counts {
            assert!((1700..2400).contains(&c), "bit set {c} times out of {n}");
        }
    }
}
