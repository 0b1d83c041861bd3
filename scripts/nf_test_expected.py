#!/usr/bin/env python3
"""Expected outputs of the nf-tests, from the bin/ commands the modules run.

nf-test runs the modules and the pipeline in containers, elsewhere; this runs the
same commands here, on the same inputs with the same options (the modules' scripts,
conf/modules.config, the test profiles), so that the nf-tests can assert exact
contents instead of shapes: md5 of the text outputs that hold no floating-point
number (never features or scores), and counts. The nf-tests (and tests/pipeline/)
read tests/expected/nf_test_outputs.json; tests/test_nf_test_expected.py fails when
an output changes and the file was not rewritten. The module tests' fixed inputs
(tests/data/modules/) are written with the same helpers by scripts/module_test_data.py.

Usage: scripts/nf_test_expected.py --write | --check
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from virnucpro import __version__
from virnucpro.files.contracts import Table
from virnucpro.files.sequence_files import read_fasta
from virnucpro.files.tables import read_table
from virnucpro.preprocess.frames import NO_FRAME

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / "bin"
ASSETS = ROOT / "assets" / "test"
MODELS = ROOT / "assets" / "models"
CLASSIFIER = MODELS / "composition_classifier"
EXPECTED = ROOT / "tests" / "expected" / "nf_test_outputs.json"

# What the pipeline passes: nextflow.config defaults, conf/modules.config, and
# conf/test.config / conf/test_compare.config (CPU, fp32, 100 frames per shard,
# embedding tasks of up to 3 shards; tests/test_nf_test_expected.py checks the configs)
CHUNK_SIZE = 300
FRAMES_PER_SHARD = 100
SHARDS_PER_TASK = 3
DEFAULT_FRAMES_PER_SHARD = 10000
# params.seed: SPLIT_DATASET, TRAIN_CLASSIFIER and EVALUATE_CLASSIFIER
SEED = 42
# balance is true: no --no-balance
SPLIT_OPTIONS = {
    "--seed": SEED,
    "--test-fraction": 0.1,
    "--val-fraction": 0.1,
    "--group-by": "cluster",
    "--cluster-threshold": 0.3,
}
# EMBED_DNA, EMBED_PROTEIN and BENCHMARK_EMBEDDER (the embedders' chunk size is a module input)
DEVICE_OPTIONS = {"--precision": "fp32", "--device": "cpu", "--token-budget": 16384}
BENCHMARK_REPEATS = 5
MIN_VIRAL_FRACTION = 0.5
# assets/test/samplesheet_train.csv: sample id -> (GenBank file, label)
GENOMES = {
    "microviruses_12": ("microviruses_12.gbk", "viral"),
    "EU851978": ("EU851978.gbk", "viral"),
    "KF527485": ("KF527485.gbk", "viral"),
    "NC_005816": ("NC_005816.gb", "host"),
    "arab1": ("arab1.gb.gz", "host"),
    "NC_000932": ("NC_000932.gb.gz", "host"),
    "extra_keywords": ("extra_keywords.gb.gz", "host"),
}
SPLITS = ("train", "validation", "test")
# The SPLIT_DATASET test's genomes (one viral, two host), in sample id order as
# workflows/train.nf hands them over
SPLIT_TEST_GENOMES = ("NC_005816", "arab1", "microviruses_12")
# The module tests' sample (tests/data/modules/, scripts/module_test_data.py): four
# contigs of mixed_example.fasta, two called virus by the demo classifier (one with low
# coverage) and two others (one a 910 bp piece): all the calls on a tenth of its frames
SAMPLE = "mixed_4"
SAMPLE_RECORDS = ("MH552510.2", "CP003812.1", "NZ_CP036309.1", "VIBRANT_sample_A")
# Its frames in shards of 15: three shards, the last one not full
SAMPLE_FRAMES_PER_SHARD = 15

Paths = dict[str, Path]


def run(script: str, options: dict[str, Any], cwd: Path) -> None:
    """Run ``bin/<script>`` with this interpreter; a list value repeats its option, as the
    modules pass lists of files, and True gives a flag. A failure stops with the
    script's stderr."""
    args = [str(BIN / script)]
    for option, value in options.items():
        if value is True:
            args.append(option)
            continue
        for item in value if isinstance(value, list) else [value]:
            args += [option, str(item)]
    result = subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    if result.returncode:
        raise RuntimeError(f"{script} exited {result.returncode}:\n{result.stderr}")


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def fasta_ids(path: Path) -> list[str]:
    return [record_id for record_id, _ in read_fasta(path, check=lambda *_: None)]


