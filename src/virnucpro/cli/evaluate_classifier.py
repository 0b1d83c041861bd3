"""``evaluate_classifier.py`` (``virnucpro evaluate-classifier``): metrics on the test frames."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from virnucpro.cli.common import (
    ClassifierOption,
    MergedFeaturesOption,
    ThreadsOption,
    VersionOption,
    new_app,
    run_app,
)
from virnucpro.cli.threads import limit_cpu_threads

app = new_app("Evaluate a classifier on the test frames.")


@app.command(name="evaluate-classifier")
def evaluate_classifier_command(
    classifier: ClassifierOption,
    features: MergedFeaturesOption,
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
    threads: ThreadsOption = None,
    version: VersionOption = False,
) -> None:
    """Accuracy, precision, recall, F1, AUROC and MCC with 95% bootstrap intervals, confusion matrix and ROC.

    Frames are scored, then the test genomes' chunks and sequences are called as
    classify.py calls them and scored too (evaluation.json "levels"). A test frame
    the classifier was trained or validated on (training_ids.safetensors) is
    refused; a classifier that does not record them is evaluated with a warning,
    and compare_embedders.py will not compare it.
    """
    limit_cpu_threads(threads)
    from virnucpro.classify.evaluation import evaluate_classifier

    evaluate_classifier(classifier, features, test, output_dir, bootstrap, seed, min_viral_fraction)


def main() -> None:
    """Entry point of ``bin/evaluate_classifier.py``."""
    run_app(app)
