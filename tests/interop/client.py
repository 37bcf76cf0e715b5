"""Drives seedream-mcp with the official MCP Python SDK (pinned in requirements.txt) and checks
what comes back, the way an MCP host would see it.

    client.py stdio --mode auto|legacy [--bridge] -- COMMAND [ARG...]
    client.py http  --mode auto|legacy [--header 'Name: value'] http://127.0.0.1:PORT/mcp
    client.py sse   --mode legacy [--header 'Name: value'] http://127.0.0.1:PORT/sse

The server is expected to talk to the project's fake API (SEEDREAM_BASE_URL and
SEEDREAM_API_KEY in the environment; a stdio command gets the SEEDREAM_* variables and
AUTH_HEADER passed on) with SEEDREAM_WAIT_SECONDS short enough for the job check below.
`--bridge` says the stdio command is a bridge to seedream-mcp over HTTP (such as mcp-remote).
Each check prints one line, `ok <label> <check>` or `FAIL <label> <check>: <why>`; the exit
status is 1 if any failed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

import httpx2
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.client.stdio import StdioServerParameters, get_default_environment
from mcp.shared.exceptions import MCPError

from fixtures import MAGIC, TOOLS, tiny_png_data_uri

# What each connection mode must negotiate: `auto` probes server/discover first.
EXPECTED_PROTOCOL = {"auto": "2026-07-28", "legacy": "2025-11-25"}
CALL_TIMEOUT_S = 30.0


class Checks:
    """Runs named checks, printing one line each, and remembers whether any failed."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.failed = 0

    @contextlib.asynccontextmanager
    async def check(self, name: str):
        started = time.monotonic()
        try:
            yield
        except Exception as e:  # noqa: BLE001 - every failure is reported, none stops the run
            self.failed += 1
            ours = isinstance(e, AssertionError) and str(e)  # a check of this file, with its reason
            why = str(e) if ours else f"{type(e).__name__}: {e!r} at {where(e)}"
            print(f"FAIL {self.label} {name}: {why}", flush=True)
            if not ours:
                traceback.print_exc(file=sys.stderr)
        else:
            print(f"ok {self.label} {name} ({time.monotonic() - started:.2f} s)", flush=True)


def where(e: BaseException) -> str:
    """The file and line an exception came from."""
    frames = traceback.extract_tb(e.__traceback__)
    return f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"


def text_of(result: Any) -> str:
    return "\n".join(b.text for b in result.content if b.type == "text")


def types_of(result: Any) -> list[str]:
    return [b.type for b in result.content]


async def finished(client: Client, result: Any) -> Any:
    """The final result of a call. A call slower than SEEDREAM_WAIT_SECONDS (a busy machine)
    answers with a job handle instead; follow it with get_job, as a model would."""
    for _ in range(8):
        job = result.structured_content or {}
        if result.is_error or job.get("status") != "running" or not job.get("job_id"):
            return result
        print(f"(following job {job['job_id']} of a slow call)", file=sys.stderr)
        result = await client.call_tool("get_job", {"job_id": job["job_id"], "wait_seconds": 30})
    return result


def expect_success(result: Any) -> str:
    text = text_of(result)
    assert not result.is_error, f"isError with: {text[:300]}"
    assert result.content and result.content[0].type == "text", f"text first, got {types_of(result)}"
    return text


def expect_tool_error(result: Any, *needles: str) -> str:
    text = text_of(result)
    assert result.is_error, f"expected isError, got content {types_of(result)}: {text[:200]}"
    for needle in needles:
        assert needle.lower() in text.lower(), f"error text lacks {needle!r}: {text[:300]}"
    return text


def check_images(result: Any, *, embedded: str, url: bool = True) -> list[dict[str, Any]]:
    """Image blocks decode to real images; structuredContent carries metadata, never base64.
    A `b64_json` answer has no URL: the upstream sent the image itself."""
    structured = result.structured_content
    assert isinstance(structured, dict), f"structuredContent missing: {structured!r}"
    images = structured.get("images")
    assert isinstance(images, list) and images, f"structuredContent.images empty: {structured}"
    for meta in images:
        assert str(meta.get("url", "")).startswith("http") == url, f"url should be {url}: {meta}"
        assert meta.get("width", 0) > 0 and meta.get("height", 0) > 0, f"no dimensions: {meta}"
        assert meta.get("embedded") == embedded, f"embedded should be {embedded!r}: {meta}"
    longest = max(len(s) for s in strings_in(structured))
    assert longest < 2000, f"structuredContent holds a {longest}-character string (base64?)"
    blocks = [b for b in result.content if b.type == "image"]
    assert len(blocks) == len(images), f"{len(images)} images but {len(blocks)} image blocks"
    for block in blocks:
        raw = base64.b64decode(block.data, validate=True)
        magic = MAGIC.get(block.mime_type)
        assert magic and raw.startswith(magic), f"{block.mime_type} block does not decode as one"
    return images


