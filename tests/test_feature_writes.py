"""Feature files are written in the background while the next shard is embedded: the
same bytes as a synchronous write, a failed write raised, and two loaded models (DNA
and protein) running shard after shard without a reload."""

from __future__ import annotations

import threading

import pytest
from conftest import ROOT, frame_shards, run_script

from virnucpro.embed import embed_files
from virnucpro.embed.embedders.registry import get_embedder
from virnucpro.errors import InputError
from virnucpro.files.feature_files import write_features

MODELS = ROOT / "assets" / "models"
SETTINGS = {"precision": "fp32", "device": "cpu", "chunk_size": 300, "token_budget": 2048}


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """Three shards of the real frames of mixed_example.fasta: nucleotide and protein files."""
    return frame_shards(tmp_path_factory.mktemp("shards"), 20)


def _pairs(sources, folder):
    return [(source, folder / f"{source.stem}.safetensors") for source in sources]


def _extract(pairs, name="tiny_esm2"):
    spec = get_embedder(name)
    return embed_files.extract_features(pairs, spec, model_dir=MODELS / name, **SETTINGS)


class SynchronousWriter(embed_files.BackgroundWriter):
    def write(self, path, features):
        write_features(path, features)


def test_background_writes_give_the_bytes_of_synchronous_writes(tmp_path, shards, monkeypatch):
    background = _pairs(shards["protein"], tmp_path / "background")
    summary = _extract(background)
    assert summary.written == 3 and summary.write_seconds > 0
    monkeypatch.setattr(embed_files, "BackgroundWriter", SynchronousWriter)
    synchronous = _pairs(shards["protein"], tmp_path / "synchronous")
    _extract(synchronous)
    for (_, one), (_, other) in zip(background, synchronous, strict=True):
        assert one.read_bytes() == other.read_bytes()


def test_a_shard_is_written_while_the_next_one_is_embedded(tmp_path, shards, monkeypatch):
    pairs = _pairs(shards["protein"], tmp_path)
    second_started = threading.Event()
    embedded = []
    real_embed, real_write = embed_files.SequenceEmbedder.embed, embed_files.write_features

    def embed(self, sequences, stats=None):
        embedded.append(len(sequences))
        if len(embedded) == 2:
            second_started.set()
        return real_embed(self, sequences, stats)

    def write(path, features):
        if path == pairs[0][1]:  # blocks a synchronous writer: the test fails, not hangs
            assert second_started.wait(timeout=10), "shard 2 waited for shard 1's write"
        real_write(path, features)

    monkeypatch.setattr(embed_files.SequenceEmbedder, "embed", embed)
    monkeypatch.setattr(embed_files, "write_features", write)
    assert _extract(pairs).written == 3
    assert all(output.is_file() for _, output in pairs)


def test_a_failed_write_is_raised_not_lost(tmp_path, shards, monkeypatch):
    pairs = _pairs(shards["protein"], tmp_path)
    real_write = embed_files.write_features

    def write(path, features):
        if path == pairs[1][1]:
            raise InputError(f"cannot write to {path}: disk full (simulated)")
        real_write(path, features)

    monkeypatch.setattr(embed_files, "write_features", write)
    with pytest.raises(InputError, match="disk full"):
        _extract(pairs)
    assert pairs[0][1].is_file() and not pairs[1][1].exists()


def test_dna_and_protein_shards_run_back_to_back_on_two_loaded_models(
    tmp_path, shards, monkeypatch
):
    loads = []
    real_load = embed_files.load_encoder

    def counting(spec, *args, **kwargs):
        loads.append(spec.name)
        return real_load(spec, *args, **kwargs)

    monkeypatch.setattr(embed_files, "load_encoder", counting)
    settings = {key: SETTINGS[key] for key in ("precision", "device", "token_budget")}
    models = {
        modality: embed_files.SequenceEmbedder(
            get_embedder(name), **settings, model_dir=MODELS / name
        )
        for modality, name in (("dna", "tiny_dnabert_s"), ("protein", "tiny_esm2"))
    }
    for index in range(3):
        for modality, embedder in models.items():
            pair = _pairs([shards[modality][index]], tmp_path / "both")
            summary = embed_files.embed_shards(embedder, pair, SETTINGS["chunk_size"])
            assert (summary.written, summary.load_seconds < 0.01) == (1, True)
    assert loads == ["tiny_dnabert_s", "tiny_esm2"]
    for modality, name in (("dna", "tiny_dnabert_s"), ("protein", "tiny_esm2")):
        apart = _pairs(shards[modality], tmp_path / "apart")
        _extract(apart, name)
        for _, output in apart:
            assert output.read_bytes() == (tmp_path / "both" / output.name).read_bytes()


@pytest.mark.slow
def test_the_command_refuses_an_attention_backend_the_model_cannot_run(tmp_path, shards):
    result = run_script(
        "embed_protein.py", "--input", shards["protein"][0], "--output", tmp_path / "x.safetensors",
        "--embedder", "tiny_esm2", "--model-dir", MODELS / "tiny_esm2", "--chunk-size", "300",
        "--device", "cpu", "--attention", "efficient_attention",
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "attention backend 'efficient_attention' cannot run tiny_esm2 on cpu" in result.stderr
    assert not (tmp_path / "x.safetensors").exists()
