#!/usr/bin/env python3
"""Fixed inputs of the module and subworkflow nf-tests, from the bin/ commands the modules run.

A module's nf-test reads what its upstream modules would hand it from tests/data/modules/,
as nf-core modules read fixed test data, instead of running those modules first in a
setup block (slow, and one upstream failure failed every test downstream). The files
are written here by the same bin/ commands, with the same options
(scripts/nf_test_expected.py's helpers: the modules' scripts, conf/modules.config,
the test profiles), on the bundled inputs of assets/test and assets/models:

- mixed_4/: the module tests' sample, four contigs of mixed_example.fasta; its chunks
  (CHUNK_SEQUENCES), frames and frames report (SELECT_FRAMES), its frames in shards of
  15 (SHARD_FRAMES, prefix test) and its features as one shard (EMBED_DNA
  dna_composition, EMBED_PROTEIN aa_composition and tiny_esm2).
- training/: the SPLIT_DATASET test's three genomes, their sources and sketches
  (BUILD_TRAINING_SET), their split's train and validation lists (SPLIT_DATASET) and the
  composition features of the split's frames as one shard (SHARD_FRAMES, EMBED_*).
- evaluation/: the test list of the test_compare profile's split (all seven genomes,
  both classes in it), the features of its frames, and the aa_composition and
  tiny_esm2 classifiers (TRAIN_CLASSIFIER on that split's train and validation frames)
  trained with --hidden 16: at the modules' width of 512 they would weigh 1.6 and
  0.8 MB, and evaluation reads any width.
- comparison/: EVALUATE_CLASSIFIER's outputs for those two classifiers,
  BENCHMARK_EMBEDDER's for both embedders on mixed_4's proteins, and the counts of the
  seven genomes (BUILD_TRAINING_SET).
- multiqc/: the MultiQC custom content of PREDICTION_REPORT (its nf-test's two samples)
  and of COMPARE_EMBEDDERS (its nf-test's inputs, tiny_esm2 the baseline), and the
  software versions PIPELINE_COMPLETION writes (Groovy: VERSIONS_MQC, as it lays them out);
  unreadable/ a comparison file MultiQC cannot parse (the step must fail, naming it).

Reproducible bytes: the commands are seeded and deterministic on a CPU; model folders
are linked into the work folder under their own name, as Nextflow stages them, so the
files record "tiny_esm2", not where the clone lies; the benchmarks' timings, memory
and device name are measurements, so they are pinned to PINNED_SECONDS (the rates
derived from them as benchmark_embedder.py derives them). The files record the
virnucpro version that wrote them (tool_version): a version bump rewrites them, as it
rewrites tests/expected/nf_test_outputs.json.

What the check compares: the numbers a model computes (tiny_esm2 features, trained
weights, losses, scores, metrics) differ in their last bits between CPUs and torch
versions, so where the bytes differ, .safetensors, .json and .tsv files are compared
value by value: floats within TOLERANCE, the digests of such floats (FLOAT_DIGESTS)
aside, everything else exactly; other files (FASTA) byte for byte.

Usage: scripts/module_test_data.py --write | --check
"""

from __future__ import annotations

import json
import math
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from nf_test_expected import (
    DEFAULT_FRAMES_PER_SHARD,
    GENOMES,
    MODELS,
    ROOT,
    SAMPLE,
    SAMPLE_FRAMES_PER_SHARD,
    SEED,
    SPLIT_TEST_GENOMES,
    SPLITS,
    Paths,
    benchmark_embedder,
    build_training_set,
    embed,
    evaluate_classifier,
    module_sample,
    run,
    shard_frames,
    split_dataset,
    train_classifier,
    write_or_check,
)
from safetensors import safe_open

