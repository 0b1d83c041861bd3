"""``model_cache.py`` and ``make_tiny_models.py``: getting model weights in place."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from virnucpro.cli.common import VersionOption, new_app, run_app
from virnucpro.embedders.registry import EMBEDDERS, get_embedder
from virnucpro.model_cache import check_cache, fill_cache, write_cache_report

cache_app = new_app("Download pinned model revisions into a Hugging Face cache (needs internet).")
tiny_app = new_app("Write the tiny random test models in the on-disk layout of the real ones.")


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
    from virnucpro.embedders.tiny import write_tiny_models

    write_tiny_models(output_dir, seed)


def main_cache() -> None:
    """Entry point of ``bin/model_cache.py``."""
    run_app(cache_app)


def main_tiny() -> None:
    """Entry point of ``bin/make_tiny_models.py``."""
    run_app(tiny_app)
