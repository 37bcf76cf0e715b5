#!/usr/bin/env bash
# The benchmark in one command: builds the release binary and the helpers, installs the peers
# (once, into ~/.cache/seedream-mcp/bench), and measures seedream-mcp and its peers side by side.
#   bench/run.sh            start, tools/list, calls, 200 concurrent over HTTP, previews
#   bench/run.sh --soak     the same plus 60 s of sustained HTTP load with memory samples
#   bench/run.sh --only cold,calls   (sections: cold, calls, http, preview)
# Other flags go to bench/compare.py (--runs, --calls, --concurrent, --soak-seconds).
# Loopback only; everything started is stopped by PID; figures also land in target/bench/results.json.
set -euo pipefail
cd "$(dirname "$0")/.."

# Two builds: examples pull in dev-dependencies, whose features must not leak into the binary.
cargo build --release --locked --quiet --bin seedream-mcp
cargo build --release --locked --quiet --example http_load --example preview_bench
CACHE=$(bench/peers.sh)
export SEEDREAM_BENCH_RELEASE_DIR="${CARGO_TARGET_DIR:-$PWD/target}/release"
exec python3 bench/compare.py --cache "$CACHE" "$@"
