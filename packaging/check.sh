#!/usr/bin/env bash
# Proves every install channel that can be proven on this machine, from the artifacts it builds,
# with no access to anything but the package registries (for the pinned tools). One line per
# check; ends with `packaging: N passed, N failed, N skipped` and exits 1 if any check failed.
# Artifacts land in target/dist/artifacts/ (npm tarballs, wheel, .mcpb, archive, server.json).
#
# The pinned tools (packaging/tools/requirements.txt, package.json + package-lock.json) are
# installed once into a cache outside the checkout, reused by later runs:
#   SEEDREAM_PACKAGING_CACHE  default ${XDG_CACHE_HOME:-$HOME/.cache}/seedream-mcp/packaging
#   SEEDREAM_PACKAGING_KEEP=1 keep the work folder (logs, unpacked packages)
#   SEEDREAM_PACKAGING_GNU=1  package the glibc release binary instead of building for musl
# The Linux binary is the static x86_64 musl build when rustup can add that target (and musl-gcc
# is there or apt can install it); otherwise the glibc release build, and the binary line says so.
# The wheel is always the glibc build, reused from `cargo build --release` (pip does not install
# musllinux wheels on glibc systems).
set -uo pipefail # not -e: every check runs and is counted

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
ART=$TARGET_DIR/dist/artifacts
CACHE=${SEEDREAM_PACKAGING_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/seedream-mcp/packaging}
KEEP=${SEEDREAM_PACKAGING_KEEP:-}
FORCE_GNU=${SEEDREAM_PACKAGING_GNU:-}
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -n1)
TOOLS_LIST=$(python3 -c 'import json,sys; print(",".join(t["name"] for t in json.load(open(sys.argv[1]))["tools"]))' \
    "$HERE/mcpb/manifest.json")
MUSL=x86_64-unknown-linux-musl

# What the caller's shell has set for the server must not leak into the checks (this script's own
# settings are read above).
for var in $(compgen -e | grep -E '^(SEEDREAM_|COMETAPI_KEY$)'); do unset "$var"; done
export NO_PROXY=127.0.0.1,localhost,::1 no_proxy=127.0.0.1,localhost,::1
export PYTHONDONTWRITEBYTECODE=1

