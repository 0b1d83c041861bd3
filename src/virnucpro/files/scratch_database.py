"""Scratch SQLite databases: a sample's names and rows on disk, not in memory.

Predict mode checks every chunk, frame and sequence of a sample against the others
(each listed once, every frame of a report scored, every sequence in the FASTA).
Sets and dicts of millions of names made memory grow with the sample, about 1.5 KB
a read; an indexed table in a temporary file keeps it flat (SQLite's page cache is
bounded) for a few seconds per million rows.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: SQLite's page cache per scratch database, in KiB: the memory it may hold
CACHE_KIB = 16384


@contextmanager
def scratch_database() -> Iterator[sqlite3.Connection]:
    """A connection to a new database in a temporary folder (``TMPDIR``), removed on exit.

    No journal and no syncs: the database lives no longer than the process that
    fills it, so a crash loses nothing that a rerun would not rebuild.
    """
    with tempfile.TemporaryDirectory(prefix="virnucpro-") as folder:
        connection = sqlite3.connect(Path(folder) / "scratch.sqlite")
        try:
            for pragma in ("journal_mode = OFF", "synchronous = OFF", "temp_store = FILE"):
                connection.execute(f"PRAGMA {pragma}")
            connection.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            yield connection
        finally:
            connection.close()


class NameSet:
    """Names seen so far, each with where it was seen, in a table of a scratch database."""

    def __init__(self, connection: sqlite3.Connection, table: str) -> None:
        self.connection, self.table = connection, table
        connection.execute(
            f"CREATE TABLE {table} (name TEXT PRIMARY KEY, place TEXT NOT NULL) WITHOUT ROWID"
        )

    def add(self, name: str, place: str = "") -> str | None:
        """Add ``name``; None if it is new, else where it was seen first."""
        try:
            self.connection.execute(f"INSERT INTO {self.table} VALUES (?, ?)", (name, place))
        except sqlite3.IntegrityError:
            row = self.connection.execute(
                f"SELECT place FROM {self.table} WHERE name = ?", (name,)
            ).fetchone()
            return str(row[0])
        return None
