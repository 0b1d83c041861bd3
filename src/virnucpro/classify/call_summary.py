"""A sample's calls summed up as they stream past, for the predict-mode page.

The page shows counts, two score histograms and at most a few thousand sequences;
it never needs a sample's million calls at once. A ``CallTally`` is given each
chunk call and sequence call once, as the tables are written or read, and keeps
counts, histogram bins and the first sequences in the page's order.
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from virnucpro.classify.calling import CALLS, SCORED, ChunkCall, SequenceCall
from virnucpro.classify.settings import DEFAULT_MAX_ROWS

#: The histograms' bins: 20 from 0 to 1, the last one closed
BINS = np.linspace(0.0, 1.0, 21)
# Scores binned at once
_BATCH = 65536


def page_order(call: SequenceCall) -> tuple[int, float, float]:
    """Virus calls first, then others, no_frame, too_short; within a call the best virus
    score first, then the larger viral share (unscored sequences keep their order)."""
    if call.call not in SCORED:
        return (CALLS.index(call.call), 0.0, 0.0)
    fraction = call.viral_chunks / call.chunks_with_frames
    return (CALLS.index(call.call), -call.max_viral_score, -fraction)


@dataclass
class CallSummary:
    """Counts (keys of ``COUNT_KEYS``), score histograms over ``BINS``, and the first
    ``max_rows`` sequences in ``page_order``."""

    name: str
    counts: Counter[str]
    chunk_scores: np.ndarray
    sequence_scores: np.ndarray
    first: list[SequenceCall]
    max_rows: int = DEFAULT_MAX_ROWS


#: What a summary counts: sequences, chunks, chunks with frames, frames scored, and the
#: chunks and sequences of each call, and the sequences of low coverage
COUNT_KEYS = (
    "sequences", "chunks", "chunks_with_frames", "frames",
    *(f"{call}_chunks" for call in CALLS), *(f"{call}_sequences" for call in CALLS),
    "low_coverage_sequences",
)  # fmt: skip


@dataclass
class _Scores:
    """Scores binned in batches: memory holds one batch."""

    bins: np.ndarray = field(default_factory=lambda: np.zeros(len(BINS) - 1, dtype=np.int64))
    pending: list[float] = field(default_factory=list)

    def add(self, score: float) -> None:
        self.pending.append(score)
        if len(self.pending) >= _BATCH:
            self.flush()

    def flush(self) -> np.ndarray:
        self.bins += np.histogram(self.pending, BINS)[0]
        self.pending.clear()
        return self.bins


class CallTally:
    """Counts, bins and the first sequences of one sample, given each call once."""

    def __init__(self, name: str, max_rows: int = DEFAULT_MAX_ROWS) -> None:
        self.name, self.max_rows = name, max_rows
        self.counts: Counter[str] = Counter({key: 0 for key in COUNT_KEYS})
        self.chunk_scores, self.sequence_scores = _Scores(), _Scores()
        # (order, arrival, call): a bounded heap of the largest order, negated
        self.first: list[tuple[tuple[float, ...], int, SequenceCall]] = []

    def add_chunk(self, call: ChunkCall) -> None:
        self.counts["chunks"] += 1
        self.counts[f"{call.prediction}_chunks"] += 1
        if call.prediction in SCORED:
            self.counts["chunks_with_frames"] += 1
            self.counts["frames"] += call.frames
            self.chunk_scores.add(call.max_score2)

    def add_sequence(self, call: SequenceCall) -> None:
        self.counts["sequences"] += 1
        self.counts[f"{call.call}_sequences"] += 1
        self.counts["low_coverage_sequences"] += call.low_coverage
        if call.call in SCORED:
            self.sequence_scores.add(call.max_viral_score)
        # The heap's top is the last of the kept sequences in page order (later arrival
        # last among equals): a new one replaces it when it comes before it
        item = (tuple(-key for key in page_order(call)), -self.counts["sequences"], call)
        if len(self.first) < self.max_rows:
            heapq.heappush(self.first, item)
        elif self.max_rows and item[:2] > self.first[0][:2]:
            heapq.heapreplace(self.first, item)

    def summary(self) -> CallSummary:
        first = [call for *_, call in sorted(self.first, key=lambda item: item[:2], reverse=True)]
        return CallSummary(
            self.name,
            Counter(self.counts),
            self.chunk_scores.flush().copy(),
            self.sequence_scores.flush().copy(),
            first,
            self.max_rows,
        )


def pooled(summaries: list[CallSummary], name: str = "all samples") -> CallSummary:
    """All samples as one: counts and bins add up (no sequences listed)."""
    counts: Counter[str] = Counter({key: 0 for key in COUNT_KEYS})
    for summary in summaries:
        counts.update(summary.counts)
    empty = np.zeros(len(BINS) - 1, dtype=np.int64)
    return CallSummary(
        name,
        counts,
        sum((s.chunk_scores for s in summaries), empty),
        sum((s.sequence_scores for s in summaries), empty),
        [],
        0,
    )
