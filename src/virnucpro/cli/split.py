"""``split_dataset.py``: balance the classes and split train / validation / test."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from virnucpro.cli.common import VersionOption, new_app, run_app
from virnucpro.split import GroupBy, split_dataset

app = new_app("Balance viral and host frames and split them into train / validation / test.")


@app.command(name="split-dataset")
def split_dataset_command(
    sources: Annotated[
        list[Path],
        typer.Option(help="Sources TSV from build_training_set.py; repeat for each input."),
    ],
    output_dir: Annotated[
        Path,
        typer.Option(help="Directory for train.tsv, validation.tsv, test.tsv and summary.tsv."),
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
        GroupBy, typer.Option(help="genome: no genome in two splits; none: split frames freely.")
    ] = GroupBy.genome,
    balance: Annotated[
        bool, typer.Option(help="Down-sample the larger class to the size of the smaller.")
    ] = True,
    version: VersionOption = False,
) -> None:
    """Balance the classes, then assign frames to train / validation / test.

    Balancing samples the larger class, in proportion across its input files,
    down to the size of the smaller. Splitting is done per class; with
    --group-by genome whole genomes go to one split (sizes then follow the
    fractions only as closely as genome sizes allow: see summary.tsv). Frames
    left out by balancing are counted as 'unused' in summary.tsv.
    """
    split_dataset(sources, output_dir, seed, test_fraction, val_fraction, group_by, balance)


def main() -> None:
    """Entry point of ``bin/split_dataset.py``."""
    run_app(app)
