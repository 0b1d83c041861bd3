"""Turning sequences into vectors: batching, pooling, precision and devices.

Sequences are ordered longest first and tokenised block by block on a background
thread (DNABERT-S's fast tokenizer encodes a whole block in one parallel call outside
the GIL), so the device starts on the first batch as soon as one block is tokenised
and never waits for the rest. Within a block, sequences are packed by token count so
that each batch's padded size stays within a token budget: GPU memory use is bounded
and little compute goes to padding. Each batch is mean-pooled in float32 over the
tokens the original tool pooled (ESM: residues only; DNABERT-S: every token including
[CLS] and [SEP]) under a 0/1 weight matrix built on the host from the lengths, so
padding never enters a pool (a vector does not depend on its batch) and no batch
reads a device value. When a batch does not fit in GPU memory it is split and
retried; a single sequence that does not fit raises :class:`OutOfMemory`. The SDPA
attention backend is a setting (:func:`attention_backend`), so the one a benchmark
chose is the one that runs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import TypeVar

import numpy as np
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from tqdm import tqdm

from virnucpro.embed.embedders.base import Encoder
from virnucpro.embed.settings import ATTENTION_BACKENDS, DEFAULT_TOKEN_BUDGET
from virnucpro.errors import InputError, OutOfMemory

log = logging.getLogger(__name__)

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
DEVICES = ("auto", "cpu", "cuda")
EMPTY_POOL = "a sequence has no token to pool (empty sequence)"
#: Sequences tokenised per call: large enough for the tokenizer's parallelism and for
#: packing batches with little padding, small enough that the first batch starts at once.
TOKENIZE_BLOCK = 2048
#: Batches padded ahead of the device.
_PREFETCH = 2

_Item = TypeVar("_Item")


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


def check_attention(attention: str) -> None:
    if attention not in ATTENTION_BACKENDS:
        raise InputError(
            f"attention must be one of {', '.join(ATTENTION_BACKENDS)}, got '{attention}'"
        )


def attention_backend(attention: str) -> contextlib.AbstractContextManager[None]:
    """The context the forward passes run in: for a named backend, SDPA may use only it
    (an input it cannot take fails instead of silently running on another one)."""
    check_attention(attention)
    if attention == "auto":
        return contextlib.nullcontext()
    return sdpa_kernel([getattr(SDPBackend, attention.upper())])


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


def pool_weights(
    lengths: torch.Tensor, width: int, exclude_ends: bool, max_pooled: int | None = None
) -> torch.Tensor:
    """(batch, width) float32: 1 on each token a row's mean covers, 0 elsewhere.

    A row of ``length`` real tokens (right-padded) pools all of them, or 1..length-2
    without the first and last, and at most ``max_pooled`` tokens after the first (the
    states of later tokens still saw the whole input). Built from lengths, on the host
    in the embedding loop, so its empty-pool check reads no device value.
    """
    positions = torch.arange(width, device=lengths.device)
    first = int(exclude_ends)
    end = lengths - first
    if max_pooled is not None:
        end = end.clamp(max=1 + max_pooled)
    pooled = (positions >= first) & (positions < end[:, None])
    if not bool(pooled.any(dim=1).all()):
        raise InputError(EMPTY_POOL)
    return pooled.to(torch.float32)


def weighted_mean(hidden: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Float32 means (batch, dimension) of the hidden states under 0/1 ``weights``.

    The states are multiplied by the weights in their own dtype (exact for 0 and 1) and
    summed with float32 accumulation: the same numbers as summing a float32 copy, as
    the pool did before, without making that copy (in bf16 a third of the memory
    traffic; a float32 batched matmul reads less but rounds its sums differently, by
    up to ~1e-6).
    """
    selected = hidden * weights.to(hidden.dtype).unsqueeze(-1)
    return selected.sum(dim=1, dtype=torch.float32) / weights.sum(dim=1, keepdim=True)


