"""A sample's chunks, frame scores and sequence calls in a scratch database.

Predict mode joins three things a sample has millions of: the chunks the frames
reports list (or predict cuts), the scores of their frames (one feature file at a
time) and the calls of the input sequences (checked against the FASTA). Held in
dicts they made memory grow with the sample; here they are indexed tables on disk
(``virnucpro.files.scratch_database``), so memory holds one batch.

Chunks keep the order they were added in; frames are keyed by (chunk, label), so a
chunk's frames come back with it in label order; sequences keep the order in which
their chunks first appear, and the chunks of a sequence must be together.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from itertools import groupby

import numpy as np

from virnucpro.classify.calling import Chunk, SequenceCall, chunk_of, sequence_of
from virnucpro.errors import InputError, examples

_TABLES = """
CREATE TABLE chunks (
    n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, length INTEGER NOT NULL,
    labels TEXT NOT NULL, sha256 TEXT NOT NULL, source TEXT NOT NULL);
CREATE TABLE frames (
    chunk TEXT NOT NULL, label TEXT NOT NULL, others REAL NOT NULL, virus REAL NOT NULL,
    file INTEGER, source TEXT NOT NULL, PRIMARY KEY (chunk, label)) WITHOUT ROWID;
CREATE TABLE sequences (
    n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, chunks INTEGER NOT NULL,
    chunks_with_frames INTEGER NOT NULL, viral_chunks INTEGER NOT NULL, score REAL,
    call TEXT NOT NULL, low_coverage INTEGER NOT NULL, length INTEGER);
