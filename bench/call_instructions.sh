#!/usr/bin/env bash
# Instructions one generate_image call costs the server, counted by valgrind's callgrind: exact
# where wall-clock figures on a shared 2-core machine wander by ±0.1 ms. Runs the server over
# stdio against the fake with 1 call and with 5, and prints (5 - 1) / 4.
#   bench/call_instructions.sh [BINARY]     (default: target/dist/seedream-mcp; needs valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is missing (Debian: apt-get install valgrind)" >&2; exit 1; }
BIN=${1:-${CARGO_TARGET_DIR:-$PWD/target}/dist/seedream-mcp}
FAKE=${SEEDREAM_FAKE_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/release/seedream-fake}
[[ -x $BIN && -x $FAKE ]] || { echo "build first: cargo build --profile dist --bin seedream-mcp && cargo build --release -p seedream-fake" >&2; exit 1; }
WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$FAKE" --listen "127.0.0.1:$PORT" >/dev/null 2>&1 &
FAKE_PID=$!
trap 'kill "$FAKE_PID" 2>/dev/null; rm -rf "$WORK"' EXIT
sleep 0.3
calls() {
    echo '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}'
    echo '{"jsonrpc":"2.0","method":"notifications/initialized"}'
    for i in $(seq 1 "$1"); do
        echo "{\"jsonrpc\":\"2.0\",\"id\":$((i + 10)),\"method\":\"tools/call\",\"params\":{\"name\":\"generate_image\",\"arguments\":{\"prompt\":\"a fox $i\",\"model\":\"4.5\",\"embed\":\"none\"}}}"
    done
    sleep 3 # every answer out before stdin closes
}
count() {
    SEEDREAM_API_KEY=test-key SEEDREAM_BASE_URL="http://127.0.0.1:$PORT/v1" SEEDREAM_SAVE=false \
        SEEDREAM_STORE=memory RUST_LOG=warn \
        valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.$1" "$BIN" stdio \
        < <(calls "$1") > "$WORK/out.$1" 2> "$WORK/err.$1"
    [[ $(grep -c '"result"' "$WORK/out.$1") -eq $(($1 + 1)) ]] || { echo "not every call answered" >&2; exit 1; }
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$WORK/err.$1"
}
one=$(count 1)
five=$(count 5)
echo "$BIN: $(( (five - one) / 4 )) instructions per generate_image call (1 call: $one, 5 calls: $five)"
