"""``merge_features.py`` (``virnucpro merge-features``): DNA + protein features of a shard -> one matrix."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from virnucpro.cli.common import ThreadsOption, VersionOption, new_app, run_app
from virnucpro.cli.threads import limit_cpu_threads

app = new_app("Concatenate the DNA and protein features of the same frames.")


@app.command(name="merge-features")
def merge_features_command(
    dna: Annotated[Path, typer.Option(help="DNA feature file (embed_dna.py).")],
    protein: Annotated[
        Path, typer.Option(help="Protein feature file of the same frames (embed_protein.py).")
    ],
    output: Annotated[Path, typer.Option(help="Merged feature file to write.")],
    threads: ThreadsOption = None,
    version: VersionOption = False,
) -> None:
    """Write [DNA | protein] for every frame, in the DNA file's order.

    Both files must hold the same frame ids and agree on chunk size and
    precision; a mismatch stops with a message naming both files.
    """
    limit_cpu_threads(threads)
    from virnucpro.embed.merge import merge_features

    merge_features(dna, protein, output)


def main() -> None:
    """Entry point of ``bin/merge_features.py``."""
    run_app(app)
