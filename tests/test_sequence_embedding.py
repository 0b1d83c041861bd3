"""Batching, pooling, precision and out-of-memory handling of the embedding loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from virnucpro.embed.embedders.composition import amino_acid_composition, nucleotide_composition
from virnucpro.embed.sequence_embedding import (
    embed_batch,
    embed_sequences,
    mean_pool,
    resolve_device,
    token_batches,
    torch_dtype,
)
from virnucpro.errors import InputError, OutOfMemory


class TableEncoder:
    """A fake model: token t at any position has the hidden state [t, 2t, position-free]."""

    dimension = 2
    pad_token_id = 0

    def __init__(
        self, pool_excludes_ends: bool, fits: int | None = None, max_pooled: int | None = None
    ) -> None:
        self.pool_excludes_ends = pool_excludes_ends
        self.max_pooled = max_pooled
        self.fits = fits  # largest batch that "fits in memory"
        self.batches: list[int] = []

    def tokenize(self, sequence: str) -> list[int]:
        return [1, *(ord(char) for char in sequence), 2]

    def hidden_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.fits is not None and len(input_ids) > self.fits:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        self.batches.append(len(input_ids))
        values = input_ids.to(torch.float32)
        return torch.stack([values, 2 * values], dim=-1).to(torch.bfloat16)


def test_token_batches_respect_the_budget_longest_first():
    lengths = [5, 9, 3, 9, 4, 20]
    batches = token_batches(lengths, 18)
    assert batches == [[5], [1, 3], [0, 4, 2]]
    for batch in batches[1:]:
        assert len(batch) * max(lengths[i] for i in batch) <= 18
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))


def test_token_budget_must_be_positive():
    with pytest.raises(InputError, match="token budget must be at least 1"):
        token_batches([3], 0)


def test_mean_pool_excludes_bos_eos_and_padding():
    # Two sequences: tokens [BOS 10 20 EOS] and [BOS 30 EOS PAD PAD].
    hidden = torch.tensor(
        [[[1.0], [10.0], [20.0], [2.0], [99.0]], [[1.0], [30.0], [2.0], [99.0], [99.0]]]
    )
    mask = torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 0, 0]])
    assert mean_pool(hidden, mask, exclude_ends=True).tolist() == [[15.0], [30.0]]
    # DNABERT-S style: every real token, [CLS] and [SEP] included, padding excluded.
    assert mean_pool(hidden, mask, exclude_ends=False).tolist() == [[33.0 / 4], [33.0 / 3]]


def test_mean_pool_stops_after_max_pooled_tokens():
    # Tokens [BOS 10 20 30 EOS] and [BOS 40 EOS PAD PAD]: at most two tokens after BOS.
    hidden = torch.tensor(
        [[[1.0], [10.0], [20.0], [30.0], [2.0]], [[1.0], [40.0], [2.0], [99.0], [99.0]]]
    )
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    assert mean_pool(hidden, mask, True, max_pooled=2).tolist() == [[15.0], [40.0]]
    assert mean_pool(hidden, mask, True).tolist() == [[20.0], [40.0]]
    # The encoder's limit is applied in the embedding loop too.
    encoder = TableEncoder(pool_excludes_ends=True, max_pooled=2)
    vector = embed_sequences(encoder, ["ACW"], torch.device("cpu"))[0]
    assert vector.tolist() == [(ord("A") + ord("C")) / 2, ord("A") + ord("C")]


def test_mean_pool_is_float32_from_bf16_states():
    hidden = torch.full((1, 3, 2), 257.0, dtype=torch.bfloat16)
    pooled = mean_pool(hidden, torch.ones(1, 3, dtype=torch.long), exclude_ends=False)
    assert pooled.dtype == torch.float32 and pooled.tolist() == [
        [256.0, 256.0]
    ]  # bf16 holds 256, not 257


def test_empty_sequence_cannot_be_pooled():
    with pytest.raises(InputError, match="no token to pool"):
        mean_pool(torch.zeros(1, 2, 1), torch.ones(1, 2, dtype=torch.long), exclude_ends=True)


def test_vectors_do_not_depend_on_batching_and_keep_input_order():
    sequences = ["MK", "A", "WWWWWW", "C", "MKLV"]
    encoder = TableEncoder(pool_excludes_ends=True)
    batched = embed_sequences(encoder, sequences, torch.device("cpu"), token_budget=16)
    alone = np.vstack(
        [embed_sequences(encoder, [s], torch.device("cpu"), token_budget=1) for s in sequences]
    )
    assert np.array_equal(batched, alone)
    assert batched[0].tolist() == [(ord("M") + ord("K")) / 2, ord("M") + ord("K")]
    assert max(encoder.batches) > 1


def test_out_of_memory_splits_the_batch_and_a_single_sequence_raises():
    encoder = TableEncoder(pool_excludes_ends=False, fits=2)
    tokens = [encoder.tokenize(s) for s in ["AAA", "CCC", "GGG", "TTT", "MMM"]]
    vectors = embed_batch(encoder, tokens, torch.device("cpu"))
    # 5 -> 2 + 3 (too many) -> 2 + 1 + 2.
    assert vectors.shape == (5, 2) and encoder.batches == [2, 1, 2]
    reference = embed_batch(TableEncoder(pool_excludes_ends=False), tokens, torch.device("cpu"))
    assert np.array_equal(vectors, reference)
    with pytest.raises(OutOfMemory, match="one sequence of 5 tokens does not fit"):
        embed_batch(TableEncoder(pool_excludes_ends=False, fits=0), tokens[:1], torch.device("cpu"))


def test_precision_and_device_choices():
    assert torch_dtype("bf16") is torch.bfloat16
    with pytest.raises(InputError, match="precision must be one of fp32, bf16, fp16, got 'int8'"):
        torch_dtype("int8")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(InputError, match="device must be one of"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        assert resolve_device("auto") == torch.device("cpu")
        with pytest.raises(InputError, match=r"^GPU not visible: .* no GPU is visible to PyTorch"):
            resolve_device("cuda")


def test_composition_baselines_by_hand():
    protein = amino_acid_composition()
    assert protein.dimension == 420
    row = protein.embed(["MKK"])[0]
    # K is the 9th amino acid (index 8), M the 11th (index 10): 2/3 K, 1/3 M.
    assert row[8] == pytest.approx(2 / 3) and row[10] == pytest.approx(1 / 3)
    # Dipeptides MK (10*20+8) and KK (8*20+8) are half each.
    assert row[20 + 208] == row[20 + 168] == 0.5 and row[20:].sum() == pytest.approx(1)
    dna = nucleotide_composition()
    assert dna.dimension == 4 + 16 + 64 + 256
    row = dna.embed(["ACGTN"])[0]
    assert row[:4].tolist() == [0.25] * 4  # N is not counted
    assert row[4 + 16 + 64 :].sum() == pytest.approx(1)  # ACGT is the only 4-mer
