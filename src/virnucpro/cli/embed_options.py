"""What ``embed_dna.py`` and ``embed_protein.py`` share: their options and the call behind both."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from virnucpro.embed.embedders.registry import EMBEDDERS, Modality, get_embedder, with_revision
from virnucpro.embed.settings import ATTENTION_BACKENDS
from virnucpro.errors import InputError

DNA_EMBEDDERS = ", ".join(name for name, spec in EMBEDDERS.items() if spec.modality is Modality.dna)
PROTEIN_EMBEDDERS = ", ".join(
    name for name, spec in EMBEDDERS.items() if spec.modality is Modality.protein
)

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
#: The model's revision, for every command that loads one from the cache
REVISION_HELP = (
    "Hugging Face branch, tag or commit of the embedder's model [default: the embedder's "
    "pinned commit]; a branch or tag resolves, offline, to the commit the cache holds for "
    "it, which the outputs record. Refused for an embedder without a Hugging Face model."
)
Revision = Annotated[str | None, typer.Option(help=REVISION_HELP)]
ModelDir = Annotated[
    Path | None,
    typer.Option(help="Load the embedder's weights from this folder instead of the cache."),
]
RemoteCode = Annotated[
    bool,
    typer.Option(
        help="Load with the model repository's own code instead of ours: RUNS the code shipped "
        "in the model folder (its auto_map), offline; an auto_map naming another repository "
        "is refused."
    ),
]
Attention = Annotated[
    str,
    typer.Option(
        help=f"SDPA attention backend of every forward pass: {', '.join(ATTENTION_BACKENDS)} "
        "(auto: PyTorch picks per call; benchmarks/gpu_check.sh reports the fastest "
        "padding-invariant one for a GPU)."
    ),
]

EPILOG = (
    "Exit status: 0 done or already complete, 1 bad input or missing model, 2 usage error, "
    "75 one sequence does not fit in GPU memory (retry with a smaller --token-budget)."
)


def embed(
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
    attention: str,
    revision: str | None,
) -> None:
    """Embed each --input into its --output with the named embedder at ``revision``
    (None: its pin), loaded once."""
    if len(inputs) != len(outputs):
        raise InputError(
            f"give one --output per --input: {len(inputs)} input(s), {len(outputs)} output(s)"
        )
    from virnucpro.embed.embed_files import extract_features

    spec = with_revision(get_embedder(embedder, modality), revision)
    extract_features(
        list(zip(inputs, outputs, strict=True)), spec, precision or spec.default_precision, device, chunk_size, token_budget,
        model_dir=model_dir, hf_home=hf_home, trust_remote_code=trust_remote_code,
        attention=attention,
    )  # fmt: skip
