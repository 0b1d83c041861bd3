"""``download_refseq.py`` (``virnucpro download-refseq``): the original's training files
from a RefSeq release, with a labelled samplesheet."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from virnucpro.cli.common import ThreadsOption, VersionOption, new_app, run_app
from virnucpro.cli.threads import limit_cpu_threads
from virnucpro.download.fetch import FetchSettings
from virnucpro.download.listing import RELEASE_URL
from virnucpro.download.samplesheet import SAMPLESHEET
from virnucpro.download.sampling import (
    ORIGINAL_HOST_FILES,
    ORIGINAL_SEED,
    ORIGINAL_VIRAL_FILES,
    parse_host_files,
    parse_viral_files,
)

_ORIGINAL_HOSTS = ",".join(f"{category}={count}" for category, count in ORIGINAL_HOST_FILES)

app = new_app(
    "Download the training data as the original VirNucPro got it: RefSeq viral and "
    "sampled host GenBank files, checked, with a samplesheet (needs internet)."
)


def _split(values: list[str] | None) -> list[str]:
    """Repeated and comma-separated values, in order."""
    return [item.strip() for value in values or [] for item in value.split(",") if item.strip()]


@app.command(name="download-refseq")
def download_refseq_command(
    output_dir: Annotated[
        Path,
        typer.Option(
            help="Download folder, kept between runs: a rerun resumes interrupted files "
            "and skips those the folder's manifest.tsv vouches for (same release, size "
            "and SHA-256)."
        ),
    ],
    release_url: Annotated[
        str, typer.Option(help="RefSeq release folder, one subfolder per category.")
    ] = RELEASE_URL,
    samplesheet: Annotated[
        Path | None,
        typer.Option(
            help=f"Samplesheet to write (sample,sequences,label) [default: <output-dir>/{SAMPLESHEET}]."
        ),
    ] = None,
    absolute_paths: Annotated[
        bool,
        typer.Option(
            "--absolute-paths",
            help="Give the files' absolute paths in the samplesheet (default: relative to its "
            "folder), for a samplesheet kept away from the downloads.",
        ),
    ] = False,
    seed: Annotated[
        int, typer.Option(help="Seed of the host-file draw; the original's is 42.")
    ] = ORIGINAL_SEED,
    host_files: Annotated[
        list[str] | None,
        typer.Option(
            help="Host category and how many of its genomic.gbff.gz files to draw, as "
            "category=count; repeatable or comma-separated. The order is the order of "
            f"the draws [default: {_ORIGINAL_HOSTS}].",
        ),
    ] = None,
    viral_files: Annotated[
        list[str] | None,
        typer.Option(
            help="File of the release's viral/ folder, labelled viral; repeatable or "
            f"comma-separated [default: {','.join(ORIGINAL_VIRAL_FILES)}].",
        ),
    ] = None,
    retries: Annotated[
        int,
        typer.Option(
            min=0,
            help="Tries after the first when a transfer breaks off, each resuming where "
            "it stopped; waits 2 s, then twice as long each time (at most 60 s).",
        ),
    ] = 5,
    timeout: Annotated[
        float, typer.Option(min=1, help="Seconds a connection may stay silent before a retry.")
    ] = 60.0,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Only fetch the listings: log the files chosen and the disk space they need.",
        ),
    ] = False,
    threads: ThreadsOption = None,
    version: VersionOption = False,
) -> None:
    """Download the files the original VirNucPro trained on, from today's RefSeq release.

    Viral: viral/viral.1.genomic.gbff.gz. Host: the original's seeded draw, one
    random.Random(seed) sampling min(count, listed) of each category's
    genomic.gbff.gz files in listing order, categories in the given order. The
    same listings and seed give the same files; a new release lists other files,
    so the listing pages are kept in <output-dir>/listings/.

    Each file is written as <name>.part and renamed once its size equals the
    server's Content-Length and it decompresses whole; its SHA-256 goes to
    <output-dir>/manifest.tsv with its URL, label, category, counts and release
    (the release folder's RELEASE_NUMBER). A rerun downloads again a file of
    another release, so that the samplesheet never mixes releases. The
    samplesheet (sample = file name without .genomic.gbff.gz) is the --input of
    --mode compare or train.
    """
    limit_cpu_threads(threads)
    from virnucpro.download.refseq import Plan, download_refseq

    plan = Plan(
        output_dir=output_dir,
        release_url=release_url,
        samplesheet=samplesheet,
        seed=seed,
        host_files=parse_host_files(_split(host_files)) if host_files else ORIGINAL_HOST_FILES,
        viral_files=parse_viral_files(viral_files) if viral_files else ORIGINAL_VIRAL_FILES,
        absolute_paths=absolute_paths,
        dry_run=dry_run,
        fetching=FetchSettings(timeout=timeout, retries=retries),
    )
    download_refseq(plan)


def main() -> None:
    """Entry point of ``bin/download_refseq.py``."""
    run_app(app)
