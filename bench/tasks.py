#!/usr/bin/env python3
"""Issue 13's figures: what a task costs, what the embedded store costs under load, and two
instances sharing a Redis store under 2 x 500 concurrent task-creating calls.

Run through `bench/run.sh --only tasks` (which builds the binaries); needs `redis-server` for the
last part (Debian's package), and says so instead of skipping. Loopback only; every process
started here is stopped by its PID; every loop is bounded in count and time. Standard library
only. Figures also land in target/bench/tasks.json.
"""
import concurrent.futures, http.client, json, os, re, shutil, statistics, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import (BIN, KEY, LOAD, ROOT, free_port, rss_mib, run_load, start_fake, stop,  # noqa: E402
                     wait_until)

TASKS = {"extensions": {"io.modelcontextprotocol/tasks": {}}}


def meta(declare):
    return {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": TASKS if declare else {}}


def call_body(prompt, declare):
    # No previews: the figures are about calls and tasks, not image encoding (as in compare.py).
    params = {"name": "generate_image", "arguments": {"prompt": prompt, "embed": "none"}, "_meta": meta(declare)}
    return json.dumps({"jsonrpc": "2.0", "id": "{i}", "method": "tools/call", "params": params}).replace(
        '"{i}"', "{i}")


CALL_HEADERS = ["MCP-Protocol-Version: 2026-07-28", "Mcp-Method: tools/call", "Mcp-Name: generate_image"]


def start_server(fake_port, store, extra=None):
    port = free_port()
    env = dict(os.environ, SEEDREAM_API_KEY=KEY, SEEDREAM_BASE_URL=f"http://127.0.0.1:{fake_port}/v1",
               RUST_LOG="warn", SEEDREAM_SAVE="false", SEEDREAM_MAX_RETRIES="0", SEEDREAM_STORE=store,
               SEEDREAM_MAX_CONCURRENCY="1000", SEEDREAM_TASK_AFTER_SECONDS="0",
               # 500 clients connecting at once are 500 connections whose first request is still
               # running: above the default 256 such connections, the oldest would be dropped.
               SEEDREAM_HTTP_MAX_UNAUTHENTICATED="1024", **(extra or {}))
    proc = subprocess.Popen([BIN, "http", "--stateless", "true", "--listen", f"127.0.0.1:{port}"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=env)
    warm = call_body("warm up", False)
    if not wait_until(lambda: run_load(port, CALL_HEADERS, warm, 1, 1, 5)["ok"] == 1, seconds=30):
        stop(proc)
        raise SystemExit("seedream-mcp did not start")
    return proc, port


def task_ids(path):
    with open(path) as f:
        return re.findall(r'"taskId":"([^"]+)"', f.read())


def task_cost(fake_port, scratch, calls):
    """Median latency of a plain call answered on the spot vs. a call answered with a task at
    once (`--task-after-seconds 0`), which writes the task durably before answering."""
    proc, port = start_server(fake_port, os.path.join(scratch, "cost.redb"))
    try:
        plain = run_load(port, CALL_HEADERS, call_body("[[fake:slow=0]] a lighthouse", False), 1, calls, 60)
        task = run_load(port, CALL_HEADERS, call_body("[[fake:slow=300]] a lighthouse", True), 1, calls, 60)
    finally:
        stop(proc)
    return {"calls": calls, "plain_p50_ms": plain["p50_ms"], "task_p50_ms": task["p50_ms"],
            "task_over_plain_ms": round(task["p50_ms"] - plain["p50_ms"], 3),
            "errors": plain["errors"] + task["errors"]}


def store_under_load(fake_port, scratch, n, rounds=3):
    """The bench's HTTP section (n concurrent generate_image, 1 s upstream) with and without
    the embedded store, alternating, `rounds` times each; the medians are reported."""
    runs = {"memory": [], "embedded": []}
    for _ in range(rounds):
        for label, store in (("memory", "memory"), ("embedded", os.path.join(scratch, "load.redb"))):
            proc, port = start_server(fake_port, store)
            try:
                r = run_load(port, CALL_HEADERS, call_body("[[fake:slow=1000]] a lighthouse", False), n, n, 60)
                r.pop("intervals", None)
                r["peak_rss_mib"] = rss_mib(proc.pid, "VmHWM")
                runs[label].append(r)
            finally:
                stop(proc)
    out = {}
    for label, rs in runs.items():
        out[label] = {"wall_s": statistics.median(r["wall_s"] for r in rs),
                      "p50_ms": statistics.median(r["p50_ms"] for r in rs),
                      "peak_rss_mib": statistics.median(r["peak_rss_mib"] for r in rs),
                      "errors": sum(r["errors"] for r in rs), "walls": [round(r["wall_s"], 3) for r in rs]}
    out["wall_change_pct"] = round(100 * (out["embedded"]["wall_s"] / out["memory"]["wall_s"] - 1), 2)
    return out


def start_redis(scratch):
    binary = shutil.which("redis-server") or shutil.which("valkey-server")
    if binary is None:
        raise SystemExit("redis-server is not installed: apt install redis-server (the Redis figures need it)")
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", scratch], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not wait_until(lambda: _connects(port), seconds=10):
        stop(proc)
        raise SystemExit("redis-server did not start")
    return proc, f"redis://127.0.0.1:{port}"


def _connects(port):
    try:
        http.client.HTTPConnection("127.0.0.1", port, timeout=1).connect()
        return True
    except OSError:
        return False


_local = threading.local()


def task_status(port, task_id):
    """`tasks/get` over a keep-alive connection of this thread's own."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tasks/get",
                       "params": {"taskId": task_id, "_meta": meta(True)}})
    conns = getattr(_local, "conns", None)
    if conns is None:
        conns = _local.conns = {}
    c = conns.get(port) or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conns[port] = c
    try:
        c.request("POST", "/mcp", body, {"Content-Type": "application/json",
                                          "Accept": "application/json, text/event-stream",
                                          "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tasks/get",
                                          "Mcp-Name": task_id})
        text = c.getresponse().read().decode()
    except (OSError, http.client.HTTPException):
        conns.pop(port, None).close()
        return "error"
    m = re.search(r'"status":"(\w+)"', text)
    return m.group(1) if m else "error"


def redis_pair(fake_port, scratch, per_instance):
    """Two instances on one Redis; each gets `per_instance` concurrent task-creating calls
    against a 1 s upstream; every task is then read through the other instance until it
    completes. Reported: when the last one was seen completed, counted from the first call."""
    redis, url = start_redis(scratch)
    procs = []
    try:
        a, pa = start_server(fake_port, url, {"SEEDREAM_INSTANCE": "a"})
        procs.append(a)
        b, pb = start_server(fake_port, url, {"SEEDREAM_INSTANCE": "b"})
        procs.append(b)
        body = call_body("[[fake:slow=1000]] a lighthouse", True)
        dumps = {p: os.path.join(scratch, f"answers-{p}.txt") for p in (pa, pb)}
        t0 = time.monotonic()
        loads = {p: subprocess.Popen([LOAD, "--url", f"http://127.0.0.1:{p}/mcp", "--concurrency", str(per_instance),
                                      "--requests", str(per_instance), "--max-seconds", "30", "--body", body,
                                      "--dump", dumps[p]] + sum((["--header", h] for h in CALL_HEADERS), []),
                                     stdout=subprocess.PIPE, text=True) for p in (pa, pb)}
        created = {p: json.loads(loads[p].communicate(timeout=90)[0]) for p in loads}
        created_s = time.monotonic() - t0
        # Each instance's tasks, read through the other one.
        pending = [(pb, t) for t in task_ids(dumps[pa])] + [(pa, t) for t in task_ids(dumps[pb])]
        total, statuses, last_done, rounds = len(pending), {}, None, []
        with concurrent.futures.ThreadPoolExecutor(48) as pool:
            deadline = t0 + 30
            while pending and time.monotonic() < deadline:
                began = time.monotonic() - t0
                results = list(pool.map(lambda pt: (pt, task_status(*pt)), pending))
                pending = [pt for pt, s in results if s != "completed"]
                for pt, s in results:
                    statuses[pt[1]] = s
                # Each round: when it began and ended, and how many were still not completed.
                rounds.append((round(began, 3), round(time.monotonic() - t0, 3), len(pending)))
                if not pending:
                    last_done = time.monotonic() - t0
                else:
                    time.sleep(0.05)
        counts = {}
        for s in statuses.values():
            counts[s] = counts.get(s, 0) + 1
        return {"per_instance": per_instance, "tasks": total,
                "create_errors": sum(c["errors"] for c in created.values()),
                "first_error": next((c["first_error"] for c in created.values() if c["first_error"]), None),
                "create_p50_ms": {str(p): created[p]["p50_ms"] for p in created},
                "all_created_s": round(created_s, 3),
                "all_completed_via_other_s": round(last_done, 3) if last_done else None,
                "statuses": counts, "rounds": rounds}
    finally:
        for p in procs:
            stop(p)
        stop(redis)


def main():
    per_instance = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    scratch = tempfile.mkdtemp(prefix="seedream-bench-tasks-")
    fake, fake_port = start_fake()
    results = {}
    try:
        only = os.environ.get("SEEDREAM_BENCH_ONLY", "cost,load,redis").split(",")
        if "cost" in only:
            results["task_cost"] = c = task_cost(fake_port, scratch, 200)
            print(f"task creation (median of 200, embedded store): plain call {c['plain_p50_ms']} ms, "
                  f"task {c['task_p50_ms']} ms, over plain {c['task_over_plain_ms']} ms")
        if "load" in only:
            results["store_under_load"] = s = store_under_load(fake_port, scratch, 200)
            print(f"200 concurrent, 1 s upstream: memory {s['memory']['wall_s']:.3f} s / {s['memory']['peak_rss_mib']:.1f} "
                  f"MiB, embedded {s['embedded']['wall_s']:.3f} s / {s['embedded']['peak_rss_mib']:.1f} MiB "
                  f"({s['wall_change_pct']:+.2f} %), errors {s['memory']['errors'] + s['embedded']['errors']}")
        if "redis" in only:
            results["redis"] = r = redis_pair(fake_port, scratch, per_instance)
            print(f"Redis, 2 x {r['per_instance']} task-creating calls, 1 s upstream: {r['tasks']} tasks created in "
                  f"{r['all_created_s']} s ({r['create_errors']} errors), all completed as read through the other "
                  f"instance by {r['all_completed_via_other_s']} s; statuses {r['statuses']}")
    finally:
        stop(fake)
        shutil.rmtree(scratch, ignore_errors=True)
    out = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "bench")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "tasks.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