def table(path: Path, *columns: str) -> list[dict[str, str]]:
    return list(read_table(path, Table(path.name, columns, path.name)))


def sample_fasta(path: Path) -> Path:
    """SAMPLE_RECORDS copied line for line from mixed_example.fasta, in its order."""
    records = (ASSETS / "mixed_example.fasta").read_text().split("\n>")
    kept = [
        record.removeprefix(">").rstrip("\n")
        for record in records
        if record.removeprefix(">").split(maxsplit=1)[0] in SAMPLE_RECORDS
    ]
    path.write_text("".join(f">{record}\n" for record in kept))
    return path


# --- The modules' commands, their outputs named as the modules name them (prefix: meta.id)


def chunk_sequences(work: Path, fasta: Path, prefix: str, chunk_size: int) -> Path:
    output = work / f"{prefix}.chunks.fasta"
    run(
        "chunk_sequences.py",
        {"--input": fasta, "--output": output, "--chunk-size": chunk_size},
        work,
    )
    return output


def select_frames(work: Path, chunks: Path, prefix: str) -> Paths:
    outputs = {kind: work / f"{prefix}.{kind}.fasta" for kind in ("nucleotide", "protein")}
    outputs["report"] = work / f"{prefix}.frames.tsv"
    run(
        "select_frames.py",
        {"--input": chunks} | {f"--{kind}": path for kind, path in outputs.items()},
        work,
    )
    return outputs


def build_training_set(work: Path, sample: str) -> Paths:
    genbank, label = GENOMES[sample]
    outputs = {kind: work / f"{sample}.{kind}.fasta" for kind in ("nucleotide", "protein")}
    outputs |= {kind: work / f"{sample}.{kind}.tsv" for kind in ("sources", "counts")}
    outputs["sketches"] = work / f"{sample}.sketches.safetensors"
    options = {"--genbank": ASSETS / genbank, "--label": label, "--chunk-size": CHUNK_SIZE}
    run(
        "build_training_set.py",
        options | {f"--{kind}": path for kind, path in outputs.items()},
        work,
    )
    return outputs


def split_dataset(work: Path, sources: list[Path], sketches: list[Path]) -> Paths:
    folder = work / "split"
    inputs = {"--sources": sources, "--sketches": sketches, "--output-dir": folder}
    run("split_dataset.py", inputs | SPLIT_OPTIONS, work)
    return {name: folder / f"{name}.tsv" for name in (*SPLITS, "summary", "clusters")}


def shard_frames(
    work: Path, frames: list[Paths], ids: list[Path], frames_per_shard: int, prefix: str
) -> dict[str, Paths]:
    """Shard name -> its nucleotide and protein files, in name order."""
    folder = work / f"shards_{prefix}_{frames_per_shard}_{len(ids)}"
    options = {
        "--nucleotide": [files["nucleotide"] for files in frames],
        "--protein": [files["protein"] for files in frames],
        "--ids": ids,
        "--output-dir": folder,
        "--prefix": prefix,
        "--frames-per-shard": frames_per_shard,
    }
    run("shard_frames.py", options, work)
    names = sorted(
        path.name.removesuffix(".nucleotide.fasta") for path in folder.glob("*.nucleotide.fasta")
    )
    return {
        name: {kind: folder / f"{name}.{kind}.fasta" for kind in ("nucleotide", "protein")}
        for name in names
    }


