#!/usr/bin/env python3
"""Peak memory of one tool call that returns four 2K images with previews.

Starts the fake API (heavy, realistically sized images) and the release server over
stdio, then compares the server's VmHWM during the call with its resident memory before it.
Usage: cargo build --release && python3 bench/call_memory.py [--count 4] [--size 2048x2048]
Loopback only; both processes are stopped at the end.
"""
import argparse, json, os, socket, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "seedream-mcp")


def fake_bin(server_bin):
    """The fake API binary: $SEEDREAM_FAKE_BIN, else `seedream-fake` beside the server binary."""
    return os.environ.get("SEEDREAM_FAKE_BIN", os.path.join(os.path.dirname(server_bin), "seedream-fake"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=4)
    ap.add_argument("--size", default="2048x2048")
    args = ap.parse_args()
    port = free_port()
    fake = subprocess.Popen([fake_bin(BIN), "--listen", f"127.0.0.1:{port}"], stderr=subprocess.DEVNULL)
    out = tempfile.mkdtemp(prefix="seedream-bench-")
    server = None
    try:
        for _ in range(100):
            try:
                req = urllib.request.Request(f"http://127.0.0.1:{port}/_fake/config", data=b'{"image_bytes":"heavy"}',
                                             headers={"Content-Type": "application/json"})
                urllib.request.urlopen(req, timeout=1).read()
                break
            except OSError:
                time.sleep(0.05)
        env = dict(os.environ, SEEDREAM_API_KEY="test-key", SEEDREAM_BASE_URL=f"http://127.0.0.1:{port}/v1",
                   SEEDREAM_OUTPUT_DIR=out, RUST_LOG="warn",
                   # --count 15 is over the cost confirmation threshold; a benchmark has no one to ask.
                   SEEDREAM_CONFIRM_ABOVE="off")
        server = subprocess.Popen([BIN, "stdio"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, env=env)

        def send(msg):
            server.stdin.write((json.dumps(msg) + "\n").encode())
            server.stdin.flush()

        def reply(id_):
            while True:
                line = server.stdout.readline()
                if not line:
                    raise SystemExit("server closed stdout")
                msg = json.loads(line)
                if msg.get("id") == id_:
                    return msg, len(line)

        send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}})
        reply(1)
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        # Warm up the code paths (and the fake API's image cache) with one image of the same size.
        send({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "generate_image",
              "arguments": {"prompt": "warm up", "model": "4.5", "size": args.size}}})
        reply(2)
        time.sleep(0.2)
        before = status(server.pid, "VmRSS")
        # VmHWM can only be reset by writing to clear_refs; do it so the peak is this call's.
        try:
            with open(f"/proc/{server.pid}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass
        prompt = f"[[fake:n={args.count}]] {args.count} lighthouses"
        started = time.perf_counter()
        send({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "generate_sequence",
              "arguments": {"prompt": prompt, "model": "4.5", "size": args.size, "max_images": args.count}}})
        msg, wire = reply(3)
        elapsed = time.perf_counter() - started
        peak = status(server.pid, "VmHWM")
        result = msg["result"]
        images = result["structuredContent"]["images"]
        total = sum(i.get("bytes", 0) for i in images)
        delta = peak - before
        print(f"images: {len(images)} x {args.size}, {total / 1e6:.2f} MB in all")
        print(f"resident before the call: {before / 1e6:.1f} MB; peak during it: {peak / 1e6:.1f} MB")
        print(f"peak growth: {delta / 1e6:.2f} MB = {delta / total:.2f}x the image bytes (target <= 3x)")
        print(f"call wall time: {elapsed * 1000:.0f} ms; result message {wire / 1e3:.0f} KB")
        return 0 if delta <= 3 * total else 1
    finally:
        for p in (server, fake):
            if p is not None:
                p.terminate()
                p.wait()


if __name__ == "__main__":
    sys.exit(main())