WORK=$(mktemp -d "${TMPDIR:-/tmp}/seedream-packaging.XXXXXX")
cleanup() { [[ $KEEP == 1 ]] || rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

PASSED=0
FAILED=0
SKIPPED=0
pass() { echo "ok $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $*"; FAILED=$((FAILED + 1)); }
skip() { echo "skip $*"; SKIPPED=$((SKIPPED + 1)); }
# Runs a stage.py subcommand; its one line of output becomes the check's line.
stage() { python3 "$HERE/stage.py" "$@"; }
# check NAME COMMAND...: runs COMMAND; passes with its last output line, fails with its output.
check() {
    local name=$1 out
    shift
    if out=$("$@" 2>&1); then
        pass "$name: $(tail -n1 <<<"$out")"
    else
        fail "$name: $(tail -n 5 <<<"$out" | tr '\n' ' ')"
    fi
}
# The environment of every server started here: a key (tools/list needs none, but the server
# warns without one) and an output folder of its own.
server_env() {
    env SEEDREAM_API_KEY=packaging-check SEEDREAM_OUTPUT_DIR="$WORK/images" "$@"
}

# --- tools ------------------------------------------------------------------------------------

# Installs the pinned tools into the cache unless an identical install is there already; a folder
# is named after the hash of what it was installed from and is used only once complete.
install_tools() {
    mkdir -p "$CACHE" || return 1
    exec 9>"$CACHE/.lock"
    flock -w 900 9 || { echo "another run holds $CACHE/.lock"; return 1; }
    local key old
    key=$(sha256sum "$HERE/tools/requirements.txt" | cut -c1-12)
    PY_TOOLS=$CACHE/python-$key
    if [[ ! -e $PY_TOOLS/.complete ]]; then
        rm -rf "$PY_TOOLS"
        timeout 300 python3 -m venv "$PY_TOOLS" || { echo "python3 -m venv failed (Debian: apt-get install python3-venv)"; return 1; }
        timeout 900 "$PY_TOOLS/bin/pip" install --quiet --disable-pip-version-check \
            -r "$HERE/tools/requirements.txt" || { echo "pip install -r packaging/tools/requirements.txt failed"; return 1; }
        touch "$PY_TOOLS/.complete"
    fi
    key=$(cat "$HERE/tools/package.json" "$HERE/tools/package-lock.json" | sha256sum | cut -c1-12)
    NPM_TOOLS=$CACHE/npm-$key
    if [[ ! -e $NPM_TOOLS/.complete ]]; then
        command -v npm >/dev/null || { echo "npm is needed (Debian: apt-get install npm)"; return 1; }
        rm -rf "$NPM_TOOLS" && mkdir -p "$NPM_TOOLS" && cp "$HERE/tools/package.json" "$HERE/tools/package-lock.json" "$NPM_TOOLS/"
        (cd "$NPM_TOOLS" && timeout 600 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) ||
            { echo "npm ci of packaging/tools/package-lock.json failed"; return 1; }
        touch "$NPM_TOOLS/.complete"
    fi
    for old in "$CACHE"/python-* "$CACHE"/npm-*; do
        [[ $old != "$PY_TOOLS" && $old != "$NPM_TOOLS" && -d $old ]] && rm -rf "$old"
    done
    exec 9>&-
    MCPB=$NPM_TOOLS/node_modules/.bin/mcpb
    local tool
    for tool in maturin uv actionlint hadolint check-jsonschema; do
        [[ -x $PY_TOOLS/bin/$tool ]] || { echo "$tool is missing from $PY_TOOLS"; return 1; }
    done
    [[ -x $MCPB ]] || { echo "mcpb is missing from $NPM_TOOLS"; return 1; }
    echo "maturin $("$PY_TOOLS/bin/maturin" --version | cut -d' ' -f2), uv $("$PY_TOOLS/bin/uv" --version | cut -d' ' -f2)," \
        "mcpb $("$MCPB" --version), $("$PY_TOOLS/bin/actionlint" --version | head -n1)," \
        "hadolint $("$PY_TOOLS/bin/hadolint" --version | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n1), node $(node --version)"
}

# --- binaries ---------------------------------------------------------------------------------

# The glibc release binary: the one .ci/run has already built for the interop suite.
build_gnu() {
    GNU_BIN=$TARGET_DIR/release/seedream-mcp
    (cd "$ROOT" && timeout 1800 cargo build --release --locked --quiet --bin seedream-mcp) ||
        { echo "cargo build --release failed"; return 1; }
    [[ -x $GNU_BIN ]] || { echo "no binary at $GNU_BIN"; return 1; }
}

# The static musl binary, if the toolchain can get the target here.
build_linux() {
    LINUX_TARGET=x86_64-unknown-linux-gnu
    LINUX_BIN=$GNU_BIN
    local why=""
    if [[ $FORCE_GNU == 1 ]]; then
        why="SEEDREAM_PACKAGING_GNU=1"
    elif ! timeout 300 rustup target add "$MUSL" >"$WORK/rustup.log" 2>&1; then
        why="rustup could not add $MUSL: $(tail -n1 "$WORK/rustup.log")"
    elif ! command -v musl-gcc >/dev/null &&
        ! { DEBIAN_FRONTEND=noninteractive apt-get install -y -q musl-tools >/dev/null 2>&1 ||
            { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q musl-tools >/dev/null 2>&1; }; }; then
        why="musl-gcc is missing and apt-get install musl-tools failed"
    elif ! (cd "$ROOT" && timeout 2400 cargo build --release --locked --quiet --bin seedream-mcp --target "$MUSL") \
        >"$WORK/musl-build.log" 2>&1; then
        echo "cargo build --target $MUSL failed: $(tail -n 3 "$WORK/musl-build.log" | tr '\n' ' ')"
        return 1
    else
        LINUX_TARGET=$MUSL
        LINUX_BIN=$TARGET_DIR/$MUSL/release/seedream-mcp
    fi
    local linkage version
    if readelf -lW "$LINUX_BIN" 2>/dev/null | grep -q 'Requesting program interpreter'; then
        linkage="dynamically linked"
        [[ $LINUX_TARGET == "$MUSL" ]] && { echo "the $MUSL binary is dynamically linked"; return 1; }
    else
        linkage=static
    fi
    version=$("$LINUX_BIN" --version) || { echo "$LINUX_BIN --version failed"; return 1; }
    [[ $version == "seedream-mcp $VERSION" ]] || { echo "--version printed '$version', want 'seedream-mcp $VERSION'"; return 1; }
    echo "$LINUX_TARGET ($linkage, $(($(stat -c %s "$LINUX_BIN") / 1024)) KiB), --version: $version${why:+; gnu because $why}"
}

# The release archive and the shell installer that downloads it (from a file:// URL here).
check_archive() {
    local name=seedream-mcp-x86_64-unknown-linux-musl dir="$WORK/archive"
    [[ $LINUX_TARGET == "$MUSL" ]] || name=seedream-mcp-$LINUX_TARGET
    mkdir -p "$dir/$name" "$WORK/installed"
    cp "$LINUX_BIN" "$ROOT/README.md" "$ROOT/CHANGELOG.md" "$dir/$name/" || return 1
    tar -C "$dir" -czf "$ART/$name.tar.gz" "$name" || return 1
    (cd "$ART" && sha256sum "$name.tar.gz" >"$name.tar.gz.sha256") || return 1
    [[ $LINUX_TARGET == "$MUSL" ]] || { echo "archived $name.tar.gz (install.sh expects the musl archive: not run)"; return 0; }
    SEEDREAM_MCP_DOWNLOAD_URL="file://$ART" SEEDREAM_MCP_INSTALL_DIR="$WORK/installed" sh "$HERE/install.sh" || return 1
    server_env python3 "$HERE/stage.py" handshake --expect-tools "$TOOLS_LIST" --expect-version "$VERSION" -- "$WORK/installed/seedream-mcp" stdio
}

# --- npm --------------------------------------------------------------------------------------

check_npm() {
    local platform prefix="$WORK/npm-prefix" launcher pkg
    platform=$(stage npm-platform --target "$LINUX_TARGET" --binary "$LINUX_BIN" --out "$WORK/npm-platform") || { echo "$platform"; return 1; }
    (npm pack "$WORK/npm-platform" --pack-destination "$ART" --loglevel=error >/dev/null &&
        npm pack "$HERE/npm/seedream-mcp" --pack-destination "$ART" --loglevel=error >/dev/null) || { echo "npm pack failed"; return 1; }
    launcher=$ART/seedream-mcp-$VERSION.tgz
    pkg=$ART/seedream-mcp-linux-x64-$VERSION.tgz
    [[ -f $launcher && -f $pkg ]] || { echo "npm pack did not write $launcher and $pkg"; return 1; }
    # An empty prefix, an empty cache and a registry that does not answer: both tarballs must be
    # enough (the other platforms' optional dependencies are skipped, as on any machine).
    mkdir -p "$prefix" && echo '{"private":true}' >"$prefix/package.json"
    (cd "$prefix" && timeout 300 npm install --offline --no-audit --no-fund --loglevel=error \
        --cache "$WORK/npm-cache" --registry http://127.0.0.1:9/ "$pkg" "$launcher") >"$WORK/npm-install.log" 2>&1 ||
        { echo "npm install of the tarballs failed: $(tail -n 3 "$WORK/npm-install.log" | tr '\n' ' ')"; return 1; }
    local out rc
    out=$(cd "$prefix" && npx --offline --cache "$WORK/npm-cache" seedream-mcp --version) || { echo "npx seedream-mcp --version failed"; return 1; }
    [[ $out == "seedream-mcp $VERSION" ]] || { echo "npx seedream-mcp --version printed '$out'"; return 1; }
    # The exit status passes through (clap exits 2 on an unknown flag).
    (cd "$prefix" && npx --offline --cache "$WORK/npm-cache" seedream-mcp --no-such-flag >/dev/null 2>&1)
    rc=$?
    ((rc == 2)) || { echo "npx seedream-mcp --no-such-flag exited $rc, the binary exits 2"; return 1; }
    out=$(cd "$prefix" && server_env python3 "$HERE/stage.py" handshake --expect-tools "$TOOLS_LIST" \
        --expect-version "$VERSION" -- npx --offline --cache "$WORK/npm-cache" seedream-mcp) || { echo "$out"; return 1; }
    echo "$(basename "$launcher") + $(basename "$pkg") installed offline; npx seedream-mcp: $out; $(launcher_overhead "$prefix")"
}

# Start-up the launcher adds beyond Node's own: `node launcher --version` against `node -e 0`
# followed by the binary's own --version (best of 10 each; reported, not judged).
launcher_overhead() {
    python3 - "$1/node_modules/seedream-mcp/bin/seedream-mcp.js" "$LINUX_BIN" <<'EOF'
import subprocess, sys, time
def best(*cmds):
    times = []
    for _ in range(10):
        start = time.perf_counter()
        for cmd in cmds:
            subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return min(times) * 1000
launcher = best(["node", sys.argv[1], "--version"])
plain = best(["node", "-e", "0"], [sys.argv[2], "--version"])
print(f"launcher start {launcher:.0f} ms vs node + binary {plain:.0f} ms")
EOF
}

# --- PyPI -------------------------------------------------------------------------------------

check_wheel() {
    local venv="$WORK/venv" out
    rm -f "$ART"/seedream_mcp-*.whl
    (cd "$HERE/pypi" && timeout 1800 "$PY_TOOLS/bin/maturin" build --profile release --locked \
        --out "$ART") >"$WORK/maturin.log" 2>&1 ||
        { echo "maturin build failed: $(tail -n 3 "$WORK/maturin.log" | tr '\n' ' ')"; return 1; }
    local wheels=("$ART"/seedream_mcp-*.whl)
    WHEEL=${wheels[0]}
    [[ -f $WHEEL ]] || { echo "maturin wrote no wheel to $ART"; return 1; }
    if ! { python3 -m venv "$venv" && "$venv/bin/pip" install --quiet --disable-pip-version-check --no-index "$WHEEL"; }; then
        echo "pip install of $(basename "$WHEEL") into a fresh venv failed"
        return 1
    fi
    out=$(server_env python3 "$HERE/stage.py" handshake --expect-tools "$TOOLS_LIST" --expect-version "$VERSION" -- "$venv/bin/seedream-mcp") ||
        { echo "venv: $out"; return 1; }
    echo "$(basename "$WHEEL") in a fresh venv: $out"
}

check_uvx() {
    local out
    [[ -n ${WHEEL:-} ]] || { echo "no wheel (see the wheel check)"; return 1; }
    out=$(UV_CACHE_DIR="$WORK/uv-cache" UV_TOOL_DIR="$WORK/uv-tools" UV_PYTHON_DOWNLOADS=never \
        server_env python3 "$HERE/stage.py" handshake --expect-tools "$TOOLS_LIST" --expect-version "$VERSION" -- \
        "$PY_TOOLS/bin/uvx" --offline --from "$WHEEL" seedream-mcp) || { echo "$out"; return 1; }
    echo "uvx --offline --from $(basename "$WHEEL") seedream-mcp: $out"
}

# --- Claude Desktop bundle --------------------------------------------------------------------

check_mcpb() {
    local bundle="$WORK/mcpb-stage" unpacked="$WORK/mcpb-unpacked" file="$ART/seedream-mcp-$VERSION.mcpb" out
    stage mcpb-stage --out "$bundle" --linux "$LINUX_BIN" >/dev/null || return 1
    "$MCPB" validate "$bundle/manifest.json" >"$WORK/mcpb-validate.log" 2>&1 ||
        { echo "mcpb validate: $(tr '\n' ' ' <"$WORK/mcpb-validate.log")"; return 1; }
    rm -f "$file"
    "$MCPB" pack "$bundle" "$file" >"$WORK/mcpb-pack.log" 2>&1 ||
        { echo "mcpb pack: $(tail -n 3 "$WORK/mcpb-pack.log" | tr '\n' ' ')"; return 1; }
    out=$(stage mcpb-unpack "$file" --out "$unpacked") || { echo "$out"; return 1; }
    "$MCPB" validate "$unpacked/manifest.json" >/dev/null 2>&1 || { echo "mcpb validate failed on the unpacked manifest"; return 1; }
    # As Claude Desktop starts it: mcp_config with the user's settings substituted. No base URL
    # given: the manifest's default goes in.
    stage mcpb-command "$unpacked" --set api_key=packaging-check --set output_dir="$WORK/mcpb-images" \
        >"$WORK/mcpb-command.json" || { cat "$WORK/mcpb-command.json"; return 1; }
    out=$(env -i PATH="$PATH" HOME="$WORK/home" python3 "$HERE/stage.py" handshake \
        --argv-json "$WORK/mcpb-command.json" --env-json "$WORK/mcpb-command.json" \
        --expect-tools "$TOOLS_LIST" --expect-version "$VERSION" --stderr "$WORK/mcpb-server.log") ||
        { echo "$out: $(tail -n 3 "$WORK/mcpb-server.log" | tr '\n' ' ')"; return 1; }
    echo "$(basename "$file") ($(($(stat -c %s "$file") / 1024)) KiB) validated, unpacked and started as Claude Desktop would: $out"
}

# --- registry ---------------------------------------------------------------------------------

check_server_json() {
    local filled="$ART/server.json"
    stage schema-source >/dev/null || { stage schema-source; return 1; }
    "$PY_TOOLS/bin/check-jsonschema" --schemafile "$HERE/registry/server.schema.json" "$ROOT/server.json" >/dev/null ||
        { "$PY_TOOLS/bin/check-jsonschema" --schemafile "$HERE/registry/server.schema.json" "$ROOT/server.json" | tail -n 3; return 1; }
    # As the release workflow publishes it: with the bundle's real SHA-256.
    [[ -f "$ART/seedream-mcp-$VERSION.mcpb" ]] || { echo "no .mcpb to hash (see the bundle check)"; return 1; }
    stage server-json --mcpb "$ART/seedream-mcp-$VERSION.mcpb" --out "$filled" >/dev/null || return 1
    "$PY_TOOLS/bin/check-jsonschema" --schemafile "$HERE/registry/server.schema.json" "$filled" >/dev/null || return 1
    echo "server.json and its release form validate against the vendored $(stage schema-source)"
}

check_versions() {
    stage versions --wheel "${WHEEL:-}" --npm-platform "$WORK/npm-platform"
}

lint_workflows() {
    local files=("$ROOT"/.github/workflows/*.yml)
    "$PY_TOOLS/bin/actionlint" -no-color "${files[@]}" && echo "${#files[@]} workflow(s) clean"
}

lint_dockerfile() {
    "$PY_TOOLS/bin/hadolint" --no-color "$ROOT/Dockerfile" && echo "Dockerfile clean"
}

check_compose() {
    "$PY_TOOLS/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$ROOT/deploy/compose.yaml" >/dev/null &&
        echo "deploy/compose.yaml matches the compose specification"
}

check_image() {
    if ! command -v docker >/dev/null; then
        echo "no docker CLI"
        return 2
    fi
    if ! timeout 20 docker info >/dev/null 2>&1; then
        echo "no container engine runs here (docker info fails): the image is built only by the release workflow"
        return 2
    fi
    local image=seedream-mcp:packaging-check id
    timeout 2400 docker build -q -t "$image" "$ROOT" >"$WORK/docker-build.log" 2>&1 ||
        { echo "docker build failed: $(tail -n 3 "$WORK/docker-build.log" | tr '\n' ' ')"; return 1; }
    # Without a token it must refuse to start (it listens beyond loopback inside the container).
    if timeout 30 docker run --rm "$image" >/dev/null 2>&1; then
        echo "the image started without SEEDREAM_HTTP_TOKEN"
        return 1
    fi
    id=$(docker run -d --rm -p 127.0.0.1::8787 -e SEEDREAM_HTTP_TOKEN=packaging-check -e SEEDREAM_API_KEY=x "$image") || return 1
    local port ok=""
    port=$(docker port "$id" 8787/tcp | head -n1 | sed 's/.*://')
    for _ in $(seq 50); do
        curl -fsS --max-time 2 "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && { ok=1; break; }
        sleep 0.2
    done
    docker stop "$id" >/dev/null 2>&1
    [[ -n $ok ]] || { echo "the container's /healthz did not answer"; return 1; }
    echo "built, refuses to start without a token, answers /healthz with one"
}

# --- main -------------------------------------------------------------------------------------

mkdir -p "$WORK/images" "$WORK/home"
rm -rf "$ART" && mkdir -p "$ART"
if ! out=$(install_tools 2>&1); then
    fail "tools: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
    echo "packaging: $PASSED passed, $FAILED failed, $SKIPPED skipped"
    exit 1
fi
pass "tools: $(tail -n1 <<<"$out")"
install_tools >/dev/null 2>&1 # sets PY_TOOLS, NPM_TOOLS, MCPB in this shell (the cache is warm)

# build_gnu and build_linux set GNU_BIN, LINUX_TARGET and LINUX_BIN, so they run in this shell,
# their output captured by file.
if ! build_gnu >"$WORK/gnu.line" 2>&1; then
    fail "binary: $(tail -n 3 "$WORK/gnu.line" | tr '\n' ' ')"
    echo "packaging: $PASSED passed, $FAILED failed, $SKIPPED skipped"
    exit 1
fi
if build_linux >"$WORK/binary.line" 2>&1; then
    pass "binary: $(tail -n1 "$WORK/binary.line")"
else
    fail "binary: $(tail -n1 "$WORK/binary.line")"
    echo "packaging: $PASSED passed, $FAILED failed, $SKIPPED skipped"
    exit 1
fi

check "archive + install.sh" check_archive
check "npm" check_npm
# check_wheel sets WHEEL for the checks after it, so it runs in this shell.
if check_wheel >"$WORK/wheel.line" 2>&1; then
    pass "wheel: $(tail -n1 "$WORK/wheel.line")"
else
    fail "wheel: $(tail -n1 "$WORK/wheel.line")"
    WHEEL=""
fi
check "uvx" check_uvx
check "mcpb" check_mcpb
check "server.json" check_server_json
check "versions" check_versions
check "actionlint" lint_workflows
check "hadolint" lint_dockerfile
check "compose" check_compose
out=$(check_image 2>&1)
case $? in
    0) pass "image: $out" ;;
    2) skip "image: $out" ;;
    *) fail "image: $out" ;;
esac

echo "packaging: $PASSED passed, $FAILED failed, $SKIPPED skipped"
((FAILED == 0))
