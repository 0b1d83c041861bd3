#!/usr/bin/env python3
"""Keep the parameters table of docs/usage.md in step with nextflow_schema.json.

The schema is the single source of truth for the pipeline's parameters; the table in
docs/usage.md is generated from it, between the marker lines below, so that the two
cannot drift apart. ``--check`` lets CI fail when someone edits one without the other.

Usage: scripts/params_table.py [--schema PATH] [--doc PATH] [--check]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
START = "<!-- params-table:start -->"
END = "<!-- params-table:end -->"
REF_PREFIX = "#/$defs/"


class TableError(Exception):
    """A problem with the schema or the Markdown file, reported as one ``error:`` line."""


def code(value: str) -> str:
    """Wrap ``value`` in a code span whose fence is longer than any backtick run inside it."""
    if not value:
        return '`""`'
    fence = "`" * (max((len(run) for run in re.findall(r"`+", value)), default=0) + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def literal(value: Any) -> str:
    """A default or enum value as users type it: strings bare, everything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def cell(text: str) -> str:
    """Make ``text`` safe for one table cell: one line, no unescaped column separator."""
    return " ".join(text.split()).replace("|", r"\|")


def render_row(name: str, spec: dict[str, Any], required: bool) -> str:
    """One table row: the option, its default and its description (plus allowed values)."""
    option = code(f"--{name}") + (" (required)" if required else "")
    default = code("none" if spec.get("default") is None else literal(spec["default"]))
    description = spec.get("description", "")
    if "enum" in spec:
        allowed = ", ".join(code(literal(v)) for v in spec["enum"])
        description = f"{description} One of {allowed}.".strip()
    return f"| {cell(option)} | {cell(default)} | {cell(description)} |"


def render(schema: dict[str, Any]) -> str:
    """The Markdown of all groups, in ``allOf`` order; groups with no visible option are left out."""
    defs = schema.get("$defs", {})
    sections = []
    for entry in schema.get("allOf", []):
        ref = entry.get("$ref", "")
        group = defs.get(ref.removeprefix(REF_PREFIX)) if ref.startswith(REF_PREFIX) else None
        if group is None:
            raise TableError(f"allOf entry {ref or entry!r} does not name a group of $defs")
        required = set(group.get("required", []))
        rows = [
            render_row(name, spec, name in required)
            for name, spec in group.get("properties", {}).items()
            if not spec.get("hidden", False)
        ]
        if not rows:
            continue
        lines = [f"### {group.get('title', ref.removeprefix(REF_PREFIX))}", ""]
        if group.get("description"):
            lines += [group["description"], ""]
        lines += ["| parameter | default | description |", "| --- | --- | --- |", *rows]
        sections.append("\n".join(lines) + "\n")
    return "\n".join(sections)


def replace_block(text: str, table: str) -> str:
    """``text`` with the lines between the two markers replaced by ``table``, markers kept."""
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.strip() == START]
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    if not starts or not ends:
        raise TableError(f"no '{START}' and '{END}' marker lines to put the table between")
    if len(starts) != 1 or len(ends) != 1 or starts[0] > ends[0]:
        raise TableError(f"needs exactly one '{START}' line and, below it, one '{END}' line")
    start, end = starts[0], ends[0]
    block = "\n" + table + "\n"
    if lines[start].endswith("\r\n"):  # keep a CRLF file CRLF
        block = block.replace("\n", "\r\n")
    return "".join(lines[: start + 1]) + block + "".join(lines[end:])


def write_atomically(path: Path, text: str) -> None:
    """Write via a temporary file beside ``path``, so a failure never leaves half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or with ``--check`` only compare) the parameters table of ``--doc``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schema", type=Path, default=ROOT / "nextflow_schema.json")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "usage.md")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the table is out of date; write nothing"
    )
    args = parser.parse_args(argv)
    try:
        schema = json.loads(args.schema.read_text(encoding="utf-8"))
        table = render(schema)
    except (OSError, json.JSONDecodeError, TableError) as exc:
        print(f"error: {args.schema}: {getattr(exc, 'strerror', None) or exc}", file=sys.stderr)
        return 1
    try:
        with args.doc.open(encoding="utf-8", newline="") as handle:
            text = handle.read()
        updated = replace_block(text, table)
    except (OSError, TableError) as exc:
        print(f"error: {args.doc}: {getattr(exc, 'strerror', None) or exc}", file=sys.stderr)
        return 1
    if updated == text:
        return 0
    if args.check:
        print(
            f"{args.doc}: parameters table is out of date: run scripts/params_table.py",
            file=sys.stderr,
        )
        return 1
    write_atomically(args.doc, updated)
    print(f"{args.doc}: parameters table updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
