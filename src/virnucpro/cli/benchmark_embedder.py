"""``benchmark_embedder.py`` (``virnucpro benchmark-embedder``): an embedder's speed and memory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from virnucpro.cli.common import ThreadsOption, VersionOption, new_app, run_app
from virnucpro.cli.embed_options import Revision
from virnucpro.cli.threads import limit_cpu_threads
from virnucpro.embed.settings import DEFAULT_REPEATS, DEFAULT_TOKEN_BUDGET

app = new_app("Measure an embedder's speed and memory on a FASTA of frames.")


@app.command(name="benchmark-embedder")
def benchmark_embedder_command(
    embedder: Annotated[str, typer.Option(help="Registered embedder.")],
    input: Annotated[
        Path,
        typer.Option(
            help="Frames to embed: protein FASTA for protein embedders, nucleotide for DNA."
        ),
    ],
    output: Annotated[Path, typer.Option(help="JSON file of the figures.")],
    precision: Annotated[
        str, typer.Option(help="fp32, bf16 or fp16; use the same for every embedder compared.")
    ] = "bf16",
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    token_budget: Annotated[
        int, typer.Option(help="Most tokens per batch; use the same for every embedder.")
    ] = DEFAULT_TOKEN_BUDGET,
    warmup: Annotated[int, typer.Option(help="Sequences embedded once before timing.")] = 64,
    repeats: Annotated[
        int,
        typer.Option(
            min=1,
            help="Timed passes over the input; the figures are their median, with the "
            "slowest and fastest pass as the range.",
        ),
    ] = DEFAULT_REPEATS,
    model_dir: Annotated[
        Path | None, typer.Option(help="Load the weights from this folder instead of the cache.")
    ] = None,
    hf_home: Annotated[Path | None, typer.Option(help="Model cache [default: $HF_HOME].")] = None,
    revision: Revision = None,
    threads: ThreadsOption = None,
    version: VersionOption = False,
) -> None:
    """Sequences/s, tokens/s and peak memory after a warm-up, with model load time apart:
    the median of --repeats timed passes, with the slowest and fastest as the range.

    On a GPU the timed pass is synchronised at both ends and memory is the
    peak allocated by PyTorch; on a CPU it is the process's peak resident memory.
    """
    limit_cpu_threads(threads)
    from virnucpro.embed.benchmark import benchmark_embedder
    from virnucpro.embed.embedders.registry import get_embedder, with_revision

    benchmark_embedder(
        with_revision(get_embedder(embedder), revision),
        input,
        output,
        precision,
        device,
        token_budget,
        warmup,
        model_dir,
        hf_home,
        repeats,
    )


def main() -> None:
    """Entry point of ``bin/benchmark_embedder.py``."""
    run_app(app)
