"""``select_frames.py`` (``virnucpro select-frames``): six-frame translation and stop-free frame selection."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from virnucpro.cli.common import ThreadsOption, VersionOption, new_app, run_app
from virnucpro.cli.threads import limit_cpu_threads

app = new_app("Translate chunks in six frames and keep the frames without a stop codon.")


@app.command(name="select-frames")
def select_frames_command(
    input: Annotated[Path, typer.Option(help="Chunked FASTA (from chunk_sequences.py).")],
    nucleotide: Annotated[
        Path, typer.Option(help="FASTA to write: nucleotide slice of each kept frame.")
    ],
    protein: Annotated[Path, typer.Option(help="FASTA to write: protein of each kept frame.")],
    report: Annotated[
        Path,
        typer.Option(
            help="TSV to write: one row per chunk, its length, kept frames and the sha256 of "
            "its bases (uppercase), which classify.py checks the input FASTA against."
        ),
    ],
    threads: ThreadsOption = None,
    version: VersionOption = False,
) -> None:
    """Keep every frame (F1-F3, R1-R3) whose protein is non-empty and has no stop.

    Frame ids are {chunk_id}F{k} / {chunk_id}R{k}; the nucleotide slice of a
    frame with L residues is strand[k-1 : k+3L]. Codons with a base other than
    A/C/G/T are skipped. The report lists every chunk with its kept frames, or
    no_frame, so that no chunk disappears unnoticed.
    """
    limit_cpu_threads(threads)
    from virnucpro.preprocess.frames import select_frames

    select_frames(input, nucleotide, protein, report)


def main() -> None:
    """Entry point of ``bin/select_frames.py``."""
    run_app(app)
