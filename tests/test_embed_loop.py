"""The embedding loop keeps the device fed: batch tokenising on a background thread, the
first batch before the whole input is tokenised, pooling that matches the eager
float32 mean without a float32 copy of the states, and the attention backend it is given."""

from __future__ import annotations

import threading
from collections import Counter

import numpy as np
import pytest
import torch
from conftest import ASSETS, ROOT

from virnucpro.embed import sequence_embedding
from virnucpro.embed.embed_files import SequenceEmbedder
from virnucpro.embed.embedders.loader import load_encoder
from virnucpro.embed.embedders.registry import Modality, get_embedder
from virnucpro.embed.sequence_embedding import (
    embed_sequences,
    pool_weights,
    tokenize_all,
    weighted_mean,
)
from virnucpro.embed.verification import compare_vectors, first_frames
from virnucpro.errors import InputError

CPU = torch.device("cpu")
MODELS = ROOT / "assets" / "models"
EXAMPLE = ASSETS / "mixed_example.fasta"


def _encoder(name: str, dtype: torch.dtype = torch.float32):
    return load_encoder(get_embedder(name), MODELS / name, CPU, dtype)


def _eager_pool(
    hidden: torch.Tensor, mask: torch.Tensor, exclude_ends: bool, max_pooled: int | None
) -> torch.Tensor:
    """The pooling the loop used before: a float32 weighted copy of the states, summed."""
    weights = mask.to(torch.float32)
    if exclude_ends:
        weights[:, 0] = 0
        weights[torch.arange(len(weights)), mask.sum(dim=1) - 1] = 0
    if max_pooled is not None:
        weights[:, 1 + max_pooled :] = 0
    summed = (hidden.to(torch.float32) * weights.unsqueeze(-1)).sum(dim=1)
    return summed / weights.sum(dim=1, keepdim=True)


def test_batch_tokenising_gives_the_ids_of_one_encode_per_real_frame():
    encoder = _encoder("tiny_dnabert_s")
    frames = first_frames(EXAMPLE, 500, 400, Modality.dna)
    frames += ["", "N", "ACGTNNRYKM", "A" * 1200]
    one_by_one = [encoder.tokenize(frame) for frame in frames]
    assert encoder.tokenize_batch(frames) == one_by_one
    assert tokenize_all(encoder, frames) == one_by_one


@pytest.mark.parametrize("exclude_ends", [True, False])
@pytest.mark.parametrize("max_pooled", [None, 3])
def test_weighted_pooling_matches_the_eager_mean(exclude_ends, max_pooled):
    lengths = torch.tensor([9, 3, 6, 12, 5])
    mask = (torch.arange(12) < lengths[:, None]).to(torch.long)
    hidden = torch.randn(5, 12, 16, generator=torch.Generator().manual_seed(0))
    weights = pool_weights(lengths, 12, exclude_ends, max_pooled)
    pooled = weighted_mean(hidden, weights)
    eager = _eager_pool(hidden, mask, exclude_ends, max_pooled)
    assert (pooled - eager).abs().max() <= 1e-5
    half = weighted_mean(hidden.to(torch.bfloat16), weights)
    assert half.dtype == torch.float32
    assert compare_vectors(eager.numpy(), half.numpy())[1] >= 0.999


@pytest.mark.parametrize("name", ["tiny_esm2", "tiny_dnabert_s"])
@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float32, 1e-5), (torch.bfloat16, None)])
def test_pooled_vectors_of_the_loop_match_the_eager_path_on_real_frames(name, dtype, tolerance):
    encoder = _encoder(name, dtype)
    frames = first_frames(EXAMPLE, 300, 48, get_embedder(name).modality)
    tokens = [encoder.tokenize(frame) for frame in frames]
    lengths = torch.tensor([len(ids) for ids in tokens])
    mask = (torch.arange(int(lengths.max())) < lengths[:, None]).to(torch.long)
    input_ids = torch.full(mask.shape, encoder.pad_token_id, dtype=torch.long)
    input_ids[mask.bool()] = torch.tensor([i for ids in tokens for i in ids])
    hidden = encoder.hidden_states(input_ids, mask)
    eager = _eager_pool(hidden, mask, encoder.pool_excludes_ends, encoder.max_pooled).numpy()
    loop = embed_sequences(encoder, frames, CPU, token_budget=4096)
    max_abs, min_cosine = compare_vectors(eager, loop)
    if tolerance is None:
        assert min_cosine >= 0.999, min_cosine
    else:
        assert max_abs <= tolerance, max_abs


class CountingEncoder:
    """A fake model whose batch tokenizer records how much it was asked for, and where."""

    dimension = 1
    pad_token_id = 0
    pool_excludes_ends = False
    max_pooled = None

    def __init__(self, fail_on_block: int | None = None) -> None:
        self.tokenised = 0
        self.threads: set[str] = set()
        self.at_first_forward: int | None = None
        self.fail_on_block = fail_on_block
        self.blocks = 0

    def tokenize(self, sequence: str) -> list[int]:
        return [ord(char) for char in sequence]

    def tokenize_batch(self, sequences: list[str]) -> list[list[int]]:
        self.blocks += 1
        if self.blocks == self.fail_on_block:
            raise ValueError("tokenizer broke")
        self.threads.add(threading.current_thread().name)
        self.tokenised += len(sequences)
        return [self.tokenize(sequence) for sequence in sequences]

    def hidden_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.at_first_forward is None:
            self.at_first_forward = self.tokenised
        return input_ids.to(torch.float32).unsqueeze(-1)


