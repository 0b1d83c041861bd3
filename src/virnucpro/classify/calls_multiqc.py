"""The predict run's calls in the MultiQC report: one row per sample.

The counts are those of the samples' ``CallSummary`` (the predict-mode page's
per-sample table), with the share of sequences called virus; report.html keeps
the score histograms and the per-sequence table.
"""

from __future__ import annotations

from collections.abc import Sequence

from virnucpro.classify.call_summary import CallSummary
from virnucpro.classify.calling import OTHERS, TOO_SHORT, VIRUS
from virnucpro.multiqc_content import CALLS_SECTION, FRACTION, Column, table_text
from virnucpro.preprocess.frames import NO_FRAME

#: Keys of ``CallSummary.counts``, then ``virus_fraction``
CALLS_COLUMNS = (
    Column("sequences", "Sequences", "Sequences of the sample"),
    Column(f"{VIRUS}_sequences", "Virus", "Sequences called virus: enough of their chunks with frames are viral (--min-viral-fraction)"),
    Column(f"{OTHERS}_sequences", "Others", "Sequences scored and not called virus"),
    Column(f"{NO_FRAME}_sequences", "No frame", "Sequences without a stop-free frame in any chunk: nothing to score"),
    Column(f"{TOO_SHORT}_sequences", "Too short", "Sequences shorter than half the chunk size: never scored"),
    Column("virus_fraction", "Virus fraction", "Sequences called virus / sequences", FRACTION, {"min": 0, "max": 1}),
    Column("low_coverage_sequences", "Low coverage", "Sequences with a stop-free frame in under --min-coverage of their chunks: their call rests on a small part of them"),
    Column("chunks", "Chunks", "Chunks the sequences were cut into"),
    Column("chunks_with_frames", "Chunks with frames", "Chunks with a stop-free frame, scored", settings={"hidden": True}),
    Column(f"{VIRUS}_chunks", "Virus chunks", "Chunks called virus"),
    Column("frames", "Frames scored", "Stop-free frames scored", settings={"hidden": True}),
)  # fmt: skip


def calls_table(samples: Sequence[CallSummary]) -> str:
    """virnucpro_calls_mqc.tsv of ``samples``, in their order (no virus fraction for a
    sample without sequences)."""

    def values(sample: CallSummary) -> dict[str, int | float | None]:
        sequences = sample.counts["sequences"]
        virus = sample.counts[f"{VIRUS}_sequences"]
        return {**sample.counts, "virus_fraction": virus / sequences if sequences else None}

    rows = ((sample.name, values(sample)) for sample in samples)
    return table_text(CALLS_SECTION, "Sample", "sample name", CALLS_COLUMNS, rows)
