"""Predict mode's tables, written and read: per frame, per chunk and per input
sequence, and the viral sequences' FASTA.

Calls follow ``virnucpro.classify.calling``; columns are those of
``virnucpro.files.contracts`` (FRAME_SCORES, CHUNK_CALLS, SEQUENCE_CALLS). The
scored frames must be exactly those the frames report lists, each once; the
report's chunks must have been cut at the classifier's chunk size; and the
input FASTA, cut and translated again, must give exactly the report's chunks
(their bases' digests) and the feature files' frames (their frames' digests):
a missing or doubled shard, another sample's report, FASTA or features, or
chunks of another size are an error, never a quiet ``no_frame`` or a call made
of other sequences.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from pathlib import Path

import numpy as np

from virnucpro.classify.calling import (
    CALLS,
    DEFAULT_MIN_COVERAGE,
    OTHERS,
    SCORED,
    TOO_SHORT,
    VIRUS,
    Chunk,
    ChunkCall,
    SequenceCall,
    call_chunks,
    call_sequences,
    check_coverage,
    check_fraction,
    chunk_of,
    coverage_text,
    is_viral_frame,
    sequence_of,
)
from virnucpro.classify.classifier import LABELS, Classifier, load_classifier
from virnucpro.classify.labelled import check_one_set
from virnucpro.errors import InputError, examples
from virnucpro.files.atomic import AtomicOutputs
from virnucpro.files.contracts import CHUNK_CALLS, FRAME_SCORES, FRAMES_REPORT, SEQUENCE_CALLS
from virnucpro.files.digests import RecordsDigest, sequence_digest
from virnucpro.files.feature_files import Features, read_features, read_header
from virnucpro.files.names import check_name
from virnucpro.files.sequence_files import read_fasta, rna_as_dna, write_fasta
from virnucpro.files.tables import read_table
from virnucpro.preprocess.chunking import chunk_records, minimum_length
from virnucpro.preprocess.frames import FRAME_LABELS, NO_FRAME, stop_free_frames

log = logging.getLogger(__name__)

_SHA256 = re.compile(r"[0-9a-f]{64}")
#: The low_coverage column's values
YES, NO = "yes", "no"


def _score(value: float) -> str:
    return "NA" if np.isnan(value) else f"{value:.6f}"


def round_as_written(
    chunk_calls: Sequence[ChunkCall], sequence_calls: Sequence[SequenceCall]
) -> None:
    """Round the calls' scores, in place, to the 6 decimals the tables hold, so that a
    report made in memory equals the one prediction_report.py makes from the tables."""

    def rounded(value: float) -> float:
        return float(_score(value)) if not np.isnan(value) else math.nan

    for chunk in chunk_calls:
        chunk.max_score1, chunk.max_score2 = rounded(chunk.max_score1), rounded(chunk.max_score2)
    for sequence in sequence_calls:
        sequence.max_viral_score = rounded(sequence.max_viral_score)


def write_predictions(
    output_dir: Path,
    prefix: str,
    chunks: Sequence[Chunk],
    frame_ids: Sequence[str],
    scores: np.ndarray,
    chunk_size: int,
    sequences_fasta: Path | None,
    min_viral_fraction: float = 0.5,
    feature_files: Sequence[tuple[str, Features]] = (),
    outputs: AtomicOutputs | None = None,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
) -> tuple[list[ChunkCall], list[SequenceCall]]:
    """Write ``{prefix}.frame_scores.tsv``, ``.chunk_calls.tsv``, ``.sequence_calls.tsv`` and
    ``.viral.fasta``, checking ``sequences_fasta`` against the chunks and the frames of
    ``feature_files`` (source, features) on the way; as part of ``outputs`` if given.

    Each sequence's length is that of its record in ``sequences_fasta``, read while the
    viral FASTA is written (the frames report's overlapping chunks do not tell it: 302
    and 303 bases both give chunks of 300 and 152); without the FASTA it is ``NA``.
    """
    check_name(prefix, "prefix")
    check_chunk_lengths(chunks, chunk_size)
    chunk_calls = call_chunks(chunks, frame_ids, scores, chunk_size)
    sequences = call_sequences(chunk_calls, min_viral_fraction, min_coverage)
    viral = {call.sequence_id for call in sequences if call.call == VIRUS}
    too_short = {call.chunk_id for call in chunk_calls if call.prediction == TOO_SHORT}
    with nullcontext(outputs) if outputs is not None else AtomicOutputs() as outputs:
        table = outputs.open(output_dir / f"{prefix}.{FRAME_SCORES.name}")
        table.write(FRAME_SCORES.header)
        for frame_id, (others, virus) in zip(frame_ids, scores, strict=True):
            if chunk_of(frame_id) not in too_short:
                prediction = VIRUS if is_viral_frame(others, virus) else OTHERS
                table.write(f"{frame_id}\t{prediction}\t{others:.6f}\t{virus:.6f}\n")
        table = outputs.open(output_dir / f"{prefix}.{CHUNK_CALLS.name}")
        table.write(CHUNK_CALLS.header)
        for chunk in chunk_calls:
            table.write(
                f"{chunk.chunk_id}\t{chunk.prediction}\t{chunk.frames}\t{_score(chunk.max_score1)}\t{_score(chunk.max_score2)}\n"
            )
        if sequences_fasta is None:  # an earlier run's viral sequences must not stay behind
            outputs.remove(output_dir / f"{prefix}.viral.fasta")
        else:
            fasta = outputs.open(output_dir / f"{prefix}.viral.fasta")
            check = ProvenanceCheck(sequences_fasta, chunks, chunk_size, feature_files)
            lengths: dict[str, int] = {}
            for record_id, sequence in read_fasta(sequences_fasta):
                check.add(record_id, sequence)
                lengths[record_id] = len(sequence)
                if record_id in viral:
                    write_fasta(fasta, record_id, sequence)
            check.finish([call.sequence_id for call in sequences])
            for call in sequences:
                call.length = lengths[call.sequence_id]
        table = outputs.open(output_dir / f"{prefix}.{SEQUENCE_CALLS.name}")
        table.write(SEQUENCE_CALLS.header)
        for call in sequences:
            table.write(sequence_row(call))
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
    warn_low_coverage(sequences, min_coverage)
    return chunk_calls, sequences


def yes_no(flag: bool) -> str:
    """A flag as the tables write it."""
    return YES if flag else NO


def sequence_row(call: SequenceCall) -> str:
    """A row of the sequence calls table, newline included."""
    length = "NA" if call.length is None else str(call.length)
    return (
        f"{call.sequence_id}\t{call.chunks}\t{call.chunks_with_frames}\t{call.viral_chunks}\t"
        f"{_score(call.max_viral_score)}\t{call.call}\t{length}\t"
        f"{coverage_text(call.chunks_with_frames, call.chunks)}\t"
        f"{yes_no(call.low_coverage)}\n"
    )


def warn_low_coverage(sequences: Sequence[SequenceCall], min_coverage: float) -> None:
    """One warning for the scored sequences whose call rests on under ``min_coverage`` of
    their chunks (no_frame and too_short ones are never called virus or others)."""
    low = [call for call in sequences if call.low_coverage and call.call in SCORED]
    if low:
        first = low[0]
        log.warning(
            "%d of %d sequences were called from under %g of their chunks (low_coverage yes), "
            "e.g. '%s': %s from %d of its %d chunks; the call stands, the rest of the sequence "
            "has no stop-free frame to score",
            len(low), len(sequences), min_coverage, first.sequence_id, first.call,
            first.chunks_with_frames, first.chunks,
        )  # fmt: skip


def check_chunk_lengths(chunks: Sequence[Chunk], chunk_size: int) -> None:
    """The report's chunks must have been cut at ``chunk_size``.

    Cutting gives chunks of at most ``chunk_size`` bases, and a sequence cut in
    two or more starts with a chunk of exactly ``chunk_size``: chunks of 500 bp
    scored by a 300 bp classifier (or the reverse) are unlike its training data.
    """
    pieces = Counter(sequence_of(chunk.id) for chunk in chunks)
    for chunk in chunks:
        first = pieces[sequence_of(chunk.id)] > 1 and chunk.id.endswith("_chunk_1")
        if chunk.length > chunk_size or (first and chunk.length != chunk_size):
            raise InputError(
                f"the frames report's chunk '{chunk.id}' has {chunk.length} bp: its chunks were cut "
                f"at another size than the classifier's chunk size, {chunk_size} bp (chunk the "
                "sequences with the classifier's --chunk-size)"
            )


class ProvenanceCheck:
    """The input FASTA, cut and translated again, against the frames report and features.

    Records are added one at a time (the FASTA is streamed once, while the viral
    sequences are written); ``finish`` refuses what does not match: a sequence
    whose chunks' bases differ from the report's, records missing or extra, and
    feature files whose frames are not the frames of these sequences.
    """

    def __init__(
        self,
        fasta: Path,
        chunks: Sequence[Chunk],
        chunk_size: int,
        feature_files: Sequence[tuple[str, Features]],
    ) -> None:
        self.fasta, self.chunk_size = fasta, chunk_size
        # chunks cut in this process (predict) have no digest: nothing to check them against
        self.chunks = {chunk.id: chunk for chunk in chunks if chunk.sha256}
        self.found: list[str] = []
        self.files = feature_files
        self.owner = {frame_id: i for i, (_, f) in enumerate(feature_files) for frame_id in f.ids}
        self.digests = [(RecordsDigest(), RecordsDigest()) for _ in feature_files]

    def add(self, record_id: str, sequence: str) -> None:
        self.found.append(record_id)
        if not self.chunks and not self.owner:
            return
        dna = rna_as_dna(sequence)  # as the chunk step read it; the viral FASTA keeps U
        pieces = list(chunk_records([(record_id, dna)], self.chunk_size))
        for chunk_id, piece in pieces:
            chunk = self.chunks.get(chunk_id)
            if chunk is None:
                continue  # a record of another sample, or another chunk count: see finish
            digest = sequence_digest(piece)
            if (chunk.length, chunk.sha256) != (len(piece), digest):
                raise InputError(
                    f"{self.fasta}: sequence '{record_id}' is not the one the frames report was "
                    f"made from: its chunk '{chunk_id}' is {len(piece)} bp with sha256 "
                    f"{digest[:12]}, the report's {chunk.length} bp with sha256 {chunk.sha256[:12]}"
                )
        if not self.owner:
            return
        for frames in stop_free_frames(pieces):
            for frame in frames:
                index = self.owner.get(frame.id)
                if index is not None:
                    dna, protein = self.digests[index]
                    dna.add(frame.id, frame.nucleotide)
                    protein.add(frame.id, frame.protein)

    def finish(self, expected: list[str]) -> None:
        found_set, expected_set = set(self.found), set(expected)
        missing = [sequence for sequence in expected if sequence not in found_set]
        extra = [sequence for sequence in self.found if sequence not in expected_set]
        if missing or extra:
            raise InputError(
                f"{self.fasta} is not the input of these frames: {len(missing)} sequences of the "
                f"frames report are not in it ({examples(missing) or '-'}), {len(extra)} of its "
                f"records are not in the report ({examples(extra) or '-'})"
            )
        for (source, features), digests in zip(self.files, self.digests, strict=True):
            for modality, digest in zip(("dna", "protein"), digests, strict=True):
                recorded = features.metadata.get(f"{modality}_frames_sha256", "")
                if digest.hexdigest() != recorded:
                    raise InputError(
                        f"{source}: its {modality} frames are not the frames of {self.fasta} "
                        f"(frames digest {recorded[:12] or 'missing'} in the file, "
                        f"{digest.hexdigest()[:12]} from the sequences): features of another "
                        "sample or run?"
                    )


def read_chunks(report_paths: Iterable[str | os.PathLike[str]]) -> list[Chunk]:
    """The chunks of frames reports (select_frames.py), ``no_frame`` chunks included."""
    chunks: list[Chunk] = []
    seen: dict[str, str] = {}
    for path in report_paths:
        for line, row in enumerate(read_table(path, FRAMES_REPORT), start=2):
            chunk_id, length, labels, digest = (row[key] for key in FRAMES_REPORT.columns)
            if chunk_id in seen:
                raise InputError(
                    f"{path}:{line}: chunk '{chunk_id}' is listed twice "
                    f"(also in {seen[chunk_id]}): a frames report given twice?"
                )
            seen[chunk_id] = str(path)
            frames = () if labels == NO_FRAME else tuple(labels.split(","))
            if (
                not length.isdigit()
                or not set(frames) <= set(FRAME_LABELS)
                or not _SHA256.fullmatch(digest or "")
            ):
                raise InputError(f"{path}:{line}: not a frames report row: {row}")
            chunks.append(Chunk(chunk_id, int(length), frames, digest))
    return chunks


def warn_if_demo(folder: Path, classifier: Classifier) -> None:
    """A warning line, on stderr, for a demo classifier: its calls are not for real use.
    Given once the tables are written, the last line the user sees (a refusal stays the
    one line it is)."""
    if classifier.demo:
        log.warning("%s is a demo classifier: %s", folder, classifier.demo)


def _probability(text: str) -> float | None:
    """A score of the tables: NaN for 'NA', None for anything that is not a probability."""
    if text == "NA":
        return math.nan
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0.0 <= value <= 1.0 else None


def read_chunk_calls(path: Path) -> list[ChunkCall]:
    """A chunk_calls.tsv as ``write_predictions`` writes it; any other row is refused."""
    columns = CHUNK_CALLS.columns
    calls: list[ChunkCall] = []
    seen: set[str] = set()
    for line, row in enumerate(read_table(path, CHUNK_CALLS), start=2):
        chunk_id, prediction, frames, *scores = (row[column] or "" for column in columns)
        others, virus = (_probability(score) for score in scores)
        scored = prediction in SCORED
        if (
            prediction not in CALLS
            or not frames.isdigit()
            or others is None
            or virus is None
            or math.isnan(others) == scored
            or math.isnan(virus) == scored
        ):
            raise InputError(f"{path}:{line}: not a chunk calls row: {row}")
        if chunk_id in seen:
            raise InputError(f"{path}:{line}: chunk '{chunk_id}' is listed twice")
        seen.add(chunk_id)
        calls.append(ChunkCall(chunk_id, prediction, int(frames), others, virus))
    return calls


def read_sequence_calls(path: Path) -> list[SequenceCall]:
    """A sequence_calls.tsv as ``write_predictions`` writes it; any other row is refused,
    a coverage that is not its counts' too."""
    columns = SEQUENCE_CALLS.columns
    calls: list[SequenceCall] = []
    seen: set[str] = set()
    for line, row in enumerate(read_table(path, SEQUENCE_CALLS), start=2):
        sequence_id, *counts, score, call, length, coverage, low = (
            row[column] or "" for column in columns
        )
        value = _probability(score)
        if (
            call not in CALLS
            or not all(count.isdigit() for count in counts)
            or value is None
            or not (length.isdigit() or length == "NA")
            or low not in (YES, NO)
        ):
            raise InputError(f"{path}:{line}: not a sequence calls row: {row}")
        chunks, with_frames, viral = map(int, counts)
        if coverage != coverage_text(with_frames, chunks):
            raise InputError(
                f"{path}:{line}: sequence '{sequence_id}' has coverage {coverage}, but "
                f"{with_frames} chunks with frames of its {chunks} make "
                f"{coverage_text(with_frames, chunks)}"
            )
        if sequence_id in seen:
            raise InputError(f"{path}:{line}: sequence '{sequence_id}' is listed twice")
        seen.add(sequence_id)
        size = None if length == "NA" else int(length)
        calls.append(
            SequenceCall(sequence_id, chunks, with_frames, viral, value, call, low == YES, size)
        )
    return calls