def _sequences(count: int) -> list[str]:
    return ["ACGT"[index % 4] * (1 + index % 7) for index in range(count)]


def test_the_first_batch_runs_before_the_input_is_tokenised_off_the_main_thread(monkeypatch):
    monkeypatch.setattr(sequence_embedding, "TOKENIZE_BLOCK", 50)
    encoder = CountingEncoder()
    sequences = _sequences(200)
    vectors = embed_sequences(encoder, sequences, CPU, token_budget=16)
    assert encoder.at_first_forward == 50 and encoder.tokenised == 200 and encoder.blocks == 4
    assert threading.main_thread().name not in encoder.threads
    expected = [[sum(map(ord, sequence)) / len(sequence)] for sequence in sequences]
    assert vectors.tolist() == expected


def _producers() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "embed-batches"]


def test_an_error_while_tokenising_is_raised_and_the_thread_ends(monkeypatch):
    monkeypatch.setattr(sequence_embedding, "TOKENIZE_BLOCK", 50)
    with pytest.raises(ValueError, match="tokenizer broke"):
        embed_sequences(CountingEncoder(fail_on_block=2), _sequences(200), CPU, token_budget=16)
    assert not _producers()


def test_an_error_in_the_forward_pass_stops_the_tokenising_thread(monkeypatch):
    monkeypatch.setattr(sequence_embedding, "TOKENIZE_BLOCK", 50)
    encoder = CountingEncoder()

    def broken(input_ids, attention_mask):
        raise RuntimeError("model broke")

    monkeypatch.setattr(encoder, "hidden_states", broken)
    with pytest.raises(RuntimeError, match="model broke"):
        embed_sequences(encoder, _sequences(200), CPU, token_budget=16)
    assert not _producers() and encoder.tokenised < 200


def _attention_ops(embedder: SequenceEmbedder, sequences: list[str]) -> set[str]:
    with torch.profiler.profile() as profile:
        embedder.embed(sequences)
    return {event.key for event in profile.key_averages() if "scaled_dot_product" in event.key}


@pytest.mark.parametrize("name", ["tiny_esm2", "tiny_dnabert_s"])
def test_the_chosen_attention_backend_is_the_one_that_runs(name):
    spec = get_embedder(name)
    sequences = first_frames(EXAMPLE, 300, 6, spec.modality)
    kernels = {
        "math": "aten::_scaled_dot_product_attention_math",
        "flash_attention": "aten::_scaled_dot_product_flash_attention_for_cpu",
    }
    vectors = {}
    for attention, kernel in kernels.items():
        embedder = SequenceEmbedder(spec, "fp32", "cpu", 4096, MODELS / name, attention=attention)
        assert _attention_ops(embedder, sequences) == {
            "aten::scaled_dot_product_attention",
            kernel,
        }
        vectors[attention] = embedder.embed(sequences)
    assert np.abs(vectors["math"] - vectors["flash_attention"]).max() <= 1e-5
    with pytest.raises(InputError, match="attention backend 'efficient_attention' cannot run"):
        SequenceEmbedder(spec, "fp32", "cpu", 4096, MODELS / name, attention="efficient_attention")
    with pytest.raises(InputError, match="attention must be one of auto, flash_attention"):
        SequenceEmbedder(spec, "fp32", "cpu", 4096, MODELS / name, attention="fast")


@pytest.mark.parametrize("name", ["tiny_esm2", "tiny_fastesm2", "tiny_dnabert_s"])
def test_a_batch_without_padding_runs_without_a_mask_and_gives_the_same_states(name):
    """No mask for an unpadded batch: transformers then reads no mask value back to the host."""
    encoder = _encoder(name)
    frames = first_frames(EXAMPLE, 300, 200, get_embedder(name).modality)
    tokens = [encoder.tokenize(frame) for frame in frames]
    width = Counter(map(len, tokens)).most_common(1)[0][0]  # frames of one token count
    same = torch.tensor([ids for ids in tokens if len(ids) == width][:4])
    assert len(same) >= 2
    assert torch.equal(
        encoder.hidden_states(same, None), encoder.hidden_states(same, torch.ones_like(same))
    )


def test_the_loop_passes_the_mask_only_for_padded_batches(monkeypatch):
    encoder = _encoder("tiny_esm2")
    masks = []
    forward = type(encoder).hidden_states
    monkeypatch.setattr(
        type(encoder),
        "hidden_states",
        lambda self, ids, mask: masks.append(mask is None) or forward(self, ids, mask),
    )
    # Two of one length (a batch without padding), then two of different lengths
    embed_sequences(encoder, ["MKV", "MKL"], CPU, token_budget=4096)
    embed_sequences(encoder, ["MKVLA", "MK"], CPU, token_budget=4096)
    assert masks == [True, False]
