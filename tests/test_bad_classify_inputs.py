"""Bad inputs of the classify step (feature files, frames reports, the sample's FASTA), run as
the user runs ``classify.py`` and ``merge_features.py``.

Feature shards, frames reports and sequences that do not belong together, feature
files holding NaN or Inf, and feature files whose ``ids`` metadata is not a JSON
list of names are refused with one ``error:`` line naming the file, and nothing
written. A sample without frames needs no features; the classify step over all
shards gives exactly what ``virnucpro predict`` gives. What each case checks is
described in ``command_runs``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from command_runs import (
    DEMO,
    MIXED,
    TABLES,
    Command,
    Need,
    Refusal,
    Run,
    Runs,
    Sample,
    check_refusal,
    classify,
    fasta_records,
    features_args,
    needs,
    outcomes_fixture,
    predict,
    read_tsv,
    stub,
    stub_outputs,
)
from conftest import ASSETS, write_fasta
from safetensors import safe_open
from safetensors.numpy import save_file

from virnucpro.files.feature_files import read_features

RUNS = Runs()

outcomes = outcomes_fixture(RUNS)


# --------------------------------------------------------------------------- inputs that belong together


def _classify_refusal(extra: Callable[[Sample, Path, Need], list], *words: str, **kw) -> Refusal:
    def make(folder: Path, need: Need) -> Command:
        stub_outputs(folder / "out")
        sample = need("mixed")
        return classify(sample, "out", *extra(sample, folder, need))

    return Refusal(make, words=words, **kw)


def _other_fasta(folder: Path) -> str:
    write_fasta(folder / "other.fasta", fasta_records(MIXED)[:3])
    return "other.fasta"


MISMATCHED = {
    "one-shard-missing": _classify_refusal(
        lambda s, f, need: [*features_args(s.merged[1:]), "--sequences", MIXED],
        "frames", "no features", "missing",
    ),
    "shard-given-twice": _classify_refusal(
        lambda s, f, need: [*features_args([*s.merged, s.merged[0]]), "--sequences", MIXED],
        "twice", "shard1.merged.safetensors",
    ),
    "two-reports-sharing-chunks": _classify_refusal(
        lambda s, f, need: [
            *features_args(s.merged), "--report", need("other_report"), "--sequences", MIXED,
        ],
        "twice",
    ),
    "wrong-sequences-fasta": _classify_refusal(
        lambda s, f, need: [*features_args(s.merged), "--sequences", _other_fasta(f)],
        "other.fasta", "not the input",
    ),
    "genbank-as-sequences": _classify_refusal(
        lambda s, f, need: [*features_args(s.merged), "--sequences", ASSETS / "NC_005816.gb"],
        "NC_005816.gb", "FASTA",
    ),
}  # fmt: skip


def _only_other_report(folder: Path, need: Need) -> Command:
    stub_outputs(folder / "out")
    sample = need("mixed")
    return classify(sample, "out", *features_args(sample.merged), report=need("other_report"))


MISMATCHED["frames-report-of-another-sample"] = Refusal(
    _only_other_report, words=("not in the frames report",)
)


@pytest.mark.parametrize(
    "case",
    RUNS.cases(MISMATCHED, slow_ones=("genbank-as-sequences", "two-reports-sharing-chunks")),
)
def test_classify_refuses_inputs_that_do_not_belong_together(outcomes, case):
    check_refusal(outcomes, case)


def _all_shards(folder: Path, need: Need) -> Command:
    sample = need("mixed")
    return classify(sample, "out", *features_args(sample.merged), "--sequences", MIXED)


def _no_frame_sample(folder: Path, need: Need) -> Command:
    fasta, report = need("stop_sample")
    return ["classify.py", "--classifier", DEMO, "--report", report, "--sequences", fasta,
            "--output-dir", "out"]  # fmt: skip


RUNS.add({
    "classify-all-shards": Run(_all_shards),
    "classify-without-features": Run(_no_frame_sample),
    "predict-mixed": Run(lambda folder, need: predict(MIXED, "out")),
})  # fmt: skip


@needs("classify-all-shards", "predict-mixed")
def test_classify_of_all_shards_equals_virnucpro_predict(outcomes):
    classified, predicted = outcomes["classify-all-shards"], outcomes["predict-mixed"]
    classified.succeeded()
    predicted.succeeded()
    for name in (*TABLES, "viral.fasta"):
        expected = predicted.file(f"out/predictions.{name}").read_bytes()
        assert classified.file(f"out/predictions.{name}").read_bytes() == expected, name
    rows = read_tsv(classified.file("out/predictions.sequence_calls.tsv"))
    assert len(rows) == 10


@needs("classify-without-features")
def test_sample_without_frames_needs_no_features(outcomes):
    outcome = outcomes["classify-without-features"]
    outcome.succeeded()
    rows = read_tsv(outcome.file("out/predictions.sequence_calls.tsv"))
    assert [row["sequence_id"] for row in rows] == ["stops0", "stops1", "stops2"]
    assert {row["call"] for row in rows} == {"no_frame"}
    chunks = read_tsv(outcome.file("out/predictions.chunk_calls.tsv"))
    assert len(chunks) == 5 and {row["prediction"] for row in chunks} == {"no_frame"}
    assert read_tsv(outcome.file("out/predictions.frame_scores.tsv")) == []
    assert ">" not in outcome.file("out/predictions.viral.fasta").read_text()


# --------------------------------------------------------------------------- NaN and Inf features


def write_features_by_hand(path: Path, matrix: np.ndarray, metadata: dict[str, str], ids: str):
    """A feature file written without the package's checks (``ids``: the raw metadata text)."""
    save_file(
        {"features": np.ascontiguousarray(matrix, dtype=np.float32)},
        str(path),
        metadata={**metadata, "format": "virnucpro-features/1", "ids": ids},
    )
    return path


