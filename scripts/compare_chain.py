#!/usr/bin/env python3
"""The compare workflow's chain of bin/ commands, without Nextflow, timed step by step.

Runs what ``--mode compare`` runs, with the options conf/modules.config passes:
BUILD_TRAINING_SET per samplesheet row, SPLIT_DATASET (sketches and counts
included), SHARD_FRAMES, EMBED_DNA once per shard, EMBED_PROTEIN per embedder
and shard, TRAIN_CLASSIFIER and EVALUATE_CLASSIFIER on each shard's DNA and protein
files (joined as they are read: no merged copy), BENCHMARK_EMBEDDER per embedder, then COMPARE_EMBEDDERS with every embedder's
predictions and every input's counts. It gives the figures of docs/comparison.md
where Nextflow cannot run; tests/test_compare_chain.py and `make demo` run it.

Usage: scripts/compare_chain.py --samplesheet assets/test_full/samplesheet.csv --workdir /tmp/chain
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / "bin"


def _env() -> dict[str, str]:
    """bin/ first on PATH, then this Python, as a task sees them."""
    path = os.pathsep.join([str(BIN), str(Path(sys.executable).parent), os.environ["PATH"]])
    return {**os.environ, "PATH": path, "NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "200"}


def run(*args: object) -> None:
    """Run one bin/ command; its stderr is shown when it fails."""
    result = subprocess.run(
        [str(arg) for arg in args], env=_env(), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"{args[0]} failed ({result.returncode}):\n{result.stderr[-4000:]}")


def _repeat(option: str, values: list[Path]) -> list[object]:
    return [item for value in values for item in (option, value)]


class Timer:
    """Wall-clock seconds per step, printed as the chain goes."""

    def __init__(self) -> None:
        self.steps: dict[str, float] = {}

    def __call__(self, name: str, start: float) -> None:
        self.steps[name] = time.perf_counter() - start
        print(f"{name}: {self.steps[name]:.1f} s", flush=True)


def read_samplesheet(path: Path) -> list[tuple[str, Path, str]]:
    """(sample, GenBank path, label) rows; paths relative to the samplesheet's folder."""
    with open(path, newline="") as handle:
        return [
            (row["sample"], path.parent / row["sequences"], row["label"])
            for row in csv.DictReader(handle)
        ]


