"""The ``virnucpro`` console script: every step as a subcommand."""

from __future__ import annotations

from virnucpro.cli import (
    chunk,
    classifier,
    classify,
    compare,
    embed,
    frames,
    merge,
    models,
    predict,
    prediction_report,
    shard,
    split,
    training_set,
    verify,
    versions,
)
from virnucpro.cli.common import VersionOption, new_app, run_app

app = new_app("VirNucPro: classify short DNA sequences as viral or not.")
app.command(name="chunk")(chunk.chunk_sequences_command)
app.command(name="frames")(frames.select_frames_command)
app.command(name="training-set")(training_set.build_training_set_command)
app.command(name="split")(split.split_dataset_command)
app.command(name="shard")(shard.shard_frames_command)
app.command(name="embed-dna", epilog=embed.EPILOG)(embed.embed_dna_command)
app.command(name="embed-protein", epilog=embed.EPILOG)(embed.embed_protein_command)
app.command(name="merge")(merge.merge_features_command)
app.command(name="model-cache")(models.model_cache_command)
app.command(name="make-tiny-models")(models.make_tiny_models_command)
app.command(name="make-test-model")(models.make_test_model_command)
app.command(name="train")(classifier.train_classifier_command)
app.command(name="evaluate")(classifier.evaluate_classifier_command)
app.command(name="convert-legacy-model")(classifier.convert_legacy_model_command)
app.command(name="classify", epilog=classify.OUTPUTS)(classify.classify_command)
app.command(name="predict")(predict.predict_fasta_command)
app.command(name="prediction-report")(prediction_report.prediction_report_command)
app.command(name="benchmark")(compare.benchmark_embedder_command)
app.command(name="compare")(compare.compare_embedders_command)
app.command(name="verify-embedder")(verify.verify_embedder_command)
app.command(name="software-version")(versions.software_version_command)


@app.callback()
def main(version: VersionOption = False) -> None:
    """Each subcommand is also a script in the pipeline's bin/ folder."""


def run() -> None:
    """Entry point of the ``virnucpro`` console script."""
    run_app(app)
