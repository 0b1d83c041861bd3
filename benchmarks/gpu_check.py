#!/usr/bin/env python3
"""The prepared GPU check: how near the GPU's limit the embedders run.

One run, in this order:

1. the device's dense bf16 matrix-multiply peak, measured now (fp32 on a CPU);
2. random-weight checkpoints of ESM2-3B, FastESM2_650 and DNABERT-S written in
   the real on-disk layouts, into a Hugging Face cache folder, as `--mode cache`
   would leave them (tiny ones with --tiny);
3. for each model and for 300 and 500 bp frames (the real frames of the bundled
   data, resampled): model load time, sequences/s, tokens/s, peak memory, MFU
   against the peak of (1), padding share, device-idle share, the share of
   attention kernels in the forward pass, and each SDPA backend's time on one
   padded batch with its distance from the same sequences embedded alone (the
   fastest backend that stays padding-invariant is the one to use);
4. one `virnucpro predict` per protein model on about --e2e-frames frames of 500 bp
   reads, reporting its wall time and the share of it outside GPU kernels.

One table on stdout, the same figures as JSON in --output.

    benchmarks/gpu_check.sh                      # on one GPU: under 8 minutes
    benchmarks/gpu_check.sh --tiny --device cpu  # tiny models on the CPU (CI)
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch
import typer

from virnucpro.classify.classifier import Classifier, MLPClassifier
from virnucpro.embed.benchmark import (
    device_description,
    forward_flops,
    peak_memory,
    synchronise,
    timed_pass,
)
from virnucpro.embed.embed_files import SequenceEmbedder
from virnucpro.embed.embedders.registry import Modality, get_embedder
from virnucpro.embed.model_cache import model_directory
from virnucpro.embed.sequence_embedding import EmbedStats, resolve_device
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


def attention_share(embedder: SequenceEmbedder, sequences: list[str]) -> float:
    """Share of the forward pass's kernel time spent in attention, from the profiler."""
    activities = [torch.profiler.ProfilerActivity.CPU]
    cuda = embedder.device.type == "cuda"
    if cuda:
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as profile:
        embedder.embed(sequences)
        synchronise(embedder.device)
    total = attention = 0.0
    for event in profile.key_averages():
        if cuda:
            spent = getattr(event, "self_device_time_total", None)
            spent = spent if spent is not None else event.self_cuda_time_total
        else:
            spent = event.self_cpu_time_total
        total += spent
        if any(word in event.key.lower() for word in ATTENTION_KERNELS):
            attention += spent
    return attention / total if total else 0.0


def attention_backends(embedder: SequenceEmbedder, sequences: list[str]) -> dict[str, Any]:
    """Each SDPA backend on one padded batch: seconds, and the largest difference of a
    pooled vector from the same sequence embedded alone (padding invariance)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    alone = np.stack([embedder.embed([sequence])[0] for sequence in sequences])
    found = {}
    for backend in (
        SDPBackend.FLASH_ATTENTION,
        SDPBackend.EFFICIENT_ATTENTION,
        SDPBackend.CUDNN_ATTENTION,
        SDPBackend.MATH,
    ):
        try:
            with sdpa_kernel([backend]):
                embedder.embed(sequences)  # warm-up
                synchronise(embedder.device)
                started = time.perf_counter()
                batched = embedder.embed(sequences)
                synchronise(embedder.device)
            found[backend.name.lower()] = {
                "seconds": round(time.perf_counter() - started, 4),
                "max_abs_difference_from_alone": float(np.abs(batched - alone).max()),
            }
        except RuntimeError as error:  # no kernel of this backend for these inputs
            found[backend.name.lower()] = {"unavailable": str(error).splitlines()[0][:200]}
    return found


def measure_model(
    name: str, hf_home: Path, device: str, precision: str, count: int, token_budget: int
) -> list[dict[str, Any]]:
    """Load one model once, then time it on each frame length."""
    spec = get_embedder(name)
    embedder = SequenceEmbedder(spec, precision, device, token_budget, hf_home=hf_home)
    hidden, intermediate, layers, gated = shape(embedder)
    rows = []
    for length in FRAME_LENGTHS:
        sequences = frames(length, spec.modality, count)
        stats = EmbedStats()
        seconds = timed_pass(embedder, sequences, warmup=64, stats=stats)
        lengths = [len(embedder.encoder.tokenize(sequence)) for sequence in sequences]
        flops = forward_flops(hidden, intermediate, layers, lengths, gated)
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
                "peak_memory_gib": round(peak_memory(embedder.device)[0], 2),
                "padding_share": round(stats.padding_fraction, 3),
                "idle_share": round(stats.idle_fraction, 3),
                "attention_share": round(attention_share(embedder, sequences[:256]), 3),
                "attention_backends": attention_backends(embedder, sequences[:32]),
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
    return {
        "protein_model": protein,
        "reads": count,
        "frames": stats.sequences // 2,
        "seconds": round(seconds, 1),
        "reads_per_second": round(count / seconds, 1),
        "outside_kernels_share": round(1 - stats.busy_seconds / seconds, 3),
        "called_sequences": len(calls),
    }


def table(peak: float, rows: list[dict[str, Any]], runs: list[dict[str, Any]]) -> str:
    lines = [
        f"measured peak: {peak / 1e12:.1f} TFLOP/s",
        "",
        "| model | frames | load s | seq/s | tokens/s | TFLOP/s | MFU | peak GiB | padding | idle | attention |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['model']} | {row['frame_bp']} bp | {row['load_seconds']} | "
            f"{row['sequences_per_second']:,} | {row['tokens_per_second']:,} | {row['tflops']:.3g} | "
            f"{row['mfu']:.1%} | {row['peak_memory_gib']} | {row['padding_share']:.0%} | "
            f"{row['idle_share']:.0%} | {row['attention_share']:.0%} |"
        )
    lines += [
        "",
        "| predict with | reads | frames | seconds | reads/s | outside GPU kernels |",
        "|---|---|---|---|---|---|",
    ]
    for run in runs:
        lines.append(
            f"| {run['protein_model']} | {run['reads']:,} | {run['frames']:,} | {run['seconds']} | "
            f"{run['reads_per_second']:,} | {run['outside_kernels_share']:.0%} |"
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
            rows += measure_model(
                name, hf_home, str(target), precision, frames_per_model, token_budget
            )
            if target.type == "cuda":
                torch.cuda.empty_cache()
        for row in rows:
            row["mfu"] = row["tflops"] * 1e12 / peak
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
