"""Prediction tables: per frame, per chunk and per input sequence (SPEC §4), and viral FASTA.

- frame: ``Sequence_ID  Prediction  score1  score2`` (score1 = P(others), score2 = P(virus));
- chunk: virus if the highest virus score of its frames is at least their highest
  others score; chunks without a stop-free frame are listed as ``no_frame``;
- sequence: its chunks, chunks with frames, viral chunks and highest virus score;
  called virus when at least ``min_viral_fraction`` of its chunks with frames are.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from virnucpro.atomic import AtomicOutputs
from virnucpro.classifier import LABELS, load_classifier
from virnucpro.frames import NO_FRAME
from virnucpro.labelled import read_feature_files
from virnucpro.seqfiles import read_fasta, write_fasta
from virnucpro.tables import read_table

log = logging.getLogger(__name__)

VIRUS, OTHERS = LABELS[1], LABELS[0]


def chunk_of(frame_id: str) -> str:
    """The chunk of a frame: its id without the two-character frame suffix."""
    return frame_id[:-2]


def sequence_of(chunk_id: str) -> str:
    """The input sequence of a chunk: its id without ``_chunk_{i}``."""
    return chunk_id.rsplit("_chunk_", 1)[0]


@dataclass
class ChunkCall:
    chunk_id: str
    prediction: str  # virus, others or no_frame
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
    call: str  # virus, others or no_frame


def call_chunks(
    chunk_ids: Iterable[str], frame_ids: list[str], scores: np.ndarray
) -> list[ChunkCall]:
    """One call per chunk, in ``chunk_ids`` order; chunks without frames are ``no_frame``."""
    best: dict[str, list[float]] = {}
    counts: dict[str, int] = {}
    for frame_id, (others, virus) in zip(frame_ids, scores, strict=True):
        chunk = chunk_of(frame_id)
        high = best.setdefault(chunk, [-1.0, -1.0])
        high[0], high[1] = max(high[0], float(others)), max(high[1], float(virus))
        counts[chunk] = counts.get(chunk, 0) + 1
    calls = []
    for chunk in chunk_ids:
        if chunk not in best:
            calls.append(ChunkCall(chunk, NO_FRAME, 0, float("nan"), float("nan")))
            continue
        others, virus = best[chunk]
        calls.append(
            ChunkCall(chunk, VIRUS if virus >= others else OTHERS, counts[chunk], others, virus)
        )
    unknown = set(best) - {call.chunk_id for call in calls}
    if unknown:
        raise ValueError(
            f"{len(unknown)} scored chunks are not in the chunk list, e.g. {sorted(unknown)[0]}"
        )
    return calls


def call_sequences(chunks: list[ChunkCall], min_viral_fraction: float = 0.5) -> list[SequenceCall]:
    """One call per input sequence, in order of first appearance."""
    calls: dict[str, SequenceCall] = {}
    for chunk in chunks:
        sequence = calls.setdefault(
            sequence_of(chunk.chunk_id),
            SequenceCall(sequence_of(chunk.chunk_id), 0, 0, 0, float("nan"), NO_FRAME),
        )
        sequence.chunks += 1
        if chunk.prediction == NO_FRAME:
            continue
        sequence.chunks_with_frames += 1
        sequence.viral_chunks += chunk.prediction == VIRUS
        sequence.max_viral_score = np.fmax(sequence.max_viral_score, chunk.max_score2)
    for sequence in calls.values():
        if sequence.chunks_with_frames:
            viral = sequence.viral_chunks >= min_viral_fraction * sequence.chunks_with_frames
            sequence.call = VIRUS if viral else OTHERS
    return list(calls.values())


def _score(value: float) -> str:
    return "NA" if np.isnan(value) else f"{value:.6f}"


def write_predictions(
    output_dir: Path,
    prefix: str,
    frame_ids: list[str],
    scores: np.ndarray,
    chunk_ids: list[str],
    sequences_fasta: Path | None,
    min_viral_fraction: float = 0.5,
) -> list[SequenceCall]:
    """Write ``{prefix}.frames.tsv``, ``.chunks.tsv``, ``.sequences.tsv`` and ``.viral.fasta``."""
    chunks = call_chunks(chunk_ids, frame_ids, scores)
    sequences = call_sequences(chunks, min_viral_fraction)
    viral = {call.sequence_id for call in sequences if call.call == VIRUS}
    with AtomicOutputs() as outputs:
        table = outputs.open(output_dir / f"{prefix}.frames.tsv")
        table.write("Sequence_ID\tPrediction\tscore1\tscore2\n")
        for frame_id, (others, virus) in zip(frame_ids, scores, strict=True):
            table.write(
                f"{frame_id}\t{VIRUS if virus > others else OTHERS}\t{others:.6f}\t{virus:.6f}\n"
            )
        table = outputs.open(output_dir / f"{prefix}.chunks.tsv")
        table.write("chunk_id\tprediction\tframes\tmax_score1\tmax_score2\n")
        for chunk in chunks:
            table.write(
                f"{chunk.chunk_id}\t{chunk.prediction}\t{chunk.frames}\t{_score(chunk.max_score1)}\t{_score(chunk.max_score2)}\n"
            )
        table = outputs.open(output_dir / f"{prefix}.sequences.tsv")
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
            for record_id, sequence in read_fasta(sequences_fasta):
                if record_id in viral:
                    write_fasta(fasta, record_id, sequence)
    log.info(
        "%d frames, %d chunks (%d no_frame), %d sequences: %d called virus -> %s/%s.*",
        len(frame_ids), len(chunks), sum(c.prediction == NO_FRAME for c in chunks), len(sequences),
        len(viral), output_dir, prefix,
    )  # fmt: skip
    return sequences


def read_chunk_ids(report_paths: Iterable[Path]) -> list[str]:
    """Chunk ids of frames reports (select_frames.py), ``no_frame`` chunks included."""
    return [
        row["chunk_id"]
        for path in report_paths
        for row in read_table(path, ["chunk_id"], "a frames report")
    ]


def classify_features(
    model_dir: Path,
    feature_paths: list[Path],
    report_paths: list[Path],
    output_dir: Path,
    prefix: str,
    sequences_fasta: Path | None = None,
    min_viral_fraction: float = 0.5,
) -> list[SequenceCall]:
    """Score merged features with a classifier and write the prediction tables."""
    classifier = load_classifier(model_dir)
    files = read_feature_files(feature_paths)
    for path, features in zip(feature_paths, files, strict=True):
        classifier.check_features(features, str(path))
    frame_ids = [frame_id for features in files for frame_id in features.ids]
    scores = classifier.scores(np.concatenate([features.matrix for features in files]))
    return write_predictions(
        output_dir,
        prefix,
        frame_ids,
        scores,
        read_chunk_ids(report_paths),
        sequences_fasta,
        min_viral_fraction,
    )
