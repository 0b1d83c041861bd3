"""``virnucpro verify-embedder``: check our native loader against the model repository's code."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from virnucpro.cli.common import ThreadsOption, VersionOption, new_app
from virnucpro.cli.embed_options import Revision
from virnucpro.cli.threads import limit_cpu_threads
from virnucpro.embed.settings import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_FRAMES,
    DEFAULT_MAX_ABS,
    DEFAULT_MIN_COSINE,
    DEFAULT_TOKEN_BUDGET,
    FP32_MIN_COSINE,
)

# No bin/ script: a check run by hand, as a subcommand of the virnucpro console script
app = new_app("Check our native loader against the model repository's code.")


@app.command(name="verify-embedder")
def verify_embedder_command(
    name: Annotated[str, typer.Argument(help="Registered embedder, e.g. fastesm2_650.")],
    frames: Annotated[
        int, typer.Option(help="How many stop-free frames to embed (the first, in input order).")
    ] = DEFAULT_FRAMES,
    input: Annotated[
        Path | None,
        typer.Option(help="Nucleotide FASTA to take frames from (default: the bundled example)."),
    ] = None,
    chunk_size: Annotated[int, typer.Option(help="Chunk size the frames are cut with.")] = (
        DEFAULT_CHUNK_SIZE
    ),
    device: Annotated[str, typer.Option(help="auto (CUDA if visible), cpu or cuda.")] = "auto",
    precision: Annotated[
        str | None,
        typer.Option(help="Second precision checked after fp32 (default: the embedder's)."),
    ] = None,
    token_budget: Annotated[int, typer.Option(help="Most tokens per batch.")] = (
        DEFAULT_TOKEN_BUDGET
    ),
    max_abs: Annotated[
        float, typer.Option(help="Largest absolute difference allowed at fp32.")
    ] = DEFAULT_MAX_ABS,
    min_cosine: Annotated[
        float,
        typer.Option(
            help=f"Smallest cosine similarity allowed at --precision (fp32: {FP32_MIN_COSINE})."
        ),
    ] = DEFAULT_MIN_COSINE,
    model_dir: Annotated[
        Path | None, typer.Option(help="Load the weights from this folder instead of the cache.")
    ] = None,
    hf_home: Annotated[Path | None, typer.Option(help="Model cache (default: $HF_HOME).")] = None,
    revision: Revision = None,
    output: Annotated[Path | None, typer.Option(help="Also write the figures as JSON.")] = None,
    trust_remote_code: Annotated[
        bool,
        typer.Option(
            help="Let the comparison run the code shipped in the model folder (modeling_*.py, "
            "its auto_map), offline; without it such a folder is refused."
        ),
    ] = False,
    threads: ThreadsOption = None,
    version: VersionOption = False,
) -> None:
    """Check that our native loader gives the same vectors as the model repository's code.

    Embeds the first --frames stop-free frames of a FASTA with virnucpro's own loader
    and with the model repository's reference code (transformers' Auto classes), at
    fp32 and at --precision, and compares the vectors row by row. Code shipped in the
    model folder (modeling_*.py named by its auto_map, e.g. FastESM2's and DNABERT-S's)
    RUNS only with --trust-remote-code; an auto_map naming another repository is
    always refused.
    Passes when, at fp32, the smallest cosine similarity is at least 0.99999 and the
    largest absolute difference at most --max-abs, and at --precision the cosine is
    at least --min-cosine. Prints one table row per precision and a final
    "verify-embedder NAME: PASS" or "... FAIL (...)" line; exit status 0 on pass, 1 on
    failure or when the repository's code does not load or run.

    Nothing is downloaded (the hub is not contacted, even by the repository's code
    while it loads): the weights (and the repository's code) must already be in the
    model cache, filled once with: virnucpro model-cache --embedder NAME (at --revision,
    if one is given: --revision NAME=REVISION), or in --model-dir, which must hold the
    embedder's model.
    """
    limit_cpu_threads(threads)
    from virnucpro.embed.embedders.registry import get_embedder, with_revision
    from virnucpro.embed.model_cache import check_model_dir
    from virnucpro.embed.verification import verify_embedder

    spec = with_revision(get_embedder(name), revision)
    check_model_dir(spec, model_dir)
    verify_embedder(
        spec,
        output=output,
        frames=frames,
        input_path=input,
        chunk_size=chunk_size,
        device=device,
        precision=precision,
        token_budget=token_budget,
        hf_home=hf_home,
        model_dir=model_dir,
        max_abs=max_abs,
        min_cosine=min_cosine,
        trust_remote_code=trust_remote_code,
    )
