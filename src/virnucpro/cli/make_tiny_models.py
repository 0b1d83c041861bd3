"""``make_tiny_models.py`` (``virnucpro make-tiny-models``): the bundled tiny test models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from virnucpro.cli.common import ThreadsOption, VersionOption, new_app, run_app
from virnucpro.cli.threads import limit_cpu_threads

app = new_app("Write the tiny random test models in the on-disk layout of the real ones.")


@app.command(name="make-tiny-models")
def make_tiny_models_command(
    output_dir: Annotated[
        Path,
        typer.Option(help="Folder to write tiny_dnabert_s/, tiny_esm2/ and tiny_fastesm2/ into."),
    ],
    seed: Annotated[int, typer.Option(help="Seed of the random weights.")] = 0,
    threads: ThreadsOption = None,
    version: VersionOption = False,
) -> None:
    """Write small seeded random checkpoints with the real models' files, config keys and tensor names.

    The copies in assets/models were written with the defaults; tests check
    that they are reproduced byte for byte.
    """
    limit_cpu_threads(threads)
    from virnucpro.testing import write_tiny_models

    write_tiny_models(output_dir, seed)


def main() -> None:
    """Entry point of ``bin/make_tiny_models.py``."""
    run_app(app)
