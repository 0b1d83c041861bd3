"""``embed_protein.py`` (``virnucpro embed-protein``): protein frames in, feature files out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from virnucpro.cli.common import ThreadsOption, VersionOption, new_app, run_app
from virnucpro.cli.embed_options import (
    EPILOG,
    PROTEIN_EMBEDDERS,
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

app = new_app("Embed protein frames with a protein language model.")


@app.command(name="embed-protein", epilog=EPILOG)
def embed_protein_command(
    input: Annotated[
        list[Path],
        typer.Option(help="Protein frame FASTA (a shard); repeat for a group of shards."),
    ],
    output: Output,
    embedder: Annotated[
        str, typer.Option(help=f"Registered protein embedder: {PROTEIN_EMBEDDERS}.")
    ],
    chunk_size: ChunkSize,
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
    """Mean-pool the final hidden state over residues 1..min(L, 1024), without BOS, EOS or padding.

    The model reads the whole protein, however long; only the average stops at
    residue 1024, as in the original tool. A file made of nucleotide letters only
    is refused (swapped frame files). Sequences are batched by a token budget,
    longest first. The model is loaded once for every --input; an output that is
    already complete for its input and settings is skipped.
    """
    limit_cpu_threads(threads)
    embed(Modality.protein, embedder, input, output, chunk_size, precision, device, token_budget,
           model_dir, hf_home, trust_remote_code, attention, revision)  # fmt: skip


def main() -> None:
    """Entry point of ``bin/embed_protein.py``."""
    run_app(app)
