#!/usr/bin/env python3
"""Benchmark the embedding loop against the original tool's ways of batching.

Same model, same inputs, one run. Strategies:

- ``one-at-a-time``: each sequence alone, fp32 (how the original embedded DNA);
- ``fixed-2048``: batches of at most 2048 padded tokens in input order, fp32
  (how the original embedded proteins);
- ``token-budget N``: ours - sorted by length, batches of at most N padded
  tokens, at fp32 and at --precision.

Inputs are the stop-free frames of ``assets/test/mixed_example.fasta`` (chunk
size 300), repeated to --sequences. Protein tokens are real ESM tokens; DNA
tokens are synthetic ids, one per --bases-per-token bases plus [CLS]/[SEP]
(the real BPE vocabulary cannot be downloaded here).

Default: small random models on the CPU. ``--random-weights`` builds the
full-size architectures (ESM2-3B, ESM2-650M, DNABERT-S) from random weights,
without downloads, for GPU figures:

    python benchmarks/embedders.py                                   # CPU, small models
    python benchmarks/embedders.py --random-weights --device cuda    # GPU, full size
"""

from __future__ import annotations

import math
import platform
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import numpy as np
import torch
import typer
from tokenizers import Tokenizer

from virnucpro.embed.benchmark import forward_flops
from virnucpro.embed.embedders.base import Encoder
from virnucpro.embed.embedders.dnabert_s import DnaBertSConfig, DnaBertSEncoder, MosaicBertModel
from virnucpro.embed.embedders.esm import load_esm
from virnucpro.embed.sequence_embedding import (
    PRECISIONS,
    embed_batch,
    resolve_device,
    token_batches,
)
from virnucpro.files.sequence_files import read_fasta
from virnucpro.preprocess.chunking import chunk_records
from virnucpro.preprocess.frames import stop_free_frames
from virnucpro.testing.esm_checkpoints import EsmSizes, write_tiny_esm

ROOT = Path(__file__).resolve().parents[1]
INPUT = ROOT / "assets" / "test" / "mixed_example.fasta"
TINY_TOKENIZER = ROOT / "assets" / "models" / "tiny_dnabert_s" / "tokenizer.json"


@dataclass(frozen=True)
class Architecture:
    kind: str  # "esm" (protein) or "dnabert_s" (DNA)
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int = 4096


SMALL = {
    "esm2_t6_like": Architecture("esm", 320, 6, 20, 1280),
    "dnabert_s_small": Architecture("dnabert_s", 256, 4, 4, 1024),
}
FULL = {
    "esm2_3b": Architecture("esm", 2560, 36, 40, 10240),
    "esm2_650m": Architecture("esm", 1280, 33, 20, 5120),
    "dnabert_s": Architecture("dnabert_s", 768, 12, 12, 3072),
}


def build(arch: Architecture, device: torch.device, dtype: torch.dtype, work: Path) -> Encoder:
    """A randomly initialised model of ``arch``; ESM goes through the real loader."""
    torch.manual_seed(0)
    if arch.kind == "esm":
        folder = work / f"esm_{arch.hidden}_{arch.layers}"
        if not folder.exists():
            write_tiny_esm(
                folder, "esm", 0, EsmSizes(arch.hidden, arch.layers, arch.heads, arch.intermediate)
            )
        return load_esm(folder, device, dtype)
    config = DnaBertSConfig(arch.vocab, arch.hidden, arch.layers, arch.heads, arch.intermediate)
    model = MosaicBertModel(config).to(device=device, dtype=dtype).requires_grad_(False)
    return DnaBertSEncoder(model, Tokenizer.from_file(str(TINY_TOKENIZER)), device, dtype)


def token_lists(
    arch: Architecture, encoder: Encoder, count: int, bases_per_token: float
) -> list[list[int]]:
    chunks = list(chunk_records(read_fasta(INPUT), 300))
    frames = [frame for kept in stop_free_frames(chunks) for frame in kept]
    frames = (frames * math.ceil(count / len(frames)))[:count]
    if arch.kind == "esm":
        return [encoder.tokenize(frame.protein) for frame in frames]
    rng = np.random.default_rng(0)
    lengths = [2 + math.ceil(len(frame.nucleotide) / bases_per_token) for frame in frames]
    return [[1, *rng.integers(5, arch.vocab, n - 2).tolist(), 2] for n in lengths]


