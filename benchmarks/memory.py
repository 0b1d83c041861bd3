#!/usr/bin/env python3
"""Peak memory of the prediction steps as the sample grows: classify.py, the report step
and ``virnucpro predict``, on N simulated reads.

The reads are 300 bp windows (the bundled demo classifier's chunk size) cut at seeded
random places from every real genome of ``assets/test_full``. Each size is prepared
in a child process (reads, chunks, frames, shards of 10,000 frames, the model-free demo's
DNA and protein features of each shard), then each measured step runs in a fresh process as a user runs
it, and its own peak resident memory is read from the kernel (``wait4``). This
process stays small and imports no model code: a child's peak counts its parent's
memory at the fork. A step whose memory is bounded by a shard shows the same peak
at every size.

    python benchmarks/memory.py run --reads 10000,100000,1000000
"""

from __future__ import annotations

import gzip
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from machine import machine_line  # beside this script: benchmarks/machine.py
from many_tiny_records import run_step

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "assets" / "models" / "composition_classifier"
GENOMES = ROOT / "assets" / "test_full"
READ_LENGTH = 300
app = typer.Typer(add_completion=False)


def genome_sequences(read_length: int = READ_LENGTH) -> list[str]:
    """Every record of the bundled real genomes that is longer than a read."""
    from Bio import SeqIO

    sequences = []
    for path in sorted(GENOMES.glob("*.gb*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt") as handle:
            sequences += [str(r.seq).upper() for r in SeqIO.parse(handle, "genbank")]
    return [sequence for sequence in sequences if len(sequence) > read_length]


def write_reads(
    path: Path, count: int, sequences: list[str], read_length: int = READ_LENGTH
) -> None:
    """``count`` reads, each a seeded random window of a random record."""
    rng = random.Random(7)
    with path.open("w") as handle:
        for index in range(count):
            sequence = rng.choice(sequences)
            start = rng.randrange(len(sequence) - read_length)
            handle.write(f">read{index}\n{sequence[start : start + read_length]}\n")


@app.command(hidden=True)
def prepare(folder: Path, count: int) -> None:
    """``count`` reads in ``folder``/reads.fasta, their chunks, frames, shards and the demo's
    DNA and protein features of each shard (run as a child process by ``main``)."""
    from virnucpro.embed.embed_files import extract_features
    from virnucpro.embed.embedders.registry import get_embedder
    from virnucpro.preprocess.chunking import chunk_sequences
    from virnucpro.preprocess.frames import select_frames
    from virnucpro.preprocess.shards import shard_frames

    reads = folder / "reads.fasta"
    write_reads(reads, count, genome_sequences())
    chunk_sequences(reads, folder / "chunks.fasta", READ_LENGTH)
    select_frames(
        folder / "chunks.fasta", folder / "nt.fasta", folder / "aa.fasta", folder / "frames.tsv"
    )
    shard_frames([folder / "nt.fasta"], [folder / "aa.fasta"], folder / "shards", 10_000, "s")
    for shard in sorted((folder / "shards").glob("*.nucleotide.fasta")):
        name = shard.name.removesuffix(".nucleotide.fasta")
        dna, protein = folder / f"{name}.dna.safetensors", folder / f"{name}.aa.safetensors"
        embed = ("fp32", "cpu", READ_LENGTH, 16384)
        extract_features([(shard, dna)], get_embedder("dna_composition"), *embed)
        proteins = folder / "shards" / f"{name}.protein.fasta"
        extract_features([(proteins, protein)], get_embedder("aa_composition"), *embed)


def measure(folder: Path) -> dict[str, tuple[float, float]]:
    """Wall seconds and peak RSS (MiB) of classify, the report and predict on one size."""
    reads = folder / "reads.fasta"
    # Each shard's DNA and protein files, joined by classify as it reads them (the pipeline's way)
    pairs = sorted([*folder.glob("*.dna.safetensors"), *folder.glob("*.aa.safetensors")])
    features = [arg for path in pairs for arg in ("--features", str(path))]
    classify = ["classify.py", "--classifier", str(DEMO), *features, "--report",
                str(folder / "frames.tsv"), "--sequences", str(reads),
                "--output-dir", str(folder / "out"), "--prefix", "reads"]  # fmt: skip
    report = ["prediction_report.py", "--chunk-calls", str(folder / "out" / "reads.chunk_calls.tsv"),
              "--sequence-calls", str(folder / "out" / "reads.sequence_calls.tsv"),
              "--classifier", str(DEMO), "--output", str(folder / "out" / "report.html")]  # fmt: skip
    predict = ["virnucpro", "predict", str(reads), "--classifier", str(DEMO),
               "--output-dir", str(folder / "predict"), "--device", "cpu"]  # fmt: skip
    return {
        "classify.py": run_step(classify, folder),
        "prediction_report.py": run_step(report, folder),
        "virnucpro predict": run_step(predict, folder),
    }


@app.command()
def run(
    reads: Annotated[
        str, typer.Option(help="Comma-separated numbers of simulated reads.")
    ] = "10000,100000,1000000",
) -> None:
    """Print one table: each step's wall time and peak RSS at each size."""
    sizes = [int(size) for size in reads.split(",")]
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for size in sizes:
            folder = Path(scratch) / str(size)
            folder.mkdir()
            subprocess.run(
                [sys.executable, __file__, "prepare", str(folder), str(size)], check=True
            )
            results[size] = measure(folder)
            print(f"{size:,} reads done", flush=True)
    print(machine_line())
    print("\n| step | " + " | ".join(f"{size:,} reads: s / peak MiB" for size in sizes) + " |")
    print("|---|" + "---|" * len(sizes))
    for step in results[sizes[0]]:
        cells = [f"{results[s][step][0]:.1f} / {results[s][step][1]:,.0f}" for s in sizes]
        print(f"| {step} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    app()