def staged(work: Path, folder: Path) -> str:
    """``folder`` linked into the task folder under its own name, as Nextflow stages a
    path input: the features and benchmarks record the name given (model_id), which
    then does not depend on where the clone lies."""
    link = work / folder.name
    if not link.exists():
        link.symlink_to(folder, target_is_directory=True)
    elif link.resolve() != folder.resolve():
        raise RuntimeError(f"{link} is in the way of the model folder {folder}")
    return folder.name


def embed(
    work: Path, modality: str, shards: Paths, embedder: str, model_dir: Path | None = None
) -> Paths:
    """EMBED_DNA (modality dna) or EMBED_PROTEIN (protein): one task for a group of
    shards (shard name -> FASTA), with the test profiles' options; shard name -> features."""
    outputs = {shard: work / f"{shard}.{embedder}.{modality}.safetensors" for shard in shards}
    options = {
        "--input": list(shards.values()),
        "--output": list(outputs.values()),
        "--embedder": embedder,
    }
    if model_dir is not None:
        options["--model-dir"] = staged(work, model_dir)
    run(f"embed_{modality}.py", options | {"--chunk-size": CHUNK_SIZE} | DEVICE_OPTIONS, work)
    return outputs


def train_classifier(
    work: Path,
    embedder: str,
    features: list[Path],
    split: Paths,
    options: dict[str, Any] | None = None,
) -> Path:
    """TRAIN_CLASSIFIER with ext.args (the seed) and ``options``: its checkpoint folder."""
    folder = work / f"{embedder}_classifier"
    inputs = {
        "--features": features,
        "--train": split["train"],
        "--validation": split["validation"],
        "--output-dir": folder,
        "--seed": SEED,
    }
    run("train_classifier.py", inputs | (options or {}), work)
    return folder


def evaluate_classifier(
    work: Path, embedder: str, classifier: Path, features: list[Path], test: Path, bootstrap: int
) -> Paths:
    """EVALUATE_CLASSIFIER with ext.args: evaluation.json and test_predictions.tsv, in a
    folder named after the embedder."""
    folder = work / embedder
    options = {
        "--classifier": classifier,
        "--features": features,
        "--test": test,
        "--output-dir": folder,
        "--bootstrap": bootstrap,
        "--seed": SEED,
        "--min-viral-fraction": MIN_VIRAL_FRACTION,
    }
    run("evaluate_classifier.py", options, work)
    return {
        "evaluation": folder / "evaluation.json",
        "predictions": folder / "test_predictions.tsv",
    }


def benchmark_embedder(work: Path, embedder: str, fasta: Path, model_dir: Path | None) -> Path:
    """BENCHMARK_EMBEDDER with ext.args (the default budget and repeats): its JSON."""
    output = work / f"{embedder}.benchmark.json"
    options = {"--embedder": embedder, "--input": fasta, "--output": output}
    if model_dir is not None:
        options["--model-dir"] = staged(work, model_dir)
    run("benchmark_embedder.py", options | DEVICE_OPTIONS | {"--repeats": BENCHMARK_REPEATS}, work)
    return output


def classify(work: Path, sample: str, fasta: Path, frames: Paths, shards: dict[str, Paths]) -> Path:
    """EMBED_DNA and EMBED_PROTEIN of each shard (the demo classifier's embedders), then
    CLASSIFY on each shard's pair: its output folder."""
    dna = embed(
        work,
        "dna",
        {name: files["nucleotide"] for name, files in shards.items()},
        "dna_composition",
    )
    protein = embed(
        work,
        "protein",
        {name: files["protein"] for name, files in shards.items()},
        "aa_composition",
    )
    folder = work / "predictions"
    options = {
        "--classifier": CLASSIFIER,
        "--features": [path for name in shards for path in (dna[name], protein[name])],
        "--report": frames["report"],
        "--sequences": fasta,
        "--output-dir": folder,
        "--prefix": sample,
        "--min-viral-fraction": MIN_VIRAL_FRACTION,
    }
    run("classify.py", options, work)
    return folder


