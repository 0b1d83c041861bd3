"""Reruns give byte-identical outputs, for the same input and settings.

``virnucpro predict`` run twice on the mixed example writes the same bytes (tables,
viral FASTA and HTML summary); the slow test runs the whole chain of bin/ scripts
(chunk, frames, shard, embed with the composition and tiny models, merge,
classify) and ``virnucpro predict`` twice and compares every file. The commands
run as the user runs them (see ``command_runs``).
"""

from __future__ import annotations

from pathlib import Path

from command_runs import (
    CHUNK,
    MIXED,
    Run,
    Runs,
    classify,
    features_args,
    needs,
    ok_all,
    outcomes_fixture,
    predict,
    prepare,
    slow,
    snapshot,
)

RUNS = Runs()

outcomes = outcomes_fixture(RUNS)


RUNS.add({
    "predict-mixed": Run(lambda folder, need: predict(MIXED, "out")),
    "predict-mixed-again": Run(lambda folder, need: predict(MIXED, "out")),
})  # fmt: skip


@needs("predict-mixed", "predict-mixed-again")
def test_virnucpro_predict_is_byte_identical_between_runs(outcomes):
    first, second = outcomes["predict-mixed"], outcomes["predict-mixed-again"]
    first.succeeded()
    second.succeeded()
    # three tables, the viral FASTA, the HTML summary and the run record
    assert len(first.after) == 6
    assert first.after == second.after


def full_chain(folder: Path) -> None:
    """chunk -> frames -> shard -> embed (composition and tiny models) -> merge -> classify."""
    sample = prepare(MIXED, folder, frames_per_shard=100)
    tiny = []
    for index, (shard_nt, shard_aa) in enumerate(sample.shards, start=1):
        dna, protein = folder / f"tiny{index}.dna.safetensors", folder / f"tiny{index}.aa.st"
        tiny.append((dna, protein, folder / f"tiny{index}.merged.safetensors"))
        ok_all(
            [
                "embed_dna.py", "--input", shard_nt, "--output", dna, "--chunk-size", CHUNK,
                "--embedder", "tiny_dnabert_s", "--device", "cpu",
            ],
            [
                "embed_protein.py", "--input", shard_aa, "--output", protein,
                "--chunk-size", CHUNK, "--embedder", "tiny_esm2", "--device", "cpu",
            ],
        )  # fmt: skip
    ok_all(*(["merge_features.py", "--dna", d, "--protein", p, "--output", m] for d, p, m in tiny))
    ok_all(
        classify(
            sample, folder / "classified", *features_args(sample.merged), "--sequences", MIXED
        ),
        predict(MIXED, folder / "predicted"),
    )


@slow
def test_every_output_is_byte_identical_between_two_runs(tmp_path):
    full_chain(tmp_path / "run1")
    full_chain(tmp_path / "run2")
    first, second = snapshot(tmp_path / "run1"), snapshot(tmp_path / "run2")
    assert sum(name.endswith(".safetensors") for name in first) >= 12
    assert {
        "classified/predictions.frame_scores.tsv",
        "predicted/predictions.frame_scores.tsv",
    } <= set(first)
    assert first == second