DATA = ROOT / "tests" / "data" / "modules"
TINY_ESM2 = MODELS / "tiny_esm2"
# The protein embedders of the evaluation and comparison, on the same DNA embedder
PROTEIN_EMBEDDERS = {"aa_composition": None, "tiny_esm2": TINY_ESM2}
DNA_EMBEDDER = "dna_composition"
# See the module docstring: evaluation reads a classifier of any width
CLASSIFIER_OPTIONS = {"--hidden": 16}
# The COMPARE_EMBEDDERS test's evaluations were bootstrapped 200 times
BOOTSTRAP = 200
# Seconds per timed pass written into the benchmarks, the baseline slower
PINNED_SECONDS = {"aa_composition": 0.01, "tiny_esm2": 0.1}
PINNED_DEVICE = "pinned by scripts/module_test_data.py"
PINNED_PEAK_MEMORY_GIB = 0.5
# Floats from model arithmetic: relative and absolute tolerance, far below what a
# change to a command moves
TOLERANCE = {"rel_tol": 1e-3, "abs_tol": 1e-5}
# Digests of such floats (the training features' values)
FLOAT_DIGESTS = {"data_sha256", "classifier_data_sha256"}
# The PREDICTION_REPORT nf-test's hand-made tables, its samples in id order
PREDICTION_TABLES = ROOT / "modules" / "local" / "prediction_report" / "tests" / "data"
REPORT_SAMPLES = ("alpha", "beta")
# pipeline_info's versions as softwareVersions (utils_nfcore_virnucpro_pipeline) writes
# them for MultiQC: {process: {tool: "version"}}, the pipeline last as Workflow
VERSIONS_MQC = (
    'PREDICTION_REPORT:\n    python: "3.12.3"\n    virnucpro: "0.1.0"\n'
    'Workflow:\n    virnucpro-nf: "0.1.0"\n    nextflow: "26.04.6"\n'
)


def keep(folder: Path, *paths: Path) -> None:
    """Copy outputs into ``folder`` under their own names."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in paths:
        if path.is_dir():
            shutil.copytree(path, folder / path.name)
        else:
            shutil.copy(path, folder)


def one_shard(work: Path, frames: list[Paths], ids: list[Path], prefix: str) -> tuple[str, Paths]:
    """SHARD_FRAMES at its default size, which puts these frames in one shard: its name
    and files."""
    shards = shard_frames(work, frames, ids, DEFAULT_FRAMES_PER_SHARD, prefix)
    if len(shards) != 1:
        raise RuntimeError(f"one shard expected, got {sorted(shards)}")
    return next(iter(shards.items()))


def split_of(work: Path, genomes: list[Paths]) -> Paths:
    """SPLIT_DATASET of these genomes' outputs, in a folder of its own."""
    work.mkdir()
    sources = [files["sources"] for files in genomes]
    return split_dataset(work, sources, [files["sketches"] for files in genomes])


def embedded(work: Path, shards: dict[str, Paths]) -> dict[str, Paths]:
    """Every shard embedded by DNA_EMBEDDER ("dna") and each protein embedder, one task
    per embedder: embedder -> shard -> features."""
    nucleotides = {name: files["nucleotide"] for name, files in shards.items()}
    proteins = {name: files["protein"] for name, files in shards.items()}
    return {"dna": embed(work, "dna", nucleotides, DNA_EMBEDDER)} | {
        embedder: embed(work, "protein", proteins, embedder, model_dir)
        for embedder, model_dir in PROTEIN_EMBEDDERS.items()
    }


def pair(features: dict[str, Paths], shard: str, embedder: str) -> list[Path]:
    """A shard's DNA and protein features, as the modules read them."""
    return [features["dna"][shard], features[embedder][shard]]


