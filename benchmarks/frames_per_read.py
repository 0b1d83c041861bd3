#!/usr/bin/env python3
"""Stop-free frames per simulated read: what the GPU projections multiply by.

Reads are seeded random windows of every real genome of ``assets/test_full`` (as in
``memory.py``), cut into chunks and frames as predict mode does; the script counts the
frames and the reads that have none. The embed time of a million reads scales with
frames, not reads, so this figure, not a guess, goes into the GPU targets.

    python benchmarks/frames_per_read.py --reads 1000000 --read-length 500
"""

from __future__ import annotations

from itertools import islice
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Annotated

import typer
from machine import machine_line  # beside this script: benchmarks/machine.py
from memory import genome_sequences, write_reads

from virnucpro.classify.calling import sequence_of
from virnucpro.files.sequence_files import read_dna
from virnucpro.preprocess.chunking import chunk_records
from virnucpro.preprocess.frames import stop_free_frames

app = typer.Typer(add_completion=False)


@app.command()
def main(
    reads: Annotated[int, typer.Option(help="Simulated reads.")] = 1_000_000,
    read_length: Annotated[int, typer.Option(help="Bases per read.")] = 500,
    chunk_size: Annotated[int, typer.Option(help="Chunk size (the classifier's).")] = 500,
) -> None:
    """Print frames, frames per read and the share of reads without a frame."""
    frames, with_frames = 0, set()
    with TemporaryDirectory() as scratch:
        path = Path(scratch) / "reads.fasta"
        write_reads(path, reads, genome_sequences(read_length), read_length)
        chunks = chunk_records(read_dna(path), chunk_size)
        while batch := list(islice(chunks, 4096)):
            for (chunk_id, _), kept in zip(batch, stop_free_frames(batch), strict=True):
                frames += len(kept)
                if kept:
                    with_frames.add(sequence_of(chunk_id))
    print(machine_line())
    print(
        f"{reads:,} reads of {read_length} bp, chunks of {chunk_size}: {frames:,} stop-free "
        f"frames, {frames / reads:.2f} per read; {1 - len(with_frames) / reads:.0%} of reads "
        "have none"
    )


if __name__ == "__main__":
    app()
