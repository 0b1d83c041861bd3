"""``split_dataset.py`` (``virnucpro split-dataset``): balance the classes and split train / validation / test."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from virnucpro.cli.common import ThreadsOption, VersionOption, new_app, run_app
from virnucpro.cli.threads import limit_cpu_threads
from virnucpro.preprocess.settings import DEFAULT_THRESHOLD, GroupBy, K

app = new_app("Balance viral and host frames and split them into train / validation / test.")


@app.command(name="split-dataset")
def split_dataset_command(
    sources: Annotated[
        list[Path],
        typer.Option(help="Sources TSV from build_training_set.py; repeat for each input."),
    ],
    output_dir: Annotated[
        Path,
        typer.Option(
            help="Directory for train.tsv, validation.tsv, test.tsv, summary.tsv and clusters.tsv."
        ),
    ],
    seed: Annotated[
        int, typer.Option(help="Random seed: the same inputs and seed give the same split.")
    ] = 42,
    test_fraction: Annotated[
        float, typer.Option(help="Share of each class for the test set.")
    ] = 0.1,
    val_fraction: Annotated[
        float, typer.Option(help="Share of each class for the validation set.")
    ] = 0.1,
    group_by: Annotated[
        GroupBy,
        typer.Option(
            help="cluster: no cluster of similar genomes in two splits (needs --sketches); "
            "genome: no genome in two splits; none: split frames freely."
        ),
    ] = GroupBy.cluster,
    balance: Annotated[
        bool, typer.Option(help="Down-sample the larger class to the size of the smaller.")
    ] = True,
    sketches: Annotated[
        list[Path] | None,
        typer.Option(
            help="Sketches from build_training_set.py (--sketches); repeat for each input. "
            "Every genome of the sources needs one."
        ),
    ] = None,
    cluster_threshold: Annotated[
        float,
        typer.Option(
            help="Containment of the smaller genome's sketch at or above which two genomes "
            f"share a cluster, in (0, 1]; {DEFAULT_THRESHOLD} is about 95% identity "
            f"(containment ~ identity^{K})."
        ),
    ] = DEFAULT_THRESHOLD,
    threads: ThreadsOption = None,
    version: VersionOption = False,
) -> None:
    """Balance the classes, then assign frames to train / validation / test.

    Balancing samples the larger class, in proportion across its input files,
    down to the size of the smaller. Each class is split to the fractions; with
    --group-by cluster, genomes whose k-mer sketches (k = 21, one k-mer in
    100) overlap by at least --cluster-threshold of the smaller one, directly
    or through others, form a cluster that goes whole to one split, viral and
    host genomes together (a phage and its prophage's host); --group-by genome
    keeps only each genome whole. Sizes then follow the fractions only as
    closely as cluster sizes allow: see summary.tsv. clusters.tsv lists every
    genome with its cluster and split ('unused' when balancing left out all its
    frames); summary.tsv counts the frames balancing left out as 'unused'.
    """
    limit_cpu_threads(threads)
    from virnucpro.preprocess.split import split_dataset

    split_dataset(
        sources,
        output_dir,
        seed,
        test_fraction,
        val_fraction,
        group_by,
        balance,
        sketches or [],
        cluster_threshold,
    )


def main() -> None:
    """Entry point of ``bin/split_dataset.py``."""
    run_app(app)
