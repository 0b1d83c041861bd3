#!/usr/bin/env python3
"""Benchmark chunk + frame selection against the plain reference implementation.

Both run in this process on the same input (the 1.85 Mb S. pyogenes genome by
default), best of --repeats; then peak memory of the package's streaming steps
is measured in fresh child processes on 1x, 10x and 100x that input (copies of
the genome as separate records), to show that it stays flat as input grows.

    python benchmarks/preprocess.py [--genbank FILE] [--chunk-size 300]
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer
from machine import machine_line  # beside this script: benchmarks/machine.py

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import reference  # noqa: E402  (the plain implementation the tests use)

from virnucpro.files.sequence_files import read_genbank  # noqa: E402
from virnucpro.preprocess.chunking import chunk_sequences  # noqa: E402
from virnucpro.preprocess.frames import select_frames  # noqa: E402

DEFAULT_GENOME = ROOT / "assets" / "test_full" / "Streptococcus_pyogenes_M1_GAS.gb.gz"
app = typer.Typer(add_completion=False)


def write_copies(genbank: Path, copies: int, output: Path) -> int:
    """Write ``copies`` copies of the genome as separate FASTA records; return the bases."""
    sequence = str(next(read_genbank(genbank)).seq)
    with output.open("w") as handle:
        for copy in range(1, copies + 1):
            handle.write(f">genome_{copy}\n")
            for start in range(0, len(sequence), 80):
                handle.write(sequence[start : start + 80] + "\n")
    return copies * len(sequence)


def ours(fasta: Path, work: Path, chunk_size: int) -> None:
    chunk_sequences(fasta, work / "chunks.fasta", chunk_size)
    select_frames(work / "chunks.fasta", work / "nt.fasta", work / "aa.fasta", work / "frames.tsv")


def plain(fasta: Path, work: Path, chunk_size: int) -> None:
    reference.chunk_fasta(fasta, work / "ref_chunks.fasta", chunk_size)
    reference.select_frames_fasta(
        work / "ref_chunks.fasta", work / "ref_nt.fasta", work / "ref_aa.fasta"
    )


def best_time(step, repeats: int, *args) -> float:
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        step(*args)
        timings.append(time.perf_counter() - start)
    return min(timings)


@app.command()
def main(
    genbank: Annotated[Path, typer.Option(help="Genome to benchmark on.")] = DEFAULT_GENOME,
    chunk_size: Annotated[int, typer.Option(help="Chunk size in bases.")] = 300,
    repeats: Annotated[int, typer.Option(help="Timed runs per implementation (best is kept).")] = 3,
    memory_run: Annotated[
        Path | None,
        typer.Option(hidden=True, help="Child mode: run ours on this FASTA, print peak RSS."),
    ] = None,
) -> None:
    """Time chunk + frames (package vs reference) and measure peak RSS at 1x, 10x, 100x."""
    if memory_run is not None:
        with tempfile.TemporaryDirectory() as work:
            ours(memory_run, Path(work), chunk_size)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bases = write_copies(genbank, 1, work / "genome.fasta")
        fast = best_time(ours, repeats, work / "genome.fasta", work, chunk_size)
        slow = best_time(plain, repeats, work / "genome.fasta", work, chunk_size)
        for name in ("nt.fasta", "aa.fasta"):
            if (work / name).read_bytes() != (work / f"ref_{name}").read_bytes():
                raise SystemExit(f"outputs differ: {name}")
        print(machine_line())
        print(f"input: {genbank.name}, {bases:,} bases, chunk size {chunk_size}, best of {repeats}")
        print("| implementation | chunk + frames (s) | Mb/s |")
        print("|---|---|---|")
        print(f"| reference (plain Python) | {slow:.3f} | {bases / slow / 1e6:.2f} |")
        print(f"| virnucpro | {fast:.3f} | {bases / fast / 1e6:.2f} |")
        print(f"speedup: {slow / fast:.1f}x (identical outputs)\n")
        print("| input | bases | peak RSS (MiB) |")
        print("|---|---|---|")
        for copies in (1, 10, 100):
            fasta = work / f"copies_{copies}.fasta"
            size = write_copies(genbank, copies, fasta)
            child = subprocess.run(
                [sys.executable, __file__, "--memory-run", str(fasta), "--chunk-size", str(chunk_size)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            print(f"| {copies}x | {size:,} | {int(child.stdout.split()[-1]) / 1024:.0f} |")
            fasta.unlink()


if __name__ == "__main__":
    app()
