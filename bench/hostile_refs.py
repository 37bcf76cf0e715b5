#!/usr/bin/env python3
"""Peak memory and CPU of hostile reference images (issue 11, item 9).

Writes five small images that declare far more work than they carry (a 43-byte GIF with an
11000x11000 screen, PNG and TIFF bombs of 12000x12000 zeros, a JPEG claiming 16000x16000, a
progressive JPEG with 2,000 scans), then drives the server over stdio against the fake API
API: each image alone in a fresh server, then 16 concurrent `edit_image` calls (the five
kinds in turn) with SEEDREAM_MAX_CONCURRENCY=2. Reports the server's peak resident memory
(VmHWM) and CPU time (utime+stime). Targets: one reference <= 300 MB and <= 3 s of CPU;
16 concurrent calls <= 1 GB.

Usage:
  cargo build --release --bin seedream-mcp --bin seedream-fake && python3 bench/hostile_refs.py
  python3 bench/hostile_refs.py --bin target/debug/seedream-mcp   # a debug build works too
Loopback only; every process started is stopped by PID at the end.
"""
import argparse, base64, json, os, socket, struct, subprocess, sys, tempfile, threading, time, urllib.request, zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
MIME = {".gif": "image/gif", ".png": "image/png", ".tif": "image/tiff", ".jpg": "image/jpeg"}
CLOCK = os.sysconf("SC_CLK_TCK")


