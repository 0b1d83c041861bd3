"""``chunk_sequences.py`` (``virnucpro chunk-sequences``): cut sequences into overlapping chunks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from virnucpro.cli.common import ThreadsOption, VersionOption, new_app, run_app
from virnucpro.cli.threads import limit_cpu_threads

app = new_app("Cut every sequence of a FASTA file into overlapping chunks.")


@app.command(name="chunk-sequences")
def chunk_sequences_command(
    input: Annotated[Path, typer.Option(help="FASTA file, plain or gzip-compressed.")],
    output: Annotated[Path, typer.Option(help="Chunked FASTA to write (ids {id}_chunk_{i}).")],
    chunk_size: Annotated[
        int, typer.Option(help="Chunk length in bases (300 or 500 for the published models).")
    ] = 300,
    threads: ThreadsOption = None,
    version: VersionOption = False,
) -> None:
    """Cut every sequence into ceil(n / size) chunks of SIZE bases.

    Neighbouring chunks overlap so that together they cover the sequence; only
    the last chunk can be shorter. A sequence no longer than SIZE is one chunk.
    Descriptions are dropped; the output is written only if the whole input is
    valid (DNA; unique ids of at most 1000 printable ASCII characters, no quotes,
    not starting with '#'). Sequences of any length are read in bounded memory.
    """
    limit_cpu_threads(threads)
    from virnucpro.preprocess.chunking import chunk_sequences

    chunk_sequences(input, output, chunk_size)


def main() -> None:
    """Entry point of ``bin/chunk_sequences.py``."""
    run_app(app)
