"""Turning sequences into vectors: batching, pooling, precision and devices.

Sequences are tokenised once, sorted by length and packed into batches whose
padded size stays within a token budget, so that GPU memory use is bounded and
little compute goes to padding. Each batch is mean-pooled in float32 over the
tokens SPEC §4 names (ESM: residues only; DNABERT-S: every token including
[CLS] and [SEP]); padding never enters a pool, so a vector does not depend on
its batch. When a batch does not fit in GPU memory it is split and retried; a
single sequence that does not fit raises :class:`OutOfMemory`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np
import torch
from tqdm import tqdm

from virnucpro.embedders.base import Encoder
from virnucpro.errors import InputError, OutOfMemory

log = logging.getLogger(__name__)

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
DEVICES = ("auto", "cpu", "cuda")
DEFAULT_TOKEN_BUDGET = 16384


def torch_dtype(precision: str) -> torch.dtype:
    try:
        return PRECISIONS[precision]
    except KeyError:
        raise InputError(
            f"precision must be one of {', '.join(PRECISIONS)}, got '{precision}'"
        ) from None


def resolve_device(device: str) -> torch.device:
    """``auto`` picks CUDA when a GPU is visible; asking for CUDA without one is an error."""
    if device not in DEVICES:
        raise InputError(f"device must be one of {', '.join(DEVICES)}, got '{device}'")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError(
            "GPU not visible: device 'cuda' was asked for but no GPU is visible to PyTorch "
            f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')}; torch "
            f"{torch.__version__}, {_cuda_build()}): give the container the GPU (-profile gpu "
            "passes docker --gpus all or apptainer --nv) and check that nvidia-smi sees it"
        )
    return torch.device(device)


def _cuda_build() -> str:
    return f"built for CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"


def check_token_budget(token_budget: int) -> None:
    if token_budget < 1:
        raise InputError(f"token budget must be at least 1, got {token_budget}")


def token_batches(lengths: Sequence[int], token_budget: int) -> list[list[int]]:
    """Indices grouped longest first so that count x longest <= budget in every batch.

    A sequence longer than the budget gets a batch of its own.
    """
    check_token_budget(token_budget)
    batches: list[list[int]] = []
    for index in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        batch = batches[-1] if batches else None
        if batch is None or (len(batch) + 1) * lengths[batch[0]] > token_budget:
            batches.append([index])
        else:
            batch.append(index)
    return batches


def mean_pool(
    hidden: torch.Tensor,
    attention_mask: torch.Tensor,
    exclude_ends: bool,
    max_pooled: int | None = None,
) -> torch.Tensor:
    """Float32 mean of the hidden states over real tokens.

    Without the first and last token if asked, and over at most ``max_pooled``
    tokens after the first (the states of later tokens still saw the whole input).
    """
    weights = attention_mask.to(torch.float32)
    if exclude_ends:
        rows = torch.arange(len(weights), device=weights.device)
        weights[:, 0] = 0
        weights[rows, attention_mask.sum(dim=1) - 1] = 0
    if max_pooled is not None:
        weights[:, 1 + max_pooled :] = 0
    counts = weights.sum(dim=1, keepdim=True)
    if bool((counts == 0).any()):
        raise InputError("a sequence has no token to pool (empty sequence)")
    return (hidden.to(torch.float32) * weights.unsqueeze(-1)).sum(dim=1) / counts


def _pad(token_lists: Sequence[list[int]], pad_id: int, device: torch.device):
    longest = max(len(tokens) for tokens in token_lists)
    input_ids = torch.full((len(token_lists), longest), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(token_lists), longest), dtype=torch.long)
    for row, tokens in enumerate(token_lists):
        input_ids[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
        attention_mask[row, : len(tokens)] = 1
    return input_ids.to(device), attention_mask.to(device)


def embed_batch(
    encoder: Encoder, token_lists: Sequence[list[int]], device: torch.device
) -> np.ndarray:
    """Pooled vectors of one batch; halves the batch and retries on CUDA out-of-memory."""
    try:
        input_ids, attention_mask = _pad(token_lists, encoder.pad_token_id, device)
        hidden = encoder.hidden_states(input_ids, attention_mask)
        # .cpu() waits for the device to finish before the values are read.
        pooled = mean_pool(hidden, attention_mask, encoder.pool_excludes_ends, encoder.max_pooled)
        return pooled.cpu().numpy()
    except torch.cuda.OutOfMemoryError:
        if device.type == "cuda":
            torch.cuda.empty_cache()
        if len(token_lists) == 1:
            raise OutOfMemory(
                f"one sequence of {len(token_lists[0])} tokens does not fit in {device} memory"
            ) from None
        half = len(token_lists) // 2
        log.warning("out of memory on a batch of %d: retrying as two halves", len(token_lists))
        return np.concatenate(
            [
                embed_batch(encoder, token_lists[:half], device),
                embed_batch(encoder, token_lists[half:], device),
            ]
        )


def embed_sequences(
    encoder: Encoder,
    sequences: Sequence[str],
    device: torch.device,
    token_budget: int = DEFAULT_TOKEN_BUDGET,
) -> np.ndarray:
    """One float32 row per sequence, in input order."""
    token_lists = [encoder.tokenize(sequence) for sequence in sequences]
    vectors = np.empty((len(sequences), encoder.dimension), dtype=np.float32)
    with tqdm(total=len(sequences), unit=" seq", disable=None) as bar:
        for batch in token_batches([len(tokens) for tokens in token_lists], token_budget):
            vectors[batch] = embed_batch(encoder, [token_lists[i] for i in batch], device)
            bar.update(len(batch))
    return vectors
