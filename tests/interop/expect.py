"""Assertions on what the Inspector CLI and the conformance suite leave behind, for run.sh.

    expect.py tools|image|full|sequence|job  < inspector --format json output
    expect.py error:TEXT                     < the same, for a tool error that must mention TEXT
    expect.py png                            prints a small PNG data URI (a reference image)
    expect.py conformance RESULTS_DIR SCENARIO

Exits 0 with a short summary on stdout (for `job`: the job id), or 1 with the reason on stderr.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

from fixtures import MAGIC, TOOLS, tiny_png_data_uri


def fail(why: str) -> None:
    print(why, file=sys.stderr)
    sys.exit(1)


def inspector_result() -> dict[str, Any]:
    envelope = json.load(sys.stdin)
    findings = [
        {**tool, "findings": [f for f in tool.get("findings", []) if not nullable_union(f)]}
        for tool in envelope.get("schemaFindings") or []
    ]
    if any(tool["findings"] for tool in findings):
        fail(f"schema findings: {json.dumps(findings)[:600]}")
    result = envelope.get("result")
    if not isinstance(result, dict):
        fail(f"no result in {json.dumps(envelope)[:300]}")
    return result


def nullable_union(finding: dict[str, Any]) -> bool:
    """The one finding accepted on purpose: an optional property typed `["<type>", "null"]`, the
    form OpenAI strict mode needs and google-genai reads as `nullable` (the lint's `anyOf`
    alternative is what Cursor refuses). See the README's "Strict-mode hosts"."""
    return (finding.get("rule") == "type-union" and finding.get("severity") == "warning"
            and '"null"]' in finding.get("issue", ""))


def successful_images(result: dict[str, Any], embedded: str, url: bool = True) -> list[dict[str, Any]]:
    content = result.get("content") or []
    if result.get("isError") or not content or content[0].get("type") != "text":
        fail(f"not a successful result with text first: {json.dumps(result)[:300]}")
    images = (result.get("structuredContent") or {}).get("images") or []
    blocks = [b for b in content if b.get("type") == "image"]
    if not images or len(blocks) != len(images):
        fail(f"{len(images)} images in structuredContent, {len(blocks)} image blocks: {content[0].get('text', '')[:300]}")
    for meta in images:
        if meta.get("embedded") != embedded or str(meta.get("url", "")).startswith("http") != url:
            fail(f"image metadata {meta} (want embedded={embedded!r}, URL: {url})")
    for block in blocks:
        magic = MAGIC.get(block.get("mimeType", ""))
        if not magic or not base64.b64decode(block.get("data", "")).startswith(magic):
            fail(f"an image block is not a {block.get('mimeType')}")
    return images


def conformance(results: Path, scenario: str) -> None:
    runs = sorted(results.glob(f"server-{scenario}-*/checks.json"))
    if not runs:
        fail(f"no results for {scenario} in {results}")
    checks = json.loads(runs[-1].read_text())
    statuses = [c.get("status") for c in checks]
    bad = [f"{c.get('id')}: {c.get('status')} {c.get('errorMessage') or ''}".strip()
           for c in checks if c.get("status") in ("FAILURE", "WARNING")]
    if bad or "SUCCESS" not in statuses:
        fail("; ".join(bad) or f"no successful check: {statuses}")
    print(f"{statuses.count('SUCCESS')} checks passed")


def main() -> None:
    what = sys.argv[1]
    if what == "png":
        print(tiny_png_data_uri())
    elif what == "conformance":
        conformance(Path(sys.argv[2]), sys.argv[3])
    elif what == "tools":
        names = {t["name"] for t in inspector_result().get("tools", [])}
        if names != TOOLS:
            fail(f"tools: {sorted(names)}")
    elif what == "image":
        successful_images(inspector_result(), "preview")
    elif what == "full":
        successful_images(inspector_result(), "full", url=False)
    elif what == "sequence":
        if len(successful_images(inspector_result(), "preview")) < 2:
            fail("fewer than 2 images")
    elif what == "job":
        # The Inspector lists the tasks extension at a 2025-11-25 `initialize` too, where it
        # ignores task answers; the server answers such sessions with a job handle.
        result = inspector_result()
        job = result.get("structuredContent") or {}
        if result.get("resultType") == "task" or job.get("status") != "running" or not job.get("job_id"):
            fail(f"no job handle: {json.dumps(result)[:300]}")
        print(job["job_id"])
    elif what == "templates":
        uris = [t.get("uriTemplate") for t in inspector_result().get("resourceTemplates", [])]
        if "seedream://jobs/{job_id}" not in uris:
            fail(f"no job history template: {uris}")
    elif what.startswith("error:"):
        result = inspector_result()
        text = " ".join(b.get("text", "") for b in result.get("content", []) if b.get("type") == "text")
        if result.get("isError") is not True or what[6:].lower() not in text.lower():
            fail(f"want isError mentioning {what[6:]!r}: {json.dumps(result)[:300]}")
    else:
        fail(f"unknown check {what!r}")


if __name__ == "__main__":
    main()
