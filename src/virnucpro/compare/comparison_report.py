"""The comparison report: one self-contained HTML page of accuracy, speed and ROC curves.

Self-contained and byte-identical across runs: see ``virnucpro.html_page``.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from virnucpro.compare.decision import VERDICT_TEXT, Decision, Verdict
from virnucpro.files.atomic import AtomicOutputs
from virnucpro.html_page import (
    RC,
    context_list,
    html_page,
    html_table,
    mpl_text,
    svg_element,
    table_row,
)
from virnucpro.report_provenance import Provenance

Row = Mapping[str, object]
Roc = tuple[Sequence[float], Sequence[float]]

METRICS = [
    ("f1", "F1"),
    ("accuracy", "Accuracy"),
    ("precision", "Precision"),
    ("recall", "Recall"),
    ("auroc", "AUROC"),
    ("mcc", "MCC"),
]
# Saturated, colour-blind-friendly-ish tab10 colours without the grey (grey is the chance line).
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
BASELINE_EDGE = "#111111"
SPEED_KEYS = ("sequences_per_second", "peak_memory_gib")


def _number(row: Row, key: str) -> float | None:
    """A finite float, or None for absent/NaN values (shown as n/a, never as 'nan')."""
    value = row.get(key)
    if value is None:
        return None
    if not isinstance(value, (int, float)):
        raise TypeError(
            f"report row '{row.get('embedder')}': {key} must be a number, got {value!r}"
        )
    return float(value) if math.isfinite(value) else None


def _fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return '<span class="na">n/a</span>' if value is None else f"{value:{spec}}{suffix}"


def _signed(value: float | None) -> str:
    """ΔF1 with an explicit sign; -0.000 is shown as +0.000 so the baseline reads cleanly."""
    if value is None:
        return _fmt(None, "")
    text = f"{value + 0.0:+.3f}" if round(value, 3) != 0 else "+0.000"
    css = "better" if round(value, 3) > 0 else "worse" if round(value, 3) < 0 else ""
    return f'<span class="{css}">{text}</span>' if css else text


def _interval(row: Row, key: str, spec: str = ".3f", suffix: str = "") -> str:
    """'0.912 [0.897, 0.926]': the point estimate, then its range (a 95% bootstrap
    interval, or the slowest and fastest timed pass)."""
    value, low, high = (_number(row, key + end) for end in ("", "_low", "_high"))
    ci = "n/a" if low is None or high is None else f"[{low:{spec}}, {high:{spec}}]{suffix}"
    return f'{_fmt(value, spec, suffix)} <span class="ci">{ci}</span>'


def _name(row: Row) -> str:
    return str(row["embedder"])


def _swatch(name: str, colours: Mapping[str, str]) -> str:
    """The embedder's name behind the colour it has in every chart."""
    return f'<span class="swatch" style="background:{colours[name]}"></span>{html.escape(name)}'


def _colours(rows: Sequence[Row]) -> dict[str, str]:
    """One colour per embedder, shared by the table swatches and every chart."""
    return {_name(row): PALETTE[index % len(PALETTE)] for index, row in enumerate(rows)}


def _roc_svg(rows: Sequence[Row], rocs: Mapping[str, Roc], baseline: str) -> str:
    """ROC curves of every embedder on the shared test set, AUROC in the legend."""
    colours = _colours(rows)
    with matplotlib.rc_context(RC):
        figure = Figure(figsize=(5.6, 5.0), layout="constrained")
        axes = figure.add_subplot()
        (chance,) = axes.plot([0, 1], [0, 1], ls="--", lw=1, color="#9aa1ab")
        handles, labels = [], []
        for row in rows:
            name = _name(row)
            if name not in rocs:
                continue
            fpr, tpr = rocs[name]
            (line,) = axes.plot(
                list(fpr), list(tpr), color=colours[name], lw=2.6 if name == baseline else 1.8
            )
            auroc = _number(row, "auroc")
            label = f"{name} (AUROC {'n/a' if auroc is None else f'{auroc:.3f}'})"
            handles.append(line)
            labels.append(mpl_text(label + (", baseline" if name == baseline else "")))
        # Explicit handles/labels: a name starting with '_' would otherwise be dropped.
        axes.legend([*handles, chance], [*labels, "chance"], loc="lower right", frameon=False)
        axes.set(xlim=(0, 1), ylim=(0, 1.005), aspect="equal")
        axes.set_xlabel("False positive rate")
        axes.set_ylabel("True positive rate")
        axes.grid(alpha=0.25)
        return svg_element(figure, "roc")


