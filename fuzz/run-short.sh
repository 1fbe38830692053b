#!/usr/bin/env bash
# Runs every fuzz target for a short time and fails if any of them crashes.
#
#   fuzz/run-short.sh [SECONDS]     # SECONDS per target, default 20
#
# Installs cargo-fuzz if it is missing. The toolchain may be stable:
# RUSTC_BOOTSTRAP=1 lets it take the flags cargo-fuzz passes. The address
# sanitizer is off (`-s none`): ctx forbids `unsafe`, so it would find
# nothing, and the targets run several times faster without it.
# New corpus entries go to fuzz/corpus/<target> (not committed); the seeds
# in fuzz/seeds/<target> are read too. A crash leaves its input in
# fuzz/artifacts/<target>/ and makes the script exit non-zero.
set -euo pipefail

secs="${1:-20}"
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1

start=$(date +%s)
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

echo "== building the fuzz targets"
cargo fuzz build -s none
built=$(date +%s)

failed=()
for target in $(cargo fuzz list); do
    # tracestate and baggage have limits at 8192 bytes: let inputs pass them.
    case "$target" in
        tracestate | baggage) max_len=12000 ;;
        *) max_len=4096 ;;
    esac
    mkdir -p "corpus/$target"
    echo "== $target: ${secs}s"
    if ! cargo fuzz run -s none "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$secs" -max_len="$max_len" -print_final_stats=1; then
        failed+=("$target")
    fi
done
end=$(date +%s)

echo "== install and build $((built - start))s, fuzzing $((end - built))s, total $((end - start))s"
if ((${#failed[@]})); then
    echo "== FAILED: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "== no crash in: $(cargo fuzz list | tr '\n' ' ')"
