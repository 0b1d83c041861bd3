"""scripts/params_table.py renders the schema's parameters and keeps docs/usage.md's table current."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, load_script

SCRIPT = ROOT / "scripts" / "params_table.py"
START = "<!-- params-table:start -->"
END = "<!-- params-table:end -->"
STALE_MESSAGE = "parameters table is out of date: run scripts/params_table.py"

params_table = load_script(SCRIPT)

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "zeta_options": {
            "title": "Zeta options",
            "type": "object",
            "required": ["input"],
            "properties": {
                "input": {"type": "string", "description": "Samplesheet | CSV."},
                "secret": {"type": "integer", "default": 3, "hidden": True},
                "mode": {
                    "type": "string",
                    "enum": ["fast", "slow"],
                    "default": "fast",
                    "description": "How to run.",
                },
            },
        },
        "alpha_options": {
            "title": "Alpha options",
            "description": "Rarely changed.",
            "type": "object",
            "properties": {
                "flag": {"type": "boolean", "default": False, "description": "Turn it on."},
                "ratio": {"type": "number", "default": 0.5, "description": "A share."},
                "path": {"type": "string", "default": None, "description": "Optional path."},
            },
        },
    },
    # Display order comes from allOf, not from $defs.
    "allOf": [{"$ref": "#/$defs/zeta_options"}, {"$ref": "#/$defs/alpha_options"}],
}

EXPECTED = """\
### Zeta options

| parameter | default | description |
| --- | --- | --- |
| `--input` (required) | `none` | Samplesheet \\| CSV. |
| `--mode` | `fast` | How to run. One of `fast`, `slow`. |

### Alpha options

Rarely changed.

| parameter | default | description |
| --- | --- | --- |
| `--flag` | `false` | Turn it on. |
| `--ratio` | `0.5` | A share. |
| `--path` | `none` | Optional path. |
"""

BEFORE = "# Tool\n\nIntro text.\n\n## Parameters\n\n"
AFTER = "\n## Development\n\nMore text.\n"


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run the script as a developer would, from an unrelated working directory."""
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=Path("/"),
        check=False,
    )


@pytest.fixture
def schema_path(tmp_path: Path) -> Path:
    path = tmp_path / "nextflow_schema.json"
    path.write_text(json.dumps(SCHEMA, indent=4))
    return path


def test_render_exact_markdown() -> None:
    assert params_table.render(SCHEMA) == EXPECTED


def test_absent_default_reads_none_and_all_hidden_group_is_left_out() -> None:
    schema = {
        "$defs": {
            "a": {"title": "A", "properties": {"x": {"type": "string", "description": "X."}}},
            "b": {"title": "B", "properties": {"y": {"type": "integer", "hidden": True}}},
        },
        "allOf": [{"$ref": "#/$defs/a"}, {"$ref": "#/$defs/b"}],
    }
    rendered = params_table.render(schema)
    assert "| `--x` | `none` | X. |" in rendered
    assert "### B" not in rendered


def test_unknown_group_is_an_error() -> None:
    with pytest.raises(params_table.TableError, match="nope"):
        params_table.render({"$defs": {}, "allOf": [{"$ref": "#/$defs/nope"}]})


def test_round_trip(tmp_path: Path, schema_path: Path) -> None:
    doc = tmp_path / "usage.md"
    doc.write_text(f"{BEFORE}{START}\nstale table\n{END}\n{AFTER}")

    result = run("--schema", schema_path, "--doc", doc)
    assert result.returncode == 0, result.stderr
    assert doc.read_text() == f"{BEFORE}{START}\n\n{EXPECTED}\n{END}\n{AFTER}"

    check = run("--schema", schema_path, "--doc", doc, "--check")
    assert check.returncode == 0, check.stderr
    assert check.stdout == check.stderr == ""

    again = run("--schema", schema_path, "--doc", doc)
    assert again.returncode == 0
    assert doc.read_text() == f"{BEFORE}{START}\n\n{EXPECTED}\n{END}\n{AFTER}"
    # The atomic write leaves no temporary file behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nextflow_schema.json", "usage.md"]


def test_check_reports_stale_table_and_writes_nothing(tmp_path: Path, schema_path: Path) -> None:
    doc = tmp_path / "usage.md"
    stale = f"{BEFORE}{START}\n| `--old` | `1` | Gone. |\n{END}\n{AFTER}"
    doc.write_text(stale)

    result = run("--schema", schema_path, "--doc", doc, "--check")
    assert result.returncode == 1
    assert result.stderr.strip() == f"{doc}: {STALE_MESSAGE}"
    assert doc.read_text() == stale


def test_missing_markers_is_one_error_line(tmp_path: Path, schema_path: Path) -> None:
    doc = tmp_path / "usage.md"
    doc.write_text(f"{BEFORE}{START}\nno end marker\n{AFTER}")

    for extra in ([], ["--check"]):
        result = run("--schema", schema_path, "--doc", doc, *extra)
        assert result.returncode == 1
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
        assert END in lines[0]
    assert doc.read_text() == f"{BEFORE}{START}\nno end marker\n{AFTER}"


def test_real_schema_renders_visible_params_only() -> None:
    rendered = params_table.render(json.loads((ROOT / "nextflow_schema.json").read_text()))
    assert "| `--outdir` (required) |" in rendered
    assert "| `--input` |" in rendered  # required in every mode but cache: checked by main.nf
    assert "--publish_dir_mode" not in rendered  # hidden


def test_the_parameters_table_is_in_the_usage_page_and_current() -> None:
    usage = (ROOT / "docs" / "usage.md").read_text(encoding="utf-8")
    assert usage.count(START) == usage.count(END) == 1
    assert START not in (ROOT / "README.md").read_text(encoding="utf-8")
    result = run("--check")
    assert result.returncode == 0, result.stderr
