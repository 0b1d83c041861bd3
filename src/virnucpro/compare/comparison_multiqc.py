"""The comparison in the MultiQC report: its table (one row per embedder) and verdicts.

The table holds the values of comparison.tsv's main columns (the rest of them are
in comparison.tsv); the verdicts section the allowed loss, what the projected
hours stand on, and the verdict line of each embedder, as report.html gives them.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from virnucpro.compare.comparison_report import verdict_list
from virnucpro.compare.decision import Decision
from virnucpro.multiqc_content import (
    COMPARISON_SECTION,
    COUNT,
    VERDICTS_SECTION,
    Column,
    html_text,
    table_text,
)

METRIC = "{:,.3f}"
DELTA = "{:+,.3f}"
HIDDEN = {"hidden": True}

#: comparison.tsv's columns, then ``verdict`` (the baseline's: "baseline")
COMPARISON_COLUMNS = (
    Column("dimension", "Dimension", "Size of the protein embedding", COUNT),
    Column("f1", "F1", "F1 of the test frames", METRIC),
    Column("accuracy", "Accuracy", "Accuracy of the test frames", METRIC, HIDDEN),
    Column("precision", "Precision", "Precision of the test frames", METRIC, HIDDEN),
    Column("recall", "Recall", "Recall of the test frames", METRIC, HIDDEN),
    Column("auroc", "AUROC", "Area under the ROC curve of the test frames", METRIC),
    Column("mcc", "MCC", "Matthews correlation of the test frames", METRIC),
    Column("chunk_f1", "Chunk F1", "F1 of the test genomes' chunks, called as predict mode calls them", METRIC),
    Column("chunk_accuracy", "Chunk accuracy", "Accuracy of the test genomes' chunks", METRIC, HIDDEN),
    Column("sequence_f1", "Sequence F1", "F1 of the test genomes' sequences, called as predict mode calls them", METRIC),
    Column("sequence_accuracy", "Sequence accuracy", "Accuracy of the test genomes' sequences", METRIC, HIDDEN),
    Column("sequences_per_second", "Seq/s", "Sequences embedded per second (median of the timed passes)", "{:,.1f}"),
    Column("tokens_per_second", "Tokens/s", "Tokens embedded per second", COUNT),
    Column("peak_memory_gib", "Peak GiB", "Peak accelerator memory of the embedding", "{:,.2f}"),
    Column("load_seconds", "Load s", "Seconds to load the model", "{:,.1f}", HIDDEN),
    Column("speedup", "Speedup", "Speed against the baseline's (sequences per second)", "{:,.2f}", {"suffix": "x"}),
    Column("delta_f1", "\u0394F1", "F1 minus the baseline's", DELTA),
    Column("delta_f1_low", "\u0394F1 low", "Lower end of the 95% paired-bootstrap interval of \u0394F1", DELTA),
    Column("delta_f1_high", "\u0394F1 high", "Upper end of the 95% paired-bootstrap interval of \u0394F1", DELTA),
    Column("mcnemar_p", "McNemar p", "McNemar's exact test on the paired calls against the baseline's", "{:.3g}", HIDDEN),
    Column("hours_per_million_reads", "Hours / 1M reads", "Projected hours to embed the frames of one million 500 bp reads", "{:,.2f}"),
    Column("needed_test_frames", "Test frames needed", "About how many test frames would decide an undecidable verdict", COUNT, HIDDEN),
    Column("verdict", "Verdict", "within, outside (the allowed F1 loss), undecidable, not_faster or not_meaningful; the Verdicts section says why", None),
)  # fmt: skip


def comparison_table(rows: Sequence[dict[str, Any]]) -> str:
    """virnucpro_comparison_mqc.tsv: the rows of the comparison, in their order."""
    entries = ((row["embedder"], {**row, "verdict": row["verdict"] or "baseline"}) for row in rows)
    return table_text(COMPARISON_SECTION, "Embedder", "embedder", COMPARISON_COLUMNS, entries)


def verdicts_html(decisions: Sequence[Decision], projection: str, max_f1_loss: float) -> str:
    """virnucpro_verdicts_mqc.html: the allowed loss, the projection sentence and the lines."""
    body = (
        f"<p>Allowed F1 loss: {max_f1_loss:g}. {html.escape(projection)}</p>\n"
        f"{verdict_list(decisions)}"
    )
    return html_text(VERDICTS_SECTION, body)
