"""The bin/ scripts as users and Nextflow call them: help, version, and bad input."""

from __future__ import annotations

import gzip

import pytest
from conftest import ASSETS, BIN, run_script, write_fasta

from virnucpro import __version__

SCRIPTS = [
    "chunk_sequences.py",
    "select_frames.py",
    "build_training_set.py",
    "split_dataset.py",
    "shard_frames.py",
    "classify.py",
    "prediction_report.py",
]
# SPEC §10: options that modules, tests and users rely on.
FIXED_OPTIONS = {
    "chunk_sequences.py": ["--input", "--output", "--chunk-size"],
    "select_frames.py": ["--input", "--nucleotide", "--protein", "--report"],
    "build_training_set.py": [
        "--genbank",
        "--label",
        "--chunk-size",
        "--nucleotide",
        "--protein",
        "--sources",
    ],
    "split_dataset.py": ["--seed", "--test-fraction", "--val-fraction", "--group-by"],
    "shard_frames.py": ["--frames-per-shard"],
    "classify.py": [
        "--classifier",
        "--features",
        "--report",
        "--sequences",
        "--output-dir",
        "--prefix",
    ],
    "prediction_report.py": ["--chunk-calls", "--sequence-calls", "--classifier", "--output"],
}


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_are_executable_thin_wrappers_with_help_and_version(script):
    path = BIN / script
    assert path.stat().st_mode & 0o111
    assert path.read_text().startswith("#!/usr/bin/env python3\n")
    help_run = run_script(script, "--help")
    assert help_run.returncode == 0, help_run.stderr
    for option in FIXED_OPTIONS[script]:
        assert option in help_run.stdout
    version_run = run_script(script, "--version")
    assert version_run.stdout.strip() == __version__


def _error_line(result):
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def _chunk(tmp_path, source, *extra):
    return run_script(
        "chunk_sequences.py", "--input", source, "--output", tmp_path / "out.fasta", *extra
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"", "file is empty"),
        (b"\n\n", "file is empty"),
        (
            b"hello world\nACGT\n",
            "not a FASTA file (first line should start with '>', found 'hello world')",
        ),
        (b">a\nACGT\n>b\nAC\n>a\nGG\n", "duplicate sequence id 'a'"),
        (b">p1 protein\nMKVLLEPQRSTW\n", "record 'p1' looks like a protein sequence"),
        (b">a\nACGT1\n", "record 'a' has invalid characters '1'"),
        (b">\nACGT\n", "a record has an empty header line"),
        (gzip.compress(b">a\nACGT\n")[:-8], "cannot read"),
    ],
    ids=[
        "missing",
        "empty",
        "blank",
        "not-fasta",
        "duplicate-ids",
        "protein",
        "digit",
        "no-id",
        "truncated-gzip",
    ],
)
def test_bad_fasta_gives_one_error_line_and_no_output(tmp_path, content, message):
    source = tmp_path / "input.fasta"
    if content is not None:
        source.write_bytes(content)
    line = _error_line(_chunk(tmp_path, source))
    assert message in line and str(source) in line
    assert not (tmp_path / "out.fasta").exists()
    assert [p.name for p in tmp_path.iterdir()] == ([source.name] if content is not None else [])


def test_chunk_size_zero(tmp_path):
    source = write_fasta(tmp_path / "in.fasta", [("a", "ACGT")])
    assert _error_line(_chunk(tmp_path, source, "--chunk-size", "0")) == (
        "error: chunk size must be a positive number of bases up to 65,536, got 0"
    )
    assert not (tmp_path / "out.fasta").exists()


def test_failed_run_keeps_the_previous_output(tmp_path):
    source = write_fasta(tmp_path / "in.fasta", [("a", "ACGT")])
    assert _chunk(tmp_path, source).returncode == 0
    before = (tmp_path / "out.fasta").read_text()
    source.write_text(">a\nACGT\n>a\nACGT\n")
    _error_line(_chunk(tmp_path, source))
    assert (tmp_path / "out.fasta").read_text() == before


def test_select_frames_refuses_protein_input(tmp_path):
    source = write_fasta(tmp_path / "in.fasta", [("x", "MEEPQSDPSV")])
    result = run_script(
        "select_frames.py",
        "--input",
        source,
        "--nucleotide",
        tmp_path / "nt.fa",
        "--protein",
        tmp_path / "aa.fa",
        "--report",
        tmp_path / "r.tsv",
    )
    assert "looks like a protein sequence" in _error_line(result)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.fasta"]


def _training_set(tmp_path, genbank, label="viral"):
    return run_script(
        "build_training_set.py",
        "--genbank", genbank, "--label", label, "--chunk-size", "300",
        "--nucleotide", tmp_path / "nt.fa", "--protein", tmp_path / "aa.fa", "--sources", tmp_path / "s.tsv",
    )  # fmt: skip


def test_training_set_refuses_fasta_named_genbank_and_empty_files(tmp_path):
    # FASTA genomes are read by their name (.fa, .fasta, ...); FASTA under a GenBank name is refused
    misnamed = tmp_path / "x.gb"
    misnamed.write_bytes((ASSETS / "mixed_example.fasta").read_bytes())
    assert "not a GenBank file" in _error_line(_training_set(tmp_path, misnamed))
    empty = tmp_path / "empty.gb"
    empty.write_text("")
    assert "file is empty" in _error_line(_training_set(tmp_path, empty))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.gb", "x.gb"]


