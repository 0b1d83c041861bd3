"""``train_classifier.py`` (``virnucpro train-classifier``): the classifier from merged features."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from virnucpro.classify.settings import DEFAULT_TRAINING, TrainingSettings
from virnucpro.cli.common import (
    MergedFeaturesOption,
    ThreadsOption,
    VersionOption,
    new_app,
    run_app,
)
from virnucpro.cli.threads import limit_cpu_threads

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
    ] = DEFAULT_TRAINING.seed,
    max_epochs: Annotated[int, typer.Option(help="Most epochs.")] = DEFAULT_TRAINING.max_epochs,
    batch_size: Annotated[
        int, typer.Option(help="Frames per batch.")
    ] = DEFAULT_TRAINING.batch_size,
    learning_rate: Annotated[
        float, typer.Option(help="SGD learning rate.")
    ] = DEFAULT_TRAINING.learning_rate,
    momentum: Annotated[float, typer.Option(help="SGD momentum.")] = DEFAULT_TRAINING.momentum,
    step_size: Annotated[
        int, typer.Option(help="Epochs between learning-rate decays.")
    ] = DEFAULT_TRAINING.step_size,
    gamma: Annotated[
        float, typer.Option(help="Learning-rate decay factor.")
    ] = DEFAULT_TRAINING.gamma,
    patience: Annotated[
        int, typer.Option(help="Epochs without a lower validation loss before stopping.")
    ] = DEFAULT_TRAINING.patience,
    hidden: Annotated[int, typer.Option(help="Hidden layer width.")] = DEFAULT_TRAINING.hidden,
    dropout: Annotated[
        float, typer.Option(help="Dropout before the output layer.")
    ] = DEFAULT_TRAINING.dropout,
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
