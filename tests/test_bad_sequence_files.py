"""Bad sequence files (FASTA, GenBank, frame files), run as the user runs the commands.

RNA is read as DNA; short and empty records are kept going past with a row that
says so; files without any base, swapped nucleotide and protein frame files,
truncated GenBank files, piped and compressed (bzip2, xz, zip) inputs are refused
with one ``error:`` line that names the file, and nothing written; a UTF-8 BOM or
gzip reads as the plain file; a protein longer than the embedder's window is read
whole. Ids that tables cannot carry (quotes, control or non-ASCII characters, a
leading ``#``, over 1000 characters) are refused as they are read; a long record
is chunked in bounded memory (under an address-space limit), and one too long for
a step that holds records whole is refused. What each case checks is described
in ``command_runs``.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import random
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from command_runs import (
    CHUNK,
    MIXED,
    TABLES,
    Command,
    Need,
    Refusal,
    Run,
    Runs,
    check_refusal,
    fasta_records,
    needs,
    outcomes_fixture,
    predict,
    read_tsv,
    slow,
    stub,
    stub_outputs,
)
from conftest import ASSETS, write_fasta

from virnucpro.files.feature_files import read_features
from virnucpro.preprocess.chunking import chunk_records

CALLS = {"virus", "others", "no_frame"}
TO_RNA = str.maketrans("Tt", "Uu")
TO_DNA = str.maketrans("Uu", "Tt")

RUNS = Runs()

outcomes = outcomes_fixture(RUNS)


def random_dna(length: int, seed: int) -> str:
    return "".join(random.Random(seed).choices("ACGT", k=length))


# --------------------------------------------------------------------------- RNA


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


RUNS.add({
    "predict-dna": _predict_nucleic(rna=False),
    "predict-rna": _predict_nucleic(rna=True),
    "chunk-dna": _chunk_nucleic(rna=False),
    "chunk-rna": _chunk_nucleic(rna=True),
})  # fmt: skip


def uracils() -> int:
    count = sum(sequence.upper().count("T") for _, sequence in rna_records())
    assert count and any("t" in sequence for _, sequence in rna_records())  # U and u both
    return count


@needs("predict-dna", "predict-rna")
def test_rna_is_predicted_exactly_as_dna(outcomes):
    dna, rna = outcomes["predict-dna"], outcomes["predict-rna"]
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


@needs("chunk-dna", "chunk-rna")
def test_chunk_sequences_writes_t_for_u(outcomes):
    dna, rna = outcomes["chunk-dna"], outcomes["chunk-rna"]
    dna.succeeded()
    log = rna.succeeded()
    sequences = [sequence for _, sequence in fasta_records(rna.file("chunks.fasta"))]
    assert sequences and not any("U" in sequence or "u" in sequence for sequence in sequences)
    assert rna.file("chunks.fasta").read_bytes() == dna.file("chunks.fasta").read_bytes()
    assert f"{uracils()} U" in log, log


# --------------------------------------------------------------------------- short and empty records


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

RUNS.add({
    "predict-short-and-empty": Run(lambda f, need: predict(short_and_empty(f), "out")),
    "chunk-short-and-empty": Run(
        lambda f, need: ["chunk_sequences.py", "--input", short_and_empty(f), "--output", "c.fa"]
    ),
})  # fmt: skip


@needs("predict-short-and-empty")
def test_short_and_empty_records_each_get_a_too_short_row(outcomes):
    outcome = outcomes["predict-short-and-empty"]
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


@needs("chunk-short-and-empty")
def test_chunk_sequences_keeps_going_past_short_and_empty_records(outcomes):
    outcome = outcomes["chunk-short-and-empty"]
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
    "predict-header-only": _no_sequence(">a\n", "predict"),
    "predict-only-empty-records": _no_sequence(">a\n>b\n\n>c\n", "predict"),
    "chunk-header-only": _no_sequence(">a\n", "chunk"),
    "chunk-only-empty-records": _no_sequence(">a\n>b\n\n>c\n", "chunk"),
}


@pytest.mark.parametrize("case", RUNS.cases(NO_SEQUENCE, slow_ones=("predict-only-empty-records",)))
def test_fasta_without_any_base_is_refused(outcomes, case):
    check_refusal(outcomes, case)


# --------------------------------------------------------------------------- swapped frame files


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
    "embed-protein-given-nucleotides": Refusal(
        _embed("protein", 0), words=("shard_00001.nucleotide.fasta", "nucleotide letters")
    ),
    "embed-dna-given-proteins": Refusal(
        _embed("dna", 1), words=("shard_00001.protein.fasta", "protein")
    ),
    "shard-frames-swapped": Refusal(_shard_swapped, words=("frames.protein.fasta",)),
}


@pytest.mark.parametrize("case", RUNS.cases(SWAPPED))
def test_swapped_frame_files_are_refused(outcomes, case):
    check_refusal(outcomes, case)


# --------------------------------------------------------------------------- truncated GenBank


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
    "genbank-cut-inside-sequence": _truncated(cut_inside_sequence, alone=False),
    "genbank-without-final-slashes": _truncated(without_final_slashes, alone=True),
}


@pytest.mark.parametrize("case", RUNS.cases(GENBANK))
def test_truncated_genbank_is_refused(outcomes, case):
    check_refusal(outcomes, case)


# --------------------------------------------------------------------------- pipes and compression


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


UNREADABLE = {
    "piped-stdin": Refusal(
        _piped, stdin=MIXED.read_text, words=("/dev/stdin", "pipes is not supported")
    ),
    **{f"chunk-{name}": _compressed(name, "chunk") for name in COMPRESSORS},
    **{f"predict-{name}": _compressed(name, "predict") for name in COMPRESSORS},
}  # fmt: skip


@pytest.mark.parametrize("case", RUNS.cases(UNREADABLE, slow_ones=("predict-bzip2", "predict-zip")))
def test_unreadable_input_files_are_refused(outcomes, case):
    check_refusal(outcomes, case)


def _chunk_of(content: Callable[[], bytes]) -> Run:
    def make(folder: Path, need: Need) -> Command:
        (folder / "in.fasta").write_bytes(content())
        return ["chunk_sequences.py", "--input", "in.fasta", "--output", "chunks.fasta"]

    return Run(make)


RUNS.add({
    "chunk-plain": _chunk_of(MIXED.read_bytes),
    "chunk-utf8-bom": _chunk_of(lambda: b"\xef\xbb\xbf" + MIXED.read_bytes()),
    "chunk-gzip": _chunk_of(lambda: gzip.compress(MIXED.read_bytes(), mtime=0)),
})  # fmt: skip


@pytest.mark.parametrize("case", ["chunk-utf8-bom", "chunk-gzip"])
@needs("chunk-plain")
def test_bom_and_gzip_read_as_the_plain_file(outcomes, case):
    plain, other = outcomes["chunk-plain"], outcomes[case]
    plain.succeeded()
    other.succeeded()
    assert other.file("chunks.fasta").read_bytes() == plain.file("chunks.fasta").read_bytes()


# --------------------------------------------------------------------------- long proteins


def _long_protein(folder: Path, need: Need) -> Command:
    residues = "".join(random.Random(12).choices("ACDEFGHIKLMNPQRSTVWY", k=1212))
    write_fasta(folder / "long.fasta", [("whole", residues), ("cut", residues[:1024])])
    # frames are checked against the chunk size: 1212 residues come from chunks of 3636+ bases
    return ["embed_protein.py", "--input", "long.fasta", "--output", "long.safetensors",
            "--embedder", "tiny_esm2", "--chunk-size", "3700", "--device", "cpu"]  # fmt: skip


RUNS.add({"long-protein": Run(_long_protein)})


@needs("long-protein")
def test_a_long_protein_is_read_whole(outcomes):
    outcome = outcomes["long-protein"]
    outcome.succeeded()
    features = read_features(outcome.file("long.safetensors"))
    assert features.ids == ["whole", "cut"]
    assert not np.allclose(features.matrix[0], features.matrix[1], atol=1e-6)


# --------------------------------------------------------------------------- sequence ids


def _chunk_ids(*ids: str) -> Callable[[Path, Need], Command]:
    """chunk_sequences.py on records named ``ids``, an earlier chunk file in place."""

    def make(folder: Path, need: Need) -> Command:
        records = [(name, random_dna(400, index)) for index, name in enumerate(ids)]
        (folder / "in.fasta").write_text("".join(f">{name} x\n{seq}\n" for name, seq in records))
        stub(folder / "chunks.fasta")
        return ["chunk_sequences.py", "--input", "in.fasta", "--output", "chunks.fasta"]

    return make


def _genbank_id(version: str) -> Callable[[Path, Need], Command]:
    """build_training_set.py on the bundled pPCP1 plasmid with ``version`` as its id."""

    def make(folder: Path, need: Need) -> Command:
        text = (ASSETS / "NC_005816.gb").read_text()
        text = re.sub(r"^VERSION     NC_005816\.1", f"VERSION     {version}", text, flags=re.M)
        text = re.sub(r"^ACCESSION   NC_005816", f"ACCESSION   {version}", text, flags=re.M)
        (folder / "in.gb").write_text(text)
        stub(folder / "n.fasta")
        return ["build_training_set.py", "--genbank", "in.gb", "--label", "host",
                "--nucleotide", "n.fasta", "--protein", "p.fasta", "--sources", "s.tsv"]  # fmt: skip

    return make


def _predict_ids(*ids: str) -> Callable[[Path, Need], Command]:
    """predict on the first contigs of the mixed example, renamed ``ids``."""

    def make(folder: Path, need: Need) -> Command:
        contigs = fasta_records(MIXED)[: len(ids)]
        write_fasta(folder / "in.fasta", [(n, s) for n, (_, s) in zip(ids, contigs, strict=True)])
        stub_outputs(folder / "out")
        return predict("in.fasta", "out")

    return make


LONG_ID = "x" * 1_000_000
BAD_IDS = {
    # a 1 MB id made a 1 GB chunk file and chunk_calls.tsv, then the report failed
    "chunk-id-of-a-million-characters": Refusal(
        _chunk_ids("ok", LONG_ID), words=("in.fasta", "'xxxxxxxx", "longer than 1,000 characters")
    ),
    "genbank-id-of-1001-characters": Refusal(
        _genbank_id("N" * 999 + ".1"), words=("in.gb", "longer than 1,000 characters")
    ),
    # ids starting with " passed, then classify read the tables back with CSV quoting
    "predict-id-starting-with-a-quote": Refusal(
        _predict_ids("ok", '"q1'), words=("in.fasta", """'"q1'""", """'"' in its id""")
    ),
    "chunk-id-starting-with-a-quote": Refusal(
        _chunk_ids('"q1'), words=("in.fasta", """'"' in its id""")
    ),
    "chunk-id-with-an-apostrophe": Refusal(
        _chunk_ids("it's"), words=("in.fasta", """"'" in its id""")
    ),
    "chunk-id-starting-with-a-hash": Refusal(
        _chunk_ids("#x"), words=("in.fasta", "'#' in its id", "may not start with '#'")
    ),
    "chunk-id-with-a-control-character": Refusal(
        _chunk_ids("a\x01b"), words=("in.fasta", r"'\x01' in its id")
    ),
    "chunk-id-not-ascii": Refusal(_chunk_ids("séq"), words=("in.fasta", "'é' in its id")),
    "genbank-id-starting-with-a-quote": Refusal(
        _genbank_id('"NC_005816.1'), words=("in.gb", """'"' in its id""")
    ),
}


@pytest.mark.parametrize(
    "case", RUNS.cases(BAD_IDS, slow_ones=("predict-id-starting-with-a-quote",))
)
def test_ids_that_break_tables_or_sizes_are_refused(outcomes, case):
    line = check_refusal(outcomes, case)
    assert len(line) < 300, line  # the id is shown shortened


# Every other printable ASCII character is carried through FASTA, tables and features.
ODD_IDS = ("sp|P1|X_1", "a#b", "x<y>&z;$(id)", "back\\slash", "a,b", "{c}[d]`e`~")
RUNS.add({"predict-odd-but-allowed-ids": Run(_predict_ids(*ODD_IDS))})


@slow
@needs("predict-odd-but-allowed-ids")
def test_ids_of_any_allowed_character_reach_every_table(outcomes):
    outcome = outcomes["predict-odd-but-allowed-ids"]
    outcome.succeeded()
    rows = read_tsv(outcome.file("out/predictions.sequence_calls.tsv"))
    assert [row["sequence_id"] for row in rows] == list(ODD_IDS)
    chunks = read_tsv(outcome.file("out/predictions.chunk_calls.tsv"))
    assert {row["chunk_id"].rsplit("_chunk_", 1)[0] for row in chunks} == set(ODD_IDS)


# --------------------------------------------------------------------------- long and many records

# Python with its address space (RLIMIT_AS) limited to argv[1] MiB runs the rest of argv.
_LIMITED = (
    "import os, resource, sys; os.environ['OPENBLAS_NUM_THREADS'] = '1'; "
    "limit = int(sys.argv[1]) << 20; resource.setrlimit(resource.RLIMIT_AS, (limit, limit)); "
    "os.execvp(sys.argv[2], sys.argv[2:])"
)
# chunk_sequences.py runs in about 140 MiB of address space; cutting a 64 MiB record
# held whole (at about 4.7 times its size) needed 300-400 MiB.
CHUNK_MEMORY_MIB = 256
LONG_RECORD = "ACGT" * (1 << 24) + "GGGGCCCCAAAATTTT"  # 64 MiB and a tail


def limited(mebibytes: int, command: Command) -> Command:
    return ["python", "-c", _LIMITED, str(mebibytes), *command]


def _long_record(folder: Path, need: Need) -> Command:
    records = f">long a description\n{LONG_RECORD}\n>short\nACGTACGT\n"
    (folder / "long.fasta.gz").write_bytes(gzip.compress(records.encode(), compresslevel=1))
    return limited(CHUNK_MEMORY_MIB, ["chunk_sequences.py", "--input", "long.fasta.gz",
                                       "--output", "chunks.fasta"])  # fmt: skip


def _too_long_to_hold(folder: Path, need: Need) -> Command:
    record = "ACGT" * (1 << 26) + "A"  # 2^28 + 1 bases: one more than a step holds
    (folder / "long.fasta.gz").write_bytes(
        gzip.compress(f">huge\n{record}\n".encode(), compresslevel=1)
    )
    stub(folder / "n.fasta")
    return ["select_frames.py", "--input", "long.fasta.gz", "--nucleotide", "n.fasta",
            "--protein", "p.fasta", "--report", "frames.tsv"]  # fmt: skip


def _genome_instead_of_chunks(folder: Path, need: Need) -> Command:
    """A 70,000-base record given to the frame step: longer than any chunk can be."""
    write_fasta(folder / "genome.fasta", [("genome", "ACGT" * 17_500)])
    stub(folder / "n.fasta")
    return ["select_frames.py", "--input", "genome.fasta", "--nucleotide", "n.fasta",
            "--protein", "p.fasta", "--report", "frames.tsv"]  # fmt: skip


def _duplicate_far_apart(folder: Path, need: Need) -> Command:
    # past three batches of the duplicate check: the first id is kept only as a hash
    names = [f"r{index}" for index in range(200_000)] + ["r0"]
    (folder / "in.fasta").write_text("".join(f">{name}\nA\n" for name in names))
    stub(folder / "chunks.fasta")
    return ["chunk_sequences.py", "--input", "in.fasta", "--output", "chunks.fasta"]


RUNS.add({"chunk-a-64-mib-record-in-256-mib": Run(_long_record)})
LONG = {
    "select-frames-record-too-long-to-hold": Refusal(
        _too_long_to_hold, words=("long.fasta.gz", "'huge'", "longer than 268,435,456 bases")
    ),
    "select-frames-a-genome-instead-of-its-chunks": Refusal(
        _genome_instead_of_chunks,
        words=("genome.fasta", "'genome' has 70,000 bases", "largest chunk size (65,536)"),
    ),
    "chunk-duplicate-200000-records-apart": Refusal(
        _duplicate_far_apart, words=("in.fasta", "duplicate sequence id 'r0'")
    ),
}


@slow
@needs("chunk-a-64-mib-record-in-256-mib")
def test_a_long_record_is_chunked_in_bounded_memory(outcomes):
    outcome = outcomes["chunk-a-64-mib-record-in-256-mib"]
    log = outcome.succeeded()
    assert "read 2 sequences (67108888 bases" in log, log
    expected = "".join(
        f">{name}\n{chunk}\n"
        for name, chunk in chunk_records([("long", LONG_RECORD), ("short", "ACGTACGT")], 300)
    )
    assert outcome.file("chunks.fasta").read_text() == expected


@pytest.mark.parametrize(
    "case", RUNS.cases(LONG, slow_ones=("select-frames-record-too-long-to-hold",))
)
def test_records_beyond_what_a_step_holds_are_refused(outcomes, case):
    check_refusal(outcomes, case)
