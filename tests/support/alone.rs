//! The `main` of a test binary whose one test counts allocations.
//!
//! Such a binary runs without libtest (`harness = false` in `Cargo.toml`):
//! the counter is global, and libtest's main thread still allocates for its
//! own bookkeeping while the first test starts, so under load its blocks
//! landed in a count. Here the test runs on the only thread there is.

/// Runs `test` (which panics on failure) and reports it as libtest would.
pub(crate) fn run(name: &str, test: fn()) {
    test();
    println!("test {name} ... ok");
}
