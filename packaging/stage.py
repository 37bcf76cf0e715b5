#!/usr/bin/env python3
"""Stages and checks the distribution artifacts; packaging/check.sh and the release workflow call it.

Standard library only, so that it runs on a fresh machine and on every CI runner.

  npm-platform   write the per-platform npm package (package.json + the binary)
  mcpb-stage     lay out the .mcpb folder (manifest, icon, one binary per OS)
  mcpb-unpack    unpack a .mcpb as Claude Desktop does, keeping the files' modes
  mcpb-command   print the command Claude Desktop would start from an unpacked bundle
  handshake      run an MCP initialize + tools/list against a stdio command
  versions       check that every manifest names the same version as Cargo.toml
  server-json    write server.json with the .mcpb's SHA-256 filled in
  schema-source  check the vendored registry schema against its recorded source
"""

import argparse
import hashlib
import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"

# npm's names for the release targets: (os, cpu) as in process.platform / process.arch.
NPM_PLATFORMS = {
    "x86_64-unknown-linux-musl": ("linux", "x64"),
    "x86_64-unknown-linux-gnu": ("linux", "x64"),
    "aarch64-unknown-linux-musl": ("linux", "arm64"),
    "x86_64-apple-darwin": ("darwin", "x64"),
    "aarch64-apple-darwin": ("darwin", "arm64"),
    "x86_64-pc-windows-msvc": ("win32", "x64"),
}
# Windows on Arm runs the x64 binary under emulation: the x64 package installs there too, and the
# launcher falls back to it.
EXTRA_CPUS = {("win32", "x64"): ["arm64"]}


class CheckFailed(Exception):
    """A check found a mismatch; its message is the one line check.sh prints."""


def cargo_version() -> str:
    text = (ROOT / "Cargo.toml").read_text(encoding="utf-8")
    match = re.search(r'^\[package\][^\[]*?^version\s*=\s*"([^"]+)"', text, re.M | re.S)
    if not match:
        raise CheckFailed("no [package] version in Cargo.toml")
    return match.group(1)


def load_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise CheckFailed(f"cannot read {path}: {err}") from err


def write_json(path: Path, value) -> None:
    path.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")


# --- npm --------------------------------------------------------------------------------------


def npm_platform(args) -> None:
    os_name, cpu = NPM_PLATFORMS.get(args.target, (None, None))
    if os_name is None:
        raise CheckFailed(f"no npm platform for target {args.target}")
    exe = "seedream-mcp.exe" if os_name == "win32" else "seedream-mcp"
    out = Path(args.out)
    (out / "bin").mkdir(parents=True, exist_ok=True)
    template = (PACKAGING / "npm" / "platform" / "package.json.in").read_text(encoding="utf-8")
    for key, value in {
        "@PLATFORM@": f"{os_name}-{cpu}",
        "@VERSION@": cargo_version(),
        "@OS@": os_name,
        "@CPUS@": json.dumps([cpu] + EXTRA_CPUS.get((os_name, cpu), [])),
        "@EXE@": exe,
    }.items():
        template = template.replace(key, value)
    (out / "package.json").write_text(template, encoding="utf-8")
    shutil.copy2(args.binary, out / "bin" / exe)
    (out / "bin" / exe).chmod(0o755)
    print(f"@seedream-mcp/{os_name}-{cpu}")


# --- mcpb -------------------------------------------------------------------------------------


def mcpb_stage(args) -> None:
    manifest = load_json(PACKAGING / "mcpb" / "manifest.json")
    out = Path(args.out)
    binaries = {"linux": args.linux, "darwin": args.darwin, "win32": args.win32}
    present = []
    for os_name, binary in binaries.items():
        if not binary:
            continue
        exe = "seedream-mcp.exe" if os_name == "win32" else "seedream-mcp"
        target = out / "server" / os_name / exe
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(binary, target)
        target.chmod(0o755)
        present.append(os_name)
    if not present:
        raise CheckFailed("mcpb-stage: no binary given")
    # A bundle claims only the systems whose binary it carries.
    manifest["compatibility"]["platforms"] = [
        p for p in manifest["compatibility"]["platforms"] if p in present
    ]
    shutil.copy2(PACKAGING / "mcpb" / "icon.png", out / "icon.png")
    write_json(out / "manifest.json", manifest)
    print(" ".join(present))


def mcpb_unpack(args) -> None:
    out = Path(args.out)
    with zipfile.ZipFile(args.bundle) as bundle:
        bundle.extractall(out)
        # Python's extractor drops the Unix modes that the archive records; restore them.
        for info in bundle.infolist():
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                (out / info.filename).chmod(mode)
        names = bundle.namelist()
    for name in names:
        if name.startswith("server/") and not os.access(out / name, os.X_OK):
            raise CheckFailed(f"{name} is not executable in the bundle (Unix mode lost when packing)")
    print(f"{len(names)} files")