def mean_pool(
    hidden: torch.Tensor,
    attention_mask: torch.Tensor,
    exclude_ends: bool,
    max_pooled: int | None = None,
) -> torch.Tensor:
    """Float32 mean of right-padded hidden states over the pooled tokens (see
    :func:`pool_weights`); on a GPU the empty-pool check reads the device."""
    weights = pool_weights(
        attention_mask.sum(dim=1), attention_mask.shape[1], exclude_ends, max_pooled
    )
    return weighted_mean(hidden, weights)


def tokenize_all(encoder: Encoder, sequences: Sequence[str]) -> list[list[int]]:
    """Token ids of each sequence: in one call where the encoder has a batch tokenizer
    (``tokenize_batch``: DNABERT-S's fast tokenizer, in parallel and outside the GIL),
    else one ``tokenize`` each."""
    batch = getattr(encoder, "tokenize_batch", None)
    if batch is not None:
        return batch(list(sequences))
    return [encoder.tokenize(sequence) for sequence in sequences]


@dataclass
class EmbedStats:
    """Where the time of the embedding loop went, added up over batches (and files).

    ``busy_seconds`` is the device's time on the batches: measured with CUDA
    events on a GPU (the kernels of the forward pass and the pooling, and any stall
    between them), with the wall clock of the same work on the CPU. The rest of
    ``wall_seconds`` is host work the device waited for. ``tokenize_seconds`` is the
    host's tokenising, done on a background thread while the device computes.
    """

    sequences: int = 0
    batches: int = 0
    tokens: int = 0
    padded_tokens: int = 0
    wall_seconds: float = 0.0
    busy_seconds: float = 0.0
    tokenize_seconds: float = 0.0

    @property
    def padding_fraction(self) -> float:
        """Share of the batches' token slots that were padding."""
        return 1 - self.tokens / self.padded_tokens if self.padded_tokens else 0.0

    @property
    def idle_fraction(self) -> float:
        """Share of the embedding loop's wall time the device was not computing."""
        return max(0.0, 1 - self.busy_seconds / self.wall_seconds) if self.wall_seconds else 0.0


@dataclass
class _Batch:
    """One batch ready for the device: host tensors (pinned for a GPU) and its rows."""

    rows: list[int]
    token_lists: list[list[int]]
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    weights: torch.Tensor
    tokens: int


def _prepare(
    rows: list[int], token_lists: list[list[int]], encoder: Encoder, pin: bool = False
) -> _Batch:
    """Right-padded ids, mask and pool weights, all from the lengths known on the host."""
    lengths = torch.tensor([len(tokens) for tokens in token_lists])
    width = int(lengths.max())
    mask = torch.arange(width) < lengths[:, None]
    input_ids = torch.full(mask.shape, encoder.pad_token_id, dtype=torch.long)
    input_ids[mask] = torch.tensor(list(chain.from_iterable(token_lists)), dtype=torch.long)
    weights = pool_weights(lengths, width, encoder.pool_excludes_ends, encoder.max_pooled)
    tensors = (input_ids, mask.to(torch.long), weights)
    if pin:
        tensors = tuple(tensor.pin_memory() for tensor in tensors)
    return _Batch(rows, token_lists, *tensors, tokens=int(lengths.sum()))


def _pooled(encoder: Encoder, batch: _Batch, device: torch.device) -> torch.Tensor:
    """The batch's pooled vectors; a batch without padding (known on the host: every row
    as wide as the batch) goes without a mask, so that no model reads the mask's values
    back to the host to find out (transformers' SDPA mask helper does, every forward)."""
    input_ids, weights = (
        tensor.to(device, non_blocking=True) for tensor in (batch.input_ids, batch.weights)
    )
    padded = batch.tokens < batch.input_ids.numel()
    attention_mask = batch.attention_mask.to(device, non_blocking=True) if padded else None
    return weighted_mean(encoder.hidden_states(input_ids, attention_mask), weights)


def embed_batch(
    encoder: Encoder, token_lists: Sequence[list[int]], device: torch.device
) -> np.ndarray:
    """Pooled vectors of one batch; halves the batch and retries on CUDA out-of-memory."""
    try:
        batch = _prepare(list(range(len(token_lists))), list(token_lists), encoder)
        # .cpu() waits for the device to finish before the values are read.
        return _pooled(encoder, batch, device).cpu().numpy()
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


