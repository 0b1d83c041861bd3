"""Issue 9 ("Trustworthy answers"): every bad input, run as the user runs the command.

Each case runs the real command (a ``bin/`` script or the ``virnucpro`` console
script, found on PATH) in a folder of its own and checks what a user sees: the
exit status; for errors, exactly one ``error:`` line naming what is wrong and no
traceback; that no new file appeared in the folder (hidden temporaries included)
and that the earlier outputs placed at the paths the command would write are
unchanged byte for byte; for "keep going" cases, the row that says so.

Inputs are the bundled data: the mixed example (10 contigs), the bundled GenBank
files, the model-free demo classifier (dna_composition + aa_composition, chunk
size 300) and the tiny seeded models.

Every process spends about a second importing torch, so the commands of the
selected tests run first, several at a time, in the module fixture ``outcomes``;
each test then checks its own command's outcome. Test ids start with the item
number of the issue.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import hashlib
import io
import json
import lzma
import os
import random
import re
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from Bio.SeqIO.FastaIO import SimpleFastaParser
from conftest import ASSETS, ROOT, run_script, write_fasta
from safetensors import safe_open
from safetensors.numpy import save_file

from virnucpro.files.feature_files import read_features

MIXED = ASSETS / "mixed_example.fasta"
DEMO = ROOT / "assets" / "models" / "composition_classifier"
CHUNK = "300"
TABLES = ("sequence_calls.tsv", "chunk_calls.tsv", "frame_scores.tsv")
CALLS = {"virus", "others", "no_frame"}
# Stops in all six frames: TAA at offsets 0, 4, 8 forward; TTA (TAA reversed) likewise.
ALL_STOPS = "TAAATAAATAA" + "TTATTTATTTA"
TO_RNA = str.maketrans("Tt", "Uu")
TO_DNA = str.maketrans("Uu", "Tt")
STUB = b"earlier output, must survive\n"
WORKERS = min(8, max(2, os.cpu_count() or 2))
slow = pytest.mark.slow

Need = Callable[[str], Any]  # request.getfixturevalue
Command = list[str | os.PathLike[str]]


# --------------------------------------------------------------------------- helpers


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` (hidden ones included) with the sha256 of its bytes."""
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder, name)
            files[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files


def describe(result: subprocess.CompletedProcess) -> str:
    return f"{result.args}\nexit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


def error_line(result: subprocess.CompletedProcess, code: int = 1, *, alone: bool = False) -> str:
    """The one ``error:`` line of a failed run; ``alone``: stderr holds nothing else."""
    assert result.returncode == code, describe(result)
    assert "Traceback" not in result.stderr, describe(result)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, describe(result)
    assert errors[0].startswith("error: ") and errors[0][len("error: ") :].strip()
    if alone:
        assert result.stderr.strip() == errors[0], describe(result)
    return errors[0]


def assert_names(line: str, *words: str) -> None:
    """Each of ``words`` (case-insensitive) appears in the error line."""
    for word in words:
        assert word.lower() in line.lower(), f"{word!r} not in {line!r}"


def run_in(folder: Path, command: Command, stdin: str | None = None) -> subprocess.CompletedProcess:
    """``command`` in ``folder``, as ``run_script`` runs it (``stdin``: text piped in)."""
    return run_script(*command, cwd=folder, stdin=stdin)


def succeeded(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, describe(result)
    assert "Traceback" not in result.stderr and "error:" not in result.stderr, describe(result)
    return result


def ok_all(*commands: Command, cwd: Path | None = None) -> list[subprocess.CompletedProcess]:
    """Run independent commands several at a time; each must succeed."""
    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(lambda command: run_script(*command, cwd=cwd), commands))
    return [succeeded(result) for result in results]


def ok(*command: str | os.PathLike[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    return ok_all(list(command), cwd=cwd)[0]


def stub_outputs(folder: Path, prefix: str = "predictions") -> Path:
    """Earlier prediction tables at the paths a new run would write."""
    folder.mkdir(parents=True, exist_ok=True)
    for suffix in (*TABLES, "viral.fasta"):
        (folder / f"{prefix}.{suffix}").write_bytes(STUB)
    return folder


def stub(path: Path) -> Path:
    """An earlier output at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(STUB)
    return path


def fasta_records(path: Path) -> list[tuple[str, str]]:
    with path.open() as handle:
        return [(title.split()[0], sequence) for title, sequence in SimpleFastaParser(handle)]


def read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def random_dna(length: int, seed: int) -> str:
    return "".join(random.Random(seed).choices("ACGT", k=length))


def predict(
    fasta: str | Path, output_dir: str | Path, *extra: str, classifier: Path = DEMO
) -> Command:
    """``virnucpro predict`` with the demo classifier on the CPU."""
    return [
        "virnucpro", "predict", fasta, "--classifier", classifier, "--device", "cpu",
        "--output-dir", output_dir, *extra,
    ]  # fmt: skip


def features_args(paths: list[Path]) -> list[str | Path]:
    return [arg for path in paths for arg in ("--features", path)]


def write_features_by_hand(path: Path, matrix: np.ndarray, metadata: dict[str, str], ids: str):
    """A feature file written without the package's checks (``ids``: the raw metadata text)."""
    save_file(
        {"features": np.ascontiguousarray(matrix, dtype=np.float32)},
        str(path),
        metadata={**metadata, "format": "virnucpro-features/1", "ids": ids},
    )
    return path


# --------------------------------------------------------------------------- shared inputs


@dataclass
class Sample:
    """The classify-step inputs of one sample, made by the bin/ scripts."""

    fasta: Path
    chunks: Path
    nucleotide: Path
    protein: Path
    report: Path
    shards: list[tuple[Path, Path]]
    dna: list[Path]
    proteins: list[Path]
    merged: list[Path]


def prepare(fasta: Path, folder: Path, frames_per_shard: int = 200) -> Sample:
    """chunk -> frames -> shard -> embed (composition) -> merge, one process per step."""
    folder.mkdir(parents=True)
    chunks, nucleotide = folder / "chunks.fasta", folder / "frames.nucleotide.fasta"
    protein, report = folder / "frames.protein.fasta", folder / "frames.tsv"
    ok("chunk_sequences.py", "--input", fasta, "--output", chunks, "--chunk-size", CHUNK)
    ok(
        "select_frames.py", "--input", chunks, "--nucleotide", nucleotide,
        "--protein", protein, "--report", report,
    )  # fmt: skip
    ok(
        "shard_frames.py", "--nucleotide", nucleotide, "--protein", protein,
        "--output-dir", folder / "shards", "--frames-per-shard", str(frames_per_shard),
    )  # fmt: skip
    shards = [
        (path, path.with_name(path.name.replace(".nucleotide.", ".protein.")))
        for path in sorted((folder / "shards").glob("*.nucleotide.fasta"))
    ]
    names = [folder / f"shard{index}" for index in range(1, len(shards) + 1)]
    dna = [Path(f"{name}.dna.safetensors") for name in names]
    proteins = [Path(f"{name}.protein.safetensors") for name in names]
    merged = [Path(f"{name}.merged.safetensors") for name in names]
    embed = []
    for (shard_nt, shard_aa), dna_file, protein_file in zip(shards, dna, proteins, strict=True):
        embed.append([
            "embed_dna.py", "--input", shard_nt, "--output", dna_file, "--chunk-size", CHUNK,
            "--embedder", "dna_composition", "--device", "cpu",
        ])  # fmt: skip
        embed.append([
            "embed_protein.py", "--input", shard_aa, "--output", protein_file,
            "--chunk-size", CHUNK, "--embedder", "aa_composition", "--device", "cpu",
        ])  # fmt: skip
    ok_all(*embed)
    ok_all(
        *(
            ["merge_features.py", "--dna", d, "--protein", p, "--output", m]
            for d, p, m in zip(dna, proteins, merged, strict=True)
        )
    )
    return Sample(fasta, chunks, nucleotide, protein, report, shards, dna, proteins, merged)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> Sample:
    """The mixed example (393 frames) prepared for the classify step, in 2 shards."""
    sample = prepare(MIXED, tmp_path_factory.mktemp("mixed") / "sample")
    assert len(sample.merged) >= 2
    return sample


def select_frames_of(records: list[tuple[str, str]], folder: Path) -> tuple[Path, Path]:
    """(FASTA, frames report) of ``records``, made by chunk_sequences.py and select_frames.py."""
    fasta = write_fasta(folder / "input.fasta", records)
    ok("chunk_sequences.py", "--input", fasta, "--output", folder / "c.fasta")
    ok(
        "select_frames.py", "--input", folder / "c.fasta", "--nucleotide", folder / "n.fasta",
        "--protein", folder / "p.fasta", "--report", folder / "frames.tsv",
    )  # fmt: skip
    return fasta, folder / "frames.tsv"


@pytest.fixture(scope="module")
def other_report(tmp_path_factory) -> Path:
    """The frames report of another sample: the first 3 contigs of the mixed example."""
    return select_frames_of(fasta_records(MIXED)[:3], tmp_path_factory.mktemp("other"))[1]


@pytest.fixture(scope="module")
def stop_sample(tmp_path_factory) -> tuple[Path, Path]:
    """A sample whose chunks all have a stop in every frame: (FASTA, frames report)."""
    records = [(f"stops{i}", (ALL_STOPS * 40)[i : i + 300 + 50 * i]) for i in range(3)]
    fasta, report = select_frames_of(records, tmp_path_factory.mktemp("stops"))
    rows = read_tsv(report)
    assert len(rows) == 5 and {row["frames"] for row in rows} == {"no_frame"}, rows
    return fasta, report


@dataclass
class TrainingData:
    features: Path
    train: Path
    validation: Path
    test: Path


@pytest.fixture(scope="module")
def training(tmp_path_factory) -> TrainingData:
    """Merged features and split lists from the bundled viral and host GenBank files."""
    folder = tmp_path_factory.mktemp("training")
    sources = []
    for label, genbank in (("viral", "microviruses_12.gbk"), ("host", "NC_005816.gb")):
        ok(
            "build_training_set.py", "--genbank", ASSETS / genbank, "--label", label,
            "--chunk-size", CHUNK, "--nucleotide", folder / f"{label}.nucleotide.fasta",
            "--protein", folder / f"{label}.protein.fasta", "--sources", folder / f"{label}.tsv",
        )  # fmt: skip
        sources += ["--sources", folder / f"{label}.tsv"]
    # one host genome: split frames, not genomes, so that every split has both classes
    ok(
        "split_dataset.py", *sources, "--output-dir", folder / "split", "--seed", "1",
        "--group-by", "none", "--test-fraction", "0.3", "--val-fraction", "0.3",
    )  # fmt: skip
    for kind in ("nucleotide", "protein"):
        parts = [(folder / f"{label}.{kind}.fasta").read_text() for label in ("viral", "host")]
        (folder / f"all.{kind}.fasta").write_text("".join(parts))
    ok_all(
        [
            "embed_dna.py", "--input", folder / "all.nucleotide.fasta", "--output",
            folder / "d.safetensors", "--chunk-size", CHUNK, "--embedder", "dna_composition",
            "--device", "cpu",
        ],
        [
            "embed_protein.py", "--input", folder / "all.protein.fasta", "--output",
            folder / "p.safetensors", "--chunk-size", CHUNK, "--embedder", "aa_composition",
            "--device", "cpu",
        ],
    )  # fmt: skip
    merged = folder / "merged.safetensors"
    ok(
        "merge_features.py", "--dna", folder / "d.safetensors", "--protein",
        folder / "p.safetensors", "--output", merged,
    )  # fmt: skip
    split = folder / "split"
    return TrainingData(merged, split / "train.tsv", split / "validation.tsv", split / "test.tsv")


# --------------------------------------------------------------------------- the runs


@dataclass(frozen=True)
class Run:
    """One command: ``make`` writes its inputs into an empty folder and returns the command."""

    make: Callable[[Path, Need], Command]
    stdin: Callable[[], str] | None = None


@dataclass(frozen=True)
class Refusal(Run):
    """A bad input: the one error line must name ``words``; ``alone``: it is all of stderr
    (False where INFO log lines legitimately come first)."""

    words: tuple[str, ...] = ()
    code: int = 1
    alone: bool = True


@dataclass
class Outcome:
    folder: Path
    result: subprocess.CompletedProcess
    before: dict[str, str] = field(repr=False)
    after: dict[str, str] = field(repr=False)

    def file(self, name: str) -> Path:
        return self.folder / name

    def refused(self, refusal: Refusal) -> str:
        line = error_line(self.result, refusal.code, alone=refusal.alone)
        assert_names(line, *refusal.words)
        assert self.after == self.before, f"a refused run changed the files\n{line}"
        return line

    def succeeded(self) -> str:
        return succeeded(self.result).stderr


RUNS: dict[str, Run] = {}


def register(cases: dict[str, Run]) -> dict[str, Run]:
    assert not RUNS.keys() & cases.keys()
    RUNS.update(cases)
    return cases


def cases(table: dict[str, Run], slow_ones: tuple[str, ...] = ()) -> list:
    """Parameters for the names of ``table``, those in ``slow_ones`` marked slow."""
    assert set(slow_ones) <= table.keys()
    register(table)
    return [
        pytest.param(name, id=name, marks=[slow] if name in slow_ones else []) for name in table
    ]


def needs(*names: str) -> Callable:
    """Declare the runs a test uses besides its ``case`` parameter."""

    def mark(test: Callable) -> Callable:
        test.runs = names
        return test

    return mark


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory) -> dict[str, Outcome]:
    """The outcome of every run the selected tests of this module use, run several at a time."""
    wanted: dict[str, None] = {}
    for item in request.session.items:
        if Path(item.path) != Path(__file__):
            continue
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("case") in RUNS:
            wanted[callspec.params["case"]] = None
        wanted.update(dict.fromkeys(getattr(getattr(item, "function", None), "runs", ())))
    jobs = []
    for name in wanted:
        folder = tmp_path_factory.mktemp(re.sub(r"\W", "_", name)[:30])
        command = RUNS[name].make(folder, request.getfixturevalue)
        stdin = RUNS[name].stdin() if RUNS[name].stdin else None
        jobs.append((name, folder, command, stdin))

    def run(job: tuple) -> Outcome:
        _, folder, command, stdin = job
        before = snapshot(folder)
        result = run_in(folder, command, stdin)
        return Outcome(folder, result, before, snapshot(folder))

    with ThreadPoolExecutor(WORKERS) as pool:
        return {job[0]: outcome for job, outcome in zip(jobs, pool.map(run, jobs), strict=True)}


def check_refusal(outcomes: dict[str, Outcome], case: str) -> str:
    refusal = RUNS[case]
    assert isinstance(refusal, Refusal)
    return outcomes[case].refused(refusal)


# --------------------------------------------------------------------------- [2] RNA


def rna_records() -> list[tuple[str, str]]:
    """The mixed example with one record in lowercase, as DNA."""
    records = fasta_records(MIXED)
    records[1] = (records[1][0], records[1][1].lower())
    return records


def _write_dna_or_rna(folder: Path, rna: bool) -> str:
    records = rna_records()
    if rna:
        records = [(name, sequence.translate(TO_RNA)) for name, sequence in records]
    write_fasta(folder / "in.fasta", records)
    return "in.fasta"


def _predict_nucleic(rna: bool) -> Run:
    return Run(lambda folder, need: predict(_write_dna_or_rna(folder, rna), "out"))


def _chunk_nucleic(rna: bool) -> Run:
    def make(folder: Path, need: Need) -> Command:
        fasta = _write_dna_or_rna(folder, rna)
        return ["chunk_sequences.py", "--input", fasta, "--output", "chunks.fasta"]

    return Run(make)


register({
    "2-predict-dna": _predict_nucleic(rna=False),
    "2-predict-rna": _predict_nucleic(rna=True),
    "2-chunk-dna": _chunk_nucleic(rna=False),
    "2-chunk-rna": _chunk_nucleic(rna=True),
})  # fmt: skip


def uracils() -> int:
    count = sum(sequence.upper().count("T") for _, sequence in rna_records())
    assert count and any("t" in sequence for _, sequence in rna_records())  # U and u both
    return count


@needs("2-predict-dna", "2-predict-rna")
def test_2_rna_predicts_exactly_as_dna(outcomes):
    dna, rna = outcomes["2-predict-dna"], outcomes["2-predict-rna"]
    dna.succeeded()
    log = rna.succeeded()
    for table in TABLES:
        expected = dna.file(f"out/predictions.{table}").read_bytes()
        assert rna.file(f"out/predictions.{table}").read_bytes() == expected, table
    viral_dna = dna.file("out/predictions.viral.fasta").read_text()
    viral_rna = rna.file("out/predictions.viral.fasta").read_text()
    assert viral_dna.count(">") >= 1
    assert viral_rna.translate(TO_DNA) == viral_dna
    assert f"{uracils()} U" in log, log


@needs("2-chunk-dna", "2-chunk-rna")
def test_2_chunk_sequences_writes_t_for_u(outcomes):
    dna, rna = outcomes["2-chunk-dna"], outcomes["2-chunk-rna"]
    dna.succeeded()
    log = rna.succeeded()
    sequences = [sequence for _, sequence in fasta_records(rna.file("chunks.fasta"))]
    assert sequences and not any("U" in sequence or "u" in sequence for sequence in sequences)
    assert rna.file("chunks.fasta").read_bytes() == dna.file("chunks.fasta").read_bytes()
    assert f"{uracils()} U" in log, log


# --------------------------------------------------------------------------- [3] short / empty


def short_and_empty(folder: Path) -> str:
    normal = fasta_records(MIXED)[:3]
    records = [
        normal[0],
        ("short5", "ACGTA"),
        normal[1],
        ("empty", ""),
        ("len149", random_dna(149, 1)),
        ("len150", random_dna(150, 2)),
        normal[2],
    ]
    write_fasta(folder / "in.fasta", records)
    return "in.fasta"


SHORT_NAMES = ["MH552510.2", "short5", "CP003812.1", "empty", "len149", "len150", "NZ_CP036309.1"]

register({
    "3-predict-short-and-empty": Run(lambda f, need: predict(short_and_empty(f), "out")),
    "3-chunk-short-and-empty": Run(
        lambda f, need: ["chunk_sequences.py", "--input", short_and_empty(f), "--output", "c.fa"]
    ),
})  # fmt: skip


@needs("3-predict-short-and-empty")
def test_3_short_and_empty_records_each_get_a_too_short_row(outcomes):
    outcome = outcomes["3-predict-short-and-empty"]
    log = outcome.succeeded()
    rows = read_tsv(outcome.file("out/predictions.sequence_calls.tsv"))
    assert [row["sequence_id"] for row in rows] == SHORT_NAMES
    calls = {row["sequence_id"]: row["call"] for row in rows}
    assert [calls[name] for name in ("short5", "empty", "len149")] == ["too_short"] * 3, rows
    for name in ("MH552510.2", "CP003812.1", "len150", "NZ_CP036309.1"):
        assert calls[name] in CALLS, rows
    chunks = read_tsv(outcome.file("out/predictions.chunk_calls.tsv"))
    short_chunks = [
        row for row in chunks if row["chunk_id"].startswith(("short5_", "empty_", "len149_"))
    ]
    assert {row["prediction"] for row in short_chunks} <= {"too_short"}, short_chunks
    assert [row["prediction"] for row in chunks].count("too_short") == len(short_chunks) == 3
    frames = read_tsv(outcome.file("out/predictions.frame_scores.tsv"))
    assert not [row for row in frames if row["Sequence_ID"].startswith(("short5_", "len149_"))]
    assert "short5" not in outcome.file("out/predictions.viral.fasta").read_text()
    assert re.search(r"\b3 too_short", log), log


@needs("3-chunk-short-and-empty")
def test_3_chunk_sequences_keeps_going_past_short_and_empty_records(outcomes):
    outcome = outcomes["3-chunk-short-and-empty"]
    log = outcome.succeeded()
    ids = [name for name, _ in fasta_records(outcome.file("c.fa"))]
    assert {"short5_chunk_1", "len149_chunk_1", "len150_chunk_1"} <= set(ids)
    assert "1 empty" in log, log


def _no_sequence(content: str, command: str) -> Refusal:
    def make(folder: Path, need: Need) -> Command:
        (folder / "in.fasta").write_text(content)
        if command == "predict":
            stub_outputs(folder / "out")
            return predict("in.fasta", "out")
        stub(folder / "chunks.fasta")
        return ["chunk_sequences.py", "--input", "in.fasta", "--output", "chunks.fasta"]

    # chunk_sequences.py logs each empty record (INFO) before it gives up
    return Refusal(make, words=("in.fasta", "no sequence"), alone=command == "predict")


NO_SEQUENCE = {
    "3-predict-header-only": _no_sequence(">a\n", "predict"),
    "3-predict-only-empty-records": _no_sequence(">a\n>b\n\n>c\n", "predict"),
    "3-chunk-header-only": _no_sequence(">a\n", "chunk"),
    "3-chunk-only-empty-records": _no_sequence(">a\n>b\n\n>c\n", "chunk"),
}


@pytest.mark.parametrize("case", cases(NO_SEQUENCE, slow_ones=("3-predict-only-empty-records",)))
def test_3_fasta_without_any_base_is_refused(outcomes, case):
    check_refusal(outcomes, case)


# --------------------------------------------------------------------------- [4] classify


def classify(sample: Sample, output_dir: str, *extra, report: Path | None = None) -> Command:
    """``classify.py`` (the classify step) with the demo classifier."""
    return [
        "classify.py", "--classifier", DEMO, "--report", report or sample.report,
        "--output-dir", output_dir, *extra,
    ]  # fmt: skip


def _classify_refusal(extra: Callable[[Sample, Path, Need], list], *words: str, **kw) -> Refusal:
    def make(folder: Path, need: Need) -> Command:
        stub_outputs(folder / "out")
        sample = need("mixed")
        return classify(sample, "out", *extra(sample, folder, need))

    return Refusal(make, words=words, **kw)


def _other_fasta(folder: Path) -> str:
    write_fasta(folder / "other.fasta", fasta_records(MIXED)[:3])
    return "other.fasta"


CLASSIFY = {
    "4-one-shard-missing": _classify_refusal(
        lambda s, f, need: [*features_args(s.merged[1:]), "--sequences", MIXED],
        "frames", "no features", "missing",
    ),
    "4-shard-given-twice": _classify_refusal(
        lambda s, f, need: [*features_args([*s.merged, s.merged[0]]), "--sequences", MIXED],
        "twice", "shard1.merged.safetensors",
    ),
    "4-two-reports-sharing-chunks": _classify_refusal(
        lambda s, f, need: [
            *features_args(s.merged), "--report", need("other_report"), "--sequences", MIXED,
        ],
        "twice",
    ),
    "4-wrong-sequences-fasta": _classify_refusal(
        lambda s, f, need: [*features_args(s.merged), "--sequences", _other_fasta(f)],
        "other.fasta", "not the input",
    ),
    "4-genbank-as-sequences": _classify_refusal(
        lambda s, f, need: [*features_args(s.merged), "--sequences", ASSETS / "NC_005816.gb"],
        "NC_005816.gb", "FASTA",
    ),
}  # fmt: skip


def _only_other_report(folder: Path, need: Need) -> Command:
    stub_outputs(folder / "out")
    sample = need("mixed")
    return classify(sample, "out", *features_args(sample.merged), report=need("other_report"))


CLASSIFY["4-frames-report-of-another-sample"] = Refusal(
    _only_other_report, words=("not in the frames report",)
)


@pytest.mark.parametrize(
    "case", cases(CLASSIFY, slow_ones=("4-genbank-as-sequences", "4-two-reports-sharing-chunks"))
)
def test_4_classify_refuses_inputs_that_do_not_belong_together(outcomes, case):
    check_refusal(outcomes, case)


def _old_model_option(command: Callable[[], Command]) -> Refusal:
    """The classifier option was --model before it was --classifier: a usage error, no alias."""

    def make(folder: Path, need: Need) -> Command:
        stub_outputs(folder / "out")
        return ["--model" if word == "--classifier" else word for word in command()]

    return Refusal(make, words=("No such option: --model",), code=2)


OLD_MODEL_OPTION = {
    "4-classify-old-model-option": _old_model_option(
        lambda: ["classify.py", "--classifier", DEMO, "--report", "r.tsv", "--output-dir", "out"]
    ),
    "4-predict-old-model-option": _old_model_option(lambda: predict(MIXED, "out")),
}


@pytest.mark.parametrize("case", cases(OLD_MODEL_OPTION))
def test_4_the_classifier_option_is_not_called_model(outcomes, case):
    line = check_refusal(outcomes, case)
    script = "classify.py" if case.startswith("4-classify") else "virnucpro predict"
    assert line.endswith(f"(see '{script} --help')"), line


def _all_shards(folder: Path, need: Need) -> Command:
    sample = need("mixed")
    return classify(sample, "out", *features_args(sample.merged), "--sequences", MIXED)


def _no_frame_sample(folder: Path, need: Need) -> Command:
    fasta, report = need("stop_sample")
    return ["classify.py", "--classifier", DEMO, "--report", report, "--sequences", fasta,
            "--output-dir", "out"]  # fmt: skip


register({
    "4-classify-all-shards": Run(_all_shards),
    "4-classify-without-features": Run(_no_frame_sample),
    "predict-mixed": Run(lambda folder, need: predict(MIXED, "out")),
})  # fmt: skip


@needs("4-classify-all-shards", "predict-mixed")
def test_4_classify_of_all_shards_equals_virnucpro_predict(outcomes):
    classified, predicted = outcomes["4-classify-all-shards"], outcomes["predict-mixed"]
    classified.succeeded()
    predicted.succeeded()
    for name in (*TABLES, "viral.fasta"):
        expected = predicted.file(f"out/predictions.{name}").read_bytes()
        assert classified.file(f"out/predictions.{name}").read_bytes() == expected, name
    rows = read_tsv(classified.file("out/predictions.sequence_calls.tsv"))
    assert len(rows) == 10


@needs("4-classify-without-features")
def test_4_sample_without_frames_needs_no_features(outcomes):
    outcome = outcomes["4-classify-without-features"]
    outcome.succeeded()
    rows = read_tsv(outcome.file("out/predictions.sequence_calls.tsv"))
    assert [row["sequence_id"] for row in rows] == ["stops0", "stops1", "stops2"]
    assert {row["call"] for row in rows} == {"no_frame"}
    chunks = read_tsv(outcome.file("out/predictions.chunk_calls.tsv"))
    assert len(chunks) == 5 and {row["prediction"] for row in chunks} == {"no_frame"}
    assert read_tsv(outcome.file("out/predictions.frame_scores.tsv")) == []
    assert ">" not in outcome.file("out/predictions.viral.fasta").read_text()


# --------------------------------------------------------------------------- [5] NaN / Inf


def poisoned(source: Path, target: Path, value: float, row: int = 3) -> Path:
    """``source`` with one value of row ``row`` (0-based) replaced by ``value``."""
    features = read_features(source)
    matrix = features.matrix.copy()
    matrix[row, 5] = value
    return write_features_by_hand(target, matrix, features.metadata, json.dumps(features.ids))


def _classify_poisoned(value: float) -> Refusal:
    def make(folder: Path, need: Need) -> Command:
        sample = need("mixed")
        bad = poisoned(sample.merged[1], folder / "bad.safetensors", value)
        stub_outputs(folder / "out")
        return classify(sample, "out", *features_args([sample.merged[0], bad, *sample.merged[2:]]))

    return Refusal(make, words=("bad.safetensors", "row 4", "NaN"))


def _merge_poisoned(folder: Path, need: Need) -> Command:
    sample = need("mixed")
    poisoned(sample.dna[0], folder / "bad.dna.safetensors", np.nan)
    stub(folder / "merged.safetensors")
    return ["merge_features.py", "--dna", "bad.dna.safetensors", "--protein", sample.proteins[0],
            "--output", "merged.safetensors"]  # fmt: skip


NON_FINITE = {
    "5-classify-nan": _classify_poisoned(np.nan),
    "5-classify-inf": _classify_poisoned(np.inf),
    "5-merge-nan-dna": Refusal(_merge_poisoned, words=("bad.dna.safetensors", "row 4", "NaN")),
}


@pytest.mark.parametrize("case", cases(NON_FINITE, slow_ones=("5-classify-inf",)))
def test_5_non_finite_features_are_refused(outcomes, case):
    check_refusal(outcomes, case)


# --------------------------------------------------------------------------- [6] swapped files


def _embed(kind: str, frames: int) -> Callable[[Path, Need], Command]:
    """embed_<kind>.py with the composition embedder on shard 1's nucleotide (0) or protein (1)."""

    def make(folder: Path, need: Need) -> Command:
        stub(folder / "out.safetensors")
        embedder = "dna_composition" if kind == "dna" else "aa_composition"
        return [
            f"embed_{kind}.py", "--input", need("mixed").shards[0][frames], "--output",
            "out.safetensors", "--embedder", embedder, "--chunk-size", CHUNK, "--device", "cpu",
        ]  # fmt: skip

    return make


def _shard_swapped(folder: Path, need: Need) -> Command:
    sample = need("mixed")
    return ["shard_frames.py", "--nucleotide", sample.protein, "--protein", sample.nucleotide,
            "--output-dir", "shards"]  # fmt: skip


SWAPPED = {
    "6-embed-protein-given-nucleotides": Refusal(
        _embed("protein", 0), words=("shard_00001.nucleotide.fasta", "nucleotide letters")
    ),
    "6-embed-dna-given-proteins": Refusal(
        _embed("dna", 1), words=("shard_00001.protein.fasta", "protein")
    ),
    "6-shard-frames-swapped": Refusal(_shard_swapped, words=("frames.protein.fasta",)),
}


@pytest.mark.parametrize("case", cases(SWAPPED))
def test_6_swapped_frame_files_are_refused(outcomes, case):
    check_refusal(outcomes, case)


# --------------------------------------------------------------------------- [7] determinism


register({"7-predict-mixed-again": Run(lambda folder, need: predict(MIXED, "out"))})


@needs("predict-mixed", "7-predict-mixed-again")
def test_7_virnucpro_predict_is_byte_identical_between_runs(outcomes):
    first, second = outcomes["predict-mixed"], outcomes["7-predict-mixed-again"]
    first.succeeded()
    second.succeeded()
    assert len(first.after) == 5  # three tables, the viral FASTA and the HTML summary
    assert first.after == second.after


def full_chain(folder: Path) -> None:
    """chunk -> frames -> shard -> embed (composition and tiny models) -> merge -> classify."""
    sample = prepare(MIXED, folder, frames_per_shard=100)
    tiny = []
    for index, (shard_nt, shard_aa) in enumerate(sample.shards, start=1):
        dna, protein = folder / f"tiny{index}.dna.safetensors", folder / f"tiny{index}.aa.st"
        tiny.append((dna, protein, folder / f"tiny{index}.merged.safetensors"))
        ok_all(
            [
                "embed_dna.py", "--input", shard_nt, "--output", dna, "--chunk-size", CHUNK,
                "--embedder", "tiny_dnabert_s", "--device", "cpu",
            ],
            [
                "embed_protein.py", "--input", shard_aa, "--output", protein,
                "--chunk-size", CHUNK, "--embedder", "tiny_esm2", "--device", "cpu",
            ],
        )  # fmt: skip
    ok_all(*(["merge_features.py", "--dna", d, "--protein", p, "--output", m] for d, p, m in tiny))
    ok_all(
        classify(
            sample, folder / "classified", *features_args(sample.merged), "--sequences", MIXED
        ),
        predict(MIXED, folder / "predicted"),
    )


@slow
def test_7_every_output_is_byte_identical_between_two_runs(tmp_path):
    full_chain(tmp_path / "run1")
    full_chain(tmp_path / "run2")
    first, second = snapshot(tmp_path / "run1"), snapshot(tmp_path / "run2")
    assert sum(name.endswith(".safetensors") for name in first) >= 12
    assert {
        "classified/predictions.frame_scores.tsv",
        "predicted/predictions.frame_scores.tsv",
    } <= set(first)
    assert first == second


# --------------------------------------------------------------------------- [8] prefixes


def _predict_prefix(prefix: str) -> Refusal:
    # run in the case folder: "work/out/../../x" is the case folder itself, so the snapshot
    # covers the output folder's parents too
    def make(folder: Path, need: Need) -> Command:
        stub_outputs(folder / "work" / "out")
        stub_outputs(folder, "x")
        return predict(MIXED, "work/out", "--prefix", prefix)

    return Refusal(make, words=("prefix", prefix))


def _classify_prefix(folder: Path, need: Need) -> Command:
    sample = need("mixed")
    stub_outputs(folder / "work" / "out")
    return classify(sample, "work/out", *features_args(sample.merged), "--prefix", "../x")


def _shard_prefix(folder: Path, need: Need) -> Command:
    sample = need("mixed")
    (folder / "work" / "shards").mkdir(parents=True)
    return ["shard_frames.py", "--nucleotide", sample.nucleotide, "--protein", sample.protein,
            "--output-dir", "work/shards", "--prefix", "../x"]  # fmt: skip


PREFIXES = {
    "8-predict-parent-parent": _predict_prefix("../../x"),
    "8-predict-slash": _predict_prefix("a/b"),
    "8-predict-command-substitution": _predict_prefix("$(id)"),
    "8-predict-hidden": _predict_prefix(".hidden"),
    "8-classify-parent": Refusal(_classify_prefix, words=("prefix", "../x")),
    "8-shard-frames-parent": Refusal(_shard_prefix, words=("prefix", "../x")),
}


@pytest.mark.parametrize("case", cases(PREFIXES, slow_ones=("8-predict-slash",)))
def test_8_unsafe_prefixes_are_refused(outcomes, case):
    check_refusal(outcomes, case)


# --------------------------------------------------------------------------- [9] checkpoints


def _copy_demo(folder: Path, edit: Callable[[Path], None]) -> Path:
    model = folder / "model"
    shutil.copytree(DEMO, model)
    edit(model)
    return model


def _edit_json(change: Callable[[dict], object]) -> Callable[[Path], None]:
    def edit(model: Path) -> None:
        config = json.loads((model / "classifier.json").read_text())
        (model / "classifier.json").write_text(json.dumps(change(config)))

    return edit


def _without(key: str) -> Callable[[dict], object]:
    return lambda config: {name: value for name, value in config.items() if name != key}


def _with(**values: object) -> Callable[[dict], object]:
    return lambda config: {**config, **values}


def _not_utf8(model: Path) -> None:
    text = (model / "classifier.json").read_bytes()
    (model / "classifier.json").write_bytes(text.replace(b'"fp32"', b'"fp\xff\xfe32"'))


def _weights(damage: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def edit(model: Path) -> None:
        weights = model / "model.safetensors"
        weights.write_bytes(damage(weights.read_bytes()))

    return edit


def _predict_with(edit: Callable[[Path], None], *words: str, alone: bool = True) -> Refusal:
    def make(folder: Path, need: Need) -> Command:
        stub_outputs(folder / "out")
        return predict(MIXED, "out", classifier=_copy_demo(folder, edit))

    return Refusal(make, words=words, alone=alone)


def _protein_embedder(name: str) -> Callable[[dict], object]:
    return lambda config: {**config, "embedders": {**config["embedders"], "protein": name}}


def _json(change: Callable[[dict], object], *words: str) -> Refusal:
    """A classifier.json edited by ``change``: the error names classifier.json and ``words``."""
    return _predict_with(_edit_json(change), "classifier.json", *words)


ABSURD = {"input_dimension": 10**12, "dimensions": {"dna": 10**12 - 420, "protein": 420}}
CHECKPOINTS = {
    "9-json-no-embedders": _json(_without("embedders"), "embedders"),
    "9-json-no-dimensions": _json(_without("dimensions"), "dimensions"),
    "9-json-no-chunk_size": _json(_without("chunk_size"), "chunk_size"),
    "9-json-no-hidden": _json(_without("hidden"), "hidden"),
    "9-json-a-list": _json(lambda config: [config]),
    "9-json-not-utf8": _predict_with(_not_utf8, "classifier.json"),
    "9-json-hidden-a-string": _json(_with(hidden="512"), "hidden"),
    "9-json-dimensions-strings": _json(
        _with(dimensions={"dna": "340", "protein": "420"}), "dimension"
    ),
    "9-json-absurd-dimensions": _json(_with(**ABSURD), "dimension"),
    "9-weights-garbage": _predict_with(
        _weights(lambda data: b"\x00garbage, not safetensors" * 10), "model.safetensors"
    ),
    "9-weights-truncated": _predict_with(
        _weights(lambda data: data[: len(data) // 2]), "model.safetensors"
    ),
    # tiny_esm2 gives 32-d vectors, the classifier expects 420: refused before embedding
    # (after the log line of the loaded model)
    "9-embedder-of-another-dimension": _predict_with(
        _edit_json(_protein_embedder("tiny_esm2")), "tiny_esm2", "420", "32", alone=False
    ),
}


@pytest.mark.parametrize(
    "case",
    cases(
        CHECKPOINTS,
        slow_ones=("9-json-no-chunk_size", "9-json-no-hidden", "9-json-dimensions-strings"),
    ),
)
def test_9_defective_classifier_is_refused(outcomes, case):
    check_refusal(outcomes, case)


def _rewrite_ids(source: Path, target: Path, ids: str | None) -> Path:
    """``source`` with the ``ids`` metadata replaced (None: a JSON list of ints)."""
    with safe_open(str(source), "np") as handle:
        metadata = handle.metadata()
        matrix = handle.get_tensor("features")
    metadata.pop("ids")
    return write_features_by_hand(
        target, matrix, metadata, ids or json.dumps(list(range(len(matrix))))
    )


def _merge_ids(ids: str | None) -> Refusal:
    def make(folder: Path, need: Need) -> Command:
        sample = need("mixed")
        _rewrite_ids(sample.dna[0], folder / "bad.dna.safetensors", ids)
        stub(folder / "merged.safetensors")
        return ["merge_features.py", "--dna", "bad.dna.safetensors", "--protein",
                sample.proteins[0], "--output", "merged.safetensors"]  # fmt: skip

    return Refusal(make, words=("bad.dna.safetensors", "ids"))


def _classify_ids(ids: str | None) -> Refusal:
    def make(folder: Path, need: Need) -> Command:
        sample = need("mixed")
        bad = _rewrite_ids(sample.merged[0], folder / "bad.safetensors", ids)
        stub_outputs(folder / "out")
        return classify(sample, "out", *features_args([bad, *sample.merged[1:]]))

    return Refusal(make, words=("bad.safetensors", "ids"))


FEATURE_IDS = {
    "9-merge-ids-not-json": _merge_ids("['a', 'b'"),
    "9-merge-ids-list-of-ints": _merge_ids(None),
    "9-classify-ids-not-json": _classify_ids("['a', 'b'"),
    "9-classify-ids-list-of-ints": _classify_ids(None),
}


@pytest.mark.parametrize(
    "case", cases(FEATURE_IDS, slow_ones=("9-merge-ids-not-json", "9-classify-ids-list-of-ints"))
)
def test_9_feature_ids_must_be_a_json_list_of_names(outcomes, case):
    check_refusal(outcomes, case)


def _train(*option: str) -> Refusal:
    def make(folder: Path, need: Need) -> Command:
        data = need("training")
        stub(folder / "model" / "classifier.json")
        return ["train_classifier.py", "--features", data.features, "--train", data.train,
                "--validation", data.validation, "--output-dir", "model", *option]  # fmt: skip

    return Refusal(make, words=(option[0].strip("-").replace("-", "_"), option[1]))


def evaluate(data: TrainingData, output_dir: str, *extra: str) -> Command:
    return ["evaluate_classifier.py", "--classifier", DEMO, "--features", data.features,
            "--test", data.test, "--output-dir", output_dir, *extra]  # fmt: skip


def _evaluate_bootstrap_zero(folder: Path, need: Need) -> Command:
    stub(folder / "eval" / "evaluation.json")
    return evaluate(need("training"), "eval", "--bootstrap", "0")


def _evaluate_into_a_file(folder: Path, need: Need) -> Command:
    stub(folder / "eval")
    return evaluate(need("training"), "eval", "--bootstrap", "2")


def _predict_into_a_file(folder: Path, need: Need) -> Command:
    stub(folder / "out")
    return predict(MIXED, "out")


def _select_frames_one_path(folder: Path, need: Need) -> Command:
    return ["select_frames.py", "--input", need("mixed").chunks, "--nucleotide", "x",
            "--protein", "x", "--report", "r.tsv"]  # fmt: skip


def _predict_fraction(folder: Path, need: Need) -> Command:
    stub_outputs(folder / "out")
    return predict(MIXED, "out", "--min-viral-fraction", "1.5")


SETTINGS = {
    "9-train-batch-size-0": _train("--batch-size", "0"),
    "9-train-max-epochs-0": _train("--max-epochs", "0"),
    "9-train-learning-rate-negative": _train("--learning-rate", "-1"),
    "9-evaluate-bootstrap-0": Refusal(_evaluate_bootstrap_zero, words=("bootstrap", "0")),
    "9-evaluate-output-dir-is-a-file": Refusal(
        _evaluate_into_a_file, words=("eval", "not a folder")
    ),
    # refused when the tables are written, after the progress lines of the classification
    "9-predict-output-dir-is-a-file": Refusal(
        _predict_into_a_file, words=("out", "not a folder"), alone=False
    ),
    "9-select-frames-one-path-for-two-outputs": Refusal(
        _select_frames_one_path, words=("x", "two outputs")
    ),
    "9-predict-viral-fraction-1.5": Refusal(_predict_fraction, words=("fraction", "1.5")),
}  # fmt: skip


@pytest.mark.parametrize(
    "case",
    cases(SETTINGS, slow_ones=("9-train-max-epochs-0", "9-train-learning-rate-negative")),
)
def test_9_impossible_settings_are_refused(outcomes, case):
    check_refusal(outcomes, case)


def _no_nan(name: str) -> float:
    raise AssertionError(f"{name} in evaluation.json is not JSON")


def _evaluate(resamples: str) -> Run:
    return Run(lambda folder, need: evaluate(need("training"), "eval", "--bootstrap", resamples))


@pytest.mark.parametrize(
    "case",
    cases({"9-evaluate-bootstrap-1": _evaluate("1"), "9-evaluate-bootstrap-2": _evaluate("2")},
          slow_ones=("9-evaluate-bootstrap-1",)),
)  # fmt: skip
def test_9_few_bootstrap_resamples_still_give_valid_json(outcomes, case):
    outcome = outcomes[case]
    outcome.succeeded()
    report = json.loads(outcome.file("eval/evaluation.json").read_text(), parse_constant=_no_nan)
    assert report["bootstrap"]["resamples"] == int(case[-1])


def _chunk_size_command(script: str, size: str) -> Callable[[Path, Need], Command]:
    def make(folder: Path, need: Need) -> Command:
        common = ["--chunk-size", size]
        if script == "chunk_sequences.py":
            stub(folder / "chunks.fasta")
            return [script, "--input", MIXED, "--output", "chunks.fasta", *common]
        if script == "build_training_set.py":
            stub(folder / "n.fasta")
            return [script, "--genbank", ASSETS / "NC_005816.gb", "--label", "host", *common,
                    "--nucleotide", "n.fasta", "--protein", "p.fasta", "--sources", "s.tsv"]  # fmt: skip
        if script == "convert_legacy_model.py":
            return [script, "--input", MIXED, "--output-dir", "model", *common]
        stub(folder / "out.safetensors")
        sample = need("mixed")
        if script == "embed_dna.py":
            frames, embedder = sample.shards[0][0], "dna_composition"
        else:
            frames, embedder = sample.shards[0][1], "aa_composition"
        return [script, "--input", frames, "--output", "out.safetensors", "--embedder", embedder,
                *common, "--device", "cpu"]  # fmt: skip

    return make


CHUNK_SIZE_SCRIPTS = (
    "chunk_sequences.py",
    "build_training_set.py",
    "embed_dna.py",
    "embed_protein.py",
    "convert_legacy_model.py",
)
CHUNK_SIZES = {
    f"9-chunk-size-0-{script.removesuffix('.py')}": Refusal(
        _chunk_size_command(script, "0"), words=("chunk size", "0")
    )
    for script in CHUNK_SIZE_SCRIPTS
}
CHUNK_SIZES.update({
    f"9-chunk-size-abc-{script.removesuffix('.py')}": Refusal(
        _chunk_size_command(script, "abc"), words=("--chunk-size", "integer"), code=2
    )
    for script in ("chunk_sequences.py", "embed_dna.py")
})  # fmt: skip


@pytest.mark.parametrize(
    "case",
    cases(CHUNK_SIZES, slow_ones=("9-chunk-size-0-embed_protein", "9-chunk-size-abc-embed_dna")),
)
def test_9_impossible_chunk_size_is_refused(outcomes, case):
    check_refusal(outcomes, case)


# --------------------------------------------------------------------------- [10] GenBank


def cut_inside_sequence(text: str) -> str:
    origin = text.index("\nORIGIN")
    return text[: origin + (len(text) - origin) // 2]


def without_final_slashes(text: str) -> str:
    body = text.rstrip()
    assert body.endswith("\n//")
    return body[:-2]


def _truncated(cut: Callable[[str], str], alone: bool) -> Refusal:
    def make(folder: Path, need: Need) -> Command:
        (folder / "cut.gb").write_text(cut((ASSETS / "NC_005816.gb").read_text()))
        stub(folder / "n.fasta")
        return ["build_training_set.py", "--genbank", "cut.gb", "--label", "host",
                "--chunk-size", CHUNK, "--nucleotide", "n.fasta", "--protein", "p.fasta",
                "--sources", "s.tsv"]  # fmt: skip

    return Refusal(make, words=("cut.gb", "truncated"), alone=alone)


GENBANK = {
    # Biopython's other complaint ("Blank line in sequence data") is logged before the error
    "10-genbank-cut-inside-sequence": _truncated(cut_inside_sequence, alone=False),
    "10-genbank-without-final-slashes": _truncated(without_final_slashes, alone=True),
}


@pytest.mark.parametrize("case", cases(GENBANK))
def test_10_truncated_genbank_is_refused(outcomes, case):
    check_refusal(outcomes, case)


# --------------------------------------------------------------------------- [13] files and help


def _piped(folder: Path, need: Need) -> Command:
    stub(folder / "chunks.fasta")
    return ["chunk_sequences.py", "--input", "/dev/stdin", "--output", "chunks.fasta"]


def _zip(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mixed_example.fasta", data)
    return buffer.getvalue()


COMPRESSORS = {"bzip2": bz2.compress, "xz": lzma.compress, "zip": _zip}


def _compressed(name: str, command: str) -> Refusal:
    def make(folder: Path, need: Need) -> Command:
        # the content decides, not the name
        (folder / "in.fasta.gz").write_bytes(COMPRESSORS[name](MIXED.read_bytes()))
        if command == "predict":
            stub_outputs(folder / "out")
            return predict("in.fasta.gz", "out")
        stub(folder / "chunks.fasta")
        return ["chunk_sequences.py", "--input", "in.fasta.gz", "--output", "chunks.fasta"]

    return Refusal(make, words=("in.fasta.gz", name, "not supported"))


FILES = {
    "13-piped-stdin": Refusal(
        _piped, stdin=MIXED.read_text, words=("/dev/stdin", "pipes is not supported")
    ),
    **{f"13-chunk-{name}": _compressed(name, "chunk") for name in COMPRESSORS},
    **{f"13-predict-{name}": _compressed(name, "predict") for name in COMPRESSORS},
    "13-chunk-missing-option": Refusal(
        lambda folder, need: ["chunk_sequences.py", "--input", MIXED],
        words=("missing option", "--output"), code=2,
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", cases(FILES, slow_ones=("13-predict-bzip2", "13-predict-zip")))
def test_13_unreadable_input_files_are_refused(outcomes, case):
    check_refusal(outcomes, case)


def _chunk_of(content: Callable[[], bytes]) -> Run:
    def make(folder: Path, need: Need) -> Command:
        (folder / "in.fasta").write_bytes(content())
        return ["chunk_sequences.py", "--input", "in.fasta", "--output", "chunks.fasta"]

    return Run(make)


READABLE = {
    "13-chunk-plain": _chunk_of(MIXED.read_bytes),
    "13-chunk-utf8-bom": _chunk_of(lambda: b"\xef\xbb\xbf" + MIXED.read_bytes()),
    "13-chunk-gzip": _chunk_of(lambda: gzip.compress(MIXED.read_bytes(), mtime=0)),
}


register(READABLE)


@pytest.mark.parametrize("case", ["13-chunk-utf8-bom", "13-chunk-gzip"])
@needs("13-chunk-plain")
def test_13_bom_and_gzip_read_as_the_plain_file(outcomes, case):
    plain, other = outcomes["13-chunk-plain"], outcomes[case]
    plain.succeeded()
    other.succeeded()
    assert other.file("chunks.fasta").read_bytes() == plain.file("chunks.fasta").read_bytes()


HELP = {
    "13-help-select-frames": (["select_frames.py", "--help"], ("strand[k-1 : k+3L]",)),
    "13-help-virnucpro-embed-dna": (["virnucpro", "embed-dna", "--help"], ("[default: ",)),
    "13-help-embed-dna": (["embed_dna.py", "--help"], ("--embedder", "--model-dir")),
    "13-help-embed-protein": (["embed_protein.py", "--help"], ("--embedder", "--model-dir")),
}


@pytest.mark.parametrize(
    "case", cases({name: Run(lambda f, need, c=command: c) for name, (command, _) in HELP.items()})
)
def test_13_help_shows_its_text_literally(outcomes, case):
    outcome = outcomes[case]
    outcome.succeeded()
    for text in HELP[case][1]:
        assert text in outcome.result.stdout, outcome.result.stdout


# --------------------------------------------------------------------------- items 12 and 15


def _long_protein(folder: Path, need: Need) -> Command:
    residues = "".join(random.Random(12).choices("ACDEFGHIKLMNPQRSTVWY", k=1212))
    write_fasta(folder / "long.fasta", [("whole", residues), ("cut", residues[:1024])])
    return ["embed_protein.py", "--input", "long.fasta", "--output", "long.safetensors",
            "--embedder", "tiny_esm2", "--chunk-size", CHUNK, "--device", "cpu"]  # fmt: skip


def _tiny_dnabert(folder: Path, need: Need) -> Command:
    return ["embed_dna.py", "--input", need("mixed").shards[-1][0], "--output",
            "tiny.safetensors", "--embedder", "tiny_dnabert_s", "--chunk-size", CHUNK,
            "--device", "cpu"]  # fmt: skip


register({"12-long-protein": Run(_long_protein), "15-tiny-dnabert-s": Run(_tiny_dnabert)})


@needs("12-long-protein")
def test_12_a_long_protein_is_read_whole(outcomes):
    outcome = outcomes["12-long-protein"]
    outcome.succeeded()
    features = read_features(outcome.file("long.safetensors"))
    assert features.ids == ["whole", "cut"]
    assert not np.allclose(features.matrix[0], features.matrix[1], atol=1e-6)


@needs("15-tiny-dnabert-s")
def test_15_bundled_dnabert_s_revision_is_recorded_as_bundled(outcomes):
    outcome = outcomes["15-tiny-dnabert-s"]
    outcome.succeeded()
    metadata = read_features(outcome.file("tiny.safetensors")).metadata
    assert metadata["embedder"] == "tiny_dnabert_s"
    assert metadata["revision"] == "bundled"
