"""The calling rules: a frame, a chunk and an input sequence called virus or not.

- frame: virus when its virus score is above its others score;
- chunk: virus when the highest virus score of its frames is at least their
  highest others score; a chunk without a stop-free frame is ``no_frame``, one
  shorter than half the chunk size is ``too_short`` and never scored;
- sequence: virus when at least ``min_viral_fraction`` of its scored chunks are;
  ``low_coverage`` when fewer than ``min_coverage`` of its chunks have a frame to
  score. The flag never changes the call: it says the call rests on a small part
  of the sequence (a stop-recoding phage, whose reassigned stop codons break most
  frames, was called others from 22 of its 270 chunks).

Predict mode's tables (``prediction_tables``) and the evaluation of test chunks
and sequences (``evaluation``) both call with these rules.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cache

import numpy as np

from virnucpro.classify.classifier import LABELS
from virnucpro.errors import InputError, examples
from virnucpro.preprocess.chunking import minimum_length
from virnucpro.preprocess.frames import NO_FRAME

VIRUS, OTHERS = LABELS[1], LABELS[0]
#: The default minimum coverage (chunks with frames / chunks) below which a sequence is
#: flagged ``low_coverage``
DEFAULT_MIN_COVERAGE = 0.5
#: Decimals of the coverage column: 22 of 270 chunks is 0.0815
COVERAGE_DECIMALS = 4
TOO_SHORT = "too_short"
#: Every call of a chunk or sequence, scored ones first
CALLS = (VIRUS, OTHERS, NO_FRAME, TOO_SHORT)
SCORED = (VIRUS, OTHERS)


def chunk_of(frame_id: str) -> str:
    """The chunk of a frame: its id without the two-character frame suffix."""
    return frame_id[:-2]


def sequence_of(chunk_id: str) -> str:
    """The input sequence of a chunk: its id without ``_chunk_{i}``."""
    return chunk_id.rsplit("_chunk_", 1)[0]


# slots: predict mode holds one of each per chunk and per sequence (millions of them).
@dataclass(frozen=True, slots=True)
class Chunk:
    """A chunk as the frames report lists it: its length, stop-free frames and bases' digest."""

    id: str
    length: int
    frames: tuple[str, ...] = ()  # frame labels, e.g. ("F1", "R2")
    # of the uppercase bases (files.digests.sequence_digest); "" for chunks cut in this
    # process (virnucpro predict), which have no report to be checked against
    sha256: str = ""

    @property
    def frame_ids(self) -> list[str]:
        return [f"{self.id}{label}" for label in self.frames]


@dataclass(slots=True)
class ChunkCall:
    chunk_id: str
    prediction: str  # virus, others, no_frame or too_short
    frames: int
    max_score1: float
    max_score2: float


@dataclass(slots=True)
class SequenceCall:
    sequence_id: str
    chunks: int
    chunks_with_frames: int
    viral_chunks: int
    max_viral_score: float
    call: str  # virus, others, no_frame or too_short
    low_coverage: bool = True  # coverage under the minimum coverage (is_low_coverage)
    length: int | None = None  # bases of the input sequence; None where it was not read

    @property
    def coverage(self) -> float:
        """The share of its chunks that have a frame to score (0 for no chunk)."""
        return coverage(self.chunks_with_frames, self.chunks)


def is_viral_frame(others: float, virus: float) -> bool:
    """A frame is viral when its virus score is above its others score."""
    return bool(virus > others)


def is_viral_chunk(max_others: float, max_virus: float) -> bool:
    """A chunk is viral when its frames' highest virus score is at least their highest others score."""
    return bool(max_virus >= max_others)


@cache
def exact_fraction(value: float) -> Fraction:
    """A float option as exactly the decimal the user wrote (0.28, not 0.28000000000000003);
    cached: a million sequences are compared with the same few values."""
    return Fraction(repr(value))


def is_viral_sequence(viral_chunks: int, scored_chunks: int, min_viral_fraction: float) -> bool:
    """A sequence is viral when at least ``min_viral_fraction`` of its scored chunks are.

    In exact arithmetic, the fraction taken as written: 7 of 25 chunks reach 0.28
    (in floating point 0.28 x 25 is 7.000000000000001, and 7 would fall short).
    """
    return Fraction(viral_chunks, scored_chunks) >= exact_fraction(min_viral_fraction)


def is_low_coverage(chunks_with_frames: int, chunks: int, min_coverage: float) -> bool:
    """Whether a sequence's coverage, chunks_with_frames / chunks, is under ``min_coverage``.

    Exact, the minimum taken as written (as ``is_viral_sequence``): 135 of 270
    chunks reach 0.5 and are not low; a sequence without chunks has nothing covered.
    """
    if not chunks:
        return True
    return Fraction(chunks_with_frames, chunks) < exact_fraction(min_coverage)


def coverage(chunks_with_frames: int, chunks: int) -> float:
    """The share of a sequence's chunks that have a frame to score (0 for no chunk)."""
    return chunks_with_frames / chunks if chunks else 0.0