"""
# A frame's chunk and label from its id: the label is its last two characters (F1..R3)
_FRAME = "frames.chunk || frames.label"
_LISTED = "instr(',' || chunks.labels || ',', ',' || frames.label || ',') > 0"


class Last:
    """The last item an iterable gave: the row an ``executemany`` failed on."""

    def __init__(self) -> None:
        self.item: tuple | None = None

    def track(self, items: Iterable[tuple]) -> Iterator[tuple]:
        for self.item in items:
            yield self.item


class CallStore:
    """Chunks, frame scores and sequence calls of one sample, in ``connection``."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        connection.executescript(_TABLES)
        self.has_digests = False

    # --- filling

    def add_chunks(
        self, chunks: Iterable[tuple[Chunk, str]], doubled: str = "a frames report given twice?"
    ) -> None:
        """Add (chunk, where it is listed) pairs; a chunk listed twice is an error, which
        ``doubled`` says the likely cause of."""
        last = Last()
        rows = (
            (chunk.id, chunk.length, ",".join(chunk.frames), chunk.sha256, place)
            for chunk, place in chunks
        )
        try:
            self.connection.executemany(
                "INSERT INTO chunks (id, length, labels, sha256, source) VALUES (?, ?, ?, ?, ?)",
                last.track(rows),
            )
        except sqlite3.IntegrityError:
            assert last.item is not None
            chunk_id, *_, place = last.item
            first = self._one("SELECT source FROM chunks WHERE id = ?", chunk_id)
            raise InputError(
                f"{place}: chunk '{chunk_id}' is listed twice (also in {first}): {doubled}"
            ) from None
        self.has_digests = self.has_digests or bool(
            self._one("SELECT EXISTS (SELECT 1 FROM chunks WHERE sha256 != '')")
        )

    def add_frames(
        self, frame_ids: Sequence[str], scores: np.ndarray, source: str, file: int | None = None
    ) -> None:
        """Add the (others, virus) scores of frames read from ``source`` (feature file
        ``file`` of the sample); a frame scored twice is an error."""
        last = Last()
        rows = (
            (chunk_of(frame_id), frame_id[-2:], float(others), float(virus), file, source)
            for frame_id, (others, virus) in zip(frame_ids, scores, strict=True)
        )
        try:
            self.connection.executemany(
                "INSERT INTO frames VALUES (?, ?, ?, ?, ?, ?)", last.track(rows)
            )
        except sqlite3.IntegrityError:
            assert last.item is not None
            chunk, label, *_ = last.item
            first = self._one(
                "SELECT source FROM frames WHERE chunk = ? AND label = ?", chunk, label
            )
            where = "twice" if first == source else f"in {first} and"
            raise InputError(
                f"frame '{chunk}{label}' is {where} {source}: a shard's features given twice?"
            ) from None

    # --- checking

    def check_chunk_lengths(self, chunk_size: int) -> None:
        """The chunks must have been cut at ``chunk_size``: none longer, and the first of
        a sequence cut in two or more exactly that long (see prediction_tables)."""
        row = self.connection.execute(
            "SELECT id, length FROM chunks WHERE length > ?1 OR (length != ?1 "
            "AND id LIKE '%\\_chunk\\_1' ESCAPE '\\' AND EXISTS (SELECT 1 FROM chunks AS next "
            "WHERE next.id = substr(chunks.id, 1, length(chunks.id) - 1) || '2')) LIMIT 1",
            (chunk_size,),
        ).fetchone()
        if row is not None:
            raise InputError(
                f"the frames report's chunk '{row[0]}' has {row[1]} bp: its chunks were cut at "
                f"another size than the classifier's chunk size, {chunk_size} bp (chunk the "
                "sequences with the classifier's --chunk-size)"
            )

    def check_frames(self) -> None:
        """Every frame the chunks list must be scored, and no other."""
        short = self.connection.execute(
            f"SELECT chunks.id, chunks.labels, group_concat(frames.label) FROM chunks "
            f"LEFT JOIN frames ON frames.chunk = chunks.id AND {_LISTED} GROUP BY chunks.n "
            "HAVING count(frames.label) < (length(chunks.labels) + 1) / 3 "
            "ORDER BY chunks.n"
        ).fetchall()
        if short:
            missing = [
                f"{chunk}{label}"
                for chunk, labels, found in short
                for label in labels.split(",")
                if label not in (found or "").split(",")
            ]
            sequences = list(dict.fromkeys(sequence_of(chunk) for chunk, *_ in short))
            raise InputError(
                f"{len(missing)} frames of the frames report have no features: "
                f"{examples(missing)}, of sequences {examples(sequences)} (a shard's feature "
                "file missing?)"
            )
        extra = [
            frame
            for (frame,) in self.connection.execute(
                f"SELECT {_FRAME} FROM frames LEFT JOIN chunks ON chunks.id = frames.chunk "
                f"WHERE chunks.id IS NULL OR NOT {_LISTED} ORDER BY {_FRAME}"
            )
        ]
        if extra:
            raise InputError(
                f"{len(extra)} frames with features are not in the frames report: "
                f"{examples(extra)} (features or frames report of another sample?)"
            )

    # --- reading

    def sequences_of_chunks(self) -> Iterator[tuple[str, Iterator[tuple[Chunk, np.ndarray]]]]:
        """Each sequence with its chunks in order, each chunk with the (others, virus) scores
        of its frames in label order (checked first: ``check_frames``)."""
        rows = self.connection.execute(
            "SELECT chunks.id, chunks.length, chunks.labels, frames.label, frames.others, "
            "frames.virus FROM chunks LEFT JOIN frames ON frames.chunk = chunks.id "
            "ORDER BY chunks.n"
        )

        def chunks(group: Iterator[tuple]) -> Iterator[tuple[Chunk, np.ndarray]]:
            for (chunk_id, length, labels), frames in groupby(group, lambda row: row[:3]):
                labelled = tuple(labels.split(",")) if labels else ()
                scored = {label: (others, virus) for *_, label, others, virus in frames}
                scores = np.array([scored[label] for label in labelled], dtype=np.float64)
                yield Chunk(chunk_id, length, labelled), scores.reshape(-1, 2)

        for sequence_id, group in groupby(rows, lambda row: sequence_of(row[0])):
            yield sequence_id, chunks(group)

    def add_sequence(self, call: SequenceCall) -> None:
        """Keep a sequence's call; its chunks must all have come together."""
        try:
            self.connection.execute(
                "INSERT INTO sequences (id, chunks, chunks_with_frames, viral_chunks, score, "
                "call, low_coverage) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    call.sequence_id, call.chunks, call.chunks_with_frames, call.viral_chunks,
                    None if np.isnan(call.max_viral_score) else call.max_viral_score,
                    call.call, call.low_coverage,
                ),
            )  # fmt: skip
        except sqlite3.IntegrityError:
            raise InputError(
                f"the chunks of sequence '{call.sequence_id}' are not together in the frames "
                "reports: a sequence in two reports, or a report of another sample?"
            ) from None

    def chunk(self, chunk_id: str) -> tuple[int, str] | None:
        """A listed chunk's length and digest."""
        return self.connection.execute(
            "SELECT length, sha256 FROM chunks WHERE id = ?", (chunk_id,)
        ).fetchone()

    def frame_file(self, frame_id: str) -> int | None:
        """The feature file a frame was scored from (None: not scored, or not from a file)."""
        row = self.connection.execute(
            "SELECT file FROM frames WHERE chunk = ? AND label = ?",
            (chunk_of(frame_id), frame_id[-2:]),
        ).fetchone()
        return None if row is None else row[0]

    def sequence_call(self, sequence_id: str) -> str | None:
        """A sequence's call, None for a sequence without chunks."""
        row = self.connection.execute(
            "SELECT call FROM sequences WHERE id = ?", (sequence_id,)
        ).fetchone()
        return None if row is None else str(row[0])

    def set_lengths(self, lengths: Iterable[tuple[str, int]]) -> None:
        """Record the lengths of (sequence, bases) read from the input FASTA."""
        self.connection.executemany(
            "UPDATE sequences SET length = ?2 WHERE id = ?1", ((s, n) for s, n in lengths)
        )

    def without_length(self) -> list[str]:
        """Sequences no FASTA record was found for."""
        return [
            str(name)
            for (name,) in self.connection.execute(
                "SELECT id FROM sequences WHERE length IS NULL ORDER BY n"
            )
        ]

    def sequences(self) -> Iterator[SequenceCall]:
        """The sequence calls, in order of their first chunk."""
        for sequence_id, *counts, score, call, low, length in self.connection.execute(
            "SELECT id, chunks, chunks_with_frames, viral_chunks, score, call, low_coverage, "
            "length FROM sequences ORDER BY n"
        ):
            yield SequenceCall(
                sequence_id, *counts, np.nan if score is None else score, call, bool(low), length
            )

    def count(self, table: str) -> int:
        return int(self._one(f"SELECT count(*) FROM {table}"))

    def _one(self, query: str, *parameters: object) -> object:
        return self.connection.execute(query, parameters).fetchone()[0]
