#!/usr/bin/env python3
"""Latency of legitimate calls while an unauthenticated client holds many slow connections.

Starts the fake API and the server over HTTP (with a token) on loopback, measures the
latency of legitimate calls (a new connection each: initialize, then generate_image), then
opens --conns connections that each send half a request head and never finish it (re-opened
when the server closes them, as an attacker would), and measures the same calls again.
Usage: python3 bench/slowloris.py [--bin target/release/seedream-mcp] [--conns 1100] [--calls 20] [--timeout 30]
Loopback only; bounded connection counts; both processes are stopped by PID at the end.
"""
import argparse, http.client, json, os, resource, socket, statistics, subprocess, threading, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKEN = "bench-token"


def fake_bin(server_bin):
    """The fake API binary: $SEEDREAM_FAKE_BIN, else `seedream-fake` beside the server binary."""
    return os.environ.get("SEEDREAM_FAKE_BIN", os.path.join(os.path.dirname(server_bin), "seedream-fake"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url):
    for _ in range(200):
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not come up")


def post(conn, body, session=None):
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
               "Authorization": f"Bearer {TOKEN}", "MCP-Protocol-Version": "2025-11-25"}
    if session:
        headers["Mcp-Session-Id"] = session
    conn.request("POST", "/mcp", json.dumps(body), headers)
    response = conn.getresponse()
    data = response.read()
    if response.status >= 300:
        raise RuntimeError(f"HTTP {response.status}: {data[:200]!r}")
    return response.getheader("Mcp-Session-Id"), data


def legit_call(port, timeout):
    start = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        session, _ = post(conn, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}})
        post(conn, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
        _, data = post(conn, {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "generate_image", "arguments": {"prompt": "a lighthouse", "model": "4.5"}}}, session)
        if b'"isError":false' not in data:
            raise RuntimeError(f"call failed: {data[:300]!r}")
    finally:
        conn.close()
    return time.monotonic() - start


def measure(port, calls, timeout):
    times, failures = [], 0
    for _ in range(calls):
        try:
            times.append(legit_call(port, timeout))
        except Exception as e:  # a failure is a figure too
            failures += 1
            print(f"  legitimate call failed: {e}")
    return times, failures


def attacker(port, conns, stop, stats):
    """Keeps `conns` connections open, each with half a request head."""
    socks = []
    while not stop.is_set():
        socks = [s for s in socks if alive(s)]
        while len(socks) < conns and not stop.is_set():
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=2)
                s.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                s.setblocking(False)
                socks.append(s)
                stats["opened"] += 1
            except OSError:
                time.sleep(0.01)
                break
        stats["held"] = len(socks)
        time.sleep(0.05)
    for s in socks:
        s.close()


def alive(s):
    try:
        if s.recv(1) == b"":
            s.close()
            return False
    except BlockingIOError:
        return True
    except OSError:
        s.close()
        return False
    return True


def summary(label, times, failures):
    if not times:
        print(f"{label}: all {failures} calls failed")
        return
    times = sorted(times)
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    print(f"{label}: {len(times)} ok, {failures} failed; latency median {statistics.median(times)*1000:.0f} ms, "
          f"p95 {p95*1000:.0f} ms, max {times[-1]*1000:.0f} ms")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "seedream-mcp"))
    ap.add_argument("--conns", type=int, default=1100)
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=30, help="seconds before a legitimate call counts as failed")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.conns * 2 + 256)), hard))
    fake_port, port = free_port(), free_port()
    fake = subprocess.Popen([fake_bin(args.bin), "--listen", f"127.0.0.1:{fake_port}"], stderr=subprocess.DEVNULL)
    env = dict(os.environ, SEEDREAM_API_KEY="test-key", SEEDREAM_BASE_URL=f"http://127.0.0.1:{fake_port}/v1",
               SEEDREAM_HTTP_LISTEN=f"127.0.0.1:{port}", SEEDREAM_HTTP_TOKEN=TOKEN, RUST_LOG="warn")
    server = subprocess.Popen([args.bin, "http"], env=env, stderr=subprocess.DEVNULL)
    stop = threading.Event()
    try:
        wait_http(f"http://127.0.0.1:{fake_port}/_fake/requests")
        wait_http(f"http://127.0.0.1:{port}/healthz")
        print(f"binary: {args.bin}")
        summary("no attack", *measure(port, args.calls, args.timeout))
        stats = {"opened": 0, "held": 0}
        t = threading.Thread(target=attacker, args=(port, args.conns, stop, stats), daemon=True)
        t.start()
        deadline = time.monotonic() + 30
        while stats["opened"] < args.conns and time.monotonic() < deadline:
            time.sleep(0.1)
        print(f"attacker: {stats['opened']} slow connections opened, {stats['held']} held open now")
        summary(f"under attack ({args.conns} slow unauthenticated connections)", *measure(port, args.calls, args.timeout))
        print(f"attacker: {stats['opened']} opened in all (the server closes them; the attacker re-opens)")
    finally:
        stop.set()
        for p in (server, fake):
            p.terminate()
        for p in (server, fake):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