def coverage_text(chunks_with_frames: int, chunks: int) -> str:
    """The coverage as the sequence calls table writes it: fixed decimals."""
    return f"{coverage(chunks_with_frames, chunks):.{COVERAGE_DECIMALS}f}"


def call_chunks(
    chunks: Sequence[Chunk], frame_ids: Sequence[str], scores: np.ndarray, chunk_size: int
) -> list[ChunkCall]:
    """One call per chunk, in ``chunks`` order, after checking frames against the chunks."""
    check_scored_frames(chunks, frame_ids)
    rows = {frame_id: row for row, frame_id in enumerate(frame_ids)}
    return [
        chunk_call(chunk, scores[[rows[frame_id] for frame_id in chunk.frame_ids]], chunk_size)
        for chunk in chunks
    ]


def chunk_call(chunk: Chunk, scores: np.ndarray, chunk_size: int) -> ChunkCall:
    """A chunk's call from the (others, virus) scores of its frames, one row per frame in
    ``chunk.frames`` order."""
    if chunk.length < minimum_length(chunk_size) or not chunk.frames:
        status = TOO_SHORT if chunk.length < minimum_length(chunk_size) else NO_FRAME
        return ChunkCall(chunk.id, status, len(chunk.frames), np.nan, np.nan)
    others, virus = scores.max(axis=0)
    prediction = VIRUS if is_viral_chunk(others, virus) else OTHERS
    return ChunkCall(chunk.id, prediction, len(chunk.frames), float(others), float(virus))


def check_scored_frames(chunks: Sequence[Chunk], frame_ids: Sequence[str]) -> None:
    """The scored frames must be the frames the chunks list, each exactly once."""
    expected = [frame_id for chunk in chunks for frame_id in chunk.frame_ids]
    scored = set(frame_ids)
    if len(scored) != len(frame_ids):
        doubled = sorted(frame_id for frame_id, n in Counter(frame_ids).items() if n > 1)
        raise InputError(f"frames scored twice: {examples(doubled)} (a shard given twice?)")
    missing = [frame_id for frame_id in expected if frame_id not in scored]
    if missing:
        sequences = list(dict.fromkeys(sequence_of(chunk_of(f)) for f in missing))
        raise InputError(
            f"{len(missing)} frames of the frames report have no features: {examples(missing)}, "
            f"of sequences {examples(sequences)} (a shard's feature file missing?)"
        )
    extra = sorted(scored - set(expected))
    if extra:
        raise InputError(
            f"{len(extra)} frames with features are not in the frames report: {examples(extra)} "
            "(features or frames report of another sample?)"
        )


def call_sequences(
    chunks: Iterable[ChunkCall],
    min_viral_fraction: float = 0.5,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
) -> list[SequenceCall]:
    """One call per input sequence, in order of first appearance, each flagged
    ``low_coverage`` when under ``min_coverage`` of its chunks have frames."""
    check_fraction(min_viral_fraction)
    check_coverage(min_coverage)
    grouped: dict[str, list[ChunkCall]] = {}
    for chunk in chunks:
        grouped.setdefault(sequence_of(chunk.chunk_id), []).append(chunk)
    return [
        sequence_call(sequence_id, calls, min_viral_fraction, min_coverage)
        for sequence_id, calls in grouped.items()
    ]


def sequence_call(
    sequence_id: str,
    chunks: Iterable[ChunkCall],
    min_viral_fraction: float = 0.5,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
) -> SequenceCall:
    """The call of one input sequence from the calls of all its chunks."""
    sequence = SequenceCall(sequence_id, 0, 0, 0, float("nan"), NO_FRAME)
    for chunk in chunks:
        sequence.chunks += 1
        if chunk.prediction == TOO_SHORT:
            sequence.call = TOO_SHORT
        if chunk.prediction in (NO_FRAME, TOO_SHORT):
            continue
        sequence.chunks_with_frames += 1
        sequence.viral_chunks += chunk.prediction == VIRUS
        sequence.max_viral_score = float(np.fmax(sequence.max_viral_score, chunk.max_score2))
    sequence.low_coverage = is_low_coverage(
        sequence.chunks_with_frames, sequence.chunks, min_coverage
    )
    if sequence.chunks_with_frames:
        viral = is_viral_sequence(
            sequence.viral_chunks, sequence.chunks_with_frames, min_viral_fraction
        )
        sequence.call = VIRUS if viral else OTHERS
    return sequence


def check_fraction(min_viral_fraction: float) -> None:
    if not 0.0 <= min_viral_fraction <= 1.0:
        raise InputError(
            f"the minimum viral fraction must be between 0 and 1, got {min_viral_fraction}"
        )


def check_coverage(min_coverage: float) -> None:
    if not 0.0 <= min_coverage <= 1.0:
        raise InputError(f"the minimum coverage must be between 0 and 1, got {min_coverage}")
