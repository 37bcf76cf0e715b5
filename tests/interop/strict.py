"""Strict-schema hosts: runs the conversions the OpenAI Agents SDK and google-genai apply to an
MCP server's tools on the real `tools/list`, then calls every tool with the arguments a strict
model sends (every property present, the unwanted ones null, or "" and 0 where a host forced a
value), against the fake API. Pinned in requirements.txt; run by run.sh.

    strict.py -- COMMAND [ARG...]      (a stdio server, e.g. seedream-mcp stdio)

Prints `ok <label>` / `FAIL <label>: <why>` lines; exits 1 if any failed.
"""

from __future__ import annotations

import asyncio
import copy
import os
import sys
import traceback
from typing import Any

from agents.strict_schema import ensure_strict_json_schema
from google.genai import _mcp_utils
from google.genai import types as genai
from mcp import Client
from mcp.client.stdio import StdioServerParameters, get_default_environment

from fixtures import TOOLS, tiny_png_data_uri

LABEL = "strict"
# What each tool cannot do without; everything else is optional.
TRULY_REQUIRED = {
    "generate_image": {"prompt"},
    "edit_image": {"prompt", "images"},
    "generate_sequence": {"prompt", "max_images"},
    "get_job": {"job_id"},
}
failed = 0


def report(name: str, why: str | None) -> None:
    global failed
    if why is None:
        print(f"ok {LABEL} {name}", flush=True)
    else:
        failed += 1
        print(f"FAIL {LABEL} {name}: {why}", flush=True)


def check(name: str, fn) -> Any:
    try:
        out = fn()
    except AssertionError as e:
        report(name, str(e))
    except Exception as e:  # noqa: BLE001 - a conversion that raises is the finding
        report(name, f"{type(e).__name__}: {e}")
        traceback.print_exc(file=sys.stderr)
    else:
        report(name, None)
        return out
    return None


def openai_strict(tool: Any) -> dict[str, Any]:
    """As `agents.mcp.MCPUtil.to_function_tool(..., convert_schemas_to_strict=True)` does; it
    silently falls back to non-strict when this raises, so raising is a failure here."""
    strict = ensure_strict_json_schema(copy.deepcopy(tool.input_schema), _reject_open_objects=True)
    props = strict["properties"]
    assert strict.get("additionalProperties") is False, "additionalProperties is not false"
    assert set(strict["required"]) == set(props), f"required {strict['required']} != {sorted(props)}"
    for name, prop in props.items():
        types = prop["type"] if isinstance(prop.get("type"), list) else [prop.get("type")]
        optional = name not in TRULY_REQUIRED[tool.name]
        assert ("null" in types) == optional, f"{name}: type {prop.get('type')} (optional: {optional})"
        assert "anyOf" not in prop and "oneOf" not in prop, f"{name} is a union"
    return strict


def gemini(tool: Any) -> None:
    """google-genai's own MCP conversion (used when an MCP session is passed as a tool) and a
    FunctionDeclaration with the schema as it is."""
    converted = _mcp_utils.mcp_to_gemini_tool(tool)
    params = converted.function_declarations[0].parameters
    assert params is not None and params.type == genai.Type.OBJECT, f"parameters: {params}"
    for name, prop in (params.properties or {}).items():
        optional = name not in TRULY_REQUIRED[tool.name]
        assert prop.type is not None, f"{name} lost its type"
        assert bool(prop.nullable) == optional, f"{name}: nullable={prop.nullable} (optional: {optional})"
    genai.FunctionDeclaration(
        name=tool.name, description=tool.description, parameters_json_schema=tool.input_schema
    )


def strict_arguments(tool: Any, given: dict[str, Any], blank: bool) -> dict[str, Any]:
    """Every property present: `given` ones set; the rest null, or with `blank` the value a
    model forced to fill a non-nullable field picks ("" for text, 0 for numbers)."""
    args: dict[str, Any] = {}
    for name, prop in tool.input_schema["properties"].items():
        if name in given:
            args[name] = given[name]
            continue
        types = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
        if not blank:
            args[name] = None
        elif "string" in types:
            args[name] = ""
        elif "number" in types or "integer" in types:
            args[name] = 0
        else:
            args[name] = None
    return args


async def call_each(client: Client, tools: dict[str, Any]) -> None:
    wait_s = float(os.environ.get("SEEDREAM_WAIT_SECONDS", "50"))
    given = {
        "generate_image": {"prompt": "a red fox in the snow"},
        "edit_image": {"prompt": "make it snow", "images": [tiny_png_data_uri()]},
        "generate_sequence": {"prompt": "3 panels of a cat's day", "max_images": 3},
    }
    for blank in (False, True):
        how = '"" and 0' if blank else "null"
        for name, args in given.items():
            try:
                r = await client.call_tool(name, strict_arguments(tools[name], args, blank))
                text = " ".join(b.text for b in r.content if b.type == "text")
                assert not r.is_error, text[:300]
                images = (r.structured_content or {}).get("images") or []
                want = 3 if name == "generate_sequence" else 1
                assert len(images) == want or (r.structured_content or {}).get("job_id"), (
                    f"{len(images)} images, want {want}: {text[:200]}"
                )
            except Exception as e:  # noqa: BLE001
                report(f"{name} with every property ({how} for the unset)", f"{type(e).__name__}: {e}")
            else:
                report(f"{name} with every property ({how} for the unset)", None)
        # get_job: a call slower than the wait answers with a job handle to collect.
        try:
            slow = int((wait_s + 1.0) * 1000)
            r = await client.call_tool(
                "generate_image",
                strict_arguments(tools["generate_image"], {"prompt": f"[[fake:slow={slow}]] an owl"}, blank),
            )
            job = (r.structured_content or {}).get("job_id")
            assert job, f"no job handle: {r.structured_content}"
            for _ in range(8):
                args = strict_arguments(tools["get_job"], {"job_id": job}, blank=False)
                if blank:
                    args["wait_seconds"] = 20  # 0 means "do not wait", a real value
                r = await client.call_tool("get_job", args)
                text = " ".join(b.text for b in r.content if b.type == "text")
                assert not r.is_error, text[:300]
                if (r.structured_content or {}).get("status") != "running":
                    break
            assert "Generated 1 image" in text, text[:300]
        except Exception as e:  # noqa: BLE001
            report(f"get_job with every property ({how} for the unset)", f"{type(e).__name__}: {e}")
        else:
            report(f"get_job with every property ({how} for the unset)", None)


async def main() -> int:
    command = sys.argv[sys.argv.index("--") + 1:]
    passed = {k: v for k, v in os.environ.items() if k.startswith(("SEEDREAM_", "RUST_LOG", "NO_PROXY", "no_proxy"))}
    server = StdioServerParameters(command=command[0], args=command[1:], env=get_default_environment() | passed)
    try:
        async with Client(server, mode="legacy", read_timeout_seconds=60) as client:
            listed = (await client.list_tools()).tools
            tools = {t.name: t for t in listed}
            assert set(tools) == TOOLS, f"tools: {sorted(tools)}"
            for tool in listed:
                check(f"openai-agents ensure_strict_json_schema {tool.name}", lambda t=tool: openai_strict(t))
                check(f"google-genai conversion {tool.name}", lambda t=tool: gemini(t))
            await call_each(client, tools)
    except Exception as e:  # noqa: BLE001
        report("connection", f"{type(e).__name__}: {e}")
        traceback.print_exc(file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
