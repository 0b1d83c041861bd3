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
from collections.abc import Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

import numpy as np

from virnucpro.classify.call_store import CallStore
from virnucpro.classify.call_summary import CallSummary, CallTally
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
    check_coverage,
    check_fraction,
    check_scored_frames,
    chunk_call,
    coverage_text,
    is_viral_frame,
    sequence_call,
    sequence_of,
)
from virnucpro.classify.classifier import Classifier, load_classifier
from virnucpro.classify.labelled import check_one_set
from virnucpro.embed.merge import FeatureSource, feature_sources
from virnucpro.errors import InputError, examples
from virnucpro.files.atomic import AtomicOutputs
from virnucpro.files.contracts import CHUNK_CALLS, FRAME_SCORES, FRAMES_REPORT, SEQUENCE_CALLS
from virnucpro.files.digests import RecordsDigest, sequence_digest
from virnucpro.files.feature_files import Features
from virnucpro.files.names import check_name
from virnucpro.files.scratch_database import NameSet, scratch_database
from virnucpro.files.sequence_files import read_fasta, rna_as_dna, write_fasta
from virnucpro.files.tables import read_table
from virnucpro.preprocess.chunking import chunk_records, minimum_length
from virnucpro.preprocess.frames import FRAME_LABELS, NO_FRAME, frame_label, stop_free_frames

log = logging.getLogger(__name__)

_SHA256 = re.compile(r"[0-9a-f]{64}")
#: The low_coverage column's values
YES, NO = "yes", "no"
# Records whose lengths are recorded, and which are cut and translated again, at once
_BATCH_RECORDS = 4096
# ... or fewer when they hold this many bases
_BATCH_BASES = 4_000_000


def _score(value: float) -> str:
    return "NA" if np.isnan(value) else f"{value:.6f}"


def rounded_as_written(value: float) -> float:
    """A score rounded to the 6 decimals the tables hold, so that a summary made while
    writing equals the one prediction_report.py makes from the tables."""
    return math.nan if np.isnan(value) else float(_score(value))


def write_predictions(
    output_dir: Path,
    prefix: str,
    chunks: Sequence[Chunk],
    frame_ids: Sequence[str],
    scores: np.ndarray,
    chunk_size: int,
    sequences_fasta: Path | None,
    min_viral_fraction: float = 0.5,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
) -> CallSummary:
    """``write_calls`` for chunks and frame scores held in memory (small samples, tests)."""
    with scratch_database() as connection:
        store = CallStore(connection)
        store.add_chunks((chunk, "the frames report") for chunk in chunks)
        if len(set(frame_ids)) != len(frame_ids):
            check_scored_frames(chunks, frame_ids)
        store.add_frames(frame_ids, scores, "the scores")
        return write_calls(
            store, output_dir, prefix, chunk_size, sequences_fasta, min_viral_fraction,
            min_coverage=min_coverage,
        )  # fmt: skip


