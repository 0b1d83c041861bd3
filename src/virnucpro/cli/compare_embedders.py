"""``compare_embedders.py`` (``virnucpro compare-embedders``): one table of accuracy and speed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from virnucpro.cli.common import ThreadsOption, VersionOption, new_app, run_app
from virnucpro.cli.threads import limit_cpu_threads
from virnucpro.multiqc_content import COMPARISON_SECTION, VERDICTS_SECTION

app = new_app("Compare protein embedders: one table of accuracy and speed, and an HTML report.")


@app.command(name="compare-embedders")
def compare_embedders_command(
    evaluation: Annotated[
        list[Path], typer.Option(help="evaluation.json of one embedder; repeat for each.")
    ],
    output_dir: Annotated[
        Path, typer.Option(help="Folder for comparison.tsv, comparison.md and report.html.")
    ],
    benchmark: Annotated[
        list[Path] | None, typer.Option(help="Benchmark JSON of one embedder; repeat for each.")
    ] = None,
    baseline: Annotated[
        str, typer.Option(help="Embedder the speedup and ΔF1 are measured against.")
    ] = "esm2_3b",
    predictions: Annotated[
        list[Path] | None,
        typer.Option(
            help="test_predictions.tsv of one embedder, in the order of --evaluation; repeat for "
            "each. Gives the paired ΔF1, ΔAUROC, ΔMCC intervals and McNemar's test."
        ),
    ] = None,
    bootstrap: Annotated[
        int, typer.Option(help="Resamples of the paired bootstrap (with --predictions).")
    ] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the paired bootstrap.")] = 42,
    counts: Annotated[
        list[Path] | None,
        typer.Option(
            help="counts.tsv of build_training_set.py; repeat for each input. Gives the frames "
            "per 500 bp read of the projected hours."
        ),
    ] = None,
    max_f1_loss: Annotated[
        float,
        typer.Option(
            help="Largest F1 loss against the baseline that the speed is worth: the verdict's rule."
        ),
    ] = 0.01,
    multiqc: Annotated[
        bool,
        typer.Option(
            "--multiqc",
            help=f"Also write {COMPARISON_SECTION.file_name} (the table, one row per embedder) "
            f"and {VERDICTS_SECTION.file_name} (the verdicts) to --output-dir, for the "
            "pipeline's MultiQC report (custom content).",
        ),
    ] = False,
    threads: ThreadsOption = None,
    version: VersionOption = False,
) -> None:
    """One row per embedder: dimension, metrics with 95% intervals, speed, memory, speedup and ΔF1.

    Refuses evaluations on different test sets, DNA embedders, chunk sizes or
    precisions, and benchmarks from different devices, precisions, budgets or
    inputs: a comparison is only made between like and like. With the test
    predictions of every embedder, the deltas against the baseline are paired:
    95% paired-bootstrap intervals (same frames resampled for both) and
    McNemar's exact test on the calls; predictions on other frames or labels, or
    not matching their evaluation, are refused.

    The decision: each embedder's tokens/s, the hours one million 500 bp reads
    would take to embed at that speed (frames per read from --counts), and a
    verdict on its paired ΔF1 interval: within the allowed loss (the interval's
    lower end is at least -MAX_F1_LOSS), outside it (the upper end is below), or
    not decidable at this test-set size.
    """
    limit_cpu_threads(threads)
    from virnucpro.compare.compare_embedders import compare_embedders

    compare_embedders(
        evaluation,
        benchmark or [],
        output_dir,
        baseline,
        predictions or [],
        bootstrap,
        seed,
        counts or [],
        max_f1_loss,
        multiqc,
    )


def main() -> None:
    """Entry point of ``bin/compare_embedders.py``."""
    run_app(app)
