"""``embed_dna.py`` (``virnucpro embed-dna``): DNA frames in, feature files out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from virnucpro.cli.common import ThreadsOption, VersionOption, new_app, run_app
from virnucpro.cli.embed_options import (
    DNA_EMBEDDERS,
    EPILOG,
    Attention,
    ChunkSize,
    Device,
    HfHome,
    ModelDir,
    Output,
    Precision,
    RemoteCode,
    Revision,
    TokenBudget,
    embed,
)
from virnucpro.cli.threads import limit_cpu_threads
from virnucpro.embed.embedders.registry import Modality
from virnucpro.embed.settings import DEFAULT_TOKEN_BUDGET

app = new_app("Embed nucleotide frames with a DNA language model.")


@app.command(name="embed-dna", epilog=EPILOG)
def embed_dna_command(
    input: Annotated[
        list[Path],
        typer.Option(help="Nucleotide frame FASTA (a shard); repeat for a group of shards."),
    ],
    output: Output,
    chunk_size: ChunkSize,
    embedder: Annotated[
        str, typer.Option(help=f"Registered DNA embedder: {DNA_EMBEDDERS}.")
    ] = "dnabert_s",
    precision: Precision = None,
    device: Device = "auto",
    token_budget: TokenBudget = DEFAULT_TOKEN_BUDGET,
    model_dir: ModelDir = None,
    hf_home: HfHome = None,
    revision: Revision = None,
    trust_remote_code: RemoteCode = False,
    attention: Attention = "auto",
    threads: ThreadsOption = None,
    version: VersionOption = False,
) -> None:
    """Mean-pool the last hidden state over every token, [CLS] and [SEP] included.

    Sequences are batched by a token budget, longest first; padding never
    enters a vector, so each equals the one-sequence-at-a-time result. RNA (U)
    is read as DNA. The model is loaded once for every --input; an output that
    is already complete for its input and settings is skipped.
    """
    limit_cpu_threads(threads)
    embed(Modality.dna, embedder, input, output, chunk_size, precision, device, token_budget,
           model_dir, hf_home, trust_remote_code, attention, revision)  # fmt: skip


def main() -> None:
    """Entry point of ``bin/embed_dna.py``."""
    run_app(app)
