"""``model_cache.py``, ``make_tiny_models.py`` and ``make_test_model.py``: model weights in place."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from virnucpro.cli.common import VersionOption, new_app, run_app
from virnucpro.embed.embedders.registry import EMBEDDERS, get_embedder
from virnucpro.embed.model_cache import check_cache, fill_cache, write_cache_report
from virnucpro.errors import InputError

cache_app = new_app("Download pinned model revisions into a Hugging Face cache (needs internet).")
tiny_app = new_app("Write the tiny random test models in the on-disk layout of the real ones.")
test_model_app = new_app(
    "Write one real model's on-disk layout with seeded random weights, tiny or full size."
)


@cache_app.command(name="model-cache")
def model_cache_command(
    embedder: Annotated[
        list[str],
        typer.Option(help=f"Embedder to fetch; repeatable. Known: {', '.join(EMBEDDERS)}."),
    ],
    hf_home: Annotated[
        Path | None, typer.Option(help="Cache folder to fill [default: $HF_HOME].")
    ] = None,
    offline: Annotated[
        bool,
        typer.Option(
            "--offline",
            help="Download nothing: check that every model is in the cache, and fail "
            "listing the missing ones.",
        ),
    ] = False,
    report: Annotated[
        Path | None,
        typer.Option(help="Write a TSV of the cached models (revision, folder, size)."),
    ] = None,
    version: VersionOption = False,
) -> None:
    """Fill the model cache once; every other step then runs offline (HF_HUB_OFFLINE=1).

    Only the pinned revision of each model is fetched, safetensors weights in
    preference to pickled ones; models already in the cache are not fetched
    again. Embedders without weights (composition baselines) and the bundled
    test models need nothing. Either way, the cache is then checked offline.
    """
    specs = [get_embedder(name) for name in embedder]
    if not offline:
        fill_cache(specs, hf_home)
    models = check_cache(specs, hf_home)
    if report is not None:
        write_cache_report(models, report)


@tiny_app.command(name="make-tiny-models")
def make_tiny_models_command(
    output_dir: Annotated[
        Path,
        typer.Option(help="Folder to write tiny_dnabert_s/, tiny_esm2/ and tiny_fastesm2/ into."),
    ],
    seed: Annotated[int, typer.Option(help="Seed of the random weights.")] = 0,
    version: VersionOption = False,
) -> None:
    """Write small seeded random checkpoints with the real models' files, config keys and tensor names.

    The copies in assets/models were written with the defaults; tests check
    that they are reproduced byte for byte.
    """
    from virnucpro.testing import write_tiny_models

    write_tiny_models(output_dir, seed)


class CheckpointSize(str, Enum):
    tiny = "tiny"
    full = "full"


@test_model_app.command(name="make-test-model")
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
    version: VersionOption = False,
) -> None:
    """Write a random-weight checkpoint with the real model's files, config keys and tensor names.

    For load and throughput benchmarks without the real weights: the full-size
    ESM2-3B is two float32 .bin shards (about 11 GB), FastESM2_650 one 2.6 GB
    model.safetensors, DNABERT-S one 470 MB pytorch_model.bin. The same seed gives the
    same files.
    """
    from virnucpro.embed.sequence_embedding import torch_dtype
    from virnucpro.testing import RANDOM_MODELS, write_random_checkpoint

    if name not in RANDOM_MODELS:
        raise InputError(f"no random checkpoint for '{name}' (known: {', '.join(RANDOM_MODELS)})")
    write_random_checkpoint(name, output_dir, size.value, seed, torch_dtype(precision))


def main_test_model() -> None:
    """Entry point of ``bin/make_test_model.py``."""
    run_app(test_model_app)


def main_cache() -> None:
    """Entry point of ``bin/model_cache.py``."""
    run_app(cache_app)


def main_tiny() -> None:
    """Entry point of ``bin/make_tiny_models.py``."""
    run_app(tiny_app)