def check_provenance(path: Path, prompt: str) -> None:
    """Reads a saved file's metadata with Pillow, a reader this project did not write."""
    from PIL import Image

    with Image.open(path) as im:
        im.load()  # checks the PNG chunks' CRCs and decodes the pixels
        if im.format == "PNG":
            xmp = im.text.get("XML:com.adobe.xmp", "")
            assert im.text.get("Description") == prompt, f"Description: {im.text.get('Description')!r}"
            assert "Model: " in im.text.get("parameters", ""), im.text.get("parameters")
        else:
            assert im.format == "JPEG", im.format
            xmp = im.info.get("xmp", b"").decode()
            comment = im.info.get("comment", b"")
            assert comment.startswith(b"AI-generated image"), f"COM: {comment!r}"
    assert "Iptc4xmpExt:DigitalSourceType=\"http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia\"" in xmp, xmp
    assert prompt.replace('"', "&quot;") in xmp, xmp


def strings_in(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings_in(v)
    yield ""


async def run_checks(client: Client, c: Checks, saves: bool, mode: str, wait_s: float) -> None:
    """`saves`: whether the server saves images (over HTTP it does not unless SEEDREAM_SAVE=true)."""
    saved: list[str] = []

    async with c.check("protocol"):
        want = EXPECTED_PROTOCOL[mode]
        assert client.protocol_version == want, f"negotiated {client.protocol_version}, want {want}"

    if mode == "legacy":
        async with c.check("ping"):
            with warnings.catch_warnings():  # the SDK warns that 2026-07-28 has no ping
                warnings.simplefilter("ignore")
                await client.send_ping()

    async with c.check("tools/list"):
        tools = (await client.list_tools()).tools
        names = {t.name for t in tools}
        assert names == TOOLS, f"tools: {sorted(names)}"
        for t in tools:
            assert t.description and len(t.description) > 20, f"{t.name}: no description"
            schema = t.input_schema
            assert schema.get("type") == "object" and schema.get("properties"), f"{t.name}: {schema}"
            required = schema.get("required")
            assert isinstance(required, list) and required, f"{t.name}: required {required!r}"

    async with c.check("generate_image"):
        r = await finished(client, await client.call_tool("generate_image", {"prompt": "a red fox in the snow"}))
        text = expect_success(r)
        assert "Generated 1 image" in text, text[:300]
        images = check_images(r, embedded="preview")
        assert images[0]["url"] in text, "the URL is in the text for the model"
        links = [b for b in r.content if b.type == "resource_link"]
        if saves:
            path = Path(images[0]["path"])
            out_dir = Path(os.environ["SEEDREAM_OUTPUT_DIR"]).resolve()
            assert path.is_file() and out_dir in path.resolve().parents, f"not saved in {out_dir}: {path}"
            assert str(path) in text, "the saved path is in the text"
            assert [str(link.uri) for link in links] == [path.as_uri()], f"resource_link: {links}"
            saved.append(str(path))
        else:
            assert not links and "path" not in images[0], "saving is off over HTTP by default"

    if saves and saved:
        async with c.check("resources/read"):
            read = await client.read_resource(Path(saved[0]).as_uri())
            blob = base64.b64decode(read.contents[0].blob)
            assert blob == Path(saved[0]).read_bytes(), "resources/read returns the saved file"

    async with c.check("generate_image b64_json"):
        # 1K on 4.0: small enough (<= 1568 px) to be embedded as it is, which b64_json asks for.
        r = await client.call_tool(
            "generate_image",
            {"prompt": "a lighthouse at dusk", "model": "4.0", "size": "1K", "response_format": "b64_json"},
        )
        r = await finished(client, r)
        text = expect_success(r)
        check_images(r, embedded="full", url=False)
        assert "full resolution" in text, text[:400]

    if saves:
        async with c.check("provenance in saved files (Pillow)"):
            prompt = "a glass teapot, \"studio\" light"
            for args in ({}, {"model": "5.0", "output_format": "png"}):
                r = await finished(client, await client.call_tool("generate_image", {"prompt": prompt, **args}))
                expect_success(r)
                check_provenance(Path(check_images(r, embedded="preview")[0]["path"]), prompt)

    async with c.check("resources/list"):
        if not saves:
            # Saving off: an image only the server keeps (data, not embedded) is in the history.
            r = await client.call_tool(
                "generate_image", {"prompt": "a fox", "response_format": "b64_json", "embed": "none"}
            )
            expect_success(await finished(client, r))
        listed = await client.list_resources()
        uris = [str(r.uri) for r in listed.resources]
        jobs = [u for u in uris if u.startswith("seedream://jobs/") and "/images/" not in u]
        assert jobs, f"no job in resources/list: {uris}"
        if saves and saved:
            assert Path(saved[0]).as_uri() in uris, f"{saved[0]} not in {uris}"
        read = await client.read_resource(jobs[0])
        summary = json.loads(read.contents[0].text)
        assert summary["prompt"] and summary["images"], summary
        image = await client.read_resource(summary["images"][0]["uri"])
        assert base64.b64decode(image.contents[0].blob), "the job's image reads back"

    async with c.check("resources/templates/list"):
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        expected = {"file://{+path}", "seedream://jobs/{job_id}", "seedream://jobs/{job_id}/images/{index}"}
        assert expected <= templates, f"templates: {sorted(templates)}"

    async with c.check("edit_image"):
        refs = [tiny_png_data_uri()] + saved  # a saved path works as a reference too
        r = await finished(client, await client.call_tool("edit_image", {"prompt": "make it snow", "images": refs}))
        assert "Generated 1 image" in expect_success(r)
        check_images(r, embedded="preview")

    async with c.check("generate_sequence"):
        r = await client.call_tool(
            "generate_sequence", {"prompt": "[[fake:n=3]] three panels of a cat's day", "max_images": 3}
        )
        r = await finished(client, r)
        assert "Generated 3 of up to 3 images" in expect_success(r)
        assert len(check_images(r, embedded="preview")) == 3

    async with c.check("progress"):
        seen: list[tuple[float, float | None, str | None]] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            seen.append((progress, total, message))

        r = await client.call_tool(
            "generate_sequence",
            {"prompt": "[[fake:n=2,slow=400]] two panels", "max_images": 2},
            progress_callback=on_progress,
        )
        expect_success(await finished(client, r))
        assert len(seen) >= 2, f"{len(seen)} progress notifications: {seen}"
        values = [p for p, _, _ in seen]
        assert all(a < b for a, b in zip(values, values[1:])), f"progress must increase: {values}"
        assert all(m for _, _, m in seen), f"every notification has a message: {seen}"
        assert all(t is None or p <= t for p, t, _ in seen), f"progress beyond total: {seen}"

    async with c.check("tool error (bad argument)"):
        r = await client.call_tool("generate_image", {"prompt": ""})
        expect_tool_error(r, "prompt", "Nothing was sent")

    async with c.check("tool error (upstream refusal)"):
        r = await client.call_tool("generate_image", {"prompt": "[[fake:input_text_sensitive]] something"})
        expect_tool_error(r, "rephrase")

    async with c.check("unknown tool"):
        try:
            r = await client.call_tool("no_such_tool", {})
        except MCPError as e:
            assert e.error.code in (-32602, -32601), f"code {e.error.code}: {e.error.message}"
        else:
            expect_tool_error(r, "no_such_tool")

    async with c.check("get_job"):
        # Slower than SEEDREAM_WAIT_SECONDS: the call answers with a job handle instead of timing out.
        slow_ms = int((wait_s + 1.0) * 1000)
        r = await client.call_tool("generate_image", {"prompt": f"[[fake:slow={slow_ms}]] a slow owl"})
        text = expect_success(r)
        job = r.structured_content or {}
        assert job.get("status") == "running" and job.get("job_id"), f"no job handle: {job} {text[:200]}"
        assert job["job_id"] in text and "get_job" in text, f"the text says how to continue: {text[:300]}"
        done = await finished(client, await client.call_tool("get_job", {"job_id": job["job_id"], "wait_seconds": 20}))
        assert "Generated 1 image" in expect_success(done)
        check_images(done, embedded="preview")

    async with c.check("get_job unknown id"):
        r = await client.call_tool("get_job", {"job_id": "0123456789abcdef0123456789abcdef"})
        expect_tool_error(r, "Unknown or expired job_id")


# Over the default confirmation threshold (0.50 USD): up to 15 images with 4.5 at 0.04 USD.
EXPENSIVE = {"prompt": "[[fake:n=2]] fifteen panels", "max_images": 15, "model": "4.5"}


async def check_refused_cost(client: Client, c: Checks) -> None:
    """This client declares no elicitation: an expensive call is refused naming the argument."""
    async with c.check("cost confirmation without elicitation"):
        r = await client.call_tool("generate_sequence", EXPENSIVE)
        expect_tool_error(r, "`confirm_cost: true`", "nothing was billed")
        r = await finished(client, await client.call_tool("generate_sequence", EXPENSIVE | {"confirm_cost": True}))
        assert "Generated 2 of up to 15 images" in expect_success(r), text_of(r)[:300]


def person(action: str, asked: list[str]):
    """An elicitation callback that answers every question with `action`, noting each question."""

    async def answer(context: Any, params: Any) -> Any:
        from mcp.types import ElicitResult

        asked.append(params.message)
        assert "proceed" in params.requested_schema["properties"], params.requested_schema
        return ElicitResult(action=action, content={"proceed": True} if action == "accept" else None)

    return answer


async def check_confirmed_cost(connect: Any, c: Checks, mode: str) -> None:
    """Clients that declare elicitation are asked (elicitation/create in 2025, MRTR in 2026-07-28)."""
    for action in ("accept", "decline"):
        asked: list[str] = []
        async with c.check(f"cost confirmation {action}"):
            async with Client(connect(), mode=mode, read_timeout_seconds=CALL_TIMEOUT_S,
                              elicitation_callback=person(action, asked)) as client:
                r = await client.call_tool("generate_sequence", EXPENSIVE)
            assert len(asked) == 1 and "0.60 USD" in asked[0], f"asked: {asked}"
            if action == "accept":
                assert "Generated 2 of up to 15 images" in expect_success(r), text_of(r)[:300]
            else:
                expect_tool_error(r, "declined", "nothing was billed")


def stdio_params(command: list[str]) -> StdioServerParameters:
    # The SDK gives a child only a minimal environment: pass the server's settings on explicitly.
    passed = {k: v for k, v in os.environ.items() if k.startswith(PASSED_ENV)}
    return StdioServerParameters(command=command[0], args=command[1:], env=get_default_environment() | passed)


PASSED_ENV = ("SEEDREAM_", "RUST_LOG", "AUTH_HEADER", "MCP_REMOTE_CONFIG_DIR", "NO_PROXY", "no_proxy")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("transport", choices=["stdio", "http", "sse"])
    parser.add_argument("target", nargs="+", help="the URL (http, sse) or the command line (stdio)")
    parser.add_argument("--mode", choices=["auto", "legacy"], default="auto")
    parser.add_argument("--header", action="append", default=[], help="'Name: value' (http, sse)")
    parser.add_argument("--bridge", action="store_true", help="the stdio command is a bridge to HTTP")
    parser.add_argument("--label", help="names this run in the output")
    args = parser.parse_args()

    label = args.label or f"python/{args.transport}/{args.mode}"
    headers = dict(h.split(":", 1) for h in args.header)
    # Values may name environment variables, e.g. 'Authorization:${AUTH_HEADER}' (as mcp-remote's do).
    headers = {k.strip(): os.path.expandvars(v).strip() for k, v in headers.items()}

    def connect() -> Any:
        if args.transport == "stdio":
            return stdio_params(args.target)
        if args.transport == "http":
            http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(10, read=CALL_TIMEOUT_S))
            return streamable_http_client(args.target[0], http_client=http)
        return sse_client(args.target[0], headers=headers, timeout=10, sse_read_timeout=CALL_TIMEOUT_S)

    server = connect()
    saves = args.transport == "stdio" and not args.bridge
    wait_s = float(os.environ.get("SEEDREAM_WAIT_SECONDS", "50"))

    checks = Checks(label)
    try:
        async with Client(server, mode=args.mode, read_timeout_seconds=CALL_TIMEOUT_S) as client:
            await run_checks(client, checks, saves, args.mode, wait_s)
            await check_refused_cost(client, checks)
        # A bridge's own client (mcp-remote's) declares no elicitation, so through it the server
        # can only refuse, which check_refused_cost covers.
        if not args.bridge:
            await check_confirmed_cost(connect, checks, args.mode)
    except Exception as e:  # noqa: BLE001 - a failed connection is one more failed check
        checks.failed += 1
        print(f"FAIL {label} connection: {type(e).__name__}: {e}", flush=True)
        traceback.print_exc(file=sys.stderr)
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
