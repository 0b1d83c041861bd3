"""The ``virnucpro`` console script: every step as a subcommand.

A subcommand has the name of its bin/ script (``chunk_sequences.py`` is
``virnucpro chunk-sequences``) and comes from the CLI module of that name. The
shorter names of earlier versions are still accepted, hidden from --help.
"""

from __future__ import annotations

from virnucpro.cli import (
    benchmark_embedder,
    build_training_set,
    chunk_sequences,
    classify,
    compare_embedders,
    convert_legacy_model,
    download_refseq,
    embed_dna,
    embed_protein,
    evaluate_classifier,
    make_test_model,
    make_tiny_models,
    merge_features,
    model_cache,
    multiqc_report,
    predict,
    prediction_report,
    select_frames,
    shard_frames,
    software_version,
    split_dataset,
    train_classifier,
    verify_embedder,
)
from virnucpro.cli.common import VersionOption, new_app, run_app

#: In pipeline order, as --help lists them
STEPS = (
    chunk_sequences,
    select_frames,
    build_training_set,
    split_dataset,
    shard_frames,
    embed_dna,
    embed_protein,
    merge_features,
    download_refseq,
    model_cache,
    make_tiny_models,
    make_test_model,
    train_classifier,
    evaluate_classifier,
    convert_legacy_model,
    classify,
    predict,
    prediction_report,
    benchmark_embedder,
    compare_embedders,
    multiqc_report,
    verify_embedder,
    software_version,
)
#: Earlier subcommand names -> today's
ALIASES = {
    "chunk": "chunk-sequences",
    "frames": "select-frames",
    "training-set": "build-training-set",
    "split": "split-dataset",
    "shard": "shard-frames",
    "merge": "merge-features",
    "train": "train-classifier",
    "evaluate": "evaluate-classifier",
    "benchmark": "benchmark-embedder",
    "compare": "compare-embedders",
}

app = new_app(
    "VirNucPro: classify short DNA sequences as viral or not. Each subcommand is also a "
    "bin/ script of the pipeline; the rules each step follows: docs/preprocessing.md."
)
for step in STEPS:
    app.registered_commands += step.app.registered_commands
_by_name = {command.name: command for command in app.registered_commands}
for alias, name in ALIASES.items():
    app.command(name=alias, hidden=True, epilog=_by_name[name].epilog)(_by_name[name].callback)


@app.callback()
def main(version: VersionOption = False) -> None:
    """Each subcommand is also a script in the pipeline's bin/ folder."""


def run() -> None:
    """Entry point of the ``virnucpro`` console script."""
    run_app(app)
