"""A sample's chunks, frame scores and sequence calls in a scratch database.

Predict mode joins three things a sample has millions of: the chunks the frames
reports list (or predict cuts), the scores of their frames (one feature file at a
time) and the calls of the input sequences (checked against the FASTA). Held in
dicts they made memory grow with the sample; here they are tables on disk
(``virnucpro.files.scratch_database``), so memory holds one batch.

Chunks and sequences are numbered in the order they come (``n``), and a frame is
keyed by its chunk's number and its label (``n * 8 + label``), so every join runs
through the tables front to back. Names are found with ``OrderedLookup``: reports,
feature files and FASTA list the same things in the same order, so a cursor that
walks a table in order finds nearly every name, and an index catches the rest.
Random probes into a table larger than SQLite's page cache were what made a
million reads slow.
"""

from __future__ import annotations

import math
import sqlite3
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from itertools import groupby

import numpy as np

from virnucpro.classify.calling import Chunk, SequenceCall, chunk_of, sequence_of
from virnucpro.errors import InputError, examples
from virnucpro.preprocess.frames import FRAME_LABELS

_TABLES = """
CREATE TABLE chunks (
    n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, length INTEGER NOT NULL,
    labels TEXT NOT NULL, sha256 TEXT NOT NULL, source TEXT NOT NULL);
CREATE TABLE frames (
    key INTEGER PRIMARY KEY, label TEXT NOT NULL, others REAL NOT NULL, virus REAL NOT NULL,
    file INTEGER, source TEXT NOT NULL);
CREATE TABLE sequences (
    n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, chunks INTEGER NOT NULL,
    chunks_with_frames INTEGER NOT NULL, viral_chunks INTEGER NOT NULL, score REAL,
    call TEXT NOT NULL, low_coverage INTEGER NOT NULL);
CREATE TABLE lengths (n INTEGER PRIMARY KEY, length INTEGER NOT NULL);
"""
_LABEL = {label: index for index, label in enumerate(FRAME_LABELS)}
# A frame's key: its chunk's number times _SLOTS plus its label's index
_SLOTS = 8
# The frames of chunk n, and whether a frame's label is one its chunk lists
_OF_CHUNK = f"frames.key BETWEEN chunks.n * {_SLOTS} AND chunks.n * {_SLOTS} + {_SLOTS - 1}"
_LISTED = "instr(',' || chunks.labels || ',', ',' || frames.label || ',') > 0"


class Last:
    """The last item an iterable gave: the row an ``executemany`` failed on."""

    def __init__(self) -> None:
        self.item: tuple = ()

    def track(self, items: Iterable[tuple]) -> Iterator[tuple]:
        for self.item in items:
            yield self.item


class OrderedLookup:
    """Rows of ``table`` (``n``, ``id``, ``columns``) found by id, for ids that mostly come
    in the table's own order: a cursor reads the table in ``n`` order and looks a few rows
    ahead; an id it does not find is looked up in the index, and the cursor goes on after
    it. Rows added behind the cursor are found when it reaches the end and reads on."""

    AHEAD = 32
    #: Index hits in a row after which the cursor is left where it is (input in another
    #: order: re-reading ahead after every hit would cost more than the index), except
    #: every ``RETRY``-th hit, so that input back in order is followed again
    SHUFFLED, RETRY = 3, 64

    def __init__(self, connection: sqlite3.Connection, table: str, columns: str = "") -> None:
        self.connection, self.table = connection, table
        self.select = f"SELECT n, id{', ' + columns if columns else ''} FROM {table}"
        self.last = 0
        self.misses = 0
        self.rows = self._after(0)
        self.ahead: deque[tuple] = deque()

    def _after(self, n: int) -> sqlite3.Cursor:
        return self.connection.execute(f"{self.select} WHERE n > ? ORDER BY n", (n,))

    def _fill(self) -> None:
        reopened = False
        while len(self.ahead) < self.AHEAD:
            row = self.rows.fetchone()
            if row is None:
                if reopened:
                    return
                self.rows, reopened = self._after(self.last), True
                continue
            self.ahead.append(row)
            self.last = row[0]

    def find(self, name: str) -> tuple | None:
        self._fill()
        for index, row in enumerate(self.ahead):
            if row[1] == name:
                for _ in range(index + 1):
                    self.ahead.popleft()
                self.misses = 0
                return row
        row = self.connection.execute(f"{self.select} WHERE id = ?", (name,)).fetchone()
        if row is not None:
            self.misses += 1
            if self.misses < self.SHUFFLED or self.misses % self.RETRY == 0:
                self.ahead.clear()
                self.last = row[0]
                self.rows = self._after(row[0])
        return row