def scored_rows(
    classifier: Classifier, feature_paths: Sequence[str | os.PathLike[str]]
) -> tuple[list[str], np.ndarray]:
    """Frame ids and scores of all feature files, read and scored one file at a time (memory
    holds one shard's matrix, not the sample's); a frame in two files is an error."""
    owner: dict[str, str] = {}
    frame_ids: list[str] = []
    scores = []
    for path in feature_paths:
        features = read_features(path)
        for frame_id in features.ids:
            if frame_id in owner:
                where = "twice" if owner[frame_id] == str(path) else f"in {owner[frame_id]} and"
                raise InputError(
                    f"frame '{frame_id}' is {where} {path}: a shard's features given twice?"
                )
            owner[frame_id] = str(path)
        frame_ids += features.ids
        scores.append(classifier.scores(features.matrix))
    return frame_ids, np.concatenate(scores)


def classify_features(
    classifier_dir: Path,
    feature_paths: list[Path],
    report_paths: list[Path],
    output_dir: Path,
    prefix: str,
    sequences_fasta: Path | None = None,
    min_viral_fraction: float = 0.5,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
) -> list[SequenceCall]:
    """Score merged features with a classifier and write the prediction tables.

    No feature file at all is right only for a sample without a stop-free frame.
    """
    check_name(prefix, "prefix")
    check_fraction(min_viral_fraction)
    check_coverage(min_coverage)
    # Headers first: features of other models or settings are refused before any matrix
    # or classifier weight is read; then one shard at a time
    headers = [read_header(path) for path in feature_paths]
    check_one_set(feature_paths, headers)
    sources = list(zip(map(str, feature_paths), headers, strict=True))
    classifier = load_classifier(classifier_dir, sources)
    chunks = read_chunks(report_paths)
    frame_ids: list[str] = []
    scores = np.empty((0, len(LABELS)), dtype=np.float32)
    if headers:
        frame_ids, scores = scored_rows(classifier, feature_paths)
    _, calls = write_predictions(
        output_dir,
        prefix,
        chunks,
        frame_ids,
        scores,
        classifier.chunk_size,
        sequences_fasta,
        min_viral_fraction,
        sources,
        min_coverage=min_coverage,
    )
    if sequences_fasta is None and headers:
        log.warning(
            "no --sequences: the features' frames could not be checked against the sequences "
            "they are said to come from"
        )
    warn_if_demo(classifier_dir, classifier)
    return calls
