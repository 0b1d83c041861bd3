"""Shared machinery of the bad-input tests: each case runs a real command as the user runs it.

Each case runs the real command (a ``bin/`` script or the ``virnucpro`` console
script, found on PATH) in a folder of its own and checks what a user sees: the
exit status; for errors, exactly one ``error:`` line naming what is wrong and no
traceback; that no new file appeared in the folder (hidden temporaries included)
and that the earlier outputs placed at the paths the command would write are
unchanged byte for byte; for "keep going" cases, the row that says so.

Inputs are the bundled data: the mixed example (10 contigs), the bundled GenBank
files, the model-free demo classifier (dna_composition + aa_composition, chunk
size 300) and the tiny seeded models.

Every process spends about a second importing torch, so each test file lists its
commands in a ``Runs`` table and runs those of its selected tests first, several
at a time, in its module fixture ``outcomes`` (``run_selected``); each test then
checks its own command's outcome. The samples the commands read (``SHARED_INPUTS``)
are made once per session, when a command first needs them.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from Bio.SeqIO.FastaIO import SimpleFastaParser
from conftest import ASSETS, ROOT, run_script, write_fasta

MIXED = ASSETS / "mixed_example.fasta"
DEMO = ROOT / "assets" / "models" / "composition_classifier"
CHUNK = "300"
TABLES = ("sequence_calls.tsv", "chunk_calls.tsv", "frame_scores.tsv")
# Stops in all six frames: TAA at offsets 0, 4, 8 forward; TTA (TAA reversed) likewise.
ALL_STOPS = "TAAATAAATAA" + "TTATTTATTTA"
STUB = b"earlier output, must survive\n"
WORKERS = min(8, max(2, os.cpu_count() or 2))
slow = pytest.mark.slow

Need = Callable[[str], Any]  # one of SHARED_INPUTS, by name
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


def predict(
    fasta: str | Path, output_dir: str | Path, *extra: str, classifier: Path = DEMO
) -> Command:
    """``virnucpro predict`` with the demo classifier on the CPU, its outputs named
    ``predictions.*`` whatever the input and replacing earlier ones (``--overwrite``: the
    stubs a case places must meet the check it is about, not the prefix rule, which
    test_prediction_provenance.py checks); a ``--prefix`` in ``extra`` wins."""
    return [
        "virnucpro", "predict", fasta, "--classifier", classifier, "--device", "cpu",
        "--output-dir", output_dir, "--prefix", "predictions", "--overwrite", *extra,
    ]  # fmt: skip


def features_args(paths: list[Path]) -> list[str | Path]:
    return [arg for path in paths for arg in ("--features", path)]


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


def mixed(folder: Path) -> Sample:
    """The mixed example (393 frames) prepared for the classify step, in 2 shards."""
    sample = prepare(MIXED, folder / "sample")
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


def other_report(folder: Path) -> Path:
    """The frames report of another sample: the first 3 contigs of the mixed example."""
    return select_frames_of(fasta_records(MIXED)[:3], folder)[1]


def stop_sample(folder: Path) -> tuple[Path, Path]:
    """A sample whose chunks all have a stop in every frame: (FASTA, frames report)."""
    records = [(f"stops{i}", (ALL_STOPS * 40)[i : i + 300 + 50 * i]) for i in range(3)]
    fasta, report = select_frames_of(records, folder)
    rows = read_tsv(report)
    assert len(rows) == 5 and {row["frames"] for row in rows} == {"no_frame"}, rows
    return fasta, report


@dataclass
class TrainingData:
    features: Path
    train: Path
    validation: Path
    test: Path


def training(folder: Path) -> TrainingData:
    """Merged features and split lists from the bundled viral and host GenBank files."""
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


#: What a command may ``need``: each made in a folder of its own, once per session.
SHARED_INPUTS: dict[str, Callable[[Path], Any]] = {
    "mixed": mixed,
    "other_report": other_report,
    "stop_sample": stop_sample,
    "training": training,
}
_MADE = pytest.StashKey[dict[str, Any]]()


def shared_inputs(config: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Need:
    """``need(name)``: the shared input ``name``, made on first use and kept for the session."""
    made = config.stash.setdefault(_MADE, {})

    def need(name: str) -> Any:
        if name not in made:
            made[name] = SHARED_INPUTS[name](tmp_path_factory.mktemp(name))
        return made[name]

    return need


def classify(sample: Sample, output_dir: str, *extra, report: Path | None = None) -> Command:
    """``classify.py`` (the classify step) with the demo classifier."""
    return [
        "classify.py", "--classifier", DEMO, "--report", report or sample.report,
        "--output-dir", output_dir, *extra,
    ]  # fmt: skip


def evaluate(data: TrainingData, output_dir: str, *extra: str) -> Command:
    return ["evaluate_classifier.py", "--classifier", DEMO, "--features", data.features,
            "--test", data.test, "--output-dir", output_dir, *extra]  # fmt: skip


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
    run: Run = field(repr=False)
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


class Runs(dict[str, Run]):
    """The runs of one test file, by name; a test names its runs by its ``case`` parameter
    or by ``needs``."""

    def add(self, table: dict[str, Run]) -> dict[str, Run]:
        assert not self.keys() & table.keys()
        self.update(table)
        return table

    def cases(self, table: dict[str, Run], slow_ones: tuple[str, ...] = ()) -> list:
        """Parameters for the names of ``table``, those in ``slow_ones`` marked slow."""
        assert set(slow_ones) <= table.keys()
        self.add(table)
        return [
            pytest.param(name, id=name, marks=[slow] if name in slow_ones else []) for name in table
        ]


def needs(*names: str) -> Callable:
    """Declare the runs a test uses besides its ``case`` parameter."""

    def mark(test: Callable) -> Callable:
        test.runs = names
        return test

    return mark


def run_selected(
    runs: Runs, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Outcome]:
    """The outcome of every run that the selected tests of the requesting module use, run
    several at a time (the body of each test file's module fixture ``outcomes``)."""
    wanted: dict[str, None] = {}
    for item in request.session.items:
        if Path(item.path) != request.path:
            continue
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("case") in runs:
            wanted[callspec.params["case"]] = None
        wanted.update(dict.fromkeys(getattr(getattr(item, "function", None), "runs", ())))
    need = shared_inputs(request.config, tmp_path_factory)
    jobs = []
    for name in wanted:
        folder = tmp_path_factory.mktemp(re.sub(r"\W", "_", name)[:30])
        command = runs[name].make(folder, need)
        stdin = runs[name].stdin() if runs[name].stdin else None
        jobs.append((name, folder, command, stdin))

    def run(job: tuple) -> Outcome:
        name, folder, command, stdin = job
        before = snapshot(folder)
        result = run_in(folder, command, stdin)
        return Outcome(runs[name], folder, result, before, snapshot(folder))

    with ThreadPoolExecutor(WORKERS) as pool:
        return {job[0]: outcome for job, outcome in zip(jobs, pool.map(run, jobs), strict=True)}


def outcomes_fixture(runs: Runs):
    """A test file's module fixture ``outcomes``: the commands of its selected tests,
    run first, several at a time."""

    @pytest.fixture(scope="module")
    def outcomes(request, tmp_path_factory):
        return run_selected(runs, request, tmp_path_factory)

    return outcomes


def check_refusal(outcomes: dict[str, Outcome], case: str) -> str:
    refusal = outcomes[case].run
    assert isinstance(refusal, Refusal)
    return outcomes[case].refused(refusal)
