"""Frame selection pinned to SPEC §4: ids, order, the 3L+1 slice, stops, N, case."""

from __future__ import annotations

import hashlib
import random

import pytest
import reference
from conftest import read_fasta, write_fasta

from virnucpro.preprocess.chunking import chunk_sequences
from virnucpro.preprocess.frames import Frame, select_frames, stop_free_frames


def test_hand_worked_chunk():
    # F1 ATG AAA CCC GGG TTT = MKPGF; F2 TGA... has a stop; F3 GAA ACC CGG GTT = ETRV.
    # Reverse complement AAACCCGGGTTTCAT: R1 KPGFH, R2 NPGF, R3 TRVS.
    frames = stop_free_frames([("c", "ATGAAACCCGGGTTT")])[0]
    assert frames == [
        Frame("cF1", "ATGAAACCCGGGTTT", "MKPGF"),
        Frame("cF3", "GAAACCCGGGTTT", "ETRV"),
        Frame("cR1", "AAACCCGGGTTTCAT", "KPGFH"),
        Frame("cR2", "AACCCGGGTTTCA", "NPGF"),
        Frame("cR3", "ACCCGGGTTTCAT", "TRVS"),
    ]


def test_nucleotide_slice_is_three_l_plus_one():
    # F1 of a 16-base chunk: 5 codons, slice [0:16] keeps one base past the codons.
    frames = stop_free_frames([("c", "ATGAAACCCGGGTTTA")])[0]
    forward = frames[0]
    assert forward.id == "cF1" and forward.protein == "MKPGF"
    assert forward.nucleotide == "ATGAAACCCGGGTTTA"
    assert len(forward.nucleotide) == 3 * len(forward.protein) + 1


def test_codons_with_other_characters_are_dropped_not_x():
    # ATG NNN AAA -> M, nothing, K: protein MK (L=2) so the slice is [0:7].
    frames = {frame.id: frame for frame in stop_free_frames([("c", "atgNNNaaa")])[0]}
    assert frames["cF1"] == Frame("cF1", "ATGNNNA", "MK")
    # Reverse complement keeps N as N: TTT NNN CAT -> F H.
    assert frames["cR1"] == Frame("cR1", "TTTNNNC", "FH")


def test_lowercase_is_uppercased():
    assert stop_free_frames([("c", "atgaaa")]) == stop_free_frames([("c", "ATGAAA")])
    assert stop_free_frames([("c", "atgaaa")])[0][0] == Frame("cF1", "ATGAAA", "MK")


def test_iupac_codes_are_not_complemented():
    # R is not complemented; reverse of ATGRAA is AARCAT -> TTR CAT: R1 is (dropped) H.
    frames = {frame.id: frame for frame in stop_free_frames([("c", "ATGRAA")])[0]}
    assert frames["cR1"] == Frame("cR1", "TTRC", "H")


def test_no_frame_for_stops_everywhere_and_short_chunks():
    # TTAATTAATTAA is its own reverse complement and has TAA at offsets 1, 5 and 9:
    # a stop in every frame of both strands.
    assert stop_free_frames([("c", "TTAATTAATTAA"), ("d", "AT"), ("e", ""), ("f", "NNNNNN")]) == [
        [],
        [],
        [],
        [],
    ]


def test_batch_of_mixed_lengths_keeps_input_order():
    chunks = [("a", "ATGAAACCC"), ("b", "ATGAAA"), ("c", "ATGAAACCC"), ("d", "ATG")]
    batched = stop_free_frames(chunks)
    assert batched == [stop_free_frames([chunk])[0] for chunk in chunks]
    assert [frames[0].id for frames in batched] == ["aF1", "bF1", "cF1", "dF1"]


def _random_chunk(rng: random.Random) -> str:
    alphabet = "ACGT" * 8 + "acgt" * 2 + "NRYKMSWBDHVX-"
    return "".join(
        rng.choice(alphabet) for _ in range(rng.choice([0, 1, 2, 3, 4, 5, 30, 151, 300, 301, 500]))
    )


