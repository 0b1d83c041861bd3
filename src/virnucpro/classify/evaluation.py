"""Test-set metrics with 95% bootstrap intervals, the confusion matrix and the ROC curve.

Users act on per-sequence calls, so besides the frames the test genomes are also
scored as predict mode calls them: per chunk (virus when its frames' highest virus
score is at least their highest others score) and per sequence (virus when at
least the minimum viral fraction of its chunks are), with the rules of
``virnucpro.classify.calling``. A test sequence is a held-out GenBank record; only its
frames in the test set (CDS-matching, after balancing) are scored.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn import metrics

from virnucpro.classify.calling import (
    check_fraction,
    chunk_of,
    is_viral_chunk,
    is_viral_frame,
    is_viral_sequence,
    sequence_of,
)
from virnucpro.classify.classifier import LABELS, check_unseen, load_classifier
from virnucpro.classify.labelled import (
    check_chunk_size_claim,
    named_feature_files,
    select_labelled,
)
from virnucpro.errors import InputError
from virnucpro.files.atomic import AtomicOutputs
from virnucpro.files.contracts import EVALUATION, LEVELS, METRIC_NAMES, TEST_PREDICTIONS
from virnucpro.files.digests import ids_digest

log = logging.getLogger(__name__)


Metric = Callable[[np.ndarray, np.ndarray, np.ndarray], float]
_SCORERS: dict[str, Metric] = {
    "accuracy": lambda y, p, s: metrics.accuracy_score(y, p),
    "precision": lambda y, p, s: metrics.precision_score(y, p, zero_division=0),
    "recall": lambda y, p, s: metrics.recall_score(y, p, zero_division=0),
    "f1": lambda y, p, s: metrics.f1_score(y, p, zero_division=0),
    "auroc": lambda y, p, s: metrics.roc_auc_score(y, s),
    "mcc": lambda y, p, s: metrics.matthews_corrcoef(y, p),
}
#: Metric name -> function of (labels, predicted classes, virus scores), in the
#: order of evaluation.json and comparison.tsv
METRICS: dict[str, Metric] = {name: _SCORERS[name] for name in METRIC_NAMES}


def bootstrap_metrics(
    labels: np.ndarray, scores: np.ndarray, resamples: int, seed: int
) -> dict[str, dict[str, float]]:
    """Frame metrics of (others, virus) scores: the call is the larger score (see ``bootstrap_calls``)."""
    return bootstrap_calls(labels, scores.argmax(axis=1), scores[:, 1], resamples, seed)


def bootstrap_calls(
    labels: np.ndarray, calls: np.ndarray, virus: np.ndarray, resamples: int, seed: int
) -> dict[str, dict[str, float]]:
    """Each metric with its 2.5% and 97.5% percentiles over seeded resamples of the test set.

    ``calls`` are the predicted classes and ``virus`` the scores AUROC ranks by.
    Resamples holding one class only (likely among a few test sequences) are left
    out of every interval; a bound that cannot be computed is None (``null`` in
    JSON, never ``NaN``).
    """
    if resamples < 1:
        raise InputError(f"bootstrap resamples must be at least 1, got {resamples}")
    if len(set(labels.tolist())) < 2:
        raise InputError("the test set holds one class only: metrics need viral and host frames")
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {name: [] for name in METRICS}
    for _ in range(resamples):
        pick = rng.integers(0, len(labels), len(labels))
        if labels[pick].min() == labels[pick].max():
            continue  # one class: no AUROC, and MCC, precision or recall say nothing
        for name, metric in METRICS.items():
            draws[name].append(metric(labels[pick], calls[pick], virus[pick]))
    result = {}
    for name, metric in METRICS.items():
        low, high = np.percentile(draws[name], [2.5, 97.5]) if draws[name] else (None, None)
        result[name] = {
            "value": float(metric(labels, calls, virus)),
            "low": None if low is None else float(low),
            "high": None if high is None else float(high),
        }
    return result


@dataclass(frozen=True)
class Calls:
    """Calls at one level (chunks or sequences): ids, true labels, calls and ranking scores."""

    ids: list[str]
    labels: np.ndarray
    calls: np.ndarray
    scores: np.ndarray


def _groups(ids: Sequence[str], key: Callable[[str], str]) -> dict[str, list[int]]:
    """Row numbers of ``ids`` by group, groups in order of first appearance."""
    groups: dict[str, list[int]] = {}
    for row, item in enumerate(ids):
        groups.setdefault(key(item), []).append(row)
    return groups


def _group_label(group: str, labels: np.ndarray) -> int:
    if labels.min() != labels.max():
        raise InputError(f"test frames of '{group}' carry both labels: a mislabelled test list?")
    return int(labels[0])


def chunk_calls(frame_ids: Sequence[str], labels: np.ndarray, scores: np.ndarray) -> Calls:
    """Each test chunk called from its frames; ranked by its highest virus score."""
    groups = _groups(frame_ids, chunk_of)
    best = np.array([scores[rows].max(axis=0) for rows in groups.values()]).reshape(-1, 2)
    return Calls(
        list(groups),
        np.array([_group_label(g, labels[rows]) for g, rows in groups.items()], dtype=int),
        np.array([is_viral_chunk(others, virus) for others, virus in best], dtype=int),
        best[:, 1],
    )


def sequence_calls(chunks: Calls, min_viral_fraction: float) -> Calls:
    """Each test sequence called from its chunks; ranked by its fraction of viral chunks."""
    groups = _groups(chunks.ids, sequence_of)
    viral = [int(chunks.calls[rows].sum()) for rows in groups.values()]
    sizes = [len(rows) for rows in groups.values()]
    return Calls(
        list(groups),
        np.array([_group_label(g, chunks.labels[rows]) for g, rows in groups.items()], dtype=int),
        np.array(
            [
                is_viral_sequence(v, n, min_viral_fraction)
                for v, n in zip(viral, sizes, strict=True)
            ],
            dtype=int,
        ),
        np.array(viral) / np.array(sizes),
    )


def level_metrics(level: Calls, resamples: int, seed: int) -> dict[str, Any]:
    """Counts and metrics of one level; metrics are None when it holds one class only."""
    both = len(set(level.labels.tolist())) == 2
    return {
        "count": len(level.ids),
        "viral": int(level.labels.sum()),
        "metrics": bootstrap_calls(level.labels, level.calls, level.scores, resamples, seed)
        if both
        else None,
    }


def evaluate_classifier(
    model_dir: str | os.PathLike[str],
    feature_paths: Sequence[str | os.PathLike[str]],
    test_path: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    resamples: int = 1000,
    seed: int = 42,
    min_viral_fraction: float = 0.5,
) -> dict[str, Any]:
    """Score the test frames, chunks and sequences; write ``evaluation.json`` and ``test_predictions.tsv``."""
    check_fraction(min_viral_fraction)
    named = named_feature_files(feature_paths)
    files = [features for _, features in named]
    classifier = load_classifier(Path(model_dir), named)
    check_chunk_size_claim([name for name, _ in named], files, classifier.chunk_size)
    test = select_labelled(files, test_path)
    unseen = check_unseen(Path(model_dir), test.ids, str(test_path))
    scores = classifier.scores(test.matrix)
    tn, fp, fn, tp = metrics.confusion_matrix(
        test.labels, scores.argmax(axis=1), labels=[0, 1]
    ).ravel()
    fpr, tpr, _ = metrics.roc_curve(test.labels, scores[:, 1])
    chunks = chunk_calls(test.ids, test.labels, scores)
    sequences = sequence_calls(chunks, min_viral_fraction)
    result = {
        "format": EVALUATION.format,
        "embedder": classifier.protein_embedder,
        "dna_embedder": classifier.embedders["dna"],
        "dimension": classifier.dimensions["protein"],
        "precision": test.source.metadata["precision"],
        "chunk_size": classifier.chunk_size,
        "test_frames": len(test.ids),
        "test_viral_frames": int(test.labels.sum()),
        "test_ids_sha256": ids_digest(test.ids),
        "test_frames_unseen": unseen,
        "classifier_data_sha256": classifier.details.get("training", {}).get("data_sha256"),
        "protein_weights_sha256": test.source.metadata["protein_weights_sha256"],
        "dna_weights_sha256": test.source.metadata["dna_weights_sha256"],
        # the models as the features name them (a local folder under --models_dir, or
        # a Hugging Face repository and revision), for the comparison's provenance
        **{
            f"{modality}_{key}": test.source.metadata[f"{modality}_{key}"]
            for modality in ("dna", "protein")
            for key in ("model_id", "revision")
        },
        # the frames the features were made of, letter for letter: every embedder's
        # evaluation must read the same DNA frames (its own protein model aside)
        "dna_frames_sha256": sorted(f.metadata["dna_frames_sha256"] for f in files),
        "protein_frames_sha256": sorted(f.metadata["protein_frames_sha256"] for f in files),
        "bootstrap": {"resamples": resamples, "seed": seed},
        "metrics": bootstrap_metrics(test.labels, scores, resamples, seed),
        "confusion": {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)},
        "roc": {"fpr": fpr.round(6).tolist(), "tpr": tpr.round(6).tolist()},
        "levels": {
            "min_viral_fraction": min_viral_fraction,
            "chunk": level_metrics(chunks, resamples, seed),
            "sequence": level_metrics(sequences, resamples, seed),
        },
    }
    out = Path(output_dir)
    with AtomicOutputs() as outputs:
        outputs.open(out / EVALUATION.name).write(
            json.dumps(result, indent=2, allow_nan=False) + "\n"
        )
        table = outputs.open(out / TEST_PREDICTIONS.name)
        table.write(TEST_PREDICTIONS.header)
        for frame_id, label, (others, virus) in zip(test.ids, test.labels, scores, strict=True):
            table.write(
                f"{frame_id}\t{label}\t{LABELS[int(is_viral_frame(others, virus))]}\t{others:.6f}\t{virus:.6f}\n"
            )
    if not unseen:
        log.warning(
            "%s does not record the frames it was trained on: the test frames cannot be shown "
            "to be unseen, and compare_embedders.py will refuse this evaluation",
            model_dir,
        )
    values = result["metrics"]
    log.info(
        "%s on %d test frames: F1 %.3f [%.3f, %.3f], AUROC %.3f, accuracy %.3f",
        classifier.protein_embedder, len(test.ids), values["f1"]["value"], values["f1"]["low"],
        values["f1"]["high"], values["auroc"]["value"], values["accuracy"]["value"],
    )  # fmt: skip
    for name in LEVELS:
        level = result["levels"][name]
        found = level["metrics"]
        log.info(
            "%s on %d test %ss (%d viral): %s", classifier.protein_embedder, level["count"], name,
            level["viral"], "one class only, no metrics" if found is None else
            f"F1 {found['f1']['value']:.3f}, accuracy {found['accuracy']['value']:.3f}",
        )  # fmt: skip
    return result
