//! Loopback throughput measured by a load generator in its own process:
//! [wrk](https://github.com/wg/wrk), one thread and 16 keep-alive
//! connections, against each stack served by a runtime with one worker
//! thread, so that the server and the load generator each have one of the
//! machine's cores (on a two-core machine) and the server's cost per
//! request decides the throughput. The `http` bench's loopback group drives
//! the server with an in-process client instead, which shares the cores
//! with it and pays for parsing what the server echoes. The stacks are the
//! `http` bench's (`support::compared`), `body_wrapper` and `body_and_echo`
//! among them: what any layer doing that response work pays.
//!
//! Needs `wrk` on the `PATH` (Debian: `apt-get install wrk`); without it the
//! bench says so and measures nothing. Run with
//! `cargo bench --all-features --bench http_wrk`; `WRK_SECONDS` (default 3)
//! and `WRK_ROUNDS` (default 10) set each run's length and the number of
//! interleaved rounds.

mod support;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

const CONNECTIONS: &str = "16";

/// Requests per second that one wrk run of `seconds` measured at `addr`.
/// Panics if wrk reports errors or responses other than 2xx.
fn wrk(addr: SocketAddr, seconds: u64) -> f64 {
    let out = Command::new("wrk")
        .args(["-t1", "-c", CONNECTIONS, "-d", &format!("{seconds}s")])
        .arg(format!("http://{addr}/"))
        .output()
        .expect("wrk runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "wrk failed: {text}");
    assert!(
        !text.contains("Non-2xx") && !text.contains("Socket errors"),
        "wrk saw failed requests: {text}"
    );
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk's output: {text}"))
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if Command::new("wrk").arg("--version").output().is_err() {
        println!("http_wrk: `wrk` is not on the PATH (apt-get install wrk); nothing measured");
        return;
    }
    let seconds = env_or("WRK_SECONDS", 3);
    let rounds = env_or("WRK_ROUNDS", 10) as usize;
    let cases = support::compared();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let addrs: Vec<SocketAddr> = cases
        .iter()
        .map(|(_, router)| rt.block_on(support::serve(router.clone())))
        .collect();
    for &addr in &addrs {
        wrk(addr, 1); // warm-up
    }
    // Each run's time per request, so that `interleaved`'s per-round times
    // give the throughput ratios.
    let per_request = support::interleaved(addrs.len(), rounds, |i| {
        Duration::from_secs_f64(1.0 / wrk(addrs[i], seconds))
    });
    println!(
        "\nhttp_wrk: wrk -t1 -c{CONNECTIONS}, {rounds} interleaved rounds of {seconds} s per case, \
         server on one worker thread; median [p25, p75]"
    );
    println!("| case | requests/s | vs bare (per round) | added per request |");
    println!("|---|---:|---:|---:|");
    for (i, (case, _)) in cases.iter().enumerate() {
        let rps = support::quartiles(per_request[i].iter().map(|t| 1.0 / t).collect());
        let ratio = support::quartiles(
            (0..rounds)
                .map(|r| per_request[0][r] / per_request[i][r])
                .collect(),
        );
        let added = support::quartiles(
            (0..rounds)
                .map(|r| (per_request[i][r] - per_request[0][r]) * 1e9)
                .collect(),
        );
        println!(
            "| {case} | {:.0} [{:.0}, {:.0}] | {:.3} [{:.3}, {:.3}] | {:.0} ns [{:.0}, {:.0}] |",
            rps.0, rps.1, rps.2, ratio.0, ratio.1, ratio.2, added.0, added.1, added.2
        );
    }
}
