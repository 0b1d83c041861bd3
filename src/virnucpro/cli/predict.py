"""``predict.py`` (classify merged features) and ``virnucpro predict`` (FASTA to tables)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from virnucpro.cli.common import VersionOption, new_app, run_app
from virnucpro.embedding import DEFAULT_TOKEN_BUDGET

OUTPUTS = (
    "Writes PREFIX.frames.tsv (Sequence_ID, Prediction, score1 = P(others), score2 = P(virus)), "
    "PREFIX.chunks.tsv (virus if the best virus score of a chunk's frames is at least its best "
    "others score; no_frame for chunks without a stop-free frame; too_short, never scored, for "
    "chunks shorter than half the chunk size, i.e. whole input sequences under 150 bp at 300, "
    "250 bp at 500), PREFIX.sequences.tsv (every input sequence: chunks, chunks with frames, "
    "viral chunks, best virus score, call: virus, others, no_frame or too_short) and "
    "PREFIX.viral.fasta. PREFIX may hold letters, digits, '.', '_' and '-'."
)
MinViralFraction = Annotated[
    float,
    typer.Option(
        help="Share of a sequence's chunks (with frames) that must be viral to call it virus."
    ),
]

classify_app = new_app("Classify merged features and write the prediction tables.")


@classify_app.command(name="predict", epilog=OUTPUTS)
def classify_command(
    model: Annotated[Path, typer.Option(help="Classifier checkpoint folder.")],
    report: Annotated[
        list[Path],
        typer.Option(help="Frames report (select_frames.py), listing every chunk; repeatable."),
    ],
    output_dir: Annotated[Path, typer.Option(help="Folder for the tables and the viral FASTA.")],
    features: Annotated[
        list[Path] | None,
        typer.Option(
            help="Merged feature file of the sample; repeat for every shard (none for a sample "
            "without any stop-free frame)."
        ),
    ] = None,
    prefix: Annotated[str, typer.Option(help="File name prefix.")] = "predictions",
    sequences: Annotated[
        Path | None, typer.Option(help="The input FASTA, to write the sequences called virus.")
    ] = None,
    min_viral_fraction: MinViralFraction = 0.5,
    version: VersionOption = False,
) -> None:
    """Score every frame, then call chunks and input sequences (SPEC §4).

    The features must hold exactly the frames the reports list, each once, and
    --sequences exactly the reports' sequences: a missing or doubled shard, or
    another sample's file, stops with a message naming what differs.
    """
    from virnucpro.prediction import classify_features

    classify_features(
        model, features or [], report, output_dir, prefix, sequences, min_viral_fraction
    )


def predict_fasta_command(
    input: Annotated[Path, typer.Argument(help="FASTA file (plain or gzip) to classify.")],
    model: Annotated[
        Path,
        typer.Option(help="Classifier checkpoint folder (it names its embedders and chunk size)."),
    ],
    output_dir: Annotated[
        Path, typer.Option(help="Folder for the tables and the viral FASTA.")
    ] = Path("."),
    prefix: Annotated[str, typer.Option(help="File name prefix.")] = "predictions",
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    precision: Annotated[
        str | None, typer.Option(help="fp32, bf16 or fp16 [default: the classifier's].")
    ] = None,
    token_budget: Annotated[
        int, typer.Option(help="Most tokens per embedding batch.")
    ] = DEFAULT_TOKEN_BUDGET,
    hf_home: Annotated[Path | None, typer.Option(help="Model cache [default: $HF_HOME].")] = None,
    min_viral_fraction: MinViralFraction = 0.5,
) -> None:
    """Chunk, select frames, embed, merge and classify in one process (each model loaded once)."""
    from virnucpro.pipeline import predict_fasta

    predict_fasta(
        input,
        model,
        output_dir,
        prefix,
        device,
        precision,
        token_budget,
        hf_home,
        min_viral_fraction,
    )


predict_fasta_command.__doc__ = f"{predict_fasta_command.__doc__}\n\n{OUTPUTS}"


def main() -> None:
    """Entry point of ``bin/predict.py``."""
    run_app(classify_app)
