"""``virnucpro predict``: FASTA to prediction tables in one process."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from virnucpro.cli.classify import OUTPUTS, MinCoverage, MinViralFraction
from virnucpro.cli.common import ClassifierOption, ThreadsOption, new_app
from virnucpro.cli.embed_options import REVISION_HELP, Attention
from virnucpro.cli.threads import limit_cpu_threads
from virnucpro.embed.settings import DEFAULT_TOKEN_BUDGET

# No bin/ script: the pipeline's predict mode as one process on one machine
app = new_app("FASTA to prediction tables in one process.")


@app.command(name="predict")
def predict_command(
    input: Annotated[Path, typer.Argument(help="FASTA file (plain or gzip) to classify.")],
    classifier: ClassifierOption,
    output_dir: Annotated[
        Path, typer.Option(help="Folder for the tables, the viral FASTA and the HTML summary.")
    ] = Path("."),
    prefix: Annotated[
        str | None,
        typer.Option(
            help="File name prefix of every output [default: the input's file name without "
            ".fasta/.fa/.fna/.fas and .gz: genomes.fasta.gz gives genomes]."
        ),
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    precision: Annotated[
        str | None, typer.Option(help="fp32, bf16 or fp16 [default: the classifier's].")
    ] = None,
    token_budget: Annotated[
        int, typer.Option(help="Most tokens per embedding batch.")
    ] = DEFAULT_TOKEN_BUDGET,
    hf_home: Annotated[Path | None, typer.Option(help="Model cache [default: $HF_HOME].")] = None,
    dna_revision: Annotated[
        str | None, typer.Option(help=f"For the classifier's DNA embedder: {REVISION_HELP}")
    ] = None,
    protein_revision: Annotated[
        str | None, typer.Option(help=f"For the classifier's protein embedder: {REVISION_HELP}")
    ] = None,
    attention: Attention = "auto",
    min_viral_fraction: MinViralFraction = 0.5,
    min_coverage: MinCoverage = 0.5,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite",
            help="Replace the outputs of another input under the same prefix in the folder "
            "(refused otherwise; the same input's are always replaced).",
        ),
    ] = False,
    threads: ThreadsOption = None,
) -> None:
    """Chunk, select frames, embed, merge and classify in one process (each model loaded once).

    Also writes PREFIX.report.html (the HTML summary, ending with its provenance) and
    PREFIX.run.json (what made the outputs: the input's path and SHA-256, the classifier
    and its id, the SHA-256 of its model.safetensors, the parameters, models, version
    and date), all in one commit.
    """
    limit_cpu_threads(threads)
    from virnucpro.predict import predict_fasta

    predict_fasta(
        input,
        classifier,
        output_dir,
        prefix,
        device,
        precision,
        token_budget,
        hf_home,
        min_viral_fraction,
        min_coverage=min_coverage,
        overwrite=overwrite,
        attention=attention,
        dna_revision=dna_revision,
        protein_revision=protein_revision,
    )


predict_command.__doc__ = f"{predict_command.__doc__}\n\n{OUTPUTS}"
