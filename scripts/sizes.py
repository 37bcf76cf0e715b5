#!/usr/bin/env python3
"""Checks issue 12's size rules on production code: no file over 400 lines, no function over 80.

Production code is every `.rs` file under `src/` and `crates/*/src/`, minus test-only files
(`tests.rs`, `proptests.rs`, files under a `tests/` folder, `test_*.rs`) and minus the trailing
`#[cfg(test)] mod …` block of a file. Exceptions (tables) are listed in EXCEPTIONS with the reason.
Usage: python3 scripts/sizes.py [--max-file 400] [--max-fn 80]; exits 1 when a rule is broken.
"""
import argparse, os, re, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# path (relative to the root) -> why it may be longer
EXCEPTIONS = {}

FN = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?(extern\s+\"[^\"]*\"\s+)?fn\s+(\w+)")


def production_files():
    roots = [os.path.join(ROOT, "src")] + [
        os.path.join(ROOT, "crates", c, "src") for c in sorted(os.listdir(os.path.join(ROOT, "crates")))
    ]
    for top in roots:
        for folder, dirs, files in os.walk(top):
            dirs[:] = [d for d in dirs if d != "tests"]
            for name in files:
                if not name.endswith(".rs") or name in ("tests.rs", "proptests.rs") or name.startswith("test_"):
                    continue
                yield os.path.join(folder, name)


def strip_code(line, state):
    """The line with string/char literals and comments blanked, so braces inside them do not count.
    `state` carries an open block comment or string across lines."""
    out, i = [], 0
    while i < len(line):
        c = line[i]
        if state["block"]:
            if line.startswith("*/", i):
                state["block"] -= 1; i += 2
            elif line.startswith("/*", i):
                state["block"] += 1; i += 2
            else:
                i += 1
            continue
        if state["raw"] is not None:
            end = '"' + "#" * state["raw"]
            if line.startswith(end, i):
                state["raw"] = None; i += len(end)
            else:
                i += 1
            continue
        if state["str"]:
            if c == "\\":
                i += 2
            elif c == '"':
                state["str"] = False; i += 1
            else:
                i += 1
            continue
        if line.startswith("//", i):
            break
        if line.startswith("/*", i):
            state["block"] += 1; i += 2; continue
        m = re.match(r'b?r(#*)"', line[i:])
        if m and (i == 0 or not (line[i - 1].isalnum() or line[i - 1] == "_")):
            state["raw"] = len(m.group(1)); i += len(m.group(0)); continue
        if c == '"':
            state["str"] = True; i += 1; continue
        if c == "'":
            m = re.match(r"'(\\.[^']*|[^\\'])'", line[i:])
            if m:
                i += len(m.group(0)); continue
        out.append(c); i += 1
    return "".join(out)


def production_lines(lines):
    """Lines before a trailing `#[cfg(test)]` module."""
    for n, line in enumerate(lines):
        if line.strip() == "#[cfg(test)]" and n + 1 < len(lines) and re.match(r"\s*mod \w+", lines[n + 1]):
            rest = "".join(lines[n + 1:])
            if re.match(r"\s*mod \w+\s*;", lines[n + 1]):
                continue
            return lines[:n]
    return lines


def long_functions(lines, limit):
    state = {"block": 0, "raw": None, "str": False}
    code = [strip_code(l, state) for l in lines]
    found = []
    for n, line in enumerate(lines):
        m = FN.match(code[n])
        if not m:
            continue
        depth, opened = 0, False
        for k in range(n, len(code)):
            if not opened and ";" in code[k] and "{" not in code[k]:
                break
            depth += code[k].count("{") - code[k].count("}")
            opened = opened or "{" in code[k]
            if opened and depth <= 0:
                length = k - n + 1
                if length > limit:
                    found.append((n + 1, m.group(7), length))
                break
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-file", type=int, default=400)
    ap.add_argument("--max-fn", type=int, default=80)
    args = ap.parse_args()
    problems = 0
    for path in sorted(production_files()):
        rel = os.path.relpath(path, ROOT)
        with open(path, encoding="utf-8") as f:
            lines = production_lines(f.read().splitlines())
        if rel in EXCEPTIONS:
            continue
        if len(lines) > args.max_file:
            print(f"{rel}: {len(lines)} lines (over {args.max_file})"); problems += 1
        for line, name, length in long_functions(lines, args.max_fn):
            print(f"{rel}:{line}: fn {name} is {length} lines (over {args.max_fn})"); problems += 1
    print(f"sizes: {problems} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
