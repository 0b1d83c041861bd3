"""The per-frame, per-chunk and per-sequence rules on hand-set scores."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from conftest import read_fasta, write_fasta

from virnucpro.classify.calling import (
    Chunk,
    call_chunks,
    call_sequences,
    chunk_of,
    sequence_of,
)
from virnucpro.classify.prediction_tables import write_predictions
from virnucpro.errors import InputError
from virnucpro.preprocess.chunking import chunk_records, minimum_length


def _chunks(*specs: tuple[str, int, str], source: Path | None = None) -> list[Chunk]:
    """Chunks from (id, length, "F1,R2") triples, as a frames report lists them, with the
    digests of the chunks of ``source`` cut at 300 bp."""
    pieces = dict(chunk_records(read_fasta(source), 300)) if source else {}
    return [
        Chunk(
            i,
            n,
            tuple(labels.split(",")) if labels else (),
            hashlib.sha256(pieces.get(i, "").encode()).hexdigest(),
        )
        for i, n, labels in specs
    ]


def test_ids_map_frames_to_chunks_to_sequences():
    assert chunk_of("NC_1.2_chunk_12R3") == "NC_1.2_chunk_12"
    assert sequence_of("my_chunk_seq_chunk_3") == "my_chunk_seq"


def test_minimum_length_is_half_the_chunk_size_and_below_every_chunk_of_a_longer_sequence():
    assert (minimum_length(300), minimum_length(500), minimum_length(7)) == (150, 250, 4)
    # n = c + 1 gives the shortest last chunk: c // 2 + 1 bases, above the minimum.
    from virnucpro.preprocess.chunking import chunk_bounds

    for c in (300, 500):
        lengths = [end - start for n in range(c + 1, 3 * c) for start, end in chunk_bounds(n, c)]
        assert min(lengths) == c // 2 + 1 >= minimum_length(c)


def test_chunk_is_virus_when_best_virus_score_reaches_best_others_score():
    chunks = _chunks(
        ("a_chunk_1", 300, "F1,R2"), ("a_chunk_2", 300, "F1,F3"), ("a_chunk_3", 300, ""),
        ("b_chunk_1", 300, "F2"),
    )  # fmt: skip
    frames = ["a_chunk_1F1", "a_chunk_1R2", "a_chunk_2F1", "a_chunk_2F3", "b_chunk_1F2"]
    scores = np.array([[0.7, 0.3], [0.4, 0.6], [0.9, 0.1], [0.8, 0.2], [0.5, 0.5]])
    calls = {c.chunk_id: c for c in call_chunks(chunks, frames, scores, 300)}
    # a_chunk_1: max(score2) 0.6 < max(score1) 0.7 -> others, although one frame says virus.
    assert (calls["a_chunk_1"].prediction, calls["a_chunk_1"].frames) == ("others", 2)
    assert (calls["a_chunk_1"].max_score1, calls["a_chunk_1"].max_score2) == (0.7, 0.6)
    assert calls["a_chunk_2"].prediction == "others"
    assert calls["a_chunk_3"].prediction == "no_frame" and calls["a_chunk_3"].frames == 0
    assert calls["b_chunk_1"].prediction == "virus"  # a tie counts as virus (>=)


def test_chunks_shorter_than_half_the_chunk_size_are_too_short_and_never_scored():
    chunks = _chunks(("s_chunk_1", 149, "F1"), ("t_chunk_1", 150, "F1"), ("u_chunk_1", 0, ""))
    frames, scores = ["s_chunk_1F1", "t_chunk_1F1"], np.array([[0.07, 0.93], [0.07, 0.93]])
    calls = [c.prediction for c in call_chunks(chunks, frames, scores, 300)]
    assert calls == ["too_short", "virus", "too_short"]
    sequences = call_sequences(call_chunks(chunks, frames, scores, 300))
    assert [(c.sequence_id, c.call, c.chunks_with_frames) for c in sequences] == [
        ("s", "too_short", 0), ("t", "virus", 1), ("u", "too_short", 0),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        (["a_chunk_1F1"], "1 frames of the frames report have no features: a_chunk_2R1"),
        (["a_chunk_1F1", "a_chunk_2R1", "a_chunk_2R1"], "frames scored twice: a_chunk_2R1"),
        (["a_chunk_1F1", "a_chunk_2R1", "z_chunk_1F1"], "not in the frames report: z_chunk_1F1"),
    ],
    ids=["missing", "doubled", "foreign"],
)
def test_scored_frames_must_be_exactly_the_reported_frames(frames, message):
    chunks = _chunks(("a_chunk_1", 300, "F1"), ("a_chunk_2", 300, "R1"))
    with pytest.raises(InputError, match=message):
        call_chunks(chunks, frames, np.full((len(frames), 2), 0.5), 300)


def test_sequence_call_uses_the_share_of_viral_chunks_with_frames():
    chunks = _chunks(
        ("s_chunk_1", 300, "F1"), ("s_chunk_2", 300, "F1"), ("s_chunk_3", 300, "F1"),
        ("s_chunk_4", 300, ""), ("t_chunk_1", 300, "F1"), ("u_chunk_1", 300, ""),
    )  # fmt: skip
    frames = ["s_chunk_1F1", "s_chunk_2F1", "s_chunk_3F1", "t_chunk_1F1"]
    scores = np.array([[0.2, 0.8], [0.9, 0.1], [0.4, 0.6], [0.6, 0.4]])
    chunk_calls = call_chunks(chunks, frames, scores, 300)
    calls = {c.sequence_id: c for c in call_sequences(chunk_calls)}
    s = calls["s"]
    assert (s.chunks, s.chunks_with_frames, s.viral_chunks, s.max_viral_score, s.call) == (
        4,
        3,
        2,
        0.8,
        "virus",
    )
    assert calls["t"].call == "others" and calls["t"].viral_chunks == 0
    assert calls["u"].call == "no_frame" and np.isnan(calls["u"].max_viral_score)
    # 2 of 3 chunks viral: virus at 0.5 and 0.66, others at 0.7.
    assert {c.sequence_id: c.call for c in call_sequences(chunk_calls, 0.7)}["s"] == "others"
    assert list(calls) == ["s", "t", "u"]
    with pytest.raises(InputError, match=r"between 0 and 1, got 1\.5"):
        call_sequences(chunk_calls, 1.5)


def test_written_tables_and_viral_fasta(tmp_path):
    source = write_fasta(
        tmp_path / "in.fasta",
        [("s", "ACGT" * 100), ("t", "GGCC" * 75), ("u", "AT"), ("v", "ATGAAA")],
    )
    chunks = _chunks(
        ("s_chunk_1", 300, "F1"), ("s_chunk_2", 201, "R1"), ("t_chunk_1", 300, "F2"),
        ("u_chunk_1", 2, ""), ("v_chunk_1", 6, "F1"), source=source,
    )  # fmt: skip
    frames = ["s_chunk_1F1", "s_chunk_2R1", "t_chunk_1F2", "v_chunk_1F1"]
    scores = np.array([[0.25, 0.75], [0.5, 0.5], [0.875, 0.125], [0.125, 0.875]])
    write_predictions(tmp_path, "run", chunks, frames, scores, 300, source)
    # v is 6 bp: too short for a 300 bp classifier, so its frame is not reported as a call.
    assert (tmp_path / "run.frame_scores.tsv").read_text() == (
        "Sequence_ID\tPrediction\tscore1\tscore2\n"
        "s_chunk_1F1\tvirus\t0.250000\t0.750000\n"
        "s_chunk_2R1\tothers\t0.500000\t0.500000\n"
        "t_chunk_1F2\tothers\t0.875000\t0.125000\n"
    )
    assert (tmp_path / "run.chunk_calls.tsv").read_text().splitlines()[1:] == [
        "s_chunk_1\tvirus\t1\t0.250000\t0.750000",
        "s_chunk_2\tvirus\t1\t0.500000\t0.500000",
        "t_chunk_1\tothers\t1\t0.875000\t0.125000",
        "u_chunk_1\ttoo_short\t0\tNA\tNA",
        "v_chunk_1\ttoo_short\t1\tNA\tNA",
    ]
    # length: the FASTA record's bases; coverage: chunks with frames / chunks
    assert (tmp_path / "run.sequence_calls.tsv").read_text().splitlines() == [
        "sequence_id\tchunks\tchunks_with_frames\tviral_chunks\tmax_viral_score\tcall\t"
        "length\tcoverage\tlow_coverage",
        "s\t2\t2\t2\t0.750000\tvirus\t400\t1.0000\tno",
        "t\t1\t1\t0\t0.125000\tothers\t300\t1.0000\tno",
        "u\t1\t0\t0\tNA\ttoo_short\t2\t0.0000\tyes",
        "v\t1\t0\t0\tNA\ttoo_short\t6\t0.0000\tyes",
    ]
    assert (tmp_path / "run.viral.fasta").read_text() == ">s\n" + "ACGT" * 100 + "\n"


def test_a_fasta_that_is_not_the_reports_input_is_refused(tmp_path):
    other = write_fasta(tmp_path / "other.fasta", [("s", "ACGT" * 75), ("x", "ACGT")])
    chunks = _chunks(("s_chunk_1", 300, "F1"), ("t_chunk_1", 300, ""), source=other)
    with pytest.raises(InputError, match=r"1 sequences of the frames report are not in it \(t\)"):
        write_predictions(
            tmp_path, "run", chunks, ["s_chunk_1F1"], np.array([[0.1, 0.9]]), 300, other
        )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["other.fasta"]


def test_virnucpro_predict_on_the_mixed_example_with_the_bundled_classifier(tmp_path):
    from command_runs import MIXED, fasta_records
    from conftest import ASSETS, ROOT, run_script

    result = run_script(
        "virnucpro", "predict", ASSETS / "mixed_example.fasta", "--classifier", ROOT / "assets" / "models" / "composition_classifier",
        "--output-dir", tmp_path, "--device", "cpu",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # Every output is named after the input file, the run record included
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        f"mixed_example.{name}"
        for name in (
            "chunk_calls.tsv", "frame_scores.tsv", "report.html", "run.json",
            "sequence_calls.tsv", "viral.fasta",
        )
    ]  # fmt: skip
    frames = (tmp_path / "mixed_example.frame_scores.tsv").read_text().splitlines()
    chunks = (tmp_path / "mixed_example.chunk_calls.tsv").read_text().splitlines()
    sequences = [
        line.split("\t")
        for line in (tmp_path / "mixed_example.sequence_calls.tsv").read_text().splitlines()[1:]
    ]
    # The preprocessing of this file gives 557 chunks, 201 of them without a stop-free frame, and 393 frames.
    assert len(frames) - 1 == 393 and len(chunks) - 1 == 557
    assert sum(line.split("\t")[1] == "no_frame" for line in chunks[1:]) == 201
    assert [row[0] for row in sequences][:2] == ["MH552510.2", "CP003812.1"] and len(
        sequences
    ) == 10
    assert sum(int(row[1]) for row in sequences) == 557
    viral = {row[0] for row in sequences if row[5] == "virus"}
    assert (tmp_path / "mixed_example.viral.fasta").read_text().count(">") == len(viral) > 0
    # The length of every sequence is that of its record
    lengths = {record_id: len(sequence) for record_id, sequence in fasta_records(MIXED)}
    assert {row[0]: int(row[6]) for row in sequences} == lengths
    # The demo classifier says so, on stderr and in the page
    assert "is a demo classifier: model-free composition demo" in result.stderr
    # And the HTML summary of the run, with every sequence in its table
    page = (tmp_path / "mixed_example.report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
    assert all(f">{row[0]}<" in page for row in sequences)
    assert '<p class="caveat">composition_classifier is a demo classifier' in page