def test_matches_reference_on_random_chunks_with_stops_n_and_case():
    rng = random.Random(7)
    chunks = [(f"c{i}", _random_chunk(rng)) for i in range(3000)]
    ours = [frame for frames in stop_free_frames(chunks) for frame in frames]
    expected = [
        Frame(*frame)
        for chunk_id, sequence in chunks
        for frame in reference.stop_free_frames(chunk_id, sequence)
    ]
    assert ours == expected
    assert len(expected) > 1000  # the comparison covered many kept frames


def test_fasta_step_matches_reference_and_reports_every_chunk(tmp_path, shared_data):
    chunks = tmp_path / "chunks.fasta"
    chunk_sequences(shared_data / "predict" / "mixed_example.fasta", chunks, 300)
    summary = select_frames(
        chunks, tmp_path / "nt.fasta", tmp_path / "aa.fasta", tmp_path / "frames.tsv"
    )
    reference.select_frames_fasta(chunks, tmp_path / "ref_nt.fasta", tmp_path / "ref_aa.fasta")
    assert (tmp_path / "nt.fasta").read_text() == (tmp_path / "ref_nt.fasta").read_text()
    assert (tmp_path / "aa.fasta").read_text() == (tmp_path / "ref_aa.fasta").read_text()
    rows = [line.split("\t") for line in (tmp_path / "frames.tsv").read_text().splitlines()]
    assert rows[0] == ["chunk_id", "length", "frames", "sha256"]
    assert [row[0] for row in rows[1:]] == [chunk_id for chunk_id, _ in read_fasta(chunks)]
    assert [row[3] for row in rows[1:]] == [
        hashlib.sha256(sequence.upper().encode()).hexdigest() for _, sequence in read_fasta(chunks)
    ]
    no_frame = [row for row in rows[1:] if row[2] == "no_frame"]
    assert summary.chunks == len(rows) - 1 and summary.chunks_without_frame == len(no_frame) > 0
    kept = sum(len(row[2].split(",")) for row in rows[1:] if row[2] != "no_frame")
    assert kept == summary.frames == len(read_fasta(tmp_path / "nt.fasta"))


def test_report_lists_frames_and_no_frame(tmp_path):
    source = write_fasta(
        tmp_path / "chunks.fasta", [("x_chunk_1", "atgAAACCCGGGTTT"), ("x_chunk_2", "TTAATTAATTAA")]
    )
    select_frames(source, tmp_path / "nt.fasta", tmp_path / "aa.fasta", tmp_path / "frames.tsv")
    # sha256 of the uppercase bases, as `printf ATGAAACCCGGGTTT | sha256sum` gives it
    assert (tmp_path / "frames.tsv").read_text() == (
        "chunk_id\tlength\tframes\tsha256\n"
        "x_chunk_1\t15\tF1,F3,R1,R2,R3\t"
        f"{hashlib.sha256(b'ATGAAACCCGGGTTT').hexdigest()}\n"
        f"x_chunk_2\t12\tno_frame\t{hashlib.sha256(b'TTAATTAATTAA').hexdigest()}\n"
    )
    assert [record_id for record_id, _ in read_fasta(tmp_path / "aa.fasta")] == [
        "x_chunk_1F1",
        "x_chunk_1F3",
        "x_chunk_1R1",
        "x_chunk_1R2",
        "x_chunk_1R3",
    ]


@pytest.mark.parametrize("batch_size", [1, 3])
def test_batches_do_not_change_the_output(tmp_path, monkeypatch, batch_size):
    rng = random.Random(3)
    source = write_fasta(
        tmp_path / "chunks.fasta", [(f"c{i}", _random_chunk(rng) or "A") for i in range(50)]
    )
    select_frames(source, tmp_path / "a_nt.fasta", tmp_path / "a_aa.fasta", tmp_path / "a.tsv")
    monkeypatch.setattr("virnucpro.preprocess.frames._BATCH_CHUNKS", batch_size)
    select_frames(source, tmp_path / "b_nt.fasta", tmp_path / "b_aa.fasta", tmp_path / "b.tsv")
    for name in ("nt.fasta", "aa.fasta"):
        assert (tmp_path / f"a_{name}").read_text() == (tmp_path / f"b_{name}").read_text()
    assert (tmp_path / "a.tsv").read_text() == (tmp_path / "b.tsv").read_text()