# --- What the tests assert about the outputs


def frames_values(frames: Paths) -> dict[str, Any]:
    chunks = table(frames["report"], "chunk_id", "frames")
    return {
        "nucleotide_md5": md5(frames["nucleotide"]),
        "protein_md5": md5(frames["protein"]),
        "report_md5": md5(frames["report"]),
        "chunks": len(chunks),
        "frames": len(fasta_ids(frames["nucleotide"])),
        "no_frame_chunks": sum(row["frames"] == NO_FRAME for row in chunks),
    }


def split_values(split: Paths) -> dict[str, Any]:
    md5s = {f"{name}_md5": md5(path) for name, path in split.items()}
    return md5s | {f"{name}_rows": len(table(split[name], "frame_id")) for name in SPLITS}


def files_values(files: Paths) -> dict[str, Any]:
    """md5 of each file, and the number of frames of a frames FASTA pair."""
    return {f"{kind}_md5": md5(path) for kind, path in files.items()} | {
        "frames": len(fasta_ids(files["nucleotide"]))
    }


def module_sample(work: Path) -> tuple[Path, Paths]:
    """The module tests' sample: its chunks FASTA and its frames."""
    chunks = chunk_sequences(work, sample_fasta(work / f"{SAMPLE}.fasta"), SAMPLE, CHUNK_SIZE)
    return chunks, select_frames(work, chunks, SAMPLE)


def modules(work: Path) -> dict[str, Any]:
    """The module and subworkflow tests: mixed_example.fasta chunked as sample 'test', the
    frames of the module tests' sample, genomes under their sample ids."""
    fasta = ASSETS / "mixed_example.fasta"
    chunks = {size: chunk_sequences(work, fasta, f"test_{size}", size) for size in (300, 500)}
    _, frames = module_sample(work)
    # The id list of the SHARD_FRAMES test: the first 5 frames
    first_5 = work / "keep.tsv"
    first_5.write_text("\n".join(["frame_id", *fasta_ids(frames["nucleotide"])[:5]]) + "\n")
    shards = {
        f"{SAMPLE}_{SAMPLE_FRAMES_PER_SHARD}": shard_frames(
            work, [frames], [], SAMPLE_FRAMES_PER_SHARD, "test"
        ),
        f"{SAMPLE}_first_5": shard_frames(
            work, [frames], [first_5], DEFAULT_FRAMES_PER_SHARD, "test"
        ),
    }
    genomes = {sample: build_training_set(work, sample) for sample in ("EU851978", "arab1")}
    # The SPLIT_DATASET test: one viral and two host genomes, their sources in sample id order
    three = work / "three"
    three.mkdir()
    built = [build_training_set(three, sample) for sample in SPLIT_TEST_GENOMES]
    return {
        "virnucpro_version": __version__,
        "chunk_sequences": {
            f"mixed_example_{size}": {"chunks_fasta_md5": md5(path), "chunks": len(fasta_ids(path))}
            for size, path in chunks.items()
        },
        "select_frames": {f"{SAMPLE}_{CHUNK_SIZE}": frames_values(frames)},
        "build_training_set": {sample: files_values(files) for sample, files in genomes.items()},
        "split_dataset": {
            "microviruses_12_NC_005816_arab1": split_values(
                split_dataset(three, [b["sources"] for b in built], [b["sketches"] for b in built])
            )
        },
        "shard_frames": {
            name: {shard: files_values(files) for shard, files in found.items()}
            for name, found in shards.items()
        },
    }


