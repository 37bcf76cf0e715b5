#!/bin/sh
# Installs the prebuilt seedream-mcp binary from a GitHub release (Linux and macOS):
#   curl -fsSL https://github.com/seedream-mcp/seedream-mcp/releases/latest/download/seedream-mcp-installer.sh | sh
# Settings (environment):
#   SEEDREAM_MCP_VERSION      a version such as 0.1.0 (default: the one this installer was released with)
#   SEEDREAM_MCP_INSTALL_DIR  where the binary goes (default: ~/.local/bin)
#   SEEDREAM_MCP_DOWNLOAD_URL the folder holding the archives (default: the GitHub release)
# The archive's SHA-256 is checked against the .sha256 file published beside it.
set -eu

VERSION=${SEEDREAM_MCP_VERSION:-0.1.0}
INSTALL_DIR=${SEEDREAM_MCP_INSTALL_DIR:-$HOME/.local/bin}
BASE=${SEEDREAM_MCP_DOWNLOAD_URL:-https://github.com/seedream-mcp/seedream-mcp/releases/download/v$VERSION}

fail() {
    echo "seedream-mcp installer: $*" >&2
    exit 1
}

case "$(uname -s)" in
    Linux) os=unknown-linux-musl ;;
    Darwin) os=apple-darwin ;;
    *) fail "no prebuilt binary for $(uname -s); on Windows use the PowerShell installer, elsewhere: cargo install seedream-mcp" ;;
esac
case "$(uname -m)" in
    x86_64 | amd64) cpu=x86_64 ;;
    aarch64 | arm64) cpu=aarch64 ;;
    *) fail "no prebuilt binary for $(uname -m); build from source: cargo install seedream-mcp" ;;
esac
target=$cpu-$os
name=seedream-mcp-$target

if command -v curl >/dev/null 2>&1; then
    fetch() { curl -fsSL --retry 3 -o "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
    fetch() { wget -q -O "$2" "$1"; }
else
    fail "needs curl or wget"
fi
if command -v sha256sum >/dev/null 2>&1; then
    sha256() { sha256sum "$1" | cut -d' ' -f1; }
elif command -v shasum >/dev/null 2>&1; then
    sha256() { shasum -a 256 "$1" | cut -d' ' -f1; }
else
    fail "needs sha256sum or shasum to check the download"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
fetch "$BASE/$name.tar.gz" "$tmp/$name.tar.gz" || fail "cannot download $BASE/$name.tar.gz"
fetch "$BASE/$name.tar.gz.sha256" "$tmp/$name.tar.gz.sha256" || fail "cannot download $BASE/$name.tar.gz.sha256"
want=$(cut -d' ' -f1 <"$tmp/$name.tar.gz.sha256")
got=$(sha256 "$tmp/$name.tar.gz")
[ "$want" = "$got" ] || fail "$name.tar.gz has SHA-256 $got, the release says $want: not installed"

tar -xzf "$tmp/$name.tar.gz" -C "$tmp"
mkdir -p "$INSTALL_DIR"
# Replace through a rename, so that a running server keeps its binary.
cp "$tmp/$name/seedream-mcp" "$INSTALL_DIR/.seedream-mcp.new"
chmod 755 "$INSTALL_DIR/.seedream-mcp.new"
mv -f "$INSTALL_DIR/.seedream-mcp.new" "$INSTALL_DIR/seedream-mcp"

echo "installed $("$INSTALL_DIR/seedream-mcp" --version) to $INSTALL_DIR/seedream-mcp"
case ":$PATH:" in
    *":$INSTALL_DIR:"*) ;;
    *) echo "note: $INSTALL_DIR is not on PATH; MCP clients can use the full path above" ;;
esac