def test_training_set_label_must_be_viral_or_host(tmp_path):
    result = _training_set(tmp_path, ASSETS / "EU851978.gbk", label="virus")
    assert result.returncode == 2 and "viral" in result.stderr and "host" in result.stderr


def test_whole_preprocessing_chain_on_bundled_data(tmp_path):
    """chunk -> frames -> shard for prediction, training set -> split -> shard for training."""
    chunks, nt, aa = tmp_path / "chunks.fa", tmp_path / "nt.fa", tmp_path / "aa.fa"
    steps = [
        (
            "chunk_sequences.py",
            "--input",
            ASSETS / "mixed_example.fasta",
            "--output",
            chunks,
            "--chunk-size",
            "500",
        ),
        (
            "select_frames.py",
            "--input",
            chunks,
            "--nucleotide",
            nt,
            "--protein",
            aa,
            "--report",
            tmp_path / "frames.tsv",
        ),
        (
            "shard_frames.py",
            "--nucleotide",
            nt,
            "--protein",
            aa,
            "--output-dir",
            tmp_path / "predict",
            "--frames-per-shard",
            "100",
        ),
    ]
    sources = []
    for name, label in (
        ("microviruses_12.gbk", "viral"),
        ("NC_005816.gb", "host"),
        ("arab1.gb.gz", "host"),
    ):
        sources.append(tmp_path / f"{name}.tsv")
        steps.append((
            "build_training_set.py", "--genbank", ASSETS / name, "--label", label, "--nucleotide", tmp_path / f"{name}.nt",
            "--protein", tmp_path / f"{name}.aa", "--sources", sources[-1], "--counts", tmp_path / f"{name}.counts",
            "--sketches", tmp_path / f"{name}.sketches",
        ))  # fmt: skip
    steps.append(
        (
            "split_dataset.py",
            *[arg for s in sources for arg in ("--sources", s)],
            *[arg for s in sources for arg in ("--sketches", s.with_suffix(".sketches"))],
            "--output-dir",
            tmp_path / "split",
        )
    )
    steps.append((
        "shard_frames.py",
        *[arg for n in ("microviruses_12.gbk", "NC_005816.gb", "arab1.gb.gz") for arg in ("--nucleotide", tmp_path / f"{n}.nt")],
        *[arg for n in ("microviruses_12.gbk", "NC_005816.gb", "arab1.gb.gz") for arg in ("--protein", tmp_path / f"{n}.aa")],
        *[arg for s in ("train", "validation", "test") for arg in ("--ids", tmp_path / "split" / f"{s}.tsv")],
        "--output-dir", tmp_path / "train", "--prefix", "train",
    ))  # fmt: skip
    for step in steps:
        result = run_script(*step)
        assert result.returncode == 0, f"{step[0]}: {result.stderr}"
    assert (tmp_path / "predict" / "shard_00001.protein.fasta").exists()
    split_ids = sum(
        len((tmp_path / "split" / f"{s}.tsv").read_text().splitlines()) - 1
        for s in ("train", "validation", "test")
    )
    shard_ids = (tmp_path / "train" / "train_00001.protein.fasta").read_text().count(">")
    assert shard_ids == split_ids > 0


def test_cuda_out_of_memory_exits_75_with_one_error_line(capsys, monkeypatch):
    import torch

    from virnucpro.cli.common import new_app, run_app
    from virnucpro.errors import EXIT_OUT_OF_MEMORY

    app = new_app("Commands that fail.")

    @app.command()
    def load(size: int = 1) -> None:
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB\nmore")

    @app.command()
    def other(size: int = 1) -> None:
        raise ValueError("not a memory problem")

    monkeypatch.setattr("sys.argv", ["prog", "load"])
    with pytest.raises(SystemExit) as exit_info:
        run_app(app)
    assert exit_info.value.code == EXIT_OUT_OF_MEMORY
    assert capsys.readouterr().err.splitlines() == [
        "error: out of GPU memory (CUDA out of memory. Tried to allocate 2.00 GiB); "
        "is another process using the GPU? (see nvidia-smi)"
    ]
    monkeypatch.setattr("sys.argv", ["prog", "other"])
    with pytest.raises(ValueError, match="not a memory problem"):
        run_app(app)


def test_a_terminated_command_removes_its_scratch_files_and_exits_143(tmp_path):
    """Nextflow stops a task with SIGTERM: the scratch database and unfinished outputs go."""
    import signal
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        """
        import time
        from virnucpro.cli.common import new_app, run_app
        from virnucpro.files.atomic import AtomicOutputs
        from virnucpro.files.scratch_database import scratch_database

        app = new_app("A long command.")

        @app.command()
        def work(output: str) -> None:
            with scratch_database(), AtomicOutputs() as outputs:
                outputs.open(output).write("half")
                print("ready", flush=True)
                time.sleep(60)

        run_app(app)
        """
    )
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path / "out.tsv")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**__import__("os").environ, "TMPDIR": str(scratch)},
    )
    assert process.stdout.readline() == "ready\n"
    assert len(list(scratch.iterdir())) >= 1
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 143
    assert stderr.splitlines()[-1] == "error: terminated (SIGTERM)"
    assert list(scratch.iterdir()) == [] and not (tmp_path / "out.tsv").exists()
