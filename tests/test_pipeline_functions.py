"""Plain Groovy helpers of the pipeline, called as Nextflow runs them.

tools/nextflow-lint/call_function.py compiles one function of a ``.nf`` file with
the Groovy of Nextflow's language server and calls it, so that helpers that need
no Nextflow runtime are checked on real values here.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import ROOT

pytestmark = pytest.mark.nextflow

PYTHON = ROOT / ".venv-nflint" / "bin" / "python"
CALL = ROOT / "tools" / "nextflow-lint" / "call_function.py"
UTILS = ROOT / "subworkflows" / "local" / "utils_nfcore_virnucpro_pipeline" / "main.nf"
DIM, RESET, HEADER = "\x1b[2m", "\x1b[0m", "\x1b[4m\x1b[1m"


def call(function: str, *arguments: object) -> object:
    if not PYTHON.exists():
        pytest.fail(f"{PYTHON} is missing: run `make setup`")
    result = subprocess.run(
        [str(PYTHON), str(CALL), str(UTILS), function, *map(json.dumps, arguments)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def schema_wrapped(text: str, columns: int) -> str:
    """A description as nf-schema 2.7 wraps one longer than $COLUMNS: words added
    while the line and the next word fit, new lines in the first column."""
    lines, line = [], ""
    for word in text.split(" "):
        if len(line) + len(word) <= columns:
            line += word + " "
        else:
            lines.append(line)
            line = word + " "
    return "\n".join([*lines, line])


def row(name: str, kind: str, description: str, columns: int, indent: str = "  ") -> str:
    """A parameter's row; nf-schema's own rows (--help...) lose the indent of the others."""
    text = description + DIM + RESET
    if len(text) > columns:
        text = schema_wrapped(text, columns)
    return f"{indent}--{name:<12}{DIM}{kind:<20}{RESET}{text}"


HELP_ROW = (
    "Show the help message for all top level parameters. When a parameter is given to "
    "`--help`, the full help message of that parameter will be printed."
)
HIDDEN_ROW = (
    "Show all hidden parameters in the help message. This needs to be used in "
    "combination with `--help` or `--helpFull`."
)


def help_text(columns: int) -> str:
    """--help as nf-schema lays it out: its own rows first, then each group."""
    return "\n".join(
        [
            "Typical pipeline command:",
            "",
            "  nextflow run main.nf --input samplesheet.csv",
            "",
            row("help", "[boolean, string]", HELP_ROW, columns, indent=""),
            row(
                "helpFull",
                "[boolean]",
                "Show the help message for all non-hidden parameters.",
                columns,
                indent="",
            ),
            row("showHidden", "[boolean]", HIDDEN_ROW, columns, indent=""),
            "",
            f"{HEADER}Input/output options{RESET}",
            row("input", "[string]", "Samplesheet CSV: one row per sample.", columns),
            row("outdir", "[string]", "Output folder. [default: results]", columns),
            "",
        ]
    )


def test_help_rows_that_nf_schema_wrapped_at_80_columns_are_one_line_again():
    wrapped = help_text(80)
    # nf-schema's own rows leave fragments in the first column at 80 columns
    assert "\nparameter is given to" in wrapped or "\n`--help`" in wrapped
    joined = call("unwrapped", wrapped)
    rows = [line for line in joined.splitlines() if line.lstrip(" ").startswith("--")]
    assert [line.split()[0] for line in rows] == [
        "--help",
        "--helpFull",
        "--showHidden",
        "--input",
        "--outdir",
    ]
    assert rows[0].endswith(HELP_ROW + DIM + RESET)
    assert rows[2].endswith(HIDDEN_ROW + DIM + RESET)
    # Nothing but the rows changed: the header, the command and the blank lines stay
    assert joined.splitlines()[:4] == wrapped.splitlines()[:4]
    assert f"{HEADER}Input/output options{RESET}" in joined.splitlines()
    assert joined.split() == wrapped.split()


def test_help_that_fits_is_left_as_it_is():
    wide = help_text(400)
    assert call("unwrapped", wide) == wide.rstrip("\n")
