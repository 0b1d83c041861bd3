"""The compare step: one comparison of protein embedders, accuracy and speed side by side.

Reads and checks the inputs (``comparison_inputs``), builds the rows and the
decision (``comparison_rows``), and writes comparison.tsv, comparison.md
(``comparison_text``) and report.html (``comparison_report``) together, and on
request the MultiQC report's table and verdicts (``comparison_multiqc``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from virnucpro.compare.comparison_inputs import read_comparable
from virnucpro.compare.comparison_multiqc import comparison_table, verdicts_html
from virnucpro.compare.comparison_report import write_report
from virnucpro.compare.comparison_rows import add_decisions, add_paired, build_rows, table_text
from virnucpro.compare.comparison_text import (
    comparison_context,
    comparison_markdown,
    comparison_provenance,
    decision_markdown,
    projection_text,
)
from virnucpro.compare.decision import Verdict, gene_origins
from virnucpro.files.atomic import AtomicOutputs
from virnucpro.files.contracts import COMPARISON
from virnucpro.multiqc_content import COMPARISON_SECTION, VERDICTS_SECTION

log = logging.getLogger(__name__)


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
    multiqc: bool = False,
) -> list[dict[str, Any]]:
    """Write ``comparison.tsv``, ``comparison.md`` and ``report.html`` (with ``multiqc``,
    the MultiQC table and verdicts too: ``comparison_multiqc``).

    ``prediction_paths`` are the embedders' ``test_predictions.tsv`` in the order of
    ``evaluation_paths`` (or none: the paired columns are then n/a); ``resamples``
    and ``seed`` are those of the paired bootstrap. ``counts_paths`` are the
    training-set counts tables, which give the frames per read of the projection
    (none: hours are n/a); ``max_f1_loss`` is the verdict's allowed loss.
    """
    evaluations, benchmarks = read_comparable(evaluation_paths, benchmark_paths)
    rows = build_rows(evaluations, benchmarks, baseline)
    add_paired(rows, evaluations, evaluation_paths, prediction_paths, baseline, resamples, seed)
    decisions, per_read = add_decisions(rows, counts_paths, baseline, max_f1_loss)
    names = [evaluation["embedder"] for evaluation in evaluations]
    for name in sorted(set(names) - {b["embedder"] for b in benchmarks}):
        log.warning("no benchmark for %s: its speed is n/a", name)
    paired = (resamples, seed) if prediction_paths else None
    context = comparison_context(evaluations, benchmarks, paired)
    genes = gene_origins(counts_paths)
    if genes is not None:
        context["training genes"] = genes
    device_name = benchmarks[0]["device_name"] if benchmarks else None
    projection = projection_text(per_read, evaluations[0]["chunk_size"], device_name)
    rocs = {e["embedder"]: (e["roc"]["fpr"], e["roc"]["tpr"]) for e in evaluations}
    parameters = {"baseline": baseline, "max_f1_loss": f"{max_f1_loss:g}"}
    if prediction_paths:
        parameters.update(bootstrap=str(resamples), seed=str(seed))
    provenance = comparison_provenance(evaluations, benchmarks, parameters)
    output_dir = Path(output_dir)
    with AtomicOutputs() as outputs:
        outputs.open(output_dir / COMPARISON.name).write(table_text(rows))
        decision_text = decision_markdown(rows, decisions, projection, max_f1_loss)
        outputs.open(output_dir / "comparison.md").write(
            comparison_markdown(rows, baseline, context, decision_text, provenance)
        )
        if multiqc:
            outputs.open(output_dir / COMPARISON_SECTION.file_name).write(comparison_table(rows))
            outputs.open(output_dir / VERDICTS_SECTION.file_name).write(
                verdicts_html(decisions, projection, max_f1_loss)
            )
        write_report(
            output_dir / "report.html",
            rows,
            rocs,
            baseline,
            context,
            decisions,
            projection,
            provenance,
            outputs,
        )
    for caveat in provenance.caveats:
        log.warning("%s", caveat)
    for decision in decisions:
        level = logging.WARNING if decision.verdict is Verdict.not_meaningful else logging.INFO
        log.log(level, "decision: %s", decision.line)
    log.info("compared %d embedders against %s -> %s", len(rows), baseline, output_dir)
    return rows
