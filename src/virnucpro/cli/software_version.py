"""``software_version.py`` (``virnucpro software-version``): one tool's version, for the pipeline's versions topic."""

from __future__ import annotations

from typing import Annotated

import typer

from virnucpro.cli.common import VersionOption, new_app, run_app
from virnucpro.versions import Tool, software_version

app = new_app("Print the version of one tool as this environment runs it.")


@app.command(name="software-version")
def software_version_command(
    tool: Annotated[Tool, typer.Argument(help="Tool whose version to print.")],
    version: VersionOption = False,
) -> None:
    """Print one line: the version of TOOL (cuda: torch's CUDA build; gpu: the GPUs seen)."""
    typer.echo(software_version(tool))


def main() -> None:
    """Entry point of ``bin/software_version.py``."""
    run_app(app)
