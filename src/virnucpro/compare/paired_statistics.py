"""Paired statistics of two embedders scored on the same test frames.

Every embedder's classifier is evaluated on the same frames, so the comparison
is paired: the bootstrap resamples frames once and scores both embedders on the
same draw (the interval is that of the difference, narrower than two
independent intervals), and McNemar's exact test asks whether the frames that
only one of the two calls right lean to one side.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from virnucpro.classify.classifier import LABELS
from virnucpro.classify.evaluation import METRICS
from virnucpro.errors import InputError
from virnucpro.files.contracts import PAIRED_DELTAS, TEST_PREDICTIONS


@dataclass(frozen=True)
class Predictions:
    """One ``test_predictions.tsv``: frames in file order, true labels, calls and virus scores."""

    path: str
    ids: list[str]
    labels: np.ndarray
    calls: np.ndarray
    scores: np.ndarray


def read_predictions(path: str | os.PathLike[str]) -> Predictions:
    """Read EVALUATE_CLASSIFIER's ``test_predictions.tsv``; refuse a malformed one."""
    ids, labels, calls, scores = [], [], [], []
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle, delimiter="\t")
            if tuple(next(reader, ())) != TEST_PREDICTIONS.columns:
                raise InputError(
                    f"{path}: not {TEST_PREDICTIONS.what} "
                    f"(no {' '.join(TEST_PREDICTIONS.columns)} header)"
                )
            for line, row in enumerate(reader, start=2):
                try:
                    frame_id, label, call, _, virus = row
                    if label not in ("0", "1") or call not in LABELS:
                        raise ValueError
                    scores.append(float(virus))
                except ValueError:
                    raise InputError(f"{path}, line {line}: not a prediction row: {row}") from None
                ids.append(frame_id)
                labels.append(int(label))
                calls.append(LABELS.index(call))
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot read predictions ({error})") from None
    if not ids:
        raise InputError(f"{path}: no test frames")
    if len(set(ids)) != len(ids):
        raise InputError(f"{path}: a frame id repeats")
    return Predictions(str(path), ids, np.array(labels), np.array(calls), np.array(scores))


def align(baseline: Predictions, other: Predictions) -> Predictions:
    """``other`` in the frame order of ``baseline``, once both hold the same frames and labels."""
    if set(baseline.ids) != set(other.ids):
        only_base = sorted(set(baseline.ids) - set(other.ids))
        only_other = sorted(set(other.ids) - set(baseline.ids))
        raise InputError(
            f"{baseline.path} and {other.path} hold different test frames "
            f"({len(only_base)} only in the first{', e.g. ' + only_base[0] if only_base else ''}; "
            f"{len(only_other)} only in the second{', e.g. ' + only_other[0] if only_other else ''}): "
            "paired statistics need every embedder scored on the same frames"
        )
    position = {frame_id: index for index, frame_id in enumerate(other.ids)}
    order = np.array([position[frame_id] for frame_id in baseline.ids])
    differ = np.flatnonzero(other.labels[order] != baseline.labels)
    if differ.size:
        raise InputError(
            f"{baseline.path} and {other.path} give different true labels to {differ.size} "
            f"frames (e.g. {baseline.ids[differ[0]]}): they do not come from the same test set"
        )
    return Predictions(
        other.path, baseline.ids, baseline.labels, other.calls[order], other.scores[order]
    )


def bootstrap_indices(frames: int, resamples: int, seed: int) -> np.ndarray:
    """``resamples`` rows of ``frames`` indices drawn with replacement, seeded."""
    if resamples < 1:
        raise InputError(f"bootstrap resamples must be at least 1, got {resamples}")
    return np.random.default_rng(seed).integers(0, frames, (resamples, frames))


def paired_bootstrap(
    labels: np.ndarray,
    baseline: tuple[np.ndarray, np.ndarray],
    other: tuple[np.ndarray, np.ndarray],
    indices: np.ndarray,
) -> dict[str, float | None]:
    """ΔF1, ΔAUROC and ΔMCC (other minus baseline) with 2.5% and 97.5% percentiles.

    ``baseline`` and ``other`` are (calls, virus scores) on the same frames; each
    row of ``indices`` is one resample, applied to both. Resamples holding one
    class only are left out of every interval (no AUROC, and MCC, F1 say nothing
    there), as in ``virnucpro.classify.evaluation.bootstrap_calls``; a bound that cannot be
    computed is None.
    """

    def delta(name: str, pick: np.ndarray | slice) -> float:
        metric, y = METRICS[name], labels[pick]
        return metric(y, other[0][pick], other[1][pick]) - metric(
            y, baseline[0][pick], baseline[1][pick]
        )

    both = [pick for pick in indices if labels[pick].min() != labels[pick].max()]
    result: dict[str, float | None] = {}
    for name in PAIRED_DELTAS:
        draws = [delta(name, pick) for pick in both]
        low, high = np.percentile(draws, [2.5, 97.5]) if draws else (None, None)
        whole = name != "auroc" or labels.min() != labels.max()
        result[f"delta_{name}"] = float(delta(name, slice(None))) if whole else None
        result[f"delta_{name}_low"] = None if low is None else float(low)
        result[f"delta_{name}_high"] = None if high is None else float(high)
    return result


def discordant(labels: np.ndarray, baseline: np.ndarray, other: np.ndarray) -> tuple[int, int]:
    """McNemar's (b, c): frames only ``other`` calls right, and frames only ``baseline`` does."""
    right_base, right_other = baseline == labels, other == labels
    return int((right_other & ~right_base).sum()), int((right_base & ~right_other).sum())


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p: binomial(b + c, 1/2) tails at min(b, c), doubled, at most 1."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(b, c) + 1))
    return float(min(Fraction(1), Fraction(2 * tail, 2**n)))


def paired_statistics(
    baseline: Predictions, other: Predictions, resamples: int, seed: int
) -> dict[str, float | int | None]:
    """The paired columns of ``other`` against ``baseline``: bootstrap Δs and McNemar's b, c, p."""
    other = align(baseline, other)
    labels = baseline.labels
    result: dict[str, float | int | None] = dict(
        paired_bootstrap(
            labels,
            (baseline.calls, baseline.scores),
            (other.calls, other.scores),
            bootstrap_indices(len(labels), resamples, seed),
        )
    )
    b, c = discordant(labels, baseline.calls, other.calls)
    result.update(mcnemar_b=b, mcnemar_c=c, mcnemar_p=mcnemar_exact(b, c))
    return result
