#!/usr/bin/env bash
# The benchmark in one command: builds the shipped (dist) binary and the helpers, installs the peers
# (once, into ~/.cache/seedream-mcp/bench), and measures seedream-mcp and its peers side by side.
#   bench/run.sh            start, tools/list, calls, 200 concurrent over HTTP, previews
#   bench/run.sh --soak     the same plus 60 s of sustained HTTP load with memory samples
#   bench/run.sh --only cold,calls   (sections: cold, calls, http, preview)
#   bench/run.sh --tasks    issue 13's figures: task cost, the job store under load, Redis (bench/tasks.py)
#   bench/call_instructions.sh [BINARY]   exact instructions per call (valgrind), after this builds
# Other flags go to bench/compare.py (--runs, --calls, --concurrent, --soak-seconds).
# Loopback only; everything started is stopped by PID; figures also land in target/bench/results.json.
set -euo pipefail
cd "$(dirname "$0")/.."

# Two builds: examples pull in dev-dependencies, whose features must not leak into the binary.
# The server is measured as it ships: the `dist` profile (fat LTO) the release pipeline uses. The
# load and preview helpers only need to be fast, so the quicker `release` profile does for them.
cargo build --profile dist --locked --quiet --bin seedream-mcp
cargo build --release --locked --quiet --example http_load --example preview_bench
cargo build --release --locked --quiet -p seedream-fake
if [[ ${1:-} == --tasks ]]; then
    # Issue 13's figures (tasks, the embedded store under load, two instances on Redis).
    export SEEDREAM_BENCH_RELEASE_DIR="${CARGO_TARGET_DIR:-$PWD/target}/release"
    export SEEDREAM_BENCH_BIN="${SEEDREAM_BENCH_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/dist/seedream-mcp}"
    exec python3 bench/tasks.py
fi
CACHE=$(bench/peers.sh)
export SEEDREAM_BENCH_RELEASE_DIR="${CARGO_TARGET_DIR:-$PWD/target}/release"
export SEEDREAM_BENCH_BIN="${SEEDREAM_BENCH_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/dist/seedream-mcp}"
exec python3 bench/compare.py --cache "$CACHE" "$@"