def fake_bin(server_bin):
    """The fake API binary: $SEEDREAM_FAKE_BIN, else `seedream-fake` beside the server binary."""
    return os.environ.get("SEEDREAM_FAKE_BIN", os.path.join(os.path.dirname(server_bin), "seedream-fake"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vm_hwm(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise KeyError("VmHWM")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK


def tiff_bomb(path, side=12000):
    """`side` x `side` grey zeros in one Deflate strip: a few hundred KB on disk."""
    deflate = zlib.compressobj(9)
    row = bytes(side)
    strip = b"".join(deflate.compress(row) for _ in range(side)) + deflate.flush()
    tags = [(256, 4, side), (257, 4, side), (258, 3, 8), (259, 3, 8), (262, 3, 1), (273, 4, 0),
            (277, 3, 1), (278, 4, side), (279, 4, len(strip))]
    ifd_at = 8
    data_at = ifd_at + 2 + 12 * len(tags) + 4
    out = bytearray(b"II*\0" + struct.pack("<I", ifd_at) + struct.pack("<H", len(tags)))
    for tag, kind, value in tags:
        value = data_at if tag == 273 else value
        packed = struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, kind, 1) + packed
    out += struct.pack("<I", 0) + strip
    with open(path, "wb") as f:
        f.write(out)


def claim_size(path, side):
    """Makes the progressive JPEG claim `side` x `side`, over the pixel cap, so the server has
    to decode it (a compliant reference is sent on untouched)."""
    with open(path, "rb") as f:
        data = bytearray(f.read())
    sof = data.find(b"\xff\xc2")
    data[sof + 5:sof + 9] = struct.pack(">HH", side, side)
    with open(path, "wb") as f:
        f.write(data)


def hostile_images(folder, given):
    if given:
        folder = given
    else:
        subprocess.run(["cargo", "run", "--quiet", "--example", "hostile_refs", "--", folder], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    claim_size(os.path.join(folder, "jpeg-2000-scans.jpg"), 8000)
    if not os.path.exists(os.path.join(folder, "tiff-bomb-12000.tif")):
        tiff_bomb(os.path.join(folder, "tiff-bomb-12000.tif"))
    out = []
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), "rb") as f:
            data = f.read()
        uri = f"data:{MIME[os.path.splitext(name)[1]]};base64,{base64.b64encode(data).decode()}"
        out.append((name, len(data), uri))
    return out


class Server:
    """The server over stdio; replies are matched to requests by id on a reader thread."""

    def __init__(self, binary, base_url, out):
        env = dict(os.environ, SEEDREAM_API_KEY="test-key", SEEDREAM_BASE_URL=base_url, SEEDREAM_OUTPUT_DIR=out,
                   SEEDREAM_MAX_CONCURRENCY="2", RUST_LOG="warn")
        self.proc = subprocess.Popen([binary, "stdio"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env)
        self.replies, self.cond = {}, threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        self.send({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}})
        self.wait([0])
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def _read(self):
        for line in self.proc.stdout:
            msg = json.loads(line)
            if "id" in msg:
                with self.cond:
                    self.replies[msg["id"]] = msg
                    self.cond.notify_all()

    def send(self, msg):
        self.proc.stdin.write((json.dumps(msg) + "\n").encode())
        self.proc.stdin.flush()

    def wait(self, ids, timeout=600):
        deadline = time.time() + timeout
        with self.cond:
            while not all(i in self.replies for i in ids):
                if not self.cond.wait(max(0.0, deadline - time.time())):
                    raise SystemExit(f"no reply to {[i for i in ids if i not in self.replies]}")
        return [self.replies[i] for i in ids]

    def edit(self, id_, uri):
        self.send({"jsonrpc": "2.0", "id": id_, "method": "tools/call", "params": {"name": "edit_image",
                   "arguments": {"prompt": "make it brighter", "images": [uri]}}})

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def outcome(msg):
    result = msg.get("result", {})
    text = next((c.get("text", "") for c in result.get("content", []) if c.get("type") == "text"), "")
    return ("refused: " if result.get("isError") else "ok: ") + text[:110].replace("\n", " ")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(TARGET, "release", "seedream-mcp"))
    ap.add_argument("--concurrent", type=int, default=16)
    ap.add_argument("--images", help="a folder already written by `cargo run --example hostile_refs -- DIR`")
    args = ap.parse_args()
    port = free_port()
    fake = subprocess.Popen([fake_bin(args.bin), "--listen", f"127.0.0.1:{port}"], stderr=subprocess.DEVNULL)
    work = tempfile.mkdtemp(prefix="seedream-hostile-")
    servers = []
    failed = False
    try:
        images = hostile_images(os.path.join(work, "refs"), args.images)
        base_url = f"http://127.0.0.1:{port}/v1"
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_fake/config", timeout=1).read()
                break
            except OSError:
                time.sleep(0.05)
        print(f"binary: {args.bin}")
        print(f"{'reference':<24}{'bytes':>9}{'peak MB':>10}{'CPU s':>8}  outcome")
        for name, size, uri in images:
            server = Server(args.bin, base_url, os.path.join(work, "out"))
            servers.append(server)
            cpu0 = cpu_seconds(server.proc.pid)
            server.edit(1, uri)
            [msg] = server.wait([1])
            peak, cpu = vm_hwm(server.proc.pid), cpu_seconds(server.proc.pid) - cpu0
            failed |= peak > 300e6 or cpu > 3
            print(f"{name:<24}{size:>9}{peak / 1e6:>10.1f}{cpu:>8.2f}  {outcome(msg)}")
            server.stop()
        server = Server(args.bin, base_url, os.path.join(work, "out"))
        servers.append(server)
        cpu0 = cpu_seconds(server.proc.pid)
        started = time.perf_counter()
        ids = list(range(1, args.concurrent + 1))
        for i in ids:
            server.edit(i, images[(i - 1) % len(images)][2])
        replies = server.wait(ids)
        peak, cpu = vm_hwm(server.proc.pid), cpu_seconds(server.proc.pid) - cpu0
        refused = sum(1 for m in replies if m.get("result", {}).get("isError"))
        failed |= peak > 1e9
        print(f"{args.concurrent} concurrent calls: peak {peak / 1e6:.1f} MB, CPU {cpu:.2f} s, "
              f"wall {time.perf_counter() - started:.2f} s, {refused} refused")
        return 1 if failed else 0
    finally:
        for s in servers:
            if s.proc.poll() is None:
                s.stop()
        fake.terminate()
        fake.wait()


if __name__ == "__main__":
    sys.exit(main())
