"""``prediction_report.py`` (``virnucpro prediction-report``): the HTML summary of a predict run, from the classify step's tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from virnucpro.classify.settings import DEFAULT_MAX_ROWS
from virnucpro.cli.common import ThreadsOption, VersionOption, new_app, run_app
from virnucpro.cli.threads import limit_cpu_threads
from virnucpro.multiqc_content import CALLS_SECTION

app = new_app("Write the HTML summary of a predict run from its prediction tables.")


@app.command(name="prediction-report")
def prediction_report_command(
    chunk_calls: Annotated[
        list[Path],
        typer.Option(help="SAMPLE.chunk_calls.tsv (classify.py) of one sample; repeat for each."),
    ],
    sequence_calls: Annotated[
        list[Path],
        typer.Option(
            help="SAMPLE.sequence_calls.tsv (classify.py) of one sample; repeat for each."
        ),
    ],
    output: Annotated[Path, typer.Option(help="The HTML page to write.")],
    classifier: Annotated[
        Path | None,
        typer.Option(
            help="The classifier checkpoint folder the tables were made with: its name, "
            "embedders and chunk size go into the page."
        ),
    ] = None,
    min_viral_fraction: Annotated[
        float,
        typer.Option(
            help="The --min-viral-fraction the tables were made with (classify.py's); every "
            "sequence call is checked against it."
        ),
    ] = 0.5,
    min_coverage: Annotated[
        float,
        typer.Option(
            help="The --min-coverage the tables were made with (classify.py's); every "
            "low_coverage flag is checked against it."
        ),
    ] = 0.5,
    max_rows: Annotated[
        int,
        typer.Option(
            min=1,
            help="Most rows of the per-sequence table in the page, shared by the samples "
            "(virus calls and best scores first); the tables hold every sequence.",
        ),
    ] = DEFAULT_MAX_ROWS,
    multiqc: Annotated[
        bool,
        typer.Option(
            "--multiqc",
            help=f"Also write {CALLS_SECTION.file_name} beside the page: the counts of each "
            "sample, one row each, for the pipeline's MultiQC report (custom content).",
        ),
    ] = False,
    threads: ThreadsOption = None,
    version: VersionOption = False,
) -> None:
    """Counts per sample, the calls, the score histograms and the per-sequence table.

    One self-contained page (no script, no link, nothing fetched), byte-identical
    for the same tables. A sample is named by its files, SAMPLE.chunk_calls.tsv
    and SAMPLE.sequence_calls.tsv, and needs both. Its sequence calls are worked
    out again from its chunk calls: tables of two samples or runs, or made with
    another minimum viral fraction or coverage, stop with a message naming what
    differs. The page ends with its provenance: version, date, parameters, the
    classifier's models and id (the SHA-256 of its model.safetensors) and, for a
    demo classifier, its caveat.
    """
    limit_cpu_threads(threads)
    from virnucpro.classify.prediction_report import write_prediction_report

    write_prediction_report(
        output,
        chunk_calls,
        sequence_calls,
        classifier,
        min_viral_fraction,
        max_rows,
        min_coverage,
        multiqc,
    )


def main() -> None:
    """Entry point of ``bin/prediction_report.py``."""
    run_app(app)
