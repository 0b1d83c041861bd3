"""Chunking pinned to SPEC §4 for every length 1-2000 at chunk sizes 300 and 500; long
records streamed (read twice, never held) give the chunks of held ones."""

from __future__ import annotations

import gzip
import random
from itertools import pairwise

import pytest
import reference
from Bio.SeqIO.FastaIO import SimpleFastaParser
from conftest import read_fasta, write_fasta

from virnucpro.errors import InputError
from virnucpro.files import sequence_files
from virnucpro.preprocess.chunking import chunk_bounds, chunk_records, chunk_sequences


def random_bases(length: int, seed: int) -> str:
    return "".join(random.Random(seed).choices("ACGT", k=length))


@pytest.mark.parametrize("chunk_size", [300, 500])
def test_bounds_match_reference_for_every_length(chunk_size):
    for length in range(1, 2001):
        assert chunk_bounds(length, chunk_size) == reference.chunk_bounds(length, chunk_size), (
            length
        )


@pytest.mark.parametrize(
    ("length", "chunk_size", "lengths"),
    [
        (1, 300, [1]),
        (300, 300, [300]),
        (301, 300, [300, 151]),
        (600, 300, [300, 300]),
        (1000, 300, [300, 300, 300, 253]),
        (1001, 500, [500, 500, 335]),  # k=3, R=499, q=166, u=167: starts 0, 333, 666
    ],
)
def test_worked_examples(length, chunk_size, lengths):
    assert [end - start for start, end in chunk_bounds(length, chunk_size)] == lengths


def test_worked_example_starts():
    # n=1000, c=300: k=4, R=200, q=50, u=50 -> steps 51, 51, 51: starts 0, 249, 498, 747.
    assert [start for start, _ in chunk_bounds(1000, 300)] == [0, 249, 498, 747]
    # n=301, c=300: k=2, R=299, q=149, u=150 -> step 150: second chunk [150, 301).
    assert chunk_bounds(301, 300) == [(0, 300), (150, 301)]