def fixed_batches(lengths: list[int], budget: int) -> list[list[int]]:
    """Input order, as many sequences as fit in ``budget`` padded tokens."""
    batches: list[list[int]] = [[]]
    for index, length in enumerate(lengths):
        batch = batches[-1]
        if batch and (len(batch) + 1) * max(length, *(lengths[i] for i in batch)) > budget:
            batches.append([])
        batches[-1].append(index)
    return batches


def measure(
    encoder: Encoder, tokens: list[list[int]], batches: list[list[int]], device: torch.device
):
    embed_batch(encoder, [tokens[i] for i in batches[0]], device)  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for batch in batches:
        embed_batch(encoder, [tokens[i] for i in batch], device)
    if device.type == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**30
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return time.perf_counter() - start, peak


def main(
    random_weights: Annotated[
        bool, typer.Option(help="Full-size ESM2-3B, ESM2-650M and DNABERT-S.")
    ] = False,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    precision: Annotated[
        str, typer.Option(help="Precision of the token-budget run besides fp32.")
    ] = "bf16",
    sequences: Annotated[int, typer.Option(help="Frames to embed per model.")] = 512,
    token_budget: Annotated[
        list[int] | None,
        typer.Option(
            help="Padded tokens per batch for our strategy; repeatable [default: 2048, 16384]."
        ),
    ] = None,
    bases_per_token: Annotated[
        float, typer.Option(help="DNA bases per synthetic BPE token.")
    ] = 5.0,
    models: Annotated[list[str] | None, typer.Option(help="Only these architectures.")] = None,
) -> None:
    """Print one Markdown table: time, sequences/s, tokens/s, TFLOP/s and peak memory per strategy."""
    torch_device = resolve_device(device)
    architectures = FULL if random_weights else SMALL
    names = models or list(architectures)
    budgets = token_budget or [2048, 16384]
    gpu = (
        torch.cuda.get_device_name(torch_device)
        if torch_device.type == "cuda"
        else platform.processor() or platform.machine()
    )
    print(
        f"device: {torch_device} ({gpu}); torch {torch.__version__}; Python {platform.python_version()}"
    )
    print(f"inputs: {sequences} frames of {INPUT.name} (chunk 300)\n")
    memory = "peak GPU memory (GiB)" if torch_device.type == "cuda" else "peak RSS so far (GiB)"
    print(
        f"| model | strategy | precision | batches | seconds | seq/s | tokens/s | TFLOP/s | {memory} |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            arch = architectures[name]
            encoder, encoder_precision = build(arch, torch_device, torch.float32, Path(tmp)), "fp32"
            tokens = token_lists(arch, encoder, sequences, bases_per_token)
            lengths = [len(t) for t in tokens]
            runs = [
                ("one-at-a-time", "fp32", [[i] for i in range(len(tokens))]),
                ("fixed-2048", "fp32", fixed_batches(lengths, 2048)),
                *[(f"token-budget {b}", "fp32", token_batches(lengths, b)) for b in budgets],
            ]
            if precision != "fp32":
                runs += [
                    (f"token-budget {b}", precision, token_batches(lengths, b)) for b in budgets
                ]
            for strategy, run_precision, batches in runs:
                if run_precision != encoder_precision:
                    del encoder
                    encoder = build(arch, torch_device, PRECISIONS[run_precision], Path(tmp))
                    encoder_precision = run_precision
                seconds, peak = measure(encoder, tokens, batches, torch_device)
                tflops = (
                    forward_flops(
                        arch.hidden,
                        arch.intermediate,
                        arch.layers,
                        lengths,
                        arch.kind == "dnabert_s",
                    )
                    / seconds
                    / 1e12
                )
                print(
                    f"| {name} | {strategy} | {run_precision} | {len(batches)} | {seconds:.2f} | "
                    f"{len(tokens) / seconds:.1f} | {sum(lengths) / seconds:,.0f} | {tflops:.3f} | {peak:.2f} |",
                    flush=True,
                )
            del encoder
            if torch_device.type == "cuda":
                torch.cuda.empty_cache()


if __name__ == "__main__":
    sys.exit(typer.run(main))
