"""Duplicate-id detection for streams of any length in little memory."""

from __future__ import annotations

import numpy as np

from virnucpro.errors import InputError


class UniqueIds:
    """Raises :class:`InputError` on the second occurrence of an id.

    Recent ids are held exactly; older ones only as 64-bit hashes (8 bytes each)
    in a few sorted arrays, each at least twice as long as the next, so checking
    millions of chunk ids keeps memory flat while the sequences stream past, and
    time grows as n log n (one sorted array re-sorted per batch grew as n²). A
    false alarm needs two different ids with the same 64-bit hash within one run
    (odds about n²/2⁶⁵).
    """

    def __init__(self, message: str, batch_size: int = 65536) -> None:
        self._message = message
        self._batch_size = batch_size
        self._recent: set[str] = set()
        self._older: list[np.ndarray] = []

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
        order = np.argsort(hashes)
        merged = hashes[order]  # sorted keys: searchsorted walks each array once, cache-friendly
        for older in self._older:
            positions = np.searchsorted(older, merged).clip(max=older.size - 1)
            seen = np.flatnonzero(older[positions] == merged)
            if seen.size:
                self._fail(recent[order[seen[0]]])
        self._recent.clear()
        while self._older and self._older[-1].size <= 2 * merged.size:
            # two sorted runs: the stable sort (timsort) merges them in linear time
            merged = np.sort(np.concatenate([self._older.pop(), merged]), kind="stable")
        self._older.append(merged)

    def _fail(self, item: str) -> None:
        raise InputError(f"{self._message} '{item}'")
