"""``shard_frames.py`` (``virnucpro shard-frames``): cut paired frame files into shards of N frames."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from virnucpro.cli.common import ThreadsOption, VersionOption, new_app, run_app
from virnucpro.cli.threads import limit_cpu_threads

app = new_app("Cut paired nucleotide / protein frame FASTA files into shards of N frames.")


@app.command(name="shard-frames")
def shard_frames_command(
    nucleotide: Annotated[
        list[Path],
        typer.Option(help="Nucleotide frame FASTA; repeat, paired in order with --protein."),
    ],
    protein: Annotated[
        list[Path],
        typer.Option(help="Protein frame FASTA with the same ids; repeat in the same order."),
    ],
    output_dir: Annotated[
        Path, typer.Option(help="Directory for {prefix}_NNNNN.nucleotide.fasta / .protein.fasta.")
    ],
    frames_per_shard: Annotated[
        int, typer.Option(help="Frames per shard (the last shard may hold fewer).")
    ] = 10000,
    prefix: Annotated[str, typer.Option(help="File name prefix of the shards.")] = "shard",
    ids: Annotated[
        list[Path] | None,
        typer.Option(
            help="TSV with a frame_id column (e.g. split lists): keep only these frames; repeatable."
        ),
    ] = None,
    threads: ThreadsOption = None,
    version: VersionOption = False,
) -> None:
    """Write shards whose nucleotide and protein files hold the same frame ids in the same order.

    The paired inputs must list the same ids in the same order; a mismatch
    stops with the record number and both ids. Shards of an earlier run with
    the same prefix that this run does not write are removed.
    """
    limit_cpu_threads(threads)
    from virnucpro.preprocess.shards import shard_frames

    shard_frames(nucleotide, protein, output_dir, frames_per_shard, prefix, ids or ())


def main() -> None:
    """Entry point of ``bin/shard_frames.py``."""
    run_app(app)
