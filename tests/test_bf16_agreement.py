"""bf16 that matches fp32: pooled vectors on real frames, and the rotary rotation itself."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from conftest import ASSETS
from transformers.models.esm import modeling_esm

from virnucpro.embed.embedders.esm import EsmEncoder, Float32RotaryEmbedding
from virnucpro.embed.embedders.loader import load_encoder
from virnucpro.embed.embedders.registry import get_embedder
from virnucpro.embed.model_cache import model_directory
from virnucpro.embed.sequence_embedding import embed_sequences
from virnucpro.embed.verification import compare_vectors, first_frames

CPU = torch.device("cpu")
EXAMPLE = ASSETS / "mixed_example.fasta"


def _encoder(name: str, dtype: torch.dtype):
    spec = get_embedder(name)
    return load_encoder(spec, model_directory(spec), CPU, dtype)


@pytest.mark.parametrize("name", ["tiny_esm2", "tiny_fastesm2", "tiny_dnabert_s"])
def test_bf16_pooled_vectors_agree_with_fp32_on_every_real_frame(name):
    # Every stop-free frame of the bundled example (393 in chunks of 300): nucleotide
    # slices for DNABERT-S, their proteins for the ESM models, as the pipeline makes them.
    frames = first_frames(EXAMPLE, 300, 10_000, get_embedder(name).modality)
    assert len(frames) > 300
    fp32 = embed_sequences(_encoder(name, torch.float32), frames, CPU)
    bf16 = embed_sequences(_encoder(name, torch.bfloat16), frames, CPU)
    _, min_cosine = compare_vectors(fp32, bf16)
    assert min_cosine >= 0.999, min_cosine


def _rotated_query_key(encoder: EsmEncoder, protein: str, monkeypatch):
    """Layer 0's query and key before and after the rotary rotation, as the model runs them."""
    attention = encoder.model.encoder.layer[0].attention.self
    seen: dict[str, torch.Tensor] = {}
    sdpa = modeling_esm.ALL_ATTENTION_FUNCTIONS["sdpa"]

    def capture(module, query, key, value, *args, **kwargs):
        if module is attention:
            seen["query"], seen["key"] = query, key
        return sdpa(module, query, key, value, *args, **kwargs)

    def projections(name):
        def hook(module, inputs, output):
            seen[f"{name}_linear"] = output

        return hook

    monkeypatch.setitem(modeling_esm.ALL_ATTENTION_FUNCTIONS, "sdpa", capture)
    handles = [
        attention.query.register_forward_hook(projections("query")),
        attention.key.register_forward_hook(projections("key")),
    ]
    try:
        tokens = torch.tensor([encoder.tokenize(protein)])
        encoder.hidden_states(tokens, torch.ones_like(tokens))
    finally:
        for handle in handles:
            handle.remove()
    head = attention.attention_head_size
    shape = (1, tokens.shape[1], -1, head)
    # The same operations as EsmSelfAttention before the rotation (query scaled first).
    query = seen["query_linear"].view(shape).transpose(1, 2) * head**-0.5
    key = seen["key_linear"].view(shape).transpose(1, 2)
    return (query, seen["query"]), (key, seen["key"])


def _worst_excess(before: torch.Tensor, after: torch.Tensor, inv_freq: torch.Tensor) -> float:
    """Largest error of ``after`` beyond its own bf16 rounding, relative to each pair's size.

    The float64 reference rotates the same bf16 inputs exactly; rounding the exact result
    to bf16 costs up to half a unit in the last place, which is subtracted. What is left
    is the rotation's own error: float32 angles give ~position x 2^-24 (< 1e-4 here),
    cos/sin rounded to bf16 give up to 2^-9 (~2e-3).
    """
    x = before.double()
    half = x.shape[-1] // 2
    positions = torch.arange(x.shape[-2], dtype=torch.float64)
    angles = positions[:, None] * inv_freq.double()
    angles = torch.cat([angles, angles], dim=-1)
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    exact = x * angles.cos() + rotated * angles.sin()
    _, exponent = torch.frexp(exact)
    half_ulp = torch.ldexp(torch.ones_like(exact), exponent - 9)  # bf16: 8 significant bits
    pair = torch.sqrt(x[..., :half] ** 2 + x[..., half:] ** 2).clamp_min(1e-6)
    pair = torch.cat([pair, pair], dim=-1)
    excess = ((after.double() - exact).abs() - half_ulp) / pair
    return excess[..., 513:, :].max().item()  # positions past 512 only


def test_bf16_rotary_rotates_query_and_key_in_float32(monkeypatch):
    # transformers' own layers, whose query/key modules and attention function are hooked
    # (tests/test_fused_esm.py checks the fused layers' rotation against them).
    monkeypatch.setenv("VIRNUCPRO_ESM_KERNELS", "eager")
    encoder = _encoder("tiny_esm2", torch.bfloat16)
    assert isinstance(encoder.model.rotary_embeddings, Float32RotaryEmbedding)
    inv_freq = encoder.model.rotary_embeddings.inv_freq
    protein = "".join(random.Random(7).choice("ACDEFGHIKLMNPQRSTVWY") for _ in range(1100))
    tolerance = 3e-4
    for before, after in _rotated_query_key(encoder, protein, monkeypatch):
        assert after.dtype == torch.bfloat16
        assert _worst_excess(before, after, inv_freq) <= tolerance
    # The check is sharp: transformers' own module, which rounds cos/sin to bf16, fails it.
    stock = modeling_esm.EsmRotaryEmbedding(encoder.model.config)
    stock.inv_freq = inv_freq.clone()
    encoder.model.rotary_embeddings = stock
    for before, after in _rotated_query_key(encoder, protein, monkeypatch):
        assert _worst_excess(before, after, inv_freq) > 3 * tolerance


def test_fp32_rotary_is_the_library_one_bit_for_bit():
    encoder = _encoder("tiny_esm2", torch.float32)
    ours = encoder.model.rotary_embeddings
    stock = modeling_esm.EsmRotaryEmbedding(encoder.model.config)
    stock.inv_freq = ours.inv_freq.clone()
    positions = torch.arange(3000).unsqueeze(0)
    probe = torch.zeros(1, dtype=torch.float32)
    for mine, theirs in zip(ours(probe, positions), stock(probe, positions), strict=True):
        assert mine.dtype == theirs.dtype == torch.float32
        assert torch.equal(mine, theirs)
    assert np.isfinite(embed_sequences(encoder, ["MKV"], CPU)).all()