class CallStore:
    """Chunks, frame scores and sequence calls of one sample, in ``connection``."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        connection.executescript(_TABLES)
        self.has_digests = False
        self.unlisted: list[str] = []  # scored frames of no listed chunk
        self._chunks = OrderedLookup(connection, "chunks", "length, sha256")

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
        digests = (self._digested(row) for row in rows)
        try:
            self.connection.executemany(
                "INSERT INTO chunks (id, length, labels, sha256, source) VALUES (?, ?, ?, ?, ?)",
                last.track(digests),
            )
        except sqlite3.IntegrityError:
            chunk_id, *_, place = last.item
            first = self._one("SELECT source FROM chunks WHERE id = ?", chunk_id)
            raise InputError(
                f"{place}: chunk '{chunk_id}' is listed twice (also in {first}): {doubled}"
            ) from None

    def _digested(self, row: tuple) -> tuple:
        """A chunk row on its way in, noting whether chunks carry digests to check."""
        self.has_digests = self.has_digests or bool(row[3])
        return row

    def add_frames(
        self, frame_ids: Sequence[str], scores: np.ndarray, source: str, file: int | None = None
    ) -> None:
        """Add the (others, virus) scores of frames read from ``source`` (feature file
        ``file`` of the sample); a frame scored twice is an error, one of no listed chunk
        is kept for ``check_frames`` to name."""
        rows = []
        for frame_id, (others, virus) in zip(frame_ids, scores, strict=True):
            chunk, label = self._chunks.find(chunk_of(frame_id)), frame_id[-2:]
            if chunk is None or label not in _LABEL:
                self.unlisted.append(frame_id)
                continue
            if not (math.isfinite(others) and math.isfinite(virus)):
                raise InputError(f"{source}: frame '{frame_id}' has no finite score")
            key = chunk[0] * _SLOTS + _LABEL[label]
            rows.append((key, label, float(others), float(virus), file, source, frame_id))
        last = Last()
        try:
            self.connection.executemany(
                "INSERT INTO frames VALUES (?, ?, ?, ?, ?, ?)",
                (row[:-1] for row in last.track(rows)),
            )
        except sqlite3.IntegrityError:
            key, *_, frame_id = last.item
            first = self._one("SELECT source FROM frames WHERE key = ?", key)
            where = "twice" if first == source else f"in {first} and"
            raise InputError(
                f"frame '{frame_id}' is {where} {source}: a shard's features given twice?"
            ) from None

    # --- checking

    def check_chunk_lengths(self, chunk_size: int) -> None:
        """The chunks must have been cut at ``chunk_size``: none longer, and the first of
        a sequence cut in two or more exactly that long (chunks of 500 bp scored by a
        300 bp classifier, or the reverse, are unlike its training data)."""
        row = self.connection.execute(
            "SELECT id, length FROM chunks WHERE length > ?1 OR (length != ?1 "
            "AND id LIKE '%\\_chunk\\_1' ESCAPE '\\' AND EXISTS (SELECT 1 FROM chunks AS next "
            "WHERE next.id = substr(chunks.id, 1, length(chunks.id) - 1) || '2')) "
            "ORDER BY n LIMIT 1",
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
            "SELECT chunks.id, chunks.labels, group_concat(frames.label) FROM chunks "
            f"LEFT JOIN frames ON {_OF_CHUNK} AND {_LISTED} GROUP BY chunks.n "
            "HAVING count(frames.label) < (length(chunks.labels) + 1) / 3 ORDER BY chunks.n"
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
        extra = self.unlisted + [
            chunk + label
            for chunk, label in self.connection.execute(
                f"SELECT chunks.id, frames.label FROM frames JOIN chunks ON chunks.n = "
                f"frames.key / {_SLOTS} WHERE NOT {_LISTED} ORDER BY frames.key"
            )
        ]
        if extra:
            raise InputError(
                f"{len(extra)} frames with features are not in the frames report: "
                f"{examples(sorted(extra))} (features or frames report of another sample?)"
            )

    # --- reading

    def sequences_of_chunks(self) -> Iterator[tuple[str, Iterator[tuple[Chunk, np.ndarray]]]]:
        """Each sequence with its chunks in order, each chunk with the (others, virus) scores
        of its frames in label order (checked first: ``check_frames``)."""
        rows = self.connection.execute(
            "SELECT chunks.id, chunks.length, chunks.labels, frames.label, frames.others, "
            f"frames.virus FROM chunks LEFT JOIN frames ON {_OF_CHUNK} ORDER BY chunks.n"
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

    def chunk(self, chunk_id: str) -> tuple[int, int, str] | None:
        """A listed chunk's number, length and digest."""
        row = self._chunks.find(chunk_id)
        return None if row is None else (row[0], row[2], row[3])

    def frame_files(self, chunk_n: int) -> dict[str, int | None]:
        """The feature file each scored frame of chunk ``chunk_n`` came from, by label."""
        return dict(
            self.connection.execute(
                "SELECT label, file FROM frames WHERE key BETWEEN ? AND ?",
                (chunk_n * _SLOTS, chunk_n * _SLOTS + _SLOTS - 1),
            ).fetchall()
        )

    def sequence_lookup(self) -> OrderedLookup:
        """Sequence calls by id (``n``, ``id``, ``call``), for the FASTA's records in order."""
        return OrderedLookup(self.connection, "sequences", "call")

    def set_lengths(self, lengths: Iterable[tuple[int, int]]) -> None:
        """Record the lengths of (sequence number, bases) read from the input FASTA."""
        self.connection.executemany("INSERT OR REPLACE INTO lengths VALUES (?, ?)", lengths)

    def without_length(self) -> list[str]:
        """Sequences no FASTA record was found for."""
        return [
            str(name)
            for (name,) in self.connection.execute(
                "SELECT id FROM sequences LEFT JOIN lengths USING (n) "
                "WHERE lengths.n IS NULL ORDER BY n"
            )
        ]

    def sequences(self) -> Iterator[SequenceCall]:
        """The sequence calls, in order of their first chunk."""
        for sequence_id, *counts, score, call, low, length in self.connection.execute(
            "SELECT id, chunks, chunks_with_frames, viral_chunks, score, call, low_coverage, "
            "length FROM sequences LEFT JOIN lengths USING (n) ORDER BY n"
        ):
            yield SequenceCall(
                sequence_id, *counts, np.nan if score is None else score, call, bool(low), length
            )

    def _one(self, query: str, *parameters: object) -> object:
        return self.connection.execute(query, parameters).fetchone()[0]
