"""Test genomes scored per chunk and per sequence, with predict mode's call rules."""

from __future__ import annotations

import numpy as np
import pytest

from virnucpro.classify.evaluation import chunk_calls, level_metrics, sequence_calls
from virnucpro.errors import InputError

# Two viral records (v1: 3 chunks, v2: 1 chunk) and one host record (h1: 2 chunks)
FRAMES = [
    ("v1_chunk_1F1", 1, 0.2, 0.8),
    ("v1_chunk_1R2", 1, 0.7, 0.3),  # chunk 1: max others 0.7 < max virus 0.8: virus
    ("v1_chunk_2F2", 1, 0.6, 0.4),  # chunk 2: others
    ("v1_chunk_3F1", 1, 0.5, 0.5),  # chunk 3: a tie is virus (SPEC §4: at least)
    ("v2_chunk_1F3", 1, 0.9, 0.1),  # v2: others
    ("h1_chunk_1F1", 0, 0.4, 0.6),  # h1 chunk 1: virus (a false positive)
    ("h1_chunk_2R1", 0, 0.8, 0.2),
    ("h1_chunk_2R3", 0, 0.9, 0.05),  # h1 chunk 2: others
]
IDS = [frame[0] for frame in FRAMES]
LABELS = np.array([frame[1] for frame in FRAMES])
SCORES = np.array([frame[2:] for frame in FRAMES])


def test_chunks_are_called_from_their_frames():
    chunks = chunk_calls(IDS, LABELS, SCORES)
    assert chunks.ids == ["v1_chunk_1", "v1_chunk_2", "v1_chunk_3", "v2_chunk_1", "h1_chunk_1", "h1_chunk_2"]  # fmt: skip
    assert chunks.labels.tolist() == [1, 1, 1, 1, 0, 0]
    assert chunks.calls.tolist() == [1, 0, 1, 0, 1, 0]
    assert chunks.scores.tolist() == [0.8, 0.4, 0.5, 0.1, 0.6, 0.2]  # highest virus score


def test_sequences_are_called_from_their_chunks():
    sequences = sequence_calls(chunk_calls(IDS, LABELS, SCORES), 0.5)
    assert sequences.ids == ["v1", "v2", "h1"]
    assert sequences.labels.tolist() == [1, 1, 0]
    # v1: 2 of 3 chunks viral; v2: 0 of 1; h1: 1 of 2 (= 0.5, enough at 0.5)
    assert sequences.scores.tolist() == pytest.approx([2 / 3, 0.0, 0.5])
    assert sequences.calls.tolist() == [1, 0, 1]
    strict = sequence_calls(chunk_calls(IDS, LABELS, SCORES), 0.6)
    assert strict.calls.tolist() == [1, 0, 0]


def test_level_metrics_by_hand():
    chunks = level_metrics(chunk_calls(IDS, LABELS, SCORES), resamples=20, seed=1)
    assert chunks["count"] == 6 and chunks["viral"] == 4
    # calls 1 0 1 0 | 1 0: TP 2, FN 2, FP 1, TN 1
    assert chunks["metrics"]["accuracy"]["value"] == pytest.approx(3 / 6)
    assert chunks["metrics"]["f1"]["value"] == pytest.approx(2 * 2 / (2 * 2 + 2 + 1))
    sequences = level_metrics(sequence_calls(chunk_calls(IDS, LABELS, SCORES), 0.5), 20, 1)
    # v1 right, v2 missed, h1 a false positive: TP 1, FN 1, FP 1
    assert sequences["count"] == 3 and sequences["metrics"]["f1"]["value"] == pytest.approx(0.5)


def test_a_level_with_one_class_has_no_metrics():
    viral = [index for index, frame in enumerate(FRAMES) if frame[1] == 1]
    level = level_metrics(chunk_calls([IDS[i] for i in viral], LABELS[viral], SCORES[viral]), 20, 1)
    assert level == {"count": 4, "viral": 4, "metrics": None}


def test_a_sequence_with_both_labels_is_refused():
    labels = LABELS.copy()
    labels[2] = 0  # the one frame of v1's chunk 2 labelled host
    chunks = chunk_calls(IDS, labels, SCORES)
    with pytest.raises(InputError, match="test frames of 'v1' carry both labels"):
        sequence_calls(chunks, 0.5)
    labels[1] = 0  # and one of the two frames of chunk 1
    with pytest.raises(InputError, match="test frames of 'v1_chunk_1' carry both labels"):
        chunk_calls(IDS, labels, SCORES)
