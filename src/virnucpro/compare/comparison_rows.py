"""The rows of the comparison table: one per embedder, from its evaluation, benchmark and
test predictions, ending in the projected hours and the verdict.

Given the test predictions of every embedder, the deltas against the baseline
are paired (``paired_statistics``): bootstrap intervals of ΔF1, ΔAUROC, ΔMCC
and McNemar's test; the decision (``decision``) projects hours for a million
reads and gives a verdict on ΔF1 under the allowed loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from virnucpro.classify.evaluation import METRICS
from virnucpro.compare.decision import Decision, decide, frames_per_read, projected_hours
from virnucpro.compare.paired_statistics import (
    Predictions,
    align,
    paired_statistics,
    read_predictions,
)
from virnucpro.errors import InputError
from virnucpro.files.contracts import (
    COMPARISON,
    LEVEL_METRICS,
    LEVELS,
    PAIRED_COLUMNS,
    SPEED_COLUMNS,
)
from virnucpro.files.digests import ids_digest

Row = dict[str, Any]


def build_rows(evaluations: list[Row], benchmarks: list[Row], baseline: str) -> list[Row]:
    """One row per evaluated embedder, with speed (or None) and deltas against ``baseline``."""
    speed = {benchmark["embedder"]: benchmark for benchmark in benchmarks}
    rows = []
    for evaluation in evaluations:
        confusion = evaluation["confusion"]
        row: Row = {
            "embedder": evaluation["embedder"],
            "dimension": evaluation["dimension"],
            # not columns of the table: what the decision asks of the baseline's test set
            "test_frames": evaluation["test_frames"],
            "test_viral_frames": evaluation["test_viral_frames"],
            "virus_calls": confusion["tp"] + confusion["fp"],
        }
        for name, value in evaluation["metrics"].items():
            row.update(
                {name: value["value"], f"{name}_low": value["low"], f"{name}_high": value["high"]}
            )
        for level in LEVELS:
            found = evaluation["levels"][level]["metrics"] or {}
            for name in LEVEL_METRICS:
                value = found.get(name, {})
                for suffix, key in (("", "value"), ("_low", "low"), ("_high", "high")):
                    row[f"{level}_{name}{suffix}"] = value.get(key)
        benchmark = speed.get(evaluation["embedder"])
        row.update({key: benchmark[key] if benchmark else None for key in SPEED_COLUMNS})
        rows.append(row)
    base = next((row for row in rows if row["embedder"] == baseline), None)
    if base is None:
        names = ", ".join(row["embedder"] for row in rows)
        raise InputError(
            f"baseline '{baseline}' is not among the evaluated embedders ({names}): set --baseline"
        )
    for row in rows:
        row["delta_f1"] = row["f1"] - base["f1"]
        # the range: this embedder's slowest pass against the baseline's fastest, and back
        for end, other_end in (("", ""), ("_low", "_high"), ("_high", "_low")):
            fast = row[f"sequences_per_second{end}"]
            slow = base[f"sequences_per_second{other_end}"]
            row[f"speedup{end}"] = fast / slow if fast and slow else None
    return rows


def _bind(predictions: Predictions, evaluation: Row, path: Path) -> None:
    """Refuse predictions that are not those the evaluation at ``path`` was computed from."""
    f1 = METRICS["f1"](predictions.labels, predictions.calls, predictions.scores)
    if (
        ids_digest(predictions.ids) != evaluation["test_ids_sha256"]
        or abs(f1 - evaluation["metrics"]["f1"]["value"]) > 1e-9
    ):
        raise InputError(
            f"{predictions.path} are not the test predictions of {path} ({evaluation['embedder']}, "
            f"F1 {evaluation['metrics']['f1']['value']:.6g}; these give F1 {f1:.6g} on "
            f"{len(predictions.ids)} frames): give --predictions in the order of --evaluation"
        )


def add_paired(
    rows: list[Row],
    evaluations: list[Row],
    evaluation_paths: Sequence[Path],
    prediction_paths: Sequence[Path],
    baseline: str,
    resamples: int,
    seed: int,
) -> None:
    """Fill the paired columns of ``rows`` (None without predictions, and for the baseline)."""
    for row in rows:
        row.update({key: None for key in PAIRED_COLUMNS if key != "delta_f1"})
    if not prediction_paths:
        return
    if len(prediction_paths) != len(evaluation_paths):
        raise InputError(
            f"{len(prediction_paths)} predictions files for {len(evaluation_paths)} evaluations: "
            "give one --predictions per --evaluation, in the same order"
        )
    tables = [read_predictions(path) for path in prediction_paths]
    names = [evaluation["embedder"] for evaluation in evaluations]
    base = tables[names.index(baseline)]
    for table in tables:
        align(base, table)  # same frames and labels, or one error naming both files
    for table, evaluation, path in zip(tables, evaluations, evaluation_paths, strict=True):
        _bind(table, evaluation, Path(path))
    for row, table in zip(rows, tables, strict=True):
        if row["embedder"] != baseline:
            row.update(paired_statistics(base, table, resamples, seed))


def add_decisions(
    rows: list[Row], counts_paths: Sequence[Path], baseline: str, max_f1_loss: float
) -> tuple[list[Decision], float | None]:
    """Fill the hours and verdict columns; the decisions and the frames per read behind the hours."""
    per_read = frames_per_read(counts_paths)
    for row in rows:
        row["hours_per_million_reads"] = projected_hours(row["tokens_per_second"], per_read)
    decisions = decide(rows, baseline, max_f1_loss)
    for row, decision in zip(rows, decisions, strict=True):
        row["verdict"] = decision.verdict.value if decision.verdict else None
        row["verdict_reason"] = decision.reason
        row["needed_test_frames"] = decision.needed_test_frames
    return decisions, per_read


def _cell(row: Row, key: str) -> str:
    value = row[key]
    if value is None:
        return "n/a"
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def table_text(rows: Sequence[Row]) -> str:
    """comparison.tsv: the header, then one line per row (None as n/a)."""
    lines = ["\t".join(_cell(row, key) for key in COMPARISON.columns) + "\n" for row in rows]
    return COMPARISON.header + "".join(lines)