def poisoned(source: Path, target: Path, value: float, row: int = 3) -> Path:
    """``source`` with one value of row ``row`` (0-based) replaced by ``value``."""
    features = read_features(source)
    matrix = features.matrix.copy()
    matrix[row, 5] = value
    return write_features_by_hand(target, matrix, features.metadata, json.dumps(features.ids))


def _classify_poisoned(value: float) -> Refusal:
    def make(folder: Path, need: Need) -> Command:
        sample = need("mixed")
        bad = poisoned(sample.merged[1], folder / "bad.safetensors", value)
        stub_outputs(folder / "out")
        return classify(sample, "out", *features_args([sample.merged[0], bad, *sample.merged[2:]]))

    return Refusal(make, words=("bad.safetensors", "row 4", "NaN"))


def _merge_poisoned(folder: Path, need: Need) -> Command:
    sample = need("mixed")
    poisoned(sample.dna[0], folder / "bad.dna.safetensors", np.nan)
    stub(folder / "merged.safetensors")
    return ["merge_features.py", "--dna", "bad.dna.safetensors", "--protein", sample.proteins[0],
            "--output", "merged.safetensors"]  # fmt: skip


NON_FINITE = {
    "classify-nan": _classify_poisoned(np.nan),
    "classify-inf": _classify_poisoned(np.inf),
    "merge-nan-dna": Refusal(_merge_poisoned, words=("bad.dna.safetensors", "row 4", "NaN")),
}


@pytest.mark.parametrize("case", RUNS.cases(NON_FINITE, slow_ones=("classify-inf",)))
def test_non_finite_features_are_refused(outcomes, case):
    check_refusal(outcomes, case)


# --------------------------------------------------------------------------- feature ids


def _rewrite_ids(source: Path, target: Path, ids: str | None) -> Path:
    """``source`` with the ``ids`` metadata replaced (None: a JSON list of ints)."""
    with safe_open(str(source), "np") as handle:
        metadata = handle.metadata()
        matrix = handle.get_tensor("features")
    metadata.pop("ids")
    return write_features_by_hand(
        target, matrix, metadata, ids or json.dumps(list(range(len(matrix))))
    )


def _merge_ids(ids: str | None) -> Refusal:
    def make(folder: Path, need: Need) -> Command:
        sample = need("mixed")
        _rewrite_ids(sample.dna[0], folder / "bad.dna.safetensors", ids)
        stub(folder / "merged.safetensors")
        return ["merge_features.py", "--dna", "bad.dna.safetensors", "--protein",
                sample.proteins[0], "--output", "merged.safetensors"]  # fmt: skip

    return Refusal(make, words=("bad.dna.safetensors", "ids"))


def _classify_ids(ids: str | None) -> Refusal:
    def make(folder: Path, need: Need) -> Command:
        sample = need("mixed")
        bad = _rewrite_ids(sample.merged[0], folder / "bad.safetensors", ids)
        stub_outputs(folder / "out")
        return classify(sample, "out", *features_args([bad, *sample.merged[1:]]))

    return Refusal(make, words=("bad.safetensors", "ids"))


FEATURE_IDS = {
    "merge-ids-not-json": _merge_ids("['a', 'b'"),
    "merge-ids-list-of-ints": _merge_ids(None),
    "classify-ids-not-json": _classify_ids("['a', 'b'"),
    "classify-ids-list-of-ints": _classify_ids(None),
}


@pytest.mark.parametrize(
    "case",
    RUNS.cases(FEATURE_IDS, slow_ones=("merge-ids-not-json", "classify-ids-list-of-ints")),
)
def test_feature_ids_must_be_a_json_list_of_names(outcomes, case):
    check_refusal(outcomes, case)
