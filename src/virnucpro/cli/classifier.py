"""``train_classifier.py``, ``evaluate_classifier.py`` and ``convert_legacy_model.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from virnucpro.classify.training import TrainingSettings
from virnucpro.cli.common import ClassifierOption, VersionOption, new_app, run_app

DEFAULTS = TrainingSettings()
Features = Annotated[
    list[Path],
    typer.Option(help="Merged feature file (merge_features.py); repeat for every shard."),
]

train_app = new_app("Train the viral / non-viral classifier on merged features.")
evaluate_app = new_app("Evaluate a classifier on the test frames.")
legacy_app = new_app("Import an original VirNucPro 300_model.pth / 500_model.pth.")


@train_app.command(name="train-classifier")
def train_classifier_command(
    features: Features,
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
    version: VersionOption = False,
) -> None:
    """Linear(in, 512) -> BatchNorm1d -> ReLU -> Dropout(0.5) -> Linear(512, 2), trained as the original (SPEC §4).

    The input dimension comes from the features. Training is seeded and
    deterministic on a CPU; early stopping restores the weights of the epoch
    with the lowest validation loss.
    """
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


@evaluate_app.command(name="evaluate-classifier")
def evaluate_classifier_command(
    classifier: ClassifierOption,
    features: Features,
    test: Annotated[Path, typer.Option(help="Test list (split_dataset.py test.tsv).")],
    output_dir: Annotated[
        Path, typer.Option(help="Folder for evaluation.json and test_predictions.tsv.")
    ],
    bootstrap: Annotated[
        int, typer.Option(help="Bootstrap resamples for the 95% intervals.")
    ] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 42,
    min_viral_fraction: Annotated[
        float,
        typer.Option(
            help="Share of a test sequence's chunks that must be viral for a viral call, as in "
            "classify.py."
        ),
    ] = 0.5,
    version: VersionOption = False,
) -> None:
    """Accuracy, precision, recall, F1, AUROC and MCC with 95% bootstrap intervals, confusion matrix and ROC.

    Frames are scored, then the test genomes' chunks and sequences are called as
    classify.py calls them and scored too (evaluation.json "levels").
    """
    from virnucpro.classify.evaluation import evaluate_classifier

    evaluate_classifier(classifier, features, test, output_dir, bootstrap, seed, min_viral_fraction)


@legacy_app.command(name="convert-legacy-model")
def convert_legacy_model_command(
    input: Annotated[Path, typer.Option(help="Original model file, e.g. 300_model.pth.")],
    output_dir: Annotated[Path, typer.Option(help="Checkpoint folder to write.")],
    chunk_size: Annotated[
        int, typer.Option(help="Chunk size the model was trained with (300 or 500).")
    ],
    version: VersionOption = False,
) -> None:
    """Convert a pickled MLPClassifier (DNABERT-S 768 + ESM2-3B 2560 inputs) into a checkpoint.

    The file (torch.save zip or legacy format) is read without torch.load: its
    pickles may name only tensor storages, OrderedDict/set and the Linear,
    BatchNorm1d, ReLU, Dropout, Sequential and MLPClassifier classes, which are
    read as inert stand-ins; anything else is refused and no code from the file
    runs. The checkpoint expects dnabert_s + esm2_3b features, so ESM2-3B
    predictions can be compared with the published models.
    """
    from virnucpro.classify.legacy import convert_legacy_model

    convert_legacy_model(input, output_dir, chunk_size)


def main_train() -> None:
    """Entry point of ``bin/train_classifier.py``."""
    run_app(train_app)


def main_evaluate() -> None:
    """Entry point of ``bin/evaluate_classifier.py``."""
    run_app(evaluate_app)


def main_legacy() -> None:
    """Entry point of ``bin/convert_legacy_model.py``."""
    run_app(legacy_app)
