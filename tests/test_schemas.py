"""The pipeline's JSON schemas are valid and agree with the config and the test data."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from conftest import ROOT
from jsonschema import Draft202012Validator

from virnucpro.files.names import SAFE_NAME

PIPELINE_SCHEMA = json.loads((ROOT / "nextflow_schema.json").read_text())
INPUT_SCHEMA = json.loads((ROOT / "assets" / "schema_input.json").read_text())


def config_params() -> dict[str, str]:
    """``name = value`` pairs of the params block of nextflow.config, values as written."""
    block = re.search(
        r"^params \{(.*?)^\}", (ROOT / "nextflow.config").read_text(), re.MULTILINE | re.DOTALL
    )
    assert block, "nextflow.config has no params block"
    return dict(re.findall(r"^\s*(\w+)\s*=\s*(.+?)\s*$", block.group(1), re.MULTILINE))


def schema_params() -> dict[str, dict]:
    return {
        name: spec
        for group in PIPELINE_SCHEMA["$defs"].values()
        for name, spec in group["properties"].items()
    }


@pytest.mark.parametrize(
    "schema", [PIPELINE_SCHEMA, INPUT_SCHEMA], ids=["nextflow_schema", "schema_input"]
)
def test_schemas_are_valid_draft_2020_12(schema):
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


# Defaults worked out when the run starts: the schema describes them in words
COMPUTED_DEFAULTS = {
    "trace_report_suffix": "new java.text.SimpleDateFormat('yyyy-MM-dd_HH-mm-ss')"
    ".format(new java.util.Date())"
}


def test_every_param_is_documented_with_its_default():
    documented = schema_params()
    for name, value in config_params().items():
        assert name in documented, f"params.{name} is not in nextflow_schema.json"
        spec = documented[name]
        assert spec.get("description"), f"params.{name} has no description"
        if name in COMPUTED_DEFAULTS:
            assert value == COMPUTED_DEFAULTS[name] and "default" not in spec, name
        elif value != "null":
            assert json.loads(value.replace("'", '"')) == spec["default"], (
                f"params.{name} default differs"
            )
    assert set(documented) == set(config_params())


def _samplesheet_rows(name):
    with open(ROOT / "assets" / "test" / name) as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("name", ["samplesheet_predict.csv", "samplesheet_train.csv"])
def test_bundled_samplesheets_match_the_input_schema(name):
    rows = _samplesheet_rows(name)
    Draft202012Validator(INPUT_SCHEMA).validate(rows)
    for row in rows:
        # Relative to the samplesheet's folder (sampleFile, utils_nfcore_virnucpro_pipeline)
        assert not Path(row["sequences"]).is_absolute()
        assert (ROOT / "assets" / "test" / row["sequences"]).is_file(), row


def test_input_schema_refuses_bad_rows():
    validator = Draft202012Validator(INPUT_SCHEMA)
    good = {"sample": "a", "sequences": "a.fasta"}
    assert validator.is_valid([good])
    assert not validator.is_valid([{**good, "sample": "has space"}])
    assert not validator.is_valid([{**good, "label": "virus"}])
    assert not validator.is_valid([{"sample": "a"}])
    assert not validator.is_valid([{**good, "sequences": "a.txt"}])


@pytest.mark.parametrize(
    "sample", ["../x", "a/b", "a;b", "$(touch x)", "`id`", ".hidden", "-rf", "a'b", "é"]
)
def test_sample_names_outside_the_safe_set_are_refused(sample):
    # Sample names become file names that module scripts interpolate.
    validator = Draft202012Validator(INPUT_SCHEMA)
    assert not validator.is_valid([{"sample": sample, "sequences": "a.fasta"}])
    assert validator.is_valid([{"sample": "NC_001.2-x_y", "sequences": "a.fasta"}])
    pattern = INPUT_SCHEMA["items"]["properties"]["sample"]["pattern"]
    assert pattern == f"^{SAFE_NAME.pattern}$"  # the same rule as the Python commands'


@pytest.mark.parametrize("path", ["a'b.fasta", "$(id).fa", "x;y.fa", "a b.fa", "`x`.fa"])
def test_sequence_paths_with_shell_characters_are_refused(path):
    validator = Draft202012Validator(INPUT_SCHEMA)
    assert not validator.is_valid([{"sample": "a", "sequences": path}])
    assert validator.is_valid([{"sample": "a", "sequences": "/data/run-1/x_y.fasta.gz"}])


def test_fixed_choices_are_enums():
    params = schema_params()
    assert params["mode"]["enum"] == ["predict", "train", "compare", "cache", "download"]
    assert params["group_by"]["enum"] == ["cluster", "genome", "none"]
    assert params["chunk_size"]["minimum"] == 1


def test_embedder_choices_match_the_registry():
    from virnucpro.embed.embedders.registry import EMBEDDERS, Modality

    params = schema_params()
    names = {
        modality: sorted(n for n, s in EMBEDDERS.items() if s.modality is modality)
        for modality in Modality
    }
    assert sorted(params["dna_model"]["enum"]) == names[Modality.dna]
    assert sorted(params["baseline"]["enum"]) == names[Modality.protein]
    assert (
        sorted(set(re.findall(r"\w+", params["embedders"]["pattern"])) - {"s"})
        == names[Modality.protein]
    )
