"""``make_test_model.py`` (``virnucpro make-test-model``): one real model's layout, random weights."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from virnucpro.cli.common import ThreadsOption, VersionOption, new_app, run_app
from virnucpro.cli.threads import limit_cpu_threads
from virnucpro.errors import InputError

app = new_app(
    "Write one real model's on-disk layout with seeded random weights, tiny or full size."
)


class CheckpointSize(str, Enum):
    tiny = "tiny"
    full = "full"


@app.command(name="make-test-model")
def make_test_model_command(
    name: Annotated[
        str,
        typer.Argument(
            help="Model whose layout to write: esm2_3b, esm2_650m, fastesm2_650 or dnabert_s."
        ),
    ],
    output_dir: Annotated[
        Path,
        typer.Option(help="Folder to write the checkpoint into (created); --model-dir reads it."),
    ],
    size: Annotated[
        CheckpointSize,
        typer.Option(help="full: the real model's sizes; tiny: hidden 32, 2 layers."),
    ] = CheckpointSize.tiny,
    seed: Annotated[int, typer.Option(help="Seed of the random weights.")] = 0,
    precision: Annotated[
        str,
        typer.Option(help="Storage dtype of the weights: fp32 (as the real ones), bf16 or fp16."),
    ] = "fp32",
    threads: ThreadsOption = None,
    version: VersionOption = False,
) -> None:
    """Write a random-weight checkpoint with the real model's files, config keys and tensor names.

    For load and throughput benchmarks without the real weights: the full-size
    ESM2-3B is two float32 .bin shards (about 11 GB), FastESM2_650 one 2.6 GB
    model.safetensors, DNABERT-S one 470 MB pytorch_model.bin. The same seed gives the
    same files.
    """
    limit_cpu_threads(threads)
    from virnucpro.embed.sequence_embedding import torch_dtype
    from virnucpro.testing import RANDOM_MODELS, write_random_checkpoint

    if name not in RANDOM_MODELS:
        raise InputError(f"no random checkpoint for '{name}' (known: {', '.join(RANDOM_MODELS)})")
    write_random_checkpoint(name, output_dir, size.value, seed, torch_dtype(precision))


def main() -> None:
    """Entry point of ``bin/make_test_model.py``."""
    run_app(app)
