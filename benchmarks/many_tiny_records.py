#!/usr/bin/env python3
"""Benchmark the per-record cost of preprocessing and prediction on many tiny records.

Writes a FASTA of --records records of --length random bases each (2 million of
1 bp by default, 23 MB), then runs the steps as a user runs them, each in a
fresh process: chunk_sequences.py, select_frames.py on its chunks, and
``virnucpro predict`` with the bundled model-free demo classifier on the CPU.
Prints the wall time and peak resident memory of each step.

    python benchmarks/many_tiny_records.py [--records 2000000] [--length 1]
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer
from machine import machine_line  # beside this script: benchmarks/machine.py

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "assets" / "models" / "composition_classifier"
app = typer.Typer(add_completion=False)


def write_records(path: Path, records: int, length: int) -> None:
    """``records`` records ``r{i}`` of ``length`` random bases, one line each."""
    rng = random.Random(1)
    with path.open("w") as handle:
        for index in range(records):
            handle.write(f">r{index}\n{''.join(rng.choices('ACGT', k=length))}\n")


def run_step(command: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of ``command``, found on PATH like the pipeline's."""
    env = {
        **os.environ,
        "PATH": os.pathsep.join([str(ROOT / "bin"), str(Path(sys.executable).parent), os.environ["PATH"]]),
    }  # fmt: skip
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    stderr = process.stderr.read() if process.stderr else ""
    _, status, usage = os.wait4(process.pid, 0)  # this child's own peak memory
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{stderr}")
    return seconds, usage.ru_maxrss / 1024  # KiB on Linux


@app.command()
def main(
    records: Annotated[int, typer.Option(help="Number of records.")] = 2_000_000,
    length: Annotated[int, typer.Option(help="Bases in each record.")] = 1,
) -> None:
    """Time and measure chunk, frames and predict on many tiny records."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_records(work / "tiny.fasta", records, length)
        size = (work / "tiny.fasta").stat().st_size
        steps = {
            "chunk_sequences.py": ["chunk_sequences.py", "--input", "tiny.fasta",
                                   "--output", "chunks.fasta", "--chunk-size", "300"],
            "select_frames.py": ["select_frames.py", "--input", "chunks.fasta", "--nucleotide",
                                 "frames.nucleotide.fasta", "--protein", "frames.protein.fasta",
                                 "--report", "frames.tsv"],
            "virnucpro predict": ["virnucpro", "predict", "tiny.fasta", "--classifier", str(DEMO),
                                  "--device", "cpu", "--output-dir", "predictions"],
        }  # fmt: skip
        print(machine_line())
        print(f"input: {records:,} records of {length} bp ({size / 1e6:.1f} MB)")
        print("| step | seconds | peak RSS (MiB) |")
        print("|---|---|---|")
        total = 0.0
        for name, command in steps.items():
            seconds, peak = run_step(command, work)
            total += seconds
            print(f"| {name} | {seconds:.1f} | {peak:.0f} |")
        print(f"| all three | {total:.1f} | |")


if __name__ == "__main__":
    app()
