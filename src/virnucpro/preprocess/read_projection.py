"""How many frames predict mode would embed from an input's reads: the projection's counts.

The comparison projects embedding hours for one million reads from the frames
per read of the very genomes it was trained on, so each training-set input is
also cut as predict mode cuts contigs at ``--chunk_size 500`` and its stop-free
frames are counted (ambiguous bases allowed, as predict mode allows them).
"""

from __future__ import annotations

from virnucpro.files.contracts import PROJECTION_READ_LENGTH
from virnucpro.preprocess.chunking import chunk_records, minimum_length
from virnucpro.preprocess.frames import stop_free_frames

#: predict mode scores no shorter chunk
PROJECTION_MIN_LENGTH = minimum_length(PROJECTION_READ_LENGTH)


def count_projection_reads(record_id: str, sequence: str) -> tuple[int, int]:
    """The record's PROJECTION_READ_LENGTH-bp reads, and the stop-free frames predict
    mode would embed from them."""
    reads = list(chunk_records([(record_id, sequence)], PROJECTION_READ_LENGTH))
    scored = [read for read in reads if len(read[1]) >= PROJECTION_MIN_LENGTH]
    return len(reads), sum(len(frames) for frames in stop_free_frames(scored))
