#!/usr/bin/env python3
"""Cold start of the release binary over stdio: spawn → initialize → tools/list, and RSS after.

Usage: cargo build --release && python3 bench/cold_start.py [runs] [binary] [--back-to-back]
A quick look at one binary (e.g. to compare two builds); bench/run.sh compares with the peers.
--back-to-back starts the next run as soon as one ends (no pause to read memory), which on a
busy machine keeps the wake-up delay after an idle pause out of the figure.
"""
import json, os, statistics, subprocess, sys, tempfile, time

DEFAULT_BIN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "target", "release", "seedream-mcp")


def main():
    args = [a for a in sys.argv[1:] if a != "--back-to-back"]
    back_to_back = len(args) < len(sys.argv) - 1
    runs = int(args[0]) if args else 11
    binary = args[1] if len(args) > 1 else DEFAULT_BIN
    env = dict(os.environ, SEEDREAM_API_KEY="k", SEEDREAM_OUTPUT_DIR=tempfile.mkdtemp(), RUST_LOG="warn")
    times, rss, cpu, size = [], [], [], 0
    for _ in range(runs + 1):
        started = time.perf_counter()
        p = subprocess.Popen([binary, "stdio"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, env=env)
        p.stdin.write(b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",'
                      b'"capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}\n')
        p.stdin.flush()
        p.stdout.readline()
        p.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n{"jsonrpc":"2.0","id":2,"method":"tools/list"}\n')
        p.stdin.flush()
        line = p.stdout.readline()
        times.append((time.perf_counter() - started) * 1000)
        size = len(json.dumps(json.loads(line)["result"], separators=(",", ":")))
        if not back_to_back:
            time.sleep(0.3)
            with open(f"/proc/{p.pid}/status") as f:
                rss.append(next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) / 1024)
        p.stdin.close()
        _, _, usage = os.wait4(p.pid, 0)
        cpu.append((usage.ru_utime + usage.ru_stime) * 1000)
    times, cpu = times[1:], cpu[1:]  # the first run warms the page cache
    print(f"spawn to tools/list answered: median {statistics.median(times):.1f} ms over {runs} runs "
          f"(min {min(times):.1f}, max {max(times):.1f}); includes Python's process spawn")
    print(f"server CPU time (user + system, whole run): median {statistics.median(cpu):.2f} ms")
    if rss:
        print(f"resident memory after start: median {statistics.median(rss):.1f} MiB")
    print(f"tools/list result: {size} bytes")


if __name__ == "__main__":
    main()
