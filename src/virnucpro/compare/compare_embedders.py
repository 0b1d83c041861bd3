"""One comparison of protein embedders: accuracy and speed side by side (SPEC §7).

The inputs must be comparable or the comparison is refused: every evaluation on
the same test frames with the same DNA embedder, chunk size and precision, and
every benchmark on the same device, precision, token budget and input. Given the
test predictions of every embedder, the deltas against the baseline are paired
(virnucpro.compare.paired_statistics): bootstrap intervals of ΔF1, ΔAUROC, ΔMCC and McNemar's test.
The test genomes' chunks and sequences are scored beside the frames, and the
table ends in a decision (virnucpro.compare.decision): projected hours for a million
reads and a verdict on ΔF1 under the allowed loss.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from virnucpro.classify.evaluation import FORMAT as EVALUATION_FORMAT
from virnucpro.classify.evaluation import METRICS
from virnucpro.compare.comparison_report import write_report
from virnucpro.compare.decision import (
    PROJECTION_READS,
    VERDICT_TEXT,
    Decision,
    decide,
    frames_per_read,
    projected_hours,
    tokens_per_frame,
)
from virnucpro.compare.paired_statistics import COLUMNS as PAIRED
from virnucpro.compare.paired_statistics import (
    Predictions,
    align,
    paired_statistics,
    read_predictions,
)
from virnucpro.embed.benchmark import FORMAT as BENCHMARK_FORMAT
from virnucpro.errors import InputError
from virnucpro.files.atomic import AtomicOutputs
from virnucpro.preprocess.training_set import PROJECTION_READ_LENGTH

log = logging.getLogger(__name__)

SPEED = ("sequences_per_second", "tokens_per_second", "peak_memory_gib", "load_seconds")
#: Levels above the frame and the metrics the table gives for each.
LEVELS = ("chunk", "sequence")
LEVEL_METRICS = ("f1", "accuracy")
LEVEL_COLUMNS = tuple(
    f"{level}_{name}{suffix}"
    for level in LEVELS
    for name in LEVEL_METRICS
    for suffix in ("", "_low", "_high")
)
COLUMNS = (
    "embedder",
    "dimension",
    *[f"{name}{suffix}" for name in METRICS for suffix in ("", "_low", "_high")],
    *SPEED,
    "speedup",
    *PAIRED,
    *LEVEL_COLUMNS,
    "hours_per_million_reads",
    "verdict",
)


def _read(paths: Sequence[Path], expected_format: str, what: str) -> list[dict[str, Any]]:
    documents = []
    for path in paths:
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise InputError(f"{path}: cannot read {what} ({error})") from None
        if not isinstance(document, dict) or document.get("format") != expected_format:
            raise InputError(f"{path}: not {what} file of this version ({expected_format})")
        documents.append(document)
    return documents


def _same(
    documents: list[dict[str, Any]], paths: Sequence[Path], keys: Sequence[str], what: str
) -> None:
    for key in keys:
        values = {str(document[key]) for document in documents}
        if len(values) > 1:
            found = ", ".join(
                f"{Path(p).name}: {d[key]}" for p, d in zip(paths, documents, strict=True)
            )
            raise InputError(f"{what} differ in {key} ({found}): the comparison needs them equal")


def build_rows(
    evaluations: list[dict[str, Any]], benchmarks: list[dict[str, Any]], baseline: str
) -> list[dict[str, Any]]:
    """One row per evaluated embedder, with speed (or None) and deltas against ``baseline``."""
    speed = {benchmark["embedder"]: benchmark for benchmark in benchmarks}
    rows = []
    for evaluation in evaluations:
        row: dict[str, Any] = {
            "embedder": evaluation["embedder"],
            "dimension": evaluation["dimension"],
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
        row.update({key: benchmark[key] if benchmark else None for key in SPEED})
        rows.append(row)
    base = next((row for row in rows if row["embedder"] == baseline), None)
    if base is None:
        names = ", ".join(row["embedder"] for row in rows)
        raise InputError(
            f"baseline '{baseline}' is not among the evaluated embedders ({names}): set --baseline"
        )
    for row in rows:
        row["delta_f1"] = row["f1"] - base["f1"]
        fast, slow = row["sequences_per_second"], base["sequences_per_second"]
        row["speedup"] = fast / slow if fast and slow else None
    return rows


def _bind(predictions: Predictions, evaluation: dict[str, Any], path: Path) -> None:
    """Refuse predictions that are not those the evaluation at ``path`` was computed from."""
    ids_sha256 = hashlib.sha256("\n".join(predictions.ids).encode()).hexdigest()
    f1 = METRICS["f1"](predictions.labels, predictions.calls, predictions.scores)
    if (
        ids_sha256 != evaluation["test_ids_sha256"]
        or abs(f1 - evaluation["metrics"]["f1"]["value"]) > 1e-9
    ):
        raise InputError(
            f"{predictions.path} are not the test predictions of {path} ({evaluation['embedder']}, "
            f"F1 {evaluation['metrics']['f1']['value']:.6g}; these give F1 {f1:.6g} on "
            f"{len(predictions.ids)} frames): give --predictions in the order of --evaluation"
        )


def add_paired(
    rows: list[dict[str, Any]],
    evaluations: list[dict[str, Any]],
    evaluation_paths: Sequence[Path],
    prediction_paths: Sequence[Path],
    baseline: str,
    resamples: int,
    seed: int,
) -> None:
    """Fill the paired columns of ``rows`` (None without predictions, and for the baseline)."""
    for row in rows:
        row.update({key: None for key in PAIRED if key != "delta_f1"})
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


def _number(value: float | None, pattern: str) -> str:
    """A value of comparison.md: formatted, or n/a."""
    return "n/a" if value is None else format(value, pattern)


def _speedup(row: dict[str, Any]) -> str:
    return "n/a" if row["speedup"] is None else f"{row['speedup']:.2f}x"


def _cell(row: dict[str, Any], key: str) -> str:
    value = row[key]
    if value is None:
        return "n/a"
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _markdown(
    rows: list[dict[str, Any]], baseline: str, context: dict[str, str], decision: str
) -> str:
    """comparison.md: the context, the decision, then the tables behind it."""

    def interval(row: dict[str, Any], name: str) -> str:
        low, high = (_number(row[f"{name}_{end}"], ".3f") for end in ("low", "high"))
        return f"{_number(row[name], '.3f')} [{low}, {high}]"

    lines = [
        f"Baseline: **{baseline}**. "
        + "; ".join(f"{key}: {value}" for key, value in context.items()),
        "",
        decision,
        "## Accuracy and speed",
        "",
        "| embedder | dim | F1 | accuracy | precision | recall | AUROC | MCC | seq/s | tokens/s | peak GiB | load s | speedup | ΔF1 |",
        "|---|---:|---|---|---|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        metrics = " | ".join(
            interval(row, name)
            for name in ("f1", "accuracy", "precision", "recall", "auroc", "mcc")
        )
        lines.append(
            f"| {row['embedder']}{' (baseline)' if row['embedder'] == baseline else ''} | {row['dimension']} | "
            f"{metrics} | {_number(row['sequences_per_second'], '.1f')} | {_number(row['tokens_per_second'], ',.0f')} | "
            f"{_number(row['peak_memory_gib'], '.2f')} | {_number(row['load_seconds'], '.1f')} | {_speedup(row)} | {row['delta_f1']:+.3f} |"
        )
    if any(row["mcnemar_p"] is not None for row in rows):
        lines += [
            "",
            "Paired against the baseline on the same test frames: Δ with its 95% paired-bootstrap "
            "interval; McNemar's exact test on the calls (b: frames only the embedder calls "
            "right, c: frames only the baseline calls right).",
            "",
            "| embedder | ΔF1 | ΔAUROC | ΔMCC | b | c | McNemar p |",
            "|---|---|---|---|---:|---:|---:|",
        ]
        for row in rows:
            if row["mcnemar_p"] is None:
                continue
            deltas = " | ".join(
                f"{_number(row[key], '+.3f')} [{_number(row[key + '_low'], '+.3f')}, "
                f"{_number(row[key + '_high'], '+.3f')}]"
                for key in ("delta_f1", "delta_auroc", "delta_mcc")
            )
            lines.append(
                f"| {row['embedder']} | {deltas} | {row['mcnemar_b']} | {row['mcnemar_c']} | "
                f"{row['mcnemar_p']:.3g} |"
            )
    lines += [
        "",
        "Test genomes called as predict mode calls them (chunk: its frames; sequence: its chunks), "
        "with 95% bootstrap intervals.",
        "",
        "| embedder | chunk F1 | chunk accuracy | sequence F1 | sequence accuracy |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        levels = " | ".join(
            interval(row, f"{level}_{name}") for level in LEVELS for name in LEVEL_METRICS
        )
        lines.append(f"| {row['embedder']} | {levels} |")
    return "\n".join(lines) + "\n"


def _decision_markdown(
    rows: list[dict[str, Any]], decisions: list[Decision], projection: str, max_f1_loss: float
) -> str:
    """The decision section, first in comparison.md: the table, then one verdict line each."""

    lines = [
        "## Decision",
        "",
        f"Allowed F1 loss: {max_f1_loss:g}. {projection}",
        "",
        "| embedder | tokens/s | hours per 1M reads | speedup | \u0394F1 [95% paired] | verdict |",
        "|---|---:|---:|---:|---|---|",
    ]
    for row, decision in zip(rows, decisions, strict=True):
        low, high = row["delta_f1_low"], row["delta_f1_high"]
        delta = f"{row['delta_f1'] + 0.0:+.3f}" + (
            "" if low is None or high is None else f" [{low + 0.0:+.3f}, {high + 0.0:+.3f}]"
        )
        outcome = "baseline" if decision.verdict is None else VERDICT_TEXT[decision.verdict]
        lines.append(
            f"| {row['embedder']} | {_number(row['tokens_per_second'], ',.0f')} | "
            f"{_number(row['hours_per_million_reads'], ',.2f')} | {_speedup(row)} | {delta} | {outcome} |"
        )
    lines += ["", *(f"- {decision.line}" for decision in decisions)]
    return "\n".join(lines) + "\n"


def compare_embedders(
    evaluation_paths: Sequence[Path],
    benchmark_paths: Sequence[Path],
    output_dir: Path,
    baseline: str = "esm2_3b",
    prediction_paths: Sequence[Path] = (),
    resamples: int = 1000,
    seed: int = 42,
    counts_paths: Sequence[Path] = (),
    max_f1_loss: float = 0.01,
) -> list[dict[str, Any]]:
    """Write ``comparison.tsv``, ``comparison.md`` and ``report.html``.

    ``prediction_paths`` are the embedders' ``test_predictions.tsv`` in the order of
    ``evaluation_paths`` (or none: the paired columns are then n/a); ``resamples``
    and ``seed`` are those of the paired bootstrap. ``counts_paths`` are the
    training-set counts tables, which give the frames per read of the projection
    (none: hours are n/a); ``max_f1_loss`` is the verdict's allowed loss.
    """
    if not evaluation_paths:
        raise InputError("no evaluation files given")
    evaluations = _read(evaluation_paths, EVALUATION_FORMAT, "an evaluation")
    benchmarks = _read(benchmark_paths, BENCHMARK_FORMAT, "a benchmark")
    _same(
        evaluations,
        evaluation_paths,
        ("test_ids_sha256", "dna_embedder", "chunk_size", "precision"),
        "evaluations",
    )
    if benchmarks:
        _same(
            benchmarks,
            benchmark_paths,
            ("device", "device_name", "precision", "token_budget", "input_sha256"),
            "benchmarks",
        )
        if benchmarks[0]["precision"] != evaluations[0]["precision"]:
            raise InputError(
                f"benchmarks ran in {benchmarks[0]['precision']} but the features were made in "
                f"{evaluations[0]['precision']}: speed and accuracy must come from the same precision"
            )
    fractions = {str(evaluation["levels"]["min_viral_fraction"]) for evaluation in evaluations}
    if len(fractions) > 1:
        raise InputError(
            f"evaluations differ in the minimum viral fraction of their sequence calls "
            f"({', '.join(sorted(fractions))}): the comparison needs them equal"
        )
    names = [evaluation["embedder"] for evaluation in evaluations]
    if len(set(names)) != len(names):
        raise InputError(f"an embedder is evaluated twice: {', '.join(names)}")
    rows = build_rows(evaluations, benchmarks, baseline)
    add_paired(rows, evaluations, evaluation_paths, prediction_paths, baseline, resamples, seed)
    per_read = frames_per_read(counts_paths)
    for row in rows:
        row["hours_per_million_reads"] = projected_hours(row["tokens_per_second"], per_read)
    decisions = decide(rows, baseline, max_f1_loss)
    for row, decision in zip(rows, decisions, strict=True):
        row["verdict"] = decision.verdict.value if decision.verdict else None
    for name in sorted(set(names) - {b["embedder"] for b in benchmarks}):
        log.warning("no benchmark for %s: its speed is n/a", name)
    context = {
        "test frames": f"{evaluations[0]['test_frames']} ({evaluations[0]['test_viral_frames']} viral)",
        "DNA embedder": evaluations[0]["dna_embedder"],
        "precision": evaluations[0]["precision"],
        "chunk size": str(evaluations[0]["chunk_size"]),
    }
    if benchmarks:
        context["speed measured on"] = (
            f"{benchmarks[0]['device_name']} ({benchmarks[0]['device']}), token budget {benchmarks[0]['token_budget']}, {benchmarks[0]['sequences']} sequences"
        )
    levels = evaluations[0]["levels"]
    for level in LEVELS:
        found = levels[level]
        context[f"test {level}s"] = f"{found['count']} ({found['viral']} viral)"
    context["sequence call"] = f"at least {levels['min_viral_fraction']:g} of its chunks viral"
    if prediction_paths:
        context["paired bootstrap"] = f"{resamples} resamples, seed {seed}"
    device = f" on {benchmarks[0]['device_name']}" if benchmarks else ""
    projection = (
        f"Hours: protein embedding of {PROJECTION_READS:,} reads of {PROJECTION_READ_LENGTH} bp"
        + (
            f" ({per_read:.2f} stop-free frames per read, measured on the input genomes; "
            f"{tokens_per_frame():.0f} tokens per frame) at the tokens/s measured{device} on "
            f"frames of {evaluations[0]['chunk_size']} bp chunks (longer frames cost a little "
            "more per token)."
            if per_read is not None
            else ": n/a (no training-set counts given)."
        )
    )
    rocs = {e["embedder"]: (e["roc"]["fpr"], e["roc"]["tpr"]) for e in evaluations}
    output_dir = Path(output_dir)
    with AtomicOutputs() as outputs:
        table = outputs.open(output_dir / "comparison.tsv")
        table.write("\t".join(COLUMNS) + "\n")
        for row in rows:
            table.write("\t".join(_cell(row, key) for key in COLUMNS) + "\n")
        outputs.open(output_dir / "comparison.md").write(
            _markdown(
                rows,
                baseline,
                context,
                _decision_markdown(rows, decisions, projection, max_f1_loss),
            )
        )
    write_report(output_dir / "report.html", rows, rocs, baseline, context, decisions, projection)
    for decision in decisions:
        log.info("decision: %s", decision.line)
    log.info("compared %d embedders against %s -> %s", len(rows), baseline, output_dir)
    return rows
