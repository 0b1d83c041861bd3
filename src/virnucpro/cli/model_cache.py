"""``model_cache.py`` (``virnucpro model-cache``): model revisions in a Hugging Face cache."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from virnucpro.cli.common import ThreadsOption, VersionOption, new_app, run_app
from virnucpro.cli.threads import limit_cpu_threads
from virnucpro.embed.embedders.registry import EMBEDDERS, get_embedder, with_revision

app = new_app("Download model revisions into a Hugging Face cache (needs internet).")


@app.command(name="model-cache")
def model_cache_command(
    embedder: Annotated[
        list[str],
        typer.Option(help=f"Embedder to fetch; repeatable. Known: {', '.join(EMBEDDERS)}."),
    ],
    revision: Annotated[
        list[str] | None,
        typer.Option(
            metavar="EMBEDDER=REVISION",
            help="Hugging Face branch, tag or commit of one --embedder's model instead of its "
            "pinned commit, e.g. dnabert_s=main; repeatable, once per embedder. Refused for an "
            "embedder without a Hugging Face model.",
        ),
    ] = None,
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
        typer.Option(
            help="Write a TSV of the cached models (revision asked, the commit it resolved "
            "to, folder, size)."
        ),
    ] = None,
    threads: ThreadsOption = None,
    version: VersionOption = False,
) -> None:
    """Fill the model cache once; every other step then runs offline (HF_HUB_OFFLINE=1).

    Only one revision of each model is fetched (its pinned commit, or --revision),
    safetensors weights in preference to pickled ones; models already in the cache
    are not fetched again. Embedders without weights (composition baselines) and the
    bundled test models need nothing. Either way, the cache is then checked offline
    (a branch or tag through the commit the cache's refs/ name for it).
    """
    limit_cpu_threads(threads)
    from virnucpro.embed.model_cache import (
        check_cache,
        fill_cache,
        revisions_by_embedder,
        write_cache_report,
    )

    chosen = revisions_by_embedder(revision or [], embedder)
    specs = [with_revision(get_embedder(name), chosen.get(name)) for name in embedder]
    if not offline:
        fill_cache(specs, hf_home)
    models = check_cache(specs, hf_home)
    if report is not None:
        write_cache_report(models, report)


def main() -> None:
    """Entry point of ``bin/model_cache.py``."""
    run_app(app)
