#!/usr/bin/env python3
"""Memory per open streamable HTTP session.

Starts the server over HTTP on loopback (session mode), reads its resident memory, opens
--sessions sessions (initialize + notifications/initialized, never closed), reads it again and
prints the difference per session. Also checks that one session beyond SEEDREAM_HTTP_MAX_SESSIONS
gets 503 with Retry-After.
Usage: python3 bench/sessions.py [--bin target/release/seedream-mcp] [--sessions 2000]
Loopback only; bounded counts; the server is stopped by PID at the end.
"""
import argparse, http.client, json, os, socket, subprocess, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise KeyError("VmRSS")


def post(conn, body, session=None):
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": "2025-11-25"}
    if session:
        headers["Mcp-Session-Id"] = session
    conn.request("POST", "/mcp", json.dumps(body), headers)
    response = conn.getresponse()
    response.read()
    return response


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "seedream-mcp"))
    ap.add_argument("--sessions", type=int, default=2000)
    args = ap.parse_args()
    port = free_port()
    env = dict(os.environ, SEEDREAM_API_KEY="test-key", SEEDREAM_BASE_URL="http://127.0.0.1:9/v1",
               SEEDREAM_HTTP_LISTEN=f"127.0.0.1:{port}", SEEDREAM_HTTP_MAX_SESSIONS=str(args.sessions),
               RUST_LOG="warn")
    server = subprocess.Popen([args.bin, "http"], env=env, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.05)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}}
        # One session first so that lazily initialised state is not counted per session.
        first = post(conn, init).getheader("Mcp-Session-Id")
        post(conn, {"jsonrpc": "2.0", "method": "notifications/initialized"}, first)
        time.sleep(0.5)
        before = rss(server.pid)
        for _ in range(args.sessions - 1):
            session = post(conn, init).getheader("Mcp-Session-Id")
            post(conn, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
        time.sleep(0.5)
        after = rss(server.pid)
        n = args.sessions - 1
        print(f"binary: {args.bin}")
        print(f"{n} sessions: RSS {before/2**20:.1f} -> {after/2**20:.1f} MiB, "
              f"{(after-before)/n/1024:.1f} KiB per session")
        over = post(conn, init)
        print(f"session {args.sessions + 1}: HTTP {over.status}, Retry-After {over.getheader('Retry-After')}")
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()
