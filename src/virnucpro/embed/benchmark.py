"""Measuring an embedder's speed the same way for every embedder.

Load time is measured apart; a warm-up pass runs first; each timed pass covers
every input sequence with CUDA synchronised at both ends, and the pass is repeated:
one timing is noise (a rerun of the same CPU benchmark gave 1.2x and 2.25x), so the
figures are the median of the passes, with the fastest and slowest beside them.
Memory is the peak allocated on the GPU (or the process's peak resident memory on
a CPU).
"""

from __future__ import annotations

import json
import logging
import platform
import resource
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from virnucpro import __version__
from virnucpro.embed.embed_files import SequenceEmbedder, read_frames
from virnucpro.embed.embedders.registry import EmbedderSpec
from virnucpro.embed.sequence_embedding import EmbedStats
from virnucpro.embed.settings import DEFAULT_REPEATS
from virnucpro.errors import InputError
from virnucpro.files.atomic import AtomicOutputs
from virnucpro.files.contracts import BENCHMARK
from virnucpro.files.digests import file_digest

log = logging.getLogger(__name__)


def forward_flops(
    hidden: int, intermediate: int, layers: int, lengths: list[int], gated_mlp: bool = False
) -> float:
    """Matrix-multiply FLOPs of an encoder's forward pass over real tokens (2 per
    multiply-add): the four attention projections, the MLP (a gated one, as in
    DNABERT-S, is half as wide again) and the attention scores and sums."""
    mlp = (3 if gated_mlp else 2) * 2 * hidden * intermediate
    per_token = layers * (2 * 4 * hidden**2 + mlp)
    attention = sum(layers * 4 * hidden * n * n for n in lengths)
    return per_token * sum(lengths) + attention


def synchronise(device: torch.device) -> None:
    """Wait for the device's queued work (a no-op on a CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_memory(device: torch.device) -> tuple[float, str]:
    """Peak memory in GiB and what it is: GPU memory allocated since the last reset,
    or the process's peak resident memory on a CPU (it only grows)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30, "gpu_allocated"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, "process_rss"


def device_description(device: torch.device) -> str:
    """The GPU's name, or the processor's."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine()


def timed_pass(
    embedder: SequenceEmbedder,
    sequences: list[str],
    warmup: int,
    stats: EmbedStats | None = None,
) -> float:
    """Seconds of one pass over ``sequences``, after a warm-up on the first ``warmup``
    (kernels chosen, memory pools grown), synchronised at both ends; the GPU's peak
    memory counts from the start of the timed pass."""
    embedder.embed(sequences[:warmup])
    if embedder.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(embedder.device)
    synchronise(embedder.device)
    started = time.perf_counter()
    embedder.embed(sequences, stats)
    synchronise(embedder.device)
    return time.perf_counter() - started


def rates(amount: int, runs: list[float]) -> dict[str, float]:
    """``amount`` per second at the median run, and at the slowest (low) and fastest (high)."""
    return {
        "": amount / statistics.median(runs),
        "_low": amount / max(runs),
        "_high": amount / min(runs),
    }


def benchmark_embedder(
    spec: EmbedderSpec,
    input_path: Path,
    output_path: Path,
    precision: str,
    device: str,
    token_budget: int,
    warmup: int = 64,
    model_dir: Path | None = None,
    hf_home: Path | None = None,
    repeats: int = DEFAULT_REPEATS,
) -> dict[str, Any]:
    """Time ``spec`` ``repeats`` times on every sequence of ``input_path``; write and return
    the figures (median, slowest and fastest pass)."""
    if warmup < 0:
        raise InputError(f"warm-up must be 0 or more sequences, got {warmup}")
    if repeats < 1:
        raise InputError(f"repeats must be at least 1 timed pass, got {repeats}")
    sequences = [sequence for _, sequence in read_frames(input_path, spec.modality)]
    embedder = SequenceEmbedder(spec, precision, device, token_budget, model_dir, hf_home)
    runs = [timed_pass(embedder, sequences, warmup if run == 0 else 0) for run in range(repeats)]
    tokens = embedder.tokens(sequences)
    device_name = device_description(embedder.device)
    peak, memory = peak_memory(embedder.device)
    result = {
        "format": BENCHMARK.format,
        "embedder": spec.name,
        "modality": spec.modality.value,
        **embedder.source.provenance,
        "device": embedder.device.type,
        "device_name": device_name,
        "precision": precision,
        "token_budget": token_budget,
        "input_sha256": file_digest(input_path),
        "sequences": len(sequences),
        "tokens": tokens,
        "load_seconds": round(embedder.load_seconds, 3),
        "repeats": repeats,
        "seconds_per_pass": [round(seconds, 4) for seconds in runs],
        "seconds": round(statistics.median(runs), 4),
        **{
            f"sequences_per_second{end}": round(rate, 2)
            for end, rate in rates(len(sequences), runs).items()
        },
        **{f"tokens_per_second{end}": round(rate, 1) for end, rate in rates(tokens, runs).items()},
        "peak_memory_gib": round(peak, 3),
        "memory": memory,
        "tool_version": __version__,
    }
    with AtomicOutputs() as outputs:
        outputs.open(output_path).write(json.dumps(result, indent=2) + "\n")
    log.info(
        "%s on %s (%s): %.1f sequences/s (median of %d passes, %.1f-%.1f), %.0f tokens/s, "
        "peak %.2f GiB, load %.1f s",
        spec.name, device_name, precision, result["sequences_per_second"], repeats,
        result["sequences_per_second_low"], result["sequences_per_second_high"],
        result["tokens_per_second"], peak, embedder.load_seconds,
    )  # fmt: skip
    return result
