"""The per-frame, per-chunk and per-sequence rules (SPEC §4) on hand-set scores."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import write_fasta

from virnucpro.prediction import (
    call_chunks,
    call_sequences,
    chunk_of,
    sequence_of,
    write_predictions,
)


def test_ids_map_frames_to_chunks_to_sequences():
    assert chunk_of("NC_1.2_chunk_12R3") == "NC_1.2_chunk_12"
    assert sequence_of("my_chunk_seq_chunk_3") == "my_chunk_seq"


def test_chunk_is_virus_when_best_virus_score_reaches_best_others_score():
    frames = ["a_chunk_1F1", "a_chunk_1R2", "a_chunk_2F1", "a_chunk_2F3", "b_chunk_1F2"]
    scores = np.array([[0.7, 0.3], [0.4, 0.6], [0.9, 0.1], [0.8, 0.2], [0.5, 0.5]])
    calls = {
        c.chunk_id: c
        for c in call_chunks(["a_chunk_1", "a_chunk_2", "a_chunk_3", "b_chunk_1"], frames, scores)
    }
    # a_chunk_1: max(score2) 0.6 < max(score1) 0.7 -> others, although one frame says virus.
    assert (calls["a_chunk_1"].prediction, calls["a_chunk_1"].frames) == ("others", 2)
    assert (calls["a_chunk_1"].max_score1, calls["a_chunk_1"].max_score2) == (0.7, 0.6)
    assert calls["a_chunk_2"].prediction == "others"
    assert calls["a_chunk_3"].prediction == "no_frame" and calls["a_chunk_3"].frames == 0
    assert calls["b_chunk_1"].prediction == "virus"  # a tie counts as virus (>=)


def test_scored_chunk_missing_from_the_chunk_list_is_an_error():
    with pytest.raises(ValueError, match="not in the chunk list"):
        call_chunks(["a_chunk_1"], ["z_chunk_1F1"], np.array([[0.5, 0.5]]))


def test_sequence_call_uses_the_share_of_viral_chunks_with_frames():
    frames = ["s_chunk_1F1", "s_chunk_2F1", "s_chunk_3F1", "t_chunk_1F1"]
    scores = np.array([[0.2, 0.8], [0.9, 0.1], [0.4, 0.6], [0.6, 0.4]])
    chunks = call_chunks(
        ["s_chunk_1", "s_chunk_2", "s_chunk_3", "s_chunk_4", "t_chunk_1", "u_chunk_1"],
        frames,
        scores,
    )
    calls = {c.sequence_id: c for c in call_sequences(chunks)}
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
    assert {c.sequence_id: c.call for c in call_sequences(chunks, 0.7)}["s"] == "others"
    assert list(calls) == ["s", "t", "u"]


def test_written_tables_and_viral_fasta(tmp_path):
    source = write_fasta(
        tmp_path / "in.fasta", [("s", "ACGT" * 100), ("t", "GGCC" * 100), ("u", "AT")]
    )
    frames = ["s_chunk_1F1", "s_chunk_2R1", "t_chunk_1F2"]
    scores = np.array([[0.25, 0.75], [0.5, 0.5], [0.875, 0.125]])
    write_predictions(
        tmp_path,
        "run",
        frames,
        scores,
        ["s_chunk_1", "s_chunk_2", "t_chunk_1", "u_chunk_1"],
        source,
    )
    assert (tmp_path / "run.frames.tsv").read_text() == (
        "Sequence_ID\tPrediction\tscore1\tscore2\n"
        "s_chunk_1F1\tvirus\t0.250000\t0.750000\n"
        "s_chunk_2R1\tothers\t0.500000\t0.500000\n"
        "t_chunk_1F2\tothers\t0.875000\t0.125000\n"
    )
    assert (tmp_path / "run.chunks.tsv").read_text().splitlines()[1:] == [
        "s_chunk_1\tvirus\t1\t0.250000\t0.750000",
        "s_chunk_2\tvirus\t1\t0.500000\t0.500000",
        "t_chunk_1\tothers\t1\t0.875000\t0.125000",
        "u_chunk_1\tno_frame\t0\tNA\tNA",
    ]
    assert (tmp_path / "run.sequences.tsv").read_text().splitlines() == [
        "sequence_id\tchunks\tchunks_with_frames\tviral_chunks\tmax_viral_score\tcall",
        "s\t2\t2\t2\t0.750000\tvirus",
        "t\t1\t1\t0\t0.125000\tothers",
        "u\t1\t0\t0\tNA\tno_frame",
    ]
    assert (tmp_path / "run.viral.fasta").read_text() == ">s\n" + "ACGT" * 100 + "\n"


def test_virnucpro_predict_on_the_mixed_example_with_the_bundled_classifier(tmp_path):
    from conftest import ASSETS, ROOT, run_script

    result = run_script(
        "virnucpro", "predict", ASSETS / "mixed_example.fasta", "--model", ROOT / "assets" / "models" / "composition_classifier",
        "--output-dir", tmp_path, "--device", "cpu",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    frames = (tmp_path / "predictions.frames.tsv").read_text().splitlines()
    chunks = (tmp_path / "predictions.chunks.tsv").read_text().splitlines()
    sequences = [
        line.split("\t")
        for line in (tmp_path / "predictions.sequences.tsv").read_text().splitlines()[1:]
    ]
    # The preprocessing of this file gives 557 chunks, 201 of them without a stop-free frame, and 393 frames.
    assert len(frames) - 1 == 393 and len(chunks) - 1 == 557
    assert sum(line.split("\t")[1] == "no_frame" for line in chunks[1:]) == 201
    assert [row[0] for row in sequences][:2] == ["MH552510.2", "CP003812.1"] and len(
        sequences
    ) == 10
    assert sum(int(row[1]) for row in sequences) == 557
    viral = {row[0] for row in sequences if row[5] == "virus"}
    assert (tmp_path / "predictions.viral.fasta").read_text().count(">") == len(viral) > 0
