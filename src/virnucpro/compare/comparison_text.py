"""comparison.md: the context of the comparison, the decision, then the tables behind it.

The context lines and the projection sentence are also the report's
(``comparison_report``), so both say the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from virnucpro.compare.decision import PROJECTION_READS, VERDICT_TEXT, Decision, tokens_per_frame
from virnucpro.embed.embedders.registry import EMBEDDERS
from virnucpro.files.contracts import LEVEL_METRICS, LEVELS, PROJECTION_READ_LENGTH
from virnucpro.report_provenance import NOT_RECORDED, ModelUsed, Provenance

Row = dict[str, Any]


def _number(value: float | None, pattern: str) -> str:
    """A value of comparison.md: formatted, or n/a."""
    return "n/a" if value is None else format(value, pattern)


def _speedup(row: Row) -> str:
    """The median speedup, and the range from the slowest and fastest timed passes."""
    if row["speedup"] is None:
        return "n/a"
    if row.get("speedup_low") is None or row.get("speedup_high") is None:
        return f"{row['speedup']:.2f}x"
    return f"{row['speedup']:.2f}x [{row['speedup_low']:.2f}, {row['speedup_high']:.2f}]"


def comparison_context(
    evaluations: Sequence[Row],
    benchmarks: Sequence[Row],
    paired_bootstrap: tuple[int, int] | None,
) -> dict[str, str]:
    """What the comparison was made on: test set, DNA embedder, precision, speed device;
    ``paired_bootstrap`` is (resamples, seed) when the deltas are paired."""
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
    if paired_bootstrap:
        resamples, seed = paired_bootstrap
        context["paired bootstrap"] = f"{resamples} resamples, seed {seed}"
    return context


def _model(role: str, embedder: str, weights: str, named: tuple[str, str] | None) -> ModelUsed:
    """A model as its features name it (``named``: model id and revision), or as the
    registry pins it; no model for a composition embedder."""
    spec = EMBEDDERS.get(embedder)
    if spec is not None and not spec.needs_weights:
        return ModelUsed(role, embedder, "", "", "")
    if named is not None:
        model_id, revision = named
    elif spec is not None and spec.bundled:
        model_id, revision = f"assets/models/{spec.bundled}", "local"
    else:
        model_id = (spec.model_id or "") if spec else ""
        revision = (spec.revision or "") if spec else ""
    return ModelUsed(role, embedder, model_id or NOT_RECORDED, revision, weights)


def _named(document: Row, prefix: str) -> tuple[str, str] | None:
    """The model id and revision a document records under ``prefix`` (None: not recorded)."""
    if f"{prefix}model_id" not in document:
        return None
    return document[f"{prefix}model_id"], document.get(f"{prefix}revision", "")


def model_caveats(embedders: Sequence[str]) -> list[str]:
    """What a reader must know of the embedders before reading any number."""
    tests = [name for name in embedders if name in EMBEDDERS and EMBEDDERS[name].bundled]
    free = [name for name in embedders if name in EMBEDDERS and not EMBEDDERS[name].needs_weights]
    caveats = []
    if tests:
        caveats.append(
            f"{', '.join(tests)}: random test models (seeded random weights in the real "
            "models' layout): these numbers test the machinery, not the embedders."
        )
    if free:
        caveats.append(
            f"{', '.join(free)}: model-free composition features, a floor to compare against, "
            "not a language model."
        )
    return caveats


def comparison_provenance(
    evaluations: Sequence[Row], benchmarks: Sequence[Row], parameters: dict[str, str]
) -> Provenance:
    """The comparison's provenance block: parameters, the DNA model and every protein model."""
    first = evaluations[0]
    timed = {benchmark["embedder"]: benchmark for benchmark in benchmarks}

    def protein(evaluation: Row) -> tuple[str, str] | None:
        benchmark = timed.get(evaluation["embedder"])
        return _named(evaluation, "protein_") or (_named(benchmark, "") if benchmark else None)

    settings = {
        **parameters,
        "precision": str(first["precision"]),
        "chunk_size": str(first["chunk_size"]),
    }
    if benchmarks:
        settings.update(
            token_budget=str(benchmarks[0]["token_budget"]),
            timed_passes=str(benchmarks[0]["repeats"]),
        )
    models = [
        _model("DNA", first["dna_embedder"], first["dna_weights_sha256"], _named(first, "dna_"))
    ]
    models += [
        _model(f"Protein ({e['embedder']})", e["embedder"], e["protein_weights_sha256"], protein(e))
        for e in evaluations
    ]
    names = [first["dna_embedder"], *(e["embedder"] for e in evaluations)]
    return Provenance(settings, models, caveats=model_caveats(names))


def projection_text(per_read: float | None, chunk_size: int, device_name: str | None) -> str:
    """The sentence that says what the projected hours stand on."""
    device = "" if device_name is None else f" on {device_name}"
    return (
        f"Hours: protein embedding of {PROJECTION_READS:,} reads of {PROJECTION_READ_LENGTH} bp"
        + (
            f" ({per_read:.2f} stop-free frames per read, measured on the input genomes; "
            f"{tokens_per_frame():.0f} tokens per frame) at the tokens/s measured{device} on "
            f"frames of {chunk_size} bp chunks (longer frames cost a little "
            "more per token)."
            if per_read is not None
            else ": n/a (no training-set counts given)."
        )
    )


def decision_markdown(
    rows: list[Row], decisions: list[Decision], projection: str, max_f1_loss: float
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


def comparison_markdown(
    rows: list[Row], baseline: str, context: dict[str, str], decision: str, provenance: Provenance
) -> str:
    """comparison.md: caveats, the context, the decision, the tables behind it, provenance."""

    def interval(row: Row, name: str) -> str:
        low, high = (_number(row[f"{name}_{end}"], ".3f") for end in ("low", "high"))
        return f"{_number(row[name], '.3f')} [{low}, {high}]"

    lines = [f"> **Caveat:** {caveat}\n" for caveat in provenance.caveats]
    lines += [
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
    lines += ["", *provenance.markdown()]
    return "\n".join(lines) + "\n"