def pipeline_predict(work: Path) -> dict[str, Any]:
    """-profile test: assets/test/samplesheet_predict.csv with the demo classifier."""
    sample = "mixed_example"
    fasta = ASSETS / f"{sample}.fasta"
    chunks = chunk_sequences(work, fasta, sample, CHUNK_SIZE)
    frames = select_frames(work, chunks, sample)
    shards = shard_frames(work, [frames], [], FRAMES_PER_SHARD, sample)
    predictions = classify(work, sample, fasta, frames, shards)
    counts = frames_values(frames)
    calls = table(predictions / f"{sample}.sequence_calls.tsv", "sequence_id", "call")
    return {
        "chunks_fasta_md5": md5(chunks),
        "frames_report_md5": counts["report_md5"],
        "nucleotide_frames_md5": counts["nucleotide_md5"],
        "protein_frames_md5": counts["protein_md5"],
        "chunks": counts["chunks"],
        "frames": counts["frames"],
        "no_frame_chunks": counts["no_frame_chunks"],
        "sequences": len(calls),
        "shards": len(shards),
        "embedding_tasks": embedding_tasks(len(shards)),
        "sequence_calls": {row["sequence_id"]: row["call"] for row in calls},
        "viral_sequences": sorted(fasta_ids(predictions / f"{sample}.viral.fasta")),
    }


def pipeline_train(work: Path) -> dict[str, Any]:
    """-profile test_compare: assets/test/samplesheet_train.csv. workflows/train.nf hands
    the split and the shards the samples in id order, and shards only the split's frames."""
    genomes = [build_training_set(work, sample) for sample in sorted(GENOMES)]
    split = split_dataset(
        work, [files["sources"] for files in genomes], [files["sketches"] for files in genomes]
    )
    shards = shard_frames(
        work, genomes, [split[name] for name in SPLITS], FRAMES_PER_SHARD, "training_set"
    )
    return split_values(split) | {
        "shards": len(shards),
        "embedding_tasks": embedding_tasks(len(shards)),
    }


def embedding_tasks(shards: int) -> int:
    """Tasks of one embedding step for one sample's shards (groups of SHARDS_PER_TASK)."""
    return -(-shards // SHARDS_PER_TASK)


def compute() -> dict[str, Any]:
    """Every expected value, computed afresh in temporary folders."""
    values: dict[str, Any] = {}
    for step in (modules, pipeline_predict, pipeline_train):
        with tempfile.TemporaryDirectory(prefix=f"nf_test_expected_{step.__name__}_") as folder:
            result = step(Path(folder))
        values |= result if step is modules else {step.__name__: result}
    return values


def render(values: dict[str, Any]) -> str:
    return json.dumps(values, indent=2, sort_keys=True) + "\n"


def differences(stored: Any, found: Any, where: str = "") -> list[str]:
    """One line per key whose value differs between the JSON file and the commands."""
    if isinstance(stored, dict) and isinstance(found, dict):
        keys = sorted(stored.keys() | found.keys())
        return [
            line
            for key in keys
            for line in differences(stored.get(key), found.get(key), f"{where}.{key}".lstrip("."))
        ]
    return (
        []
        if stored == found
        else [f"{where}: the file has {stored!r}, the commands give {found!r}"]
    )


def write_or_check(
    argv: list[str] | None,
    doc: str,
    script: str,
    target: Path,
    write: Callable[[], object],
    check: Callable[[], list[str]],
) -> int:
    """The command line of a script (``doc``: its docstring): --write rewrites ``target``;
    --check prints the lines ``check`` returns and exits 1 if there are any."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help=f"rewrite {target.relative_to(ROOT)}")
    mode.add_argument("--check", action="store_true", help="exit 1 listing what differs")
    if parser.parse_args(argv).write:
        write()
        return 0
    found = check()
    for line in found:
        print(line)
    if found:
        print(f"out of date: run scripts/{script} --write ({target.relative_to(ROOT)})")
    return 1 if found else 0


def write_expected() -> None:
    EXPECTED.parent.mkdir(parents=True, exist_ok=True)
    EXPECTED.write_text(render(compute()))


def stored_expected() -> Any:
    return json.loads(EXPECTED.read_text()) if EXPECTED.is_file() else {}


def main(argv: list[str] | None = None) -> int:
    return write_or_check(
        argv,
        __doc__,
        Path(__file__).name,
        EXPECTED,
        write_expected,
        lambda: differences(stored_expected(), compute()),
    )


if __name__ == "__main__":
    sys.exit(main())