def _barh(
    axes: Axes,
    rows: Sequence[Row],
    key: str,
    baseline: str,
    colours: Mapping[str, str],
    label: str,
    describe: Callable[[Row, float], str],
) -> None:
    """Horizontal bars of one speed key, top to bottom in table order; the baseline outlined."""
    measured = [(row, _number(row, key)) for row in rows]
    kept = [(row, value) for row, value in measured if value is not None]
    names = [_name(row) for row, _ in kept]
    positions = list(range(len(kept)))[::-1]
    bars = axes.barh(
        positions,
        [value for _, value in kept],
        color=[colours[name] for name in names],
        edgecolor=[BASELINE_EDGE if name == baseline else "none" for name in names],
        linewidth=2.2,
        height=0.62,
    )
    axes.bar_label(bars, labels=[mpl_text(describe(row, value)) for row, value in kept], padding=4)
    axes.set_yticks(positions, [mpl_text(name) for name in names])
    for tick, name in zip(axes.get_yticklabels(), names, strict=True):
        if name == baseline:
            tick.set_fontweight("bold")
    axes.set_title(label, loc="left", fontsize=11)
    axes.margins(x=0.32)
    axes.set_xlim(left=0)
    axes.grid(axis="x", alpha=0.25)
    skipped = [_name(row) for row, value in measured if value is None]
    if skipped:
        axes.set_xlabel(mpl_text("not measured: " + ", ".join(skipped)), color="#6b7280")


def _speed_svg(rows: Sequence[Row], baseline: str) -> str | None:
    """Throughput and peak memory bars; None when no embedder was benchmarked."""
    if all(
        _number(row, "sequences_per_second") is None and _number(row, "peak_memory_gib") is None
        for row in rows
    ):
        return None
    colours = _colours(rows)

    def throughput(row: Row, value: float) -> str:
        speedup = _number(row, "speedup")
        return f"{value:,.1f}" + ("" if speedup is None else f" ({speedup:.2f}\u00d7)")

    def memory(row: Row, value: float) -> str:
        return f"{value:.2f} GiB"

    with matplotlib.rc_context(RC):
        bars = max(sum(_number(row, key) is not None for row in rows) for key in SPEED_KEYS)
        figure = Figure(figsize=(5.6, 2.4 + 0.9 * bars), layout="constrained")
        top, bottom = figure.subplots(2, 1)
        _barh(top, rows, "sequences_per_second", baseline, colours, "Sequences per second (higher is better)", throughput)  # fmt: skip
        _barh(bottom, rows, "peak_memory_gib", baseline, colours, "Peak memory, GiB (lower is better)", memory)  # fmt: skip
        return svg_element(figure, "speed")


def _table(rows: Sequence[Row], baseline: str) -> str:
    colours = _colours(rows)
    head = ["Embedder", "Dim", *(label for _, label in METRICS[:1]), "\u0394F1"]
    head += [label for _, label in METRICS[1:]]
    head += ["Seq/s", "Tokens/s", "Speedup", "Peak mem<br>(GiB)", "Load<br>(s)"]
    lines = []
    for row in rows:
        name = _name(row)
        tag = '<span class="tag">baseline</span>' if name == baseline else ""
        dimension = row.get("dimension")
        cells = [
            _swatch(name, colours) + tag,
            html.escape(str(dimension)) if dimension is not None else _fmt(None, ""),
            _interval(row, METRICS[0][0]),
            _signed(_number(row, "delta_f1")),
            *(_interval(row, key) for key, _ in METRICS[1:]),
            _interval(row, "sequences_per_second", ",.1f"),
            _fmt(_number(row, "tokens_per_second"), ",.0f"),
            _interval(row, "speedup", ".2f", "\u00d7"),
            _fmt(_number(row, "peak_memory_gib"), ".2f"),
            _fmt(_number(row, "load_seconds"), ".1f"),
        ]
        lines.append(table_row(cells, "baseline" if name == baseline else ""))
    return html_table(head, lines)


