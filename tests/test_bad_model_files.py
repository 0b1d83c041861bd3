"""Bad model files (the classifier folder and the bundled embedder models), run as the user
runs ``virnucpro predict`` and the embed scripts.

A classifier whose ``classifier.json`` lacks a key, has a wrong type, is not UTF-8
or names absurd dimensions, whose weights are garbage or truncated, or whose
embedder gives vectors of another dimension is refused with one ``error:`` line
naming the file or value, and nothing written. The bundled tiny DNABERT-S is
recorded with the revision ``bundled``. What each case checks is described in
``command_runs``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from command_runs import (
    CHUNK,
    DEMO,
    MIXED,
    Command,
    Need,
    Refusal,
    Run,
    Runs,
    check_refusal,
    needs,
    outcomes_fixture,
    predict,
    stub_outputs,
)

from virnucpro.files.feature_files import read_features

RUNS = Runs()

outcomes = outcomes_fixture(RUNS)


# --------------------------------------------------------------------------- classifier folders


def _copy_demo(folder: Path, edit: Callable[[Path], None]) -> Path:
    model = folder / "model"
    shutil.copytree(DEMO, model)
    edit(model)
    return model


def _edit_json(change: Callable[[dict], object]) -> Callable[[Path], None]:
    def edit(model: Path) -> None:
        config = json.loads((model / "classifier.json").read_text())
        (model / "classifier.json").write_text(json.dumps(change(config)))

    return edit


def _without(key: str) -> Callable[[dict], object]:
    return lambda config: {name: value for name, value in config.items() if name != key}


def _with(**values: object) -> Callable[[dict], object]:
    return lambda config: {**config, **values}


def _not_utf8(model: Path) -> None:
    text = (model / "classifier.json").read_bytes()
    (model / "classifier.json").write_bytes(text.replace(b'"fp32"', b'"fp\xff\xfe32"'))


def _weights(damage: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def edit(model: Path) -> None:
        weights = model / "model.safetensors"
        weights.write_bytes(damage(weights.read_bytes()))

    return edit


def _predict_with(edit: Callable[[Path], None], *words: str, alone: bool = True) -> Refusal:
    def make(folder: Path, need: Need) -> Command:
        stub_outputs(folder / "out")
        return predict(MIXED, "out", classifier=_copy_demo(folder, edit))

    return Refusal(make, words=words, alone=alone)


def _protein_embedder(name: str) -> Callable[[dict], object]:
    return lambda config: {**config, "embedders": {**config["embedders"], "protein": name}}


def _json(change: Callable[[dict], object], *words: str) -> Refusal:
    """A classifier.json edited by ``change``: the error names classifier.json and ``words``."""
    return _predict_with(_edit_json(change), "classifier.json", *words)


ABSURD = {"input_dimension": 10**12, "dimensions": {"dna": 10**12 - 420, "protein": 420}}
CHECKPOINTS = {
    "json-no-embedders": _json(_without("embedders"), "embedders"),
    "json-no-dimensions": _json(_without("dimensions"), "dimensions"),
    "json-no-chunk_size": _json(_without("chunk_size"), "chunk_size"),
    "json-no-hidden": _json(_without("hidden"), "hidden"),
    "json-a-list": _json(lambda config: [config]),
    "json-not-utf8": _predict_with(_not_utf8, "classifier.json"),
    "json-hidden-a-string": _json(_with(hidden="512"), "hidden"),
    "json-dimensions-strings": _json(
        _with(dimensions={"dna": "340", "protein": "420"}), "dimension"
    ),
    "json-absurd-dimensions": _json(_with(**ABSURD), "dimension"),
    "weights-garbage": _predict_with(
        _weights(lambda data: b"\x00garbage, not safetensors" * 10), "model.safetensors"
    ),
    "weights-truncated": _predict_with(
        _weights(lambda data: data[: len(data) // 2]), "model.safetensors"
    ),
    # tiny_esm2 gives 32-d vectors, the classifier expects 420: refused before embedding
    # (after the log line of the loaded model)
    "embedder-of-another-dimension": _predict_with(
        _edit_json(_protein_embedder("tiny_esm2")), "tiny_esm2", "420", "32", alone=False
    ),
}


@pytest.mark.parametrize(
    "case",
    RUNS.cases(
        CHECKPOINTS, slow_ones=("json-no-chunk_size", "json-no-hidden", "json-dimensions-strings")
    ),
)
def test_defective_classifier_is_refused(outcomes, case):
    check_refusal(outcomes, case)


# --------------------------------------------------------------------------- bundled embedder models


def _tiny_dnabert(folder: Path, need: Need) -> Command:
    return ["embed_dna.py", "--input", need("mixed").shards[-1][0], "--output",
            "tiny.safetensors", "--embedder", "tiny_dnabert_s", "--chunk-size", CHUNK,
            "--device", "cpu"]  # fmt: skip


RUNS.add({"tiny-dnabert-s": Run(_tiny_dnabert)})


@needs("tiny-dnabert-s")
def test_bundled_dnabert_s_revision_is_recorded_as_bundled(outcomes):
    outcome = outcomes["tiny-dnabert-s"]
    outcome.succeeded()
    metadata = read_features(outcome.file("tiny.safetensors")).metadata
    assert metadata["embedder"] == "tiny_dnabert_s"
    assert metadata["revision"] == "bundled"
