"""A GPU task embeds a group of shards: the model is loaded once, each shard gets its file."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ROOT, frame_shards, read_fasta, run_script

from virnucpro.embed import embed_files
from virnucpro.embed.embedders.registry import get_embedder
from virnucpro.errors import InputError
from virnucpro.files.feature_files import read_features

MODELS = ROOT / "assets" / "models"
SETTINGS = {"precision": "fp32", "device": "cpu", "chunk_size": 300, "token_budget": 2048}


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """The real frames of mixed_example.fasta in three shards: nucleotide and protein files."""
    return frame_shards(tmp_path_factory.mktemp("shards"), 30)


@pytest.fixture
def loads(monkeypatch):
    """Every model load of the embed step, by embedder name."""
    loaded = []
    real = embed_files.load_encoder

    def counting(spec, *args, **kwargs):
        loaded.append(spec.name)
        return real(spec, *args, **kwargs)

    monkeypatch.setattr(embed_files, "load_encoder", counting)
    return loaded


@pytest.mark.parametrize(
    ("name", "modality"), [("tiny_esm2", "protein"), ("tiny_dnabert_s", "dna")]
)
def test_a_group_of_shards_loads_the_model_once_and_matches_shard_by_shard(
    tmp_path, shards, loads, name, modality
):
    spec = get_embedder(name)
    pairs = [(source, tmp_path / f"{source.stem}.safetensors") for source in shards[modality]]
    summary = embed_files.extract_features(pairs, spec, model_dir=MODELS / name, **SETTINGS)
    assert loads == [name]
    assert (summary.written, summary.skipped, summary.sequences) == (3, 0, 90)
    assert summary.stats.sequences == 90 and summary.stats.batches >= 3
    assert 0 <= summary.stats.padding_fraction < 1 and 0 <= summary.stats.idle_fraction <= 1
    assert 0 < summary.load_seconds < summary.wall_seconds
    for source, output in pairs:
        alone = tmp_path / "alone" / output.name
        embed_files.extract_features([(source, alone)], spec, model_dir=MODELS / name, **SETTINGS)
        grouped, single = read_features(output), read_features(alone)
        assert grouped.ids == single.ids == [record_id for record_id, _ in read_fasta(source)]
        np.testing.assert_array_equal(grouped.matrix, single.matrix)
    assert loads == [name] * 4


def test_a_resumed_group_loads_nothing_and_a_partial_one_embeds_only_what_is_missing(
    tmp_path, shards, loads
):
    spec = get_embedder("tiny_esm2")
    pairs = [(source, tmp_path / f"{source.stem}.safetensors") for source in shards["protein"]]
    embed_files.extract_features(pairs, spec, model_dir=MODELS / "tiny_esm2", **SETTINGS)
    again = embed_files.extract_features(pairs, spec, model_dir=MODELS / "tiny_esm2", **SETTINGS)
    assert (again.written, again.skipped, again.load_seconds) == (0, 3, 0.0)
    assert loads == ["tiny_esm2"]
    pairs[1][1].unlink()
    partial = embed_files.extract_features(pairs, spec, model_dir=MODELS / "tiny_esm2", **SETTINGS)
    assert (partial.written, partial.skipped) == (1, 2)
    assert loads == ["tiny_esm2", "tiny_esm2"]


def test_two_inputs_for_one_output_are_refused_before_loading(tmp_path, shards, loads):
    spec = get_embedder("tiny_esm2")
    first, second = shards["protein"][:2]
    output = tmp_path / "x.safetensors"
    with pytest.raises(InputError, match="is given for two outputs"):
        embed_files.extract_features(
            [(first, output), (second, output)], spec, model_dir=MODELS / "tiny_esm2", **SETTINGS
        )
    assert loads == []


def test_the_command_takes_one_output_per_input_and_loads_once(tmp_path, shards):
    inputs = shards["protein"]
    outputs = [tmp_path / f"{source.stem}.safetensors" for source in inputs]
    args = ["--embedder", "tiny_esm2", "--model-dir", MODELS / "tiny_esm2", "--chunk-size", "300"]
    args += ["--precision", "fp32", "--device", "cpu"]
    result = run_script(
        "embed_protein.py",
        *[word for source, output in zip(inputs, outputs, strict=True) for word in ("--input", source, "--output", output)],
        *args,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("loaded tiny_esm2 from") == 1
    assert "3 file(s) written, 0 already complete" in result.stderr
    assert all(output.is_file() for output in outputs)

    missing = run_script(
        "embed_protein.py",
        "--input",
        inputs[0],
        "--input",
        inputs[1],
        "--output",
        outputs[0],
        *args,
    )
    assert missing.returncode == 1
    assert "give one --output per --input: 2 input(s), 1 output(s)" in missing.stderr