def write_calls(
    store: CallStore,
    output_dir: Path,
    prefix: str,
    chunk_size: int,
    sequences_fasta: Path | None,
    min_viral_fraction: float = 0.5,
    feature_files: Sequence[tuple[str, Features]] = (),
    outputs: AtomicOutputs | None = None,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
) -> CallSummary:
    """Write ``{prefix}.frame_scores.tsv``, ``.chunk_calls.tsv``, ``.sequence_calls.tsv`` and
    ``.viral.fasta`` from ``store``, checking ``sequences_fasta`` against the chunks and the
    frames of ``feature_files`` (source, header) on the way; as part of ``outputs`` if given.
    Returns the summary of the calls as written. Memory holds one sequence's chunks.

    Each sequence's length is that of its record in ``sequences_fasta``, read while the
    viral FASTA is written (the frames report's overlapping chunks do not tell it: 302
    and 303 bases both give chunks of 300 and 152); without the FASTA it is ``NA``.
    """
    check_name(prefix, "prefix")
    store.check_chunk_lengths(chunk_size)
    store.check_frames()
    tally = CallTally(prefix)
    with nullcontext(outputs) if outputs is not None else AtomicOutputs() as outputs:
        frame_table = outputs.open(output_dir / f"{prefix}.{FRAME_SCORES.name}")
        frame_table.write(FRAME_SCORES.header)
        chunk_table = outputs.open(output_dir / f"{prefix}.{CHUNK_CALLS.name}")
        chunk_table.write(CHUNK_CALLS.header)
        for sequence_id, chunks in store.sequences_of_chunks():
            calls = []
            for chunk, scores in chunks:
                call = chunk_call(chunk, scores, chunk_size)
                if call.prediction != TOO_SHORT:
                    for label, (others, virus) in zip(chunk.frames, scores, strict=True):
                        prediction = VIRUS if is_viral_frame(others, virus) else OTHERS
                        frame_table.write(
                            f"{chunk.id}{label}\t{prediction}\t{others:.6f}\t{virus:.6f}\n"
                        )
                call.max_score1, call.max_score2 = map(
                    rounded_as_written, (call.max_score1, call.max_score2)
                )
                chunk_table.write(
                    f"{call.chunk_id}\t{call.prediction}\t{call.frames}\t"
                    f"{_score(call.max_score1)}\t{_score(call.max_score2)}\n"
                )
                tally.add_chunk(call)
                calls.append(call)
            store.add_sequence(sequence_call(sequence_id, calls, min_viral_fraction, min_coverage))
        if sequences_fasta is None:  # an earlier run's viral sequences must not stay behind
            outputs.remove(output_dir / f"{prefix}.viral.fasta")
        else:
            fasta = outputs.open(output_dir / f"{prefix}.viral.fasta")
            check = ProvenanceCheck(sequences_fasta, store, chunk_size, feature_files)
            for record_id, sequence in read_fasta(sequences_fasta):
                if check.add(record_id, sequence) == VIRUS:
                    write_fasta(fasta, record_id, sequence)
            check.finish()
        table = outputs.open(output_dir / f"{prefix}.{SEQUENCE_CALLS.name}")
        table.write(SEQUENCE_CALLS.header)
        low = LowCoverage(min_coverage)
        for call in store.sequences():
            table.write(sequence_row(call))
            tally.add_sequence(call)
            low.add(call)
    summary = tally.summary()
    counts = summary.counts
    log.info(
        "%d frames, %d chunks (%d no_frame, %d too_short: shorter than %d bp), %d sequences: "
        "%d called virus -> %s/%s.*",
        counts["frames"], counts["chunks"], counts[f"{NO_FRAME}_chunks"],
        counts[f"{TOO_SHORT}_chunks"], minimum_length(chunk_size), counts["sequences"],
        counts[f"{VIRUS}_sequences"], output_dir, prefix,
    )  # fmt: skip
    low.warn(counts["sequences"])
    return summary


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


class LowCoverage:
    """The scored sequences whose call rests on under ``min_coverage`` of their chunks
    (no_frame and too_short ones are never called virus or others), counted as they pass."""

    def __init__(self, min_coverage: float) -> None:
        self.min_coverage, self.count = min_coverage, 0
        self.first: SequenceCall | None = None

    def add(self, call: SequenceCall) -> None:
        if call.low_coverage and call.call in SCORED:
            self.count += 1
            self.first = self.first or call

    def warn(self, sequences: int) -> None:
        """One warning for them all, with the first as an example."""
        if self.first is not None:
            first = self.first
            log.warning(
                "%d of %d sequences were called from under %g of their chunks (low_coverage "
                "yes), e.g. '%s': %s from %d of its %d chunks; the call stands, the rest of the "
                "sequence has no stop-free frame to score",
                self.count, sequences, self.min_coverage, first.sequence_id, first.call,
                first.chunks_with_frames, first.chunks,
            )  # fmt: skip


