#!/usr/bin/env bash
# The gallery MCP App in a real browser (issue 14): headless Chromium loads a test host page
# that embeds the gallery through @modelcontextprotocol/ext-apps' AppBridge, its tool calls going
# to the real seedream-mcp (HTTP) against the stand-in API. Screenshots of each state go to
# target/gallery-shots/; the first paint of each result is printed. Exits 1 on any failure.
#
# The pinned packages (package.json + package-lock.json) are installed once into a cache outside
# the checkout:
#   SEEDREAM_BROWSER_CACHE  default ${XDG_CACHE_HOME:-$HOME/.cache}/seedream-mcp/browser
#   SEEDREAM_BROWSER_BIN    the server binary (default: the release build, else the debug one)
#   CHROMIUM                the browser (default /usr/bin/chromium)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
CACHE=${SEEDREAM_BROWSER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/seedream-mcp/browser}
export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
die() { echo "browser test: $*" >&2; exit 1; }

command -v node >/dev/null || die "node is missing (install Node.js 20 or later)"
command -v npm >/dev/null || die "npm is missing"
[[ -x $CHROMIUM ]] || die "$CHROMIUM is missing (apt-get install chromium, or set CHROMIUM)"

BIN=${SEEDREAM_BROWSER_BIN:-}
if [[ -z $BIN ]]; then
    for candidate in "$TARGET/release/seedream-mcp" "$TARGET/debug/seedream-mcp"; do
        [[ -x $candidate ]] && { BIN=$candidate; break; }
    done
fi
[[ -n $BIN && -x $BIN ]] || die "no seedream-mcp binary: run cargo build --release first"
FAKE=$(dirname "$BIN")/seedream-fake
[[ -x $FAKE ]] || die "$FAKE is missing: cargo build builds it beside the server"

key=$(sha256sum "$HERE/package-lock.json" | cut -c1-16)
NPM_DIR=$CACHE/npm-$key
if [[ ! -d $NPM_DIR/node_modules ]]; then
    mkdir -p "$NPM_DIR"
    cp "$HERE/package.json" "$HERE/package-lock.json" "$NPM_DIR/"
    (cd "$NPM_DIR" && timeout 600 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) ||
        { rm -rf "$NPM_DIR/node_modules"; die "npm ci of tests/browser/package-lock.json failed"; }
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/seedream-browser.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cp "$HERE/run.mjs" "$HERE/host.js" "$WORK/"
ln -s "$NPM_DIR/node_modules" "$WORK/node_modules"
echo "browser test: $BIN against $FAKE, $("$CHROMIUM" --version 2>/dev/null || echo chromium)"
timeout 300 node "$WORK/run.mjs" "$BIN" "$FAKE" "$TARGET/gallery-shots"