def compare_chain(
    samples: list[tuple[str, Path, str]],
    workdir: Path,
    embedders: list[str],
    dna_model: str,
    baseline: str,
    group_by: str = "cluster",
    models_dir: Path | None = ROOT / "assets" / "models",
    chunk_size: int = 300,
    frames_per_shard: int = 2000,
    bootstrap: int = 1000,
    jobs: int = 2,
) -> dict[str, float]:
    """Run the chain in ``workdir``; returns the seconds of each step."""
    timer = Timer()
    common = ("--chunk-size", chunk_size, "--precision", "fp32", "--device", "cpu")
    sets = workdir / "training_set"
    sets.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()

    def build(sample: tuple[str, Path, str]) -> None:
        name, genbank, label = sample
        run("build_training_set.py", "--genbank", genbank, "--label", label, "--chunk-size", chunk_size,
            "--nucleotide", sets / f"{name}.nucleotide.fasta", "--protein", sets / f"{name}.protein.fasta",
            "--sources", sets / f"{name}.sources.tsv", "--counts", sets / f"{name}.counts.tsv",
            "--sketches", sets / f"{name}.sketches.safetensors")  # fmt: skip

    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(build, samples))
    timer("build_training_set", start)

    names = sorted(name for name, _, _ in samples)
    start = time.perf_counter()
    split = workdir / "split"
    run("split_dataset.py", *_repeat("--sources", [sets / f"{n}.sources.tsv" for n in names]),
        *_repeat("--sketches", [sets / f"{n}.sketches.safetensors" for n in names]),
        "--output-dir", split, "--seed", 42, "--test-fraction", 0.1, "--val-fraction", 0.1,
        "--group-by", group_by)  # fmt: skip
    lists = [split / f"{name}.tsv" for name in ("train", "validation", "test")]
    run("shard_frames.py", *_repeat("--nucleotide", [sets / f"{n}.nucleotide.fasta" for n in names]),
        *_repeat("--protein", [sets / f"{n}.protein.fasta" for n in names]), *_repeat("--ids", lists),
        "--output-dir", workdir / "shards", "--prefix", "training_set",
        "--frames-per-shard", frames_per_shard)  # fmt: skip
    shards = sorted(
        path.name.removesuffix(".nucleotide.fasta")
        for path in (workdir / "shards").glob("*.nucleotide.fasta")
    )
    timer("split_and_shard", start)

    def model(embedder: str) -> list[object]:
        folder = None if models_dir is None else models_dir / embedder
        return ["--model-dir", folder] if folder is not None and folder.is_dir() else []

    # One model load for all shards, as an embedding task of --shards_per_task shards does
    features = workdir / "features"
    start = time.perf_counter()
    run("embed_dna.py", *_repeat("--input", [workdir / "shards" / f"{s}.nucleotide.fasta" for s in shards]),
        *_repeat("--output", [features / f"{s}.dna.safetensors" for s in shards]),
        "--embedder", dna_model, *model(dna_model), *common)  # fmt: skip
    timer("embed_dna", start)
    for embedder in embedders:
        start = time.perf_counter()
        proteins = [features / f"{s}.{embedder}.protein.safetensors" for s in shards]
        run("embed_protein.py", *_repeat("--input", [workdir / "shards" / f"{s}.protein.fasta" for s in shards]),
            *_repeat("--output", proteins), "--embedder", embedder, *model(embedder), *common)  # fmt: skip
        timer(f"embed_protein {embedder}", start)

    start = time.perf_counter()
    for embedder in embedders:
        merged = _repeat(
            "--features",
            [
                features / f"{s}.{kind}.safetensors"
                for s in shards
                for kind in ("dna", f"{embedder}.protein")
            ],
        )
        run("train_classifier.py", *merged, "--train", lists[0], "--validation", lists[1],
            "--output-dir", workdir / f"{embedder}_classifier", "--seed", 42)  # fmt: skip
        run("evaluate_classifier.py", "--classifier", workdir / f"{embedder}_classifier", *merged,
            "--test", lists[2], "--output-dir", workdir / "evaluation" / embedder,
            "--bootstrap", bootstrap, "--seed", 42)  # fmt: skip
    timer("train_and_evaluate", start)

    start = time.perf_counter()
    for embedder in embedders:
        run("benchmark_embedder.py", "--embedder", embedder, *model(embedder),
            "--input", workdir / "shards" / f"{shards[0]}.protein.fasta",
            "--output", workdir / "benchmarks" / f"{embedder}.benchmark.json",
            "--precision", "fp32", "--device", "cpu")  # fmt: skip
    ordered = sorted(embedders)
    run("compare_embedders.py",
        *_repeat("--evaluation", [workdir / "evaluation" / e / "evaluation.json" for e in ordered]),
        *_repeat("--predictions", [workdir / "evaluation" / e / "test_predictions.tsv" for e in ordered]),
        *_repeat("--benchmark", [workdir / "benchmarks" / f"{e}.benchmark.json" for e in ordered]),
        *_repeat("--counts", [sets / f"{n}.counts.tsv" for n in names]),
        "--output-dir", workdir / "comparison", "--baseline", baseline,
        "--bootstrap", bootstrap, "--seed", 42)  # fmt: skip
    timer("benchmark_and_compare", start)
    print(f"total: {sum(timer.steps.values()):.1f} s -> {workdir / 'comparison'}")
    return timer.steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samplesheet", type=Path, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--embedders", default="tiny_esm2,tiny_fastesm2,aa_composition")
    parser.add_argument("--dna-model", default="tiny_dnabert_s")
    parser.add_argument("--baseline", default="tiny_esm2")
    parser.add_argument("--group-by", default="cluster", choices=["cluster", "genome", "none"])
    parser.add_argument("--frames-per-shard", type=int, default=2000)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    compare_chain(
        read_samplesheet(args.samplesheet),
        args.workdir,
        args.embedders.split(","),
        args.dna_model,
        args.baseline,
        args.group_by,
        frames_per_shard=args.frames_per_shard,
        bootstrap=args.bootstrap,
        jobs=args.jobs,
    )


if __name__ == "__main__":
    main()
