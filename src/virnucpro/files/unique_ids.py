"""Duplicate-id detection for streams of any length in little memory."""

from __future__ import annotations

import numpy as np

from virnucpro.errors import InputError


class UniqueIds:
    """Raises :class:`InputError` on the second occurrence of an id.

    Recent ids are held exactly; older ones only as 64-bit hashes in a sorted
    array (8 bytes each), so checking millions of chunk ids keeps memory flat
    while the sequences stream past. A false alarm needs two different ids with
    the same 64-bit hash within one run (odds about n²/2⁶⁵).
    """

    def __init__(self, message: str, batch_size: int = 65536) -> None:
        self._message = message
        self._batch_size = batch_size
        self._recent: set[str] = set()
        self._older = np.empty(0, dtype=np.int64)

    def add(self, item: str) -> None:
        """Remember ``item``; fail if it was seen before."""
        if item in self._recent:
            self._fail(item)
        self._recent.add(item)
        if len(self._recent) >= self._batch_size:
            self.close()

    def close(self) -> None:
        """Check the recent ids against the older ones; call once the stream ends."""
        if not self._recent:
            return
        recent = list(self._recent)
        hashes = np.fromiter((hash(item) for item in recent), dtype=np.int64, count=len(recent))
        if self._older.size:
            positions = np.searchsorted(self._older, hashes).clip(max=self._older.size - 1)
            seen = np.flatnonzero(self._older[positions] == hashes)
            if seen.size:
                self._fail(recent[seen[0]])
        self._older = np.sort(np.concatenate([self._older, hashes]))
        self._recent.clear()

    def _fail(self, item: str) -> None:
        raise InputError(f"{self._message} '{item}'")