def substitute(text: str, dirname: str, user_config: dict) -> str:
    def replace(match):
        name = match.group(1)
        if name == "__dirname":
            return dirname
        if name == "HOME":
            return os.environ.get("HOME", "")
        if name.startswith("user_config."):
            key = name[len("user_config.") :]
            if key not in user_config:
                raise CheckFailed(f"mcp_config names ${{{name}}}, which user_config does not define")
            return user_config[key]
        raise CheckFailed(f"mcp_config uses ${{{name}}}, which this check does not know")

    return re.sub(r"\$\{([^}]+)\}", replace, text)


def mcpb_command(args) -> None:
    """Resolves mcp_config as Claude Desktop does: platform override, then substitutions."""
    bundle = Path(args.bundle).resolve()
    manifest = load_json(bundle / "manifest.json")
    given = dict(item.split("=", 1) for item in args.set)
    user_config = {}
    for key, spec in manifest.get("user_config", {}).items():
        if key in given:
            user_config[key] = given.pop(key)
        elif spec.get("required"):
            raise CheckFailed(f"user_config.{key} is required: pass --set {key}=…")
        elif "default" not in spec:
            # Claude Desktop would substitute an empty string, and the server refuses an empty
            # setting (clap: "a value is required"), so the bundle would not start.
            raise CheckFailed(f"optional user_config.{key} has no default: the server would get an empty value")
        else:
            user_config[key] = substitute(str(spec.get("default", "")), str(bundle), {})
    if given:
        raise CheckFailed(f"--set names keys the manifest does not have: {sorted(given)}")
    config = dict(manifest["server"]["mcp_config"])
    override = config.pop("platform_overrides", {}).get(sys.platform, {})
    config.update(override)
    command = substitute(config["command"], str(bundle), user_config)
    argv = [command] + [substitute(a, str(bundle), user_config) for a in config.get("args", [])]
    env = {k: substitute(v, str(bundle), user_config) for k, v in config.get("env", {}).items()}
    if not Path(command).is_file():
        raise CheckFailed(f"the bundle's command {command} does not exist")
    print(json.dumps({"argv": argv, "env": env}))


# --- MCP handshake ----------------------------------------------------------------------------


def handshake(args) -> None:
    """initialize, notifications/initialized, tools/list; then stdin closes and the server must exit 0."""
    env = dict(os.environ)
    if args.env_json:
        env.update(json.loads(Path(args.env_json).read_text(encoding="utf-8"))["env"])
    argv = args.command
    if args.argv_json:
        argv = json.loads(Path(args.argv_json).read_text(encoding="utf-8"))["argv"] + argv
    if not argv:
        raise CheckFailed("handshake: no command")
    stderr = open(args.stderr, "wb") if args.stderr else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=env
        )
    except OSError as err:
        raise CheckFailed(f"cannot start {argv[0]}: {err}") from err
    deadline = time.monotonic() + args.timeout
    buffer = b""

    def send(message) -> None:
        proc.stdin.write(json.dumps(message).encode() + b"\n")
        proc.stdin.flush()

    def receive(want_id):
        nonlocal buffer
        while True:
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                try:
                    message = json.loads(line)
                except ValueError as err:
                    raise CheckFailed(f"stdout carried a line that is not JSON: {line[:120]!r}") from err
                if message.get("id") == want_id:
                    if "error" in message:
                        raise CheckFailed(f"request {want_id} failed: {message['error']}")
                    return message["result"]
            left = deadline - time.monotonic()
            if left <= 0:
                raise CheckFailed(f"no answer to request {want_id} within {args.timeout} s")
            ready, _, _ = select.select([proc.stdout], [], [], left)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    raise CheckFailed(f"the server closed stdout (exit {proc.wait()})")
                buffer += chunk

    try:
        send(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "seedream-packaging-check", "version": "1"},
                },
            }
        )
        info = receive(1).get("serverInfo", {})
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        names = sorted(tool["name"] for tool in receive(2).get("tools", []))
        proc.stdin.close()
        try:
            code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired as err:
            raise CheckFailed("the server did not exit after stdin closed") from err
        if code != 0:
            raise CheckFailed(f"the server exited with {code} after stdin closed")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if args.expect_tools:
        expected = sorted(args.expect_tools.split(","))
        if names != expected:
            raise CheckFailed(f"tools/list named {names}, expected {expected}")
    if args.expect_version and info.get("version") != args.expect_version:
        raise CheckFailed(f"serverInfo.version is {info.get('version')}, expected {args.expect_version}")
    print(f"{info.get('name')} {info.get('version')}: {len(names)} tools ({', '.join(names)})")


# --- versions and the registry ----------------------------------------------------------------


def wheel_version(path: Path) -> str:
    with zipfile.ZipFile(path) as wheel:
        for name in wheel.namelist():
            if name.endswith(".dist-info/METADATA"):
                for line in wheel.read(name).decode().splitlines():
                    if line.startswith("Version: "):
                        return line.split(": ", 1)[1]
    raise CheckFailed(f"{path} has no METADATA version")