def _batches(
    encoder: Encoder,
    sequences: Sequence[str],
    token_budget: int,
    pin: bool,
    stats: EmbedStats,
) -> Iterator[_Batch]:
    """Batches in the order the device runs them, longest sequences first: each block of
    ``TOKENIZE_BLOCK`` sequences is tokenised in one call, then packed by token count."""
    order = sorted(range(len(sequences)), key=lambda index: -len(sequences[index]))
    for start in range(0, len(order), TOKENIZE_BLOCK):
        block = order[start : start + TOKENIZE_BLOCK]
        began = time.perf_counter()
        token_lists = tokenize_all(encoder, [sequences[index] for index in block])
        stats.tokenize_seconds += time.perf_counter() - began
        for batch in token_batches([len(tokens) for tokens in token_lists], token_budget):
            yield _prepare([block[i] for i in batch], [token_lists[i] for i in batch], encoder, pin)


_DONE = object()


@contextlib.contextmanager
def _in_background(items: Iterator[_Item], depth: int) -> Iterator[Iterator[_Item]]:
    """``items`` made on a background thread, at most ``depth`` ahead of the consumer.

    An error in the thread is raised in the consumer; leaving the block stops the thread.
    """
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            with contextlib.suppress(queue.Full):
                ready.put(item, timeout=0.1)
                return True
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as error:  # handed to the consumer, which raises it
            put(error)

    def consume() -> Iterator[_Item]:
        while (item := ready.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item

    producer = threading.Thread(target=produce, name="embed-batches", daemon=True)
    producer.start()
    try:
        yield consume()
    finally:
        stop.set()
        producer.join()


def embed_sequences(
    encoder: Encoder,
    sequences: Sequence[str],
    device: torch.device,
    token_budget: int = DEFAULT_TOKEN_BUDGET,
    stats: EmbedStats | None = None,
    attention: str = "auto",
) -> np.ndarray:
    """One float32 row per sequence, in input order.

    Batches are tokenised and padded by a background thread (into pinned memory on a
    GPU) while the device runs the previous one; inputs go to the device and pooled
    vectors come back with non-blocking copies, so the host waits for the device only
    once, at the end. Every attention call runs on the ``attention`` backend. A batch
    that runs out of GPU memory is redone synchronously in halves.
    """
    check_token_budget(token_budget)
    check_attention(attention)
    if encoder.pool_excludes_ends and not all(sequences):
        raise InputError(EMPTY_POOL)  # known now, not after the longer sequences' batches
    stats = stats if stats is not None else EmbedStats()
    started = time.perf_counter()
    cuda = device.type == "cuda"
    vectors = np.empty((len(sequences), encoder.dimension), dtype=np.float32)
    pending: list[tuple[list[int], torch.Tensor]] = []
    timings = []
    batches = _batches(encoder, sequences, token_budget, cuda, stats)
    with (
        _in_background(batches, _PREFETCH) as ready,
        attention_backend(attention),
        tqdm(total=len(sequences), unit=" seq", disable=None) as bar,
    ):
        for batch in ready:
            stats.batches += 1
            stats.tokens += batch.tokens
            stats.padded_tokens += batch.input_ids.numel()
            timing = _Timing(cuda)
            try:
                pooled = _pooled(encoder, batch, device)
                host = torch.empty(pooled.shape, dtype=torch.float32, pin_memory=cuda)
                host.copy_(pooled, non_blocking=True)
                pending.append((batch.rows, host))
            except torch.cuda.OutOfMemoryError:
                torch.cuda.empty_cache()
                vectors[batch.rows] = embed_batch(encoder, batch.token_lists, device)
            timings.append(timing.stop())
            bar.update(len(batch.rows))
    if cuda:
        torch.cuda.synchronize(device)
    for rows, host in pending:
        vectors[rows] = host.numpy()
    stats.sequences += len(sequences)
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
