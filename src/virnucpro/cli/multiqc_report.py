"""``multiqc_report.py`` (``virnucpro multiqc-report``): the pipeline's MultiQC report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from virnucpro.cli.common import ThreadsOption, VersionOption, new_app, run_app
from virnucpro.cli.threads import limit_cpu_threads

app = new_app("Build the MultiQC report of a run from the steps' custom content.")


@app.command(name="multiqc-report")
def multiqc_report_command(
    content: Annotated[
        list[Path],
        typer.Option(
            help="A custom-content file a step wrote (virnucpro_calls_mqc.tsv, "
            "virnucpro_comparison_mqc.tsv, virnucpro_verdicts_mqc.html) or the software "
            "versions (*_mqc_versions.yml); repeat for each."
        ),
    ],
    config: Annotated[
        Path, typer.Option(help="MultiQC config: the pipeline's assets/multiqc_config.yml.")
    ],
    output_dir: Annotated[
        Path, typer.Option(help="Folder of multiqc_report.html and multiqc_data/.")
    ],
    threads: ThreadsOption = None,
    version: VersionOption = False,
) -> None:
    """One MultiQC page: the calls of each sample, the comparison and its verdicts, the
    software versions, as the files given hold them.

    MultiQC runs offline (no version check). Every file must appear as its section
    in the page; a file MultiQC cannot read stops the step with nothing written.
    """
    limit_cpu_threads(threads)
    from virnucpro.multiqc_report import write_multiqc_report

    report = write_multiqc_report(content, config, output_dir)
    typer.echo(f"wrote {report} from {len(content)} file(s)", err=True)


def main() -> None:
    """Entry point of ``bin/multiqc_report.py``."""
    run_app(app)
