"""Bad output names and paths, run as the user runs ``virnucpro predict`` and the bin/ scripts.

Output prefixes that would leave the output folder (``../``, a slash), hide the
outputs or hold shell syntax, output folders that are files, and one path given
for two outputs are refused with one ``error:`` line naming the name or path, and
nothing written (the output folder's parents included). What each case checks is
described in ``command_runs``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from command_runs import (
    MIXED,
    Command,
    Need,
    Refusal,
    Runs,
    check_refusal,
    classify,
    evaluate,
    features_args,
    outcomes_fixture,
    predict,
    stub,
    stub_outputs,
)

RUNS = Runs()

outcomes = outcomes_fixture(RUNS)


# --------------------------------------------------------------------------- prefixes


def _predict_prefix(prefix: str) -> Refusal:
    # run in the case folder: "work/out/../../x" is the case folder itself, so the snapshot
    # covers the output folder's parents too
    def make(folder: Path, need: Need) -> Command:
        stub_outputs(folder / "work" / "out")
        stub_outputs(folder, "x")
        return predict(MIXED, "work/out", "--prefix", prefix)

    return Refusal(make, words=("prefix", prefix))


def _classify_prefix(folder: Path, need: Need) -> Command:
    sample = need("mixed")
    stub_outputs(folder / "work" / "out")
    return classify(sample, "work/out", *features_args(sample.merged), "--prefix", "../x")


def _shard_prefix(folder: Path, need: Need) -> Command:
    sample = need("mixed")
    (folder / "work" / "shards").mkdir(parents=True)
    return ["shard_frames.py", "--nucleotide", sample.nucleotide, "--protein", sample.protein,
            "--output-dir", "work/shards", "--prefix", "../x"]  # fmt: skip


PREFIXES = {
    "predict-parent-parent": _predict_prefix("../../x"),
    "predict-slash": _predict_prefix("a/b"),
    "predict-command-substitution": _predict_prefix("$(id)"),
    "predict-hidden": _predict_prefix(".hidden"),
    "classify-parent": Refusal(_classify_prefix, words=("prefix", "../x")),
    "shard-frames-parent": Refusal(_shard_prefix, words=("prefix", "../x")),
}


@pytest.mark.parametrize("case", RUNS.cases(PREFIXES, slow_ones=("predict-slash",)))
def test_unsafe_prefixes_are_refused(outcomes, case):
    check_refusal(outcomes, case)


# --------------------------------------------------------------------------- output paths


def _evaluate_into_a_file(folder: Path, need: Need) -> Command:
    stub(folder / "eval")
    return evaluate(need("training"), "eval", "--bootstrap", "2")


def _predict_into_a_file(folder: Path, need: Need) -> Command:
    stub(folder / "out")
    return predict(MIXED, "out")


def _select_frames_one_path(folder: Path, need: Need) -> Command:
    return ["select_frames.py", "--input", need("mixed").chunks, "--nucleotide", "x",
            "--protein", "x", "--report", "r.tsv"]  # fmt: skip


OUTPUT_PATHS = {
    "evaluate-output-dir-is-a-file": Refusal(
        _evaluate_into_a_file, words=("eval", "not a folder")
    ),
    # refused when the tables are written, after the progress lines of the classification
    "predict-output-dir-is-a-file": Refusal(
        _predict_into_a_file, words=("out", "not a folder"), alone=False
    ),
    "select-frames-one-path-for-two-outputs": Refusal(
        _select_frames_one_path, words=("x", "two outputs")
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", RUNS.cases(OUTPUT_PATHS))
def test_unusable_output_paths_are_refused(outcomes, case):
    check_refusal(outcomes, case)
