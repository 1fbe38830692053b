//! Interleaved measurement, shared by the benches: ratios between cases
//! that a busy, shared machine skews less than runs made one after the
//! other.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

/// `true` when the bench runs whole, with no filter (`cargo bench --bench
/// poll`, not `cargo bench --bench poll -- ctx`): the interleaved runs are
/// skipped when a filter picks some cases.
pub fn unfiltered() -> bool {
    std::env::args().skip(1).all(|a| a.starts_with('-'))
}

/// The criterion settings the benches share (1 s warm-up, 40 samples),
/// `measurement` per case, then the command line's options.
pub fn criterion(measurement: Duration) -> criterion::Criterion {
    criterion::Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(measurement)
        .sample_size(40)
        .configure_from_args()
}

/// Times `rounds` batches of every case, the cases interleaved and their
/// order rotated each round, so that a slow spell of a shared machine hits
/// every case alike. `batch(i)` runs one batch of case `i` and returns its
/// wall time. Returns the times per case, per round.
pub fn interleaved(
    cases: usize,
    rounds: usize,
    mut batch: impl FnMut(usize) -> Duration,
) -> Vec<Vec<f64>> {
    let mut times = vec![Vec::with_capacity(rounds); cases];
    for round in 0..rounds {
        for k in 0..cases {
            let i = (round + k) % cases;
            times[i].push(batch(i).as_secs_f64());
        }
    }
    times
}

/// The median and the quartiles of `values`.
pub fn quartiles(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.25), at(0.75))
}

/// Prints each case's time per unit of work and its cost over the first
/// case (median [p25, p75] over rounds of the per-round values), in `unit`
/// (`scale` per second: 1e9 for ns). `per_batch` is the units in a batch.
pub fn print_over_first(
    title: &str,
    cases: &[&str],
    times: &[Vec<f64>],
    per_batch: f64,
    (unit, scale): (&str, f64),
) {
    let rounds = times[0].len();
    let per_unit = |i: usize, r: usize| times[i][r] / per_batch * scale;
    println!("\n{title}: interleaved, {rounds} rounds; median [p25, p75]");
    println!("| case | {unit} | over {} ({unit}) |", cases[0]);
    println!("|---|---:|---:|");
    for (i, case) in cases.iter().enumerate() {
        let (t, t25, t75) = quartiles((0..rounds).map(|r| per_unit(i, r)).collect());
        let (a, a25, a75) = quartiles(
            (0..rounds)
                .map(|r| per_unit(i, r) - per_unit(0, r))
                .collect(),
        );
        println!("| {case} | {t:.2} [{t25:.2}, {t75:.2}] | {a:+.2} [{a25:+.2}, {a75:+.2}] |");
    }
}

/// Prints, for each `(num, den)` pair of case names, the per-round ratio
/// `f(num) / f(den)` (median [p25, p75]), where `f(i, r)` is a per-round
/// figure of case `i`: its time, or its time over the first case's.
pub fn print_ratios(
    label: &str,
    cases: &[&str],
    rounds: usize,
    pairs: &[(&str, &str)],
    f: impl Fn(usize, usize) -> f64,
) {
    let index = |name: &str| cases.iter().position(|c| *c == name).unwrap();
    for (num, den) in pairs {
        let (n, d) = (index(num), index(den));
        let (m, q25, q75) = quartiles((0..rounds).map(|r| f(n, r) / f(d, r)).collect());
        println!("{label}({num}) / {label}({den}) = {m:.3} [{q25:.3}, {q75:.3}]");
    }
}
