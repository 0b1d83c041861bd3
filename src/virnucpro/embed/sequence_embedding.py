"""Turning sequences into vectors: batching, pooling, precision and devices.

Sequences are tokenised once, sorted by length and packed into batches whose
padded size stays within a token budget, so that GPU memory use is bounded and
little compute goes to padding. Each batch is mean-pooled in float32 over the
tokens the original tool pooled (ESM: residues only; DNABERT-S: every token including
[CLS] and [SEP]); padding never enters a pool, so a vector does not depend on
its batch. When a batch does not fit in GPU memory it is split and retried; a
single sequence that does not fit raises :class:`OutOfMemory`. On a GPU the host
prepares the next batch while the device runs the current one.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from virnucpro.embed.embedders.base import Encoder
from virnucpro.errors import InputError, OutOfMemory

log = logging.getLogger(__name__)

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
DEVICES = ("auto", "cpu", "cuda")
DEFAULT_TOKEN_BUDGET = 16384
EMPTY_POOL = "a sequence has no token to pool (empty sequence)"


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
    check_empty: bool = True,
) -> torch.Tensor:
    """Float32 mean of the hidden states over real tokens.

    Without the first and last token if asked, and over at most ``max_pooled``
    tokens after the first (the states of later tokens still saw the whole input).
    ``check_empty=False`` skips the device read for callers that checked the
    token counts on the host.
    """
    weights = attention_mask.to(torch.float32)
    if exclude_ends:
        rows = torch.arange(len(weights), device=weights.device)
        weights[:, 0] = 0
        weights[rows, attention_mask.sum(dim=1) - 1] = 0
    if max_pooled is not None:
        weights[:, 1 + max_pooled :] = 0
    counts = weights.sum(dim=1, keepdim=True)
    if check_empty and bool((counts == 0).any()):  # reads the device: a sync
        raise InputError(EMPTY_POOL)
    return (hidden.to(torch.float32) * weights.unsqueeze(-1)).sum(dim=1) / counts


@dataclass
class EmbedStats:
    """Where the time of the embedding loop went, added up over batches (and files).

    ``busy_seconds`` is the device's time on the batches: measured with CUDA
    events on a GPU (the kernels of the forward pass and the pooling), with the
    wall clock of the same work on the CPU. The rest of ``wall_seconds`` is host
    work the device waited for: tokenising, padding, copies, Python.
    """

    sequences: int = 0
    batches: int = 0
    tokens: int = 0
    padded_tokens: int = 0
    wall_seconds: float = 0.0
    busy_seconds: float = 0.0

    @property
    def padding_fraction(self) -> float:
        """Share of the batches' token slots that were padding."""
        return 1 - self.tokens / self.padded_tokens if self.padded_tokens else 0.0

    @property
    def idle_fraction(self) -> float:
        """Share of the embedding loop's wall time the device was not computing."""
        return max(0.0, 1 - self.busy_seconds / self.wall_seconds) if self.wall_seconds else 0.0


