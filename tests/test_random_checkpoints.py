"""Random-weight checkpoints in the real models' layouts, tiny and full size (virnucpro.testing)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import run_script
from safetensors import safe_open
from safetensors.torch import save_file

from virnucpro import __version__
from virnucpro.embed.embedders.loader import load_encoder
from virnucpro.embed.embedders.registry import get_embedder
from virnucpro.embed.sequence_embedding import embed_sequences
from virnucpro.testing import RANDOM_MODELS, checkpoint_parameters, write_random_checkpoint
from virnucpro.testing.dnabert_s_checkpoints import DNABERT_S_SIZES
from virnucpro.testing.dnabert_s_checkpoints import _tokenizer as dnabert_s_tokenizer
from virnucpro.testing.files import write_safetensors

CPU = torch.device("cpu")
WEIGHTS = {
    "esm2_3b": [
        "pytorch_model-00001-of-00002.bin",
        "pytorch_model-00002-of-00002.bin",
        "pytorch_model.bin.index.json",
    ],
    "esm2_650m": ["model.safetensors"],
    "fastesm2_650": ["model.safetensors"],
    "dnabert_s": ["pytorch_model.bin"],
}
SEQUENCES = {
    "dna": ["ATGAAACCCGGGTTTAAACGTTAGC" * 4, "ACGTTGCA"],
    "protein": ["MKVLAAGIVWYPQRSTDE" * 3, "MKV"],
}


@pytest.mark.parametrize("name", sorted(RANDOM_MODELS))
def test_tiny_random_checkpoints_have_the_real_layout_and_load(tmp_path, name):
    folder = write_random_checkpoint(name, tmp_path / name, "tiny")
    files = sorted(path.name for path in folder.iterdir())
    assert set(WEIGHTS[name]) <= set(files)
    assert not {"model.safetensors", "pytorch_model.bin"} & set(files) - set(WEIGHTS[name])
    config = json.loads((folder / "config.json").read_text())
    model = RANDOM_MODELS[name]
    assert config["hidden_size"] == 32 and config["num_hidden_layers"] == 2
    if "_name_or_path" in config:
        assert config["_name_or_path"] == model.repository
    spec = get_embedder(name)
    vectors = embed_sequences(
        load_encoder(spec, folder, CPU, torch.float32), SEQUENCES[spec.modality.value], CPU
    )
    assert vectors.shape == (2, 32) and np.isfinite(vectors).all()
    again = write_random_checkpoint(name, tmp_path / "again", "tiny")
    for file in files:
        assert (folder / file).read_bytes() == (again / file).read_bytes(), file


def test_sharded_pickles_split_the_3b_layout_with_an_index(tmp_path):
    folder = write_random_checkpoint("esm2_3b", tmp_path / "3b", "tiny", seed=4)
    index = json.loads((folder / "pytorch_model.bin.index.json").read_text())
    shards = {
        file: torch.load(folder / file, map_location="cpu", weights_only=True)
        for file in WEIGHTS["esm2_3b"][:2]
    }
    stored = {name: file for file, state in shards.items() for name in state}
    assert index["weight_map"] == stored
    assert "lm_head.decoder.weight" in stored  # torch.save keeps the tied decoder
    assert index["metadata"]["total_size"] == sum(
        tensor.nbytes for state in shards.values() for tensor in state.values()
    )
    sizes = [sum(t.nbytes for t in state.values()) for state in shards.values()]
    assert min(sizes) > 0.3 * sum(sizes)  # split by bytes, not by names


def test_storage_dtype_is_followed_except_for_rotary_frequencies(tmp_path):
    folder = write_random_checkpoint(
        "fastesm2_650", tmp_path / "bf16", "tiny", dtype=torch.bfloat16
    )
    with safe_open(str(folder / "model.safetensors"), framework="pt") as handle:
        dtypes = {name: handle.get_tensor(name).dtype for name in handle.keys()}  # noqa: SIM118
    inv_freq = [name for name in dtypes if name.endswith("inv_freq")]
    assert inv_freq and {dtypes[name] for name in inv_freq} == {torch.float32}
    assert {dtypes[name] for name in dtypes if name not in inv_freq} == {torch.bfloat16}
    assert json.loads((folder / "config.json").read_text())["torch_dtype"] == "bfloat16"


def _esm_parameters(hidden: int, layers: int, heads: int, inner: int, untied_decoder: bool) -> int:
    """EsmForMaskedLM weights as the hub files store them, by formula."""
    vocab, positions = 33, 1026
    attention = 4 * (hidden * hidden + hidden)  # query, key, value, output dense
    feed_forward = (hidden * inner + inner) + (inner * hidden + hidden)
    layer = attention + feed_forward + 2 * 2 * hidden  # and two layer norms
    head = hidden * hidden + hidden + 2 * hidden + vocab
    if untied_decoder:  # FastESM: its own decoder matrix, no legacy positions or contact head
        return vocab * hidden + layers * layer + 2 * hidden + head + vocab * hidden
    contact = layers * heads + 1
    return vocab * hidden + positions * hidden + layers * layer + 2 * hidden + head + contact


def test_full_size_parameter_counts_come_from_the_real_configs():
    assert checkpoint_parameters("esm2_3b") == _esm_parameters(2560, 36, 40, 10240, False)
    assert checkpoint_parameters("esm2_650m") == _esm_parameters(1280, 33, 20, 5120, False)
    assert checkpoint_parameters("fastesm2_650") == _esm_parameters(1280, 33, 20, 5120, True)
    # ~2.84B and ~652M: 11.4 GB and 2.6 GB of float32, as the hub files are.
    assert 2.83e9 < checkpoint_parameters("esm2_3b") < 2.85e9
    assert 6.5e8 < checkpoint_parameters("esm2_650m") < 6.55e8
    # DNABERT-S: exactly the 117,068,544 float32 values of the hub's 468 MB pytorch_model.bin.
    assert checkpoint_parameters("dnabert_s") == 117_068_544
    assert checkpoint_parameters("esm2_3b", "tiny") < 1e6


def test_the_full_size_dna_tokenizer_has_the_real_vocabulary():
    tokenizer = dnabert_s_tokenizer(0, DNABERT_S_SIZES)
    assert tokenizer.get_vocab_size() == 4096
    rng = np.random.default_rng(1)
    dna = "".join(rng.choice(list("ACGT"), 500))
    pieces = tokenizer.encode(dna).tokens
    assert 3 < 500 / (len(pieces) - 2) < 7  # about DNABERT-2's 4-5 bases per token


def test_streamed_safetensors_are_the_bytes_of_save_file(tmp_path):
    generator = torch.Generator().manual_seed(3)
    state = {
        "z.weight": torch.randn(3, 5, generator=generator),
        "a.ids": torch.arange(6).reshape(2, 3),
        "m.half": torch.randn(4, generator=generator).to(torch.bfloat16),
        "b.bias": torch.randn(7, generator=generator),
    }
    save_file(state, str(tmp_path / "reference.safetensors"), metadata={"format": "pt"})
    layout = {name: (tuple(t.shape), t.dtype) for name, t in state.items()}
    # In any order, one tensor at a time.
    streamed = tmp_path / "streamed.safetensors"
    write_safetensors(streamed, layout, reversed(list(state.items())), {"format": "pt"})
    assert streamed.read_bytes() == (tmp_path / "reference.safetensors").read_bytes()
    with pytest.raises(ValueError, match="never given"):
        write_safetensors(tmp_path / "short.safetensors", layout, list(state.items())[:2])
    with pytest.raises(ValueError, match="not the declared"):
        write_safetensors(tmp_path / "bad.safetensors", layout, [("b.bias", torch.zeros(6))])


def test_unknown_names_and_sizes_are_refused(tmp_path):
    with pytest.raises(ValueError, match="no random checkpoint for 'esm1b'"):
        write_random_checkpoint("esm1b", tmp_path)
    with pytest.raises(ValueError, match="size must be"):
        write_random_checkpoint("esm2_3b", tmp_path, "medium")  # type: ignore[arg-type]


def test_make_test_model_script(tmp_path):
    help_run = run_script("make_test_model.py", "--help")
    assert help_run.returncode == 0, help_run.stderr
    for option in ("--output-dir", "--size", "--seed", "--precision"):
        assert option in help_run.stdout
    assert run_script("make_test_model.py", "--version").stdout.strip() == __version__
    result = run_script(
        "make_test_model.py", "dnabert_s", "--output-dir", tmp_path / "d", "--seed", "1"
    )
    assert result.returncode == 0, result.stderr
    reference = write_random_checkpoint("dnabert_s", tmp_path / "r", "tiny", seed=1)
    for file in reference.iterdir():
        assert (tmp_path / "d" / file.name).read_bytes() == file.read_bytes(), file.name
    refused = run_script("make_test_model.py", "esm1b", "--output-dir", tmp_path / "x")
    assert refused.returncode == 1 and "no random checkpoint for 'esm1b'" in refused.stderr
    assert not (tmp_path / "x").exists()


def test_checkpoint_sizes_match_the_parameter_counts(tmp_path):
    # Stored bytes of a tiny 3B-layout checkpoint: every weight once, plus buffers.
    folder = write_random_checkpoint("esm2_3b", tmp_path / "3b", "tiny")
    index = json.loads((folder / "pytorch_model.bin.index.json").read_text())
    weights = checkpoint_parameters("esm2_3b", "tiny") * 4
    buffers = 1026 * 8 + 2 * (32 // 4 // 2) * 4  # position_ids and one inv_freq per layer
    tied = 33 * 32 * 4
    assert index["metadata"]["total_size"] == weights + buffers + tied