@pytest.mark.parametrize("chunk_size", [1, 3, 300, 500])
def test_chunks_cover_the_sequence_in_order(chunk_size):
    for length in range(1, 1200, 7):
        bounds = chunk_bounds(length, chunk_size)
        assert len(bounds) == -(-length // chunk_size)
        assert bounds[0][0] == 0 and bounds[-1][1] == length
        for (start, end), (next_start, _) in pairwise(bounds):
            assert end - start == chunk_size
            assert start < next_start <= end


def test_empty_sequence_has_no_chunks():
    assert chunk_bounds(0, 300) == []


def test_chunk_ids_and_sequences():
    chunks = list(chunk_records([("seq1", "A" * 250 + "c" * 51)], 300))
    assert [chunk_id for chunk_id, _ in chunks] == ["seq1_chunk_1", "seq1_chunk_2"]
    assert chunks[0][1] == "A" * 250 + "c" * 50
    assert chunks[1][1] == "A" * 100 + "c" * 51  # case is kept


def test_chunk_size_zero_is_refused():
    with pytest.raises(InputError, match="positive number of bases up to 65,536, got 0"):
        list(chunk_records([("a", "ACGT")], 0))


def test_chunk_sequences_drops_descriptions_and_reads_gzip(tmp_path):
    source = tmp_path / "in.fasta.gz"
    with gzip.open(source, "wt") as handle:
        handle.write(">s1 some description\nACGTACGTAC\nGTACG\n>s2\n\n>s3\nAC\n")
    summary = chunk_sequences(source, tmp_path / "out.fasta", 6)
    # n=15, c=6: k=3, R=3, q=1, u=1 -> steps 2, 1: starts 0, 4, 9.
    assert read_fasta(tmp_path / "out.fasta") == [
        ("s1_chunk_1", "ACGTAC"),
        ("s1_chunk_2", "ACGTAC"),
        ("s1_chunk_3", "CGTACG"),
        ("s2_chunk_1", ""),  # kept visible: the prediction tables list it as too_short
        ("s3_chunk_1", "AC"),
    ]
    assert (summary.sequences, summary.empty_sequences, summary.chunks) == (3, 1, 5)


def test_chunk_sequences_matches_reference_on_real_contigs(tmp_path, shared_data):
    source = shared_data / "predict" / "mixed_example.fasta"
    for chunk_size in (300, 500):
        chunk_sequences(source, tmp_path / "ours.fasta", chunk_size)
        reference.chunk_fasta(source, tmp_path / "reference.fasta", chunk_size)
        ours = (tmp_path / "ours.fasta").read_text()
        assert ours == (tmp_path / "reference.fasta").read_text()


def test_output_written_only_when_complete(tmp_path):
    source = write_fasta(tmp_path / "in.fasta", [("a", "ACGT"), ("b", "ACGT"), ("a", "ACGT")])
    with pytest.raises(InputError, match="duplicate sequence id 'a'"):
        chunk_sequences(source, tmp_path / "out.fasta", 2)
    assert list(tmp_path.iterdir()) == [source]


def _random_layout(rng: random.Random) -> str:
    """A FASTA text with records of random lengths, line widths, case, U, spaces and tabs."""
    records = []
    for index in range(rng.randint(1, 5)):
        sequence = "".join(rng.choices("ACGTacgtUuN", k=rng.choice([0, 1, 5, 30, 100, 250])))
        lines, start = [], 0
        while start < len(sequence):
            width = rng.choice([1, 3, 10, 60, 1000])
            line = sequence[start : start + width]
            start += width
            if rng.random() < 0.2:  # trailing whitespace is dropped, inner spaces too
                line += rng.choice([" ", "  ", " \t", "\t "])
            if rng.random() < 0.1:
                line = " " + line
            lines.append(line + "\n")
        if rng.random() < 0.2:
            lines.append("\n")
        title = f">r{index}" + rng.choice(["", " d", " a long description" * 3])
        records.append(title + "\n" + "".join(lines))
    return "".join(records)


@pytest.mark.parametrize("seed", range(4))
def test_streamed_records_are_chunked_as_held_ones(tmp_path, monkeypatch, seed):
    # tiny pieces, blocks and window: every long-record path runs on small inputs
    rng = random.Random(seed)
    source = tmp_path / "in.fasta"
    for _ in range(150):
        monkeypatch.setattr(sequence_files, "_HELD_WHEN_STREAMING", rng.choice([1, 3, 10, 50]))
        monkeypatch.setattr(sequence_files, "_PIECE", rng.choice([12, 13, 17, 40, 1 << 20]))
        monkeypatch.setattr(sequence_files, "_BLOCK", rng.choice([1, 2, 5, 30, 1 << 20]))
        text = _random_layout(rng)
        source.write_text(text.rstrip("\n") if rng.random() < 0.2 else text)
        chunk_size = rng.choice([1, 2, 7, 50])
        expected = list(chunk_records(biopython_records(source), chunk_size))
        streamed = sequence_files.stream_dna(source)
        if not any(sequence for _, sequence in expected):
            with pytest.raises(InputError, match="no sequence"):
                list(chunk_records(streamed, chunk_size))
            continue
        assert list(chunk_records(streamed, chunk_size)) == expected, text
        assert list(chunk_records(sequence_files.read_dna(source), chunk_size)) == expected


def biopython_records(path) -> list[tuple[str, str]]:
    """Biopython's parse of ``path`` as read_dna reads it (first word, U as T)."""
    with open(path) as handle:
        return [
            (title.split()[0], sequence.replace("U", "T").replace("u", "t"))
            for title, sequence in SimpleFastaParser(handle)
        ]


def test_long_records_stream_between_short_ones(tmp_path, monkeypatch):
    monkeypatch.setattr(sequence_files, "_HELD_WHEN_STREAMING", 100)
    monkeypatch.setattr(sequence_files, "_PIECE", 64)
    monkeypatch.setattr(sequence_files, "_BLOCK", 64)
    records = [
        (f"s{index}", random_bases(length, index))
        for index, length in enumerate([1000, 5, 0, 777, 777, 101, 3, 2500])
    ]
    lines = "".join(f">{name}\n{sequence[:500]}\n{sequence[500:]}\n" for name, sequence in records)
    source = tmp_path / "in.fasta.gz"
    source.write_bytes(gzip.compress(lines.encode()))
    streamed = list(sequence_files.stream_dna(source))
    assert [type(sequence).__name__ for _, sequence in streamed] == [
        "LongSequence", "str", "str", "LongSequence", "LongSequence", "LongSequence", "str",
        "LongSequence",
    ]  # fmt: skip
    summary = chunk_sequences(source, tmp_path / "out.fasta", 300)
    assert read_fasta(tmp_path / "out.fasta") == list(chunk_records(records, 300))
    assert (summary.sequences, summary.bases) == (8, sum(len(s) for _, s in records))


def test_a_long_record_is_checked_whole_before_it_is_chunked(tmp_path, monkeypatch):
    monkeypatch.setattr(sequence_files, "_HELD_WHEN_STREAMING", 100)
    monkeypatch.setattr(sequence_files, "_BLOCK", 64)
    # foreign symbols in different blocks: named together, protein letters win
    source = write_fasta(
        tmp_path / "in.fasta", [("ok", "ACGT"), ("p", "A" * 300 + "1" + "A" * 300 + "E")]
    )
    with pytest.raises(InputError, match=r"record 'p' looks like a protein sequence \(has 1E\)"):
        chunk_sequences(source, tmp_path / "out.fasta", 300)
    assert not (tmp_path / "out.fasta").exists()
