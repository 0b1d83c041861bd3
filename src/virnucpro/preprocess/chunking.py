"""Cutting sequences into overlapping fixed-size chunks, exactly as the original tool did."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from virnucpro.errors import InputError
from virnucpro.files.atomic import AtomicOutputs
from virnucpro.files.sequence_files import LongSequence, stream_dna, write_fasta

log = logging.getLogger(__name__)


#: Largest chunk size: far above the original tool's 300 and 500 bp, and small enough
#: that the frame step (which holds a chunk's six frames) and embedders stay bounded.
MAX_CHUNK_SIZE = 1 << 16


def check_chunk_size(chunk_size: int) -> None:
    """Refuse chunk sizes that cannot cut a sequence, or make chunks no step should hold."""
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise InputError(
            f"chunk size must be a positive number of bases up to {MAX_CHUNK_SIZE:,}, "
            f"got {chunk_size}"
        )


def minimum_length(chunk_size: int) -> int:
    """Shortest chunk that is classified: half the chunk size, rounded up.

    Chunking a sequence longer than the chunk size never makes a chunk this short
    (the shortest is chunk_size // 2 + 1), so only whole sequences shorter than
    that are refused a call: they are unlike anything the classifier was trained on.
    """
    return (chunk_size + 1) // 2


def chunk_bounds(length: int, chunk_size: int) -> list[tuple[int, int]]:
    """Start and end of each chunk of a sequence of ``length`` bases.

    ceil(length / chunk_size) chunks spread the surplus k·c - n as overlaps:
    the first u steps back are q + 1 bases, the rest q, so the chunks cover the
    sequence and only the last one may be shorter than ``chunk_size``.
    """
    return list(_bounds(length, chunk_size))


def _bounds(length: int, chunk_size: int) -> Iterator[tuple[int, int]]:
    """chunk_bounds one by one: chunk i starts at i·c minus i steps back of q, and min(i, u)."""
    count = -(-length // chunk_size)
    if count == 0:
        return
    surplus = count * chunk_size - length
    step = surplus // count
    longer = surplus - step * (count - 1)
    for index in range(count):
        start = index * (chunk_size - step) - min(index, longer)
        yield start, min(start + chunk_size, length)


def chunk_records(
    records: Iterable[tuple[str, str | LongSequence]], chunk_size: int
) -> Iterator[tuple[str, str]]:
    """``(chunk_id, sequence)`` for every chunk of every record, ids ``{id}_chunk_{i}``.

    An empty record gives one empty chunk (the original tool gave none), so that
    it still reaches the prediction tables, as ``too_short``, instead of vanishing.
    A ``LongSequence`` (stream_dna) is cut as it is read, never held whole.
    """
    check_chunk_size(chunk_size)
    for record_id, sequence in records:
        if isinstance(sequence, LongSequence):
            yield from _long_chunks(record_id, sequence, chunk_size)
        elif len(sequence) <= chunk_size:  # one chunk: most reads and contigs
            yield f"{record_id}_chunk_1", sequence
        else:
            for number, (start, end) in enumerate(_bounds(len(sequence), chunk_size), start=1):
                yield f"{record_id}_chunk_{number}", sequence[start:end]


def _long_chunks(
    record_id: str, sequence: LongSequence, chunk_size: int
) -> Iterator[tuple[str, str]]:
    """The chunks of a long record, cut from a window of its blocks (at most a chunk and a block)."""
    blocks = sequence.blocks()
    window, offset = "", 0  # window is sequence[offset : offset + len(window)]
    for number, (start, end) in enumerate(_bounds(len(sequence), chunk_size), start=1):
        while offset + len(window) < end:
            window, offset = window[start - offset :] + next(blocks), start
        yield f"{record_id}_chunk_{number}", window[start - offset : end - offset]
    for _ in blocks:  # the rest, empty: read to the end, blocks checks the length
        pass


@dataclass
class ChunkSummary:
    """What the chunk step read and wrote."""

    sequences: int = 0
    bases: int = 0
    empty_sequences: int = 0
    chunks: int = 0


def chunk_sequences(
    input_path: str | os.PathLike[str], output_path: str | os.PathLike[str], chunk_size: int
) -> ChunkSummary:
    """Write the chunks of every sequence in a FASTA(.gz) file to a FASTA file.

    Records are streamed (stream_dna): one of any length takes bounded memory.
    """
    check_chunk_size(chunk_size)
    summary = ChunkSummary()
    with AtomicOutputs() as outputs:
        output = outputs.open(output_path)
        for record_id, sequence in stream_dna(input_path):
            summary.sequences += 1
            summary.bases += len(sequence)
            if not sequence:
                summary.empty_sequences += 1
                log.warning("sequence '%s' is empty: one empty chunk (too_short)", record_id)
            for chunk_id, chunk in chunk_records([(record_id, sequence)], chunk_size):
                write_fasta(output, chunk_id, chunk)
                summary.chunks += 1
    log.info(
        "read %d sequences (%d bases, %d empty) from %s; wrote %d chunks of up to %d bases to %s",
        summary.sequences,
        summary.bases,
        summary.empty_sequences,
        input_path,
        summary.chunks,
        chunk_size,
        output_path,
    )
    return summary