def _pad(token_lists: Sequence[list[int]], pad_id: int, pin: bool = False):
    """Padded ids and mask on the host (pinned for an asynchronous copy to a GPU)."""
    longest = max(len(tokens) for tokens in token_lists)
    input_ids = torch.full((len(token_lists), longest), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(token_lists), longest), dtype=torch.long)
    for row, tokens in enumerate(token_lists):
        input_ids[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
        attention_mask[row, : len(tokens)] = 1
    if pin:
        return input_ids.pin_memory(), attention_mask.pin_memory()
    return input_ids, attention_mask


def _pooled(
    encoder: Encoder,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    device: torch.device,
    check_empty: bool = True,
) -> torch.Tensor:
    input_ids = input_ids.to(device, non_blocking=True)
    attention_mask = attention_mask.to(device, non_blocking=True)
    hidden = encoder.hidden_states(input_ids, attention_mask)
    return mean_pool(
        hidden, attention_mask, encoder.pool_excludes_ends, encoder.max_pooled, check_empty
    )


def embed_batch(
    encoder: Encoder, token_lists: Sequence[list[int]], device: torch.device
) -> np.ndarray:
    """Pooled vectors of one batch; halves the batch and retries on CUDA out-of-memory."""
    try:
        input_ids, attention_mask = _pad(token_lists, encoder.pad_token_id)
        # .cpu() waits for the device to finish before the values are read.
        return _pooled(encoder, input_ids, attention_mask, device).cpu().numpy()
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


_DONE = object()


def _prepared_batches(token_lists, batches, pad_id: int, pin: bool, ready: queue.Queue) -> None:
    """Producer thread: pad the next batches while the device runs the current one."""
    try:
        for batch in batches:
            ready.put((batch, _pad([token_lists[i] for i in batch], pad_id, pin)))
        ready.put(_DONE)
    except BaseException as error:  # handed to the consumer, which raises it
        ready.put(error)


def embed_sequences(
    encoder: Encoder,
    sequences: Sequence[str],
    device: torch.device,
    token_budget: int = DEFAULT_TOKEN_BUDGET,
    stats: EmbedStats | None = None,
) -> np.ndarray:
    """One float32 row per sequence, in input order.

    Batches are padded by a background thread (into pinned memory on a GPU) while
    the device runs the previous one; inputs go to the device and pooled vectors
    come back with non-blocking copies, so the host waits for the device only once,
    at the end. A batch that runs out of GPU memory is redone synchronously in halves.
    """
    stats = stats if stats is not None else EmbedStats()
    started = time.perf_counter()
    token_lists = [encoder.tokenize(sequence) for sequence in sequences]
    # Checked here, on the host, so that no batch has to read the device for it
    ends = 2 if encoder.pool_excludes_ends else 0
    if any(len(tokens) <= ends for tokens in token_lists):
        raise InputError(EMPTY_POOL)
    batches = token_batches([len(tokens) for tokens in token_lists], token_budget)
    cuda = device.type == "cuda"
    vectors = np.empty((len(sequences), encoder.dimension), dtype=np.float32)
    pending: list[tuple[list[int], torch.Tensor]] = []
    timings = []
    ready: queue.Queue = queue.Queue(maxsize=2)
    producer = threading.Thread(
        target=_prepared_batches,
        args=(token_lists, batches, encoder.pad_token_id, cuda, ready),
        daemon=True,
    )
    producer.start()
    with tqdm(total=len(sequences), unit=" seq", disable=None) as bar:
        while (item := ready.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            batch, (input_ids, attention_mask) = item
            stats.tokens += int(attention_mask.sum())
            stats.padded_tokens += attention_mask.numel()
            timing = _Timing(cuda)
            try:
                pooled = _pooled(encoder, input_ids, attention_mask, device, check_empty=False)
                host = torch.empty(pooled.shape, dtype=torch.float32, pin_memory=cuda)
                host.copy_(pooled, non_blocking=True)
                pending.append((batch, host))
            except torch.cuda.OutOfMemoryError:
                torch.cuda.empty_cache()
                vectors[batch] = embed_batch(encoder, [token_lists[i] for i in batch], device)
            timings.append(timing.stop())
            bar.update(len(batch))
    producer.join()
    if cuda:
        torch.cuda.synchronize(device)
    for batch, host in pending:
        vectors[batch] = host.numpy()
    stats.sequences += len(sequences)
    stats.batches += len(batches)
    stats.busy_seconds += sum(timing.seconds() for timing in timings)
    stats.wall_seconds += time.perf_counter() - started
    return vectors


class _Timing:
    """Device time of one batch: CUDA events on a GPU, the wall clock on the CPU."""

    def __init__(self, cuda: bool) -> None:
        self._cuda = cuda
        if cuda:
            self._start, self._end = (torch.cuda.Event(enable_timing=True) for _ in range(2))
            self._start.record()
        else:
            self._began = time.perf_counter()

    def stop(self) -> _Timing:
        if self._cuda:
            self._end.record()
        else:
            self._elapsed = time.perf_counter() - self._began
        return self

    def seconds(self) -> float:
        """Elapsed seconds (on a GPU, valid once the device has finished)."""
        return self._start.elapsed_time(self._end) / 1000 if self._cuda else self._elapsed
