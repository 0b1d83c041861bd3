"""``classify.py`` (``virnucpro classify``): classify merged features, write the prediction tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from virnucpro.cli.common import (
    FEATURES_HELP,
    ClassifierOption,
    ThreadsOption,
    VersionOption,
    new_app,
    run_app,
)
from virnucpro.cli.threads import limit_cpu_threads

OUTPUTS = (
    "Writes PREFIX.frame_scores.tsv (Sequence_ID, Prediction, score1 = P(others), "
    "score2 = P(virus)), PREFIX.chunk_calls.tsv (virus if the best virus score of a chunk's "
    "frames is at least its best others score; no_frame for chunks without a stop-free frame; "
    "too_short, never scored, for chunks shorter than half the chunk size, i.e. whole input "
    "sequences under 150 bp at 300, 250 bp at 500), PREFIX.sequence_calls.tsv (every input "
    "sequence: chunks, chunks with frames, viral chunks, best virus score, call: virus, "
    "others, no_frame or too_short; then its length in bases, NA without the FASTA; coverage, "
    "chunks with frames / chunks; low_coverage, yes when the coverage is under "
    "--min-coverage) and PREFIX.viral.fasta. PREFIX may hold letters, digits, '.', '_' and '-'."
)
MinViralFraction = Annotated[
    float,
    typer.Option(
        help="Share of a sequence's chunks (with frames) that must be viral to call it virus, "
        "taken exactly as written (7 of 25 chunks reach 0.28)."
    ),
]
MinCoverage = Annotated[
    float,
    typer.Option(
        help="Share of a sequence's chunks that must have a stop-free frame; a sequence under "
        "it is flagged low_coverage yes (its call rests on few of its chunks, as for a "
        "stop-recoding phage). The flag never changes the call.",
    ),
]

app = new_app("Classify a sample's features and write the prediction tables.")


@app.command(name="classify", epilog=OUTPUTS)
def classify_command(
    classifier: ClassifierOption,
    report: Annotated[
        list[Path],
        typer.Option(help="Frames report (select_frames.py), listing every chunk; repeatable."),
    ],
    output_dir: Annotated[Path, typer.Option(help="Folder for the tables and the viral FASTA.")],
    features: Annotated[
        list[Path] | None,
        typer.Option(help=f"{FEATURES_HELP} None for a sample without any stop-free frame."),
    ] = None,
    prefix: Annotated[str, typer.Option(help="File name prefix.")] = "predictions",
    sequences: Annotated[
        Path | None, typer.Option(help="The input FASTA, to write the sequences called virus.")
    ] = None,
    min_viral_fraction: MinViralFraction = 0.5,
    min_coverage: MinCoverage = 0.5,
    threads: ThreadsOption = None,
    version: VersionOption = False,
) -> None:
    """Score every frame, then call chunks and input sequences.

    The features must hold exactly the frames the reports list, each once, made
    by the classifier's embedders and models at its chunk size; --sequences must
    hold exactly the reports' sequences, letter for letter (each chunk's sha256
    in the report), and the features' frames must be the frames of those
    sequences. A missing or doubled shard, another sample's or run's file, or
    chunks of another size stop with a message naming what differs.
    """
    limit_cpu_threads(threads)
    from virnucpro.classify.prediction_tables import classify_features

    classify_features(
        classifier,
        features or [],
        report,
        output_dir,
        prefix,
        sequences,
        min_viral_fraction,
        min_coverage,
    )


def main() -> None:
    """Entry point of ``bin/classify.py``."""
    run_app(app)