def _delta(row: Row, key: str) -> str:
    """'-0.020 [-0.041, +0.002]': a paired Δ against the baseline and its 95% bootstrap interval."""
    low, high = (_number(row, key + suffix) for suffix in ("_low", "_high"))
    ci = "n/a" if low is None or high is None else f"[{low + 0.0:+.3f}, {high + 0.0:+.3f}]"
    return f'{_signed(_number(row, key))} <span class="ci">{ci}</span>'


def _paired_table(rows: Sequence[Row], baseline: str) -> str:
    """ΔF1, ΔAUROC, ΔMCC intervals and McNemar's test per embedder; '' when none was paired."""
    paired = [
        row for row in rows if _name(row) != baseline and _number(row, "mcnemar_p") is not None
    ]
    if not paired:
        return ""
    colours = _colours(rows)
    head = ["Embedder", "\u0394F1", "\u0394AUROC", "\u0394MCC", "b", "c", "McNemar p"]
    lines = []
    for row in paired:
        name = _name(row)
        cells = [
            _swatch(name, colours),
            *(_delta(row, key) for key in ("delta_f1", "delta_auroc", "delta_mcc")),
            _fmt(_number(row, "mcnemar_b"), ".0f"),
            _fmt(_number(row, "mcnemar_c"), ".0f"),
            _fmt(_number(row, "mcnemar_p"), ".3g"),
        ]
        lines.append(table_row(cells))
    return (
        f"<h2>Paired against {html.escape(baseline)}</h2>\n"
        '<p class="note">Same test frames for both: \u0394 (embedder minus baseline) with its 95% '
        "paired-bootstrap interval (one resample of frames scores both); McNemar's exact test on "
        "the calls, b: frames only the embedder calls right, c: frames only the baseline calls "
        "right.</p>\n" + html_table(head, lines)
    )


def _decision_section(
    rows: Sequence[Row], baseline: str, decisions: Sequence[Decision], projection: str
) -> str:
    """Throughput, projected hours, paired ΔF1 and the verdict of every embedder, then the lines."""
    colours = _colours(rows)
    css = {
        Verdict.within: "better",
        Verdict.outside: "worse",
        Verdict.undecidable: "na",
        Verdict.not_faster: "worse",
        Verdict.not_meaningful: "na",
    }
    head = ["Embedder", "Tokens/s", "Hours per 1M reads", "Speedup", "\u0394F1 (paired)", "Verdict"]
    lines = []
    for row, decision in zip(rows, decisions, strict=True):
        name = _name(row)
        outcome = (
            "baseline"
            if decision.verdict is None
            else f'<span class="{css[decision.verdict]}">{VERDICT_TEXT[decision.verdict]}</span>'
        )
        cells = [
            _swatch(name, colours),
            _fmt(_number(row, "tokens_per_second"), ",.0f"),
            _fmt(_number(row, "hours_per_million_reads"), ",.2f"),
            _interval(row, "speedup", ".2f", "\u00d7"),
            _delta(row, "delta_f1") if name != baseline else _fmt(None, ""),
            outcome,
        ]
        lines.append(table_row(cells, "baseline" if name == baseline else ""))
    return (
        f'<h2>Decision</h2>\n<p class="note">{html.escape(projection)}</p>\n'
        + html_table(head, lines)
        + f"\n{verdict_list(decisions)}"
    )


