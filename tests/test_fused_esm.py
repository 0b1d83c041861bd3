"""Fused ESM layers: transformers' arithmetic in fewer kernels, on real protein frames."""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import ASSETS
from torch.utils._python_dispatch import TorchDispatchMode
from transformers import EsmConfig
from transformers.models.esm import modeling_esm

from virnucpro.embed.embedders.esm import EsmEncoder, Float32RotaryEmbedding, Kernels, load_esm
from virnucpro.embed.embedders.fused_esm import FusedEsmEncoder, pair_order, rotate_pairs, rotation
from virnucpro.embed.embedders.registry import Modality, get_embedder
from virnucpro.embed.model_cache import model_directory
from virnucpro.embed.sequence_embedding import embed_sequences
from virnucpro.embed.verification import compare_vectors, first_frames
from virnucpro.errors import InputError
from virnucpro.testing.esm_checkpoints import EsmSizes, write_tiny_esm

CPU = torch.device("cpu")
AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"


def _folder(name: str) -> Path:
    return model_directory(get_embedder(name))


def _frames() -> list[str]:
    """Every stop-free frame of the bundled example (393 proteins from 300 bp chunks)."""
    return first_frames(ASSETS / "mixed_example.fasta", 300, 393, Modality.protein)


def _batch(encoder: EsmEncoder, proteins: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded token ids and mask."""
    tokens = [encoder.tokenize(protein) for protein in proteins]
    ids = torch.full((len(tokens), max(map(len, tokens))), encoder.pad_token_id)
    mask = torch.zeros_like(ids)
    for row, token_ids in enumerate(tokens):
        ids[row, : len(token_ids)] = torch.tensor(token_ids)
        mask[row, : len(token_ids)] = 1
    return ids, mask


def _protein(length: int, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(AMINO_ACIDS) for _ in range(length))


# --------------------------------------------------------------------------- parity


@pytest.mark.parametrize("name", ["tiny_esm2", "tiny_fastesm2"])
def test_fp32_pooled_vectors_match_transformers_layers_on_real_frames(name):
    eager = load_esm(_folder(name), CPU, torch.float32, kernels="eager")
    fused = load_esm(_folder(name), CPU, torch.float32, kernels="fused")
    assert isinstance(fused.model.encoder, FusedEsmEncoder) and fused.kernels == "fused"
    assert isinstance(eager.model.encoder, modeling_esm.EsmEncoder)
    # Stacked, not copied: the separate query, key and value weights are gone.
    assert sum(p.numel() for p in fused.model.parameters()) == sum(
        p.numel() for p in eager.model.parameters()
    )
    frames = _frames()
    max_abs, min_cosine = compare_vectors(
        embed_sequences(eager, frames, CPU), embed_sequences(fused, frames, CPU)
    )
    assert max_abs <= 1e-5 and min_cosine >= 1 - 1e-9, (max_abs, min_cosine)


def test_fp32_hidden_states_match_with_padding_and_long_proteins():
    # Positions past 1024 (rotary angles of ~1100 radians) and rows padded by ~1000.
    eager = load_esm(_folder("tiny_esm2"), CPU, torch.float32, kernels="eager")
    fused = load_esm(_folder("tiny_esm2"), CPU, torch.float32, kernels="fused")
    ids, mask = _batch(eager, [_protein(1100, 1), _protein(60, 2), "MKV"])
    reference = eager.hidden_states(ids, mask)
    states = fused.hidden_states(ids, mask)
    real = mask.bool()
    assert (states - reference)[real].abs().max() <= 1e-5


def test_real_proteins_of_up_to_3423_residues_agree(shared_data):
    # Polyproteins of zika (3423 residues) and polio (2209), human metapneumovirus's 9.
    from Bio import SeqIO

    proteins = [
        feature.qualifiers["translation"][0]
        for name in (
            "zika_virus_KX369547",
            "poliovirus_NC_002058",
            "human_metapneumovirus_A_NC_039199",
        )
        for record in SeqIO.parse(shared_data / "viral" / f"{name}.gbk", "genbank")
        for feature in record.features
        if feature.type == "CDS" and "translation" in feature.qualifiers
    ]
    assert len(proteins) == 11 and max(map(len, proteins)) == 3423
    folder = _folder("tiny_esm2")
    reference = embed_sequences(
        load_esm(folder, CPU, torch.float32, kernels="eager"), proteins, CPU
    )
    fused = embed_sequences(load_esm(folder, CPU, torch.float32, kernels="fused"), proteins, CPU)
    bf16 = embed_sequences(load_esm(folder, CPU, torch.bfloat16, kernels="fused"), proteins, CPU)
    assert compare_vectors(reference, fused)[0] <= 1e-5
    assert compare_vectors(reference, bf16)[1] >= 0.999


def test_fp32_absolute_position_models_match_too(tmp_path):
    # ESM-1-style learned positions: no rotary, the query scaling alone.
    folder = tmp_path / "absolute"
    folder.mkdir()
    for file in _folder("tiny_esm2").iterdir():
        (folder / file.name).write_bytes(file.read_bytes())
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(
        json.dumps(config | {"position_embedding_type": "absolute"})
    )
    eager = load_esm(folder, CPU, torch.float32, kernels="eager")
    fused = load_esm(folder, CPU, torch.float32, kernels="fused")
    assert fused.model.rotary_embeddings is None
    ids, mask = _batch(eager, [_protein(300, 3), "MKVLAAG"])
    difference = fused.hidden_states(ids, mask) - eager.hidden_states(ids, mask)
    assert difference[mask.bool()].abs().max() <= 1e-5


def test_bf16_fused_vectors_agree_with_fp32_on_every_real_frame():
    frames = _frames()
    folder = _folder("tiny_esm2")
    fp32 = embed_sequences(load_esm(folder, CPU, torch.float32, kernels="eager"), frames, CPU)
    eager = embed_sequences(load_esm(folder, CPU, torch.bfloat16, kernels="eager"), frames, CPU)
    fused = embed_sequences(load_esm(folder, CPU, torch.bfloat16, kernels="fused"), frames, CPU)
    _, fused_cosine = compare_vectors(fp32, fused)
    _, eager_cosine = compare_vectors(fp32, eager)
    assert fused_cosine >= 0.999, fused_cosine
    # Fewer roundings to bf16 (GELU, the query scaling): no further from fp32 than eager.
    assert 1 - fused_cosine <= 1.5 * (1 - eager_cosine), (fused_cosine, eager_cosine)


# --------------------------------------------------------------------------- the pieces


def _rotary_inputs(dtype: torch.dtype, length: int = 1100):
    """q and k of 4 heads of 16, stacked as the fused layer holds them, and float32 cos/sin."""
    generator = torch.Generator().manual_seed(0)
    query_key = torch.randn(2, length, 2, 4, 16, generator=generator).to(dtype)
    config = EsmConfig(vocab_size=33, hidden_size=64, num_attention_heads=4)
    cos, sin = Float32RotaryEmbedding(config)(query_key, torch.arange(length).unsqueeze(0))
    return query_key, cos, sin


def _library_rotation(query_key, cos, sin) -> torch.Tensor:
    query, key = query_key.transpose(1, 3).unbind(2)  # (batch, heads, length, d)
    rotated = modeling_esm.apply_rotary_pos_emb(query, key, cos, sin, unsqueeze_dim=1)
    return torch.stack(rotated, dim=2).transpose(1, 3)


def _fused_rotation(query_key, cos, sin) -> torch.Tensor:
    """``rotate_pairs`` on q and k put in ``pair_order``, the result put back."""
    order = pair_order(query_key.shape[-1])
    return rotate_pairs(query_key[..., order], rotation(cos, sin))[..., order.argsort()]


def test_rotate_pairs_is_apply_rotary_pos_emb_in_float32():
    query_key, cos, sin = _rotary_inputs(torch.float32)
    ours = _fused_rotation(query_key, cos, sin)
    assert ours.dtype == torch.float32
    assert (ours - _library_rotation(query_key, cos, sin)).abs().max() <= 1e-6


def test_rotate_pairs_rotates_bf16_query_and_key_in_float32():
    # Both compute in float32 and round once: at most the odd last-place tie differs.
    query_key, cos, sin = _rotary_inputs(torch.bfloat16)
    library = _library_rotation(query_key, cos, sin)
    ours = _fused_rotation(query_key, cos, sin)
    assert ours.dtype == torch.bfloat16
    differs = ours != library
    assert differs.float().mean() <= 0.01
    ulp = torch.ldexp(torch.ones_like(library.float()), torch.frexp(library.float())[1] - 8)
    assert ((ours.float() - library.float()).abs() <= ulp).all()
    # Sharp: cos/sin rounded to bf16 (transformers' own module) move far more values.
    rounded = _fused_rotation(query_key, cos.bfloat16(), sin.bfloat16())
    assert (rounded != library).float().mean() > 10 * differs.float().mean() + 0.05


def _exact_gelu(x: torch.Tensor) -> torch.Tensor:
    x = x.double()
    return x * 0.5 * (1 + torch.erf(x / math.sqrt(2)))


def test_torch_gelu_is_esm_gelu_and_rounds_once_in_bf16():
    x = torch.linspace(-12, 12, 100_001)
    assert (F.gelu(x) - modeling_esm.gelu(x)).abs().max() <= 2e-6
    # transformers warns that F.gelu is "subtly wrong"; in bf16 it is the closer of the two.
    x = x.bfloat16()
    exact = _exact_gelu(x)
    fused_error = (F.gelu(x).double() - exact).abs().mean()
    five_kernel_error = (modeling_esm.gelu(x).double() - exact).abs().mean()
    assert fused_error < five_kernel_error


class _KernelCount(TorchDispatchMode):
    """Operators that run a kernel (not views), counted as they are dispatched."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if not func.is_view and func.__name__ not in ("empty.memory_format", "empty_strided"):
            self.ops[func.__name__.split(".")[0]] += 1
        return func(*args, **(kwargs or {}))


@pytest.fixture(scope="module")
def one_and_three_layers(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("layers")
    for layers in (1, 3):
        write_tiny_esm(root / str(layers), "esm", 0, EsmSizes(num_layers=layers))
    return root / "1", root / "3"


def _layer_kernels(folders: tuple[Path, Path], kernels: Kernels, dtype) -> Counter[str]:
    """Kernels of one layer: forward passes of 3 layers minus 1 layer, halved."""
    counts = []
    for folder in folders:
        encoder = load_esm(folder, CPU, dtype, kernels=kernels)
        ids, mask = _batch(encoder, [_protein(40, 4), _protein(30, 5)])
        # Not under inference_mode, where the mode sees composite operators undecomposed.
        with torch.no_grad(), _KernelCount() as counter:
            encoder.model(input_ids=ids, attention_mask=mask)
        counts.append(counter.ops)
    return Counter({op: (counts[1][op] - counts[0][op]) // 2 for op in counts[1]}) + Counter()


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_a_fused_layer_runs_fewer_than_half_the_kernels_of_transformers_layer(
    one_and_three_layers, dtype
):
    # torch 2.13 on the CPU: 36 (bf16) or 30 (fp32) kernels against 13; on a GPU the
    # same operators launch one kernel each.
    eager = _layer_kernels(one_and_three_layers, "eager", dtype)
    fused = _layer_kernels(one_and_three_layers, "fused", dtype)
    # The six matrix products become four (one of them the query-key-value product).
    assert fused["addmm"] == 4 and eager["addmm"] == 6
    assert 2 * sum(fused.values()) < sum(eager.values()), (fused, eager)
    assert sum(fused.values()) <= 13, fused


# --------------------------------------------------------------------------- settings


def test_kernels_come_from_the_argument_then_the_environment(monkeypatch):
    folder = _folder("tiny_esm2")
    monkeypatch.setenv("VIRNUCPRO_ESM_KERNELS", "eager")
    assert load_esm(folder, CPU, torch.float32).kernels == "eager"
    assert load_esm(folder, CPU, torch.float32, kernels="fused").kernels == "fused"
    monkeypatch.setenv("VIRNUCPRO_ESM_KERNELS", "triton")
    with pytest.raises(InputError, match="VIRNUCPRO_ESM_KERNELS 'triton': expected one of eager"):
        load_esm(folder, CPU, torch.float32)
    monkeypatch.delenv("VIRNUCPRO_ESM_KERNELS")
    assert load_esm(folder, CPU, torch.float32).kernels == "fused"


@pytest.mark.slow
def test_compiled_layers_match_and_compile_a_few_graphs_not_one_per_batch():
    torch._dynamo.reset()
    from torch._dynamo.utils import counters

    eager = load_esm(_folder("tiny_esm2"), CPU, torch.float32, kernels="eager")
    compiled = load_esm(_folder("tiny_esm2"), CPU, torch.float32, kernels="compiled")
    counters.clear()
    # Padded batches of two sizes, one protein alone, a batch without padding: each kind.
    warm_up = [[50, 40, 30], [70, 66], [44], [30, 30]]
    later = [[90, 80, 20, 7], [12], [64, 64, 64], [120, 33], [25, 24, 23, 22, 21]]
    for lengths in warm_up:
        ids, mask = _batch(eager, [_protein(n, n) for n in lengths])
        difference = compiled.hidden_states(ids, mask) - eager.hidden_states(ids, mask)
        assert difference[mask.bool()].abs().max() <= 1e-5
    graphs = counters["stats"]["unique_graphs"]
    assert graphs <= 4
    for lengths in later:
        compiled.hidden_states(*_batch(eager, [_protein(n, n) for n in lengths]))
    assert counters["stats"]["unique_graphs"] == graphs
    assert np.isfinite(embed_sequences(compiled, _frames()[:50], CPU)).all()
