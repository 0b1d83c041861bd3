"""docs/errors.md says what the user sees: every quoted message piece is in the code."""

from __future__ import annotations

import re
from pathlib import Path

import typer
from conftest import ROOT

DOC = (ROOT / "docs" / "errors.md").read_text()
SOURCES = [
    *(ROOT / "src" / "virnucpro").rglob("*.py"),
    ROOT / "main.nf",
    # The pipeline's parameter and samplesheet checks (PIPELINE_INITIALISATION)
    ROOT / "subworkflows" / "local" / "utils_nfcore_virnucpro_pipeline" / "main.nf",
    ROOT / "assets" / "schema_input.json",
    # Usage errors are worded by Typer's Click.
    *(Path(typer.__file__).parent / "_click").glob("*.py"),
]
# Adjacent string literals ("a " "b", over lines) read as the one string they are.
CODE = re.sub(r'"\s*\n\s*f?"', "", "\n".join(path.read_text() for path in SOURCES))


def seen_pieces() -> list[str]:
    """The code-quoted pieces of the 'what the user sees' column of every table."""
    pieces = []
    for line in DOC.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and not set(cells[0]) <= {"-", ":"} and cells[1] != "what the user sees":
            pieces += re.findall(r"`([^`]+)`", cells[1])
    return pieces


def test_every_quoted_message_piece_is_in_the_code():
    pieces = seen_pieces()
    assert len(pieces) > 60
    missing = [piece for piece in pieces if piece.removeprefix("error: ") not in CODE]
    assert not missing, f"docs/errors.md quotes text the code does not print: {missing}"


def test_the_check_catches_a_made_up_message():
    assert "this message is printed nowhere" not in CODE
    assert "is given for two outputs: each output needs its own file" in seen_pieces()