def verdict_list(decisions: Sequence[Decision]) -> str:
    """The verdict line of every embedder but the baseline, escaped, as a list."""
    verdicts = "".join(
        f"<li>{html.escape(decision.line)}</li>" for decision in decisions if decision.verdict
    )
    return f'<ul class="verdicts">{verdicts}</ul>'


def _levels_table(rows: Sequence[Row]) -> str:
    """F1 and accuracy of the test genomes' chunks and sequences, called as predict mode does."""
    colours = _colours(rows)
    head = ["Embedder", "Chunk F1", "Chunk accuracy", "Sequence F1", "Sequence accuracy"]
    lines = []
    for row in rows:
        name = _name(row)
        cells = [
            _swatch(name, colours),
            *(
                _interval(row, f"{level}_{key}")
                for level in ("chunk", "sequence")
                for key in ("f1", "accuracy")
            ),
        ]
        lines.append(table_row(cells))
    return (
        "<h2>Chunks and sequences</h2>\n"
        '<p class="note">The test genomes called as predict mode calls them: a chunk from its '
        "frames, a sequence from its chunks; 95% bootstrap intervals.</p>\n"
        + html_table(head, lines)
    )


def render_report(
    rows: list[dict[str, object]],
    rocs: dict[str, tuple[list[float], list[float]]],
    baseline: str,
    context: dict[str, str],
    decisions: Sequence[Decision],
    projection: str,
    provenance: Provenance,
) -> str:
    """The whole page as ASCII HTML (non-ASCII characters become character references)."""
    names = [_name(row) for row in rows]
    if baseline not in names:
        raise ValueError(f"baseline '{baseline}' is not among the report rows: {', '.join(names)}")
    if len(set(names)) != len(names):
        raise ValueError(f"embedder names repeat in the report rows: {', '.join(names)}")
    speed = _speed_svg(rows, baseline)
    speed_figure = (
        f"<figure>{speed}<figcaption>Throughput after warm-up, same device, precision and "
        "token budget; model load time is excluded (table, Load). Outlined: baseline.</figcaption></figure>"
        if speed
        else ""
    )
    return html_page(
        "VirNucPro embedder comparison",
        [
            f'<p class="lead">Same test set, DNA features, classifier and precision for every protein '
            f"embedder. Baseline: <b>{html.escape(baseline)}</b>. Metrics with 95% bootstrap "
            "intervals; speedup is the ratio of median sequences/s over repeated timed passes "
            "(range: slowest against fastest pass) and \u0394F1 the F1 difference against "
            "the baseline.</p>",
            provenance.caveats_html(),
            context_list(context),
            _decision_section(rows, baseline, decisions, projection),
            "<h2>Comparison</h2>",
            _table(rows, baseline),
            _paired_table(rows, baseline),
            _levels_table(rows),
            "<h2>Curves and speed</h2>",
            '<div class="figures">',
            f"<figure>{_roc_svg(rows, rocs, baseline)}<figcaption>ROC curves on the shared test "
            "set; dashed: chance.</figcaption></figure>",
            speed_figure,
            "</div>",
            "" if speed else '<p class="note">No embedder was benchmarked for speed.</p>',
            provenance.html(),
        ],
    )


def write_report(
    path: str | os.PathLike[str],
    rows: list[dict[str, object]],
    rocs: dict[str, tuple[list[float], list[float]]],
    baseline: str,
    context: dict[str, str],
    decisions: Sequence[Decision],
    projection: str,
    provenance: Provenance,
    outputs: AtomicOutputs | None = None,
) -> None:
    """Write the report atomically, or as part of the step's ``outputs``: a failed render
    never leaves a half page for -resume, nor a page beside tables of another run."""
    page = render_report(rows, rocs, baseline, context, decisions, projection, provenance)
    with nullcontext(outputs) if outputs is not None else AtomicOutputs() as outputs:
        outputs.open(path).write(page)
