"""Test-set metrics with 95% bootstrap intervals, the confusion matrix and the ROC curve."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn import metrics

from virnucpro.atomic import AtomicOutputs
from virnucpro.classifier import LABELS, load_classifier
from virnucpro.errors import InputError
from virnucpro.labelled import read_feature_files, select_labelled

log = logging.getLogger(__name__)

FORMAT = "virnucpro-evaluation/1"

# Metric name -> function of (labels, predicted classes, virus scores).
METRICS: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray], float]] = {
    "accuracy": lambda y, p, s: metrics.accuracy_score(y, p),
    "precision": lambda y, p, s: metrics.precision_score(y, p, zero_division=0),
    "recall": lambda y, p, s: metrics.recall_score(y, p, zero_division=0),
    "f1": lambda y, p, s: metrics.f1_score(y, p, zero_division=0),
    "auroc": lambda y, p, s: metrics.roc_auc_score(y, s),
    "mcc": lambda y, p, s: metrics.matthews_corrcoef(y, p),
}


def bootstrap_metrics(
    labels: np.ndarray, scores: np.ndarray, resamples: int, seed: int
) -> dict[str, dict[str, float]]:
    """Each metric with its 2.5% and 97.5% percentiles over seeded resamples of the test set.

    Resamples holding one class only have no AUROC and are left out of its interval;
    a bound that cannot be computed is None (``null`` in JSON, never ``NaN``).
    """
    if resamples < 1:
        raise InputError(f"bootstrap resamples must be at least 1, got {resamples}")
    if len(set(labels.tolist())) < 2:
        raise InputError("the test set holds one class only: metrics need viral and host frames")
    predicted = scores.argmax(axis=1)
    virus = scores[:, 1]
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {name: [] for name in METRICS}
    for _ in range(resamples):
        pick = rng.integers(0, len(labels), len(labels))
        both = labels[pick].min() != labels[pick].max()
        for name, metric in METRICS.items():
            if name != "auroc" or both:
                draws[name].append(metric(labels[pick], predicted[pick], virus[pick]))
    result = {}
    for name, metric in METRICS.items():
        low, high = np.percentile(draws[name], [2.5, 97.5]) if draws[name] else (None, None)
        result[name] = {
            "value": float(metric(labels, predicted, virus)),
            "low": None if low is None else float(low),
            "high": None if high is None else float(high),
        }
    return result


def evaluate_classifier(
    model_dir: str | os.PathLike[str],
    feature_paths: Sequence[str | os.PathLike[str]],
    test_path: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    resamples: int = 1000,
    seed: int = 42,
) -> dict[str, Any]:
    """Score the test frames; write ``evaluation.json`` and ``test_predictions.tsv``."""
    classifier = load_classifier(Path(model_dir))
    files = read_feature_files(feature_paths)
    for path, features in zip(feature_paths, files, strict=True):
        classifier.check_features(features, str(path))
    test = select_labelled(files, test_path)
    scores = classifier.scores(test.matrix)
    tn, fp, fn, tp = metrics.confusion_matrix(
        test.labels, scores.argmax(axis=1), labels=[0, 1]
    ).ravel()
    fpr, tpr, _ = metrics.roc_curve(test.labels, scores[:, 1])
    result = {
        "format": FORMAT,
        "embedder": classifier.protein_embedder,
        "dna_embedder": classifier.embedders["dna"],
        "dimension": classifier.dimensions["protein"],
        "precision": test.source.metadata["precision"],
        "chunk_size": classifier.chunk_size,
        "test_frames": len(test.ids),
        "test_viral_frames": int(test.labels.sum()),
        "test_ids_sha256": hashlib.sha256("\n".join(test.ids).encode()).hexdigest(),
        "bootstrap": {"resamples": resamples, "seed": seed},
        "metrics": bootstrap_metrics(test.labels, scores, resamples, seed),
        "confusion": {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)},
        "roc": {"fpr": fpr.round(6).tolist(), "tpr": tpr.round(6).tolist()},
    }
    out = Path(output_dir)
    with AtomicOutputs() as outputs:
        outputs.open(out / "evaluation.json").write(
            json.dumps(result, indent=2, allow_nan=False) + "\n"
        )
        table = outputs.open(out / "test_predictions.tsv")
        table.write("frame_id\tlabel\tprediction\tscore1\tscore2\n")
        for frame_id, label, (others, virus) in zip(test.ids, test.labels, scores, strict=True):
            table.write(
                f"{frame_id}\t{label}\t{LABELS[int(virus > others)]}\t{others:.6f}\t{virus:.6f}\n"
            )
    values = result["metrics"]
    log.info(
        "%s on %d test frames: F1 %.3f [%.3f, %.3f], AUROC %.3f, accuracy %.3f",
        classifier.protein_embedder, len(test.ids), values["f1"]["value"], values["f1"]["low"],
        values["f1"]["high"], values["auroc"]["value"], values["accuracy"]["value"],
    )  # fmt: skip
    return result
