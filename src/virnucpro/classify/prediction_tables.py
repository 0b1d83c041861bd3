"""Prediction tables: per frame, per chunk and per input sequence (SPEC §4), and viral FASTA.

- frame: ``Sequence_ID  Prediction  score1  score2`` (score1 = P(others), score2 = P(virus));
- chunk: virus if the highest virus score of its frames is at least their highest
  others score; chunks without a stop-free frame are ``no_frame``, chunks shorter
  than half the chunk size are ``too_short`` and never scored;
- sequence: its chunks, chunks with frames, viral chunks and highest virus score;
  called virus when at least ``min_viral_fraction`` of its scored chunks are.

The scored frames must be exactly those the frames report lists, each once, and
the input FASTA must hold exactly the report's sequences: a missing or doubled
shard, or another sample's report or FASTA, is an error, never a quiet ``no_frame``.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from virnucpro.classify.classifier import LABELS, load_classifier
from virnucpro.classify.labelled import read_feature_files
from virnucpro.errors import InputError
from virnucpro.files.atomic import AtomicOutputs
from virnucpro.files.feature_files import Features
from virnucpro.files.names import check_name
from virnucpro.files.sequence_files import read_fasta, write_fasta
from virnucpro.files.tables import read_table
from virnucpro.preprocess.frames import NO_FRAME

log = logging.getLogger(__name__)

VIRUS, OTHERS = LABELS[1], LABELS[0]
TOO_SHORT = "too_short"
FRAME_LABELS = ("F1", "F2", "F3", "R1", "R2", "R3")


def minimum_length(chunk_size: int) -> int:
    """Shortest chunk that is classified: half the chunk size, rounded up.

    Chunking a sequence longer than the chunk size never makes a chunk this short
    (the shortest is chunk_size // 2 + 1), so only whole sequences shorter than
    that are refused a call: they are unlike anything the classifier was trained on.
    """
    return (chunk_size + 1) // 2


def chunk_of(frame_id: str) -> str:
    """The chunk of a frame: its id without the two-character frame suffix."""
    return frame_id[:-2]


def sequence_of(chunk_id: str) -> str:
    """The input sequence of a chunk: its id without ``_chunk_{i}``."""
    return chunk_id.rsplit("_chunk_", 1)[0]


@dataclass(frozen=True)
class Chunk:
    """A chunk as the frames report lists it: its length and its stop-free frames."""

    id: str
    length: int
    frames: tuple[str, ...] = ()  # frame labels, e.g. ("F1", "R2")

    @property
    def frame_ids(self) -> list[str]:
        return [f"{self.id}{label}" for label in self.frames]


@dataclass
class ChunkCall:
    chunk_id: str
    prediction: str  # virus, others, no_frame or too_short
    frames: int
    max_score1: float
    max_score2: float


@dataclass
class SequenceCall:
    sequence_id: str
    chunks: int
    chunks_with_frames: int
    viral_chunks: int
    max_viral_score: float
    call: str  # virus, others, no_frame or too_short


def is_viral_chunk(max_others: float, max_virus: float) -> bool:
    """SPEC §4: a chunk is viral when its frames' highest virus score is at least their highest others score."""
    return bool(max_virus >= max_others)


def is_viral_sequence(viral_chunks: int, scored_chunks: int, min_viral_fraction: float) -> bool:
    """A sequence is viral when at least ``min_viral_fraction`` of its scored chunks are."""
    return viral_chunks >= min_viral_fraction * scored_chunks


def call_chunks(
    chunks: Sequence[Chunk], frame_ids: Sequence[str], scores: np.ndarray, chunk_size: int
) -> list[ChunkCall]:
    """One call per chunk, in ``chunks`` order, after checking frames against the chunks."""
    check_scored_frames(chunks, frame_ids)
    rows = {frame_id: row for row, frame_id in enumerate(frame_ids)}
    shortest = minimum_length(chunk_size)
    calls = []
    for chunk in chunks:
        if chunk.length < shortest or not chunk.frames:
            status = TOO_SHORT if chunk.length < shortest else NO_FRAME
            calls.append(ChunkCall(chunk.id, status, len(chunk.frames), np.nan, np.nan))
            continue
        others, virus = scores[[rows[frame_id] for frame_id in chunk.frame_ids]].max(axis=0)
        prediction = VIRUS if is_viral_chunk(others, virus) else OTHERS
        calls.append(
            ChunkCall(chunk.id, prediction, len(chunk.frames), float(others), float(virus))
        )
    return calls


def check_scored_frames(chunks: Sequence[Chunk], frame_ids: Sequence[str]) -> None:
    """The scored frames must be the frames the chunks list, each exactly once."""
    expected = [frame_id for chunk in chunks for frame_id in chunk.frame_ids]
    scored = set(frame_ids)
    if len(scored) != len(frame_ids):
        doubled = sorted(frame_id for frame_id, n in Counter(frame_ids).items() if n > 1)
        raise InputError(f"frames scored twice: {_examples(doubled)} (a shard given twice?)")
    missing = [frame_id for frame_id in expected if frame_id not in scored]
    if missing:
        sequences = list(dict.fromkeys(sequence_of(chunk_of(f)) for f in missing))
        raise InputError(
            f"{len(missing)} frames of the frames report have no features: {_examples(missing)}, "
            f"of sequences {_examples(sequences)} (a shard's feature file missing?)"
        )
    extra = sorted(scored - set(expected))
    if extra:
        raise InputError(
            f"{len(extra)} frames with features are not in the frames report: {_examples(extra)} "
            "(features or frames report of another sample?)"
        )


def _examples(items: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"


def call_sequences(chunks: list[ChunkCall], min_viral_fraction: float = 0.5) -> list[SequenceCall]:
    """One call per input sequence, in order of first appearance."""
    check_fraction(min_viral_fraction)
    calls: dict[str, SequenceCall] = {}
    for chunk in chunks:
        sequence_id = sequence_of(chunk.chunk_id)
        sequence = calls.setdefault(
            sequence_id, SequenceCall(sequence_id, 0, 0, 0, float("nan"), NO_FRAME)
        )
        sequence.chunks += 1
        if chunk.prediction == TOO_SHORT:
            sequence.call = TOO_SHORT
        if chunk.prediction in (NO_FRAME, TOO_SHORT):
            continue
        sequence.chunks_with_frames += 1
        sequence.viral_chunks += chunk.prediction == VIRUS
        sequence.max_viral_score = np.fmax(sequence.max_viral_score, chunk.max_score2)
    for sequence in calls.values():
        if sequence.chunks_with_frames:
            viral = is_viral_sequence(
                sequence.viral_chunks, sequence.chunks_with_frames, min_viral_fraction
            )
            sequence.call = VIRUS if viral else OTHERS
    return list(calls.values())


def check_fraction(min_viral_fraction: float) -> None:
    if not 0.0 <= min_viral_fraction <= 1.0:
        raise InputError(
            f"the minimum viral fraction must be between 0 and 1, got {min_viral_fraction}"
        )


def _score(value: float) -> str:
    return "NA" if np.isnan(value) else f"{value:.6f}"


def write_predictions(
    output_dir: Path,
    prefix: str,
    chunks: Sequence[Chunk],
    frame_ids: Sequence[str],
    scores: np.ndarray,
    chunk_size: int,
    sequences_fasta: Path | None,
    min_viral_fraction: float = 0.5,
) -> list[SequenceCall]:
    """Write ``{prefix}.frame_scores.tsv``, ``.chunk_calls.tsv``, ``.sequence_calls.tsv`` and
    ``.viral.fasta``."""
    check_name(prefix, "prefix")
    chunk_calls = call_chunks(chunks, frame_ids, scores, chunk_size)
    sequences = call_sequences(chunk_calls, min_viral_fraction)
    viral = {call.sequence_id for call in sequences if call.call == VIRUS}
    too_short = {call.chunk_id for call in chunk_calls if call.prediction == TOO_SHORT}
    with AtomicOutputs() as outputs:
        table = outputs.open(output_dir / f"{prefix}.frame_scores.tsv")
        table.write("Sequence_ID\tPrediction\tscore1\tscore2\n")
        for frame_id, (others, virus) in zip(frame_ids, scores, strict=True):
            if chunk_of(frame_id) not in too_short:
                prediction = VIRUS if virus > others else OTHERS
                table.write(f"{frame_id}\t{prediction}\t{others:.6f}\t{virus:.6f}\n")
        table = outputs.open(output_dir / f"{prefix}.chunk_calls.tsv")
        table.write("chunk_id\tprediction\tframes\tmax_score1\tmax_score2\n")
        for chunk in chunk_calls:
            table.write(
                f"{chunk.chunk_id}\t{chunk.prediction}\t{chunk.frames}\t{_score(chunk.max_score1)}\t{_score(chunk.max_score2)}\n"
            )
        table = outputs.open(output_dir / f"{prefix}.sequence_calls.tsv")
        table.write(
            "sequence_id\tchunks\tchunks_with_frames\tviral_chunks\tmax_viral_score\tcall\n"
        )
        for call in sequences:
            table.write(
                f"{call.sequence_id}\t{call.chunks}\t{call.chunks_with_frames}\t{call.viral_chunks}\t"
                f"{_score(call.max_viral_score)}\t{call.call}\n"
            )
        if sequences_fasta is not None:
            fasta = outputs.open(output_dir / f"{prefix}.viral.fasta")
            found = []
            for record_id, sequence in read_fasta(sequences_fasta):
                found.append(record_id)
                if record_id in viral:
                    write_fasta(fasta, record_id, sequence)
            _check_same_sequences(sequences_fasta, found, [call.sequence_id for call in sequences])
    counts = {
        status: sum(c.prediction == status for c in chunk_calls) for status in (NO_FRAME, TOO_SHORT)
    }
    log.info(
        "%d frames, %d chunks (%d no_frame, %d too_short: shorter than %d bp), %d sequences: "
        "%d called virus -> %s/%s.*",
        len(frame_ids) - sum(c.frames for c in chunk_calls if c.prediction == TOO_SHORT),
        len(chunk_calls), counts[NO_FRAME], counts[TOO_SHORT], minimum_length(chunk_size),
        len(sequences), len(viral), output_dir, prefix,
    )  # fmt: skip
    return sequences


def _check_same_sequences(fasta: Path, found: list[str], expected: list[str]) -> None:
    """The input FASTA must hold the sequences the frames report was made from."""
    found_set, expected_set = set(found), set(expected)
    missing = [sequence for sequence in expected if sequence not in found_set]
    extra = [sequence for sequence in found if sequence not in expected_set]
    if missing or extra:
        raise InputError(
            f"{fasta} is not the input of these frames: {len(missing)} sequences of the frames "
            f"report are not in it ({_examples(missing) or '-'}), {len(extra)} of its records "
            f"are not in the report ({_examples(extra) or '-'})"
        )


def read_chunks(report_paths: Iterable[str | os.PathLike[str]]) -> list[Chunk]:
    """The chunks of frames reports (select_frames.py), ``no_frame`` chunks included."""
    chunks: list[Chunk] = []
    seen: dict[str, str] = {}
    for path in report_paths:
        columns = ["chunk_id", "length", "frames"]
        for line, row in enumerate(read_table(path, columns, "a frames report"), start=2):
            chunk_id, length, labels = row["chunk_id"], row["length"], row["frames"]
            if chunk_id in seen:
                raise InputError(
                    f"{path}:{line}: chunk '{chunk_id}' is listed twice "
                    f"(also in {seen[chunk_id]}): a frames report given twice?"
                )
            seen[chunk_id] = str(path)
            frames = () if labels == NO_FRAME else tuple(labels.split(","))
            if not length.isdigit() or not set(frames) <= set(FRAME_LABELS):
                raise InputError(f"{path}:{line}: not a frames report row: {row}")
            chunks.append(Chunk(chunk_id, int(length), frames))
    return chunks


def feature_rows(
    feature_paths: Sequence[str | os.PathLike[str]], files: Sequence[Features]
) -> tuple[list[str], np.ndarray]:
    """Frame ids and matrix of all feature files; a frame in two files is an error."""
    owner: dict[str, str] = {}
    for path, features in zip(feature_paths, files, strict=True):
        for frame_id in features.ids:
            if frame_id in owner:
                where = "twice" if owner[frame_id] == str(path) else f"in {owner[frame_id]} and"
                raise InputError(
                    f"frame '{frame_id}' is {where} {path}: a shard's features given twice?"
                )
            owner[frame_id] = str(path)
    frame_ids = [frame_id for features in files for frame_id in features.ids]
    return frame_ids, np.concatenate([features.matrix for features in files])


def classify_features(
    classifier_dir: Path,
    feature_paths: list[Path],
    report_paths: list[Path],
    output_dir: Path,
    prefix: str,
    sequences_fasta: Path | None = None,
    min_viral_fraction: float = 0.5,
) -> list[SequenceCall]:
    """Score merged features with a classifier and write the prediction tables.

    No feature file at all is right only for a sample without a stop-free frame.
    """
    check_name(prefix, "prefix")
    check_fraction(min_viral_fraction)
    classifier = load_classifier(classifier_dir)
    chunks = read_chunks(report_paths)
    frame_ids: list[str] = []
    scores = np.empty((0, len(LABELS)), dtype=np.float32)
    if feature_paths:
        files = read_feature_files(feature_paths)
        for path, features in zip(feature_paths, files, strict=True):
            classifier.check_features(features, str(path))
        frame_ids, matrix = feature_rows(feature_paths, files)
        scores = classifier.scores(matrix)
    return write_predictions(
        output_dir,
        prefix,
        chunks,
        frame_ids,
        scores,
        classifier.chunk_size,
        sequences_fasta,
        min_viral_fraction,
    )