def write(folder: Path) -> None:
    """Every fixed input, written afresh into ``folder`` (emptied first)."""
    shutil.rmtree(folder, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="module_test_data_") as scratch:
        work = Path(scratch)
        chunks, frames = module_sample(work)
        genomes = {genome: build_training_set(work, genome) for genome in sorted(GENOMES)}
        three = [genomes[genome] for genome in SPLIT_TEST_GENOMES]
        seven = list(genomes.values())
        three_split, seven_split = split_of(work / "three", three), split_of(work / "seven", seven)
        # One shard each: the frames of the three genomes' split (TRAIN_CLASSIFIER test),
        # the seven genomes' train and validation frames (the evaluated classifiers), and
        # their test frames
        training = one_shard(work, three, [three_split[name] for name in SPLITS], "training_set")
        compared = one_shard(
            work, seven, [seven_split["train"], seven_split["validation"]], "compare_training"
        )
        tested = one_shard(work, seven, [seven_split["test"]], "test_set")
        features = embedded(work, dict([(SAMPLE, frames), training, compared, tested]))

        sample = folder / SAMPLE
        keep(sample, work / f"{SAMPLE}.fasta", chunks, *frames.values())
        keep(sample, *(found[SAMPLE] for found in features.values()))
        sample_shards = shard_frames(work, [frames], [], SAMPLE_FRAMES_PER_SHARD, "test")
        keep(
            sample / "shards",
            *(path for found in sample_shards.values() for path in found.values()),
        )

        keep(
            folder / "training",
            *(files[kind] for files in three for kind in ("sources", "sketches")),
        )
        keep(folder / "training", *pair(features, training[0], "aa_composition"))
        keep(folder / "training" / "split", three_split["train"], three_split["validation"])

        evaluation, comparison = folder / "evaluation", folder / "comparison"
        keep(evaluation, seven_split["test"], *(found[tested[0]] for found in features.values()))
        keep(comparison / "counts", *(files["counts"] for files in seven))
        (work / "evaluations").mkdir()
        for embedder, model_dir in PROTEIN_EMBEDDERS.items():
            trained_on = pair(features, compared[0], embedder)
            classifier = train_classifier(
                work, embedder, trained_on, seven_split, CLASSIFIER_OPTIONS
            )
            keep(evaluation, classifier)
            # What the EVALUATE_CLASSIFIER test reads, evaluated
            evaluated = evaluate_classifier(
                work / "evaluations",
                embedder,
                evaluation / classifier.name,
                [evaluation / path.name for path in pair(features, tested[0], embedder)],
                evaluation / "test.tsv",
                BOOTSTRAP,
            )
            keep(comparison / embedder, *evaluated.values())
            benchmark = benchmark_embedder(
                work, embedder, sample / frames["protein"].name, model_dir
            )
            keep(comparison, pinned(benchmark, PINNED_SECONDS[embedder]))
        multiqc_content(work / "multiqc", comparison, folder / "multiqc")


def multiqc_content(work: Path, comparison: Path, folder: Path) -> None:
    """What MULTIQC_REPORT reads: the --multiqc files of PREDICTION_REPORT and
    COMPARE_EMBEDDERS on their nf-tests' inputs, and the software versions."""
    work.mkdir()
    run(
        "prediction_report.py",
        {
            "--chunk-calls": [PREDICTION_TABLES / f"{s}.chunk_calls.tsv" for s in REPORT_SAMPLES],
            "--sequence-calls": [
                PREDICTION_TABLES / f"{s}.sequence_calls.tsv" for s in REPORT_SAMPLES
            ],
            "--output": work / "report.html",
            "--multiqc": True,
        },
        work,
    )
    embedders = sorted(PROTEIN_EMBEDDERS)
    run(
        "compare_embedders.py",
        {
            "--evaluation": [comparison / e / "evaluation.json" for e in embedders],
            "--predictions": [comparison / e / "test_predictions.tsv" for e in embedders],
            "--benchmark": [comparison / f"{e}.benchmark.json" for e in embedders],
            "--counts": sorted((comparison / "counts").iterdir()),
            "--output-dir": work,
            "--multiqc": True,
            "--baseline": "tiny_esm2",
            "--bootstrap": BOOTSTRAP,
            "--seed": SEED,
        },
        work,
    )
    keep(folder, *sorted(work.glob("*_mqc.*")))
    (folder / "virnucpro_software_mqc_versions.yml").write_text(VERSIONS_MQC)
    (folder / "unreadable").mkdir()
    (folder / "unreadable" / "virnucpro_comparison_mqc.tsv").write_text("not a table\n")


def pinned(benchmark: Path, seconds: float) -> Path:
    """A benchmark whose measurements are replaced by ``seconds`` for every pass, and the
    rates that follow (median, slowest and fastest pass alike), rounded as written."""
    result = json.loads(benchmark.read_text())
    rates = {
        f"{amount}_per_second{end}": round(result[amount] / seconds, digits)
        for amount, digits in (("sequences", 2), ("tokens", 1))
        for end in ("", "_low", "_high")
    }
    result |= {
        "device_name": PINNED_DEVICE,
        "load_seconds": 0.0,
        "seconds_per_pass": [seconds] * result["repeats"],
        "seconds": seconds,
        **rates,
        "peak_memory_gib": PINNED_PEAK_MEMORY_GIB,
    }
    benchmark.write_text(json.dumps(result, indent=2) + "\n")
    return benchmark