class ProvenanceCheck:
    """The input FASTA, cut and translated again, against the frames report and features.

    Records are added one at a time (the FASTA is streamed once, while the viral
    sequences are written), each given its length in the store, and cut and
    translated in batches; ``finish`` refuses what does not match: a sequence whose
    chunks' bases differ from the report's, records missing or extra, and feature
    files whose frames are not the frames of these sequences.
    """

    def __init__(
        self,
        fasta: Path,
        store: CallStore,
        chunk_size: int,
        feature_files: Sequence[tuple[str, Features]],
    ) -> None:
        self.fasta, self.store, self.chunk_size = fasta, store, chunk_size
        self.sequences = store.sequence_lookup()
        self.extra: list[str] = []
        self.lengths: list[tuple[int, int]] = []
        self.pending: list[tuple[str, str]] = []
        self.pending_listed: set[str] = set()  # of the pending records, those in the report
        self.pending_bases = 0
        self.files = feature_files
        self.digests = [(RecordsDigest(), RecordsDigest()) for _ in feature_files]

    def add(self, record_id: str, sequence: str) -> str | None:
        """Check a record and keep its length; its sequence's call (None: not in the report)."""
        row = self.sequences.find(record_id)
        if row is None:
            self.extra.append(record_id)
        else:
            self.lengths.append((row[0], len(sequence)))
        if len(self.lengths) >= _BATCH_RECORDS:
            self.store.set_lengths(self.lengths)
            self.lengths.clear()
        if self.store.has_digests or self.files:
            # as the chunk step read it; the viral FASTA keeps U
            self.pending.append((record_id, rna_as_dna(sequence)))
            if row is not None:
                self.pending_listed.add(record_id)
            self.pending_bases += len(sequence)
            if len(self.pending) >= _BATCH_RECORDS or self.pending_bases >= _BATCH_BASES:
                self._check_pending()
        return None if row is None else str(row[2])

    def _check_pending(self) -> None:
        """Cut and translate the pending records at once (translation is vectorised over a
        batch), checking each chunk's digest and adding each frame to its file's digests."""
        pieces = list(chunk_records(self.pending, self.chunk_size))
        in_report = set(self.pending_listed)
        self.pending.clear()
        self.pending_listed.clear()
        self.pending_bases = 0
        listed = [self.store.chunk(chunk_id) for chunk_id, _ in pieces]
        for (chunk_id, piece), chunk in zip(pieces, listed, strict=True):
            if chunk is None and self.store.has_digests and sequence_of(chunk_id) in in_report:
                raise InputError(
                    f"{self.fasta}: sequence '{sequence_of(chunk_id)}' is not the one the frames "
                    f"report was made from: its chunk '{chunk_id}' ({len(piece)} bp) is not in "
                    "the report (a longer sequence under the same name?)"
                )
            if chunk is None or not chunk[2]:
                continue  # a record of another sample (see finish), or chunks cut in this
                # process (predict), which have no digest to check
            digest = sequence_digest(piece)
            if chunk[1:] != (len(piece), digest):
                record_id = sequence_of(chunk_id)
                raise InputError(
                    f"{self.fasta}: sequence '{record_id}' is not the one the frames report was "
                    f"made from: its chunk '{chunk_id}' is {len(piece)} bp with sha256 "
                    f"{digest[:12]}, the report's {chunk[1]} bp with sha256 {chunk[2][:12]}"
                )
        if not self.files:
            return
        for frames, chunk in zip(stop_free_frames(pieces), listed, strict=True):
            if not frames or chunk is None:
                continue
            files = self.store.frame_files(chunk[0])
            for frame in frames:
                index = files.get(frame_label(frame.id))
                if index is not None:
                    dna_digest, protein_digest = self.digests[index]
                    dna_digest.add(frame.id, frame.nucleotide)
                    protein_digest.add(frame.id, frame.protein)

    def finish(self) -> None:
        self._check_pending()
        self.store.set_lengths(self.lengths)
        missing = self.store.without_length()
        if missing or self.extra:
            raise InputError(
                f"{self.fasta} is not the input of these frames: {len(missing)} sequences of the "
                f"frames report are not in it ({examples(missing) or '-'}), {len(self.extra)} of "
                f"its records are not in the report ({examples(self.extra) or '-'})"
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


def add_reports(store: CallStore, report_paths: Iterable[str | os.PathLike[str]]) -> None:
    """Add the chunks of frames reports (select_frames.py), ``no_frame`` chunks included."""
    for path in report_paths:
        store.add_chunks(_report_chunks(path))


def _report_chunks(path: str | os.PathLike[str]) -> Iterator[tuple[Chunk, str]]:
    for line, row in enumerate(read_table(path, FRAMES_REPORT), start=2):
        chunk_id, length, labels, digest = (row[key] for key in FRAMES_REPORT.columns)
        frames = () if labels == NO_FRAME else tuple(labels.split(","))
        if (
            not length.isdigit()
            or not set(frames) <= set(FRAME_LABELS)
            or len(set(frames)) != len(frames)
            or not _SHA256.fullmatch(digest or "")
        ):
            raise InputError(f"{path}:{line}: not a frames report row: {row}")
        yield Chunk(chunk_id, int(length), frames, digest), f"{path}:{line}"


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


def read_chunk_calls(path: Path, seen: NameSet) -> Iterator[ChunkCall]:
    """The rows of a chunk_calls.tsv as ``write_calls`` writes it, one at a time; any other
    row is refused, and a chunk already in ``seen``."""
    columns = CHUNK_CALLS.columns
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
        if seen.add(chunk_id) is not None:
            raise InputError(f"{path}:{line}: chunk '{chunk_id}' is listed twice")
        yield ChunkCall(chunk_id, prediction, int(frames), others, virus)


def read_sequence_calls(path: Path, seen: NameSet) -> Iterator[SequenceCall]:
    """The rows of a sequence_calls.tsv as ``write_calls`` writes it, one at a time; any
    other row is refused, a coverage that is not its counts' too, and a sequence already
    in ``seen``."""
    columns = SEQUENCE_CALLS.columns
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
        if seen.add(sequence_id) is not None:
            raise InputError(f"{path}:{line}: sequence '{sequence_id}' is listed twice")
        size = None if length == "NA" else int(length)
        yield SequenceCall(sequence_id, chunks, with_frames, viral, value, call, low == YES, size)


def add_scores(store: CallStore, classifier: Classifier, sources: Sequence[FeatureSource]) -> None:
    """Score every shard's features, one shard at a time (memory holds one shard's matrix,
    not the sample's), into ``store``; a frame in two shards is an error."""
    for index, source in enumerate(sources):
        features = source.read()
        store.add_frames(features.ids, classifier.scores(features.matrix), str(source), index)


def classify_features(
    classifier_dir: Path,
    feature_paths: list[Path],
    report_paths: list[Path],
    output_dir: Path,
    prefix: str,
    sequences_fasta: Path | None = None,
    min_viral_fraction: float = 0.5,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
) -> CallSummary:
    """Score a sample's features with a classifier and write the prediction tables.

    ``feature_paths``: merged files, or each shard's DNA and protein files
    (``feature_sources``). No feature file at all is right only for a sample without a stop-free frame.
    """
    check_name(prefix, "prefix")
    check_fraction(min_viral_fraction)
    check_coverage(min_coverage)
    # Headers first: features of other models or settings are refused before any matrix
    # or classifier weight is read; then one shard at a time. A header keeps its metadata
    # only: the frame ids of every shard would grow with the sample
    shards = feature_sources(feature_paths)
    names = [str(shard) for shard in shards]
    headers = [replace(shard.header(), ids=[]) for shard in shards]
    check_one_set(names, headers)
    sources = list(zip(names, headers, strict=True))
    classifier = load_classifier(classifier_dir, sources)
    with scratch_database() as connection:
        store = CallStore(connection)
        add_reports(store, report_paths)
        add_scores(store, classifier, shards)
        summary = write_calls(
            store, output_dir, prefix, classifier.chunk_size, sequences_fasta,
            min_viral_fraction, sources, min_coverage=min_coverage,
        )  # fmt: skip
    if sequences_fasta is None and headers:
        log.warning(
            "no --sequences: the features' frames could not be checked against the sequences "
            "they are said to come from"
        )
    warn_if_demo(classifier_dir, classifier)
    return summary
