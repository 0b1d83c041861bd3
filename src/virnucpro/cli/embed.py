"""``embed_dna.py`` and ``embed_protein.py``: frames in, feature files out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from virnucpro.cli.common import VersionOption, new_app, run_app
from virnucpro.embed.embed_files import extract_features
from virnucpro.embed.embedders.registry import EMBEDDERS, Modality, get_embedder
from virnucpro.embed.sequence_embedding import DEFAULT_TOKEN_BUDGET
from virnucpro.errors import InputError

_DNA = ", ".join(name for name, spec in EMBEDDERS.items() if spec.modality is Modality.dna)
_PROTEIN = ", ".join(name for name, spec in EMBEDDERS.items() if spec.modality is Modality.protein)

Output = Annotated[
    list[Path],
    typer.Option(
        help="Feature file to write (safetensors: float32 matrix, ids, metadata); one per "
        "--input, in the same order."
    ),
]
Precision = Annotated[
    str | None,
    typer.Option(
        help="fp32, bf16 or fp16 [default: the embedder's]. Features are stored as float32."
    ),
]
Device = Annotated[str, typer.Option(help="auto (CUDA if visible), cpu or cuda.")]
ChunkSize = Annotated[
    int, typer.Option(help="Chunk size the frames were made with (recorded in the metadata).")
]
TokenBudget = Annotated[
    int,
    typer.Option(
        help="Most tokens per batch, padding included; lower it if the GPU runs out of memory."
    ),
]
HfHome = Annotated[
    Path | None, typer.Option(help="Model cache filled by model_cache.py [default: $HF_HOME].")
]
ModelDir = Annotated[
    Path | None,
    typer.Option(help="Load the embedder's weights from this folder instead of the cache."),
]
RemoteCode = Annotated[
    bool,
    typer.Option(
        help="Load with the model repository's own code instead of ours (runs code from the hub)."
    ),
]

EPILOG = (
    "Exit status: 0 done or already complete, 1 bad input or missing model, 2 usage error, "
    "75 one sequence does not fit in GPU memory (retry with a smaller --token-budget)."
)
dna_app = new_app("Embed nucleotide frames with a DNA language model.")
protein_app = new_app("Embed protein frames with a protein language model.")


@dna_app.command(name="embed-dna", epilog=EPILOG)
def embed_dna_command(
    input: Annotated[
        list[Path],
        typer.Option(help="Nucleotide frame FASTA (a shard); repeat for a group of shards."),
    ],
    output: Output,
    chunk_size: ChunkSize,
    embedder: Annotated[str, typer.Option(help=f"Registered DNA embedder: {_DNA}.")] = "dnabert_s",
    precision: Precision = None,
    device: Device = "auto",
    token_budget: TokenBudget = DEFAULT_TOKEN_BUDGET,
    model_dir: ModelDir = None,
    hf_home: HfHome = None,
    trust_remote_code: RemoteCode = False,
    version: VersionOption = False,
) -> None:
    """Mean-pool the last hidden state over every token, [CLS] and [SEP] included (SPEC §4).

    Sequences are batched by a token budget, longest first; padding never
    enters a vector, so each equals the one-sequence-at-a-time result. RNA (U)
    is read as DNA. The model is loaded once for every --input; an output that
    is already complete for its input and settings is skipped.
    """
    _embed(Modality.dna, embedder, input, output, chunk_size, precision, device, token_budget,
           model_dir, hf_home, trust_remote_code)  # fmt: skip


@protein_app.command(name="embed-protein", epilog=EPILOG)
def embed_protein_command(
    input: Annotated[
        list[Path],
        typer.Option(help="Protein frame FASTA (a shard); repeat for a group of shards."),
    ],
    output: Output,
    embedder: Annotated[str, typer.Option(help=f"Registered protein embedder: {_PROTEIN}.")],
    chunk_size: ChunkSize,
    precision: Precision = None,
    device: Device = "auto",
    token_budget: TokenBudget = DEFAULT_TOKEN_BUDGET,
    model_dir: ModelDir = None,
    hf_home: HfHome = None,
    trust_remote_code: RemoteCode = False,
    version: VersionOption = False,
) -> None:
    """Mean-pool the final hidden state over residues 1..min(L, 1024), without BOS, EOS or padding (SPEC §4).

    The model reads the whole protein, however long; only the average stops at
    residue 1024, as in the original tool. A file made of nucleotide letters only
    is refused (swapped frame files). Sequences are batched by a token budget,
    longest first. The model is loaded once for every --input; an output that is
    already complete for its input and settings is skipped.
    """
    _embed(Modality.protein, embedder, input, output, chunk_size, precision, device, token_budget,
           model_dir, hf_home, trust_remote_code)  # fmt: skip


def _embed(
    modality: Modality,
    embedder: str,
    inputs: list[Path],
    outputs: list[Path],
    chunk_size: int,
    precision: str | None,
    device: str,
    token_budget: int,
    model_dir: Path | None,
    hf_home: Path | None,
    trust_remote_code: bool,
) -> None:
    if len(inputs) != len(outputs):
        raise InputError(
            f"give one --output per --input: {len(inputs)} input(s), {len(outputs)} output(s)"
        )
    spec = get_embedder(embedder, modality)
    extract_features(
        list(zip(inputs, outputs, strict=True)), spec, precision or spec.default_precision, device, chunk_size, token_budget,
        model_dir=model_dir, hf_home=hf_home, trust_remote_code=trust_remote_code,
    )  # fmt: skip


def main_dna() -> None:
    """Entry point of ``bin/embed_dna.py``."""
    run_app(dna_app)


def main_protein() -> None:
    """Entry point of ``bin/embed_protein.py``."""
    run_app(protein_app)
