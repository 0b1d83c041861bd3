"""``train_classifier.py`` (``virnucpro train-classifier``): the classifier from merged features."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from virnucpro.classify.training import TrainingSettings
from virnucpro.cli.common import (
    MergedFeaturesOption,
    ThreadsOption,
    VersionOption,
    new_app,
    run_app,
)
from virnucpro.cli.threads import limit_cpu_threads

DEFAULTS = TrainingSettings()

app = new_app("Train the viral / non-viral classifier on merged features.")


@app.command(name="train-classifier")
def train_classifier_command(
    features: MergedFeaturesOption,
    train: Annotated[Path, typer.Option(help="Train list (split_dataset.py train.tsv).")],
    validation: Annotated[
        Path, typer.Option(help="Validation list for early stopping (validation.tsv).")
    ],
    output_dir: Annotated[
        Path,
        typer.Option(
            help="Checkpoint folder: model.safetensors, classifier.json, training_log.tsv."
        ),
    ],
    seed: Annotated[
        int, typer.Option(help="Seed of the initial weights and batch order.")
    ] = DEFAULTS.seed,
    max_epochs: Annotated[int, typer.Option(help="Most epochs.")] = DEFAULTS.max_epochs,
    batch_size: Annotated[int, typer.Option(help="Frames per batch.")] = DEFAULTS.batch_size,
    learning_rate: Annotated[
        float, typer.Option(help="SGD learning rate.")
    ] = DEFAULTS.learning_rate,
    momentum: Annotated[float, typer.Option(help="SGD momentum.")] = DEFAULTS.momentum,
    step_size: Annotated[
        int, typer.Option(help="Epochs between learning-rate decays.")
    ] = DEFAULTS.step_size,
    gamma: Annotated[float, typer.Option(help="Learning-rate decay factor.")] = DEFAULTS.gamma,
    patience: Annotated[
        int, typer.Option(help="Epochs without a lower validation loss before stopping.")
    ] = DEFAULTS.patience,
    hidden: Annotated[int, typer.Option(help="Hidden layer width.")] = DEFAULTS.hidden,
    dropout: Annotated[
        float, typer.Option(help="Dropout before the output layer.")
    ] = DEFAULTS.dropout,
    threads: ThreadsOption = None,
    version: VersionOption = False,
) -> None:
    """Linear(in, 512) -> BatchNorm1d -> ReLU -> Dropout(0.5) -> Linear(512, 2), trained as the original.

    The input dimension comes from the features. Training is seeded and
    deterministic on a CPU; early stopping restores the weights of the epoch
    with the lowest validation loss.
    """
    limit_cpu_threads(threads)
    from virnucpro.classify.training import train_classifier

    settings = TrainingSettings(
        seed,
        max_epochs,
        batch_size,
        learning_rate,
        momentum,
        step_size,
        gamma,
        patience,
        hidden,
        dropout,
    )
    train_classifier(features, train, validation, output_dir, settings)


def main() -> None:
    """Entry point of ``bin/train_classifier.py``."""
    run_app(app)