# --- The check


def files(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()}


def same_number(stored: float, found: float) -> bool:
    """Within TOLERANCE, or both not a number (a metric undefined on both sides)."""
    return math.isclose(stored, found, **TOLERANCE) or (math.isnan(stored) and math.isnan(found))


def same_value(stored: Any, found: Any, key: str = "") -> bool:
    """JSON values: floats within TOLERANCE, digests of floats ignored, the rest exact."""
    if key in FLOAT_DIGESTS:
        return type(stored) is type(found)
    if isinstance(stored, dict) and isinstance(found, dict):
        return stored.keys() == found.keys() and all(
            same_value(stored[name], found[name], name) for name in stored
        )
    if isinstance(stored, list) and isinstance(found, list):
        return len(stored) == len(found) and all(map(same_value, stored, found))
    if isinstance(stored, float) or isinstance(found, float):
        return isinstance(found, int | float) and same_number(stored, found)
    return stored == found


NUMBER = re.compile(r"-?(\d+\.\d*|\.\d+)([eE][-+]?\d+)?|-?\d+[eE][-+]?\d+|nan|inf")


def same_cell(stored: str, found: str) -> bool:
    """A table cell: a decimal number within TOLERANCE, anything else exact."""
    if NUMBER.fullmatch(stored) and NUMBER.fullmatch(found):
        return same_number(float(stored), float(found))
    return stored == found


def same_table(stored: Path, found: Path) -> bool:
    rows = [
        [line.split("\t") for line in path.read_text().splitlines()] for path in (stored, found)
    ]
    return len(rows[0]) == len(rows[1]) and all(
        len(a) == len(b) and all(map(same_cell, a, b)) for a, b in zip(*rows, strict=True)
    )


def same_json(stored: Path, found: Path) -> bool:
    return same_value(json.loads(stored.read_text()), json.loads(found.read_text()))


def same_tensors(stored: Path, found: Path) -> bool:
    """Same metadata (digests of floats aside), tensor names, types and shapes; float
    tensors within TOLERANCE, the others equal."""
    with safe_open(stored, "np") as a, safe_open(found, "np") as b:
        if not same_value(a.metadata(), b.metadata()) or set(a.keys()) != set(b.keys()):
            return False
        for name in a.keys():  # noqa: SIM118 (a safe_open handle is not a mapping)
            x, y = a.get_tensor(name), b.get_tensor(name)
            if x.dtype != y.dtype or x.shape != y.shape:
                return False
            if np.issubdtype(x.dtype, np.floating):
                if not np.allclose(x, y, rtol=TOLERANCE["rel_tol"], atol=TOLERANCE["abs_tol"]):
                    return False
            elif not np.array_equal(x, y):
                return False
    return True


COMPARISONS: dict[str, Callable[[Path, Path], bool]] = {
    ".safetensors": same_tensors,
    ".json": same_json,
    ".tsv": same_table,
}


def differences(stored: Path, found: Path) -> list[str]:
    """One line per file that is missing, extra or different in ``found``."""
    names = files(stored) | files(found)
    lines = []
    for name in sorted(names):
        a, b = stored / name, found / name
        if not a.is_file():
            lines.append(f"{name}: not in {stored}")
        elif not b.is_file():
            lines.append(f"{name}: no longer written")
        elif a.read_bytes() != b.read_bytes():
            same = COMPARISONS.get(a.suffix)
            if same is None or not same(a, b):
                lines.append(f"{name}: differs")
    return lines


def check() -> list[str]:
    """What differs between the committed files and the files written afresh."""
    with tempfile.TemporaryDirectory(prefix="module_test_data_check_") as folder:
        write(Path(folder) / "modules")
        return differences(DATA, Path(folder) / "modules")


def main(argv: list[str] | None = None) -> int:
    return write_or_check(argv, __doc__, Path(__file__).name, DATA, lambda: write(DATA), check)


if __name__ == "__main__":
    sys.exit(main())
