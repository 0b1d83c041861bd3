#!/usr/bin/env python3
"""The prepared GPU check: how near the GPU's limit the embedders run.

One run, in this order:

1. the device's dense bf16 matrix-multiply peak, measured now (fp32 on a CPU);
2. random-weight checkpoints of ESM2-3B, FastESM2_650 and DNABERT-S written in
   the real on-disk layouts, into a Hugging Face cache folder, as `--mode cache`
   would leave them (tiny ones with --tiny);
3. for each model and for 300 and 500 bp frames (the real frames of the bundled
   data, resampled): first each SDPA backend's time on padded batches and its
   distance from the same sequences embedded alone; the fastest padding-invariant
   one becomes the embedder's attention setting, which every later pass of that
   row runs with (recorded as attention_backend); then model load time,
   sequences/s, tokens/s, peak memory, MFU against the peak of (1), padding share,
   device-idle share (1 - kernel time / wall time of the embed, from a
   torch.profiler trace; not available on a CPU), the attention kernels' share of
   kernel time, and the host's seconds per 10,000-frame shard for tokenising and for
   writing its feature file, against the GPU time the shard is modelled to take at
   the target MFU;
4. one `virnucpro predict` per protein model on about --e2e-frames frames of 500 bp
   reads, reporting its wall time and the share of it outside the embedding batches
   on the GPU (CUDA events; not available on a CPU).

One table on stdout, the same figures as JSON in --output.

    benchmarks/gpu_check.sh                      # on one GPU: under 8 minutes
    benchmarks/gpu_check.sh --tiny --device cpu  # tiny models on the CPU (CI)
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any
from unittest import mock

import numpy as np
import torch
import typer
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity

from virnucpro.classify.classifier import Classifier, MLPClassifier
from virnucpro.embed.benchmark import (
    device_description,
    forward_flops,
    peak_memory,
    synchronise,
    timed_pass,
)
from virnucpro.embed.embed_files import SequenceEmbedder
from virnucpro.embed.embedders.esm import KERNELS_VARIABLE
from virnucpro.embed.embedders.registry import Modality, get_embedder
from virnucpro.embed.model_cache import model_directory
from virnucpro.embed.sequence_embedding import (
    ATTENTION_BACKENDS,
    TOKENIZE_BLOCK,
    EmbedStats,
    resolve_device,
    tokenize_all,
)
from virnucpro.files.feature_files import Features, write_features
from virnucpro.files.sequence_files import read_dna
from virnucpro.predict import predict_fasta
from virnucpro.preprocess.chunking import chunk_records
from virnucpro.preprocess.frames import stop_free_frames
from virnucpro.testing import write_random_checkpoint

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "assets" / "test" / "mixed_example.fasta"
MODELS = ("esm2_3b", "fastesm2_650", "dnabert_s")
FRAME_LENGTHS = (300, 500)
READ_LENGTH = 500
ATTENTION_KERNELS = ("attention", "sdpa", "fmha", "flash", "softmax")
#: Frames of one shard of the pipeline (--shard_size's default).
SHARD_FRAMES = 10_000
#: The MFU targets of docs/benchmarks.md: a shard's GPU time is modelled at them.
TARGET_MFU = {"esm2_3b": 0.65, "fastesm2_650": 0.55, "dnabert_s": 0.40}
#: A backend is padding-invariant if its vectors move from the sequences embedded
#: alone by at most this many times the math backend's (which masks exactly: its
#: difference is the kernels' rounding at this precision) plus the floor.
INVARIANCE_MARGIN = 2.0
INVARIANCE_FLOOR = 1e-5


def matmul_peak(device: torch.device, tiny: bool) -> float:
    """Dense matrix-multiply FLOP/s of this device (bf16 on a GPU, fp32 on a CPU)."""
    size, dtype, repeats = (512, torch.float32, 4) if tiny else (8192, torch.bfloat16, 50)
    if device.type == "cpu":
        dtype = torch.float32
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    synchronise(device)
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    synchronise(device)
    return 2 * size**3 * repeats / (time.perf_counter() - started)


def write_cache(hf_home: Path, size: str) -> dict[str, float]:
    """Random checkpoints where the model cache would hold each model; seconds per write."""
    seconds = {}
    for name in MODELS:
        spec = get_embedder(name)
        owner, repository = spec.model_id.split("/")
        revision = spec.revision or "0" * 40
        cached = hf_home / "hub" / f"models--{owner}--{repository}"
        started = time.perf_counter()
        write_random_checkpoint(name, cached / "snapshots" / revision, size=size, seed=0)
        (cached / "refs").mkdir(parents=True, exist_ok=True)
        (cached / "refs" / "main").write_text(revision)
        seconds[name] = time.perf_counter() - started
    return seconds


def frames(length: int, modality: Modality, count: int, seed: int = 0) -> list[str]:
    """``count`` real stop-free frames of ``length`` bp chunks, resampled with a fixed seed."""
    chunks = list(chunk_records(read_dna(DATA), length))
    found = [
        frame.protein if modality is Modality.protein else frame.nucleotide
        for kept in stop_free_frames(chunks)
        for frame in kept
    ]
    return random.Random(seed).choices(found, k=count)


def shape(embedder: SequenceEmbedder) -> tuple[int, int, int, bool]:
    """Hidden size, intermediate size, layers, and whether the MLP is gated (DNABERT-S)."""
    config = embedder.encoder.model.config
    gated = embedder.spec.modality is Modality.dna
    return config.hidden_size, config.intermediate_size, config.num_hidden_layers, gated


def profiled_pass(embedder: SequenceEmbedder, sequences: list[str]) -> tuple[float, float | None]:
    """One embed of ``sequences`` under torch.profiler: the attention kernels' share of
    kernel time, and the device-idle share, 1 - (union of kernel intervals) / (wall time
    of the embed), which counts a stall inside a batch as idle. On a CPU there is no
    device to be idle (None) and the attention share is of operator time."""
    cuda = embedder.device.type == "cuda"
    activities = [ProfilerActivity.CPU, *([ProfilerActivity.CUDA] if cuda else [])]
    with torch.profiler.profile(activities=activities) as profile:
        started = time.perf_counter()
        embedder.embed(sequences)
        synchronise(embedder.device)
        wall = time.perf_counter() - started
    if not cuda:
        spans = [(event.key, event.self_cpu_time_total) for event in profile.key_averages()]
        return _attention_share(spans), None
    # Kernels only: not copies, memsets or the device spans of annotations.
    kernels = [
        (event.name, event.time_range.start, event.time_range.end)
        for event in profile.events()
        if event.device_type == DeviceType.CUDA and is_kernel(event)
    ]
    busy_us = _union_length([(start, end) for _, start, end in kernels])
    attention = _attention_share([(name, end - start) for name, start, end in kernels])
    return attention, max(0.0, 1 - busy_us / 1e6 / wall)


def is_kernel(event: Any) -> bool:
    """A device event that is a kernel: by its activity type where torch records one
    (2.13 does), else by name, copies and memsets left out (older releases)."""
    kind = getattr(event, "activity_type", None)
    if kind is not None:
        return bool(kind == "kernel")
    return not event.name.startswith(("Memcpy", "Memset", "memcpy", "memset"))


def _attention_share(spans: list[tuple[str, float]]) -> float:
    total = sum(spent for _, spent in spans)
    attention = sum(
        spent for name, spent in spans if any(word in name.lower() for word in ATTENTION_KERNELS)
    )
    return attention / total if total else 0.0


def _union_length(intervals: list[tuple[float, float]]) -> float:
    """Length covered by the intervals (kernels of several streams may overlap)."""
    covered, reach = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end > reach:
            covered += end - max(start, reach)
            reach = end
    return covered


def attention_backends(
    embedder: SequenceEmbedder, sequences: list[str], alone: int = 32
) -> dict[str, Any]:
    """Each SDPA backend as the embedder's setting: seconds for ``sequences`` in padded
    batches, and the largest difference of the first ``alone`` pooled vectors from the
    same sequences embedded one at a time with that backend (padding invariance)."""
    found: dict[str, Any] = {}
    budget = embedder.token_budget
    for name in ATTENTION_BACKENDS[1:]:
        embedder.attention = name
        try:
            embedder.token_budget = 1  # a batch of its own for each sequence: no padding
            single = embedder.embed(sequences[:alone])
            embedder.token_budget = budget
            embedder.embed(sequences)  # warm-up
            synchronise(embedder.device)
            started = time.perf_counter()
            batched = embedder.embed(sequences)
            synchronise(embedder.device)
        except RuntimeError as error:  # no kernel of this backend for these inputs
            found[name] = {"unavailable": str(error).splitlines()[0][:200]}
            continue
        finally:
            embedder.token_budget = budget
        found[name] = {
            "seconds": time.perf_counter() - started,
            "max_abs_difference_from_alone": float(np.abs(batched[:alone] - single).max()),
        }
    bound = INVARIANCE_MARGIN * found["math"]["max_abs_difference_from_alone"] + INVARIANCE_FLOOR
    for figures in found.values():
        if "seconds" in figures:
            figures["padding_invariant"] = figures["max_abs_difference_from_alone"] <= bound
    return found


def fastest_invariant(backends: dict[str, Any]) -> str:
    """The padding-invariant backend that took the least time (math is always one)."""
    return min(
        (figures["seconds"], name)
        for name, figures in backends.items()
        if figures.get("padding_invariant")
    )[1]


def host_seconds_per_shard(
    embedder: SequenceEmbedder, shard: list[str], folder: Path
) -> dict[str, float]:
    """The host's work on one shard outside the device: tokenising its frames (as the
    embed loop does, block by block) and writing its feature file (fsync included)."""
    started = time.perf_counter()
    for start in range(0, len(shard), TOKENIZE_BLOCK):
        tokenize_all(embedder.encoder, shard[start : start + TOKENIZE_BLOCK])
    tokenise = time.perf_counter() - started
    matrix = np.random.default_rng(0).standard_normal(
        (len(shard), embedder.dimension), dtype=np.float32
    )
    ids = [f"read{index}_chunk_1F1" for index in range(len(shard))]
    started = time.perf_counter()
    write_features(folder / "shard.safetensors", Features(ids, matrix, {"precision": "bf16"}))
    return {"tokenise": tokenise, "write": time.perf_counter() - started}


def measure_model(
    name: str,
    hf_home: Path,
    device: str,
    precision: str,
    count: int,
    token_budget: int,
    peak: float,
    work: Path,
) -> list[dict[str, Any]]:
    """Load one model once, then time it on each frame length."""
    spec = get_embedder(name)
    embedder = SequenceEmbedder(spec, precision, device, token_budget, hf_home=hf_home)
    hidden, intermediate, layers, gated = shape(embedder)
    rows = []
    for length in FRAME_LENGTHS:
        sequences = frames(length, spec.modality, count)
        backends = attention_backends(embedder, sequences[:256])
        embedder.attention = fastest_invariant(backends)  # every pass below runs with it
        stats = EmbedStats()
        seconds = timed_pass(embedder, sequences, warmup=64, stats=stats)
        attention, idle = profiled_pass(embedder, sequences)
        lengths = [len(tokens) for tokens in tokenize_all(embedder.encoder, sequences)]
        flops = forward_flops(hidden, intermediate, layers, lengths, gated)
        host = host_seconds_per_shard(embedder, frames(length, spec.modality, SHARD_FRAMES), work)
        modelled = flops * SHARD_FRAMES / len(sequences) / (peak * TARGET_MFU[name])
        rows.append(
            {
                "model": name,
                "frame_bp": length,
                "sequences": len(sequences),
                "tokens": sum(lengths),
                "load_seconds": round(embedder.load_seconds, 2),
                "seconds": round(seconds, 3),
                "sequences_per_second": round(len(sequences) / seconds, 1),
                "tokens_per_second": round(sum(lengths) / seconds),
                # unrounded: MFU is computed from it (a slow CPU runs at 0.00 TFLOP/s)
                "tflops": flops / seconds / 1e12,
                "mfu": flops / seconds / peak,
                "peak_memory_gib": round(peak_memory(embedder.device)[0], 2),
                "padding_share": round(stats.padding_fraction, 3),
                "idle_share": idle,
                "attention_share": round(attention, 3),
                "attention_backend": embedder.attention,
                # ESM's layers: eager (transformers'), fused or compiled; n/a for DNABERT-S
                "kernels": getattr(embedder.encoder, "kernels", "n/a"),
                "attention_backends": backends,
                "tokenise_seconds_per_shard": host["tokenise"],
                "write_seconds_per_shard": host["write"],
                "modelled_gpu_seconds_per_shard": modelled,
                "host_share_of_modelled_gpu": (host["tokenise"] + host["write"]) / modelled,
            }
        )
    return rows


def reads_fasta(path: Path, frames_wanted: int, seed: int = 0) -> int:
    """Random 500 bp reads of the bundled sequences, enough for about ``frames_wanted``
    frames (frames per read measured on a sample); returns the number of reads."""
    sources = [sequence for _, sequence in read_dna(DATA) if len(sequence) >= READ_LENGTH]
    rng = random.Random(seed)

    def read() -> str:
        source = rng.choice(sources)
        start = rng.randrange(len(source) - READ_LENGTH + 1)
        return source[start : start + READ_LENGTH]

    sample = [(f"probe{i}", read()) for i in range(500)]
    per_read = sum(len(kept) for kept in stop_free_frames(sample)) / len(sample)
    count = max(1, round(frames_wanted / per_read))
    with open(path, "w") as handle:
        for index in range(count):
            handle.write(f">read{index}\n{read()}\n")
    return count


def random_classifier(folder: Path, protein: str, hf_home: Path) -> None:
    """A classifier of random weights for DNABERT-S + ``protein`` features at 500 bp."""
    dims = {}
    for modality, name in ((Modality.dna, "dnabert_s"), (Modality.protein, protein)):
        config = model_directory(get_embedder(name), hf_home) / "config.json"
        dims[modality.value] = json.loads(config.read_text())["hidden_size"]
    torch.manual_seed(0)
    model = MLPClassifier(dims["dna"] + dims["protein"])
    embedders = {"dna": "dnabert_s", "protein": protein}
    folder.mkdir(parents=True, exist_ok=True)
    Classifier(model, embedders, dims, READ_LENGTH, "bf16").save(folder)


def end_to_end(
    protein: str, work: Path, hf_home: Path, device: str, precision: str, frames_wanted: int
) -> dict[str, Any]:
    """`virnucpro predict` on 500 bp reads with DNABERT-S and ``protein``."""
    reads = work / "reads.fasta"
    count = reads_fasta(reads, frames_wanted)
    classifier = work / f"{protein}_classifier"
    random_classifier(classifier, protein, hf_home)
    stats = EmbedStats()
    started = time.perf_counter()
    calls = predict_fasta(
        reads, classifier, work / f"predict_{protein}", device=device, precision=precision,
        hf_home=hf_home, stats=stats,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    cuda = resolve_device(device).type == "cuda"
    return {
        "protein_model": protein,
        "reads": count,
        "frames": stats.sequences // 2,
        "seconds": round(seconds, 1),
        "reads_per_second": round(count / seconds, 1),
        # CUDA events around each batch; a CPU has no device time apart from its own
        "outside_batches_share": round(1 - stats.busy_seconds / seconds, 3) if cuda else None,
        "called_sequences": calls.counts["sequences"],
    }


def share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def table(peak: float, rows: list[dict[str, Any]], runs: list[dict[str, Any]]) -> str:
    lines = [
        f"measured peak: {peak / 1e12:.1f} TFLOP/s",
        "",
        "| model | kernels | frames | load s | seq/s | tokens/s | TFLOP/s | MFU | peak GiB | "
        "padding | idle | attention | backend | tokenise s/shard | write s/shard | "
        "host/modelled GPU |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['model']} | {row['kernels']} | {row['frame_bp']} bp | {row['load_seconds']} | "
            f"{row['sequences_per_second']:,} | {row['tokens_per_second']:,} | {row['tflops']:.3g} | "
            f"{row['mfu']:.1%} | {row['peak_memory_gib']} | {row['padding_share']:.0%} | "
            f"{share(row['idle_share'])} | {row['attention_share']:.0%} | "
            f"{row['attention_backend']} | {row['tokenise_seconds_per_shard']:.3f} | "
            f"{row['write_seconds_per_shard']:.3f} | {row['host_share_of_modelled_gpu']:.1%} |"
        )
    lines += [
        "",
        "| predict with | reads | frames | seconds | reads/s | outside GPU batches |",
        "|---|---|---|---|---|---|",
    ]
    for run in runs:
        lines.append(
            f"| {run['protein_model']} | {run['reads']:,} | {run['frames']:,} | {run['seconds']} | "
            f"{run['reads_per_second']:,} | {share(run['outside_batches_share'])} |"
        )
    return "\n".join(lines)


def main(
    tiny: Annotated[
        bool, typer.Option(help="Tiny random models: checks the script, not speed.")
    ] = False,
    device: Annotated[str, typer.Option(help="cuda (default: auto) or cpu.")] = "auto",
    precision: Annotated[str, typer.Option(help="fp32, bf16 or fp16.")] = "bf16",
    frames_per_model: Annotated[
        int, typer.Option(help="Frames timed per model and length.")
    ] = 8192,
    e2e_frames: Annotated[int, typer.Option(help="Frames of each end-to-end predict.")] = 50000,
    token_budget: Annotated[int, typer.Option(help="Tokens per batch.")] = 16384,
    output: Annotated[Path, typer.Option(help="JSON file of the figures.")] = Path(
        "gpu_check.json"
    ),
    work: Annotated[
        Path | None, typer.Option(help="Folder for checkpoints [default: a temporary one].")
    ] = None,
    esm_kernels: Annotated[
        str,
        typer.Option(
            help="Comma-separated ESM layer paths to time, each with its own load: eager "
            "(transformers'), fused (the default path), compiled (torch.compile)."
        ),
    ] = "fused",
) -> None:
    """Run the check and print one table; the figures go to --output as JSON."""
    target = resolve_device(device)
    if tiny:
        frames_per_model, e2e_frames = min(frames_per_model, 96), min(e2e_frames, 200)
    with tempfile.TemporaryDirectory(dir=work) as scratch:
        folder = Path(scratch)
        hf_home = folder / "hf_home"
        peak = matmul_peak(target, tiny)
        writes = write_cache(hf_home, "tiny" if tiny else "full")
        rows = []
        for name in MODELS:
            paths = esm_kernels.split(",") if name.startswith(("esm", "fastesm")) else [None]
            for kernels in paths:
                # the setting load_esm reads, for this model's load only
                setting = {KERNELS_VARIABLE: kernels} if kernels is not None else {}
                with mock.patch.dict(os.environ, setting):
                    rows += measure_model(
                        name, hf_home, str(target), precision, frames_per_model, token_budget,
                        peak, folder,
                    )  # fmt: skip
                if target.type == "cuda":
                    torch.cuda.empty_cache()
        runs = [
            end_to_end(protein, folder, hf_home, str(target), precision, e2e_frames)
            for protein in ("fastesm2_650", "esm2_3b")
        ]
    device_name = device_description(target)
    result = {
        "device": device_name,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "precision": precision,
        "tiny": tiny,
        "peak_tflops": peak / 1e12,
        "checkpoint_write_seconds": {name: round(seconds, 1) for name, seconds in writes.items()},
        "models": rows,
        "predict": runs,
    }
    output.write_text(json.dumps(result, indent=2) + "\n")
    typer.echo(f"{device_name}, torch {torch.__version__}, {precision}")
    typer.echo(table(peak, rows, runs))
    typer.echo(f"\nfigures: {output}")


if __name__ == "__main__":
    np.random.seed(0)
    typer.run(main)