def versions(args) -> None:
    want = cargo_version()
    found = {}
    launcher = load_json(PACKAGING / "npm" / "seedream-mcp" / "package.json")
    found["npm seedream-mcp"] = launcher["version"]
    for name, version in launcher.get("optionalDependencies", {}).items():
        found[f"npm optionalDependencies {name}"] = version
    for path in args.npm_platform or []:
        found[f"npm {Path(path).name}"] = load_json(Path(path) / "package.json")["version"]
    if args.wheel:
        found["wheel"] = wheel_version(Path(args.wheel))
    found["mcpb manifest.json"] = load_json(PACKAGING / "mcpb" / "manifest.json")["version"]
    for installer, pattern in (
        ("install.sh", r"SEEDREAM_MCP_VERSION:-([^}]+)\}"),
        ("install.ps1", r"else \{ '([^']+)' \}"),
    ):
        match = re.search(pattern, (PACKAGING / installer).read_text(encoding="utf-8"))
        found[installer] = match.group(1) if match else "(no default version found)"
    server = load_json(ROOT / "server.json")
    found["server.json"] = server["version"]
    for package in server.get("packages", []):
        if "version" in package:
            found[f"server.json {package['registryType']}"] = package["version"]
        tag = re.search(r"[:/]v?(\d+\.\d+\.\d+[^/:]*?)(?:/|$)", package["identifier"])
        if package["registryType"] in ("oci", "mcpb") and tag:
            found[f"server.json {package['registryType']} identifier"] = tag.group(1)
    wrong = {k: v for k, v in found.items() if v != want}
    if wrong:
        raise CheckFailed(f"versions differ from Cargo.toml's {want}: {wrong}")
    names = {
        "package.json mcpName": launcher.get("mcpName"),
        "server.json name": server["name"],
    }
    readme = (PACKAGING / "pypi" / "README.md").read_text(encoding="utf-8")
    marker = re.search(r"^mcp-name: (\S+)$", readme, re.M)
    names["PyPI README mcp-name"] = marker.group(1) if marker else None
    cargo_readme = (ROOT / "README.md").read_text(encoding="utf-8")
    marker = re.search(r"mcp-name: (\S+)", cargo_readme)
    names["README.md (crates.io) mcp-name"] = marker.group(1) if marker else None
    label = re.search(
        r'io\.modelcontextprotocol\.server\.name="([^"]+)"',
        (ROOT / "Dockerfile").read_text(encoding="utf-8"),
    )
    names["Dockerfile OCI label"] = label.group(1) if label else None
    if len(set(names.values())) != 1:
        raise CheckFailed(f"the registry ownership markers differ: {names}")
    print(f"{want} in {len(found)} places; ownership markers name {server['name']} in {len(names)}")


def server_json(args) -> None:
    server = load_json(ROOT / "server.json")
    digest = hashlib.sha256(Path(args.mcpb).read_bytes()).hexdigest()
    for package in server["packages"]:
        if package["registryType"] == "mcpb":
            package["fileSha256"] = digest
    write_json(Path(args.out), server)
    print(digest)


def schema_source(args) -> None:
    schema_path = PACKAGING / "registry" / "server.schema.json"
    source = (PACKAGING / "registry" / "SOURCE.md").read_text(encoding="utf-8")
    digest = hashlib.sha256(schema_path.read_bytes()).hexdigest()
    if digest not in source:
        raise CheckFailed(f"server.schema.json's SHA-256 {digest} is not the one SOURCE.md records")
    schema_id = load_json(schema_path).get("$id")
    declared = load_json(ROOT / "server.json").get("$schema")
    if schema_id != declared or schema_id not in source:
        raise CheckFailed(f"server.json's $schema {declared} is not the vendored schema {schema_id}")
    print(schema_id)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("npm-platform")
    p.add_argument("--target", required=True)
    p.add_argument("--binary", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(run=npm_platform)

    p = sub.add_parser("mcpb-stage")
    p.add_argument("--out", required=True)
    p.add_argument("--linux")
    p.add_argument("--darwin")
    p.add_argument("--win32")
    p.set_defaults(run=mcpb_stage)

    p = sub.add_parser("mcpb-unpack")
    p.add_argument("bundle")
    p.add_argument("--out", required=True)
    p.set_defaults(run=mcpb_unpack)

    p = sub.add_parser("mcpb-command")
    p.add_argument("bundle")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.set_defaults(run=mcpb_command)

    p = sub.add_parser("handshake")
    p.add_argument("--timeout", type=float, default=30)
    p.add_argument("--expect-tools")
    p.add_argument("--expect-version")
    p.add_argument("--argv-json", help="a file whose argv starts the command (mcpb-command's output)")
    p.add_argument("--env-json", help="a file whose env is added (mcpb-command's output)")
    p.add_argument("--stderr", help="where the server's stderr goes")
    p.add_argument("command", nargs="*")
    p.set_defaults(run=handshake)

    p = sub.add_parser("versions")
    p.add_argument("--wheel")
    p.add_argument("--npm-platform", action="append")
    p.set_defaults(run=versions)

    p = sub.add_parser("server-json")
    p.add_argument("--mcpb", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(run=server_json)

    p = sub.add_parser("schema-source")
    p.set_defaults(run=schema_source)

    args = parser.parse_args()
    try:
        args.run(args)
    except CheckFailed as err:
        print(err)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
